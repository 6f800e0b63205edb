// tools/bench/bench_spool.h — the benchmark's spool: writes N synthetic
// alerts the way a producer must (incoming/tmp, then rename into
// incoming/new), and says what kind of file system the spool is on (tmpfs
// or a disk: a user's spool is on a disk, and both figures matter).
//
// Who uses it: the bench runner, once per run, before the engine starts (so
// the generator's time is never measured). Writes only under the directory
// it is given.
#pragma once

#include <cstdint>
#include <string>

namespace ringmail::bench {

// generate_spool writes |count| alerts of |size| bytes (headers included)
// into |root|/incoming/new, creating the folders. No fsync: the benchmark
// measures delivery, not the producer's durability. False with |error| (a
// sentence naming the file) on failure.
bool generate_spool(const std::string& root, uint64_t count, uint32_t size, std::string& error);

// SpoolFilesystem describes where a spool lives.
struct SpoolFilesystem {
  std::string type;        // "tmpfs", "ext4", "xfs", "btrfs", "overlay", "0x..." (statfs f_type)
  bool in_memory = false;  // tmpfs or ramfs: no disk behind it
  // describe: "tmpfs (in memory)" or "ext4 (a disk)".
  std::string describe() const;
};

// spool_filesystem reads statfs(|path|). An unreadable path gives type "?".
SpoolFilesystem spool_filesystem(const std::string& path);

}  // namespace ringmail::bench
