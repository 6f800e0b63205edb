// tests/support/body_reference.h — the obvious whole-string SMTP DATA
// encoding (CRLF line endings, dot-stuffing, "." terminator), used by the
// body encoder's unit tests and fuzz target as the oracle for the
// streaming BodyEncoder. It may look ahead; the real encoder may not.
#pragma once

#include <string>
#include <string_view>

namespace ringmail::testing_support {

inline std::string reference_encode(std::string_view in) {
  std::string out;
  bool at_line_start = true;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\r' || c == '\n') {
      out += "\r\n";
      if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
      at_line_start = true;
      continue;
    }
    if (at_line_start && c == '.') out += '.';
    out += c;
    at_line_start = false;
  }
  if (!at_line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace ringmail::testing_support
