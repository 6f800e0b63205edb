// tests/unit/retry_schedule_test.cc — the retry rule (queue/retry_schedule.h):
// delays by attempt number, the max_age cut-off, the deadline cap and the
// defensive limits. Pure arithmetic.
#include "queue/retry_schedule.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace ringmail {
namespace {

using std::chrono::seconds;

struct RetryCase {
  const char* name;
  uint32_t attempts;
  int64_t first;
  int64_t now;
  bool retry;
  int64_t next;  // checked when retry
};

TEST(RetryScheduleTest, Table) {
  // 1m, 5m, 15m, 1h; give up at 1 day.
  const RetrySchedule schedule({seconds(60), seconds(300), seconds(900), seconds(3600)}, seconds(86400));
  const int64_t t0 = 1'700'000'000;
  const RetryCase table[] = {
      {"first failure", 1, t0, t0, true, t0 + 60},
      {"second", 2, t0, t0 + 60, true, t0 + 60 + 300},
      {"third", 3, t0, t0 + 400, true, t0 + 400 + 900},
      {"fourth uses last", 4, t0, t0 + 2000, true, t0 + 2000 + 3600},
      {"tenth still last", 10, t0, t0 + 20000, true, t0 + 20000 + 3600},
      {"zero attempts as one", 0, t0, t0, true, t0 + 60},
      {"capped at deadline", 20, t0, t0 + 86400 - 100, true, t0 + 86400},
      {"just before deadline", 20, t0, t0 + 86399, true, t0 + 86400},
      {"at max_age gives up", 21, t0, t0 + 86400, false, 0},
      {"past max_age gives up", 21, t0, t0 + 90000, false, 0},
      {"clock went backwards", 2, t0, t0 - 1000, true, t0 - 1000 + 300},
  };
  for (const RetryCase& tc : table) {
    int64_t next = -1;
    EXPECT_EQ(schedule.next_attempt(tc.attempts, tc.first, tc.now, next), tc.retry) << tc.name;
    if (tc.retry) {
      EXPECT_EQ(next, tc.next) << tc.name;
    } else {
      EXPECT_EQ(next, -1) << tc.name << ": next must be untouched";
    }
  }
}

TEST(RetryScheduleTest, DefensiveLimits) {
  int64_t next = 0;
  // Empty schedule: retry every 60 s rather than losing mail.
  const RetrySchedule empty({}, seconds(3600));
  ASSERT_TRUE(empty.next_attempt(5, 0, 100, next));
  EXPECT_EQ(next, 160);
  // Zero and negative delays count as 1 s.
  const RetrySchedule zero({seconds(0), seconds(-5)}, seconds(3600));
  ASSERT_TRUE(zero.next_attempt(1, 0, 100, next));
  EXPECT_EQ(next, 101);
  ASSERT_TRUE(zero.next_attempt(2, 0, 100, next));
  EXPECT_EQ(next, 101);
  // max_age 0: the first failure fails the message.
  const RetrySchedule no_retry({seconds(60)}, seconds(0));
  EXPECT_FALSE(no_retry.next_attempt(1, 100, 100, next));
  // No overflow near the int64 limits.
  const RetrySchedule huge({seconds(std::numeric_limits<int64_t>::max())},
                           seconds(std::numeric_limits<int64_t>::max()));
  ASSERT_TRUE(huge.next_attempt(1, 0, 1000, next));
  EXPECT_EQ(next, std::numeric_limits<int64_t>::max());
}

TEST(RetryScheduleTest, DelayAfter) {
  const RetrySchedule schedule({seconds(10), seconds(20)}, seconds(1000));
  EXPECT_EQ(schedule.delay_after(0), 10);
  EXPECT_EQ(schedule.delay_after(1), 10);
  EXPECT_EQ(schedule.delay_after(2), 20);
  EXPECT_EQ(schedule.delay_after(4000000000u), 20);
  EXPECT_EQ(schedule.max_age_s(), 1000);
}

}  // namespace
}  // namespace ringmail
