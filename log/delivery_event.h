// log/delivery_event.h — what the delivery log says, and how a line looks:
// one JSON object per recipient attempt (AttemptEvent) and per message
// state change that is not an attempt (MessageEvent), and the Postfix-shaped
// syslog text of an attempt. docs/delivery-log.md lists every field.
//
// Who uses it: the engine's workers and intake (engine/attempt_log.cc),
// `ringmail queue --delete` (queue/queue_admin.cc), the unit tests. Pure:
// formatting into the caller's buffer, no allocation, no I/O, no clock (the
// caller passes the time). Events hold views; nothing here keeps them.
//
// Never in a line: message bodies, header fields other than Message-ID,
// credentials.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringmail {

// AttemptOutcome is one recipient's result of one attempt. kExpired: it was
// deferred again at or past retry.max_age, so the message failed for it.
enum class AttemptOutcome : uint8_t { kDelivered, kDeferred, kFailed, kExpired };
const char* attempt_outcome_name(AttemptOutcome outcome);

struct AttemptEvent {
  int64_t time_ms = 0;          // unix milliseconds, when the attempt ended
  std::string_view id;          // spool id
  std::string_view message_id;  // the Message-ID header's value ("" when absent)
  std::string_view sender;      // "" = the null sender
  std::string_view recipient;
  std::string_view destination;       // where the message was routed: the relay's name
  std::string_view host;              // the host connected to ("" = no connection)
  std::string_view address;           // its "ip:port" or "[ipv6]:port"
  const char* tls_version = nullptr;  // "TLSv1.3"; null: no TLS
  const char* tls_cipher = nullptr;
  bool tls_verified = false;          // the certificate chain and name were checked and good
  const char* tls_verdict = nullptr;  // in words: "trusted", "unknown issuer", "name mismatch"...
  bool auth = false;                  // the session authenticated (AUTH)
  std::string_view reply;             // "250 2.0.0 Ok: queued as X", or the engine's own reason
  AttemptOutcome outcome = AttemptOutcome::kDelivered;
  uint32_t attempt = 1;      // 1 for the first attempt
  int64_t queue_ms = 0;      // time since the message was queued (file mtime), at time_ms
  int64_t duration_ms = -1;  // the SMTP transaction; -1: none (no connection carried it)
};

enum class MessageEventKind : uint8_t {
  kQueued,    // the intake claimed it from incoming/new
  kDeferred,  // to deferred/, next attempt at next_attempt_unix
  kFailed,    // to failed/ (refused recipients, max age, not a message file, malformed)
  kHeld,      // its outcome could not be recorded: hold/ (docs/spool.md)
  kDeleted,   // removed by an operator (`ringmail queue --delete`)
  kBounced,   // a bounce (DSN) was queued for it — defined, not written yet
};
const char* message_event_name(MessageEventKind kind);

struct MessageEvent {
  MessageEventKind kind = MessageEventKind::kQueued;
  int64_t time_ms = 0;
  std::string_view id;
  std::string_view message_id;  // "" when unknown (queued, refused, deleted)
  std::string_view sender;      // only when known (has_sender)
  bool has_sender = false;
  uint64_t size_bytes = 0;        // queued: the file's size
  uint32_t attempt = 0;           // deferred/failed/held: attempts made so far
  uint32_t recipients = 0;        // deferred: recipients still pending; failed: recipients failed
  uint32_t delivered = 0;         // failed: recipients that did get it (a partial delivery)
  int64_t next_attempt_unix = 0;  // deferred
  std::string_view reason;        // the reply or sentence that explains it
  std::string_view state;         // deleted: the state it was in ("deferred", "failed", "hold")
};

// kMaxReplyInBytes caps the server text written into one line; the rest of
// the reply is cut (the spool's meta record keeps up to 64 KiB).
constexpr size_t kMaxReplyInBytes = 600;

// format_attempt_json / format_message_json write one JSON line ("{...}\n")
// into out[0..cap) and return its length (cap >= 256).
size_t format_attempt_json(const AttemptEvent& event, char* out, size_t cap);
size_t format_message_json(const MessageEvent& event, char* out, size_t cap);

// format_attempt_syslog writes the Postfix-shaped text of an attempt (no
// syslog header) into out[0..cap) and returns its length:
//   ID: to=<rcpt>, relay=host[ip]:port, delay=1.2, delays=1.1/0/0/0.1, dsn=2.0.0, status=sent (250 ...)
// Control bytes become '?'. Cut at cap.
size_t format_attempt_syslog(const AttemptEvent& event, char* out, size_t cap);

// ReplyParts: the code and the enhanced status code of a reply text ("550
// 5.1.1 <x>: unknown" → 550, "5.1.1"); code 0 when the text is not a
// server reply (the engine's own reason, "connection refused").
struct ReplyParts {
  int code = 0;
  std::string_view enhanced;
};
ReplyParts split_reply(std::string_view reply);

// find_message_id returns the value of the first Message-ID header field
// in |header| (the header section), trimmed, its first line only; "" when
// there is none.
std::string_view find_message_id(std::string_view header);

}  // namespace ringmail
