// engine/uring.h — a worker's io_uring: set-up with feature probing, SQE
// supply, batched submit-and-wait, and completion dispatch.
//
// Who uses it: engine/worker.cc (one Ring per worker, created on the worker's
// own thread, because a SINGLE_ISSUER ring belongs to the thread that made it).
// Completions are owned by the caller: an SQE's user_data points at a
// Completion that must outlive the operation; user_data 0 means "nobody
// cares" (linked timeouts, fire-and-forget closes) and is dropped.
// Never used from two threads; never blocks except in wait().
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>

namespace ringmail {

// Completion is the caller-owned record an operation reports to. |on_complete|
// receives the CQE's res (>= 0 success, -errno failure) and flags.
struct Completion {
  using Handler = void (*)(Completion* self, int res, uint32_t flags);
  Handler on_complete = nullptr;
};

// MemberCompletion routes a completion to a member function of |Owner|, so
// an object can own several completions (open, read, finish...) without a
// switch. Embed it in the owner and construct it with |this|.
template <class Owner, void (Owner::*Method)(int res, uint32_t flags)>
struct MemberCompletion : Completion {
  explicit MemberCompletion(Owner* owner_in) : owner(owner_in) {
    on_complete = [](Completion* self, int res, uint32_t flags) {
      auto* me = static_cast<MemberCompletion*>(self);
      (me->owner->*Method)(res, flags);
    };
  }
  Owner* owner;
};

// RingFeatures says which optional kernel features the ring got.
struct RingFeatures {
  bool single_issuer = false;  // IORING_SETUP_SINGLE_ISSUER
  bool defer_taskrun = false;  // IORING_SETUP_DEFER_TASKRUN
  bool coop_taskrun = false;   // IORING_SETUP_COOP_TASKRUN (fallback)
};

class Ring {
 public:
  Ring() = default;
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // init creates the ring with |entries| SQEs on the calling thread, trying
  // SINGLE_ISSUER|DEFER_TASKRUN, then COOP_TASKRUN, then no flags, and checks
  // that every opcode the engine needs is supported. On failure returns
  // false with |error| naming what is missing and the kernel it needs.
  bool init(unsigned entries, std::string& error);

  // sqe returns a free submission entry, submitting queued ones first when
  // the SQ is full. Never returns null (asserts if the kernel refuses).
  io_uring_sqe* sqe();

  // reserve makes sure the next |count| sqe() calls come from the same
  // submission: a linked chain split across two submissions would run its
  // first part unlinked (a receive without its timeout, a rename without
  // the meta write before it). Submits what is queued when space is short.
  void reserve(unsigned count);

  // wait submits everything queued and waits for at least one completion
  // or |timeout_ms| (< 0: no timeout), then dispatches every available
  // completion. Returns the number dispatched.
  unsigned wait(int timeout_ms);

  // dispatch_ready dispatches completions already available, without
  // entering the kernel. Returns the number dispatched.
  unsigned dispatch_ready();

  const RingFeatures& features() const { return features_; }
  io_uring* raw() { return &ring_; }

 private:
  io_uring ring_{};
  bool initialized_ = false;
  RingFeatures features_;
};

// describe_ring_features is a one-line summary for the start-up log.
std::string describe_ring_features(const RingFeatures& features);

// set_completion stores |completion| as the SQE's user_data.
inline void set_completion(io_uring_sqe* sqe, Completion* completion) {
  io_uring_sqe_set_data(sqe, completion);
}

}  // namespace ringmail
