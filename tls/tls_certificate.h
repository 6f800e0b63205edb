// tls/tls_certificate.h — a certificate described in words: subject, issuer,
// validity, key type and size, names (SANs), and PEM output with a file name
// taken from the CN.
//
// Who calls it: the verification verdict (tls_verdict.cc, once per full
// handshake, through the *_to functions that write into a caller's fixed
// buffer and allocate nothing of their own) and `ringmail check-tls` (the
// std::string forms). Certificates come from untrusted servers:
// every field is treated as arbitrary bytes and control characters are
// escaped before they reach a terminal or a log.
#pragma once

#include <openssl/base.h>

#include <string>
#include <string_view>

namespace ringmail {

// TextOut appends text to a caller's fixed buffer of |capacity| bytes:
// truncated when full, always NUL-terminated, never allocates.
struct TextOut {
  char* data;
  size_t capacity;  // >= 1
  size_t size = 0;
  TextOut(char* buffer, size_t buffer_capacity) : data(buffer), capacity(buffer_capacity) { data[0] = '\0'; }
  void append(std::string_view text);
  // append_printable escapes control and non-ASCII bytes as "\xNN".
  void append_printable(std::string_view bytes);
  std::string_view view() const { return std::string_view(data, size); }
};

// The *_to forms write what the std::string forms below return.
void cert_subject_to(const X509* cert, TextOut& out);
void cert_issuer_to(const X509* cert, TextOut& out);
void cert_names_to(const X509* cert, TextOut& out);
void cert_time_to(const ASN1_TIME* time, TextOut& out);

// cert_subject_text and cert_issuer_text give the name in RFC 2253 form,
// most significant part last ("CN=mx1.example.org,O=Example"); "(none)" for
// an empty name.
std::string cert_subject_text(const X509* cert);
std::string cert_issuer_text(const X509* cert);

// cert_common_name gives the last CN of the subject, or "" if none.
std::string cert_common_name(const X509* cert);

// cert_names_text lists the DNS names and IP addresses the certificate is
// for: "DNS:localhost, IP:127.0.0.1". With no SAN extension it gives the
// subject CN as "CN:name" (what old servers rely on), or "(no names)".
std::string cert_names_text(const X509* cert);

// cert_time_text gives an ASN1 time as "2026-11-30 22:00:00 UTC"; "?" if
// unreadable.
std::string cert_time_text(const ASN1_TIME* time);

// cert_key_text gives "ECDSA P-256", "RSA 2048 bits", "Ed25519" ...
std::string cert_key_text(const X509* cert);

// cert_is_self_issued: subject == issuer (a root or a self-signed leaf).
bool cert_is_self_issued(const X509* cert);

// cert_pem gives the certificate in PEM; "" on failure.
std::string cert_pem(const X509* cert);

// cert_file_stem makes a file name from |common_name|: letters, digits,
// '-', '.', '_' kept, anything else '_', at most 64 characters, never
// starting with '.'; "certificate" when nothing usable is left.
std::string cert_file_stem(std::string_view common_name);

// printable makes untrusted bytes safe for a terminal or log: control and
// non-ASCII bytes become "\xNN".
std::string printable(std::string_view bytes);

}  // namespace ringmail
