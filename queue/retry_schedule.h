// queue/retry_schedule.h — when a deferred message is tried next, and when
// it has been deferred long enough to fail.
//
// Callers: the engine's outcome handling (the one place that decides
// defer / fail), built once from RetryConfig. Pure arithmetic on unix
// seconds: no clock reads, no allocation after construction, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace ringmail {

// RetrySchedule answers "the message failed its n-th attempt at |now|; when
// is the next one, or is it time to give up?".
//
// The rule, precisely (docs/spool.md repeats it):
//   age   = now - first_attempt
//   if age >= max_age: give up (return false).
//   delay = schedule[min(n - 1, size - 1)]  (n = 0 is treated as 1)
//   next  = min(now + delay, first_attempt + max_age)
// So a message is retried until it is max_age old, the last attempt falls
// exactly at first_attempt + max_age, and the first failure at or after
// that age fails the message. Defensive limits: an empty schedule behaves
// as {60s} (never lose mail to a config slip); delays below 1 s count as
// 1 s; max_age <= 0 gives up after the first failure. A clock that went
// backwards (now < first_attempt) never gives up early.
class RetrySchedule {
 public:
  RetrySchedule(std::vector<std::chrono::seconds> schedule, std::chrono::seconds max_age);

  // next_attempt applies the rule above. |attempts| is the number of failed
  // attempts so far, the one that just failed included. Returns true and
  // sets |next_unix| when the message should be retried; returns false
  // (|next_unix| untouched) when it should fail.
  bool next_attempt(uint32_t attempts, int64_t first_attempt_unix, int64_t now_unix,
                    int64_t& next_unix) const;

  // delay_after is the delay (seconds) the schedule gives after |attempts|
  // failed attempts, before the max_age cap.
  int64_t delay_after(uint32_t attempts) const;

  int64_t max_age_s() const { return max_age_s_; }

 private:
  std::vector<int64_t> delays_s_;  // never empty, each >= 1
  int64_t max_age_s_;
};

}  // namespace ringmail
