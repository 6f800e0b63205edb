// metrics/spool_gauges.cc — see spool_gauges.h.
#include "metrics/spool_gauges.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "queue/dir_stream.h"
#include "queue/monotonic_clock.h"

namespace ringmail {
void scan_spool_gauges(const SpoolDirs& dirs, SpoolGauges& out) {
  const uint64_t start = monotonic_ns();
  out = SpoolGauges{};
  char smallest[kMessageIdMax];
  for (size_t s = 0; s < kSpoolStateCount; ++s) {
    const int fd = dirs.state_fd(static_cast<SpoolState>(s));
    if (fd < 0) continue;
    DirStream dir(fd);
    smallest[0] = '\0';
    uint64_t count = 0;
    while (const dirent* entry = dir.next()) {
      const std::string_view name(entry->d_name);
      if (!is_valid_message_id(name)) continue;  // tmp files, strays: not messages
      ++count;
      if (smallest[0] == '\0' || std::strcmp(entry->d_name, smallest) < 0) {
        std::memcpy(smallest, entry->d_name, name.size() + 1);
      }
    }
    out.counts[s] = count;
    struct stat st;
    if (smallest[0] != '\0' && fstatat(fd, smallest, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      const int64_t mtime_ms =
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
      if (!out.has_oldest || mtime_ms < out.oldest_mtime_ms) out.oldest_mtime_ms = mtime_ms;
      out.has_oldest = true;
    }
  }
  out.scan_ns = monotonic_ns() - start;
}

const SpoolGauges& SpoolGaugeCache::get(uint64_t now_ns) {
  const uint64_t reuse_ns = std::max(kMinScanIntervalNs, kScanCostFactor * gauges_.scan_ns);
  if (!scanned_ || now_ns - scanned_at_ns_ >= reuse_ns) {
    scan_spool_gauges(dirs_, gauges_);
    scanned_ = true;
    scanned_at_ns_ = now_ns;
  }
  return gauges_;
}

}  // namespace ringmail
