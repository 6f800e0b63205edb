// engine/relay_target.h — the relay ("smarthost") a worker delivers to: its
// name, port and every address it resolved to, in the order they are tried.
//
// resolve_relay runs on the main thread at start-up (getaddrinfo blocks, so
// never on a worker); workers get a const copy. A name such as "localhost"
// yields ::1 and 127.0.0.1; "[192.0.2.1]" or "[::1]" is a literal.
// format_host_port is how a host and port are printed anywhere.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace ringmail {

struct RelayAddress {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;  // "127.0.0.1" or "::1"
};

struct RelayTarget {
  std::string host;  // as configured, brackets removed
  uint16_t port = 25;
  std::vector<RelayAddress> addresses;
};

// resolve_relay fills |out| from |relay|. False with a sentence in |error|
// when the name does not resolve ("cannot resolve relay host 'x': Name or
// service not known; check relay.host in FILE").
bool resolve_relay(const RelayConfig& relay, RelayTarget& out, std::string& error);

// format_host_port renders a host (a name, an IPv4 address, or an IPv6
// address with or without brackets) and a port for logs and messages:
// "mx.example.org:25", "127.0.0.1:25", "[::1]:25" (an IPv6 address always in
// brackets, so the port cannot be read as part of it). Use it wherever an
// address and a port are printed together, e.g. the engine's start line.
std::string format_host_port(std::string_view host, uint16_t port);

}  // namespace ringmail
