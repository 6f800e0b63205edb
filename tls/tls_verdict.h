// tls/tls_verdict.h — the answer to "can this server's certificate be
// trusted, and if not, why and what to do", in words an operator acts on.
//
// Who calls it: TlsSession's verify callback (once per full handshake, on
// the worker that owns the connection) and `ringmail check-tls`. Input is an
// untrusted chain; verification runs against a trust store loaded at
// start-up (no file is read here). The verdict is a fixed-size value: filling
// it allocates nothing of its own (BoringSSL allocates while verifying).
#pragma once

#include <openssl/base.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tls/tls_certificate.h"
#include "tls/tls_policy.h"

namespace ringmail {

// FixedText holds at most N-1 bytes of text, truncated, always
// NUL-terminated. Used so a verdict can live inside a connection with no
// allocation.
template <size_t N>
struct FixedText {
  char data[N] = {};
  size_t size = 0;
  void set(std::string_view text) {
    size = text.size() < N - 1 ? text.size() : N - 1;
    text.copy(data, size);
    data[size] = '\0';
  }
  std::string_view view() const { return std::string_view(data, size); }
  bool empty() const { return size == 0; }
  // fill runs |write(TextOut&)| straight into this buffer (no allocation).
  template <typename F>
  void fill(F&& write) {
    TextOut out(data, N);
    write(out);
    size = out.size;
  }
};

// TlsCertProblem bits: what failed. Several can be set at once (an expired
// certificate from an unknown issuer with the wrong name).
enum TlsCertProblem : uint32_t {
  kCertNoCertificate = 1u << 0,  // the server sent no certificate
  kCertUnknownIssuer = 1u << 1,  // chain does not lead to the trust store
  kCertSelfSigned = 1u << 2,     // the leaf is its own issuer and not trusted
  kCertExpired = 1u << 3,
  kCertNotYetValid = 1u << 4,
  kCertNameMismatch = 1u << 5,  // no SAN (or CN) matches the wanted name
  kCertOther = 1u << 6,         // bad signature, not a CA, wrong purpose, ...
};

// TlsVerdict is the result of checking one peer chain.
struct TlsVerdict {
  bool checked = false;          // a chain was examined (false: no handshake yet)
  bool chain_trusted = false;    // chain leads to the trust store, dates valid
  bool name_matches = false;     // the leaf carries |name_wanted|
  bool from_resumption = false;  // resumed session: trust as decided when it was made
  uint32_t problems = 0;         // TlsCertProblem bits
  int x509_error = 0;            // first X509_V_ERR_* seen (0: none)
  int error_depth = -1;          // chain position of that error (0 = leaf)
  // The certificate at fault (the leaf when only the name failed).
  FixedText<256> subject;
  FixedText<256> issuer;
  FixedText<40> not_before;
  FixedText<40> not_after;
  FixedText<256> name_wanted;
  FixedText<512> names_in_cert;  // the leaf's names: "DNS:a, IP:127.0.0.1"

  bool trusted() const { return checked && chain_trusted && name_matches; }

  // summary gives a few words for a log field: "trusted", "unknown issuer",
  // "self-signed", "expired", "not yet valid", "name mismatch",
  // "no certificate", "invalid chain", "not checked".
  const char* summary() const;

  // explain gives the full sentence: which certificate, what failed, and
  // what to do. |trust_store| names the store in the advice ("/etc/ssl/certs"
  // or "ca_file /etc/ringmail/ca.pem"). At |level| may/encrypt the sentence
  // begins "not verified (level LEVEL does not check certificates): ...".
  std::string explain(TlsLevel level, std::string_view trust_store) const;
};

// verify_peer_chain checks |chain| (leaf first, as sent by the peer) against
// |store| for TLS server use and checks that the leaf carries |name_wanted|
// (a DNS name, wildcards allowed one label deep, or an IP literal). Every
// problem found is recorded, not only the first. Fills |out| completely.
void verify_peer_chain(X509_STORE* store, STACK_OF(X509) * chain, std::string_view name_wanted,
                       TlsVerdict& out);

// cert_matches_name: the leaf carries |name| (DNS with wildcards, or IP).
bool cert_matches_name(X509* leaf, std::string_view name);

}  // namespace ringmail
