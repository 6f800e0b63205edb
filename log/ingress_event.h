// log/ingress_event.h — the delivery log's lines for the SMTP listener
// ([[listen]], docs/ingress.md): "accepted" (a message was stored durably
// and the client got its 250) and "rejected" (the listener refused
// something: relay denied, AUTH failed, a limit, bad input).
// docs/delivery-log.md lists every field.
//
// Who uses it: engine/ingress_log.cc (the workers' listener connections),
// the unit tests. Pure: formatting into the caller's buffer, no
// allocation, no I/O, no clock. Never a body, a header or a password.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail {

struct AcceptedEvent {
  int64_t time_ms = 0;
  std::string_view id;                // the spool id (file name in incoming/new)
  std::string_view listener;          // the listener's address, "127.0.0.1:2525"
  std::string_view client;            // the client's IP
  const char* tls_version = nullptr;  // "TLSv1.3"; null: clear text
  const char* tls_cipher = nullptr;
  std::string_view auth_user;  // "" = not authenticated
  std::string_view sender;     // "" = the null sender
  const std::vector<std::string>* recipients = nullptr;
  uint64_t size_bytes = 0;  // the message as received (Received: field included, envelope not)
};

struct RejectedEvent {
  int64_t time_ms = 0;
  std::string_view listener;
  std::string_view client;
  std::string_view reason;  // relay_denied, auth_failed, ... (the metric's label)
  std::string_view detail;  // the session's words (an address, a command), may be ""
};

// format_accepted_json / format_rejected_json write one JSON line into
// out[0..cap) and return its length (cap >= 256).
size_t format_accepted_json(const AcceptedEvent& event, char* out, size_t cap);
size_t format_rejected_json(const RejectedEvent& event, char* out, size_t cap);

}  // namespace ringmail
