// tests/unit/client_limits_test.cc — ingress/client_limits: per-IP
// connection counts, messages per minute and AUTH failures per minute, one
// table shared by threads. ClientLimitsConcurrent.* runs in the TSan stage
// of tools/test.sh (its name matches "Concurrent").
#include "ingress/client_limits.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/support/test_address.h"

namespace ringmail::ingress {
namespace {

using Addr = ringmail::testing::TestAddress;

TEST(ClientLimits, ConnectionsPerIp) {
  ClientLimits limits(2, 0, 5);
  const Addr a("192.0.2.1"), b("192.0.2.2");
  EXPECT_TRUE(limits.try_open(a.get()));
  EXPECT_TRUE(limits.try_open(a.get()));
  EXPECT_FALSE(limits.try_open(a.get()));
  EXPECT_EQ(limits.connections(a.get()), 2u);
  EXPECT_TRUE(limits.try_open(b.get()));  // another client has its own count
  limits.close(a.get());
  EXPECT_TRUE(limits.try_open(a.get()));
  EXPECT_FALSE(limits.try_open(a.get()));
  limits.close(b.get());
  limits.close(b.get());  // one too many: stays at zero
  EXPECT_EQ(limits.connections(b.get()), 0u);
}

TEST(ClientLimits, MappedIpv4AndIpv6Slash64AreOneClient) {
  ClientLimits limits(1, 0, 5);
  EXPECT_TRUE(limits.try_open(Addr("198.51.100.7").get()));
  EXPECT_FALSE(limits.try_open(Addr("::ffff:198.51.100.7").get()));
  EXPECT_TRUE(limits.try_open(Addr("2001:db8:1:2::1").get()));
  EXPECT_FALSE(limits.try_open(Addr("2001:db8:1:2:ffff::9").get()));  // same /64
  EXPECT_TRUE(limits.try_open(Addr("2001:db8:1:3::1").get()));
}

TEST(ClientLimits, MessagesPerMinute) {
  ClientLimits limits(10, 3, 5);
  const Addr a("192.0.2.1");
  const uint64_t t = 6'000'000;  // a minute boundary
  EXPECT_TRUE(limits.admit_message(a.get(), t));
  EXPECT_TRUE(limits.admit_message(a.get(), t + 10));
  EXPECT_TRUE(limits.admit_message(a.get(), t + 59));
  EXPECT_FALSE(limits.admit_message(a.get(), t + 59));
  EXPECT_TRUE(limits.admit_message(Addr("192.0.2.9").get(), t + 59));
  EXPECT_TRUE(limits.admit_message(a.get(), t + 60));  // the next minute
  ClientLimits unlimited(10, 0, 5);
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(unlimited.admit_message(a.get(), t));
}

TEST(ClientLimits, AuthFailuresPerMinute) {
  ClientLimits limits(10, 0, 2);
  const Addr a("192.0.2.1");
  const uint64_t t = 600;
  EXPECT_TRUE(limits.auth_allowed(a.get(), t));
  limits.auth_failed(a.get(), t);
  EXPECT_TRUE(limits.auth_allowed(a.get(), t + 1));
  limits.auth_failed(a.get(), t + 1);
  EXPECT_FALSE(limits.auth_allowed(a.get(), t + 2));
  limits.auth_failed(a.get(), t + 2);
  EXPECT_FALSE(limits.auth_allowed(a.get(), t + 59));
  EXPECT_TRUE(limits.auth_allowed(Addr("::1").get(), t + 59));
  EXPECT_TRUE(limits.auth_allowed(a.get(), t + 60));
}

// A table of one bucket: every client shares it, so limits only get stricter.
TEST(ClientLimits, CollisionsShareABucket) {
  ClientLimits limits(2, 0, 5, 1);
  EXPECT_TRUE(limits.try_open(Addr("192.0.2.1").get()));
  EXPECT_TRUE(limits.try_open(Addr("192.0.2.2").get()));
  EXPECT_FALSE(limits.try_open(Addr("2001:db8::1").get()));
}

TEST(ClientLimitsConcurrent, CountsStayExactAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 20'000;
  ClientLimits limits(kThreads, 1'000'000, 5, 64);
  const Addr a("192.0.2.1");
  std::atomic<int> refused{0};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        // kThreads threads, each with at most one open: never refused.
        if (limits.try_open(a.get())) {
          limits.close(a.get());
        } else {
          refused.fetch_add(1);
        }
        if (limits.admit_message(a.get(), 120)) admitted.fetch_add(1);
        limits.auth_failed(a.get(), 120);
        (void)limits.auth_allowed(a.get(), 120);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(limits.connections(a.get()), 0u);
  EXPECT_EQ(admitted.load(), kThreads * kRounds);
  EXPECT_FALSE(limits.auth_allowed(a.get(), 120));
}

TEST(ClientLimitsConcurrent, LimitHoldsUnderContention) {
  constexpr int kThreads = 4;
  ClientLimits limits(10, 50, 5, 64);
  const Addr a("192.0.2.1");
  std::atomic<int> opened{0};
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (limits.try_open(a.get())) opened.fetch_add(1);
        if (limits.admit_message(a.get(), 60)) admitted.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(opened.load(), 10);
  EXPECT_EQ(admitted.load(), 50);
  EXPECT_EQ(limits.connections(a.get()), 10u);
}

}  // namespace
}  // namespace ringmail::ingress
