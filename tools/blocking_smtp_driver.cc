// tools/blocking_smtp_driver.cc — see blocking_smtp_driver.h. Reading
// order: the connection loop, the machine's commands, the actions taken
// on them, sending and receiving, and how the attempt is classified.
// Mirrors engine/smtp_connection.cc's handling of each event, with
// blocking calls in place of io_uring operations.
#include "tools/blocking_smtp_driver.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/delivery_policy.h"
#include "engine/destination.h"
#include "engine/message_slot.h"
#include "engine/relay_target.h"
#include "engine/tls_record_layer.h"
#include "tls/tls_certificate.h"  // printable
#include "tls/tls_session.h"
#include "tools/tls_report.h"

namespace ringmail {
namespace {

constexpr size_t kTlsInBytes = 32 * 1024;  // ciphertext read per receive
constexpr uint32_t kCloseNotifyTimeoutMs = 1000;

}  // namespace

BlockingSmtpDriver::BlockingSmtpDriver(const SmtpClientConfig& client_config, const Destination& destination,
                                       const RelayTarget& target, const SmtpConfig& timeouts, FILE* out)
    : destination_(destination),
      target_(target),
      timeouts_(timeouts),
      out_(out),
      client_(&client_config, this) {
  if (destination_.uses_tls()) tls_ = std::make_unique<TlsRecordLayer>(destination_.tls_context.get());
}

BlockingSmtpDriver::~BlockingSmtpDriver() = default;

TestSendOutcome BlockingSmtpDriver::send(MessageSlot& slot) {
  run_connection(slot, /*starttls_allowed=*/true);
  if (client_.tls_fell_back() && !message_done_) {
    // The machine's reason says what delivery does now: the same.
    std::fprintf(out_, "--- %s\n", printable(client_.last_error()).c_str());
    run_connection(slot, /*starttls_allowed=*/false);
  }
  return classify(slot);
}

// run_connection: one connection from connect to close, one blocking step
// at a time. Every step gives the machine one event, then after_event()
// carries out what it asked for.
void BlockingSmtpDriver::run_connection(MessageSlot& slot, bool starttls_allowed) {
  connected_ = message_taken_ = quit_asked_ = tls_failed_ = false;
  last_open_state_ = ClientState::kIdle;
  tls_in_.clear();
  transcript_ = SmtpTranscript{};
  client_.start(static_cast<uint32_t>(target_.addresses.size()), 0, starttls_allowed);
  after_event();
  while (client_.state() != ClientState::kIdle) {
    note_state();
    if (!message_taken_ && client_.can_take_message()) {
      message_taken_ = true;
      client_.take_message(&slot);
    } else if (message_done_ && !quit_asked_ && client_.state() == ClientState::kReady &&
               !client_.carries_messages()) {
      quit_asked_ = true;
      client_.quit();
    } else {
      receive();
    }
    after_event();
  }
  transcript_.finish(lines_);
  print(lines_);
  error_ = client_.last_error();
}

// ---------------------------------------------------------------------------
// Commands from the machine (SmtpClientHost). None calls back into it.

void BlockingSmtpDriver::connect(uint32_t address_index) {
  connect_asked_ = true;
  connect_index_ = address_index;
}

void BlockingSmtpDriver::close() { close_asked_ = true; }

// read_body: never asked for a message whose whole file is in its head
// (MessageSlot::whole_file), which send() requires; a bug if it is.
void BlockingSmtpDriver::read_body(MessageSlot*, uint64_t) { body_asked_ = true; }

// transaction_done: the machine resolved the message. A delivered
// recipient keeps no reply in the slot; the end-of-data reply is the last
// one read (nothing else is outstanding with one message).
void BlockingSmtpDriver::transaction_done(MessageSlot* slot) {
  message_done_ = true;
  if (slot->rcpt_state[0] == RcptState::kDone) {
    reply_ = transcript_.last_reply();
  } else {
    reply_ = printable(slot->rcpt_reply(0));
    if (reply_.empty()) reply_ = printable(slot->message_reply);
  }
}

void BlockingSmtpDriver::start_tls() { tls_asked_ = true; }

// after_event acts on what the machine asked, each action being an event
// of its own, until nothing is left to do but wait for the server.
void BlockingSmtpDriver::after_event() {
  for (;;) {
    note_state();
    if (connect_asked_) {
      connect_asked_ = false;
      do_connect();
    } else if (tls_asked_) {
      tls_asked_ = false;
      begin_tls();
    } else if (close_asked_) {
      close_asked_ = false;
      do_close();
    } else if (body_asked_) {
      body_asked_ = false;
      client_.abort("test-send: the machine asked for body bytes beyond the message held in memory");
    } else if (!flush()) {
      return;
    }
  }
}

// note_state remembers the last state that was not the end, so that
// classify() knows where the connection failed.
void BlockingSmtpDriver::note_state() {
  const ClientState state = client_.state();
  if (state != ClientState::kClosing && state != ClientState::kIdle) last_open_state_ = state;
}

void BlockingSmtpDriver::do_connect() {
  const RelayAddress& address = target_.addresses[connect_index_];
  const std::string peer = fmt::format("{}[{}]:{}", target_.host, address.text, target_.port);
  std::string why;
  const WireStatus status = wire_.connect_address(reinterpret_cast<const sockaddr*>(&address.address),
                                                  address.length, timeouts_.connect_timeout_ms, why);
  if (status != WireStatus::kOk) {
    if (status == WireStatus::kTimedOut)
      why = fmt::format("timed out after {} ms", timeouts_.connect_timeout_ms);
    std::fprintf(out_, "--- connect to %s failed: %s\n", peer.c_str(), why.c_str());
    client_.on_connect_failed(peer, why, status == WireStatus::kTimedOut);
    return;
  }
  connected_ = true;
  std::fprintf(out_, "--- connected to %s%s\n", peer.c_str(),
               destination_.implicit_tls ? " (implicit TLS: the handshake comes first)" : "");
  client_.on_connected(peer);
}

// begin_tls puts the record layer in and lets flush() send its first
// flight. SNI and the name verified come from the relay's host, as in the
// engine (tls_peer_names).
void BlockingSmtpDriver::begin_tls() {
  if (client_.state() != ClientState::kTlsHandshake) return;
  if (tls_ == nullptr) {
    tls_failed_ = true;
    client_.on_tls_failed("TLS is not configured for this destination");
    return;
  }
  if (tls_->start_handshake(target_.host) == RecordLayer::Status::kFailed) {
    const std::string why = tls_->describe_failure();
    tls_->reset();
    tls_failed_ = true;
    client_.on_tls_failed(why);
  }
}

// do_close: close_notify after a TLS session (best effort, briefly), then
// the socket; the machine hears on_closed.
void BlockingSmtpDriver::do_close() {
  if (tls_ != nullptr && tls_->started()) {
    if (wire_.is_open()) {
      tls_->shutdown();
      const std::string_view cipher = tls_->ciphertext_out();
      std::string ignored;
      if (!cipher.empty()) wire_.send_all(cipher.data(), cipher.size(), kCloseNotifyTimeoutMs, ignored);
    }
    tls_->reset();
  }
  wire_.close();
  transcript_.finish(lines_);
  print(lines_);
  client_.on_closed();
}

// ---------------------------------------------------------------------------
// Sending: the machine's output, through the record layer once TLS is on.

bool BlockingSmtpDriver::flush() {
  if (!wire_.is_open()) return false;
  const bool tls_on = tls_ != nullptr && tls_->started();
  std::string_view bytes = client_.output();
  if (tls_on) {
    // Seal what the machine wrote (once the handshake is done) into records.
    while (tls_->established() && !client_.output().empty() && tls_->ciphertext_out().empty()) {
      const std::string_view plain = client_.output();
      size_t used = 0;
      if (tls_->write_plaintext(plain.data(), plain.size(), used) == RecordLayer::Status::kFailed) {
        client_.on_send_failed(false, tls_->describe_failure());
        return true;
      }
      if (used == 0) break;
      transcript_.client_bytes(plain.substr(0, used), std::min(used, client_.output_credential_bytes()),
                               lines_);
      client_.on_sent(used);
    }
    bytes = tls_->ciphertext_out();
  } else if (!bytes.empty()) {
    transcript_.client_bytes(bytes, client_.output_credential_bytes(), lines_);
  }
  print(lines_);
  if (bytes.empty()) return false;
  std::string error;
  const WireStatus status = wire_.send_all(bytes.data(), bytes.size(), timeout_ms(TimeoutKind::kData), error);
  if (status != WireStatus::kOk && client_.state() == ClientState::kTlsHandshake) {
    tls_failed_ = true;
    client_.on_tls_failed(fmt::format("send failed during the TLS handshake: {}",
                                      status == WireStatus::kTimedOut ? "timed out" : error));
  } else if (status != WireStatus::kOk) {
    client_.on_send_failed(status == WireStatus::kTimedOut, error);
  } else if (tls_on) {
    tls_->consume_ciphertext_out(bytes.size());
  } else {
    client_.on_sent(bytes.size());
  }
  return true;
}

// ---------------------------------------------------------------------------
// Receiving: one blocking read, bounded by the timeout of what is awaited.

void BlockingSmtpDriver::receive() {
  const bool tls_on = tls_ != nullptr && tls_->started();
  const bool handshaking = client_.state() == ClientState::kTlsHandshake && tls_on;
  if (!handshaking && !client_.awaiting_reply()) {
    // Cannot happen with one message: the machine always waits for something.
    client_.abort(fmt::format("test-send: nothing to wait for in state {}", client_.state_name()));
    return;
  }
  const uint32_t limit_ms = timeout_ms(client_.reply_timeout());
  char plain_buffer[4096];
  std::string error;
  size_t got = 0;
  WireStatus status;
  if (tls_on) {
    const size_t had = tls_in_.size();
    tls_in_.resize(had + kTlsInBytes);
    status = wire_.recv_some(tls_in_.data() + had, kTlsInBytes, limit_ms, got, error);
    tls_in_.resize(had + got);
  } else {
    const size_t room = std::min(client_.in_room(), sizeof plain_buffer);
    if (room == 0) {  // cannot happen: the machine fails a reply longer than its buffer first
      client_.abort("test-send: the receive buffer is full");
      return;
    }
    status = wire_.recv_some(plain_buffer, room, limit_ms, got, error);
  }
  if (status == WireStatus::kOk && got == 0) {
    if (handshaking) {
      tls_failed_ = true;
      client_.on_tls_failed("the server closed the connection during the TLS handshake");
    } else {
      client_.on_peer_closed();
    }
  } else if (status != WireStatus::kOk && handshaking) {
    // A handshake that stalls or breaks is a TLS failure, as in the engine.
    tls_failed_ = true;
    client_.on_tls_failed(status == WireStatus::kTimedOut
                              ? fmt::format("no TLS handshake reply within {} ms", limit_ms)
                              : fmt::format("receive failed during the TLS handshake: {}", error));
  } else if (status != WireStatus::kOk) {
    client_.on_receive_failed(status == WireStatus::kTimedOut, error);
  } else if (tls_on) {
    process_tls_in();
  } else {
    transcript_.server_bytes(std::string_view(plain_buffer, got), lines_);
    print(lines_);
    client_.feed(plain_buffer, got);
  }
}

// process_tls_in hands the ciphertext received to the record layer until
// it makes no more progress: handshake steps (then the TLS facts and
// on_tls_ready, or on_tls_failed), and plaintext for the machine.
void BlockingSmtpDriver::process_tls_in() {
  const TlsLevel level = destination_.tls_level;
  for (;;) {
    const ClientState state = client_.state();
    if (state == ClientState::kIdle || state == ClientState::kClosing) return;
    size_t used = 0;
    size_t plain = 0;
    const bool handshaking = !tls_->established();
    const RecordLayer::Status status = tls_->read_ciphertext(tls_in_.data(), tls_in_.size(), used,
                                                             client_.in_space(), client_.in_room(), plain);
    tls_in_.erase(0, used);
    switch (status) {
      case RecordLayer::Status::kFailed: {
        const std::string why = tls_->describe_failure();
        if (handshaking || state == ClientState::kEhloAfterTls) {
          const TlsSession& session = tls_->session();
          std::fprintf(out_, "TLS: handshake failed\n");
          if (session.verdict().checked) {
            print_chain(out_, "TLS: ", session.peer_chain());
            print_tls_verdict(out_, "TLS: ", session.verdict(), *destination_.tls_context, level);
          } else {
            std::fprintf(out_, "TLS: %s\n", why.c_str());
          }
          tls_failed_ = true;
          client_.on_tls_failed(why);
        } else {
          client_.on_receive_failed(false, why);
        }
        return;
      }
      case RecordLayer::Status::kClosed:
        client_.on_peer_closed();
        return;
      case RecordLayer::Status::kHandshakeDone: {
        const TlsPeerNames names = tls_peer_names(destination_.tls_policy, target_.host);
        std::fprintf(out_, "TLS: handshake done (relay.tls = \"%s\")\n", tls_level_name(level));
        print_tls_facts(out_, "TLS: ", tls_->session(), *destination_.tls_context, names.sni, level);
        client_.on_tls_ready();
        continue;
      }
      case RecordLayer::Status::kOk:
        break;
    }
    if (plain > 0) {
      transcript_.server_bytes(std::string_view(client_.in_space(), plain), lines_);
      print(lines_);
      client_.on_received(plain);
      continue;
    }
    if (used == 0) return;  // no progress: wait for more ciphertext
  }
}

// ---------------------------------------------------------------------------
// How it ended.

TestSendOutcome BlockingSmtpDriver::classify(const MessageSlot& slot) const {
  if (message_done_) {
    switch (slot.rcpt_state[0]) {
      case RcptState::kDone:
        return TestSendOutcome::kAccepted;
      case RcptState::kFailed:
        return TestSendOutcome::kRejected;
      default:
        return TestSendOutcome::kDeferred;
    }
  }
  if (!connected_) return TestSendOutcome::kNoConnection;
  if (tls_failed_) return TestSendOutcome::kTlsRefused;
  // Connected, and the session did not open. In clear after a 2xx to
  // EHLO/HELO, or after STARTTLS was sent: TLS was missing or refused where
  // the level requires it (decide_tls_shortfall), or the credentials could
  // not go out without TLS (may_send_credentials).
  const int code = transcript_.last_reply_code();
  const bool hello_ok =
      (last_open_state_ == ClientState::kEhloSent || last_open_state_ == ClientState::kHeloSent) &&
      code / 100 == 2;
  const bool tls_required =
      decide_tls_shortfall(destination_.tls_level, TlsShortfall::kNotOffered) == TlsFallback::kDefer;
  const SmtpCredentials& login = destination_.credentials;
  const bool login_needs_tls = login.configured() && !may_send_credentials(false, login.allow_plaintext_auth);
  if (!client_.tls_active() && ((hello_ok && (tls_required || login_needs_tls)) ||
                                (tls_required && last_open_state_ == ClientState::kStarttlsSent))) {
    return TestSendOutcome::kTlsRefused;
  }
  if (code == 0) return TestSendOutcome::kNoConnection;  // not even a greeting
  return code >= 500 ? TestSendOutcome::kRejected : TestSendOutcome::kDeferred;
}

uint32_t BlockingSmtpDriver::timeout_ms(TimeoutKind kind) const { return timeout_ms_of(timeouts_, kind); }

void BlockingSmtpDriver::print(std::vector<std::string>& lines) {
  for (const std::string& line : lines) std::fprintf(out_, "%s\n", line.c_str());
  lines.clear();
  std::fflush(out_);
}

}  // namespace ringmail
