// tls/testing/test_certificates.cc — see test_certificates.h.
#include "tls/testing/test_certificates.h"

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

namespace ringmail::test {

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "test_certificates: %s failed\n", what);
  std::abort();
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) die("extension");
}

// make_cert builds a v3 certificate for |key| named |cn|, valid from
// now+|from_s| to now+|to_s|, signed by |issuer_cert|/|issuer_key| (null:
// self-signed).
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

std::string bio_string(BIO* bio) {
  const uint8_t* data = nullptr;
  size_t len = 0;
  BIO_mem_contents(bio, &data, &len);
  return std::string(reinterpret_cast<const char*>(data), len);
}

}  // namespace

const char* key_kind_name(KeyKind kind) { return kind == KeyKind::kEcdsaP256 ? "p256" : "rsa2048"; }

bool parse_key_kind(const std::string& text, KeyKind& out) {
  if (text == "p256") {
    out = KeyKind::kEcdsaP256;
  } else if (text == "rsa2048") {
    out = KeyKind::kRsa2048;
  } else {
    return false;
  }
  return true;
}

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

TestCert make_ca(const char* common_name, KeyKind kind) {
  TestCert ca;
  ca.key = make_key(kind);
  ca.cert =
      make_cert(common_name, ca.key.get(), true, nullptr, -kDaySeconds, 3650 * kDaySeconds, nullptr, nullptr);
  return ca;
}

TestCert make_leaf(const char* common_name, const bssl::UniquePtr<EVP_PKEY>& key, const char* names,
                   long from_s, long to_s, const TestCert* issuer) {
  TestCert leaf;
  EVP_PKEY_up_ref(key.get());
  leaf.key.reset(key.get());
  leaf.cert = make_cert(common_name, leaf.key.get(), false, names, from_s, to_s,
                        issuer ? issuer->cert.get() : nullptr, issuer ? issuer->key.get() : nullptr);
  return leaf;
}

ServerChain make_server_chain(KeyKind kind) {
  ServerChain chain;
  chain.kind = kind;
  chain.ca = make_ca("ringmail bench CA", kind);
  chain.server =
      make_leaf("localhost", make_key(kind), kLocalhostNames, -kDaySeconds, 365 * kDaySeconds, &chain.ca);
  return chain;
}

bool ServerChain::write_files(const std::string& dir, std::string& error) const {
  return write_text_file(dir + "/ca.pem", ca.cert_pem(), error) &&
         write_text_file(dir + "/server.pem", server.cert_pem(), error) &&
         write_text_file(dir + "/server.key", server.key_pem(), error);
}

bool write_text_file(const std::string& path, const std::string& text, std::string& error) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
  if (!out) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace ringmail::test
