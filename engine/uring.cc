// engine/uring.cc — see uring.h. Probes io_uring features once per ring at
// start-up and fails loudly when a required opcode is missing.
#include "engine/uring.h"

#include <fmt/format.h>

#include <cassert>
#include <cerrno>
#include <cstring>

namespace ringmail {
namespace {

struct RequiredOp {
  int opcode;
  const char* name;
};

// The operations a worker issues. IORING_OP_SOCKET is the newest (5.19).
constexpr RequiredOp kRequiredOps[] = {
    {IORING_OP_SOCKET, "SOCKET"},
    {IORING_OP_CONNECT, "CONNECT"},
    {IORING_OP_SEND, "SEND"},
    {IORING_OP_RECV, "RECV"},
    {IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT"},
    {IORING_OP_TIMEOUT, "TIMEOUT"},
    {IORING_OP_OPENAT, "OPENAT"},
    {IORING_OP_READ, "READ"},
    {IORING_OP_CLOSE, "CLOSE"},
    {IORING_OP_RENAMEAT, "RENAMEAT"},
    {IORING_OP_UNLINKAT, "UNLINKAT"},
    {IORING_OP_WRITE, "WRITE"},
    {IORING_OP_FSYNC, "FSYNC"},
    {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
};

}  // namespace

Ring::~Ring() {
  if (initialized_) io_uring_queue_exit(&ring_);
}

bool Ring::init(unsigned entries, std::string& error) {
  struct Attempt {
    unsigned flags;
    bool single_issuer, defer_taskrun, coop_taskrun;
  };
  const Attempt attempts[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL, true, true, false},
      {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, false, false, true},
      {0, false, false, false},
  };
  int rc = -EINVAL;
  for (const Attempt& attempt : attempts) {
    io_uring_params params{};
    params.flags = attempt.flags;
    rc = io_uring_queue_init_params(entries, &ring_, &params);
    if (rc == 0) {
      features_ = {attempt.single_issuer, attempt.defer_taskrun, attempt.coop_taskrun};
      break;
    }
  }
  if (rc < 0) {
    error = fmt::format(
        "cannot create an io_uring ({}): ringmail needs Linux 5.19 or later with io_uring enabled "
        "(check sysctl kernel.io_uring_disabled and the container's seccomp profile)",
        std::strerror(-rc));
    return false;
  }
  initialized_ = true;

  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) {
    error = "cannot probe io_uring opcodes: ringmail needs Linux 5.19 or later";
    return false;
  }
  std::string missing;
  for (const RequiredOp& op : kRequiredOps) {
    if (!io_uring_opcode_supported(probe, op.opcode)) {
      missing += missing.empty() ? "" : ", ";
      missing += op.name;
    }
  }
  io_uring_free_probe(probe);
  if (!missing.empty()) {
    error = fmt::format("this kernel's io_uring lacks {}: ringmail needs Linux 5.19 or later", missing);
    return false;
  }
  return true;
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // SQ full: hand the batch to the kernel and take a fresh entry.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  assert(sqe != nullptr);
  return sqe;
}

void Ring::reserve(unsigned count) {
  if (io_uring_sq_space_left(&ring_) < count) io_uring_submit(&ring_);
}

unsigned Ring::dispatch_ready() {
  // Handlers only queue new SQEs; they never wait, so a batch walk is safe.
  unsigned count = 0;
  unsigned head;
  io_uring_cqe* cqe = nullptr;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    auto* completion = static_cast<Completion*>(io_uring_cqe_get_data(cqe));
    if (completion != nullptr) completion->on_complete(completion, cqe->res, cqe->flags);
    ++count;
  }
  io_uring_cq_advance(&ring_, count);
  return count;
}

unsigned Ring::wait(int timeout_ms) {
  io_uring_cqe* cqe = nullptr;
  int rc;
  if (timeout_ms < 0) {
    rc = io_uring_submit_and_wait(&ring_, 1);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
    rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  }
  (void)rc;  // -ETIME and -EINTR just mean "nothing yet"
  return dispatch_ready();
}

std::string describe_ring_features(const RingFeatures& features) {
  if (features.defer_taskrun) return "io_uring: SINGLE_ISSUER|DEFER_TASKRUN";
  if (features.coop_taskrun) return "io_uring: COOP_TASKRUN (no DEFER_TASKRUN on this kernel)";
  return "io_uring: plain (no SINGLE_ISSUER/DEFER_TASKRUN/COOP_TASKRUN on this kernel)";
}

}  // namespace ringmail
