// tools/sink/sink_auth.cc — base64 and PLAIN parsing for the sink's AUTH.
// See sink_auth.h. Pure functions.
#include "tools/sink/sink_auth.h"

#include <cstdint>

namespace ringmail::sink {
namespace {

// sextet maps a base64 character to its 6-bit value; -1 for anything else.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool base64_decode(std::string_view text, char* out, size_t capacity, size_t& size) {
  size = 0;
  if (text.size() % 4 != 0) return false;
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    // '=' only at the end: "xx==" or "xxx=".
    const size_t pad = last ? (text[i + 3] == '=' ? (text[i + 2] == '=' ? 2 : 1) : 0) : 0;
    uint32_t bits = 0;
    for (size_t k = 0; k < 4; ++k) {
      if (k >= 4 - pad) {
        bits <<= 6;
        continue;
      }
      const int v = sextet(text[i + k]);
      if (v < 0) return false;
      bits = (bits << 6) | static_cast<uint32_t>(v);
    }
    const size_t n = 3 - pad;
    if (size + n > capacity) return false;
    const char bytes[3] = {static_cast<char>(bits >> 16), static_cast<char>(bits >> 8),
                           static_cast<char>(bits)};
    for (size_t k = 0; k < n; ++k) out[size++] = bytes[k];
  }
  return true;
}

bool parse_plain(std::string_view decoded, PlainCredentials& out) {
  const size_t first = decoded.find('\0');
  if (first == std::string_view::npos) return false;
  const size_t second = decoded.find('\0', first + 1);
  if (second == std::string_view::npos || decoded.find('\0', second + 1) != std::string_view::npos)
    return false;
  out.authzid = decoded.substr(0, first);
  out.user = decoded.substr(first + 1, second - first - 1);
  out.password = decoded.substr(second + 1);
  return !out.user.empty();
}

}  // namespace ringmail::sink
