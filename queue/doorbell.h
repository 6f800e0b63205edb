// queue/doorbell.h — wakes one consumer thread that sleeps in io_uring (or
// poll) when producers push into its rings.
//
// Who uses it: every worker core owns one Doorbell next to its inbox rings;
// producers (intake, other cores) call ring() after each successful push; the
// core calls prepare_to_sleep()/cancel_sleep()/woke() around its wait. The
// engine's shutdown path calls ring_always().
// What it must never do: cost a producer a syscall per item when the
// consumer is awake, let a consumer sleep while an item is queued (a lost
// wake-up), or make an idle consumer spin. It never blocks: the eventfd is
// non-blocking and only the consumer waits on it, in its own event loop.
//
// Built on one eventfd (EFD_NONBLOCK | EFD_CLOEXEC) and one atomic flag,
// |sleeping|.
//
// The protocol (both halves are required; skipping either loses wake-ups):
//
//   Consumer (the one thread that owns the Doorbell):
//     loop:
//       pop and process until every ring it watches is empty
//       prepare_to_sleep()             // sleeping = true, then a full fence
//       if any ring is non-empty:      // the re-check, AFTER prepare_to_sleep
//         cancel_sleep()               // sleeping = false; do not block
//         continue
//       block until fd() is readable:  // io_uring: an 8-byte read of fd()
//                                      // (the read consumes the counter);
//                                      // poll: POLLIN on fd(), then drain()
//       woke()                         // sleeping = false
//
//   Producer (any thread, any number of them):
//     if ring.try_push(item): doorbell.ring()
//     // ring(): full fence; if sleeping.exchange(false) was true, write 1
//     // to the eventfd. At most one producer writes per sleep.
//
// Why no wake-up is lost: the consumer stores sleeping = true and then reads
// the rings; a producer publishes its item and then reads sleeping; each side
// has a seq_cst fence between its store and its load. In the single total
// order of those fences one comes first, so either the consumer's re-check
// sees the item (and it does not sleep), or the producer sees sleeping ==
// true (and writes the eventfd, which stays readable until consumed, so a
// read or poll submitted later still completes at once).
//
// Spurious wake-ups are allowed and harmless: after cancel_sleep() a
// producer may still have written the eventfd, so the next wait returns at
// once; the consumer finds nothing and goes back to sleep.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace ringmail {

class Doorbell {
 public:
  // Doorbell makes an unopened doorbell; call open() before anything else.
  Doorbell() = default;
  // ~Doorbell closes the eventfd. No thread may use the Doorbell by then.
  ~Doorbell();

  Doorbell(const Doorbell&) = delete;
  Doorbell& operator=(const Doorbell&) = delete;

  // open creates the eventfd. Returns true on success; on failure returns
  // false and sets |error| to a sentence with the cause and the next step
  // (e.g. the process hit its open-file limit). Call once, before sharing.
  bool open(std::string& error);

  // fd is the eventfd the consumer waits on (-1 before open()). The Doorbell
  // owns it; never close it. It is readable while the counter is non-zero.
  int fd() const { return fd_; }

  // prepare_to_sleep announces that the consumer is about to block. Consumer
  // thread only. The consumer MUST re-check its rings afterwards and call
  // cancel_sleep() instead of blocking if any is non-empty.
  void prepare_to_sleep() {
    sleeping_.store(true, std::memory_order_relaxed);
    full_fence();
  }

  // cancel_sleep withdraws prepare_to_sleep() when the re-check found work.
  // Consumer thread only. A producer may already have written the eventfd;
  // that only makes the next wait return at once.
  void cancel_sleep() { sleeping_.store(false, std::memory_order_relaxed); }

  // woke is called by the consumer after its wait on fd() returned (for any
  // reason: ring, timeout, other completions). Consumer thread only.
  void woke() { sleeping_.store(false, std::memory_order_relaxed); }

  // ring wakes the consumer if it is sleeping or about to. Any thread; call
  // it after every successful push. Returns true when this call wrote the
  // eventfd (the consumer had announced sleep and no other producer woke it
  // first), false when no write was needed. The fast path (consumer awake)
  // is a fence and a load: no syscall, no write to a shared cache line.
  bool ring() {
    full_fence();  // the push's publish is ordered before reading |sleeping|
    if (!sleeping_.load(std::memory_order_relaxed)) return false;
    if (!sleeping_.exchange(false, std::memory_order_relaxed)) return false;
    write_eventfd();
    return true;
  }

  // ring_always writes the eventfd whatever the consumer is doing, e.g. to
  // make it notice a shutdown flag. Any thread.
  void ring_always() { write_eventfd(); }

  // drain reads and resets the eventfd counter without blocking, for
  // consumers that wait with poll/epoll (an io_uring read already consumed
  // it). Consumer thread only. Returns the counter's value: the number of
  // writes since the last read, 0 if there were none.
  uint64_t drain();

 private:
  // full_fence is a seq_cst fence. GCC's TSan does not model fences and warns
  // about them (-Wtsan, an error here); the fence is still emitted there, and
  // the rings' own acquire/release atomics are what TSan checks.
  static void full_fence() {
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#pragma GCC diagnostic pop
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  }

  // write_eventfd adds 1 to the counter. A failure other than a full counter
  // (impossible short of 2^64 writes; the fd stays readable then) means the
  // fd is gone: a bug, which aborts.
  void write_eventfd();

  int fd_ = -1;
  // Written by the consumer (true) and by producers (false); on its own cache
  // line so it does not share one with the owner's other fields.
  alignas(128) std::atomic<bool> sleeping_{false};
};

}  // namespace ringmail
