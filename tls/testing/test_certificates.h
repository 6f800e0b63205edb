// tls/testing/test_certificates.h — throw-away X.509 certificates made in
// process with BoringSSL: a fresh key (ECDSA P-256 or RSA-2048), a CA, and
// leaves it signs, with PEM output.
//
// Who uses it: `ringmail bench` (a CA and a server certificate for the sink,
// generated at start, trusted by the engine it runs) and the tests'
// PKI (tests/support/test_pki.h builds its good and bad certificates from
// these pieces). Never for a real server: the keys live only in this process
// and in the temporary folder its caller writes them to.
#pragma once

#include <openssl/base.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>

namespace ringmail::test {

enum class KeyKind { kEcdsaP256, kRsa2048 };

// key_kind_name: "p256" / "rsa2048".
const char* key_kind_name(KeyKind kind);

// parse_key_kind accepts "p256" and "rsa2048"; false otherwise.
bool parse_key_kind(const std::string& text, KeyKind& out);

// TestCert is a certificate and its private key.
struct TestCert {
  bssl::UniquePtr<X509> cert;
  bssl::UniquePtr<EVP_PKEY> key;
  std::string cert_pem() const;
  std::string key_pem() const;
};

// kLocalhostNames: the subjectAltName of a certificate good for loopback.
inline constexpr const char* kLocalhostNames = "DNS:localhost,IP:127.0.0.1,IP:::1";
inline constexpr long kDaySeconds = 86400;

// make_key generates a fresh key (RSA-2048: ~100 ms or more). Aborts if
// BoringSSL cannot (out of memory): callers are tests and the benchmark.
bssl::UniquePtr<EVP_PKEY> make_key(KeyKind kind);

// make_ca makes a self-signed CA certificate named |common_name| on a fresh
// key, valid from a day ago for ten years.
TestCert make_ca(const char* common_name, KeyKind kind);

// make_leaf makes a server (and client) certificate for |key| named
// |common_name| with subjectAltName |names| (e.g. kLocalhostNames; null =
// none), valid from now+|from_s| to now+|to_s|, signed by |issuer| (null:
// self-signed). |key| is shared, not copied.
TestCert make_leaf(const char* common_name, const bssl::UniquePtr<EVP_PKEY>& key, const char* names,
                   long from_s, long to_s, const TestCert* issuer);

// ServerChain is a CA and a leaf for localhost it signed.
struct ServerChain {
  KeyKind kind = KeyKind::kEcdsaP256;
  TestCert ca;
  TestCert server;
  // write_files writes ca.pem, server.pem and server.key into |dir| (which
  // must exist). Returns false with |error| on failure.
  bool write_files(const std::string& dir, std::string& error) const;
};

// make_server_chain makes a CA "ringmail bench CA" and a leaf "localhost"
// (kLocalhostNames, valid a day ago to a year on), both of |kind|.
ServerChain make_server_chain(KeyKind kind);

// write_text_file writes |text| to |path| (created or truncated). Returns
// false with |error| ("cannot write PATH") on failure.
bool write_text_file(const std::string& path, const std::string& text, std::string& error);

}  // namespace ringmail::test
