// log/json_line.cc — see json_line.h.
#include "log/json_line.h"

#include <time.h>

#include <charconv>
#include <climits>
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
  const size_t need = 1 + name_len + 3 + value_min;
  if (limit_ - used_ < need) {
    truncated_ = true;
    return false;
  }
  char* o = out_ + used_;
  if (!first_) *o++ = ',';
  first_ = false;
  *o++ = '"';
  std::memcpy(o, name, name_len);
  o += name_len;
  *o++ = '"';
  *o++ = ':';
  used_ = static_cast<size_t>(o - out_);
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

void JsonLine::str_list(const char* name, const std::string* items, size_t count) {
  if (!open_field(name, 2)) return;
  put("[");
  const size_t room_for_close = 1;
  for (size_t i = 0; i < count; ++i) {
    const size_t need = json_escaped_size(items[i]) + 2 + (i > 0 ? 1 : 0);
    if (limit_ - used_ < need + room_for_close) {
      truncated_ = true;
      break;
    }
    if (i > 0) put(",");
    put("\"");
    used_ += json_escape(items[i], out_ + used_, limit_ - used_);
    put("\"");
  }
  put("]");
}

void JsonLine::num(const char* name, int64_t value) {
  char buf[24];
  const size_t n = static_cast<size_t>(std::to_chars(buf, buf + sizeof(buf), value).ptr - buf);
  if (open_field(name, n)) put(std::string_view(buf, n));
}

void JsonLine::millis(const char* name, int64_t ms) {
  char buf[32];
  size_t n = 0;
  if (ms < 0) buf[n++] = '-';
  const uint64_t abs_ms = ms < 0 ? static_cast<uint64_t>(-(ms + 1)) + 1 : static_cast<uint64_t>(ms);
  n = static_cast<size_t>(std::to_chars(buf + n, buf + sizeof(buf), abs_ms / 1000).ptr - buf);
  const uint64_t frac = abs_ms % 1000;
  buf[n++] = '.';
  buf[n++] = static_cast<char>('0' + frac / 100);
  buf[n++] = static_cast<char>('0' + frac / 10 % 10);
  buf[n++] = static_cast<char>('0' + frac % 10);
  if (open_field(name, n)) put(std::string_view(buf, n));
}

void JsonLine::boolean(const char* name, bool value) {
  const std::string_view text = value ? "true" : "false";
  if (open_field(name, text.size())) put(text);
}

void JsonLine::null(const char* name) {
  if (open_field(name, 4)) put("null");
}

void JsonLine::tls_fields(const char* version, const char* cipher) {
  if (version == nullptr) {
    null("tls");
    null("tls_cipher");
    return;
  }
  str("tls", version);
  str("tls_cipher", cipher != nullptr ? cipher : "");
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
  const int64_t seconds = (unix_ms - ms) / 1000;
  // The date and time change once a second: format them once per second
  // per thread ("YYYY-MM-DDTHH:MM:SS", 19 bytes), then only the milliseconds.
  thread_local int64_t cached_seconds = INT64_MIN;
  thread_local char cached[20];
  if (seconds != cached_seconds) {
    const time_t t = static_cast<time_t>(seconds);
    tm utc{};
    gmtime_r(&t, &utc);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", (utc.tm_year + 1900) % 10000,
                  utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
    std::memcpy(cached, buf, 19);
    cached_seconds = seconds;
  }
  std::memcpy(out, cached, 19);
  out[19] = '.';
  out[20] = static_cast<char>('0' + ms / 100);
  out[21] = static_cast<char>('0' + ms / 10 % 10);
  out[22] = static_cast<char>('0' + ms % 10);
  out[23] = 'Z';
  return 24;
}

}  // namespace ringmail
