// tests/unit/rings_test.cc — unit and stress tests for SpscRing and MpscRing
// (queue/spsc_ring.h, queue/mpsc_ring.h).
//
// Single-thread semantics are checked against a std::deque model (FIFO,
// full/empty, wrap-around, capacity); the stress tests push sequence-tagged,
// checksummed items from real threads through small rings, so back-pressure
// happens constantly, and check that every item arrives exactly once, intact
// and in per-producer order. Every loop is bounded in count and by a deadline;
// each test takes well under 5 s, also under TSan.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "queue/mpsc_ring.h"
#include "queue/spsc_ring.h"

namespace ringmail {
namespace {

// A stress run fails when the consumer sees no item for kStressStall (a
// lost item or a livelock), and in any case ends after kStressDeadline. On a
// loaded 2-core machine 4 producers and a consumer take turns slowly, but
// they keep making progress: only a stall is a fault.
constexpr auto kStressStall = std::chrono::seconds(10);
constexpr auto kStressDeadline = std::chrono::seconds(120);

// ---------------------------------------------------------------------------
// Single-thread semantics, shared by both rings.

TEST(SpscRingTest, ValidCapacityTable) {
  struct Case {
    size_t capacity;
    bool valid;
  };
  const Case cases[] = {
      {0, false},
      {1, false},
      {2, true},
      {3, false},
      {4, true},
      {6, false},
      {1024, true},
      {1023, false},
      {size_t{1} << 30, true},
      {(size_t{1} << 30) + 1, false},
      {size_t{1} << 31, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(SpscRing<int>::valid_capacity(c.capacity), c.valid) << c.capacity;
    EXPECT_EQ(MpscRing<int>::valid_capacity(c.capacity), c.valid) << c.capacity;
  }
}

TEST(SpscRingDeathTest, InvalidCapacityAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH({ SpscRing<int> ring(3); }, "not a power of two");
  EXPECT_DEATH({ SpscRing<int> ring(1); }, "not a power of two");
}

TEST(MpscRingDeathTest, InvalidCapacityAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH({ MpscRing<int> ring(12); }, "not a power of two");
  EXPECT_DEATH({ MpscRing<int> ring(0); }, "not a power of two");
}

// check_fill_and_drain fills an empty ring to exactly its capacity, checks
// that one more push is refused without side effects, then drains in order.
template <typename Ring>
void check_fill_and_drain(size_t capacity) {
  SCOPED_TRACE(capacity);
  Ring ring(capacity);
  EXPECT_EQ(ring.capacity(), capacity);
  EXPECT_TRUE(ring.empty_approx());
  EXPECT_EQ(ring.size_approx(), 0u);
  uint64_t out = 777;
  EXPECT_FALSE(ring.try_pop(out));
  EXPECT_EQ(out, 777u) << "a failed pop must leave |out| alone";

  for (uint64_t i = 0; i < capacity; ++i) {
    ASSERT_TRUE(ring.try_push(i * 3 + 1)) << i;
    EXPECT_EQ(ring.size_approx(), i + 1);
    EXPECT_FALSE(ring.empty_approx());
  }
  EXPECT_FALSE(ring.try_push(999)) << "a full ring must refuse (back-pressure)";
  EXPECT_FALSE(ring.try_push(999));
  EXPECT_EQ(ring.size_approx(), capacity);

  for (uint64_t i = 0; i < capacity; ++i) {
    ASSERT_TRUE(ring.try_pop(out)) << i;
    EXPECT_EQ(out, i * 3 + 1) << "FIFO order";
    EXPECT_EQ(ring.size_approx(), capacity - i - 1);
  }
  EXPECT_FALSE(ring.try_pop(out)) << "the refused push must not have been stored";
  EXPECT_TRUE(ring.empty_approx());
}

TEST(SpscRingTest, FillToCapacityThenDrainInOrder) {
  for (size_t capacity : {2, 4, 8, 64, 1024}) check_fill_and_drain<SpscRing<uint64_t>>(capacity);
}

TEST(MpscRingTest, FillToCapacityThenDrainInOrder) {
  for (size_t capacity : {2, 4, 8, 64, 1024}) check_fill_and_drain<MpscRing<uint64_t>>(capacity);
}

// check_wraps_many_times pushes and pops bursts of every size from 1 to
// capacity, so the indices wrap around the slot array thousands of times.
template <typename Ring>
void check_wraps_many_times(size_t capacity, int rounds) {
  SCOPED_TRACE(capacity);
  Ring ring(capacity);
  uint64_t next_push = 0;
  uint64_t next_pop = 0;
  for (int round = 0; round < rounds; ++round) {
    const size_t burst = 1 + static_cast<size_t>(round) % capacity;
    for (size_t i = 0; i < burst; ++i) ASSERT_TRUE(ring.try_push(next_push++));
    EXPECT_EQ(ring.size_approx(), burst);
    for (size_t i = 0; i < burst; ++i) {
      uint64_t out = 0;
      ASSERT_TRUE(ring.try_pop(out));
      ASSERT_EQ(out, next_pop++);
    }
    ASSERT_TRUE(ring.empty_approx());
  }
  // Wrapped at least rounds * 1 / capacity laps; make sure that is many.
  EXPECT_GE(next_push / capacity, 100u);
}

TEST(SpscRingTest, WrapsAroundManyTimes) {
  check_wraps_many_times<SpscRing<uint64_t>>(2, 1000);
  check_wraps_many_times<SpscRing<uint64_t>>(4, 1000);
  check_wraps_many_times<SpscRing<uint64_t>>(16, 4000);
}

TEST(MpscRingTest, WrapsAroundManyTimes) {
  check_wraps_many_times<MpscRing<uint64_t>>(2, 1000);
  check_wraps_many_times<MpscRing<uint64_t>>(4, 1000);
  check_wraps_many_times<MpscRing<uint64_t>>(16, 4000);
}

// check_against_model runs a random push/pop sequence against a bounded
// std::deque and compares every result, size and emptiness.
template <typename Ring>
void check_against_model(size_t capacity, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "capacity " << capacity << " seed " << seed);
  Ring ring(capacity);
  std::deque<uint64_t> model;
  std::mt19937 rng(seed);
  uint64_t next_value = 0;
  for (int op = 0; op < 50'000; ++op) {
    // Bias towards pushes in one half, pops in the other, so the ring spends
    // time both full and empty.
    const bool push_bias = (op / 5000) % 2 == 0;
    const bool push = (rng() % 4) < (push_bias ? 3u : 1u);
    if (push) {
      const bool ok = ring.try_push(next_value);
      ASSERT_EQ(ok, model.size() < capacity) << "op " << op;
      if (ok) model.push_back(next_value);
      ++next_value;
    } else {
      uint64_t out = 0;
      const bool ok = ring.try_pop(out);
      ASSERT_EQ(ok, !model.empty()) << "op " << op;
      if (ok) {
        ASSERT_EQ(out, model.front()) << "op " << op;
        model.pop_front();
      }
    }
    ASSERT_EQ(ring.size_approx(), model.size()) << "op " << op;
    ASSERT_EQ(ring.empty_approx(), model.empty()) << "op " << op;
  }
}

TEST(SpscRingTest, MatchesBoundedDequeModel) {
  for (size_t capacity : {2, 8, 128}) {
    for (uint32_t seed : {1u, 2u, 3u}) check_against_model<SpscRing<uint64_t>>(capacity, seed);
  }
}

TEST(MpscRingTest, MatchesBoundedDequeModel) {
  for (size_t capacity : {2, 8, 128}) {
    for (uint32_t seed : {1u, 2u, 3u}) check_against_model<MpscRing<uint64_t>>(capacity, seed);
  }
}

// A multi-word item, to catch torn copies.
struct Wide {
  uint64_t a;
  uint32_t b;
  char c[20];
};

template <typename Ring>
void check_wide_items_round_trip() {
  Ring ring(4);
  for (uint64_t i = 0; i < 100; ++i) {
    Wide in{i, static_cast<uint32_t>(i * 7), {}};
    std::snprintf(in.c, sizeof(in.c), "item-%llu", static_cast<unsigned long long>(i));
    ASSERT_TRUE(ring.try_push(in));
    Wide out{};
    ASSERT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out.a, in.a);
    EXPECT_EQ(out.b, in.b);
    EXPECT_STREQ(out.c, in.c);
  }
}

TEST(SpscRingTest, CopiesWholeStructs) { check_wide_items_round_trip<SpscRing<Wide>>(); }
TEST(MpscRingTest, CopiesWholeStructs) { check_wide_items_round_trip<MpscRing<Wide>>(); }

// ---------------------------------------------------------------------------
// Multi-threaded stress.

// Item is what the stress producers push: who sent it, its per-producer
// sequence number, and a checksum over both.
struct Item {
  uint32_t producer;
  uint32_t unused;
  uint64_t seq;
  uint64_t check;
};

uint64_t checksum(uint32_t producer, uint64_t seq) {
  return (seq * 0x9E3779B97F4A7C15ull) ^ ((producer + 1) * 0xC2B2AE3D27D4EB4Full);
}

struct StressResult {
  uint64_t received = 0;
  uint64_t refused_pushes = 0;     // try_push returned false (ring full)
  std::vector<uint64_t> next_seq;  // per producer: the seq expected next
  std::string first_error;         // empty when every item was intact and in order
};

// run_stress starts |producers| threads, each pushing |items_per_producer|
// items (retrying with yield while the ring is full), and consumes on the
// calling thread, pausing now and then so that the ring fills up.
template <typename Ring>
StressResult run_stress(size_t capacity, uint32_t producers, uint64_t items_per_producer) {
  Ring ring(capacity);
  const auto deadline = std::chrono::steady_clock::now() + kStressDeadline;
  auto last_item = std::chrono::steady_clock::now();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> refused{0};
  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      uint64_t my_refused = 0;
      for (uint64_t seq = 0; seq < items_per_producer; ++seq) {
        const Item item{p, 0, seq, checksum(p, seq)};
        while (!ring.try_push(item)) {
          ++my_refused;
          if (stop.load(std::memory_order_relaxed)) {
            refused.fetch_add(my_refused);
            return;
          }
          std::this_thread::yield();
        }
      }
      refused.fetch_add(my_refused);
    });
  }

  StressResult result;
  result.next_seq.assign(producers, 0);
  const uint64_t total = items_per_producer * producers;
  while (result.received < total) {
    Item item;
    if (!ring.try_pop(item)) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_item > kStressStall) {
        result.first_error = "no item for 10 s with items missing (lost, or a livelock)";
        break;
      }
      if (now > deadline) {
        result.first_error = "deadline passed with items missing";
        break;
      }
      std::this_thread::yield();
      continue;
    }
    last_item = std::chrono::steady_clock::now();
    if (item.producer >= producers || item.check != checksum(item.producer, item.seq)) {
      result.first_error =
          "corrupt item from producer " + std::to_string(item.producer) + " seq " + std::to_string(item.seq);
      break;
    }
    if (item.seq != result.next_seq[item.producer]) {
      result.first_error =
          "producer " + std::to_string(item.producer) + ": got seq " + std::to_string(item.seq) +
          ", expected " + std::to_string(result.next_seq[item.producer]) + " (lost, duplicated or reordered)";
      break;
    }
    ++result.next_seq[item.producer];
    ++result.received;
    // Pause now and then: the producers must hit a full ring and back off.
    if (result.received % 20'000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  result.refused_pushes = refused.load();
  if (result.first_error.empty()) {
    Item extra;
    if (ring.try_pop(extra)) result.first_error = "an item arrived beyond the total";
    if (!ring.empty_approx() || ring.size_approx() != 0) result.first_error = "ring not empty";
  }
  return result;
}

template <typename Ring>
void check_stress(size_t capacity, uint32_t producers, uint64_t items_per_producer) {
  SCOPED_TRACE(testing::Message() << "capacity " << capacity << ", " << producers << " producers x "
                                  << items_per_producer);
  const auto start = std::chrono::steady_clock::now();
  const StressResult r = run_stress<Ring>(capacity, producers, items_per_producer);
  EXPECT_EQ(r.first_error, "");
  EXPECT_EQ(r.received, items_per_producer * producers);
  for (uint32_t p = 0; p < producers; ++p) EXPECT_EQ(r.next_seq[p], items_per_producer) << p;
  EXPECT_GT(r.refused_pushes, 0u) << "the ring never filled: back-pressure was not exercised";
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  testing::Test::RecordProperty("elapsed_ms", std::to_string(elapsed_ms.count()));
}

// 200,000 items per producer: each stress test takes < 1 s, also under TSan.
constexpr uint64_t kItems = 200'000;

TEST(SpscRingStressTest, OneProducerOneConsumer) { check_stress<SpscRing<Item>>(64, 1, kItems); }

TEST(SpscRingStressTest, OneProducerOneConsumerTinyRing) { check_stress<SpscRing<Item>>(2, 1, kItems / 4); }

TEST(MpscRingStressTest, FourProducersOneConsumer) { check_stress<MpscRing<Item>>(64, 4, kItems); }

TEST(MpscRingStressTest, FourProducersOneConsumerTinyRing) { check_stress<MpscRing<Item>>(2, 4, kItems / 8); }

}  // namespace
}  // namespace ringmail
