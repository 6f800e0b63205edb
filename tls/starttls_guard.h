// tls/starttls_guard.h — the rule that closes the STARTTLS response
// injection hole (the CVE-2011-0411 class): after the server's 220 reply to
// STARTTLS, nothing may be buffered before the TLS handshake starts.
//
// Who calls it: the SMTP client, when it has parsed the reply to STARTTLS
// and knows how many received bytes follow that reply in its receive
// buffer; `ringmail check-tls` does the same. Pure function: no I/O.
//
// Why: bytes after the 220 were sent in clear, before TLS; a man in the
// middle can append "250 ..." replies there, which a careless client would
// read later as if they had come over TLS. The only safe answer is to drop
// the connection; the bytes are never interpreted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringmail {

enum class StartTlsReplyVerdict {
  kStartHandshake,  // 220 and nothing else buffered: begin TLS now
  kRefused,         // the server answered something else: TLS not available
  kInjection,       // 220 followed by buffered bytes: fail the connection
};

// judge_starttls_reply decides what follows the reply |reply_code| to
// STARTTLS, given |bytes_after_reply| bytes already received after that
// reply (pipelined or injected). For kRefused and kInjection |reason| is a
// sentence for the operator; it is cleared for kStartHandshake.
StartTlsReplyVerdict judge_starttls_reply(uint16_t reply_code, size_t bytes_after_reply, std::string& reason);

}  // namespace ringmail
