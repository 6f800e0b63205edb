// ingress/bdat_chunk.h — the BDAT chunk an SMTP server is reading (RFC
// 3030 CHUNKING), and the Postfix reply texts both of ringmail's SMTP
// servers give for a transaction's common refusals.
//
// Who uses it: ingress/smtp_server_session (the listener) and
// tools/sink/sink_session (the test sink). Header-only: the sink links only
// ringmail_tls. As Postfix does, a refused BDAT still has its chunk read
// and dropped, and its reply comes after the chunk.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ringmail::ingress {

inline constexpr const char* kReplyNeedRcpt = "503 5.5.1 Error: need RCPT command";
inline constexpr const char* kReplyNoRecipients = "554 5.5.1 Error: no valid recipients";
inline constexpr const char* kReplyTooBig = "552 5.3.4 Error: message file too big";
inline constexpr const char* kReplyWriteError = "451 4.3.0 Error: queue file write error";
inline constexpr const char* kReplyNeedSmtputf8 = "553 5.6.7 Must declare SMTPUTF8 to send unicode address";

// fits_limit: |more| bytes after |so_far| stay within |limit| (no overflow).
constexpr bool fits_limit(uint64_t so_far, uint64_t more, uint64_t limit) {
  return more <= limit - std::min(so_far, limit);
}

struct BdatChunk {
  uint64_t bytes = 0;      // the chunk's size
  uint64_t remaining = 0;  // of it, bytes still to come
  bool last = false;       // the BDAT had LAST
  // refusal is the chunk's reply instead of 250 (its bytes are dropped);
  // nullptr while it is accepted.
  const char* refusal = nullptr;

  // start begins the chunk of a "BDAT |size| [LAST]" line.
  void start(uint64_t size, bool is_last) {
    bytes = remaining = size;
    last = is_last;
    refusal = nullptr;
  }
  // take counts off the bytes of |available| that belong to the chunk.
  size_t take(size_t available) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(available, remaining));
    remaining -= n;
    return n;
  }
};

}  // namespace ringmail::ingress
