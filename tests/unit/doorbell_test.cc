// tests/unit/doorbell_test.cc — tests for Doorbell (queue/doorbell.h): the
// eventfd set-up, the sleep/ring protocol step by step (table-driven), a
// wake-up through a real io_uring read, and stress tests that prove no
// wake-up is lost: a consumer sleeping in poll() with a 2 s timeout while
// bursty producers push and ring; the test fails if the consumer ever sleeps
// through the timeout while an item is queued. All loops are bounded.
#include "queue/doorbell.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <liburing.h>
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "queue/mpsc_ring.h"
#include "queue/spsc_ring.h"

namespace ringmail {
namespace {

// fd_readable polls |fd| without waiting.
bool fd_readable(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

TEST(DoorbellTest, OpenMakesNonBlockingCloexecEventfd) {
  Doorbell bell;
  EXPECT_EQ(bell.fd(), -1);
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  ASSERT_GE(bell.fd(), 0);
  EXPECT_NE(::fcntl(bell.fd(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(bell.fd(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_FALSE(fd_readable(bell.fd()));
  EXPECT_EQ(bell.drain(), 0u) << "drain on a zero counter must not block";

  EXPECT_FALSE(bell.open(error)) << "a second open must be refused";
  EXPECT_NE(error.find("twice"), std::string::npos) << error;
}

TEST(DoorbellTest, DestructorClosesEventfd) {
  int fd = -1;
  {
    Doorbell bell;
    std::string error;
    ASSERT_TRUE(bell.open(error)) << error;
    fd = bell.fd();
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

// One step of the protocol, as a consumer or a producer would call it.
enum class Step { kPrepare, kCancel, kWoke, kRingExpectWrite, kRingExpectNoWrite, kRingAlways };

struct ProtocolCase {
  const char* name;
  std::vector<Step> steps;
  uint64_t expected_counter;  // what drain() returns afterwards
};

TEST(DoorbellTest, ProtocolTable) {
  using S = Step;
  const ProtocolCase cases[] = {
      {"awake consumer: ring costs no write", {S::kRingExpectNoWrite, S::kRingExpectNoWrite}, 0},
      {"sleeping consumer: ring writes", {S::kPrepare, S::kRingExpectWrite}, 1},
      {"only the first ring per sleep writes",
       {S::kPrepare, S::kRingExpectWrite, S::kRingExpectNoWrite, S::kRingExpectNoWrite},
       1},
      {"cancelled sleep: ring costs no write", {S::kPrepare, S::kCancel, S::kRingExpectNoWrite}, 0},
      {"after woke: ring costs no write", {S::kPrepare, S::kWoke, S::kRingExpectNoWrite}, 0},
      {"each sleep gets its own write",
       {S::kPrepare, S::kRingExpectWrite, S::kWoke, S::kPrepare, S::kRingExpectWrite, S::kWoke},
       2},
      {"ring after cancel races: write stays pending (spurious wake-up)",
       {S::kPrepare, S::kRingExpectWrite, S::kCancel, S::kRingExpectNoWrite},
       1},
      {"ring_always writes whatever the consumer does",
       {S::kRingAlways, S::kPrepare, S::kCancel, S::kRingAlways},
       2},
  };
  for (const ProtocolCase& c : cases) {
    SCOPED_TRACE(c.name);
    Doorbell bell;
    std::string error;
    ASSERT_TRUE(bell.open(error)) << error;
    for (size_t i = 0; i < c.steps.size(); ++i) {
      switch (c.steps[i]) {
        case S::kPrepare:
          bell.prepare_to_sleep();
          break;
        case S::kCancel:
          bell.cancel_sleep();
          break;
        case S::kWoke:
          bell.woke();
          break;
        case S::kRingExpectWrite:
          EXPECT_TRUE(bell.ring()) << "step " << i;
          break;
        case S::kRingExpectNoWrite:
          EXPECT_FALSE(bell.ring()) << "step " << i;
          break;
        case S::kRingAlways:
          bell.ring_always();
          break;
      }
    }
    EXPECT_EQ(fd_readable(bell.fd()), c.expected_counter > 0);
    EXPECT_EQ(bell.drain(), c.expected_counter);
    EXPECT_FALSE(fd_readable(bell.fd())) << "drain must reset the counter";
  }
}

// The re-check after prepare_to_sleep is what catches an item pushed while
// the consumer was awake (its ring() wrote nothing): without it, the
// consumer would block on an unreadable fd with the item queued.
TEST(DoorbellTest, RecheckCatchesItemPushedWhileAwake) {
  Doorbell bell;
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  SpscRing<int> ring(4);
  ASSERT_TRUE(ring.try_push(1));
  EXPECT_FALSE(bell.ring()) << "consumer awake: no write";
  bell.prepare_to_sleep();
  EXPECT_FALSE(fd_readable(bell.fd())) << "blocking now would sleep with an item queued";
  EXPECT_FALSE(ring.empty_approx()) << "the re-check must see the item";
  bell.cancel_sleep();
  int out = 0;
  EXPECT_TRUE(ring.try_pop(out));
  EXPECT_EQ(out, 1);
}

// The engine's consumer blocks in io_uring with an 8-byte read on fd(); a
// ring from another thread must complete that read.
TEST(DoorbellTest, RingCompletesIoUringRead) {
  Doorbell bell;
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  io_uring uring;
  const int init_rc = io_uring_queue_init(4, &uring, 0);
  if (init_rc < 0) GTEST_SKIP() << "io_uring unavailable here: " << std::strerror(-init_rc);

  SpscRing<uint64_t> ring(8);
  bell.prepare_to_sleep();
  ASSERT_TRUE(ring.empty_approx());
  uint64_t counter = 0;
  io_uring_sqe* sqe = io_uring_get_sqe(&uring);
  ASSERT_NE(sqe, nullptr);
  io_uring_prep_read(sqe, bell.fd(), &counter, sizeof(counter), 0);
  ASSERT_EQ(io_uring_submit(&uring), 1);

  std::atomic<bool> wrote{false};
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (ring.try_push(42)) wrote.store(bell.ring());
  });
  __kernel_timespec timeout{2, 0};
  io_uring_cqe* cqe = nullptr;
  const int wait_rc = io_uring_wait_cqe_timeout(&uring, &cqe, &timeout);
  producer.join();
  bell.woke();
  ASSERT_EQ(wait_rc, 0) << "the read did not complete within 2 s: " << std::strerror(-wait_rc);
  const int res = cqe->res;
  io_uring_cqe_seen(&uring, cqe);
  io_uring_queue_exit(&uring);
  if (res == -EAGAIN) {
    GTEST_SKIP() << "this kernel fails io_uring reads of a non-blocking eventfd with EAGAIN; "
                    "the engine must wait with IORING_OP_POLL_ADD instead";
  }
  EXPECT_EQ(res, 8);
  EXPECT_EQ(counter, 1u);
  EXPECT_TRUE(wrote.load());
  uint64_t out = 0;
  EXPECT_TRUE(ring.try_pop(out));
  EXPECT_EQ(out, 42u);
}

// ---------------------------------------------------------------------------
// No lost wake-ups, under load.

struct Item {
  uint32_t producer;
  uint32_t unused;
  uint64_t seq;
};

// kMaxSleepMs: a consumer that sleeps this long with an item queued has lost
// a wake-up (the producers never pause for more than ~100 us).
constexpr int kMaxSleepMs = 2000;
constexpr auto kDeadline = std::chrono::seconds(20);

struct WakeupResult {
  uint64_t received = 0;
  uint64_t prepares = 0;       // prepare_to_sleep calls
  uint64_t cancels = 0;        // re-check found work
  uint64_t sleeps_woken = 0;   // poll returned with fd readable
  uint64_t idle_timeouts = 0;  // poll timed out with nothing queued
  uint64_t writes = 0;         // ring() calls that wrote the eventfd
  std::string first_error;
};

// run_wakeup_stress: |producers| threads push bursts of items into |ring|
// (ringing after each push, pausing briefly between bursts so the consumer
// goes to sleep often); the calling thread consumes, sleeping in poll() on
// the doorbell whenever the ring is empty.
template <typename Ring>
WakeupResult run_wakeup_stress(Ring& ring, uint32_t producers, uint64_t items_per_producer) {
  Doorbell bell;
  WakeupResult result;
  std::string error;
  if (!bell.open(error)) {
    result.first_error = error;
    return result;
  }
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::vector<std::thread> threads;
  for (uint32_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::mt19937 rng(p + 1);
      uint64_t my_writes = 0;
      uint64_t burst_left = 1 + rng() % 32;
      for (uint64_t seq = 0; seq < items_per_producer; ++seq) {
        const Item item{p, 0, seq};
        while (!ring.try_push(item)) {
          if (stop.load(std::memory_order_relaxed)) break;
          std::this_thread::yield();
        }
        if (bell.ring()) ++my_writes;
        if (--burst_left == 0) {
          burst_left = 1 + rng() % 32;
          // Half the bursts run straight on, so pushes race with the
          // consumer going to sleep; the others pause so that it does sleep.
          const uint32_t pause_us = (rng() % 2 == 0) ? 0 : rng() % 100;
          if (pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
        }
        if (stop.load(std::memory_order_relaxed)) break;
      }
      writes.fetch_add(my_writes);
    });
  }

  std::vector<uint64_t> next_seq(producers, 0);
  const uint64_t total = items_per_producer * producers;
  while (result.received < total && result.first_error.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      result.first_error = "deadline passed with items missing";
      break;
    }
    Item item;
    while (ring.try_pop(item)) {
      if (item.producer >= producers || item.seq != next_seq[item.producer]) {
        result.first_error = "item lost, duplicated or reordered";
        break;
      }
      ++next_seq[item.producer];
      ++result.received;
    }
    if (result.received == total || !result.first_error.empty()) break;

    bell.prepare_to_sleep();
    ++result.prepares;
    if (!ring.empty_approx()) {
      bell.cancel_sleep();
      ++result.cancels;
      continue;
    }
    pollfd pfd{bell.fd(), POLLIN, 0};
    const int rc = ::poll(&pfd, 1, kMaxSleepMs);
    bell.woke();
    if (rc == 1) {
      ++result.sleeps_woken;
      bell.drain();
    } else if (rc == 0) {
      if (!ring.empty_approx()) {
        result.first_error = "lost wake-up: slept " + std::to_string(kMaxSleepMs) + " ms with an item queued";
      } else {
        ++result.idle_timeouts;
      }
    } else if (errno != EINTR) {
      result.first_error = std::string("poll failed: ") + std::strerror(errno);
    }
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  result.writes = writes.load();
  return result;
}

void check_wakeups(const WakeupResult& r, uint64_t total) {
  EXPECT_EQ(r.first_error, "");
  EXPECT_EQ(r.received, total);
  EXPECT_GT(r.sleeps_woken, 0u) << "the consumer never slept: the test proved nothing";
  EXPECT_GT(r.writes, 0u);
  // A write happens only for an announced sleep, and at most once per sleep:
  // producers do not pay a syscall per item.
  EXPECT_LE(r.writes, r.prepares);
  EXPECT_LT(r.writes, total);
  testing::Test::RecordProperty("prepares", std::to_string(r.prepares));
  testing::Test::RecordProperty("cancels", std::to_string(r.cancels));
  testing::Test::RecordProperty("sleeps_woken", std::to_string(r.sleeps_woken));
  testing::Test::RecordProperty("writes", std::to_string(r.writes));
}

constexpr uint64_t kWakeupItems = 40'000;

TEST(DoorbellStressTest, NoLostWakeupsSpscPoll) {
  SpscRing<Item> ring(64);
  const WakeupResult r = run_wakeup_stress(ring, 1, kWakeupItems);
  check_wakeups(r, kWakeupItems);
}

TEST(DoorbellStressTest, NoLostWakeupsMpscPoll) {
  MpscRing<Item> ring(64);
  const WakeupResult r = run_wakeup_stress(ring, 4, kWakeupItems / 2);
  check_wakeups(r, kWakeupItems / 2 * 4);
}

}  // namespace
}  // namespace ringmail
