// ingress/network_list.h — a listener's trusted_networks: the client
// addresses that may send mail through it without AUTH.
//
// Who uses it: the engine's ingress adapter builds one per [[listen]] at
// start-up (NetworkList::parse) and asks contains() once per accepted
// connection, from any worker (const, no locks, no allocation).
// Entries are parsed by config/socket_address.h's parse_cidr, the same
// parser load_config checks the file with. An IPv4-mapped IPv6 client
// (::ffff:192.0.2.1, what a dual-stack [::] socket reports for an IPv4
// peer) matches the IPv4 entries as well as the IPv6 ones.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "config/socket_address.h"

namespace ringmail::ingress {

class NetworkList {
 public:
  // parse fills |out| from |cidrs| ("10.0.0.0/8", "::1/128", "192.0.2.7").
  // False with a sentence in |error| naming the bad entry.
  static bool parse(const std::vector<std::string>& cidrs, NetworkList& out, std::string& error);

  // contains: |address| (AF_INET or AF_INET6; anything else is never
  // contained) lies in one of the networks.
  bool contains(const sockaddr* address) const;

  bool empty() const { return networks_.empty(); }

 private:
  std::vector<Cidr> networks_;
};

}  // namespace ringmail::ingress
