// bench/spool_commit_bench.cc — the SMTP listener's group commit
// (ingress/spool_committer.h) on a real file system: msg/s with N messages
// always in flight (as N clients each waiting for its 250), for each way of
// making a batch's data durable (one syncfs per batch, or an fdatasync per
// file). Counters: sync calls per message and messages per batch.
//
// The spool goes in a fresh folder under $RINGMAIL_BENCH_SPOOL (default
// /var/tmp, a disk; /dev/shm for tmpfs), removed at the end (files stay in
// incoming/new until then: a few hundred, not removed in the timed loop,
// where an unlink would delay the next submit). Each case
// runs a fixed number of messages so the whole file takes seconds; docs/
// ingress.md ("Durability and group commit") has the figures measured here.
// Run: build/bench/micro_bench --benchmark_filter=SpoolCommit
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "ingress/spool_committer.h"
#include "queue/spool_layout.h"

namespace ringmail::ingress {
namespace {

uint64_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

void wait_ack(SpoolCommitter& committer, Doorbell& bell, CommitAck& ack) {
  while (!committer.pop_ack(0, ack)) {
    bell.prepare_to_sleep();
    if (committer.acks_waiting(0)) {
      bell.cancel_sleep();
      continue;
    }
    pollfd pfd{bell.fd(), POLLIN, 0};
    ::poll(&pfd, 1, 1000);
    bell.drain();
    bell.woke();
  }
}

// BM_SpoolCommit: range(0) = 0 syncfs, 1 fdatasync; range(1) = messages in
// flight. One iteration = one message acked.
void BM_SpoolCommit(benchmark::State& state) {
  const DataSync mode = state.range(0) == 0 ? DataSync::kSyncfs : DataSync::kFdatasync;
  const size_t in_flight = static_cast<size_t>(state.range(1));
  const char* env = std::getenv("RINGMAIL_BENCH_SPOOL");
  std::string base = std::string(env != nullptr ? env : "/var/tmp") + "/ringmail-commit-bench.XXXXXX";
  if (::mkdtemp(base.data()) == nullptr) {
    state.SkipWithError("cannot create a folder under $RINGMAIL_BENCH_SPOOL");
    return;
  }
  SpoolDirs dirs;
  std::string error;
  Doorbell bell;
  if (!open_spool_incoming(base + "/spool", true, dirs, error) || !bell.open(error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  SpoolCommitter committer(dirs.incoming_tmp_fd, dirs.incoming_new_fd, 1, {&bell}, 1024, mode);
  if (!committer.start(error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::string alert(2048, 'a');
  std::vector<CommitRequest> slots(in_flight);
  uint64_t counter = 0;
  auto submit = [&](size_t slot) {
    CommitRequest& r = slots[slot];
    r.token = slot;
    r.data = alert.data();
    r.size = alert.size();
    format_ingress_id(r.id, now_us(), 0, counter++);
    committer.submit(0, r);
  };
  for (size_t i = 0; i < in_flight; ++i) submit(i);
  for (auto _ : state) {
    CommitAck ack;
    wait_ack(committer, bell, ack);
    if (!ack.ok) state.SkipWithError("a commit failed");
    submit(ack.token);
  }
  for (size_t i = 0; i < in_flight; ++i) {
    CommitAck ack;
    wait_ack(committer, bell, ack);
  }
  committer.stop();
  const CommitStats stats = committer.stats();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["syncs_per_msg"] =
      static_cast<double>(stats.sync_calls) / static_cast<double>(stats.messages);
  state.counters["msgs_per_batch"] = static_cast<double>(stats.messages) / static_cast<double>(stats.batches);
  dirs.close_all();
  std::error_code ignored;
  std::filesystem::remove_all(base, ignored);
}

BENCHMARK(BM_SpoolCommit)
    ->ArgNames({"fdatasync", "in_flight"})
    ->ArgsProduct({{0, 1}, {1, 8, 32, 128}})
    ->Iterations(512)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ringmail::ingress
