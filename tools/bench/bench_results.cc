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

LevelSummary summarize_level(const LevelSpec& spec, std::vector<RunResult> runs, const GroupSummary& group,
                             const CryptoFloor& floor) {
  LevelSummary summary;
  summary.level = spec;
  summary.runs = std::move(runs);
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
  summary.handshakes_resumed =
      median_of(summary.runs, [](const RunResult& r) { return static_cast<double>(r.sink.tls_resumed); });
  summary.wire_bytes_per_msg =
      median_of(summary.runs, [](const RunResult& r) { return r.wire_bytes_per_msg(); });
  summary.peak_rss =
      median_of(summary.runs, [](const RunResult& r) { return static_cast<double>(r.engine_peak_rss); });
  if (spec.uses_tls()) {
    summary.floor_engine_us = floor.client_us_per_message(group.size, group.per_connection, group.resumption);
    summary.floor_sink_us = floor.server_us_per_message(group.size, group.per_connection, group.resumption);
  }
  return summary;
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
      for (size_t resumption = 0; resumption < plan.resumption.size(); ++resumption) {
        GroupSummary group;
        group.size = plan.sizes[size];
        group.per_connection = plan.per_connection[pc];
        group.resumption = plan.resumption[resumption];
        group.ceiling_msgs_per_s =
            floor.ceiling_msgs_per_s(group.size, group.per_connection, group.resumption, cpus);
        for (size_t level = 0; level < plan.levels.size(); ++level) {
          std::vector<RunResult> level_runs;
          for (const RunResult& run : runs) {
            const RunSpec& s = run.spec;
            if (s.size == size && s.per_connection == pc && s.resumption == resumption && s.level == level) {
              level_runs.push_back(run);
            }
          }
          group.levels.push_back(summarize_level(plan.levels[level], std::move(level_runs), group, floor));
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
  }
  return groups;
}

std::vector<ResumptionGain> resumption_gains(const std::vector<GroupSummary>& groups) {
  std::vector<ResumptionGain> gains;
  for (const GroupSummary& on : groups) {
    if (!on.resumption) continue;
    for (const GroupSummary& off : groups) {
      if (off.resumption || off.size != on.size || off.per_connection != on.per_connection) continue;
      for (size_t i = 0; i < on.levels.size() && i < off.levels.size(); ++i) {
        if (!on.levels[i].level.uses_tls()) continue;
        std::vector<double> throughput, engine_cpu;
        for (const RunResult& with : on.levels[i].runs) {
          const RunResult* without = find_run(off.levels[i], with.spec.run);
          if (without == nullptr || without->msgs_per_s() <= 0 || with.engine_us_per_msg() <= 0) continue;
          throughput.push_back(with.msgs_per_s() / without->msgs_per_s());
          engine_cpu.push_back(without->engine_us_per_msg() / with.engine_us_per_msg());
        }
        if (throughput.empty()) continue;
        gains.push_back(ResumptionGain{on.size, on.per_connection, on.levels[i].level.name,
                                       spread_of(throughput), spread_of(engine_cpu)});
      }
    }
  }
  return gains;
}

}  // namespace ringmail::bench
