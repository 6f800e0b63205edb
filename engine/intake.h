// engine/intake.h — the intake: the one thread that claims spool files and
// hands them to workers, and that keeps the deferred queue's clock.
//
// It runs on the main thread of `ringmail run` and is the only place that
// scans directories: incoming/new (woken by inotify, rescanned every few
// seconds as a safety net), active/ once at start-up (recovery after a
// crash), deferred/ at start-up and then from worker reports. Claiming is a
// rename new/ID → active/ID done only when a worker's inbox has room, so a
// full engine leaves files in incoming/new (back-pressure) rather than
// growing a queue in memory. Blocking syscalls are fine here: no worker
// waits on this thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "engine/run_status.h"
#include "engine/worker.h"
#include "queue/dir_stream.h"
#include "queue/spool_layout.h"

namespace ringmail {

struct IntakeTotals {
  uint64_t dispatched = 0;
  uint64_t delivered = 0;
  uint64_t deferred = 0;
  uint64_t failed = 0;
  uint64_t partial = 0;  // failed/, but delivered to some recipients (not counted in |failed|)
  // Recipients, over every attempt of the run.
  uint64_t rcpt_delivered = 0;
  uint64_t rcpt_deferred = 0;
  uint64_t rcpt_failed = 0;
  uint64_t stuck = 0;      // could not be read; left in active/ for a later try
  uint64_t refused = 0;    // not a message file (FIFO, symlink...): moved to failed/ unread
  uint64_t held_now = 0;   // of those, still not recorded
  uint64_t in_flight = 0;  // handed to workers and not reported back
  uint64_t bounces = 0;    // bounces (DSNs) workers queued into incoming/new
};

class Intake {
 public:
  // |status| shows progress (terminal line, systemd STATUS=); see run_status.h.
  Intake(const SpoolDirs& spool, std::vector<WorkerChannel*> workers, ReportSink& reports,
         uint32_t shutdown_timeout_ms, RunStatus& status);
  ~Intake();
  Intake(const Intake&) = delete;
  Intake& operator=(const Intake&) = delete;

  // run serves until SIGTERM/SIGINT arrive on |signal_fd| (daemon) or, with
  // |drain|, until every message queued at start has had one attempt.
  // |workers_failed| is polled: a worker that could not start ends the run.
  // Returns false with |error| when the spool cannot be read.
  bool run(bool drain, int signal_fd, const std::atomic<bool>& workers_failed, std::string& error);
  // stopped_by_signal: run returned because of SIGTERM/SIGINT.
  bool stopped_by_signal() const { return stopped_by_signal_; }
  // set_reload_handler: what SIGHUP runs, on this thread (engine.cc: reload
  // the config). Without one, SIGHUP is logged and changes nothing.
  void set_reload_handler(std::function<void()> handler) { reload_handler_ = std::move(handler); }

  const IntakeTotals& totals() const { return totals_; }
  // take_final_reports collects the reports of the last in-flight messages
  // after the workers stopped.
  void take_final_reports() { take_reports(/*drain=*/true); }
  // print_final prints the summary line on stdout.
  void print_final(double seconds);

 private:
  std::function<void()> reload_handler_;
  struct Due {
    int64_t at_unix;
    std::string id;
    bool in_active = false;  // stuck in active/ (a spool error), not in deferred/
    bool operator>(const Due& other) const { return at_unix > other.at_unix; }
  };

  bool start(bool drain, std::string& error);
  void remove_orphan_meta();
  void load_deferred(bool drain);
  bool dispatch(const char* id, bool has_meta, uint64_t size_bytes,
                int64_t queued_ms);  // false: every inbox is full
  // claim checks that |dir_fd|/|id| is a message file, moves it into
  // active/ (unless it is there) and dispatches it. A non-message is moved
  // to failed/ with the reason instead. False when it was not dispatched.
  bool claim(int dir_fd, const char* dir_name, const char* id);
  void refuse(int dir_fd, const char* dir_name, const char* id, const char* reason);
  void report_bad_name(const char* name);
  void report_outcome(const WorkerReport& report);
  bool has_room() const;
  bool claims_paused() const { return totals_.held_now > 0; }
  void pump_recovery();
  void pump_incoming();
  void pump_due(int64_t now_unix);
  void take_reports(bool drain);
  void print_status();
  bool message_exists(const char* id) const;

  const SpoolDirs& spool_;
  std::vector<WorkerChannel*> workers_;
  ReportSink& reports_;
  const uint32_t shutdown_timeout_ms_;  // only for the message at SIGTERM
  uint32_t next_worker_ = 0;
  IntakeTotals totals_;

  std::vector<std::string> recovery_;  // active/ at start-up
  size_t recovery_next_ = 0;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
  std::unique_ptr<DirStream> incoming_scan_;  // a scan of incoming/new in progress
  bool incoming_dirty_ = true;                // something may have arrived since the last full scan
  int inotify_fd_ = -1;
  RunStatus& status_;
  bool status_tty_ = false;  // status_.live_line(): log lines on stderr start with "\n"
  uint64_t started_ns_ = 0;
  std::vector<std::string> bad_names_;  // invalid names in incoming/new already reported (bounded)
  bool stopped_by_signal_ = false;
  bool drain_ = false;  // one pass (run --drain): nothing is pushed back for later
  bool debug_ = false;  // RINGMAIL_DEBUG_TICKS: progress every 100 ms on stderr
  uint64_t last_debug_ns_ = 0;
};

}  // namespace ringmail
