// tools/sink/sink_stats.h — the sink's counters and how they are reported:
// the live line on stderr, the final line on stdout, the --stats-file JSON.
//
// Who uses it: each server thread owns one WorkerCounters and is its only
// writer; tools/cmd_sink.cc reads them all (relaxed atomics, so a report may
// lag by a message) and formats the lines. Formatting never touches counters
// and never does I/O except write_stats_file.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace ringmail::sink {

// WorkerCounters belongs to one server thread (the only writer); its own
// cache line keeps threads from sharing one.
struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> messages{0};        // final 250 after DATA sent
  std::atomic<uint64_t> recipients{0};      // recipients of those messages
  std::atomic<uint64_t> connections{0};     // connections accepted (421 ones too)
  std::atomic<uint64_t> body_8bitmime{0};   // accepted messages whose MAIL had BODY=8BITMIME
  std::atomic<uint64_t> smtputf8{0};        // accepted messages whose MAIL had SMTPUTF8
  std::atomic<uint64_t> messages_tls{0};    // accepted messages received over TLS
  std::atomic<uint64_t> tls_handshakes{0};  // completed server handshakes (resumed too)
  std::atomic<uint64_t> tls_resumed{0};     // of those, resumed (ticket or session cache)
  std::atomic<uint64_t> tls_failed{0};      // handshakes that failed
  std::atomic<uint64_t> auth_tls{0};        // AUTH exchanges with credentials over TLS
  std::atomic<uint64_t> auth_clear{0};      // the same in clear
  std::atomic<uint64_t> auth_failed{0};     // of those, refused
  std::atomic<uint64_t> bytes_in{0};        // bytes received on connections (ciphertext under TLS)
  std::atomic<uint64_t> bytes_out{0};       // bytes sent on connections (ciphertext under TLS)

  // add is called by the owning thread only, so load+store suffices.
  static void add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// SinkTotals is the sum over all threads at one instant.
struct SinkTotals {
  uint64_t messages = 0;
  uint64_t recipients = 0;
  uint64_t connections = 0;
  uint64_t body_8bitmime = 0;
  uint64_t smtputf8 = 0;
  uint64_t messages_tls = 0;  // messages_clear = messages - messages_tls
  uint64_t tls_handshakes = 0;
  uint64_t tls_resumed = 0;
  uint64_t tls_failed = 0;
  uint64_t auth_tls = 0;
  uint64_t auth_clear = 0;
  uint64_t auth_failed = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

// FinalStats is what the sink reports when it stops.
struct FinalStats {
  SinkTotals totals;
  double seconds = 0;      // first accepted connection → stop (0: none)
  double cpu_seconds = 0;  // getrusage(RUSAGE_SELF) user + system
  double msgs_per_s() const { return seconds > 0 ? totals.messages / seconds : 0; }
  double cpu_us_per_msg() const { return totals.messages > 0 ? cpu_seconds * 1e6 / totals.messages : 0; }
};

// process_cpu_seconds is this process's user + system CPU time so far.
double process_cpu_seconds();

// format_report_line: "sink: 12345 messages, 40123 msg/s" (no newline).
std::string format_report_line(uint64_t messages, double msgs_per_s);

// format_tls_line: "sink: tls: H handshakes (R resumed, F failed), M
// messages over TLS, C in clear; auth: T over TLS, A in clear, X failed"
// (no newline); printed with the reports when TLS or AUTH is on.
std::string format_tls_line(const SinkTotals& totals);

// format_final_line: "sink: accepted N messages (R recipients) in S.SSS s,
// X msg/s, cpu Y us/msg" (no newline).
std::string format_final_line(const FinalStats& stats);

// format_stats_json: {"messages":N,"recipients":R,"seconds":S,
// "cpu_us_per_msg":Y,"connections":C,"body_8bitmime":B,"smtputf8":U,
// "tls_handshakes":H,"tls_resumed":R,"tls_failed":F,"messages_tls":T,
// "messages_clear":M,"auth_tls":A,"auth_clear":P,"auth_failed":X} (no
// newline). B and U count accepted messages whose MAIL FROM carried
// BODY=8BITMIME or SMTPUTF8; the rest as in WorkerCounters.
std::string format_stats_json(const FinalStats& stats);

// write_stats_file writes format_stats_json plus a newline to |path|
// (through a temporary file and a rename, so readers never see half of it).
// Returns false with |error| set to a sentence on failure.
bool write_stats_file(const std::string& path, const FinalStats& stats, std::string& error);

}  // namespace ringmail::sink
