// bench/rings_bench.cc — Google Benchmark micro benchmarks for the rings
// (queue/spsc_ring.h, queue/mpsc_ring.h) and the Doorbell fast path.
//
// Single-threaded: push+pop cost with no contention (the floor). Threaded:
// items per second moved from producer threads to the benchmark thread, the
// consumer spinning (yielding when empty). Each benchmark has a fixed,
// small iteration count so the whole file runs in a few seconds on a shared
// machine; items/s is the figure to read.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "queue/doorbell.h"
#include "queue/mpsc_ring.h"
#include "queue/spsc_ring.h"

namespace ringmail {
namespace {

// A message handle as the engine would pass it: an index plus a tag.
struct Handle {
  uint64_t index;
  uint64_t tag;
};

// BM_PushPopOne: push one item, pop it back; the uncontended round trip.
template <typename Ring>
void BM_PushPopOne(benchmark::State& state) {
  Ring ring(1024);
  Handle in{1, 2};
  Handle out{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.try_push(in));
    benchmark::DoNotOptimize(ring.try_pop(out));
    ++in.index;
  }
  benchmark::DoNotOptimize(out);
  state.SetItemsProcessed(state.iterations());
}

// BM_PushPopBatch: push |batch| items then pop them all; touches more slots
// (cache behaviour of a ring that is actually used).
template <typename Ring>
void BM_PushPopBatch(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  Ring ring(1024);
  Handle in{1, 2};
  Handle out{};
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) {
      benchmark::DoNotOptimize(ring.try_push(in));
      ++in.index;
    }
    for (size_t i = 0; i < batch; ++i) benchmark::DoNotOptimize(ring.try_pop(out));
  }
  benchmark::DoNotOptimize(out);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
}

// kItemsPerIteration: items moved per iteration of the threaded benchmarks.
constexpr uint64_t kItemsPerIteration = 200'000;

// BM_Threaded: state.range(0) producer threads push kItemsPerIteration items
// in total (retrying with yield when full); this thread pops them all.
template <typename Ring>
void BM_Threaded(benchmark::State& state) {
  const auto producers = static_cast<uint64_t>(state.range(0));
  const uint64_t per_producer = kItemsPerIteration / producers;
  const uint64_t total = per_producer * producers;
  Ring ring(1024);
  uint64_t full_retries = 0;
  for (auto _ : state) {
    std::atomic<uint64_t> retries{0};
    std::vector<std::thread> threads;
    for (uint64_t p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        uint64_t my_retries = 0;
        for (uint64_t i = 0; i < per_producer; ++i) {
          const Handle h{i, p};
          while (!ring.try_push(h)) {
            ++my_retries;
            std::this_thread::yield();
          }
        }
        retries.fetch_add(my_retries);
      });
    }
    Handle out{};
    uint64_t received = 0;
    while (received < total) {
      if (ring.try_pop(out)) {
        ++received;
      } else {
        std::this_thread::yield();
      }
    }
    for (std::thread& t : threads) t.join();
    full_retries += retries.load();
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(total));
  state.counters["full_retries_per_item"] =
      benchmark::Counter(static_cast<double>(full_retries) / static_cast<double>(state.iterations() * total));
}

// BM_DoorbellRingAwake: what a producer pays per push when the consumer is
// awake (a fence and a load; no syscall).
void BM_DoorbellRingAwake(benchmark::State& state) {
  Doorbell bell;
  std::string error;
  if (!bell.open(error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(bell.ring());
  state.SetItemsProcessed(state.iterations());
}

// BM_DoorbellRingSleeping: the slow path, one eventfd write per sleep
// (prepare + ring + drain, i.e. two syscalls per round).
void BM_DoorbellRingSleeping(benchmark::State& state) {
  Doorbell bell;
  std::string error;
  if (!bell.open(error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  for (auto _ : state) {
    bell.prepare_to_sleep();
    benchmark::DoNotOptimize(bell.ring());
    bell.woke();
    benchmark::DoNotOptimize(bell.drain());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_PushPopOne<SpscRing<Handle>>)->Name("BM_SpscPushPopOne")->MinTime(0.2);
BENCHMARK(BM_PushPopOne<MpscRing<Handle>>)->Name("BM_MpscPushPopOne")->MinTime(0.2);
BENCHMARK(BM_PushPopBatch<SpscRing<Handle>>)->Name("BM_SpscPushPopBatch")->Arg(64)->MinTime(0.2);
BENCHMARK(BM_PushPopBatch<MpscRing<Handle>>)->Name("BM_MpscPushPopBatch")->Arg(64)->MinTime(0.2);
BENCHMARK(BM_Threaded<SpscRing<Handle>>)
    ->Name("BM_SpscOneProducerThread")
    ->Arg(1)
    ->Iterations(10)
    ->UseRealTime();
BENCHMARK(BM_Threaded<MpscRing<Handle>>)
    ->Name("BM_MpscProducerThreads")
    ->Arg(1)
    ->Arg(2)
    ->Arg(4)
    ->Iterations(10)
    ->UseRealTime();
BENCHMARK(BM_DoorbellRingAwake)->MinTime(0.2);
BENCHMARK(BM_DoorbellRingSleeping)->MinTime(0.2);

}  // namespace
}  // namespace ringmail
