// tests/support/test_address.h — TestAddress: a sockaddr for "1.2.3.4" or
// "::1" (port 0), for tests of code that judges client addresses
// (ingress/network_list, ingress/client_limits). Header-only.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

namespace ringmail::testing {

struct TestAddress {
  explicit TestAddress(const char* text) {
    if (inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
      v4.sin_family = AF_INET;
    } else {
      EXPECT_EQ(inet_pton(AF_INET6, text, &v6.sin6_addr), 1) << text;
      v6.sin6_family = AF_INET6;
    }
  }
  const sockaddr* get() const {
    return v4.sin_family == AF_INET ? reinterpret_cast<const sockaddr*>(&v4)
                                    : reinterpret_cast<const sockaddr*>(&v6);
  }
  sockaddr_in v4{};
  sockaddr_in6 v6{};
};

}  // namespace ringmail::testing
