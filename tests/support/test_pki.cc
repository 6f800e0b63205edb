// tests/support/test_pki.cc — see test_pki.h. The certificates themselves
// are made by tls/testing/test_certificates.
#include "tests/support/test_pki.h"

#include <mutex>
#include <utility>

namespace ringmail::test {

TestPki make_test_pki(KeyKind kind) {
  TestPki pki;
  pki.kind = kind;
  // Three keys per set (CA, unknown CA, all leaves): RSA generation is slow.
  pki.ca = make_ca("ringmail test CA", kind);
  pki.unknown_ca = make_ca("ringmail unknown CA", kind);
  const bssl::UniquePtr<EVP_PKEY> leaf_key = make_key(kind);
  constexpr long kDay = kDaySeconds;
  pki.good = make_leaf("localhost", leaf_key, kLocalhostNames, -kDay, 365 * kDay, &pki.ca);
  pki.wrong_name = make_leaf("wrong.example", leaf_key, "DNS:wrong.example", -kDay, 365 * kDay, &pki.ca);
  pki.expired = make_leaf("localhost", leaf_key, kLocalhostNames, -30 * kDay, -kDay, &pki.ca);
  pki.not_yet_valid = make_leaf("localhost", leaf_key, kLocalhostNames, 10 * kDay, 365 * kDay, &pki.ca);
  pki.self_signed = make_leaf("localhost", leaf_key, kLocalhostNames, -kDay, 365 * kDay, nullptr);
  pki.unknown_issuer = make_leaf("localhost", leaf_key, kLocalhostNames, -kDay, 365 * kDay, &pki.unknown_ca);
  return pki;
}

const TestPki& shared_test_pki(KeyKind kind) {
  static std::once_flag once_ec;
  static std::once_flag once_rsa;
  static TestPki ec;
  static TestPki rsa;
  if (kind == KeyKind::kEcdsaP256) {
    std::call_once(once_ec, [] { ec = make_test_pki(KeyKind::kEcdsaP256); });
    return ec;
  }
  std::call_once(once_rsa, [] { rsa = make_test_pki(KeyKind::kRsa2048); });
  return rsa;
}

bool TestPki::write_files(const std::string& dir, std::string& error) const {
  if (!write_text_file(dir + "/ca.pem", ca.cert_pem(), error)) return false;
  if (!write_text_file(dir + "/unknown_ca.pem", unknown_ca.cert_pem(), error)) return false;
  const std::pair<const char*, const TestCert*> leaves[] = {
      {"good", &good},
      {"wrong_name", &wrong_name},
      {"expired", &expired},
      {"not_yet_valid", &not_yet_valid},
      {"self_signed", &self_signed},
      {"unknown_issuer", &unknown_issuer},
  };
  for (const auto& [name, cert] : leaves) {
    if (!write_text_file(dir + "/" + name + ".pem", cert->cert_pem(), error)) return false;
    if (!write_text_file(dir + "/" + name + ".key", cert->key_pem(), error)) return false;
  }
  return true;
}

}  // namespace ringmail::test
