// ingress/received_header.cc — see received_header.h.
#include "ingress/received_header.h"

#include <ctime>
#include <iterator>

#include "fmt/format.h"

namespace ringmail::ingress {
namespace {

// kMaxHeloBytes: a host name is at most 255 octets (RFC 1035); a longer
// HELO is cut so the folded line stays far below 998 octets.
constexpr size_t kMaxHeloBytes = 255;

bool is_helo_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_' || c == ':' || c == '[' || c == ']';
}

}  // namespace

void format_received_header(const TransactionInfo& info, std::string_view client_ip, const TlsFacts* tls,
                            std::string_view hostname, std::string_view queue_id, int64_t unix_time,
                            std::string& out) {
  out.append("Received: from ");
  for (char c : info.helo.substr(0, kMaxHeloBytes)) out.push_back(is_helo_char(c) ? c : '?');
  out.append(client_ip.find(':') == std::string_view::npos ? " ([" : " ([IPv6:");
  out.append(client_ip);
  out.append("])\r\n\tby ");
  out.append(hostname);
  out.append(" (ringmail) with ");
  out.append(info.protocol);
  out.append(" id ");
  out.append(queue_id);
  out.append("\r\n");
  if (tls != nullptr)
    fmt::format_to(std::back_inserter(out), "\t(using {} with cipher {})\r\n", tls->version, tls->cipher);
  out.push_back('\t');
  if (info.recipients != nullptr && info.recipients->size() == 1) {
    out.append("for <");
    out.append(info.recipients->front());
    out.append(">; ");
  } else {
    out.append("; ");
  }
  const time_t seconds = static_cast<time_t>(unix_time);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  // Names written here, not by strftime: they must not follow the locale.
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  fmt::format_to(std::back_inserter(out), "{}, {:02} {} {} {:02}:{:02}:{:02} +0000\r\n", kDays[utc.tm_wday],
                 utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

}  // namespace ringmail::ingress
