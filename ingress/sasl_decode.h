// ingress/sasl_decode.h — the pure pieces of a server's SMTP AUTH (RFC
// 4954): base64 decoding (RFC 4648, strict) and splitting a PLAIN response
// (RFC 4616) into its three parts.
//
// Who uses it: ingress/smtp_server_session.cc (the listener), the test sink
// (tools/sink/sink_session.cc), their tests and fuzz targets. Header-only so
// the sink, which links only ringmail_tls, shares it. No allocation, no I/O;
// the input is untrusted client text, so every length is checked against
// the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringmail::ingress {

// base64_sextet maps a base64 character to its 6-bit value; -1 for anything else.
constexpr int base64_sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// base64_decode decodes |text| (standard alphabet, '=' padding required to a
// multiple of 4, no spaces) into |out| (|capacity| bytes) and sets |size|.
// Returns false on any other character, bad padding, or when the result
// would not fit; |out| then holds garbage.
inline bool base64_decode(std::string_view text, char* out, size_t capacity, size_t& size) {
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
      const int v = base64_sextet(text[i + k]);
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

// PlainCredentials are the parts of a decoded PLAIN response
// "authzid NUL authcid NUL passwd"; views into the decoded bytes.
struct PlainCredentials {
  std::string_view authzid;  // may be empty
  std::string_view user;     // authcid
  std::string_view password;
};

// parse_plain splits a decoded PLAIN response. Returns false unless it holds
// exactly two NULs and a non-empty user name.
inline bool parse_plain(std::string_view decoded, PlainCredentials& out) {
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

}  // namespace ringmail::ingress
