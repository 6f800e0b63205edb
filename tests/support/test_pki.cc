// tests/support/test_pki.cc — see test_pki.h.
#include "tests/support/test_pki.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec_key.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

namespace ringmail::test {

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "test_pki: %s failed\n", what);
  std::abort();
}

bssl::UniquePtr<EVP_PKEY> make_key(KeyKind kind) {
  bssl::UniquePtr<EVP_PKEY> pkey(EVP_PKEY_new());
  if (kind == KeyKind::kEcdsaP256) {
    bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
    if (!ec || !EC_KEY_generate_key(ec.get()) || !EVP_PKEY_assign_EC_KEY(pkey.get(), ec.release()))
      die("EC key");
  } else {
    bssl::UniquePtr<RSA> rsa(RSA_new());
    bssl::UniquePtr<BIGNUM> e(BN_new());
    if (!rsa || !e || !BN_set_word(e.get(), RSA_F4) ||
        !RSA_generate_key_ex(rsa.get(), 2048, e.get(), nullptr) ||
        !EVP_PKEY_assign_RSA(pkey.get(), rsa.release())) {
      die("RSA key");
    }
  }
  return pkey;
}

bssl::UniquePtr<EVP_PKEY> copy_key(const bssl::UniquePtr<EVP_PKEY>& key) {
  EVP_PKEY_up_ref(key.get());
  return bssl::UniquePtr<EVP_PKEY>(key.get());
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) die("extension");
}

// make_cert builds a v3 certificate for |key| named |cn|, valid from
// now+|from_s| to now+|to_s|, signed by |issuer| (null: self-signed).
bssl::UniquePtr<X509> make_cert(const char* cn, EVP_PKEY* key, bool is_ca, const char* san, long from_s,
                                long to_s, X509* issuer_cert, EVP_PKEY* issuer_key) {
  static std::atomic<long> serial{1000};
  bssl::UniquePtr<X509> cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3)) die("X509_new");
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const uint8_t*>("ringmail tests"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const uint8_t*>(cn), -1, -1, 0);
  X509* issuer = issuer_cert ? issuer_cert : cert.get();
  if (!X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer))) die("issuer");
  if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_s)) {
    die("validity");
  }
  if (!X509_set_pubkey(cert.get(), key)) die("pubkey");
  add_ext(cert.get(), issuer, NID_subject_key_identifier, "hash");
  if (issuer_cert) add_ext(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
  if (is_ca) {
    add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), issuer, NID_ext_key_usage, "serverAuth,clientAuth");
    if (san) add_ext(cert.get(), issuer, NID_subject_alt_name, san);
  }
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256())) die("sign");
  return cert;
}

constexpr long kDay = 86400;
constexpr const char* kGoodSan = "DNS:localhost,IP:127.0.0.1,IP:::1";

std::string bio_string(BIO* bio) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio, &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

bool write_text(const std::string& path, const std::string& text, std::string& error) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace

std::string TestCert::cert_pem() const {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  return bio_string(bio.get());
}

std::string TestCert::key_pem() const {
  bssl::UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  return bio_string(bio.get());
}

const char* key_kind_name(KeyKind kind) { return kind == KeyKind::kEcdsaP256 ? "p256" : "rsa2048"; }

TestPki make_test_pki(KeyKind kind) {
  TestPki pki;
  pki.kind = kind;
  // Three keys per set (CA, unknown CA, all leaves): RSA generation is slow.
  pki.ca.key = make_key(kind);
  pki.unknown_ca.key = make_key(kind);
  bssl::UniquePtr<EVP_PKEY> leaf_key = make_key(kind);
  pki.ca.cert =
      make_cert("ringmail test CA", pki.ca.key.get(), true, nullptr, -kDay, 3650 * kDay, nullptr, nullptr);
  pki.unknown_ca.cert = make_cert("ringmail unknown CA", pki.unknown_ca.key.get(), true, nullptr, -kDay,
                                  3650 * kDay, nullptr, nullptr);
  auto leaf = [&](TestCert& out, const char* cn, const char* san, long from, long to,
                  const TestCert* issuer) {
    out.key = copy_key(leaf_key);
    out.cert = make_cert(cn, out.key.get(), false, san, from, to, issuer ? issuer->cert.get() : nullptr,
                         issuer ? issuer->key.get() : nullptr);
  };
  leaf(pki.good, "localhost", kGoodSan, -kDay, 365 * kDay, &pki.ca);
  leaf(pki.wrong_name, "wrong.example", "DNS:wrong.example", -kDay, 365 * kDay, &pki.ca);
  leaf(pki.expired, "localhost", kGoodSan, -30 * kDay, -kDay, &pki.ca);
  leaf(pki.not_yet_valid, "localhost", kGoodSan, 10 * kDay, 365 * kDay, &pki.ca);
  leaf(pki.self_signed, "localhost", kGoodSan, -kDay, 365 * kDay, nullptr);
  leaf(pki.unknown_issuer, "localhost", kGoodSan, -kDay, 365 * kDay, &pki.unknown_ca);
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
  if (!write_text(dir + "/ca.pem", ca.cert_pem(), error)) return false;
  if (!write_text(dir + "/unknown_ca.pem", unknown_ca.cert_pem(), error)) return false;
  const std::pair<const char*, const TestCert*> leaves[] = {
      {"good", &good},
      {"wrong_name", &wrong_name},
      {"expired", &expired},
      {"not_yet_valid", &not_yet_valid},
      {"self_signed", &self_signed},
      {"unknown_issuer", &unknown_issuer},
  };
  for (const auto& [name, cert] : leaves) {
    if (!write_text(dir + "/" + name + ".pem", cert->cert_pem(), error)) return false;
    if (!write_text(dir + "/" + name + ".key", cert->key_pem(), error)) return false;
  }
  return true;
}

}  // namespace ringmail::test
