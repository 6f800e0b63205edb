// engine/worker.h — one delivery core: a pinned thread that owns an io_uring,
// a fixed pool of message slots and a fixed pool of SMTP connections to the
// relay, and moves each message it is handed from active/ to its end.
//
// Who uses it: engine/engine.cc starts one Worker per core. The intake feeds
// it MessageRefs through its inbox (SpscRing + Doorbell) and it answers with
// WorkerReports on the shared report ring. Everything else a worker touches
// is its own: no locks, no shared mutable state, no blocking syscall, and no
// heap allocation per message once running (slots and connections are
// allocated at start-up; error sentences and bounces are the exception, on
// rare paths).
#pragma once

#include <fcntl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/destination.h"
#include "engine/message_slot.h"
#include "engine/relay_generation.h"
#include "engine/relay_resolver.h"
#include "engine/smtp_connection.h"
#include "engine/uring.h"
#include "engine/work_item.h"
#include "log/delivery_log.h"
#include "metrics/core_metrics.h"
#include "queue/doorbell.h"
#include "queue/mpsc_ring.h"
#include "queue/retry_schedule.h"
#include "queue/spool_layout.h"
#include "queue/spsc_ring.h"

namespace ringmail {

class IngressServer;
struct IngressSetup;

// WorkerChannel is what the intake and a worker share.
struct WorkerChannel {
  explicit WorkerChannel(size_t inbox_capacity) : inbox(inbox_capacity) {}
  SpscRing<MessageRef> inbox;        // intake → worker
  Doorbell doorbell;                 // wakes the worker
  std::atomic<bool> stop{false};     // finish what is in flight, take nothing new
  std::atomic<bool> abandon{false};  // stop now (shutdown timeout, second signal)
  std::atomic<bool> set_up{false};   // the worker's ring is ready: it serves (systemd READY=1)
};

// ReportSink is where workers send outcomes (many workers → the intake),
// the delivery log they and the intake write (null: no log), and the
// counters each worker keeps for Prometheus (one CoreMetrics per worker id).
struct ReportSink {
  explicit ReportSink(size_t capacity) : ring(capacity) {}
  MpscRing<WorkerReport> ring;
  Doorbell doorbell;  // wakes the intake
  DeliveryLog* log = nullptr;
  EngineMetrics* metrics = nullptr;  // set by the engine before workers start
};

class Worker {
 public:
  // |board| holds the relay generation (its Destination, TLS context and
  // limits), shared read-only by all workers; each worker keeps its own
  // DestinationState for the generation it uses, and switches to a newer
  // one (SIGHUP) once its connections have closed. |max_connections| is the
  // pool built here, the most any generation can use.
  Worker(uint32_t id, uint32_t cpu, uint32_t max_connections, const Config& config, const ReloadBoard& board,
         const SpoolDirs& spool, WorkerChannel& channel, ReportSink& reports);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // attach_ingress gives the worker its share of the SMTP listeners (before
  // run(); only when the config has [[listen]]): engine/ingress_server.h.
  void attach_ingress(IngressSetup* setup);

  // run is the thread body: set up the ring, serve until asked to stop and
  // nothing is in flight. False (with |error|) if set-up failed.
  bool run(std::string& error);

  // Services for connections and slots (worker thread only).
  Ring& ring() { return ring_; }
  // config: the file as loaded for the relay generation in use (SIGHUP
  // reloads it); connections read their smtp timeouts here. Everything
  // else in the worker reads the start-up config (config_).
  const Config& config() const { return generation_->config; }
  // relay: its addresses are valid only once relay_ready() (see schedule()).
  const RelayTarget& relay() const { return relay_->target(); }
  const std::string& helo_name() const { return config_.smtp.helo_name; }
  uint64_t now_ns() const;
  // destination: this worker's state for the relay (preferred address,
  // TLS tickets, "TLS failed here").
  DestinationState& destination() { return destination_; }
  // metrics: this worker's counters (only this thread writes them).
  CoreMetrics& metrics() { return metrics_; }
  // delivery_log: null when there is none.
  DeliveryLog* delivery_log() const { return reports_.log; }

  // Events from connections.
  void on_connection_ready(SmtpConnection* connection);
  void on_connection_closed(SmtpConnection* connection, bool was_ready);
  void on_attempt_done(MessageSlot* slot);  // every recipient resolved for this attempt

  // Spool I/O for slots (engine/message_io.cc).
  void start_load(MessageSlot* slot);
  void on_slot_loaded_raw(MessageSlot* slot);  // both load chains landed
  void on_slot_loaded(MessageSlot* slot);      // parsed: queue it for a connection
  void fail_unparsable(MessageSlot* slot, const std::string& reason);
  void read_body_chunk(MessageSlot* slot, uint64_t offset);
  // The final transition (engine/message_finish.cc).
  void finish(MessageSlot* slot);
  void start_final_chain(MessageSlot* slot);
  void on_final_chain_done(MessageSlot* slot);
  void on_finished(MessageSlot* slot, OutcomeKind kind, int64_t next_attempt_unix);
  const SpoolDirs& spool() const { return spool_; }
  const RetrySchedule& retry() const { return retry_; }
  uint32_t id() const { return id_; }

 private:
  void loop();
  int wait_ms(uint64_t deadline_ns) const;
  void take_inbox();
  void schedule();
  void defer_ready(const std::string& reason);
  void flush_reports();
  void check_reload();
  void switch_generation();
  void take_generation_settings();
  void arm_doorbell();
  void on_doorbell(int res, uint32_t flags);
  bool drained() const;
  static bool debug_ticks();
  void log_idle_tick() const;
  void build_record(MessageSlot* slot, uint32_t deferred, uint32_t failed);
  void add_record_steps(MessageSlot* slot, bool link_last);
  MessageSlot::FinishStep* add_finish_step(MessageSlot* slot, MessageSlot::FinishOp op, io_uring_sqe* sqe,
                                           bool link);
  std::string describe_step(const MessageSlot* slot, const MessageSlot::FinishStep& step) const;
  void schedule_record_retry(MessageSlot* slot);
  // Bounces (engine/bounce_writer.cc).
  void plan_bounce(MessageSlot* slot, int64_t now_unix);
  bool bounce_pending(const MessageSlot* slot) const;
  void add_bounce_steps(MessageSlot* slot);
  void on_bounce_steps_done(MessageSlot* slot);
  std::string describe_bounce_step(const MessageSlot* slot, MessageSlot::FinishOp op) const;
  void report_held_at_exit() const;

  const uint32_t id_;
  const uint32_t cpu_;
  const Config& config_;
  const ReloadBoard& board_;
  std::shared_ptr<const RelayGeneration> generation_;  // the one the connections use
  bool switching_ = false;  // a newer generation waits for the connections to close
  const RelayResolver* relay_;
  DestinationState destination_;
  uint32_t connection_limit_ = 0;  // connections this generation may open (<= connections_.size())
  const SpoolDirs& spool_;
  WorkerChannel& channel_;
  ReportSink& reports_;
  CoreMetrics& metrics_;
  RetrySchedule retry_;

  std::vector<std::unique_ptr<MessageSlot>> slots_;
  std::vector<MessageSlot*> free_slots_;  // stack; capacity = slots
  std::vector<MessageSlot*> ready_;       // FIFO ring of parsed messages
  size_t ready_head_ = 0, ready_count_ = 0;
  SmtpClientConfig client_config_;  // what every connection's protocol machine reads
  std::vector<std::unique_ptr<SmtpConnection>> connections_;
  uint32_t next_connection_ = 0;  // round-robin start
  uint32_t slots_in_use_ = 0;
  uint32_t held_slots_ = 0;  // slots retrying a record (MessageSlot::held)
  bool stopping_ = false;
  // Spool files are opened without updating atime (saves an inode write per
  // message) unless a file owned by another user refuses it.
  // O_NOFOLLOW|O_NONBLOCK: the intake checked that the entry is a regular
  // file; if something else was swapped in since, a symlink fails to open
  // and a FIFO does not block the read.
  int open_flags_ = O_RDONLY | O_NOATIME | O_NOFOLLOW | O_NONBLOCK;

  std::vector<WorkerReport> pending_reports_;  // reports the ring had no room for
  uint64_t doorbell_value_ = 0;
  bool doorbell_armed_ = false;
  MemberCompletion<Worker, &Worker::on_doorbell> doorbell_c_{this};
  std::unique_ptr<IngressServer> ingress_;  // null without [[listen]]
  // Last, so it is destroyed first: tearing the ring down ends every
  // operation before the slots and connections they point into go away.
  Ring ring_;
};

}  // namespace ringmail
