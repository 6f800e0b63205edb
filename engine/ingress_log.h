// engine/ingress_log.h — the listener's side of the delivery log: pushes
// the "accepted" and "rejected" lines (log/ingress_event.h) into the
// DeliveryLog's ring, formatted straight into the ring cell.
//
// Who calls it: engine/ingress_connection.cc, on the worker thread. No
// allocation; JSON lines only (syslog carries delivery attempts).
#pragma once

#include <string_view>

#include "log/delivery_log.h"
#include "log/ingress_event.h"

namespace ringmail {

void log_accepted_event(DeliveryLog& log, const AcceptedEvent& event);
void log_rejected_event(DeliveryLog& log, const RejectedEvent& event);

}  // namespace ringmail
