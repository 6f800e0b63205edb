// tools/bench/bench_progress.cc — see bench_progress.h.
#include "tools/bench/bench_progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "queue/monotonic_clock.h"
#include "tools/bench/bench_table.h"

namespace ringmail::bench {

namespace {

constexpr size_t kBarWidth = 20;

}  // namespace

void Progress::start_run(size_t index, const std::string& what) {
  index_ = index;
  what_ = what;
  started_s_ = monotonic_s();
  if (live_) draw();
}

void Progress::tick() {
  if (!live_) return;
  const double now = monotonic_s();
  if (now - last_draw_s_ < 0.1) return;
  draw();
}

void Progress::finish_run(const RunResult& result) {
  const std::string figures =
      fmt::format("{} msg/s, engine {:.1f} µs/msg, sink {:.1f} µs/msg", with_commas(result.msgs_per_s()),
                  result.engine_us_per_msg(), result.sink_us_per_msg());
  if (live_) {
    last_ = fmt::format("{} msg/s", with_commas(result.msgs_per_s()));
    draw();
  } else {
    fmt::print(out_, "run {}/{}: {}: {}\n", index_ + 1, total_, what_, figures);
    std::fflush(out_);
  }
}

void Progress::clear() {
  if (!live_) return;
  fmt::print(out_, "\r\033[K");
  std::fflush(out_);
}

void Progress::draw() {
  last_draw_s_ = monotonic_s();
  const size_t filled = total_ > 0 ? index_ * kBarWidth / total_ : 0;
  std::string bar(filled, '#');
  bar.resize(kBarWidth, '.');
  std::string line = fmt::format("[{}] {}/{} {} {:.1f} s{}{}", bar, index_ + 1, total_, what_,
                                 last_draw_s_ - started_s_, last_.empty() ? "" : " | last ", last_);
  // Never wider than the terminal: a wrapped line cannot be redrawn in place.
  winsize size{};
  if (ioctl(fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 10 && line.size() >= size.ws_col) {
    line.resize(size.ws_col - 1);
  }
  fmt::print(out_, "\r\033[K{}", line);
  std::fflush(out_);
}

}  // namespace ringmail::bench
