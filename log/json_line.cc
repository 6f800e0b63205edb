// log/json_line.cc — see json_line.h.
#include "log/json_line.h"

#include <time.h>

#include <cstdio>
#include <cstring>

#include "log/json_escape.h"

namespace ringmail {

namespace {
constexpr std::string_view kTruncatedField = ",\"truncated\":true";
}  // namespace

JsonLine::JsonLine(char* out, size_t cap) : out_(out), limit_(cap - 2 - kTruncatedField.size()) { put("{"); }

bool JsonLine::put(std::string_view text) {
  if (limit_ - used_ < text.size()) return false;
  std::memcpy(out_ + used_, text.data(), text.size());
  used_ += text.size();
  return true;
}

// open_field writes `,"name":` when it and at least |value_min| more bytes
// fit; otherwise nothing is written and the line is marked truncated.
bool JsonLine::open_field(const char* name, size_t value_min) {
  const size_t name_len = std::strlen(name);
  const size_t need = (first_ ? 0 : 1) + name_len + 3 + value_min;
  if (limit_ - used_ < need) {
    truncated_ = true;
    return false;
  }
  if (!first_) put(",");
  first_ = false;
  put("\"");
  put(std::string_view(name, name_len));
  put("\":");
  return true;
}

void JsonLine::str_max(const char* name, std::string_view value, size_t max_in) {
  if (value.size() > max_in) {
    value = value.substr(0, max_in);
    truncated_ = true;
  }
  if (!open_field(name, 2)) return;
  put("\"");
  size_t consumed = 0;
  used_ += json_escape(value, out_ + used_, limit_ - used_ - 1, &consumed);
  if (consumed < value.size()) truncated_ = true;
  put("\"");
}

void JsonLine::str(const char* name, std::string_view value) { str_max(name, value, SIZE_MAX); }

void JsonLine::str_or_null(const char* name, std::string_view value) {
  if (value.empty()) {
    null(name);
  } else {
    str(name, value);
  }
}

void JsonLine::num(const char* name, int64_t value) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(value));
  if (open_field(name, static_cast<size_t>(n))) put(std::string_view(buf, static_cast<size_t>(n)));
}

void JsonLine::millis(const char* name, int64_t ms) {
  char buf[32];
  const char* sign = ms < 0 ? "-" : "";
  const uint64_t abs_ms = ms < 0 ? static_cast<uint64_t>(-(ms + 1)) + 1 : static_cast<uint64_t>(ms);
  const int n =
      std::snprintf(buf, sizeof(buf), "%s%llu.%03llu", sign, static_cast<unsigned long long>(abs_ms / 1000),
                    static_cast<unsigned long long>(abs_ms % 1000));
  if (open_field(name, static_cast<size_t>(n))) put(std::string_view(buf, static_cast<size_t>(n)));
}

void JsonLine::boolean(const char* name, bool value) {
  const std::string_view text = value ? "true" : "false";
  if (open_field(name, text.size())) put(text);
}

void JsonLine::null(const char* name) {
  if (open_field(name, 4)) put("null");
}

void JsonLine::time_utc(const char* name, int64_t unix_ms) {
  char buf[24];
  format_rfc3339_ms(unix_ms, buf);
  if (!open_field(name, 26)) return;
  put("\"");
  put(std::string_view(buf, 24));
  put("\"");
}

size_t JsonLine::finish() {
  // limit_ kept room aside for exactly this.
  if (truncated_) {
    std::memcpy(out_ + used_, kTruncatedField.data(), kTruncatedField.size());
    used_ += kTruncatedField.size();
  }
  out_[used_++] = '}';
  out_[used_++] = '\n';
  return used_;
}

size_t format_rfc3339_ms(int64_t unix_ms, char* out) {
  const int64_t ms = ((unix_ms % 1000) + 1000) % 1000;
  const time_t seconds = static_cast<time_t>((unix_ms - ms) / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (utc.tm_year + 1900) % 10000,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms));
  std::memcpy(out, buf, 24);
  return 24;
}

}  // namespace ringmail
