// tests/support/test_pki.h — a throw-away PKI for TLS tests, generated in
// process from tls/testing/test_certificates.h: a CA, a good leaf (SAN localhost,
// 127.0.0.1, ::1), a wrong-name leaf, an expired leaf, a not-yet-valid leaf,
// a self-signed leaf, and a leaf from a CA nobody trusts; each in ECDSA P-256
// or RSA-2048.
//
// Who uses it: tests/unit/tls_*_test.cc, bench/tls_bench.cc and the
// make_test_pki tool (tests/tools) that writes PEM files for e2e tests.
// Test-only: the keys are generated fresh per process and never persisted
// except where a test writes them to its own temporary folder.
#pragma once

#include <string>

#include "tls/testing/test_certificates.h"

namespace ringmail::test {

// TestPki holds one full set for one key kind.
struct TestPki {
  KeyKind kind;
  TestCert ca;              // "ringmail test CA", trusted by the tests
  TestCert unknown_ca;      // "ringmail unknown CA", never trusted
  TestCert good;            // CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, by ca
  TestCert wrong_name;      // CN=wrong.example, SAN DNS:wrong.example, by ca
  TestCert expired;         // like good, valid from 30 days ago to 1 day ago
  TestCert not_yet_valid;   // like good, valid from 10 days on
  TestCert self_signed;     // like good, issuer = itself
  TestCert unknown_issuer;  // like good, issued by unknown_ca

  // write_files writes every certificate and key as PEM into |dir| (which
  // must exist): ca.pem, unknown_ca.pem, and for each leaf NAME.pem and
  // NAME.key (good, wrong_name, expired, not_yet_valid, self_signed,
  // unknown_issuer). Returns false with |error| on failure.
  bool write_files(const std::string& dir, std::string& error) const;
};

// make_test_pki generates a fresh set (RSA: a few hundred ms).
TestPki make_test_pki(KeyKind kind);

// shared_test_pki returns one set per kind, generated on first use and kept
// for the rest of the process.
const TestPki& shared_test_pki(KeyKind kind);

}  // namespace ringmail::test
