// config/socket_address.cc — see socket_address.h.
#include "config/socket_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace ringmail {
namespace {

// ParseNumber: all of |text| is a decimal number no greater than |max|.
bool ParseNumber(std::string_view text, unsigned max, unsigned& out) {
  if (text.empty() || text.size() > 5) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && out <= max;
}

}  // namespace

bool parse_socket_address(std::string_view text, sockaddr_storage& addr, socklen_t& len, std::string& problem) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      problem = "an IPv6 address goes in brackets followed by :PORT, e.g. \"[::1]:2525\"";
      return false;
    }
    host.assign(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
      problem = "it must be ADDRESS:PORT, e.g. \"127.0.0.1:2525\" or \"[::1]:2525\"";
      return false;
    }
    if (text.find(':') != colon) {
      problem = "an IPv6 address goes in brackets, e.g. \"[::1]:2525\"";
      return false;
    }
    host.assign(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  if (!ParseNumber(port_text, 65535, port) || port == 0) {
    problem = "the port must be a number from 1 to 65535";
    return false;
  }
  if (host == "localhost") host = "127.0.0.1";
  std::memset(&addr, 0, sizeof(addr));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (text.front() != '[' && inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
    return true;
  }
  if (text.front() == '[' && inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
    return true;
  }
  problem = text.front() == '[' ? "'" + host + "' is not an IPv6 address"
                                : "'" + host + "' is not an IPv4 address (host names are not resolved here)";
  return false;
}

bool parse_cidr(std::string_view text, Cidr& out, std::string& problem) {
  const size_t slash = text.find('/');
  const std::string host(text.substr(0, slash));
  Cidr cidr;
  unsigned max_bits = 0;
  if (inet_pton(AF_INET, host.c_str(), cidr.bytes) == 1) {
    cidr.family = AF_INET;
    max_bits = 32;
  } else if (inet_pton(AF_INET6, host.c_str(), cidr.bytes) == 1) {
    cidr.family = AF_INET6;
    max_bits = 128;
  } else {
    problem = "'" + host + "' is not an IPv4 or IPv6 address (write a network as \"10.0.0.0/8\" or \"fd00::/8\")";
    return false;
  }
  unsigned bits = max_bits;
  if (slash != std::string_view::npos && !ParseNumber(text.substr(slash + 1), max_bits, bits)) {
    problem = "the prefix length after '/' must be a number from 0 to " + std::to_string(max_bits);
    return false;
  }
  cidr.prefix_bits = static_cast<uint8_t>(bits);
  for (unsigned i = 0; i < max_bits / 8; ++i) {
    const unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? bits - i * 8 : 0;
    const auto mask = static_cast<uint8_t>(keep == 8 ? 0xff : (0xff00u >> keep) & 0xff);
    if ((cidr.bytes[i] & ~mask) != 0) {
      problem = "'" + std::string(text) + "' has bits set past its /" + std::to_string(bits) +
                " prefix; write the network's first address (e.g. \"10.0.0.0/8\") or a longer prefix";
      return false;
    }
  }
  out = cidr;
  return true;
}

}  // namespace ringmail
