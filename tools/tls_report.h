// tools/tls_report.h — what a finished (or failed) TLS handshake looked
// like, printed for an operator: protocol, cipher, key-exchange group, SNI,
// the chain as the server sent it (subject, issuer, validity, key, names),
// whether the chain is trusted and the name matches, and the verdict in
// words.
//
// Who calls it: `ringmail check-tls` (no prefix) and `ringmail test-send`
// (every line prefixed "TLS: " inside its transcript). Certificate fields
// come from an untrusted server; tls/tls_certificate escapes them.
#pragma once

#include <openssl/base.h>
#include <openssl/x509.h>

#include <cstdio>
#include <string_view>

#include "tls/tls_policy.h"

namespace ringmail {

class TlsClientContext;
class TlsSession;
struct TlsVerdict;

// print_tls_facts prints, each line starting with |prefix|: protocol,
// cipher, group, |sni| ("" = none sent: an IP literal), the chain, and
// print_tls_verdict's lines for |level|.
void print_tls_facts(FILE* out, const char* prefix, const TlsSession& tls, const TlsClientContext& context,
                     std::string_view sni, TlsLevel level);

// print_chain prints the chain leaf first (names for the leaf), or
// "chain: (none)".
void print_chain(FILE* out, const char* prefix, STACK_OF(X509) * chain);

// print_tls_verdict prints the trust, name and verdict lines; the verdict
// sentence is TlsVerdict::explain at |level| (what failed, what to do).
void print_tls_verdict(FILE* out, const char* prefix, const TlsVerdict& verdict,
                       const TlsClientContext& context, TlsLevel level);

}  // namespace ringmail
