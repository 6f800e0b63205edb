// tools/bench/bench_table.h — the table `ringmail bench` prints: a header
// saying what ran where (CPUs, workers, spool file system, certificate,
// crypto floor), then per configuration one row per level: msg/s median
// (min–max), engine and sink CPU µs per message, the crypto floor per
// message, TLS handshakes full and resumed, bytes on the wire per message,
// the engine's peak RSS, and the cost of strictness as ratios to `none` of
// the same run.
//
// Who uses it: tools/cmd_bench.cc (stdout) and the unit tests. Pure
// formatting: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/bench/bench_results.h"

namespace ringmail::bench {

// format_header: the lines above the tables (each ends in a newline).
std::string format_header(const BenchReport& report);

// format_tables: one table per configuration, with a title line.
std::string format_tables(const BenchReport& report);

// with_commas: 1234567 -> "1,234,567" (rounded to a whole number).
std::string with_commas(double value);

// resumption_text: {true} -> "on", {true, false} -> "on and off".
std::string resumption_text(const std::vector<bool>& values);

// cert_name: "ECDSA P-256" / "RSA-2048".
const char* cert_name(test::KeyKind kind);

}  // namespace ringmail::bench
