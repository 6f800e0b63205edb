// log/json_escape.cc — see json_escape.h.
#include "log/json_escape.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace ringmail {
namespace {

// kPlain: bytes copied as they are (printable ASCII but '"' and '\\').
constexpr auto kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x7f; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

// utf8_length returns the length of the well-formed UTF-8 sequence that
// starts at in[0] (2..4), or 0 when the bytes there are not one (RFC 3629,
// table 3-7 of Unicode: no overlongs, no surrogates, nothing above U+10FFFF).
size_t utf8_length(const unsigned char* p, size_t left) {
  const unsigned char b0 = p[0];
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (left < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; ++i) {
    if (p[i] < 0x80 || p[i] > 0xbf) return 0;
  }
  return n;
}

// escape_one gives the escaped form of the bytes at |p| in |buf| (at most 6
// bytes) or, for well-formed UTF-8 and plain ASCII, points |text| at the
// input itself. Returns the input bytes covered.
size_t escape_one(const unsigned char* p, size_t left, char (&buf)[8], const char*& text, size_t& len) {
  static const char kHex[] = "0123456789abcdef";
  const unsigned char c = p[0];
  if (c == '"' || c == '\\') {
    buf[0] = '\\';
    buf[1] = static_cast<char>(c);
    text = buf;
    len = 2;
    return 1;
  }
  if (c < 0x20 || c == 0x7f) {
    const char* named = nullptr;
    switch (c) {
      case '\b':
        named = "\\b";
        break;
      case '\f':
        named = "\\f";
        break;
      case '\n':
        named = "\\n";
        break;
      case '\r':
        named = "\\r";
        break;
      case '\t':
        named = "\\t";
        break;
      default:
        break;
    }
    if (named != nullptr) {
      text = named;
      len = 2;
      return 1;
    }
    std::memcpy(buf, "\\u00", 4);
    buf[4] = kHex[c >> 4];
    buf[5] = kHex[c & 0xf];
    text = buf;
    len = 6;
    return 1;
  }
  if (c < 0x80) {
    text = reinterpret_cast<const char*>(p);
    len = 1;
    return 1;
  }
  const size_t n = utf8_length(p, left);
  if (n == 0) {
    text = "\\ufffd";
    len = 6;
    return 1;
  }
  text = reinterpret_cast<const char*>(p);
  len = n;
  return n;
}

}  // namespace

size_t json_escape(std::string_view in, char* out, size_t cap, size_t* consumed) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0, used = 0;
  while (i < in.size()) {
    // Fast path: copy a run of plain printable ASCII in one go.
    size_t run = i;
    while (run < in.size() && kPlain[p[run]]) ++run;
    if (run > i) {
      const size_t n = std::min(run - i, cap - used);
      std::memcpy(out + used, p + i, n);
      used += n;
      i += n;
      if (i < run) break;  // out of room
      continue;
    }
    char buf[8];
    const char* text = nullptr;
    size_t len = 0;
    const size_t step = escape_one(p + i, in.size() - i, buf, text, len);
    if (cap - used < len) break;
    std::memcpy(out + used, text, len);
    used += len;
    i += step;
  }
  if (consumed != nullptr) *consumed = i;
  return used;
}

size_t json_escaped_size(std::string_view in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t i = 0, size = 0;
  while (i < in.size()) {
    char buf[8];
    const char* text = nullptr;
    size_t len = 0;
    i += escape_one(p + i, in.size() - i, buf, text, len);
    size += len;
  }
  return size;
}

}  // namespace ringmail
