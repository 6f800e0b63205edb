// tls/starttls_guard.cc — see starttls_guard.h.
#include "tls/starttls_guard.h"

#include <fmt/format.h>

namespace ringmail {

StartTlsReplyVerdict judge_starttls_reply(uint16_t reply_code, size_t bytes_after_reply,
                                          std::string& reason) {
  if (reply_code != 220) {
    reason = fmt::format(
        "the server answered STARTTLS with {} instead of 220, so TLS is not available on this connection",
        reply_code);
    return StartTlsReplyVerdict::kRefused;
  }
  if (bytes_after_reply > 0) {
    reason = fmt::format(
        "the server sent {} byte{} after its 220 reply to STARTTLS and before the TLS handshake; such bytes "
        "travel in clear and may have been injected by an attacker (CVE-2011-0411 class), so the connection "
        "was closed without reading them; if this repeats, a middlebox or the server is broken",
        bytes_after_reply, bytes_after_reply == 1 ? "" : "s");
    return StartTlsReplyVerdict::kInjection;
  }
  reason.clear();
  return StartTlsReplyVerdict::kStartHandshake;
}

}  // namespace ringmail
