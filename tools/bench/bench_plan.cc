// tools/bench/bench_plan.cc — see bench_plan.h.
#include "tools/bench/bench_plan.h"

#include <fmt/format.h>

#include <charconv>

namespace ringmail::bench {

namespace {

std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const size_t end = comma == std::string_view::npos ? text.size() : comma;
    parts.push_back(text.substr(start, end - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return parts;
}

bool parse_number(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

bool parse_levels(std::string_view text, std::vector<LevelSpec>& out, std::string& error) {
  static const LevelSpec kKnown[] = {
      {"none", TlsLevel::kNone, false},       {"may", TlsLevel::kMay, false},
      {"encrypt", TlsLevel::kEncrypt, false}, {"verify", TlsLevel::kVerify, false},
      {"secure", TlsLevel::kSecure, false},   {"implicit", TlsLevel::kVerify, true},
  };
  out.clear();
  for (std::string_view name : split_commas(text)) {
    const LevelSpec* found = nullptr;
    for (const LevelSpec& known : kKnown) {
      if (known.name == name) found = &known;
    }
    if (found == nullptr) {
      error = fmt::format(
          "unknown TLS level '{}'; the levels are none, may, encrypt, verify, secure and implicit (implicit "
          "TLS at verify), comma-separated",
          name);
      return false;
    }
    for (const LevelSpec& seen : out) {
      if (seen.name == name) {
        error = fmt::format("TLS level '{}' is named twice", name);
        return false;
      }
    }
    out.push_back(*found);
  }
  return true;
}

bool parse_sizes(std::string_view text, std::vector<uint32_t>& out, std::string& error) {
  out.clear();
  for (std::string_view part : split_commas(text)) {
    uint64_t unit = 1;
    std::string_view digits = part;
    if (!digits.empty() && (digits.back() == 'k' || digits.back() == 'K')) {
      unit = 1024;
      digits.remove_suffix(1);
    } else if (!digits.empty() && (digits.back() == 'm' || digits.back() == 'M')) {
      unit = 1024 * 1024;
      digits.remove_suffix(1);
    }
    uint64_t value = 0;
    if (!parse_number(digits, value) || value * unit < 512 || value * unit > 16 * 1024 * 1024) {
      error = fmt::format(
          "--size '{}' is not a message size from 512 bytes to 16 MiB; write e.g. 1k, 10k, 100k or 2048 "
          "(bytes), "
          "several comma-separated",
          part);
      return false;
    }
    out.push_back(static_cast<uint32_t>(value * unit));
  }
  return true;
}

bool parse_resumption(std::string_view text, std::vector<bool>& out, std::string& error) {
  out.clear();
  for (std::string_view part : split_commas(text)) {
    if (part != "on" && part != "off") {
      error = fmt::format("--resumption '{}' must be on, off, or both: on,off", part);
      return false;
    }
    for (const bool seen : out) {
      if (seen == (part == "on")) {
        error = fmt::format("--resumption names '{}' twice", part);
        return false;
      }
    }
    out.push_back(part == "on");
  }
  return true;
}

bool parse_per_connection(std::string_view text, std::vector<uint32_t>& out, std::string& error) {
  out.clear();
  for (std::string_view part : split_commas(text)) {
    uint64_t value = 0;
    if (!parse_number(part, value) || value < 1 || value > 1'000'000) {
      error = fmt::format(
          "--per-connection '{}' is not a number of messages per connection from 1 to 1000000; write e.g. "
          "1,10,100",
          part);
      return false;
    }
    out.push_back(static_cast<uint32_t>(value));
  }
  return true;
}

std::string size_label(uint32_t bytes) {
  if (bytes % (1024 * 1024) == 0) return fmt::format("{} MiB", bytes / (1024 * 1024));
  if (bytes % 1024 == 0) return fmt::format("{} KiB", bytes / 1024);
  return fmt::format("{} B", bytes);
}

std::vector<RunSpec> interleaved_runs(const BenchPlan& plan) {
  std::vector<RunSpec> runs;
  for (uint32_t run = 0; run < plan.runs; ++run) {
    for (size_t size = 0; size < plan.sizes.size(); ++size) {
      for (size_t per_connection = 0; per_connection < plan.per_connection.size(); ++per_connection) {
        for (size_t resumption = 0; resumption < plan.resumption.size(); ++resumption) {
          for (size_t level = 0; level < plan.levels.size(); ++level) {
            runs.push_back(RunSpec{level, size, per_connection, resumption, run});
          }
        }
      }
    }
  }
  return runs;
}

}  // namespace ringmail::bench
