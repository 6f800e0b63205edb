// ingress/network_list.cc — see network_list.h.
#include "ingress/network_list.h"

#include <netinet/in.h>

#include <cstdint>
#include <cstring>

namespace ringmail::ingress {
namespace {

// PrefixMatches: the first |bits| bits of |a| and |b| are equal.
bool PrefixMatches(const uint8_t* a, const uint8_t* b, unsigned bits) {
  const unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const unsigned rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff00u >> rest);
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool NetworkList::parse(const std::vector<std::string>& cidrs, NetworkList& out, std::string& error) {
  std::vector<Cidr> networks;
  networks.reserve(cidrs.size());
  for (size_t i = 0; i < cidrs.size(); ++i) {
    Cidr cidr;
    std::string problem;
    if (!parse_cidr(cidrs[i], cidr, problem)) {
      error = "trusted_networks[" + std::to_string(i) + "] = \"" + cidrs[i] + "\": " + problem;
      return false;
    }
    networks.push_back(cidr);
  }
  out.networks_ = std::move(networks);
  return true;
}

bool NetworkList::contains(const sockaddr* address) const {
  if (address == nullptr) return false;
  const uint8_t* v4 = nullptr;  // the IPv4 address, also of a v4-mapped IPv6 client
  const uint8_t* v6 = nullptr;
  if (address->sa_family == AF_INET) {
    v4 = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
  } else if (address->sa_family == AF_INET6) {
    const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    v6 = a6.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) v4 = a6.s6_addr + 12;
  } else {
    return false;
  }
  for (const Cidr& network : networks_) {
    const uint8_t* candidate = network.family == AF_INET ? v4 : v6;
    if (candidate != nullptr && PrefixMatches(candidate, network.bytes, network.prefix_bits)) return true;
  }
  return false;
}

}  // namespace ringmail::ingress
