// queue/monotonic_clock.h — monotonic_ns() (and monotonic_s(), in seconds):
// CLOCK_MONOTONIC, for durations and deadlines (never for dates). Header-only; in queue/
// because it is the library every other part of ringmail links.
#pragma once

#include <time.h>

#include <cstdint>

namespace ringmail {

inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

inline double monotonic_s() { return static_cast<double>(monotonic_ns()) / 1e9; }

}  // namespace ringmail
