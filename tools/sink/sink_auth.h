// tools/sink/sink_auth.h — the pure pieces of the sink's AUTH (RFC 4954):
// base64 decoding (RFC 4648, strict) and splitting a PLAIN response (RFC
// 4616) into its three parts.
//
// Who uses it: tools/sink/sink_session.cc and tests/unit/sink_tls_test.cc.
// No allocation, no I/O; the input is untrusted client text, so every length
// is checked against the caller's buffer.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringmail::sink {

// base64_decode decodes |text| (standard alphabet, '=' padding required to a
// multiple of 4, no spaces) into |out| (|capacity| bytes) and sets |size|.
// Returns false on any other character, bad padding, or when the result
// would not fit; |out| then holds garbage.
bool base64_decode(std::string_view text, char* out, size_t capacity, size_t& size);

// PlainCredentials are the parts of a decoded PLAIN response
// "authzid NUL authcid NUL passwd"; views into the decoded bytes.
struct PlainCredentials {
  std::string_view authzid;  // may be empty
  std::string_view user;     // authcid
  std::string_view password;
};

// parse_plain splits a decoded PLAIN response. Returns false unless it holds
// exactly two NULs and a non-empty user name.
bool parse_plain(std::string_view decoded, PlainCredentials& out);

}  // namespace ringmail::sink
