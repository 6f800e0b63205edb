// ingress/spool_committer.cc — the group-commit thread behind the SMTP
// listener (see spool_committer.h for the durability order and the rules).
// Runs on its own thread; the only calls made from worker threads are
// submit() and pop_ack(), which touch nothing but that worker's rings and
// the committer's Doorbell.
#include "ingress/spool_committer.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "queue/dir_stream.h"
#include "queue/monotonic_clock.h"
#include "queue/write_all.h"

namespace ringmail::ingress {

namespace {

// kMessageFileMode is the mode of a spool file (as `ringmail inject` makes
// them: the owner writes, the spool group may read).
constexpr mode_t kMessageFileMode = 0640;

}  // namespace

SpoolCommitter::SpoolCommitter(int incoming_tmp_fd, int incoming_new_fd, uint32_t workers,
                               std::vector<Doorbell*> wake, uint32_t ring_capacity, DataSync data_sync)
    : tmp_fd_(incoming_tmp_fd),
      new_fd_(incoming_new_fd),
      capacity_(ring_capacity),
      data_sync_(data_sync),
      wake_(std::move(wake)) {
  if (wake_.size() != workers) {
    std::fprintf(stderr, "SpoolCommitter: %zu doorbells for %" PRIu32 " workers (a bug in the caller)\n",
                 wake_.size(), workers);
    std::abort();
  }
  lanes_.reserve(workers);
  for (uint32_t w = 0; w < workers; ++w) lanes_.push_back(std::make_unique<Lane>(ring_capacity));
  batch_.reserve(kMaxBatch);
  woken_.assign(workers, false);
}

SpoolCommitter::~SpoolCommitter() { stop(); }

bool SpoolCommitter::start(std::string& error) {
  if (started_) {
    error = "SpoolCommitter::start called twice (a bug in the caller)";
    return false;
  }
  if (!doorbell_.open(error)) return false;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error& e) {
    error = std::string("cannot start the spool commit thread: ") + e.what();
    return false;
  }
  started_ = true;
  return true;
}

void SpoolCommitter::stop() {
  if (!started_) return;
  stopping_.store(true, std::memory_order_release);
  doorbell_.ring_always();
  if (thread_.joinable()) thread_.join();
  started_ = false;
}

bool SpoolCommitter::submit(uint32_t worker, const CommitRequest& request) {
  Lane& lane = *lanes_[worker];
  if (lane.in_flight >= capacity_ || stopping_.load(std::memory_order_relaxed)) return false;
  // Cannot fail: in_flight counts this lane's requests in the ring, in the
  // batch and acked but not popped, so the ring has room.
  if (!lane.requests.try_push(request)) return false;
  ++lane.in_flight;
  doorbell_.ring();
  return true;
}

bool SpoolCommitter::pop_ack(uint32_t worker, CommitAck& ack) {
  Lane& lane = *lanes_[worker];
  if (!lane.acks.try_pop(ack)) return false;
  --lane.in_flight;
  return true;
}

CommitStats SpoolCommitter::stats() const {
  return CommitStats{batches_.load(std::memory_order_relaxed), messages_.load(std::memory_order_relaxed),
                     sync_calls_.load(std::memory_order_relaxed), failed_.load(std::memory_order_relaxed)};
}

void SpoolCommitter::run() {
  pthread_setname_np(pthread_self(), "ringmail-commit");
  for (;;) {
    batch_.clear();
    if (gather() > 0) {
      wait_for_stragglers();
      commit_batch();
      continue;
    }
    // Nothing waiting. Stopping: everything submitted is acked, so leave.
    if (stopping_.load(std::memory_order_acquire)) break;
    doorbell_.prepare_to_sleep();
    if (any_request_waiting() || stopping_.load(std::memory_order_acquire)) {
      doorbell_.cancel_sleep();
      continue;
    }
    pollfd pfd{doorbell_.fd(), POLLIN, 0};
    while (::poll(&pfd, 1, -1) < 0 && errno == EINTR) {
    }
    doorbell_.drain();
    doorbell_.woke();
  }
}

bool SpoolCommitter::any_request_waiting() const {
  for (const auto& lane : lanes_) {
    if (!lane->requests.empty_approx()) return true;
  }
  return false;
}

// gather adds to batch_ up to kMaxBatch waiting requests, one per lane per
// round, starting one lane later each time, so no worker starves the others.
size_t SpoolCommitter::gather() {
  const uint32_t lanes = static_cast<uint32_t>(lanes_.size());
  bool popped = true;
  while (popped && batch_.size() < kMaxBatch) {
    popped = false;
    for (uint32_t i = 0; i < lanes && batch_.size() < kMaxBatch; ++i) {
      const uint32_t w = (next_lane_ + i) % lanes;
      Pending p;
      if (lanes_[w]->requests.try_pop(p.request)) {
        p.worker = w;
        batch_.push_back(p);
        popped = true;
      }
    }
  }
  next_lane_ = lanes == 0 ? 0 : (next_lane_ + 1) % lanes;
  return batch_.size();
}

// wait_for_stragglers is the commit delay. When syncs are slow (a disk),
// the thread wakes for the first request that arrives after a batch while
// the other connections of that batch are still sending their next message;
// committing it alone would make every other batch a small one. So when
// the last sync took kDelayFromSyncNs or more, it waits 1/8 of that (at most
// kMaxDelayNs) and takes what arrived meanwhile. On tmpfs syncs take
// microseconds and there is no delay.
void SpoolCommitter::wait_for_stragglers() {
  if (batch_.size() >= kMaxBatch || last_sync_ns_ < kDelayFromSyncNs) return;
  const uint64_t delay_ns = std::min<uint64_t>(last_sync_ns_ / 8, kMaxDelayNs);
  timespec ts{0, static_cast<long>(delay_ns)};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  gather();
}

void SpoolCommitter::commit_batch() {
  for (Pending& p : batch_) write_file(p);
  const uint64_t start_ns = monotonic_ns();
  sync_data();
  publish();
  last_sync_ns_ = monotonic_ns() - start_ns;
  push_acks();
}

// write_file creates incoming/tmp/ID and writes the whole file; the file
// stays open for sync_data().
void SpoolCommitter::write_file(Pending& p) {
  p.fd = ::openat(tmp_fd_, p.request.id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kMessageFileMode);
  if (p.fd < 0) {
    p.error = errno;  // nothing of ours to remove (EEXIST: someone else's file)
    failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const int err = write_all(p.fd, p.request.data, p.request.size);
  if (err != 0) fail(p, err);
}

// sync_data makes the data of every written file durable and closes them:
// with kSyncfs one syncfs for the batch, except that a lone file gets an
// fdatasync (as many calls, and it does not write back other programs'
// dirty data on the file system); with kFdatasync one fdatasync per file,
// after all were written.
void SpoolCommitter::sync_data() {
  size_t written = 0;
  for (const Pending& p : batch_) written += p.error == 0 ? 1 : 0;
  if (data_sync_ == DataSync::kSyncfs && written > 1) {
    sync_calls_.fetch_add(1, std::memory_order_relaxed);
    const int err = ::syncfs(tmp_fd_) == 0 ? 0 : errno;
    for (Pending& p : batch_) {
      if (p.error != 0) continue;
      if (err != 0) {
        fail(p, err);
        continue;
      }
      ::close(p.fd);
      p.fd = -1;
    }
    return;
  }
  for (Pending& p : batch_) {
    if (p.error != 0) continue;
    sync_calls_.fetch_add(1, std::memory_order_relaxed);
    if (::fdatasync(p.fd) != 0) {
      fail(p, errno);
      continue;
    }
    ::close(p.fd);
    p.fd = -1;
  }
}

// publish renames each durable file into incoming/new and fsyncs that
// directory once. If that fsync fails, the names are not known to be
// durable: the files are taken back out of incoming/new (best effort; the
// engine may already have claimed one) and acked as failed, so the client
// retries rather than trusting a name that may vanish.
void SpoolCommitter::publish() {
  bool renamed = false;
  for (Pending& p : batch_) {
    if (p.error != 0) continue;
    if (::renameat(tmp_fd_, p.request.id, new_fd_, p.request.id) != 0) {
      fail(p, errno);
      continue;
    }
    renamed = true;
  }
  if (!renamed) return;
  sync_calls_.fetch_add(1, std::memory_order_relaxed);
  if (::fsync(new_fd_) == 0) return;
  const int err = errno;
  for (Pending& p : batch_) {
    if (p.error != 0) continue;
    ::unlinkat(new_fd_, p.request.id, 0);
    p.error = err;
    failed_.fetch_add(1, std::memory_order_relaxed);
  }
}

// fail records |error| for |p|, closes its file and removes incoming/tmp/ID.
void SpoolCommitter::fail(Pending& p, int error) {
  p.error = error;
  failed_.fetch_add(1, std::memory_order_relaxed);
  if (p.fd >= 0) {
    ::close(p.fd);
    p.fd = -1;
  }
  ::unlinkat(tmp_fd_, p.request.id, 0);
}

void SpoolCommitter::push_acks() {
  uint64_t ok = 0;
  for (const Pending& p : batch_) {
    const CommitAck ack{p.request.token, p.error == 0, p.error};
    if (p.error == 0) ++ok;
    // Cannot fail: the worker's in-flight bound keeps room (see submit()).
    if (!lanes_[p.worker]->acks.try_push(ack)) {
      std::fprintf(stderr, "SpoolCommitter: ack ring of worker %" PRIu32 " full (a bug)\n", p.worker);
      std::abort();
    }
    woken_[p.worker] = true;
  }
  // Counters before the doorbells: a worker that saw its ack sees them too.
  batches_.fetch_add(1, std::memory_order_relaxed);
  messages_.fetch_add(ok, std::memory_order_relaxed);
  for (size_t w = 0; w < woken_.size(); ++w) {
    if (!woken_[w]) continue;
    woken_[w] = false;
    if (wake_[w] != nullptr) wake_[w]->ring();
  }
}

void format_ingress_id(char (&out)[64], uint64_t unix_us, uint32_t worker, uint64_t counter) {
  // getpid() each time (not cached): a forked child must not reuse its
  // parent's ids. 16 + 1 + 10 + 1 + 10 + 1 + 20 characters at most = 59 < 64.
  std::snprintf(out, sizeof(out), "%016" PRIu64 ".%ld.%" PRIu32 ".%" PRIu64, unix_us,
                static_cast<long>(::getpid()), worker, counter);
}

namespace {

// ingress_id_pid returns the pid field of a name of format_ingress_id's
// shape ("<16 digits>.<pid>.<worker>.<counter>"), or 0 for any other name.
pid_t ingress_id_pid(const char* name) {
  const char* p = name;
  for (int i = 0; i < 16; ++i, ++p) {
    if (*p < '0' || *p > '9') return 0;
  }
  long fields[3] = {0, 0, 0};
  for (long& field : fields) {
    if (*p++ != '.' || *p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') {
      field = field * 10 + (*p++ - '0');
      if (field > 1'000'000'000'000L) return 0;
    }
  }
  if (*p != '\0' || fields[0] <= 0 || fields[0] > INT32_MAX) return 0;
  return static_cast<pid_t>(fields[0]);
}

}  // namespace

size_t remove_stale_ingress_files(int tmp_fd) {
  size_t removed = 0;
  DirStream dir(tmp_fd);
  if (!dir.ok()) return 0;
  const pid_t self = ::getpid();
  while (const dirent* entry = dir.next()) {
    const pid_t pid = ingress_id_pid(entry->d_name);
    if (pid == 0 || pid == self) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    if (::unlinkat(tmp_fd, entry->d_name, 0) == 0) ++removed;
  }
  return removed;
}

}  // namespace ringmail::ingress
