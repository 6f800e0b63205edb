// tests/support/json_check.h — a small, strict reader for JSON string
// bodies (the bytes between the quotes), for the tests of log/json_escape:
// is it valid JSON (RFC 8259: no raw control byte, no bare quote, only the
// defined escapes, well-formed UTF-8), and what text does it decode to.
// Header-only, for the unit tests and the fuzz target.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringmail::testing {

inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// utf8_sequence: the length of the well-formed UTF-8 sequence at s[i], 0 if none.
inline size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2, cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3, cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

// json_unescape decodes a JSON string body; false when it is not valid.
inline bool json_unescape(std::string_view body, std::string& out) {
  out.clear();
  for (size_t i = 0; i < body.size();) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c < 0x20 || c == '"') return false;
    if (c != '\\') {
      const size_t n = utf8_sequence(body, i);
      if (n == 0) return false;
      out.append(body.substr(i, n));
      i += n;
      continue;
    }
    if (i + 1 >= body.size()) return false;
    const char e = body[i + 1];
    i += 2;
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        if (i + 4 > body.size()) return false;
        uint32_t cp = 0;
        for (size_t k = 0; k < 4; ++k) {
          const char h = body[i + k];
          cp <<= 4;
          if (h >= '0' && h <= '9') {
            cp |= static_cast<uint32_t>(h - '0');
          } else if (h >= 'a' && h <= 'f') {
            cp |= static_cast<uint32_t>(h - 'a' + 10);
          } else if (h >= 'A' && h <= 'F') {
            cp |= static_cast<uint32_t>(h - 'A' + 10);
          } else {
            return false;
          }
        }
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdfff) return false;  // json_escape never writes surrogates
        append_utf8(out, cp);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// expected_text is what json_escape's output must decode to: |in| with
// every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
inline std::string expected_text(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size();) {
    const size_t n = utf8_sequence(in, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      ++i;
    } else {
      out.append(in.substr(i, n));
      i += n;
    }
  }
  return out;
}

}  // namespace ringmail::testing
