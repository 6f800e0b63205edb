// ingress/spool_committer.h — the durable writer of the SMTP listener: one
// thread ("ringmail-commit") that turns accepted messages into spool files
// with group commit, so that one sync covers many concurrent messages.
//
// Who uses it: the engine starts one SpoolCommitter when config.listen is not
// empty; each worker submits the spool file of a message whose body is
// complete (the connection then waits), and pops the ack to send the final
// 250 (or 451). Nothing here knows SMTP or the engine.
//
// The durability order, per batch (every request waiting when the thread
// wakes, up to kMaxBatch):
//   1. write each file as incoming/tmp/ID (O_CREAT|O_EXCL, 0640);
//   2. make the data of all of them durable (docs/ingress.md, "Durability and
//      group commit", says which sync call and why);
//   3. rename each into incoming/new/ID;
//   4. fsync incoming/new once (the names are durable);
//   5. push every ack and ring each worker's Doorbell.
// So an ack (ok = true) means the file and its name are on stable storage,
// and a kill -9 (or a power cut) at any point leaves nothing half-written in
// incoming/new: a file appears there only by rename, after its data is synced.
// A request that fails (ENOSPC, EIO, ...) is acked ok = false with the errno
// and leaves no file in incoming/tmp or incoming/new.
//
// What it must never do: block a worker (submit/pop_ack are lock-free ring
// operations; the worker's in-flight count bounds the rings so the committer
// never waits for a worker), grow (a full ring is back-pressure: submit
// returns false), or ack before step 4.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "queue/doorbell.h"
#include "queue/spsc_ring.h"

namespace ringmail::ingress {

// CommitRequest is one message to make durable. |data| is lent by the worker
// until the ack for |token| is popped; the committer never frees it.
struct CommitRequest {
  uint64_t token = 0;          // the worker's handle for the waiting connection
  const char* data = nullptr;  // the whole spool file (preamble + Received + body); lent until the ack
  size_t size = 0;
  char id[64] = {};  // spool file name (format_ingress_id)
};

// CommitAck answers one CommitRequest: ok = true once the file is durable in
// incoming/new; otherwise |error| is the errno of the step that failed.
struct CommitAck {
  uint64_t token = 0;
  bool ok = false;
  int error = 0; /* errno */
};

// CommitStats is a snapshot of the committer's counters: batches committed,
// messages made durable, sync calls made (data syncs and directory fsyncs),
// and requests acked with ok = false.
struct CommitStats {
  uint64_t batches, messages, sync_calls, failed;
};

// DataSync is how step 2 makes a batch's file data durable (docs/ingress.md).
//   kSyncfs:     one syncfs(incoming/tmp) for the whole batch (a batch of one
//                file: its fdatasync, as cheap and local to the file);
//   kFdatasync:  fdatasync of each file, after all of them are written.
enum class DataSync { kSyncfs, kFdatasync };

class SpoolCommitter {
 public:
  // kMaxBatch bounds one batch (and the files open at once).
  static constexpr size_t kMaxBatch = 256;
  // kDefaultRingCapacity is each worker's request (and ack) ring size: the
  // most messages one worker can have in flight at the committer.
  static constexpr uint32_t kDefaultRingCapacity = 1024;

  // SpoolCommitter prepares one request ring and one ack ring per worker.
  // |incoming_tmp_fd| and |incoming_new_fd| are the spool's directory fds (on
  // one file system; the caller keeps them open until stop()). |wake[w]| is
  // rung after acks for worker w are pushed (the worker's Doorbell); it has
  // |workers| entries. |ring_capacity| must be a power of two >= 2.
  SpoolCommitter(int incoming_tmp_fd, int incoming_new_fd, uint32_t workers, std::vector<Doorbell*> wake,
                 uint32_t ring_capacity = kDefaultRingCapacity, DataSync data_sync = DataSync::kSyncfs);
  // ~SpoolCommitter stops the thread if it still runs.
  ~SpoolCommitter();

  SpoolCommitter(const SpoolCommitter&) = delete;
  SpoolCommitter& operator=(const SpoolCommitter&) = delete;

  // start opens the committer's own Doorbell and starts the thread. False
  // with |error| (a sentence with the cause) when either fails.
  bool start(std::string& error);

  // stop finishes what was submitted (every request is committed and acked),
  // then joins the thread. Call it after the workers stopped submitting; a
  // submit after stop() returns false. Idempotent.
  void stop();

  // submit queues |request| for worker |worker|. Worker w's thread only.
  // False when the worker already has ring_capacity messages in flight
  // (submitted and not yet popped as acks) or the committer is stopping:
  // back-pressure, the caller answers 451 or retries later.
  bool submit(uint32_t worker, const CommitRequest& request);

  // pop_ack moves one ack for worker |worker| into |ack|. Worker w's thread
  // only. False when none is waiting.
  bool pop_ack(uint32_t worker, CommitAck& ack);

  // acks_waiting says whether worker |worker| has an ack to pop: the
  // re-check a worker makes after Doorbell::prepare_to_sleep(). Any thread.
  bool acks_waiting(uint32_t worker) const { return !lanes_[worker]->acks.empty_approx(); }

  // stats reads the counters. Any thread.
  CommitStats stats() const;

  // in_flight is the number of worker |worker|'s requests not yet popped as
  // acks. Worker w's thread only.
  uint32_t in_flight(uint32_t worker) const { return lanes_[worker]->in_flight; }

 private:
  // Lane is one worker's pair of rings and its in-flight count (touched only
  // by that worker's thread).
  struct Lane {
    explicit Lane(uint32_t capacity) : requests(capacity), acks(capacity) {}
    SpscRing<CommitRequest> requests;
    SpscRing<CommitAck> acks;
    uint32_t in_flight = 0;
  };
  // Pending is one request of the batch being committed.
  struct Pending {
    CommitRequest request;
    uint32_t worker = 0;
    int fd = -1;
    int error = 0;  // errno of the failed step; 0 while it is fine
  };

  // The commit delay (wait_for_stragglers): only after a sync of at least
  // 2 ms (a disk), 1/8 of the last sync's time, at most 1 ms.
  static constexpr uint64_t kDelayFromSyncNs = 2'000'000;
  static constexpr uint64_t kMaxDelayNs = 1'000'000;

  void run();
  void wait_for_stragglers();
  bool any_request_waiting() const;
  size_t gather();
  void commit_batch();
  void write_file(Pending& p);
  void sync_data();
  void publish();
  void fail(Pending& p, int error);
  void push_acks();

  const int tmp_fd_;
  const int new_fd_;
  const uint32_t capacity_;
  const DataSync data_sync_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::vector<Doorbell*> wake_;
  Doorbell doorbell_;  // the committer sleeps on it; submit() rings it
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  // Committer thread only: the batch, and where the next gather starts.
  std::vector<Pending> batch_;
  std::vector<bool> woken_;
  uint32_t next_lane_ = 0;
  uint64_t last_sync_ns_ = 0;  // steps 2-4 of the last batch

  std::atomic<uint64_t> batches_{0}, messages_{0}, sync_calls_{0}, failed_{0};
};

// format_ingress_id writes "<unix µs, 16 digits>.<pid>.<worker>.<counter>"
// (unique, sorts by time), NUL-terminated, into |out|. Valid as a spool
// message id (queue/spool_layout.h is_valid_message_id).
void format_ingress_id(char (&out)[64], uint64_t unix_us, uint32_t worker, uint64_t counter);

// remove_stale_ingress_files unlinks the files in incoming/tmp (|tmp_fd|)
// that a commit thread of a process no longer running left half-written (a
// kill -9 between the write and the rename): names of format_ingress_id's
// shape whose pid is not alive. Producers' files (other shapes) and those
// of a live process are left alone. Returns how many it removed. Blocking:
// called once by the engine at start-up, before the listeners open.
size_t remove_stale_ingress_files(int tmp_fd);

}  // namespace ringmail::ingress
