// log/delivery_event.cc — see delivery_event.h.
#include "log/delivery_event.h"

#include <cstdio>
#include <cstring>

#include "log/json_line.h"

namespace ringmail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Text is a bounded writer for the syslog line: plain bytes, control bytes
// as '?', cut at the end of the buffer.
struct Text {
  char* out;
  size_t cap;
  size_t used = 0;
  void put(std::string_view s) {
    for (char c : s) {
      if (used == cap) return;
      const auto u = static_cast<unsigned char>(c);
      out[used++] = (u < 0x20 || u == 0x7f) ? '?' : c;
    }
  }
  // seconds writes |ms| in Postfix's style: "0.26", "1.2", "12".
  void seconds(int64_t ms) {
    char buf[32];
    if (ms < 0) ms = 0;
    const int n = ms >= 10'000 ? std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(ms / 1000))
                               : std::snprintf(buf, sizeof(buf), "%.2g", static_cast<double>(ms) / 1000.0);
    put(std::string_view(buf, static_cast<size_t>(n)));
  }
};

const char* syslog_status(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::kDelivered:
      return "sent";
    case AttemptOutcome::kDeferred:
      return "deferred";
    case AttemptOutcome::kFailed:
    case AttemptOutcome::kExpired:
      return "bounced";
  }
  return "?";
}

// default_dsn: the enhanced status a line shows when the reply had none.
const char* default_dsn(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::kDelivered:
      return "2.0.0";
    case AttemptOutcome::kDeferred:
      return "4.0.0";
    case AttemptOutcome::kFailed:
      return "5.0.0";
    case AttemptOutcome::kExpired:
      return "4.4.7";  // RFC 3463: delivery time expired
  }
  return "4.0.0";
}

}  // namespace

const char* attempt_outcome_name(AttemptOutcome outcome) {
  switch (outcome) {
    case AttemptOutcome::kDelivered:
      return "delivered";
    case AttemptOutcome::kDeferred:
      return "deferred";
    case AttemptOutcome::kFailed:
      return "failed";
    case AttemptOutcome::kExpired:
      return "expired";
  }
  return "?";
}

const char* message_event_name(MessageEventKind kind) {
  switch (kind) {
    case MessageEventKind::kQueued:
      return "queued";
    case MessageEventKind::kDeferred:
      return "deferred";
    case MessageEventKind::kFailed:
      return "failed";
    case MessageEventKind::kHeld:
      return "held";
    case MessageEventKind::kDeleted:
      return "deleted";
    case MessageEventKind::kBounced:
      return "bounced";
  }
  return "?";
}

ReplyParts split_reply(std::string_view reply) {
  ReplyParts parts;
  if (reply.size() < 3 || !is_digit(reply[0]) || !is_digit(reply[1]) || !is_digit(reply[2]) ||
      reply[0] < '2' || reply[0] > '5')
    return parts;
  if (reply.size() > 3 && reply[3] != ' ' && reply[3] != '-') return parts;
  parts.code = (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
  // RFC 3463: class "." subject "." detail; class matches the code's first digit.
  std::string_view rest = reply.size() > 4 ? reply.substr(4) : std::string_view();
  const size_t end = rest.find(' ');
  const std::string_view token = rest.substr(0, end);
  size_t i = 0;
  auto digits = [&](size_t max) {
    size_t n = 0;
    while (i < token.size() && is_digit(token[i]) && n < max) ++i, ++n;
    return n;
  };
  if (token.size() >= 5 && token[0] == reply[0] && token[1] == '.') {
    i = 2;
    if (digits(3) > 0 && i < token.size() && token[i] == '.') {
      ++i;
      if (digits(3) > 0 && i == token.size()) parts.enhanced = token;
    }
  }
  return parts;
}

std::string_view find_message_id(std::string_view header) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find('\n', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view line = header.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = line.substr(0, colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if (ieq(name, "message-id")) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        return value;
      }
    }
    pos = end + 1;
  }
  return {};
}

size_t format_attempt_json(const AttemptEvent& e, char* out, size_t cap) {
  JsonLine line(out, cap);
  const ReplyParts parts = split_reply(e.reply);
  line.time_utc("time", e.time_ms);
  line.str("event", "attempt");
  line.str("id", e.id);
  line.str_or_null("message_id", e.message_id);
  line.str("from", e.sender);
  line.str("to", e.recipient);
  line.str("outcome", attempt_outcome_name(e.outcome));
  line.num("attempt", e.attempt);
  line.str("destination", e.destination);
  line.str_or_null("host", e.host);
  line.str_or_null("address", e.address);
  line.tls_fields(e.tls_version, e.tls_cipher);
  line.boolean("tls_verified", e.tls_verified);
  if (e.tls_verdict != nullptr) {
    line.str("tls_verdict", e.tls_verdict);
  } else {
    line.null("tls_verdict");
  }
  line.boolean("auth", e.auth);
  line.millis("queue_s", e.queue_ms);
  if (e.duration_ms >= 0) {
    line.millis("duration_s", e.duration_ms);
  } else {
    line.null("duration_s");
  }
  if (parts.code != 0) {
    line.num("code", parts.code);
  } else {
    line.null("code");
  }
  line.str_or_null("dsn", parts.enhanced);
  line.str_max("reply", e.reply, kMaxReplyInBytes);
  return line.finish();
}

size_t format_message_json(const MessageEvent& e, char* out, size_t cap) {
  JsonLine line(out, cap);
  line.time_utc("time", e.time_ms);
  line.str("event", message_event_name(e.kind));
  line.str("id", e.id);
  if (!e.message_id.empty()) line.str("message_id", e.message_id);
  if (e.has_sender) line.str("from", e.sender);
  switch (e.kind) {
    case MessageEventKind::kQueued:
      line.num("size", static_cast<int64_t>(e.size_bytes));
      break;
    case MessageEventKind::kDeferred: {
      char when[24];
      format_rfc3339_ms(e.next_attempt_unix * 1000, when);
      line.str("next_attempt", std::string_view(when, 24));
      line.num("attempt", e.attempt);
      line.num("pending", e.recipients);
      break;
    }
    case MessageEventKind::kFailed:
      line.num("attempt", e.attempt);
      line.num("failed", e.recipients);
      line.num("delivered", e.delivered);
      break;
    case MessageEventKind::kHeld:
      break;
    case MessageEventKind::kBounced:
      line.str("bounce_id", e.bounce_id);
      break;
    case MessageEventKind::kDeleted:
      line.str("state", e.state);
      break;
  }
  if (!e.reason.empty()) line.str_max("reason", e.reason, kMaxReplyInBytes);
  return line.finish();
}

size_t format_attempt_syslog(const AttemptEvent& e, char* out, size_t cap) {
  Text t{out, cap};
  const ReplyParts parts = split_reply(e.reply);
  t.put(e.id);
  t.put(": to=<");
  t.put(e.recipient);
  t.put(">, relay=");
  if (e.host.empty()) {
    t.put("none");
  } else {
    // Postfix writes host[ip]:port; |address| is "ip:port" or "[ipv6]:port".
    t.put(e.host);
    std::string_view address = e.address;
    const size_t colon = address.rfind(':');
    std::string_view ip = colon == std::string_view::npos ? address : address.substr(0, colon);
    if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
    t.put("[");
    t.put(ip);
    t.put("]");
    if (colon != std::string_view::npos) t.put(address.substr(colon));
  }
  t.put(", delay=");
  t.seconds(e.queue_ms);
  // delays=a/b/c/d as Postfix: before this attempt / 0 / 0 / the transaction
  // (ringmail has no separate queue-manager or connection-setup phase to time).
  const int64_t tx = e.duration_ms > 0 ? e.duration_ms : 0;
  t.put(", delays=");
  t.seconds(e.queue_ms - tx);
  t.put("/0/0/");
  t.seconds(tx);
  t.put(", dsn=");
  t.put(parts.enhanced.empty() ? std::string_view(default_dsn(e.outcome)) : parts.enhanced);
  t.put(", status=");
  t.put(syslog_status(e.outcome));
  t.put(" (");
  t.put(e.reply.substr(0, kMaxReplyInBytes));
  t.put(")");
  return t.used;
}

}  // namespace ringmail
