// engine/ingress_log.cc — see ingress_log.h.
#include "engine/ingress_log.h"

namespace ringmail {

void log_accepted_event(DeliveryLog& log, const AcceptedEvent& event) {
  if (!log.writes_file()) return;
  log.push([&event](LogRecord& record) {
    record.json_len = static_cast<uint16_t>(format_accepted_json(event, record.text, LogRecord::kJsonCap));
    record.syslog_len = 0;
  });
}

void log_rejected_event(DeliveryLog& log, const RejectedEvent& event) {
  if (!log.writes_file()) return;
  log.push([&event](LogRecord& record) {
    record.json_len = static_cast<uint16_t>(format_rejected_json(event, record.text, LogRecord::kJsonCap));
    record.syslog_len = 0;
  });
}

}  // namespace ringmail
