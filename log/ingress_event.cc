// log/ingress_event.cc — see ingress_event.h.
#include "log/ingress_event.h"

#include "log/delivery_event.h"
#include "log/json_line.h"

namespace ringmail {

size_t format_accepted_json(const AcceptedEvent& e, char* out, size_t cap) {
  JsonLine line(out, cap);
  line.time_utc("time", e.time_ms);
  line.str("event", "accepted");
  line.str("id", e.id);
  line.str("listener", e.listener);
  line.str("client", e.client);
  line.tls_fields(e.tls_version, e.tls_cipher);
  line.str_or_null("auth_user", e.auth_user);
  line.str("from", e.sender);
  line.num("size", static_cast<int64_t>(e.size_bytes));
  const size_t count = e.recipients != nullptr ? e.recipients->size() : 0;
  line.num("recipients", static_cast<int64_t>(count));
  // Last: a long list is what gets cut.
  line.str_list("to", count > 0 ? e.recipients->data() : nullptr, count);
  return line.finish();
}

size_t format_rejected_json(const RejectedEvent& e, char* out, size_t cap) {
  JsonLine line(out, cap);
  line.time_utc("time", e.time_ms);
  line.str("event", "rejected");
  line.str("listener", e.listener);
  line.str("client", e.client);
  line.str("reason", e.reason);
  line.str_max("detail", e.detail, kMaxReplyInBytes);
  return line.finish();
}

}  // namespace ringmail
