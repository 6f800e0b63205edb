// queue/mpsc_ring.h — bounded lock-free ring for many producer threads and
// exactly one consumer thread.
//
// Who uses it: the intake's report ring (ReportSink in engine/worker.h).
// Every worker core pushes the outcome of each delivery; only the intake
// thread pops. The intake is woken through a Doorbell (queue/doorbell.h)
// after a push. (Messages go the other way, intake to one worker, over
// that worker's SpscRing.)
// What it must never do: allocate, lock, block or make a syscall after the
// constructor; grow (a full ring is back-pressure: try_push returns false and
// the producer decides to retry, yield or shed); be popped by two threads.
//
// Design: Dmitry Vyukov's bounded MPMC queue with a sequence number per cell,
// specialised to one consumer (the consumer advances its position with a
// plain store instead of a CAS). Cell i is free for the producer that claims
// position p when its sequence is p, and holds that producer's item when the
// sequence is p + 1; the consumer hands it back for position p + capacity.
// Producers contend only on enqueue_pos_ (one CAS per push) and then on the
// cell they claimed.
//
// Progress caveat (inherent to this design): a producer that has claimed a
// cell but not yet published it (preempted between the CAS and the store)
// hides every later item from the consumer until it finishes. The items are
// not lost: that producer calls Doorbell::ring() after publishing, so a
// sleeping consumer is woken then.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <type_traits>

namespace ringmail {

template <typename T>
class MpscRing {
  // Items are copied in and out and never destroyed, which is what makes a
  // cell reusable without bookkeeping. The copies are typed (not memcpy) so
  // that GCC's TSan instruments them.
  static_assert(std::is_trivially_copyable_v<T>, "MpscRing<T> needs a trivially copyable T");
  static_assert(std::is_copy_constructible_v<T> && std::is_copy_assignable_v<T>,
                "MpscRing<T> copies T in and out");

 public:
  // kMaxCapacity bounds the cell array (and rules out size overflow).
  static constexpr size_t kMaxCapacity = size_t{1} << 30;

  // valid_capacity says whether |capacity| is accepted by the constructor: a
  // power of two in [2, kMaxCapacity]. Callers that take the capacity from
  // configuration check it here first and report an operator error.
  static constexpr bool valid_capacity(size_t capacity) {
    return capacity >= 2 && capacity <= kMaxCapacity && (capacity & (capacity - 1)) == 0;
  }

  // MpscRing allocates all |capacity| cells once. |capacity| must satisfy
  // valid_capacity(); anything else is a programming error and aborts (the
  // check is on in release builds too).
  explicit MpscRing(size_t capacity)
      : capacity_(check_capacity(capacity)),
        mask_(capacity - 1),
        cells_(static_cast<Cell*>(::operator new (cell_bytes(capacity), std::align_val_t{kCacheLineBytes}))) {
    for (size_t i = 0; i < capacity_; ++i) {
      ::new (static_cast<void*>(&cells_[i])) Cell;
      cells_[i].sequence.store(i, std::memory_order_relaxed);
    }
  }

  ~MpscRing() {
    // Cell (an atomic and raw bytes) is trivially destructible.
    ::operator delete (cells_, std::align_val_t{kCacheLineBytes});
  }

  MpscRing(const MpscRing&) = delete;
  MpscRing& operator=(const MpscRing&) = delete;

  // try_push copies |item| into the ring. Any thread. Returns false, leaving
  // the ring unchanged, when the ring is full (back-pressure). Never waits
  // for another producer: a lost CAS race just retries at the next position.
  bool try_push(const T& item) {
    Cell* cell;
    size_t pos;
    if (!claim(cell, pos)) return false;
    ::new (static_cast<void*>(cell->storage)) T(item);
    // Release: the item is visible before the consumer sees the sequence.
    cell->sequence.store(pos + 1, std::memory_order_release);
    return true;
  }

  // try_push_with claims a cell like try_push and calls |fill(T&)| to write
  // the item in place, then publishes it. For large T of which a producer
  // fills only a part (the delivery log's line records): no full copy.
  // |fill| must be short and must not touch this ring (the consumer cannot
  // pass the cell until it returns). False, without calling it, when full.
  template <typename F>
  bool try_push_with(F&& fill) {
    Cell* cell;
    size_t pos;
    if (!claim(cell, pos)) return false;
    fill(*::new (static_cast<void*>(cell->storage)) T);  // default-initialised: nothing zeroed
    cell->sequence.store(pos + 1, std::memory_order_release);
    return true;
  }

  // try_pop_with calls |use(const T&)| on the oldest published item in
  // place, then frees its cell. Consumer thread only. False when empty (the
  // ring is empty, or its oldest push is still in progress).
  template <typename F>
  bool try_pop_with(F&& use) {
    const size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
    Cell* cell = &cells_[pos & mask_];
    const size_t seq = cell->sequence.load(std::memory_order_acquire);
    if (seq != pos + 1) return false;
    use(*std::launder(reinterpret_cast<const T*>(cell->storage)));
    // Release: the item is read before a producer of the next lap reuses it.
    cell->sequence.store(pos + capacity_, std::memory_order_release);
    dequeue_pos_.store(pos + 1, std::memory_order_release);
    return true;
  }

  // try_pop copies the oldest published item into |out|. Consumer thread
  // only. Returns false, leaving |out| unchanged, when try_pop_with would.
  bool try_pop(T& out) {
    return try_pop_with([&out](const T& item) { out = item; });
  }

  // size_approx is the number of claimed positions not yet popped, at some
  // instant during the call: it counts pushes still in progress, so it can be
  // non-zero while empty_approx() is true. Any thread may call it.
  size_t size_approx() const {
    // dequeue first: the enqueue position read afterwards is never older.
    const size_t head = dequeue_pos_.load(std::memory_order_acquire);
    const size_t tail = enqueue_pos_.load(std::memory_order_acquire);
    if (tail <= head) return 0;
    return tail - head < capacity_ ? tail - head : capacity_;
  }

  // empty_approx is true when the next item was not published at some
  // instant during the call, i.e. exactly when the consumer's try_pop would
  // have failed then. The consumer uses it for the re-check in the Doorbell
  // protocol; a push still in progress counts as empty because its producer
  // will ring after publishing. Any thread may call it.
  bool empty_approx() const {
    const size_t pos = dequeue_pos_.load(std::memory_order_acquire);
    const size_t seq = cells_[pos & mask_].sequence.load(std::memory_order_acquire);
    // seq < pos + 1: not yet published. seq > pos + 1 only when the consumer
    // moved on meanwhile (another thread's call), which means it was not empty.
    return static_cast<intptr_t>(seq - (pos + 1)) < 0;
  }

  // capacity is the fixed number of cells given to the constructor.
  size_t capacity() const { return capacity_; }

 private:
  // 128, not 64: adjacent-line prefetchers on x86 pull cache lines in pairs.
  static constexpr size_t kCacheLineBytes = 128;

  // Cell is one slot. Not padded to a cache line: neighbouring cells may
  // share a line (memory over peak throughput, as in Vyukov's original).
  struct Cell {
    std::atomic<size_t> sequence;
    alignas(T) unsigned char storage[sizeof(T)];
  };
  static_assert(std::is_trivially_destructible_v<Cell>);

  // claim takes the next free position for a producer: |cell| and |pos| to
  // publish with sequence = pos + 1. False when the ring is full.
  bool claim(Cell*& cell, size_t& pos) {
    pos = enqueue_pos_.load(std::memory_order_relaxed);
    for (;;) {
      cell = &cells_[pos & mask_];
      const size_t seq = cell->sequence.load(std::memory_order_acquire);
      const intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (diff == 0) {
        // The cell is free for position pos; claim pos. On failure pos is
        // reloaded with the current value and the loop retries.
        if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) return true;
      } else if (diff < 0) {
        // The cell still holds the item from one lap ago: full.
        return false;
      } else {
        // Another producer claimed pos already; catch up.
        pos = enqueue_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  static size_t check_capacity(size_t capacity) {
    if (!valid_capacity(capacity)) {
      std::fprintf(stderr, "MpscRing: capacity %zu is not a power of two in [2, %zu]\n", capacity,
                   kMaxCapacity);
      std::abort();
    }
    return capacity;
  }

  // cell_bytes rounds the cell array up to whole cache lines so its last
  // line is not shared with another allocation.
  static size_t cell_bytes(size_t capacity) {
    const size_t bytes = capacity * sizeof(Cell);
    return (bytes + kCacheLineBytes - 1) / kCacheLineBytes * kCacheLineBytes;
  }

  // Read-only after construction; shared by all sides without contention.
  alignas(kCacheLineBytes) const size_t capacity_;
  const size_t mask_;
  Cell* const cells_;

  // Producers' line: every push CASes it.
  alignas(kCacheLineBytes) std::atomic<size_t> enqueue_pos_{0};

  // Consumer's line: written only by the consumer. alignas also pads the
  // object's end, so nothing after it shares this line.
  alignas(kCacheLineBytes) std::atomic<size_t> dequeue_pos_{0};
};

}  // namespace ringmail
