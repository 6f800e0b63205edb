// tests/unit/network_list_test.cc — ingress/network_list: which client
// addresses a listener's trusted_networks contain (IPv4, IPv6, IPv4-mapped
// IPv6 against IPv4 entries, prefix edges, bad entries).
#include "ingress/network_list.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/un.h>

#include <string>

#include "tests/support/test_address.h"

namespace ringmail::ingress {
namespace {

using Addr = ringmail::testing::TestAddress;

NetworkList Parse(const std::vector<std::string>& cidrs) {
  NetworkList list;
  std::string error;
  EXPECT_TRUE(NetworkList::parse(cidrs, list, error)) << error;
  return list;
}

TEST(NetworkList, DefaultLoopbackNetworks) {
  const NetworkList list = Parse({"127.0.0.0/8", "::1/128"});
  EXPECT_TRUE(list.contains(Addr("127.0.0.1").get()));
  EXPECT_TRUE(list.contains(Addr("127.255.255.254").get()));
  EXPECT_TRUE(list.contains(Addr("::1").get()));
  EXPECT_TRUE(list.contains(Addr("::ffff:127.0.0.2").get()));  // IPv4 client on a dual-stack socket
  EXPECT_FALSE(list.contains(Addr("128.0.0.1").get()));
  EXPECT_FALSE(list.contains(Addr("::2").get()));
  EXPECT_FALSE(list.contains(Addr("::ffff:10.0.0.1").get()));
  EXPECT_FALSE(list.contains(Addr("::127.0.0.1").get()));  // IPv4-compatible, not mapped
  EXPECT_FALSE(list.contains(nullptr));
}

TEST(NetworkList, PrefixEdges) {
  const NetworkList list = Parse({"192.168.4.0/22", "2001:db8:80::/41", "203.0.113.9"});
  EXPECT_FALSE(list.contains(Addr("192.168.3.255").get()));
  EXPECT_TRUE(list.contains(Addr("192.168.4.0").get()));
  EXPECT_TRUE(list.contains(Addr("192.168.7.255").get()));
  EXPECT_FALSE(list.contains(Addr("192.168.8.0").get()));
  EXPECT_TRUE(list.contains(Addr("203.0.113.9").get()));
  EXPECT_FALSE(list.contains(Addr("203.0.113.8").get()));
  EXPECT_FALSE(list.contains(Addr("2001:db8:7f:ffff::1").get()));
  EXPECT_TRUE(list.contains(Addr("2001:db8:80::1").get()));
  EXPECT_TRUE(list.contains(Addr("2001:db8:ff:ffff::1").get()));
  EXPECT_FALSE(list.contains(Addr("2001:db8:100::").get()));
  // IPv6 entries never match IPv4 clients, and the reverse.
  EXPECT_FALSE(Parse({"::/0"}).contains(Addr("10.1.2.3").get()));
  EXPECT_TRUE(Parse({"::/0"}).contains(Addr("::ffff:10.1.2.3").get()));  // an IPv6 address too
  EXPECT_FALSE(Parse({"0.0.0.0/0"}).contains(Addr("2001:db8::1").get()));
  EXPECT_TRUE(Parse({"0.0.0.0/0"}).contains(Addr("::ffff:10.1.2.3").get()));
}

TEST(NetworkList, EmptyContainsNothingAndOtherFamiliesAreNeverContained) {
  const NetworkList empty = Parse({});
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.contains(Addr("127.0.0.1").get()));
  sockaddr_un unix_address{};
  unix_address.sun_family = AF_UNIX;
  EXPECT_FALSE(Parse({"0.0.0.0/0", "::/0"}).contains(reinterpret_cast<const sockaddr*>(&unix_address)));
}

TEST(NetworkList, BadEntryIsNamedAndNothingChanges) {
  NetworkList list = Parse({"10.0.0.0/8"});
  std::string error;
  EXPECT_FALSE(NetworkList::parse({"127.0.0.0/8", "10.0.0.0/4"}, list, error));
  EXPECT_EQ(error,
            "trusted_networks[1] = \"10.0.0.0/4\": '10.0.0.0/4' has bits set past its /4 prefix; write the "
            "network's first address (e.g. \"10.0.0.0/8\") or a longer prefix");
  EXPECT_TRUE(list.contains(Addr("10.1.1.1").get()));  // unchanged
}

}  // namespace
}  // namespace ringmail::ingress
