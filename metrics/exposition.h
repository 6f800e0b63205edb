// metrics/exposition.h — Prometheus's text exposition format, version
// 0.0.4: "# HELP" and "# TYPE" lines, samples with escaped label values,
// and histograms as cumulative _bucket{le=...} lines with _sum and _count.
//
// Who calls it: metrics/metrics_page.cc on the metrics thread (it appends
// to a std::string; never used on a worker). Pure formatting: no I/O.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace ringmail {

// Label is one name="value" pair; the value is escaped when written.
using Label = std::pair<std::string_view, std::string_view>;

// append_label_value appends |value| escaped as the format wants inside
// double quotes: backslash, double quote and line feed become \\, \" and \n.
void append_label_value(std::string_view value, std::string& out);

// append_number formats a sample value: integers exactly, other values as
// the shortest text that reads back the same; +Inf, -Inf and NaN by name.
void append_number(double value, std::string& out);

class ExpositionWriter {
 public:
  explicit ExpositionWriter(std::string& out) : out_(out) {}

  // family writes the HELP and TYPE lines of metric |name| (type "counter",
  // "gauge" or "histogram"). |help| is escaped (backslash, line feed).
  void family(std::string_view name, std::string_view type, std::string_view help);
  // sample writes `name{labels} value`.
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void sample(std::string_view name, std::span<const Label> labels, double value);
  // histogram writes the family and its samples: |bucket_counts| are per
  // bucket (not cumulative), one per bound in |bounds| plus the +Inf bucket
  // last; the lines carry cumulative counts, _sum is |sum|, _count the total.
  void histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                 std::span<const uint64_t> bucket_counts, double sum);

 private:
  std::string& out_;
};

}  // namespace ringmail
