// tools/bench/bench_json.h — `ringmail bench --json FILE`: the whole report
// as one JSON object for machines: the settings, the machine, the crypto
// floor, and per configuration and level the medians, ranges, ratios to
// `none` and every run's own figures (with its own ratio to the `none` run
// of the same number).
//
// Who uses it: tools/cmd_bench.cc and the unit tests. Pure formatting.
#pragma once

#include <string>

#include "tools/bench/bench_results.h"

namespace ringmail::bench {

// format_json returns the report as JSON (one object, newline-terminated).
std::string format_json(const BenchReport& report);

// json_string quotes |text| for JSON (", \, control characters escaped).
std::string json_string(std::string_view text);

}  // namespace ringmail::bench
