// queue/retry_schedule.cc — the retry rule of retry_schedule.h.
//
// Pure arithmetic, saturating where a sum could overflow int64. Never reads
// a clock and never allocates after construction.
#include "queue/retry_schedule.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace ringmail {
namespace {

constexpr int64_t kEmptyScheduleDelayS = 60;

int64_t saturating_add(int64_t a, int64_t b) {
  if (b > 0 && a > std::numeric_limits<int64_t>::max() - b) return std::numeric_limits<int64_t>::max();
  if (b < 0 && a < std::numeric_limits<int64_t>::min() - b) return std::numeric_limits<int64_t>::min();
  return a + b;
}

int64_t saturating_sub(int64_t a, int64_t b) {
  if (b == std::numeric_limits<int64_t>::min()) return a >= 0 ? std::numeric_limits<int64_t>::max() : a - b;
  return saturating_add(a, -b);
}

}  // namespace

RetrySchedule::RetrySchedule(std::vector<std::chrono::seconds> schedule, std::chrono::seconds max_age)
    : max_age_s_(static_cast<int64_t>(max_age.count())) {
  delays_s_.reserve(std::max<size_t>(schedule.size(), 1));
  for (const std::chrono::seconds delay : schedule) {
    delays_s_.push_back(std::max<int64_t>(static_cast<int64_t>(delay.count()), 1));
  }
  if (delays_s_.empty()) delays_s_.push_back(kEmptyScheduleDelayS);
}

int64_t RetrySchedule::delay_after(uint32_t attempts) const {
  const size_t n = attempts == 0 ? 1 : attempts;
  return delays_s_[std::min(n - 1, delays_s_.size() - 1)];
}

bool RetrySchedule::next_attempt(uint32_t attempts, int64_t first_attempt_unix, int64_t now_unix,
                                 int64_t& next_unix) const {
  if (max_age_s_ <= 0) return false;
  const int64_t age_s = saturating_sub(now_unix, first_attempt_unix);
  if (age_s >= max_age_s_) return false;
  const int64_t deadline = saturating_add(first_attempt_unix, max_age_s_);
  next_unix = std::min(saturating_add(now_unix, delay_after(attempts)), deadline);
  return true;
}

}  // namespace ringmail
