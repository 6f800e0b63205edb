// tools/bench/bench_results.cc — see bench_results.h.
#include "tools/bench/bench_results.h"

#include <algorithm>

namespace ringmail::bench {

namespace {

template <typename F>
double median_of(const std::vector<RunResult>& runs, F figure) {
  std::vector<double> values;
  for (const RunResult& run : runs) values.push_back(figure(run));
  return spread_of(std::move(values)).median;
}

// find_run returns the run of |level| with |run_number| in |levels|, or null.
const RunResult* find_run(const LevelSummary& level, uint32_t run_number) {
  for (const RunResult& run : level.runs) {
    if (run.spec.run == run_number) return &run;
  }
  return nullptr;
}

void add_ratios(LevelSummary& level, const LevelSummary& none, uint32_t connections) {
  for (const RunResult& run : level.runs) {
    const RunResult* base = find_run(none, run.spec.run);
    if (base == nullptr || base->msgs_per_s() <= 0 || base->engine_us_per_msg() <= 0) continue;
    const double rss_kib =
        (static_cast<double>(run.engine_peak_rss) - static_cast<double>(base->engine_peak_rss)) / 1024.0;
    level.ratios.push_back(RunRatio{run.spec.run, run.msgs_per_s() / base->msgs_per_s(),
                                    run.engine_us_per_msg() / base->engine_us_per_msg(),
                                    rss_kib / connections});
  }
  if (level.ratios.empty()) return;
  std::vector<double> throughput, engine_cpu, rss;
  for (const RunRatio& ratio : level.ratios) {
    throughput.push_back(ratio.throughput);
    engine_cpu.push_back(ratio.engine_cpu);
    rss.push_back(ratio.rss_kib_per_connection);
  }
  level.throughput_ratio = spread_of(throughput);
  level.engine_cpu_ratio = spread_of(engine_cpu);
  if (level.level.uses_tls()) level.tls_kib_per_connection = spread_of(rss).median;
}

}  // namespace

Spread spread_of(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const double median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return Spread{median, values.front(), values.back()};
}

std::vector<GroupSummary> summarize(const BenchPlan& plan, const std::vector<RunResult>& runs,
                                    const CryptoFloor& floor, unsigned cpus) {
  std::vector<GroupSummary> groups;
  for (size_t size = 0; size < plan.sizes.size(); ++size) {
    for (size_t pc = 0; pc < plan.per_connection.size(); ++pc) {
      GroupSummary group;
      group.size = plan.sizes[size];
      group.per_connection = plan.per_connection[pc];
      group.ceiling_msgs_per_s =
          floor.ceiling_msgs_per_s(group.size, group.per_connection, plan.resumption, cpus);
      for (size_t level = 0; level < plan.levels.size(); ++level) {
        LevelSummary summary;
        summary.level = plan.levels[level];
        for (const RunResult& run : runs) {
          if (run.spec.size == size && run.spec.per_connection == pc && run.spec.level == level) {
            summary.runs.push_back(run);
          }
        }
        std::sort(summary.runs.begin(), summary.runs.end(),
                  [](const RunResult& a, const RunResult& b) { return a.spec.run < b.spec.run; });
        std::vector<double> rates;
        for (const RunResult& run : summary.runs) rates.push_back(run.msgs_per_s());
        summary.msgs_per_s = spread_of(rates);
        summary.engine_us = median_of(summary.runs, [](const RunResult& r) { return r.engine_us_per_msg(); });
        summary.sink_us = median_of(summary.runs, [](const RunResult& r) { return r.sink_us_per_msg(); });
        summary.handshakes_full = median_of(summary.runs, [](const RunResult& r) {
          return static_cast<double>(r.sink.tls_handshakes - r.sink.tls_resumed);
        });
        summary.handshakes_resumed = median_of(
            summary.runs, [](const RunResult& r) { return static_cast<double>(r.sink.tls_resumed); });
        summary.wire_bytes_per_msg =
            median_of(summary.runs, [](const RunResult& r) { return r.wire_bytes_per_msg(); });
        summary.peak_rss = median_of(
            summary.runs, [](const RunResult& r) { return static_cast<double>(r.engine_peak_rss); });
        if (summary.level.uses_tls()) {
          summary.floor_engine_us =
              floor.client_us_per_message(group.size, group.per_connection, plan.resumption);
          summary.floor_sink_us =
              floor.server_us_per_message(group.size, group.per_connection, plan.resumption);
        }
        group.levels.push_back(std::move(summary));
      }
      const LevelSummary* none = nullptr;
      for (const LevelSummary& level : group.levels) {
        if (level.level.name == "none") none = &level;
      }
      if (none != nullptr) {
        for (LevelSummary& level : group.levels) add_ratios(level, *none, plan.connections);
      }
      groups.push_back(std::move(group));
    }
  }
  return groups;
}

}  // namespace ringmail::bench
