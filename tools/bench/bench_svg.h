// tools/bench/bench_svg.h — `ringmail bench --svg FILE`: the cost of strict
// TLS as a chart a person reads at a glance. Left: throughput (median msg/s,
// log scale) against messages per connection (log scale), one line per
// level, and the crypto ceiling (the rate the CPUs would reach doing
// nothing but TLS crypto) as a dashed line; with a single
// messages-per-connection value, a bar per level instead (whiskers:
// min–max, the ceiling in words). Right: a bar per level of the
// engine's CPU µs per message, the crypto floor shaded at the foot of each
// bar and the ratio to `none` under it. Both panels show the first message
// size asked for; the bars the largest messages-per-connection value.
//
// Who uses it: tools/cmd_bench.cc and the unit tests. Pure formatting: a
// self-contained SVG 1.1 document (no script, no external reference). Each
// level's line (or throughput bar) is a <g class="series" data-level="NAME">,
// each CPU bar a <g class="bar" data-level="NAME">, so tests can count them.
#pragma once

#include <string>

#include "tools/bench/bench_results.h"

namespace ringmail::bench {

std::string format_svg(const BenchReport& report);

}  // namespace ringmail::bench
