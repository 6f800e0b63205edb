// tools/bench/bench_results.h — the figures of `ringmail bench`: what one run
// measured (RunResult), and per configuration (size × messages per
// connection) and level the medians, ranges and the cost of strictness
// (the ratio to `none` of the same run number, so both sides of a ratio
// were measured next to each other in time).
//
// Who uses it: tools/cmd_bench.cc fills the runs; summarize() builds what
// the table (bench_table.h), the JSON (bench_json.h) and the SVG
// (bench_svg.h) print. Pure computation: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/bench/bench_child.h"
#include "tools/bench/bench_plan.h"
#include "tools/bench/bench_spool.h"
#include "tools/bench/crypto_floor.h"

namespace ringmail::bench {

// RunResult is one delivered run (a failed run ends the bench instead).
struct RunResult {
  RunSpec spec;
  uint64_t messages = 0;         // delivered, as the sink counted them
  double seconds = 0;            // the engine's own delivery time (start-up excluded)
  double engine_cpu_s = 0;       // user + system of the `ringmail run --drain` process
  double sink_cpu_s = 0;         // user + system of the sink process
  uint64_t engine_peak_rss = 0;  // bytes (VmHWM)
  SinkStats sink;

  double msgs_per_s() const { return seconds > 0 ? messages / seconds : 0; }
  double engine_us_per_msg() const { return messages > 0 ? engine_cpu_s * 1e6 / messages : 0; }
  double sink_us_per_msg() const { return messages > 0 ? sink_cpu_s * 1e6 / messages : 0; }
  double wire_bytes_per_msg() const {
    return messages > 0 ? static_cast<double>(sink.bytes_in + sink.bytes_out) / messages : 0;
  }
};

// Spread is a median with the smallest and largest value.
struct Spread {
  double median = 0;
  double min = 0;
  double max = 0;
};

// spread_of: median (mean of the middle two for an even count), min, max.
Spread spread_of(std::vector<double> values);

// RunRatio compares one run of a level with the `none` run of the same run
// number and configuration (its neighbour in time).
struct RunRatio {
  uint32_t run = 0;                   // 0-based run number
  double throughput = 0;              // this level's msg/s ÷ none's
  double engine_cpu = 0;              // this level's engine µs/msg ÷ none's
  double rss_kib_per_connection = 0;  // (peak RSS − none's) ÷ relay.max_connections, KiB
};

// LevelSummary is one level within one configuration.
struct LevelSummary {
  LevelSpec level;
  std::vector<RunResult> runs;  // by run number
  Spread msgs_per_s;
  double engine_us = 0;  // medians of the per-run figures
  double sink_us = 0;
  double handshakes_full = 0;
  double handshakes_resumed = 0;
  double wire_bytes_per_msg = 0;
  double peak_rss = 0;  // bytes
  // Against `none` of the same run number (empty when `none` was not run).
  std::vector<RunRatio> ratios;
  std::optional<Spread> throughput_ratio;  // spread of ratios[].throughput
  std::optional<Spread> engine_cpu_ratio;
  // Peak RSS above `none`'s, per open connection (KiB; median of the
  // per-run differences; absent without `none` or for `none` itself).
  std::optional<double> tls_kib_per_connection;
  double floor_engine_us = 0;  // crypto floor per message (0 for none)
  double floor_sink_us = 0;
};

// GroupSummary is one configuration: a size, a messages-per-connection
// value and a resumption setting, every level asked for.
struct GroupSummary {
  uint32_t size = 0;
  uint32_t per_connection = 0;
  bool resumption = true;
  std::vector<LevelSummary> levels;  // in the plan's order
  double ceiling_msgs_per_s = 0;     // CryptoFloor::ceiling_msgs_per_s
};

// ResumptionGain compares resumption on with off for one level at one size
// and messages-per-connection value, run by run (same run number, so
// neighbours in time).
struct ResumptionGain {
  uint32_t size = 0;
  uint32_t per_connection = 0;
  std::string level;
  Spread throughput;  // msg/s with resumption ÷ without
  Spread engine_cpu;  // engine µs/msg without ÷ with (how much CPU it saves)
};

// BenchMachine is what the report says about where it ran.
struct BenchMachine {
  unsigned cpus = 0;
  unsigned workers = 0;  // engine workers actually used
  std::string kernel;
  std::string spool_base;
  SpoolFilesystem spool_fs;
};

// BenchReport is everything the outputs print.
struct BenchReport {
  BenchPlan plan;
  BenchMachine machine;
  CryptoFloor floor;
  std::vector<GroupSummary> groups;              // size, per-connection, resumption: in the plan's order
  std::vector<ResumptionGain> resumption_gains;  // when both on and off ran
  double seconds = 0;                            // the whole bench, wall time
};

// summarize groups |runs| (any order) by configuration and level. Every
// (configuration, level) in |plan| must have at least one run.
std::vector<GroupSummary> summarize(const BenchPlan& plan, const std::vector<RunResult>& runs,
                                    const CryptoFloor& floor, unsigned cpus);

// resumption_gains compares each TLS level's "on" group with its "off"
// group of the same size and per-connection value (empty unless both ran).
std::vector<ResumptionGain> resumption_gains(const std::vector<GroupSummary>& groups);

}  // namespace ringmail::bench
