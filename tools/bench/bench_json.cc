// tools/bench/bench_json.cc — see bench_json.h.
#include "tools/bench/bench_json.h"

#include <fmt/format.h>

namespace ringmail::bench {

namespace {

std::string spread_json(const Spread& spread) {
  return fmt::format("{{\"median\":{:.3f},\"min\":{:.3f},\"max\":{:.3f}}}", spread.median, spread.min,
                     spread.max);
}

std::string optional_spread_json(const std::optional<Spread>& spread) {
  return spread ? spread_json(*spread) : "null";
}

const RunRatio* ratio_for(const LevelSummary& level, uint32_t run) {
  for (const RunRatio& ratio : level.ratios) {
    if (ratio.run == run) return &ratio;
  }
  return nullptr;
}

std::string run_json(const LevelSummary& level, const RunResult& run) {
  const RunRatio* ratio = ratio_for(level, run.spec.run);
  return fmt::format(
      "{{\"run\":{},\"messages\":{},\"seconds\":{:.4f},\"msgs_per_s\":{:.1f},\"engine_cpu_us_per_msg\":{:.3f}"
      ","
      "\"sink_cpu_us_per_msg\":{:.3f},\"engine_peak_rss_bytes\":{},\"connections\":{},\"tls_handshakes\":{},"
      "\"tls_resumed\":{},\"messages_tls\":{},\"bytes_in\":{},\"bytes_out\":{},\"throughput_ratio_to_none\":{"
      "},"
      "\"engine_cpu_ratio_to_none\":{}}}",
      run.spec.run + 1, run.messages, run.seconds, run.msgs_per_s(), run.engine_us_per_msg(),
      run.sink_us_per_msg(), run.engine_peak_rss, run.sink.connections, run.sink.tls_handshakes,
      run.sink.tls_resumed, run.sink.messages_tls, run.sink.bytes_in, run.sink.bytes_out,
      ratio ? fmt::format("{:.4f}", ratio->throughput) : "null",
      ratio ? fmt::format("{:.4f}", ratio->engine_cpu) : "null");
}

std::string level_json(const LevelSummary& level) {
  std::string runs;
  for (const RunResult& run : level.runs) runs += (runs.empty() ? "" : ",") + run_json(level, run);
  return fmt::format(
      "{{\"level\":{},\"tls\":\"{}\",\"implicit_tls\":{},\"msgs_per_s\":{},\"engine_cpu_us_per_msg\":{:.3f},"
      "\"sink_cpu_us_per_msg\":{:.3f},\"floor_engine_us_per_msg\":{:.3f},\"floor_sink_us_per_msg\":{:.3f},"
      "\"handshakes_full\":{:.1f},\"handshakes_resumed\":{:.1f},\"wire_bytes_per_msg\":{:.1f},"
      "\"engine_peak_rss_bytes\":{:.0f},\"throughput_ratio_to_none\":{},\"engine_cpu_ratio_to_none\":{},"
      "\"tls_rss_kib_per_connection\":{},\"runs\":[{}]}}",
      json_string(level.level.name), tls_level_name(level.level.level), level.level.implicit_tls,
      spread_json(level.msgs_per_s), level.engine_us, level.sink_us, level.floor_engine_us,
      level.floor_sink_us, level.handshakes_full, level.handshakes_resumed, level.wire_bytes_per_msg,
      level.peak_rss, optional_spread_json(level.throughput_ratio),
      optional_spread_json(level.engine_cpu_ratio),
      level.tls_kib_per_connection ? fmt::format("{:.1f}", *level.tls_kib_per_connection) : "null", runs);
}

template <typename T, typename F>
std::string json_list(const std::vector<T>& items, F item_json) {
  std::string text;
  for (const T& item : items) text += (text.empty() ? "" : ",") + item_json(item);
  return "[" + text + "]";
}

}  // namespace

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string format_json(const BenchReport& report) {
  const BenchPlan& plan = report.plan;
  const BenchMachine& machine = report.machine;
  const CryptoFloor& floor = report.floor;
  const std::string settings = fmt::format(
      "{{\"messages\":{},\"runs\":{},\"levels\":{},\"sizes\":{},\"per_connection\":{},\"connections\":{},"
      "\"workers\":{},\"sink_threads\":{},\"resumption\":{},\"cert\":\"{}\",\"chunking\":{}}}",
      plan.messages, plan.runs,
      json_list(plan.levels, [](const LevelSpec& l) { return json_string(l.name); }),
      json_list(plan.sizes, [](uint32_t v) { return std::to_string(v); }),
      json_list(plan.per_connection, [](uint32_t v) { return std::to_string(v); }), plan.connections,
      machine.workers, plan.sink_threads,
      json_list(plan.resumption, [](bool on) { return std::string(on ? "true" : "false"); }),
      test::key_kind_name(plan.cert), plan.chunking);
  const std::string machine_json =
      fmt::format("{{\"cpus\":{},\"kernel\":{},\"spool_base\":{},\"spool_fs\":{},\"spool_in_memory\":{}}}",
                  machine.cpus, json_string(machine.kernel), json_string(machine.spool_base),
                  json_string(machine.spool_fs.type), machine.spool_fs.in_memory);
  const std::string floor_json = fmt::format(
      "{{\"cert\":\"{}\",\"cipher\":{},\"full\":{{\"client_us\":{:.2f},\"server_us\":{:.2f}}},"
      "\"resumed\":{{\"client_us\":{:.2f},\"server_us\":{:.2f}}},\"records\":{}}}",
      test::key_kind_name(floor.cert), json_string(floor.cipher), floor.full.client_us, floor.full.server_us,
      floor.resumed.client_us, floor.resumed.server_us, json_list(floor.records, [](const RecordCost& r) {
        return fmt::format("{{\"size\":{},\"seal_us\":{:.3f},\"open_us\":{:.3f}}}", r.size, r.seal_us,
                           r.open_us);
      }));
  const std::string results = json_list(report.groups, [](const GroupSummary& group) {
    return fmt::format(
        "{{\"size\":{},\"per_connection\":{},\"resumption\":{},\"ceiling_msgs_per_s\":{:.0f},\"levels\":{}}}",
        group.size, group.per_connection, group.resumption, group.ceiling_msgs_per_s,
        json_list(group.levels, level_json));
  });
  const std::string gains = json_list(report.resumption_gains, [](const ResumptionGain& gain) {
    return fmt::format(
        "{{\"size\":{},\"per_connection\":{},\"level\":{},\"throughput_on_over_off\":{},"
        "\"engine_cpu_off_over_on\":{}}}",
        gain.size, gain.per_connection, json_string(gain.level), spread_json(gain.throughput),
        spread_json(gain.engine_cpu));
  });
  return fmt::format(
      "{{\"ringmail_bench\":1,\"settings\":{},\"machine\":{},\"crypto_floor\":{},\"results\":{},"
      "\"resumption_gain\":{},\"seconds\":{:.1f}}}\n",
      settings, machine_json, floor_json, results, gains, report.seconds);
}

}  // namespace ringmail::bench
