// engine/relay_target.cc — see relay_target.h. Runs before any worker starts.
#include "engine/relay_target.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>

#include <cstring>

namespace ringmail {

std::string format_host_port(std::string_view host, uint16_t port) {
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (!bracketed && host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool resolve_relay(const RelayConfig& relay, RelayTarget& out, std::string& error) {
  out = RelayTarget{};
  out.host = relay.host;
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  out.port = relay.port;

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(relay.port);
  const int rc = getaddrinfo(out.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    error = fmt::format("cannot resolve relay host '{}': {}; check relay.host", out.host, gai_strerror(rc));
    return false;
  }
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    RelayAddress address;
    std::memcpy(&address.address, ai->ai_addr, ai->ai_addrlen);
    address.length = ai->ai_addrlen;
    char text[INET6_ADDRSTRLEN] = {0};
    const void* raw = ai->ai_family == AF_INET6
                          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr)
                          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr);
    inet_ntop(ai->ai_family, raw, text, sizeof(text));
    address.text = text;
    bool duplicate = false;
    for (const RelayAddress& seen : out.addresses) duplicate |= seen.text == address.text;
    if (!duplicate) out.addresses.push_back(std::move(address));
  }
  freeaddrinfo(result);
  if (out.addresses.empty()) {
    error = fmt::format("relay host '{}' has no IPv4 or IPv6 address; check relay.host", out.host);
    return false;
  }
  return true;
}

}  // namespace ringmail
