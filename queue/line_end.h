// queue/line_end.h — the one definition of a line end in a spool file,
// shared by the envelope parser (queue/envelope.cc: which header field a
// byte belongs to, which bytes a stripped Bcc field covers) and the body
// encoder (engine/body_encoder.cc: where it writes CRLF). Both must agree,
// or a header the parser saw as part of another field (a bare CR read as
// blank space) reaches the relay as a field of its own.
//
// The rule: CRLF, a bare LF, and a bare CR (one not followed by LF) each end
// a line; the encoder sends each as CRLF. Header-only; no allocation.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace ringmail {

// is_line_end_byte: |c| starts (CR) or is (LF) a line end.
constexpr bool is_line_end_byte(char c) { return c == '\r' || c == '\n'; }

// line_end_length is the length of the line end starting at text[pos]: 2
// for CRLF, 1 for a bare CR or LF, 0 when text[pos] is no line end (or pos
// is past the end). A CR that is the last byte of |text| counts as a bare
// CR: the encoder, which may not look ahead either, sends it as CRLF at
// once and drops an LF that follows in the next chunk.
constexpr size_t line_end_length(std::string_view text, size_t pos) {
  if (pos >= text.size() || !is_line_end_byte(text[pos])) return 0;
  return text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n' ? 2 : 1;
}

// find_line_end is the offset of the first line end in text[pos..), or
// text.size() when there is none.
inline size_t find_line_end(std::string_view text, size_t pos) {
  if (pos >= text.size()) return text.size();
  const char* begin = text.data() + pos;
  const size_t size = text.size() - pos;
  const void* lf = std::memchr(begin, '\n', size);
  const size_t until_lf = lf != nullptr ? static_cast<size_t>(static_cast<const char*>(lf) - begin) : size;
  const void* cr = std::memchr(begin, '\r', until_lf);
  return pos + (cr != nullptr ? static_cast<size_t>(static_cast<const char*>(cr) - begin) : until_lf);
}

}  // namespace ringmail
