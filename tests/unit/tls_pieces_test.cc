// tests/unit/tls_pieces_test.cc — the pure parts of tls/: the STARTTLS
// injection guard, policy names and versions, the ticket cache's bounds,
// configuration errors as operator sentences, and certificate descriptions.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/test_pki.h"
#include "tls/starttls_guard.h"
#include "tls/tls_certificate.h"
#include "tls/tls_client_context.h"
#include "tls/tls_policy.h"
#include "tls/tls_server_context.h"
#include "tls/tls_ticket_cache.h"
#include "tls/tls_verdict.h"

namespace ringmail {
namespace {

TEST(StartTlsGuard, Table) {
  struct Case {
    uint16_t code;
    size_t after;
    StartTlsReplyVerdict want;
    const char* word;
  } cases[] = {
      {220, 0, StartTlsReplyVerdict::kStartHandshake, ""},
      {220, 1, StartTlsReplyVerdict::kInjection, "1 byte after its 220"},
      {220, 37, StartTlsReplyVerdict::kInjection, "37 bytes after its 220"},
      {454, 0, StartTlsReplyVerdict::kRefused, "454 instead of 220"},
      {502, 5, StartTlsReplyVerdict::kRefused, "502"},
      {250, 0, StartTlsReplyVerdict::kRefused, "250"},
  };
  for (const Case& c : cases) {
    std::string reason = "stale";
    EXPECT_EQ(judge_starttls_reply(c.code, c.after, reason), c.want) << c.code << " " << c.after;
    if (c.want == StartTlsReplyVerdict::kStartHandshake) {
      EXPECT_TRUE(reason.empty());
    } else {
      EXPECT_NE(reason.find(c.word), std::string::npos) << reason;
    }
  }
  std::string reason;
  judge_starttls_reply(220, 9, reason);
  EXPECT_NE(reason.find("CVE-2011-0411"), std::string::npos);
}

TEST(TlsPolicy, PeerNames) {
  TlsPeerNames n = tls_peer_names(TlsLevel::kVerify, "mx1.example.org.", "example.org");
  EXPECT_EQ(n.sni, "mx1.example.org");
  EXPECT_EQ(n.verify_name, "mx1.example.org");
  n = tls_peer_names(TlsLevel::kSecure, "mx1.example.org", "example.org");
  EXPECT_EQ(n.sni, "mx1.example.org");
  EXPECT_EQ(n.verify_name, "example.org");
  n = tls_peer_names(TlsLevel::kVerify, "[2001:db8::1]", "");
  EXPECT_EQ(n.sni, "");
  EXPECT_EQ(n.verify_name, "2001:db8::1");
  n = tls_peer_names(TlsLevel::kEncrypt, "192.0.2.7", "");
  EXPECT_EQ(n.sni, "");
  EXPECT_EQ(n.verify_name, "192.0.2.7");
}

TEST(TlsPolicy, PeerNamesFromPolicy) {
  TlsPolicy policy;
  policy.level = TlsLevel::kSecure;
  policy.next_hop_domain = "example.org";
  TlsPeerNames n = tls_peer_names(policy, "192.0.2.7");
  EXPECT_EQ(n.sni, "");
  EXPECT_EQ(n.verify_name, "example.org");
  policy.sni_name = "mx.example.org";
  n = tls_peer_names(policy, "192.0.2.7");
  EXPECT_EQ(n.sni, "mx.example.org");
  policy.level = TlsLevel::kVerify;
  EXPECT_EQ(tls_peer_names(policy, "192.0.2.7").verify_name, "192.0.2.7");
  policy.sni_name = "10.0.0.1";  // never an IP literal as SNI
  EXPECT_EQ(tls_peer_names(policy, "relay.example").sni, "relay.example");
}

TEST(TlsPolicy, Versions) {
  uint16_t v = 0;
  EXPECT_TRUE(parse_tls_version("1.2", v));
  EXPECT_EQ(v, kTls12);
  EXPECT_TRUE(parse_tls_version("TLSv1.3", v));
  EXPECT_EQ(v, kTls13);
  EXPECT_TRUE(parse_tls_version("TLS1.0", v));
  EXPECT_EQ(v, kTls10);
  EXPECT_FALSE(parse_tls_version("1.4", v));
  EXPECT_FALSE(parse_tls_version("SSLv3", v));
  EXPECT_FALSE(parse_tls_version("", v));
  EXPECT_STREQ(tls_version_text(kTls13), "TLSv1.3");
  EXPECT_EQ(kTls12, TLS1_2_VERSION);
  EXPECT_EQ(kTls13, TLS1_3_VERSION);
  TlsPolicy defaults;
  EXPECT_EQ(defaults.min_version, kTls12);
  EXPECT_EQ(defaults.max_version, kTls13);
  EXPECT_EQ(defaults.ca_dir, "/etc/ssl/certs");
  EXPECT_TRUE(defaults.session_resumption);
}

TEST(TlsTicketCache, BoundedAndSingleUse) {
  // Sessions made by hand: a TLS 1.3-like single-use session is not
  // resumable without a ticket, so cache behaviour is covered end to end in
  // tls_session_test; here: capacity 0 and empty behaviour.
  TlsTicketCache off(0);
  EXPECT_EQ(off.take(), nullptr);
  off.put(nullptr);
  EXPECT_EQ(off.size(), 0u);
  TlsTicketCache cache(2);
  EXPECT_EQ(cache.take(), nullptr);
  EXPECT_EQ(cache.capacity(), 2u);
  // A session that is not resumable is dropped, not stored.
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  cache.put(SSL_SESSION_new(ctx.get()));
  EXPECT_EQ(cache.size(), 0u);
}

class TlsConfigErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/ringmail-tls-config-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Error(const TlsPolicy& policy) {
    std::string error;
    auto ctx = TlsClientContext::create(policy, error);
    EXPECT_EQ(ctx, nullptr);
    return error;
  }
  std::string dir_;
};

TEST_F(TlsConfigErrors, Sentences) {
  TlsPolicy policy;
  policy.level = TlsLevel::kVerify;
  policy.ca_dir = "";
  policy.ca_file = dir_ + "/missing.pem";
  std::string e = Error(policy);
  EXPECT_NE(e.find("tls.ca_file: cannot read " + dir_ + "/missing.pem: No such file or directory"),
            std::string::npos)
      << e;

  std::ofstream(dir_ + "/empty.pem") << "not a certificate\n";
  policy.ca_file = dir_ + "/empty.pem";
  e = Error(policy);
  EXPECT_NE(e.find("holds no PEM certificate"), std::string::npos) << e;

  policy.ca_file = "";
  policy.ca_dir = dir_ + "/nodir";
  e = Error(policy);
  EXPECT_NE(e.find("tls.ca_dir " + dir_ + "/nodir: cannot list the directory"), std::string::npos) << e;

  policy.ca_dir = "";
  policy.ciphers = "DHE-RSA-AES128-GCM-SHA256";
  e = Error(policy);
  EXPECT_NE(e.find("tls.ciphers \"DHE-RSA-AES128-GCM-SHA256\" is not a cipher list BoringSSL accepts"),
            std::string::npos)
      << e;

  policy.ciphers = std::string(kTlsDefaultCiphers);
  policy.min_version = kTls13;
  policy.max_version = kTls12;
  e = Error(policy);
  EXPECT_NE(e.find("tls.min_version TLSv1.3 is above tls.max_version TLSv1.2"), std::string::npos) << e;

  policy.min_version = kTls12;
  policy.max_version = kTls13;
  policy.client_cert = dir_ + "/c.pem";
  e = Error(policy);
  EXPECT_NE(e.find("go together"), std::string::npos) << e;

  policy.client_key = dir_ + "/c.key";
  e = Error(policy);
  EXPECT_NE(e.find("tls.client_cert " + dir_ + "/c.pem: cannot load"), std::string::npos) << e;

  const auto& pki = test::shared_test_pki(test::KeyKind::kEcdsaP256);
  std::ofstream(dir_ + "/c.pem") << pki.good.cert_pem();
  std::ofstream(dir_ + "/c.key") << pki.ca.key_pem();
  e = Error(policy);
  EXPECT_NE(e.find("does not belong to the certificate"), std::string::npos) << e;
}

TEST_F(TlsConfigErrors, ServerContextFromFiles) {
  TlsServerOptions options;
  options.cert_file = dir_ + "/missing.pem";
  options.key_file = dir_ + "/missing.key";
  std::string error;
  EXPECT_EQ(TlsServerContext::create(options, error), nullptr);
  EXPECT_NE(error.find("TLS certificate " + dir_ + "/missing.pem: cannot load"), std::string::npos) << error;

  const auto& pki = test::shared_test_pki(test::KeyKind::kEcdsaP256);
  std::ofstream(dir_ + "/s.pem") << pki.good.cert_pem();
  std::ofstream(dir_ + "/s.key") << pki.good.key_pem();
  options.cert_file = dir_ + "/s.pem";
  options.key_file = dir_ + "/s.key";
  EXPECT_NE(TlsServerContext::create(options, error), nullptr) << error;

  options.ciphers = "RC4-SHA";
  EXPECT_EQ(TlsServerContext::create(options, error), nullptr);
  EXPECT_NE(error.find("server tls.ciphers \"RC4-SHA\""), std::string::npos) << error;
}

TEST(TlsCertificate, Describe) {
  const auto& ec = test::shared_test_pki(test::KeyKind::kEcdsaP256);
  const auto& rsa = test::shared_test_pki(test::KeyKind::kRsa2048);
  X509* good = ec.good.cert.get();
  EXPECT_EQ(cert_subject_text(good), "CN=localhost,O=ringmail tests");
  EXPECT_EQ(cert_issuer_text(good), "CN=ringmail test CA,O=ringmail tests");
  EXPECT_EQ(cert_common_name(good), "localhost");
  EXPECT_EQ(cert_names_text(good), "DNS:localhost, IP:127.0.0.1, IP:::1");
  EXPECT_EQ(cert_key_text(good), "ECDSA P-256");
  EXPECT_EQ(cert_key_text(rsa.good.cert.get()), "RSA 2048 bits");
  EXPECT_FALSE(cert_is_self_issued(good));
  EXPECT_TRUE(cert_is_self_issued(ec.self_signed.cert.get()));
  EXPECT_NE(cert_pem(good).find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  std::string t = cert_time_text(X509_get0_notAfter(good));
  EXPECT_EQ(t.size(), std::string("2027-11-30 22:00:00 UTC").size()) << t;
  EXPECT_EQ(cert_file_stem("mx1.example.org"), "mx1.example.org");
  EXPECT_EQ(cert_file_stem("../../etc/passwd"), "_.._etc_passwd");
  EXPECT_EQ(cert_file_stem("Amazon RSA 2048 M01"), "Amazon_RSA_2048_M01");
  EXPECT_EQ(cert_file_stem(""), "certificate");
  EXPECT_EQ(printable("a\x1b[31m\n"), "a\\x1b[31m\\x0a");
}

TEST(TlsVerdict, NamesAndSummaries) {
  const auto& ec = test::shared_test_pki(test::KeyKind::kEcdsaP256);
  EXPECT_TRUE(cert_matches_name(ec.good.cert.get(), "localhost"));
  EXPECT_TRUE(cert_matches_name(ec.good.cert.get(), "127.0.0.1"));
  EXPECT_TRUE(cert_matches_name(ec.good.cert.get(), "::1"));
  EXPECT_FALSE(cert_matches_name(ec.good.cert.get(), "127.0.0.2"));
  EXPECT_FALSE(cert_matches_name(ec.good.cert.get(), "example.org"));
  EXPECT_FALSE(cert_matches_name(ec.good.cert.get(), ""));
  TlsVerdict none;
  EXPECT_STREQ(none.summary(), "not checked");
  EXPECT_FALSE(none.trusted());
  // No chain at all.
  bssl::UniquePtr<X509_STORE> store(X509_STORE_new());
  TlsVerdict v;
  verify_peer_chain(store.get(), nullptr, "localhost", v);
  EXPECT_STREQ(v.summary(), "no certificate");
  EXPECT_NE(v.explain(TlsLevel::kVerify, "x").find("sent no certificate"), std::string::npos);
}

}  // namespace
}  // namespace ringmail
