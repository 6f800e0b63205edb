// tools/bench/bench_table.cc — see bench_table.h.
#include "tools/bench/bench_table.h"

#include <fmt/format.h>

#include <cmath>

namespace ringmail::bench {

namespace {

std::string ratio_text(const std::optional<Spread>& ratio) {
  return ratio ? fmt::format("{:.2f}", ratio->median) : std::string("-");
}

std::string mib_text(double bytes) { return bytes > 0 ? fmt::format("{:.1f} MiB", bytes / 1048576.0) : "-"; }

}  // namespace

std::string with_commas(double value) {
  const long long whole = std::llround(value);
  std::string digits = std::to_string(whole < 0 ? -whole : whole);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3)
    digits.insert(static_cast<size_t>(at), ",");
  return whole < 0 ? "-" + digits : digits;
}

const char* cert_name(test::KeyKind kind) {
  return kind == test::KeyKind::kEcdsaP256 ? "ECDSA P-256" : "RSA-2048";
}

std::string format_header(const BenchReport& report) {
  const BenchPlan& plan = report.plan;
  const BenchMachine& machine = report.machine;
  std::string text = fmt::format(
      "ringmail bench: {} alerts per run, {} run{} per level (interleaved), engine `ringmail run --drain` "
      "and `ringmail sink` as child processes on 127.0.0.1\n",
      with_commas(static_cast<double>(plan.messages)), plan.runs, plan.runs == 1 ? "" : "s");
  text += fmt::format(
      "machine: {} CPUs, kernel {}; engine {} worker{}, {} connections, {}; sink {} thread{}\n", machine.cpus,
      machine.kernel, machine.workers, machine.workers == 1 ? "" : "s", plan.connections,
      plan.chunking ? "BDAT" : "DATA (no chunking)", plan.sink_threads, plan.sink_threads == 1 ? "" : "s");
  text += fmt::format("spool: {} on {}\n", machine.spool_base, machine.spool_fs.describe());
  text += fmt::format(
      "TLS: sink certificate {} from a CA made at start (engine trusts it via tls.ca_file), relay.host "
      "localhost; resumption {}\n",
      cert_name(plan.cert), resumption_text(plan.resumption));
  const CryptoFloor& floor = report.floor;
  text += fmt::format(
      "crypto floor (in memory on this machine, {} certificate, {}): full handshake client {:.0f} µs + "
      "server "
      "{:.0f} µs, resumed {:.0f} + {:.0f} µs",
      cert_name(floor.cert), floor.cipher, floor.full.client_us, floor.full.server_us,
      floor.resumed.client_us, floor.resumed.server_us);
  for (const RecordCost& record : floor.records) {
    text += fmt::format("; {} message seal {:.1f} µs, open {:.1f} µs", size_label(record.size),
                        record.seal_us, record.open_us);
  }
  text += "\n";
  return text;
}

std::string resumption_text(const std::vector<bool>& values) {
  std::string text;
  for (const bool on : values) text += std::string(text.empty() ? "" : " and ") + (on ? "on" : "off");
  return text;
}

std::string format_tables(const BenchReport& report) {
  std::string text;
  for (const GroupSummary& group : report.groups) {
    text += fmt::format(
        "\n{} alerts, {} message{} per connection, resumption {} (crypto ceiling on {} CPUs: {} msg/s)\n",
        size_label(group.size), group.per_connection, group.per_connection == 1 ? "" : "s",
        group.resumption ? "on" : "off", report.machine.cpus, with_commas(group.ceiling_msgs_per_s));
    text += fmt::format("{:<9} {:>8} {:>17} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6} {:>16} {:>7} {:>10} {:>9}\n",
                        "level", "msg/s", "(min-max)", "×none", "engine", "×none", "floor", "sink", "floor",
                        "handshakes", "wire", "engine", "RSS/conn");
    text += fmt::format("{:<9} {:>8} {:>17} {:>6} {:>7} {:>6} {:>6} {:>6} {:>6} {:>16} {:>7} {:>10} {:>9}\n",
                        "", "median", "", "msg/s", "µs/msg", "CPU", "µs", "µs/msg", "µs", "full+resumed",
                        "B/msg", "peak RSS", "vs none");
    for (const LevelSummary& level : group.levels) {
      const std::string range =
          fmt::format("({}-{})", with_commas(level.msgs_per_s.min), with_commas(level.msgs_per_s.max));
      const std::string handshakes = level.level.uses_tls()
                                         ? fmt::format("{}+{}", with_commas(level.handshakes_full),
                                                       with_commas(level.handshakes_resumed))
                                         : std::string("-");
      const std::string rss_per_connection =
          level.tls_kib_per_connection ? fmt::format("{:+.0f} KiB", *level.tls_kib_per_connection) : "-";
      text += fmt::format(
          "{:<9} {:>8} {:>17} {:>6} {:>7.1f} {:>6} {:>6.1f} {:>6.1f} {:>6.1f} {:>16} {:>7} {:>10} {:>9}\n",
          level.level.name, with_commas(level.msgs_per_s.median), range, ratio_text(level.throughput_ratio),
          level.engine_us, ratio_text(level.engine_cpu_ratio), level.floor_engine_us, level.sink_us,
          level.floor_sink_us, handshakes, with_commas(level.wire_bytes_per_msg), mib_text(level.peak_rss),
          rss_per_connection);
    }
  }
  if (!report.resumption_gains.empty()) {
    text += "\nresumption on against off (same run number; median, min-max):\n";
    for (const ResumptionGain& gain : report.resumption_gains) {
      text += fmt::format(
          "  {:<9} {} per connection, {}: msg/s ×{:.2f} ({:.2f}-{:.2f}), engine CPU per message ÷{:.2f} "
          "({:.2f}-{:.2f})\n",
          gain.level, gain.per_connection, size_label(gain.size), gain.throughput.median, gain.throughput.min,
          gain.throughput.max, gain.engine_cpu.median, gain.engine_cpu.min, gain.engine_cpu.max);
    }
  }
  text +=
      "\nmsg/s: the engine's delivery time (start-up excluded); µs/msg: CPU (user+system) of the whole "
      "process "
      "per message, start-up included; ×none: against `none` of the same run number, median over runs; "
      "floor: "
      "the TLS crypto alone per message (handshake shared by the messages of a connection, plus sealing or "
      "opening the message); handshakes and wire bytes as the sink counted them; peak RSS: the engine's "
      "VmHWM.\n";
  return text;
}

}  // namespace ringmail::bench
