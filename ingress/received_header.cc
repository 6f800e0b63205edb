// ingress/received_header.cc — see received_header.h.
#include "ingress/received_header.h"

#include <ctime>
#include <iterator>

#include "fmt/format.h"
#include "queue/rfc5322_date.h"

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
  append_rfc5322_date(unix_time, out);
  out.append("\r\n");
}

}  // namespace ringmail::ingress
