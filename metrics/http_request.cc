// metrics/http_request.cc — see http_request.h.
#include "metrics/http_request.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace ringmail {

HeadStatus parse_request_head(std::string_view buffer, RequestHead& out) {
  size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos) end = buffer.find("\n\n");
  if (end == std::string_view::npos) return HeadStatus::kIncomplete;
  std::string_view line = buffer.substr(0, buffer.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return HeadStatus::kBad;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return HeadStatus::kBad;
  if (line.substr(sp2 + 1).substr(0, 5) != "HTTP/") return HeadStatus::kBad;
  out.method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const size_t query = target.find('?');
  if (query != std::string_view::npos) target = target.substr(0, query);
  out.path = target;
  return HeadStatus::kComplete;
}

MetricsRoute route_request(const RequestHead& head) {
  if (head.path != "/metrics") return MetricsRoute::kNotFound;
  if (head.method != "GET" && head.method != "HEAD") return MetricsRoute::kMethodNotAllowed;
  return MetricsRoute::kMetrics;
}

bool parse_listen_address(std::string_view text, sockaddr_storage& addr, socklen_t& len, std::string& error) {
  auto fail = [&](const char* why) {
    error = "metrics.listen = \"" + std::string(text) + "\": " + why +
            " (expected \"127.0.0.1:9464\" or \"[::1]:9464\")";
    return false;
  };
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail("an IPv6 address needs brackets and a port");
    host.assign(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return fail("no host:port");
    host.assign(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535)
    return fail("the port must be a number from 0 to 65535");
  if (host == "localhost") host = "127.0.0.1";
  std::memset(&addr, 0, sizeof(addr));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
    return true;
  }
  return fail("the host must be an IPv4 or bracketed IPv6 address");
}

}  // namespace ringmail
