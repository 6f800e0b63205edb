// queue/spsc_ring.h — bounded lock-free ring for exactly one producer thread
// and exactly one consumer thread.
//
// Who uses it: each worker core's inbox (WorkerChannel in engine/worker.h).
// The intake thread is the one producer: it hands claimed messages to that
// core; only the owning worker pops. The worker sleeps in io_uring and is
// woken through a Doorbell (queue/doorbell.h) after a successful push.
// (Results go back over one MpscRing shared by all workers.)
// What it must never do: allocate, lock, block or make a syscall after the
// constructor; grow (a full ring is back-pressure: try_push returns false and
// the producer decides to retry, yield or shed); be used by a second
// producer or a second consumer (that is MpscRing's job).
//
// Design: the classic rigtorp/folly ring. The producer owns tail_ and the
// consumer owns head_, each on its own cache line, and each side keeps a
// cached copy of the other side's index so that, in the steady state, it
// touches the shared line only when the cached copy says full/empty. Indices
// grow without bound (64-bit, never wraps in practice) and are masked into
// the slot array, so all |capacity| slots are usable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <type_traits>

namespace ringmail {

template <typename T>
class SpscRing {
  // Items are copied in and out and never destroyed, which is what makes a
  // slot reusable without bookkeeping. The copies are typed (not memcpy) so
  // that GCC's TSan instruments them.
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing<T> needs a trivially copyable T");
  static_assert(std::is_copy_constructible_v<T> && std::is_copy_assignable_v<T>,
                "SpscRing<T> copies T in and out");

 public:
  // kMaxCapacity bounds the slot array (and rules out size overflow).
  static constexpr size_t kMaxCapacity = size_t{1} << 30;

  // valid_capacity says whether |capacity| is accepted by the constructor: a
  // power of two in [2, kMaxCapacity]. Callers that take the capacity from
  // configuration check it here first and report an operator error.
  static constexpr bool valid_capacity(size_t capacity) {
    return capacity >= 2 && capacity <= kMaxCapacity && (capacity & (capacity - 1)) == 0;
  }

  // SpscRing allocates all |capacity| slots once. |capacity| must satisfy
  // valid_capacity(); anything else is a programming error and aborts (the
  // check is on in release builds too).
  explicit SpscRing(size_t capacity)
      : capacity_(check_capacity(capacity)),
        mask_(capacity - 1),
        slots_(static_cast<T*>(::operator new (slot_bytes(capacity), std::align_val_t{kCacheLineBytes}))) {}

  ~SpscRing() { ::operator delete (slots_, std::align_val_t{kCacheLineBytes}); }

  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // try_push copies |item| into the ring. Producer thread only. Returns false,
  // leaving the ring unchanged, when the ring is full (back-pressure).
  bool try_push(const T& item) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cached_ == capacity_) {
      // Looks full from the cached copy; refresh it from the consumer's line.
      head_cached_ = head_.load(std::memory_order_acquire);
      if (tail - head_cached_ == capacity_) return false;
    }
    ::new (static_cast<void*>(&slots_[tail & mask_])) T(item);
    // Release: the slot's contents are visible before the new tail.
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // try_pop moves the oldest item into |out|. Consumer thread only. Returns
  // false, leaving |out| unchanged, when the ring is empty.
  bool try_pop(T& out) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cached_) {
      tail_cached_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cached_) return false;
    }
    out = *std::launder(&slots_[head & mask_]);
    // Release: the slot is read before the producer may overwrite it.
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // size_approx is the number of items in the ring at some instant during the
  // call; exact when called by the producer or the consumer with the other
  // side idle. Any thread may call it.
  size_t size_approx() const {
    // head first: the tail read afterwards is never older than that head.
    const size_t head = head_.load(std::memory_order_acquire);
    const size_t tail = tail_.load(std::memory_order_acquire);
    if (tail <= head) return 0;
    return tail - head < capacity_ ? tail - head : capacity_;
  }

  // empty_approx is true when the ring held no item at some instant during
  // the call. The consumer uses it for the re-check in the Doorbell protocol:
  // a false answer means try_pop will succeed. Any thread may call it.
  bool empty_approx() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

  // capacity is the fixed number of slots given to the constructor.
  size_t capacity() const { return capacity_; }

 private:
  // 128, not 64: adjacent-line prefetchers on x86 pull cache lines in pairs.
  static constexpr size_t kCacheLineBytes = 128;

  static size_t check_capacity(size_t capacity) {
    if (!valid_capacity(capacity)) {
      std::fprintf(stderr, "SpscRing: capacity %zu is not a power of two in [2, %zu]\n", capacity,
                   kMaxCapacity);
      std::abort();
    }
    return capacity;
  }

  // slot_bytes rounds the slot array up to whole cache lines so its last
  // line is not shared with another allocation.
  static size_t slot_bytes(size_t capacity) {
    const size_t bytes = capacity * sizeof(T);
    return (bytes + kCacheLineBytes - 1) / kCacheLineBytes * kCacheLineBytes;
  }

  // Read-only after construction; shared by both sides without contention.
  alignas(kCacheLineBytes) const size_t capacity_;
  const size_t mask_;
  T* const slots_;

  // Consumer's line: head_ is written only by the consumer.
  alignas(kCacheLineBytes) std::atomic<size_t> head_{0};
  size_t tail_cached_ = 0;  // consumer's last view of tail_

  // Producer's line: tail_ is written only by the producer. alignas also pads
  // the object's end, so nothing after it shares this line.
  alignas(kCacheLineBytes) std::atomic<size_t> tail_{0};
  size_t head_cached_ = 0;  // producer's last view of head_
};

}  // namespace ringmail
