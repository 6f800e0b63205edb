// metrics/exposition.cc — see exposition.h.
#include "metrics/exposition.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace ringmail {

void append_label_value(std::string_view value, std::string& out) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_number(double value, std::string& out) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  // The shortest text that reads back as the same double ("0.005", not
  // "0.0050000000000000001"); integers below 2^53 (counters) exactly,
  // without an exponent.
  char text[40];
  char* end;
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    end = std::to_chars(text, text + sizeof(text), value, std::chars_format::fixed).ptr;
  } else {
    end = std::to_chars(text, text + sizeof(text), value).ptr;
  }
  out.append(text, static_cast<size_t>(end - text));
}

void ExpositionWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  for (char c : help) {
    if (c == '\\') {
      out_ += "\\\\";
    } else if (c == '\n') {
      out_ += "\\n";
    } else {
      out_ += c;
    }
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void ExpositionWriter::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
}

void ExpositionWriter::sample(std::string_view name, std::span<const Label> labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    bool first = true;
    for (const Label& label : labels) {
      if (!first) out_ += ',';
      first = false;
      out_ += label.first;
      out_ += "=\"";
      append_label_value(label.second, out_);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  append_number(value, out_);
  out_ += '\n';
}

void ExpositionWriter::histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                                 std::span<const uint64_t> bucket_counts, double sum) {
  assert(bucket_counts.size() == bounds.size() + 1);
  family(name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  std::string le;
  for (size_t i = 0; i < bucket_counts.size(); ++i) {
    cumulative += bucket_counts[i];
    le.clear();
    if (i < bounds.size()) {
      append_number(bounds[i], le);
    } else {
      le = "+Inf";
    }
    sample(bucket, {{"le", le}}, static_cast<double>(cumulative));
  }
  sample(std::string(name) + "_sum", {}, sum);
  sample(std::string(name) + "_count", {}, static_cast<double>(cumulative));
}

}  // namespace ringmail
