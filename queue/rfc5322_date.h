// queue/rfc5322_date.h — the RFC 5322 date of a message field, in UTC:
// "Tue, 01 Dec 2026 00:44:00 +0000" (day and month names written here, not
// by strftime, so they never follow the locale). Used by the bounces'
// Date: and DSN fields (engine/dsn_composer) and the listener's Received:
// field (ingress/received_header).
#pragma once

#include <cstdint>
#include <string>

namespace ringmail {

// append_rfc5322_date appends the date of |unix_seconds| to |out|.
void append_rfc5322_date(int64_t unix_seconds, std::string& out);

// rfc5322_date returns it.
std::string rfc5322_date(int64_t unix_seconds);

}  // namespace ringmail
