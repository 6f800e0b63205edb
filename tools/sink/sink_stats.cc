// tools/sink/sink_stats.cc — formatting of the sink's reports. See
// sink_stats.h. Runs on the reporting (main) thread only.
#include "tools/sink/sink_stats.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringmail::sink {

double process_cpu_seconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string format_report_line(uint64_t messages, double msgs_per_s) {
  return fmt::format("sink: {} messages, {:.0f} msg/s", messages, msgs_per_s);
}

std::string format_tls_line(const SinkTotals& t) {
  return fmt::format(
      "sink: tls: {} handshakes ({} resumed, {} failed), {} messages over TLS, {} in clear; auth: {} over "
      "TLS, {} in clear, {} failed",
      t.tls_handshakes, t.tls_resumed, t.tls_failed, t.messages_tls, t.messages - t.messages_tls, t.auth_tls,
      t.auth_clear, t.auth_failed);
}

std::string format_final_line(const FinalStats& stats) {
  return fmt::format(
      "sink: accepted {} messages ({} recipients) in {:.3f} s, {:.0f} msg/s, cpu {:.2f} us/msg",
      stats.totals.messages, stats.totals.recipients, stats.seconds, stats.msgs_per_s(),
      stats.cpu_us_per_msg());
}

std::string format_stats_json(const FinalStats& stats) {
  return fmt::format(
      "{{\"messages\":{},\"recipients\":{},\"seconds\":{:.6f},\"cpu_us_per_msg\":{:.3f},"
      "\"connections\":{},\"body_8bitmime\":{},\"smtputf8\":{},\"tls_handshakes\":{},"
      "\"tls_resumed\":{},\"tls_failed\":{},\"messages_tls\":{},\"messages_clear\":{},\"auth_tls\":{},"
      "\"auth_clear\":{},\"auth_failed\":{},\"bytes_in\":{},\"bytes_out\":{}}}",
      stats.totals.messages, stats.totals.recipients, stats.seconds, stats.cpu_us_per_msg(),
      stats.totals.connections, stats.totals.body_8bitmime, stats.totals.smtputf8,
      stats.totals.tls_handshakes, stats.totals.tls_resumed, stats.totals.tls_failed,
      stats.totals.messages_tls, stats.totals.messages - stats.totals.messages_tls, stats.totals.auth_tls,
      stats.totals.auth_clear, stats.totals.auth_failed, stats.totals.bytes_in, stats.totals.bytes_out);
}

bool write_stats_file(const std::string& path, const FinalStats& stats, std::string& error) {
  const std::string tmp = path + ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "w");
  if (file == nullptr) {
    error = fmt::format("cannot write the stats file {}: {}; check that its folder exists and is writable",
                        tmp, std::strerror(errno));
    return false;
  }
  const std::string json = format_stats_json(stats) + "\n";
  const bool written = std::fwrite(json.data(), 1, json.size(), file) == json.size();
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = fmt::format("cannot write the stats file {}: {}", path, std::strerror(errno));
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace ringmail::sink
