// engine/attempt_log.cc — see attempt_log.h.
#include "engine/attempt_log.h"

#include <time.h>

#include <cstdio>

#include "engine/relay_target.h"
#include "engine/smtp_client.h"
#include "engine/tls_record_layer.h"
#include "queue/monotonic_clock.h"

namespace ringmail {
namespace {

AttemptOutcome outcome_of(RcptState state, bool expired) {
  switch (state) {
    case RcptState::kDone:
      return AttemptOutcome::kDelivered;
    case RcptState::kFailed:
      return AttemptOutcome::kFailed;
    default:
      return expired ? AttemptOutcome::kExpired : AttemptOutcome::kDeferred;
  }
}

}  // namespace

int64_t unix_now_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

void note_transaction_start(MessageSlot& slot) {
  slot.session = SessionFacts{};
  slot.session.started_ns = monotonic_ns();
}

void note_transaction_end(MessageSlot& slot, const SmtpClient& client, const TlsRecordLayer* tls,
                          const RelayTarget& relay, uint32_t address_index) {
  SessionFacts& facts = slot.session;
  facts.ended_ns = monotonic_ns();
  if (address_index < relay.addresses.size()) {
    const std::string& ip = relay.addresses[address_index].text;
    const bool v6 = ip.find(':') != std::string::npos;
    std::snprintf(facts.address, sizeof(facts.address), v6 ? "[%s]:%u" : "%s:%u", ip.c_str(),
                  static_cast<unsigned>(relay.port));
  }
  if (tls != nullptr && client.tls_active() && tls->established()) {
    const TlsSession& session = tls->session();
    facts.tls_version = session.version_text();
    facts.tls_cipher = session.cipher();
    facts.tls_verified = session.verdict().trusted();
    facts.tls_verdict = session.verdict().summary();
  }
  facts.auth = client.authenticated();
}

std::string_view slot_message_id(const MessageSlot& slot) {
  const Envelope& env = slot.envelope;
  if (env.header_end <= env.body_offset || env.header_end > slot.head_len) return {};
  return find_message_id(
      std::string_view(slot.head.get() + env.body_offset, env.header_end - env.body_offset));
}

void log_attempts(DeliveryLog& log, const MessageSlot& slot, std::string_view destination, bool expired,
                  uint32_t attempt) {
  const SessionFacts& facts = slot.session;
  AttemptEvent event;
  event.time_ms = unix_now_ms();
  event.id = slot.ref.id;
  event.message_id = slot_message_id(slot);
  event.sender = slot.envelope.sender;
  event.destination = destination;
  if (facts.started_ns != 0 && facts.address[0] != '\0') {
    event.host = destination;  // the relay: the host connected to is the destination's name
    event.address = facts.address;
    event.tls_version = facts.tls_version;
    event.tls_cipher = facts.tls_cipher;
    event.tls_verified = facts.tls_verified;
    event.tls_verdict = facts.tls_verdict;
    event.auth = facts.auth;
    const uint64_t end = facts.ended_ns > facts.started_ns ? facts.ended_ns : facts.started_ns;
    event.duration_ms = static_cast<int64_t>((end - facts.started_ns) / 1'000'000);
  }
  event.attempt = attempt;
  event.queue_ms = slot.ref.queued_ms > 0 ? event.time_ms - slot.ref.queued_ms : 0;
  const bool file = log.writes_file();
  const bool syslog = log.writes_syslog();
  for (uint32_t i = 0; i < slot.envelope.recipient_count; ++i) {
    const RcptState state = slot.rcpt_state[i];
    if (state == RcptState::kSkip) continue;
    event.recipient = slot.envelope.recipients[i];
    event.outcome = outcome_of(state, expired);
    event.reply = slot.rcpt_reply(i);
    if (event.reply.empty()) event.reply = slot.message_reply;
    log.push([&](LogRecord& record) {
      record.json_len =
          file ? static_cast<uint16_t>(format_attempt_json(event, record.text, LogRecord::kJsonCap)) : 0;
      record.syslog_len = syslog ? static_cast<uint16_t>(format_attempt_syslog(
                                       event, record.text + record.json_len, LogRecord::kSyslogCap))
                                 : 0;
    });
  }
}

void log_message_end(DeliveryLog& log, const MessageSlot& slot, OutcomeKind kind, int64_t next_attempt_unix) {
  if (kind != OutcomeKind::kDeferred && kind != OutcomeKind::kFailed) return;
  MessageEvent event;
  event.id = slot.ref.id;
  event.message_id = slot_message_id(slot);
  event.has_sender = !slot.unparsable;
  event.sender = slot.envelope.sender;
  event.attempt = slot.meta.attempts;
  if (kind == OutcomeKind::kDeferred) {
    event.kind = MessageEventKind::kDeferred;
    event.next_attempt_unix = next_attempt_unix;
    event.recipients = slot.counts.deferred;
    event.reason = slot.meta.last_reply;
  } else {
    // The record (meta.marks) now lists every recipient of a failed message.
    event.kind = MessageEventKind::kFailed;
    for (uint32_t i = 0; i < slot.meta.mark_count; ++i) {
      if (slot.meta.marks[i].failed) {
        ++event.recipients;
      } else {
        ++event.delivered;
      }
    }
    event.reason = slot.meta.reason.empty() ? std::string_view(slot.message_reply) : slot.meta.reason;
  }
  log_message_event(log, event);
}

void log_message_event(DeliveryLog& log, MessageEvent event) {
  if (!log.writes_file()) return;  // syslog carries attempts only
  if (event.time_ms == 0) event.time_ms = unix_now_ms();
  log.push([&event](LogRecord& record) {
    record.json_len = static_cast<uint16_t>(format_message_json(event, record.text, LogRecord::kJsonCap));
    record.syslog_len = 0;
  });
}

}  // namespace ringmail
