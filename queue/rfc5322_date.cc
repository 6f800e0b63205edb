// queue/rfc5322_date.cc — see rfc5322_date.h.
#include "queue/rfc5322_date.h"

#include <fmt/format.h>
#include <time.h>

#include <iterator>

namespace ringmail {

void append_rfc5322_date(int64_t unix_seconds, std::string& out) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm {};
  gmtime_r(&t, &tm);
  fmt::format_to(std::back_inserter(out), "{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} +0000",
                 kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
}

std::string rfc5322_date(int64_t unix_seconds) {
  std::string out;
  append_rfc5322_date(unix_seconds, out);
  return out;
}

}  // namespace ringmail
