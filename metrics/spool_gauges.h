// metrics/spool_gauges.h — the queue gauges: messages per spool state and
// the age of the oldest message, read from the spool directories by the
// metrics thread, at most once per scrape and less often on a big spool.
//
// Cost (docs/metrics.md "Queue gauges"): a scan reads every state
// directory's names (readdir, no stat per entry) and stats only the
// smallest valid name of each state — ids made by make_message_id sort by
// creation time, so that is the oldest message (for producer-chosen names it
// is an approximation). A scan is reused for max(kMinScanInterval, 20 × the
// last scan's duration): a spool of 1,000,000 messages costs the metrics
// thread at most ~5% of a core, whatever the scrape interval.
//
// Blocking I/O: never call it on a worker thread. Reads only.
#pragma once

#include <array>
#include <cstdint>

#include "queue/spool_layout.h"

namespace ringmail {

struct SpoolGauges {
  std::array<uint64_t, kSpoolStateCount> counts{};  // index: static_cast<size_t>(SpoolState)
  bool has_oldest = false;
  int64_t oldest_mtime_ms = 0;  // unix ms: when the oldest message was queued (its file's mtime)
  uint64_t scan_ns = 0;         // how long the scan that produced this took
};

// scan_spool_gauges reads |dirs| (fds of -1 count as empty) into |out|.
void scan_spool_gauges(const SpoolDirs& dirs, SpoolGauges& out);

// SpoolGaugeCache reuses a scan for a while (see above). Metrics thread only.
class SpoolGaugeCache {
 public:
  static constexpr uint64_t kMinScanIntervalNs = 2'000'000'000;  // 2 s
  static constexpr uint64_t kScanCostFactor = 20;                // reuse for 20 × the scan's duration

  explicit SpoolGaugeCache(const SpoolDirs& dirs) : dirs_(dirs) {}
  // get returns the gauges, scanning first when the last scan is older than
  // its reuse interval at |now_ns| (CLOCK_MONOTONIC).
  const SpoolGauges& get(uint64_t now_ns);

 private:
  const SpoolDirs& dirs_;
  SpoolGauges gauges_;
  bool scanned_ = false;
  uint64_t scanned_at_ns_ = 0;
};

}  // namespace ringmail
