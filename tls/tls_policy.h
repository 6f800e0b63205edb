// tls/tls_policy.h — what one destination asks of TLS: the level, implicit
// TLS, the trust store, protocol versions, ciphers, curves, client
// certificate, resumption, and which names to send (SNI) and to verify.
//
// Who uses it: the config loader fills one per destination (relay, later
// per-domain overrides); TlsClientContext (tls_client_context.h) turns it into
// an SSL_CTX at start-up; TlsSession takes the names per connection.
// Plain data: no BoringSSL object, no I/O. The defaults here are the
// product's defaults (docs/tls.md says why); BoringSSL's own defaults in the
// Debian build (TLS 1.0, RSA key exchange, 3DES) are never used.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"  // TlsLevel (the enum lives with the config; reused, not redefined)

namespace ringmail {

// kTlsDefaultCiphers is the TLS 1.2 cipher list used unless the operator sets
// tls.ciphers: ECDHE key exchange with AEAD ciphers only (no RSA key
// exchange, no CBC, no 3DES; BoringSSL has no DHE at all). TLS 1.3 suites
// are fixed in BoringSSL (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305).
inline constexpr std::string_view kTlsDefaultCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// kTlsDefaultCurves are the key-exchange groups offered, in order.
inline constexpr std::string_view kTlsDefaultCurves = "X25519:P-256:P-384";

// kTlsSystemCaDir is the system trust store (Debian's ca-certificates).
inline constexpr std::string_view kTlsSystemCaDir = "/etc/ssl/certs";

// Protocol version numbers as on the wire (same values as TLS1_2_VERSION and
// TLS1_3_VERSION; repeated here so this header needs no BoringSSL include).
inline constexpr uint16_t kTls10 = 0x0301;
inline constexpr uint16_t kTls11 = 0x0302;
inline constexpr uint16_t kTls12 = 0x0303;
inline constexpr uint16_t kTls13 = 0x0304;

// TlsPolicy is the TLS configuration of one destination. Loaded once; read
// only afterwards.
struct TlsPolicy {
  TlsLevel level = TlsLevel::kMay;
  // implicit_tls: TLS from the first byte ("SMTPS", 465/2465, or any port),
  // no STARTTLS.
  bool implicit_tls = false;
  // Trust store. Every certificate in ca_file (PEM, several allowed) and in
  // every file of ca_dir is loaded once at start-up; no c_rehash needed.
  std::string ca_file;                                // "" = none
  std::string ca_dir = std::string(kTlsSystemCaDir);  // "" = none
  uint16_t min_version = kTls12;
  uint16_t max_version = kTls13;
  std::string ciphers = std::string(kTlsDefaultCiphers);  // TLS 1.2 suites
  std::string curves = std::string(kTlsDefaultCurves);
  // Mutual TLS: a PEM certificate chain and its private key ("" = none).
  std::string client_cert;
  std::string client_key;
  bool session_resumption = true;
  // Tickets/sessions kept per destination per core (oldest dropped).
  uint32_t session_cache_size = 16;
  // Names. next_hop_domain: what `secure` verifies (the relay's configured
  // name, or the recipient domain under MX routing); "" = the host
  // connected to. sni_name: sent as SNI instead of the host connected to
  // ("" = derive; never an IP literal). See tls_peer_names.
  std::string next_hop_domain;
  std::string sni_name;
};

// TlsPeerNames are the two names a connection uses: the one sent as SNI and
// the one the certificate must carry.
struct TlsPeerNames {
  std::string sni;          // "" when the host is an IP literal (RFC 6066)
  std::string verify_name;  // host name or IP literal the certificate must match
};

// tls_peer_names picks the names for a connection at |level|: `verify`
// checks the host connected to (|host|: the relay or MX name, or an IP);
// `secure` checks the next-hop domain |next_hop_domain| (the relay name
// for a relay, the recipient domain for MX routing), never a name learned
// from DNS; other levels still compute |verify_name| (= |host|) so the
// verdict can say what would have failed. SNI is always the DNS name
// connected to unless that is an IP literal. Brackets ("[192.0.2.1]") and a
// trailing dot are removed.
TlsPeerNames tls_peer_names(TlsLevel level, std::string_view host, std::string_view next_hop_domain);

// tls_peer_names for a connection to |host| under |policy| (its level,
// next_hop_domain and sni_name override).
TlsPeerNames tls_peer_names(const TlsPolicy& policy, std::string_view host);

// tls_level_enforces_certificate: true for verify and secure (a bad
// certificate fails the handshake); false for none/may/encrypt.
constexpr bool tls_level_enforces_certificate(TlsLevel level) {
  return level == TlsLevel::kVerify || level == TlsLevel::kSecure;
}

// parse_tls_version accepts "1.2", "1.3", "TLSv1.2", "TLSv1.3", "TLS1.2",
// "TLS1.3" (also 1.0/1.1 for operators who must reach very old servers)
// and sets |out|. Returns false on anything else.
bool parse_tls_version(std::string_view text, uint16_t& out);

// tls_version_text gives "TLSv1.2" etc. for a wire version, "unknown" else.
const char* tls_version_text(uint16_t version);

// is_ip_literal: true if |name| is an IPv4 or IPv6 address (no brackets).
bool is_ip_literal(std::string_view name);

}  // namespace ringmail
