// tools/bench/bench_progress.h — what `ringmail bench` shows while it runs:
// on a terminal one live line (a bar over all runs, the run in progress and
// its elapsed time, the last result), redrawn in place; otherwise one plain
// line per finished run, for logs.
//
// Who uses it: tools/cmd_bench.cc, from the one thread that runs the bench.
// Writes only to the FILE it is given.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#include "tools/bench/bench_results.h"

namespace ringmail::bench {

class Progress {
 public:
  // |live|: redraw one line (use when |out| is a terminal).
  Progress(std::FILE* out, bool live, size_t total_runs) : out_(out), live_(live), total_(total_runs) {}

  // start_run: run |index| (0-based) described by |what| begins.
  void start_run(size_t index, const std::string& what);
  // tick: redraw the live line (elapsed time); no-op when not live.
  void tick();
  // finish_run: the run in progress delivered |result|.
  void finish_run(const RunResult& result);
  // clear: remove the live line (before the table or an error).
  void clear();

 private:
  void draw();

  std::FILE* out_;
  bool live_;
  size_t total_;
  size_t index_ = 0;
  std::string what_;
  std::string last_;
  double started_s_ = 0;
  double last_draw_s_ = 0;
};

}  // namespace ringmail::bench
