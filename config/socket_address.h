// config/socket_address.h — IP literals as the config file writes them: a
// listen address ("127.0.0.1:2525", "[::1]:2525") and a network in CIDR
// notation ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7").
//
// Who uses it: config/config.cc checks [[listen]] address and
// trusted_networks at load with these, and ingress/network_list.cc builds
// its table with parse_cidr, so the file is judged once, by one parser.
// The engine's listener binds what parse_socket_address yields.
// Problems are short clauses ("the port must be ...") that the caller puts
// into its own sentence naming the file, key and line.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail {

// parse_socket_address parses "IPV4:PORT", "[IPV6]:PORT" or
// "localhost:PORT" (= 127.0.0.1) with PORT 1..65535 into |addr|/|len|.
// False with a clause in |problem|.
bool parse_socket_address(std::string_view text, sockaddr_storage& addr, socklen_t& len, std::string& problem);

// Cidr is one network: |family| AF_INET (4 bytes used) or AF_INET6 (16),
// the address with the bits past |prefix_bits| cleared.
struct Cidr {
  int family = AF_INET;
  uint8_t bytes[16] = {};
  uint8_t prefix_bits = 0;
  bool operator==(const Cidr&) const = default;
};

// parse_cidr parses "A.B.C.D/N" (N 0..32), "IPV6/N" (N 0..128) or a bare
// address (a /32 or /128). Host bits set past the prefix ("10.1.2.3/8") are
// refused: such an entry is usually a typo for a narrower network. False
// with a clause in |problem|.
bool parse_cidr(std::string_view text, Cidr& out, std::string& problem);

}  // namespace ringmail
