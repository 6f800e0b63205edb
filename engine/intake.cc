// engine/intake.cc — see intake.h.
#include "engine/intake.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "engine/attempt_log.h"
#include "engine/delivery_policy.h"
#include "queue/dir_stream.h"
#include "queue/message_meta.h"
#include "queue/meta_file.h"
#include "queue/monotonic_clock.h"
#include "queue/spool_entry.h"

namespace ringmail {
namespace {

constexpr int kRescanMs = 5000;                // incoming/new rescan without inotify news
constexpr size_t kMaxBadNamesReported = 1000;  // bound on the names remembered as reported
constexpr int kBackPressureMs = 2;             // claim interval while a backlog waits for inbox room

// retry_at is when a spool fault's kRetryLater is due.
int64_t retry_at(const SpoolDecision& decision) {
  return static_cast<int64_t>(::time(nullptr)) + decision.retry_delay_s;
}

// for_each_message calls |fn| with each message file name in |dirfd|
// (skipping dot files: temporaries).
template <class F>
void for_each_message(int dirfd, F&& fn) {
  DirStream dir(dirfd);
  while (const dirent* entry = dir.next()) {
    if (entry->d_name[0] != '.') fn(entry->d_name);
  }
}

}  // namespace

Intake::Intake(const SpoolDirs& spool, std::vector<WorkerChannel*> workers, ReportSink& reports,
               uint32_t shutdown_timeout_ms, RunStatus& status)
    : spool_(spool),
      workers_(std::move(workers)),
      reports_(reports),
      shutdown_timeout_ms_(shutdown_timeout_ms),
      status_(status) {}

Intake::~Intake() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

bool Intake::message_exists(const char* id) const {
  struct stat st;
  for (int fd :
       {spool_.active_fd, spool_.deferred_fd, spool_.failed_fd, spool_.hold_fd, spool_.incoming_new_fd}) {
    if (fstatat(fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
  }
  return false;
}

// remove_orphan_meta deletes meta files whose message is gone (a crash
// between unlinking a delivered message and its meta), and stale
// temporaries (a crash while writing one).
void Intake::remove_orphan_meta() {
  DirStream dir(spool_.meta_fd);
  while (const dirent* entry = dir.next()) {
    const char* name = entry->d_name;
    const bool temporary = name[0] == '.';
    if (temporary || !message_exists(name)) unlinkat(spool_.meta_fd, name, 0);
  }
}

void Intake::load_deferred(bool drain) {
  std::string text;
  MessageMeta meta;  // large; lives only during start-up
  for_each_message(spool_.deferred_fd, [&](const char* id) {
    int64_t at = 0;
    std::string problem;
    if (!drain && read_meta_file(spool_.meta_fd, id, text, meta, problem) == MetaRead::kLoaded) {
      at = meta.next_attempt;
    }
    due_.push(Due{at, id});
  });
}

bool Intake::start(bool drain, std::string& error) {
  started_ns_ = monotonic_ns();
  debug_ = std::getenv("RINGMAIL_DEBUG_TICKS") != nullptr;
  status_tty_ = status_.live_line();
  remove_orphan_meta();
  for_each_message(spool_.active_fd, [&](const char* id) { recovery_.emplace_back(id); });
  if (!recovery_.empty()) {
    fmt::print(stderr, "ringmail: recovering {} message(s) left in active/ by an earlier run\n",
               recovery_.size());
  }
  load_deferred(drain);
  if (!drain) {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    const std::string path = spool_.root + "/incoming/new";
    if (inotify_fd_ < 0 || inotify_add_watch(inotify_fd_, path.c_str(), IN_MOVED_TO | IN_CREATE) < 0) {
      // Not fatal: the periodic rescan still finds new files, only later.
      fmt::print(stderr, "ringmail: cannot watch {} with inotify ({}); rescanning every {} s instead\n", path,
                 std::strerror(errno), kRescanMs / 1000);
    }
  }
  (void)error;
  return true;
}

bool Intake::has_room() const {
  // While an outcome cannot be recorded (a full or failing spool), claiming
  // more would only make more messages whose outcome cannot be recorded.
  if (claims_paused()) return false;
  // Never more messages out than the report ring can hold at once, so a
  // worker's report always finds room.
  if (totals_.in_flight >= reports_.ring.capacity()) return false;
  for (WorkerChannel* w : workers_) {
    if (w->inbox.size_approx() < w->inbox.capacity()) return true;
  }
  return false;
}

bool Intake::dispatch(const char* id, bool has_meta, uint64_t size_bytes, int64_t queued_ms) {
  // Round robin over workers with room: the relay is one destination that
  // every core serves with its share of the connections.
  for (size_t tries = 0; tries < workers_.size(); ++tries) {
    WorkerChannel* w = workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % static_cast<uint32_t>(workers_.size());
    MessageRef ref{};
    std::snprintf(ref.id, sizeof(ref.id), "%s", id);
    ref.has_meta = has_meta;
    ref.size_bytes = size_bytes;
    ref.queued_ms = queued_ms;
    if (w->inbox.try_push(ref)) {
      w->doorbell.ring();
      ++totals_.in_flight;
      ++totals_.dispatched;
      return true;
    }
  }
  return false;
}

void Intake::pump_recovery() {
  while (recovery_next_ < recovery_.size() && has_room()) {
    const char* id = recovery_[recovery_next_].c_str();
    ++recovery_next_;
    claim(spool_.active_fd, "active", id);
  }
  if (recovery_next_ == recovery_.size() && !recovery_.empty()) {
    recovery_.clear();
    recovery_next_ = 0;
  }
}

// pump_incoming claims files from incoming/new while workers have room,
// continuing an interrupted scan where it stopped.
void Intake::pump_incoming() {
  while (has_room()) {
    if (incoming_scan_ == nullptr) {
      if (!incoming_dirty_) return;
      incoming_dirty_ = false;
      incoming_scan_ = std::make_unique<DirStream>(spool_.incoming_new_fd);
      if (!incoming_scan_->ok()) {
        incoming_scan_.reset();
        return;
      }
    }
    const dirent* entry = incoming_scan_->next();
    if (entry == nullptr) {
      incoming_scan_.reset();
      continue;
    }
    const char* id = entry->d_name;
    if (id[0] == '.') continue;  // a producer's temporary
    if (!is_valid_message_id(id)) {
      report_bad_name(id);
      continue;
    }
    claim(spool_.incoming_new_fd, "incoming/new", id);
  }
}

bool Intake::claim(int dir_fd, const char* dir_name, const char* id) {
  struct stat st;
  if (fstatat(dir_fd, id, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    // ENOENT: renamed by an earlier pass of this scan or removed by its producer.
    if (errno != ENOENT) {
      fmt::print(stderr, "ringmail: cannot examine {}/{}: {}; trying again later\n", dir_name, id,
                 std::strerror(errno));
    }
    return false;
  }
  if (const char* reason = spool_entry_refusal(st)) {
    if (decide_spool_fault(SpoolFault::kNotAMessage).action == SpoolAction::kRefuse)
      refuse(dir_fd, dir_name, id, reason);
    return false;
  }
  if (dir_fd != spool_.active_fd && renameat(dir_fd, id, spool_.active_fd, id) != 0) {
    if (errno == ENOENT) return false;
    const int err = errno;
    const SpoolDecision decision = decide_spool_fault(SpoolFault::kClaimFailed);
    fmt::print(stderr, "ringmail: cannot claim {}/{}: {}; trying again in {} s\n", dir_name, id,
               std::strerror(err), decision.retry_delay_s);
    // A drain takes every due message at once: pushing it back would spin.
    if (dir_fd == spool_.deferred_fd && !drain_) due_.push(Due{retry_at(decision), id});
    return false;
  }
  // A message from incoming/new was never attempted: it has no meta (an
  // orphan one was removed at start-up). Elsewhere, ask.
  const bool has_meta = dir_fd != spool_.incoming_new_fd && faccessat(spool_.meta_fd, id, F_OK, 0) == 0;
  const int64_t queued_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
  if (dir_fd == spool_.incoming_new_fd && reports_.log != nullptr) {
    MessageEvent queued;
    queued.kind = MessageEventKind::kQueued;
    queued.id = id;
    queued.size_bytes = static_cast<uint64_t>(st.st_size);
    log_message_event(*reports_.log, queued);
  }
  if (!dispatch(id, has_meta, static_cast<uint64_t>(st.st_size), queued_ms)) {
    // Cannot happen (room was checked and only this thread pushes), but
    // the file is safe in active/ either way: tried again after a while.
    if (!drain_) due_.push(Due{retry_at(decide_spool_fault(SpoolFault::kClaimFailed)), id, true});
    return false;
  }
  return true;
}

// refuse moves an entry that is not a message file to failed/ without ever
// opening it, with |reason| in its meta record; if it cannot be moved it is
// removed, so it is never looked at again.
void Intake::refuse(int dir_fd, const char* dir_name, const char* id, const char* reason) {
  ++totals_.refused;
  if (reports_.log != nullptr) {
    MessageEvent failed;
    failed.kind = MessageEventKind::kFailed;
    failed.id = id;
    failed.reason = reason;
    log_message_event(*reports_.log, failed);
  }
  if (renameat2(dir_fd, id, spool_.failed_fd, id, RENAME_NOREPLACE) == 0) {
    MessageMeta meta;
    meta.reason = reason;
    std::string error;
    if (!write_meta_file(spool_.meta_fd, id, meta, error)) {
      fmt::print(stderr, "ringmail: {}/{} moved to failed/ ({}), but its reason cannot be recorded: {}\n",
                 dir_name, id, reason, error);
      return;
    }
    fmt::print(stderr, "ringmail: {}/{} → failed/: {}\n", dir_name, id, reason);
    return;
  }
  const int err = errno;
  const bool is_dir = std::string_view(reason).find("directory") != std::string_view::npos;
  if (unlinkat(dir_fd, id, is_dir ? AT_REMOVEDIR : 0) == 0) {
    fmt::print(stderr, "ringmail: {}/{} removed: {} (cannot move it to failed/: {})\n", dir_name, id, reason,
               std::strerror(err));
    return;
  }
  fmt::print(stderr,
             "ringmail: {}/{} is ignored: {}; it can be neither moved to failed/ ({}) nor removed ({})\n",
             dir_name, id, reason, std::strerror(err), std::strerror(errno));
}

// report_bad_name says once per name that incoming/new holds a name the
// engine will never take, so it is not left there in silence.
void Intake::report_bad_name(const char* name) {
  for (const std::string& known : bad_names_) {
    if (known == name) return;
  }
  if (bad_names_.size() >= kMaxBadNamesReported) return;
  bad_names_.emplace_back(name);
  std::string shown;
  for (const char* p = name; *p != '\0' && shown.size() < 80; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    shown += (c < 0x20 || c > 0x7e) ? fmt::format("\\x{:02x}", c) : std::string(1, *p);
  }
  fmt::print(
      stderr,
      "ringmail: incoming/new/{} ({} bytes) is not a valid message name (1..63 printable ASCII characters, "
      "no '/', not starting with '.'): ignored; rename it\n",
      shown, std::strlen(name));
}

void Intake::pump_due(int64_t now_unix) {
  while (!due_.empty() && due_.top().at_unix <= now_unix && has_room()) {
    const Due due = due_.top();
    due_.pop();
    const char* id = due.id.c_str();
    if (due.in_active) {
      claim(spool_.active_fd, "active", id);
      continue;
    }
    struct stat st;
    if (fstatat(spool_.deferred_fd, id, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
      fmt::print(stderr, "ringmail: deferred/{} is gone (removed by an operator?); nothing to retry\n", id);
      continue;
    }
    claim(spool_.deferred_fd, "deferred", id);
  }
}

// report_outcome prints one line per deferred or failed message with its
// reason, so refusals and deferrals are visible while the daemon runs.
void Intake::report_outcome(const WorkerReport& report) {
  if (report.kind != OutcomeKind::kDeferred && report.kind != OutcomeKind::kFailed) return;
  std::string text;
  MessageMeta meta;
  std::string_view why = "reason not recorded";
  std::string problem;
  if (read_meta_file(spool_.meta_fd, report.id, text, meta, problem) == MetaRead::kLoaded) {
    why = report.kind == OutcomeKind::kFailed && !meta.reason.empty() ? meta.reason : meta.last_reply;
  }
  if (status_tty_) fmt::print(stderr, "\n");
  if (report.kind == OutcomeKind::kDeferred) {
    const time_t at = static_cast<time_t>(report.next_attempt_unix);
    tm local{};
    localtime_r(&at, &local);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &local);
    fmt::print(stderr, "ringmail: {} deferred until {}: {}\n", report.id, when, why);
  } else {
    fmt::print(stderr, "ringmail: {} failed: {}\n", report.id, why);
  }
}

void Intake::take_reports(bool drain) {
  WorkerReport report;
  while (reports_.ring.try_pop(report)) {
    if (report.kind == OutcomeKind::kHeld) {
      // Not an end: the worker keeps retrying the record.
      if (++totals_.held_now == 1) {
        fmt::print(stderr,
                   "ringmail: claims paused: the spool cannot record outcomes (see above); nothing new is "
                   "attempted until it can\n");
      }
      continue;
    }
    --totals_.in_flight;
    totals_.rcpt_delivered += report.recipients.delivered;
    totals_.rcpt_deferred += report.recipients.deferred;
    totals_.rcpt_failed += report.recipients.failed;
    if (report.was_held && --totals_.held_now == 0) {
      fmt::print(stderr, "ringmail: outcomes are recorded again; claims resumed\n");
    }
    report_outcome(report);
    if (report.bounce_queued) {
      ++totals_.bounces;
      incoming_dirty_ = true;  // the bounce is in incoming/new: a drain delivers it too
    }
    switch (report.kind) {
      case OutcomeKind::kDelivered:
        ++totals_.delivered;
        break;
      case OutcomeKind::kFailed:
        ++(report.partial ? totals_.partial : totals_.failed);
        break;
      case OutcomeKind::kDeferred:
        ++totals_.deferred;
        if (!drain) due_.push(Due{report.next_attempt_unix, report.id});
        break;
      case OutcomeKind::kStuck:
        // A spool operation failed (EMFILE, ENOSPC, EIO...): the file is
        // still in active/. Try it again later rather than only at restart.
        ++totals_.stuck;
        if (!drain) due_.push(Due{retry_at(decide_spool_fault(SpoolFault::kUnreadable)), report.id, true});
        break;
      case OutcomeKind::kNotStarted:
        // Left in active/ untouched; claimed again once outcomes can be
        // recorded (a drain leaves it for the next run).
        if (!drain) due_.push(Due{static_cast<int64_t>(::time(nullptr)) + 1, report.id, true});
        break;
      case OutcomeKind::kHeld:
        break;
    }
  }
}

void Intake::print_final(double seconds) {
  const uint64_t ended = totals_.delivered + totals_.partial + totals_.deferred + totals_.failed;
  const double rate = seconds > 0 ? static_cast<double>(ended) / seconds : 0;
  if (status_tty_) fmt::print(stderr, "\n");
  // Messages by how they ended (partial: in failed/, but some recipients
  // got it), then recipients (every attempt of this run).
  fmt::print(
      "ringmail: delivered {}, partial {}, deferred {}, failed {} in {:.3f} s ({:.0f} msg/s); recipients: "
      "delivered {}, deferred {}, failed {}\n",
      totals_.delivered, totals_.partial, totals_.deferred, totals_.failed, seconds, rate,
      totals_.rcpt_delivered, totals_.rcpt_deferred, totals_.rcpt_failed);
  if (totals_.bounces > 0) {
    fmt::print("ringmail: {} bounce{} (DSN) sent to senders of failed or delayed mail\n", totals_.bounces,
               totals_.bounces == 1 ? "" : "s");
  }
  if (totals_.refused + totals_.stuck + totals_.held_now > 0) {
    fmt::print(
        "ringmail: also {} refused (not message files, moved to failed/), {} unreadable (left in active/), "
        "{} held with their outcome not recorded (hold/ or active/)\n",
        totals_.refused, totals_.stuck, totals_.held_now);
  }
  std::fflush(stdout);
}

void Intake::print_status() {
  if (!status_.wants_ticks()) return;
  status_.update(
      RunCounters{totals_.delivered, totals_.deferred, totals_.failed, totals_.in_flight, due_.size()},
      monotonic_ns());
}

bool Intake::run(bool drain, int signal_fd, const std::atomic<bool>& workers_failed, std::string& error) {
  drain_ = drain;
  if (!start(drain, error)) return false;
  // flush_deferred_now answers SIGUSR2 (`ringmail queue --flush`): deferred/
  // is read again (an operator's requeue or release put messages there the
  // intake never saw) and every message in it is due now; the heap is
  // rebuilt from the scan, so none is queued twice. Entries for files stuck
  // in active/ keep their time: they wait on a spool fault, not on a relay.
  // A drain already tries every deferred message once: it logs and ignores.
  const auto flush_deferred_now = [this](bool draining) {
    const char* lead = status_tty_ ? "\n" : "";
    if (draining) {
      fmt::print(stderr, "{}ringmail: SIGUSR2 received: a drain already tries every deferred message once\n",
                 lead);
      return;
    }
    std::vector<Due> stuck;
    while (!due_.empty()) {
      if (due_.top().in_active) stuck.push_back(due_.top());
      due_.pop();
    }
    for (Due& due : stuck) due_.push(std::move(due));
    uint64_t flushed = 0;
    for_each_message(spool_.deferred_fd, [&](const char* id) {
      due_.push(Due{0, id});
      ++flushed;
    });
    fmt::print(stderr, "{}ringmail: SIGUSR2: flushing {} deferred message(s)\n", lead, flushed);
  };
  for (;;) {
    take_reports(drain);
    pump_recovery();
    pump_due(drain ? INT64_MAX : static_cast<int64_t>(::time(nullptr)));
    pump_incoming();
    print_status();
    if (debug_) {
      const uint64_t now = monotonic_ns();
      if (now - last_debug_ns_ > 100'000'000ull) {
        last_debug_ns_ = now;
        size_t inbox = 0;
        for (WorkerChannel* w : workers_) inbox += w->inbox.size_approx();
        fmt::print(stderr,
                   "intake: t={:.2f} dispatched {} in_flight {} delivered {} inbox {} scanning {} dirty {}\n",
                   static_cast<double>(now - started_ns_) / 1e9, totals_.dispatched, totals_.in_flight,
                   totals_.delivered, inbox, incoming_scan_ != nullptr, incoming_dirty_);
      }
    }
    if (workers_failed.load()) break;
    const bool backlog =
        recovery_next_ < recovery_.size() || incoming_scan_ != nullptr || (drain ? !due_.empty() : false);
    // A drain ends when every message it could take had its attempt. Held
    // messages (their outcome cannot be recorded) do not hold it up, and
    // while claims are paused for them nothing more can be taken.
    const bool nothing_in_flight = totals_.in_flight == totals_.held_now;
    if (drain && nothing_in_flight && (claims_paused() || (!backlog && !incoming_dirty_))) break;

    // While claims are paused nothing can be claimed: sleep until a worker
    // reports (the held record written) instead of polling the backlog.
    const bool can_claim = !claims_paused();
    int timeout_ms = kRescanMs;
    if (backlog && can_claim) timeout_ms = kBackPressureMs;
    if (!drain && !due_.empty() && can_claim) {
      const int64_t wait_s = due_.top().at_unix - static_cast<int64_t>(::time(nullptr));
      timeout_ms = std::min<int64_t>(timeout_ms, std::max<int64_t>(wait_s, 0) * 1000 + 10);
    }
    if (status_.wants_ticks()) timeout_ms = std::min(timeout_ms, 1000);

    pollfd fds[3] = {{reports_.doorbell.fd(), POLLIN, 0}, {signal_fd, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    // With a backlog the intake polls on a short timer instead of asking
    // workers to wake it: a wake-up per report costs more than the batch of
    // claims it would trigger. Idle (or finishing a drain), it sleeps until
    // a worker rings.
    const bool want_doorbell = !backlog || !can_claim;
    if (want_doorbell) {
      reports_.doorbell.prepare_to_sleep();
      if (!reports_.ring.empty_approx()) {
        reports_.doorbell.cancel_sleep();
        continue;
      }
    }
    const int n = poll(fds, inotify_fd_ >= 0 ? 3 : 2, timeout_ms);
    reports_.doorbell.woke();
    if (n == 0 && !drain) incoming_dirty_ = true;  // periodic safety rescan
    if (n <= 0) continue;
    if (fds[0].revents & POLLIN) reports_.doorbell.drain();
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(signal_fd, &info, sizeof(info)) > 0) {
        if (info.ssi_signo == SIGHUP && reload_handler_) {
          if (status_tty_) fmt::print(stderr, "\n");
          reload_handler_();
          continue;
        }
        if (info.ssi_signo == SIGHUP) {
          // Without a reload handler SIGHUP changes nothing (and must not
          // kill the engine, as its default action would).
          fmt::print(stderr,
                     "{}ringmail: SIGHUP received: configuration reload is not supported yet; nothing "
                     "changed, delivery goes on\n",
                     status_tty_ ? "\n" : "");
          continue;
        }
        if (info.ssi_signo == SIGUSR2) {
          flush_deferred_now(drain);
          continue;
        }
        if (info.ssi_signo == SIGUSR1) {  // logrotate: reopen the delivery log
          if (reports_.log != nullptr) reports_.log->request_reopen();
          continue;
        }
        fmt::print(stderr, "{}ringmail: {} received: finishing in-flight deliveries (at most {} ms)\n",
                   status_tty_ ? "\n" : "",
                   sigabbrev_np(static_cast<int>(info.ssi_signo)) != nullptr
                       ? fmt::format("SIG{}", sigabbrev_np(static_cast<int>(info.ssi_signo)))
                       : "a signal",
                   shutdown_timeout_ms_);
        stopped_by_signal_ = true;
        break;
      }
    }
    if (inotify_fd_ >= 0 && (fds[2].revents & POLLIN)) {
      char buf[4096];
      while (read(inotify_fd_, buf, sizeof(buf)) > 0) {
      }
      incoming_dirty_ = true;
    }
  }
  return true;
}

// finish_run (called by the engine after workers stopped) is in engine.cc.

}  // namespace ringmail
