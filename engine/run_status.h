// engine/run_status.h — the live status of `ringmail run`: a one-line
// display refreshed about once a second on a terminal ("\r", rate, in
// flight, deferred), and the same text as systemd's STATUS= (shown by
// `systemctl status ringmail`) under a Type=notify unit.
//
// Who uses it: the intake calls update() from its loop (main thread only);
// engine/engine.cc picks the output once at start-up. When stderr is not a
// terminal, or under systemd ($NOTIFY_SOCKET or $JOURNAL_STREAM set), no
// live line is drawn: the log gets plain lines only (the intake's event
// lines), so journals and log files never see "\r".
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/systemd_notify.h"

namespace ringmail {

// RunCounters is what the status line shows: totals since start and the
// engine's current load.
struct RunCounters {
  uint64_t delivered = 0;
  uint64_t deferrals = 0;  // deferred outcomes since start
  uint64_t failed = 0;
  uint64_t in_flight = 0;         // claimed and handed to workers
  uint64_t deferred_waiting = 0;  // messages waiting for their next attempt
};

// format_run_status is the status text, e.g. "delivering: 1520 msg/s, in
// flight 512, deferred 37, delivered 120000, failed 3" ("idle: ..." when
// nothing is in flight). |rate| is messages ended per second recently.
std::string format_run_status(const RunCounters& counters, double rate);

// live_status_wanted says whether a "\r" live line belongs on stderr: it is
// a terminal and neither NOTIFY_SOCKET nor JOURNAL_STREAM is set (values
// as getenv returns them; nullptr = unset).
bool live_status_wanted(bool stderr_is_tty, const char* notify_socket, const char* journal_stream);

class RunStatus {
 public:
  // |terminal|: where the live line goes, or nullptr for none (see
  // live_status_wanted). |notifier| gets STATUS= when it is enabled.
  RunStatus(SystemdNotifier& notifier, std::FILE* terminal);

  // live_line: a "\r" line is being drawn on stderr; a caller that prints a
  // log line there starts it with "\n".
  bool live_line() const { return terminal_ != nullptr; }
  // wants_ticks: update() should be called at least once a second.
  bool wants_ticks() const { return terminal_ != nullptr || notifier_.enabled(); }

  // update refreshes the display at most once per second of |now_ns|
  // (CLOCK_MONOTONIC): the terminal line is redrawn; STATUS= is sent when
  // its text changed. The rate is over the time since the previous refresh.
  void update(const RunCounters& counters, uint64_t now_ns);
  // text is the last text shown ("" before the first refresh).
  const std::string& text() const { return text_; }

 private:
  SystemdNotifier& notifier_;
  std::FILE* terminal_;
  bool started_ = false;
  uint64_t last_ns_ = 0;
  uint64_t last_ended_ = 0;
  std::string text_;
};

}  // namespace ringmail
