// tools/bench/bench_plan.h — what `ringmail bench` will run: the TLS levels,
// message sizes and messages-per-connection values asked for on the command
// line, and the order of the runs (interleaved: run 1 of every
// configuration, then run 2, ..., so the machine's drift hits all alike).
//
// Who uses it: tools/cmd_bench.cc parses the flags into a BenchPlan; the
// runner (bench_run.h) and the reports (bench_results.h) read it. Plain data
// and parsing: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "tls/testing/test_certificates.h"

namespace ringmail::bench {

// LevelSpec is one TLS level as the bench names it: the five relay.tls
// levels over STARTTLS, and "implicit" (relay.implicit_tls = true at
// verify, the sink speaking TLS from the first byte).
struct LevelSpec {
  std::string name;  // "none", "may", "encrypt", "verify", "secure", "implicit"
  TlsLevel level = TlsLevel::kNone;
  bool implicit_tls = false;
  bool uses_tls() const { return level != TlsLevel::kNone; }
};

inline constexpr std::string_view kDefaultLevels = "none,may,encrypt,verify,secure,implicit";

// parse_levels reads a comma-separated list of level names (no repeats).
// False with |error| (a sentence listing the names) otherwise.
bool parse_levels(std::string_view text, std::vector<LevelSpec>& out, std::string& error);

// parse_sizes reads message sizes: "1k", "10k", "100k", "2048" (bytes;
// k = 1024), comma-separated, each 512 bytes .. 16 MiB. False with |error|.
bool parse_sizes(std::string_view text, std::vector<uint32_t>& out, std::string& error);

// parse_resumption reads "on", "off" or both ("on,off"): tls.session_resumption
// values to run. False with |error|.
bool parse_resumption(std::string_view text, std::vector<bool>& out, std::string& error);

// parse_per_connection reads relay.max_messages_per_connection values,
// comma-separated, each 1 .. 1000000. False with |error|.
bool parse_per_connection(std::string_view text, std::vector<uint32_t>& out, std::string& error);

// size_label: 2048 -> "2 KiB", 1000 -> "1000 B", 1048576 -> "1 MiB".
std::string size_label(uint32_t bytes);

struct BenchPlan {
  std::vector<LevelSpec> levels;
  std::vector<uint32_t> sizes;           // bytes per alert
  std::vector<uint32_t> per_connection;  // relay.max_messages_per_connection
  uint32_t runs = 3;                     // per configuration
  uint64_t messages = 20'000;            // per run
  uint32_t connections = 16;             // relay.max_connections
  uint32_t threads = 0;                  // engine.threads (0 = one per CPU)
  uint32_t sink_threads = 1;
  std::vector<bool> resumption = {true};  // tls.session_resumption values
  bool chunking = true;                   // smtp.chunking
  test::KeyKind cert = test::KeyKind::kEcdsaP256;
  std::vector<std::string> sink_options;  // extra `ringmail sink` flags (fault injection)
};

// RunSpec is one run: indexes into the plan's lists, and the run number
// (0-based) among the runs of the same configuration.
struct RunSpec {
  size_t level = 0;
  size_t size = 0;
  size_t per_connection = 0;
  size_t resumption = 0;
  uint32_t run = 0;
};

// interleaved_runs lists every run of |plan|: for each run number, for
// each size, for each per-connection value, for each resumption value,
// every level in the plan's order. So the levels of one run number follow each other, and the ratio
// of a level to `none` compares neighbours in time.
std::vector<RunSpec> interleaved_runs(const BenchPlan& plan);

}  // namespace ringmail::bench
