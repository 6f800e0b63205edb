// log/json_escape.h — JSON string escaping for the delivery log, into a
// fixed buffer, never allocating: any bytes in, a valid JSON string body
// (what goes between the quotes) out.
//
// Who uses it: log/json_line.h (the delivery log's line writer) and its
// unit tests and fuzz target (tests/fuzz/json_escape_fuzz.cc). Pure: no
// I/O, no clock, no state.
//
// The rules (docs/delivery-log.md, "Escaping"):
//   "  \  → \"  \\            control bytes 0x00..0x1f, 0x7f → \b \f \n \r \t, else \u00XX
//   well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF) → copied as is
//   every byte that is not part of well-formed UTF-8 → \ufffd (one per byte)
// So a server's text in Latin-1 or a cut multi-byte sequence never makes the
// line invalid, and a reader sees where bytes were replaced.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringmail {

// json_escape writes the escaped form of as much of |in| as fits into
// out[0..cap) and returns the bytes written. It stops before an escape or a
// UTF-8 sequence that would not fit whole, so the output is always valid;
// |consumed| (optional) gets how many input bytes it covers (in.size() when
// everything fit).
size_t json_escape(std::string_view in, char* out, size_t cap, size_t* consumed = nullptr);

// json_escaped_size is the size json_escape needs for all of |in|.
size_t json_escaped_size(std::string_view in);

}  // namespace ringmail
