// tests/support/body_reference.h — the obvious whole-string SMTP DATA
// encoding (CRLF line endings, 998-octet lines, dot-stuffing, "."
// terminator), used by the
// body encoder's unit tests and fuzz target as the oracle for the
// streaming BodyEncoder. It may look ahead; the real encoder may not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringmail::testing_support {

// reference_encode is the DATA wire form of |in| (dot-stuffed, with the
// terminator); with |dot_stuffing| false, the BDAT content (no stuffing, no
// terminator). Lines longer than 998 octets are broken as BodyEncoder
// documents: folded with "\r\n " before the first empty line, broken with
// "\r\n" after it.
inline std::string reference_encode(std::string_view in, bool dot_stuffing = true) {
  constexpr size_t kMaxLine = 998;
  // First the lines, each without its line end (CRLF, bare LF or bare CR).
  std::vector<std::string> lines;
  std::string line;
  bool open = false;  // bytes after the last line end
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\r' || c == '\n') {
      lines.push_back(line);
      line.clear();
      open = false;
      if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
      continue;
    }
    line += c;
    open = true;
  }
  if (open) lines.push_back(line);
  // Then each line on the wire.
  std::string out;
  bool in_header = true;
  for (const std::string& text : lines) {
    if (text.empty()) in_header = false;
    std::string wire;  // the current wire line
    for (char c : text) {
      if (wire.size() >= kMaxLine) {
        out += wire + "\r\n";
        wire = in_header ? " " : "";
      }
      if (wire.empty() && c == '.' && dot_stuffing) wire += '.';
      wire += c;
    }
    out += wire + "\r\n";
  }
  if (dot_stuffing) out += ".\r\n";
  return out;
}

}  // namespace ringmail::testing_support
