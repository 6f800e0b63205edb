// engine/relay_target.h — the relay ("smarthost") a worker delivers to: its
// name, port and every address it resolved to, in the order they are tried.
//
// resolve_relay runs on the main thread at start-up (getaddrinfo blocks, so
// never on a worker); workers get a const copy. A name such as "localhost"
// yields ::1 and 127.0.0.1; "[192.0.2.1]" or "[::1]" is a literal.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
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

}  // namespace ringmail
