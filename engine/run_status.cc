// engine/run_status.cc — see run_status.h.
#include "engine/run_status.h"

#include <fmt/format.h>

namespace ringmail {

std::string format_run_status(const RunCounters& c, double rate) {
  return fmt::format("{}: {:.0f} msg/s, in flight {}, deferred {}, delivered {}, failed {}",
                     c.in_flight > 0 ? "delivering" : "idle", rate, c.in_flight, c.deferred_waiting,
                     c.delivered, c.failed);
}

bool live_status_wanted(bool stderr_is_tty, const char* notify_socket, const char* journal_stream) {
  const auto set = [](const char* v) { return v != nullptr && v[0] != '\0'; };
  return stderr_is_tty && !set(notify_socket) && !set(journal_stream);
}

RunStatus::RunStatus(SystemdNotifier& notifier, std::FILE* terminal)
    : notifier_(notifier), terminal_(terminal) {}

void RunStatus::update(const RunCounters& counters, uint64_t now_ns) {
  if (!wants_ticks()) return;
  const uint64_t ended = counters.delivered + counters.deferrals + counters.failed;
  if (!started_) {  // the first call only sets the clock: a rate needs an interval
    started_ = true;
    last_ns_ = now_ns;
    last_ended_ = ended;
    return;
  }
  if (now_ns - last_ns_ < 1'000'000'000ull) return;
  const double rate =
      static_cast<double>(ended - last_ended_) / (static_cast<double>(now_ns - last_ns_) / 1e9);
  last_ns_ = now_ns;
  last_ended_ = ended;
  std::string text = format_run_status(counters, rate);
  if (terminal_ != nullptr) {
    // Spaces after the text wipe what a longer previous line left.
    const size_t pad = text_.size() > text.size() ? text_.size() - text.size() : 0;
    fmt::print(terminal_, "\r{}{:{}}", text, "", pad);
    std::fflush(terminal_);
  }
  if (text != text_) notifier_.status(text);
  text_ = std::move(text);
}

}  // namespace ringmail
