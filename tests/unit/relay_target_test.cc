// tests/unit/relay_target_test.cc — engine/relay_target.h: how a host and
// port are printed (IPv6 in brackets), and resolve_relay on literals (no
// DNS: numeric hosts only, so the test runs offline).
#include "engine/relay_target.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringmail {
namespace {

TEST(RelayTarget, FormatHostPort) {
  struct Case {
    const char* host;
    uint16_t port;
    const char* want;
  };
  const Case table[] = {
      {"mx.example.org", 25, "mx.example.org:25"},
      {"127.0.0.1", 2525, "127.0.0.1:2525"},
      {"::1", 1, "[::1]:1"},
      {"2001:db8::25", 587, "[2001:db8::25]:587"},
      {"[::1]", 25, "[::1]:25"},  // already bracketed: not twice
      {"[192.0.2.1]", 25, "[192.0.2.1]:25"},
  };
  for (const Case& tc : table) EXPECT_EQ(format_host_port(tc.host, tc.port), tc.want) << tc.host;
}

TEST(RelayTarget, ResolvesLiterals) {
  struct Case {
    const char* host;
    const char* want_host;
    const char* want_text;
  };
  const Case table[] = {
      {"127.0.0.1", "127.0.0.1", "127.0.0.1"},
      {"::1", "::1", "::1"},
      {"[::1]", "::1", "::1"},
      {"[127.0.0.1]", "127.0.0.1", "127.0.0.1"},
  };
  for (const Case& tc : table) {
    RelayConfig config;
    config.host = tc.host;
    config.port = 2525;
    RelayTarget target;
    std::string error;
    ASSERT_TRUE(resolve_relay(config, target, error)) << tc.host << ": " << error;
    EXPECT_EQ(target.host, tc.want_host);
    EXPECT_EQ(target.port, 2525);
    ASSERT_EQ(target.addresses.size(), 1u) << tc.host;
    EXPECT_EQ(target.addresses[0].text, tc.want_text);
  }
}

}  // namespace
}  // namespace ringmail
