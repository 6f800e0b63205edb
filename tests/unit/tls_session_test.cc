// tests/unit/tls_session_test.cc — TlsSession (tls/tls_session.h) as a
// client against an in-memory TlsServerContext server: every level against
// every bad certificate (the verdict's words), the protocol floor and the
// cipher list (this BoringSSL build's old defaults must never leak
// through), resumption through the per-destination cache (TLS 1.3 and 1.2),
// close_notify, ciphertext split at every byte, mutual TLS, and the memory a
// connection costs. Certificates come from tests/support/test_pki, PEM files
// go to a private mkdtemp() folder that is removed afterwards.
#include "tls/tls_session.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_pki.h"
#include "tls/testing/tls_pump.h"
#include "tls/tls_client_context.h"
#include "tls/tls_server_context.h"
#include "tls/tls_ticket_cache.h"

namespace ringmail {
namespace {

using test::KeyKind;
using test::PumpResult;
using test::TestCert;
using test::TestPki;

// PkiDir writes both test PKIs once per process into a temp folder.
class PkiDir {
 public:
  static const PkiDir& get() {
    static PkiDir dir;
    return dir;
  }
  std::string path(KeyKind kind, const std::string& file) const {
    return root_ + "/" + test::key_kind_name(kind) + "/" + file;
  }
  ~PkiDir() { std::filesystem::remove_all(root_); }

 private:
  PkiDir() {
    char templ[] = "/tmp/ringmail-tls-test-XXXXXX";
    if (::mkdtemp(templ) == nullptr) std::abort();
    root_ = templ;
    for (KeyKind kind : {KeyKind::kEcdsaP256, KeyKind::kRsa2048}) {
      std::string dir = root_ + "/" + test::key_kind_name(kind);
      std::filesystem::create_directories(dir);
      std::string error;
      if (!test::shared_test_pki(kind).write_files(dir, error)) std::abort();
    }
  }
  std::string root_;
};

TlsPolicy test_policy(TlsLevel level, KeyKind kind) {
  TlsPolicy policy;
  policy.level = level;
  policy.ca_file = PkiDir::get().path(kind, "ca.pem");
  policy.ca_dir = "";
  return policy;
}

std::unique_ptr<TlsClientContext> client_ctx(const TlsPolicy& policy) {
  std::string error;
  auto ctx = TlsClientContext::create(policy, error);
  EXPECT_TRUE(ctx) << error;
  return ctx;
}

std::unique_ptr<TlsServerContext> server_ctx(const TestCert& cert, const TlsServerOptions& options = {}) {
  std::string error;
  auto ctx = TlsServerContext::create_in_memory(cert.cert.get(), nullptr, cert.key.get(), options, error);
  EXPECT_TRUE(ctx) << error;
  return ctx;
}

// Connection is one client session and one server session, already started.
struct Connection {
  TlsSession client;
  TlsSession server;
};

PumpResult connect(Connection& c, const TlsClientContext& cctx, const TlsServerContext& sctx,
                   const TlsPeerNames& names, TlsTicketCache* cache = nullptr, size_t chunk = SIZE_MAX) {
  EXPECT_TRUE(c.client.start_client(cctx, names, cache));
  EXPECT_TRUE(c.server.start_server(sctx));
  return test::handshake_pair(c.client, c.server, chunk);
}

TEST(TlsSession, GoodCertificateAtEveryLevelIsTrusted) {
  for (KeyKind kind : {KeyKind::kEcdsaP256, KeyKind::kRsa2048}) {
    const TestPki& pki = test::shared_test_pki(kind);
    auto sctx = server_ctx(pki.good);
    for (TlsLevel level : {TlsLevel::kMay, TlsLevel::kEncrypt, TlsLevel::kVerify, TlsLevel::kSecure}) {
      SCOPED_TRACE(std::string(test::key_kind_name(kind)) + " " + tls_level_name(level));
      auto cctx = client_ctx(test_policy(level, kind));
      Connection c;
      ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(level, "localhost", "localhost")),
                PumpResult::kBothDone)
          << c.client.error();
      EXPECT_TRUE(c.client.verdict().trusted());
      EXPECT_STREQ(c.client.verdict().summary(), "trusted");
      EXPECT_EQ(c.client.version(), kTls13);
      EXPECT_STREQ(c.client.version_text(), "TLSv1.3");
      EXPECT_STREQ(c.client.group(), "X25519");
      EXPECT_STREQ(c.client.cipher(), "TLS_AES_128_GCM_SHA256");
      EXPECT_FALSE(c.client.resumed());
      ASSERT_NE(c.client.peer_chain(), nullptr);
      EXPECT_EQ(sk_X509_num(c.client.peer_chain()), 1u);
      EXPECT_EQ(test::send_all(c.client, c.server, "EHLO x\r\n"), "EHLO x\r\n");
    }
  }
}

TEST(TlsSession, IpLiteralIsCheckedAgainstIpSan) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  for (const char* host : {"127.0.0.1", "[::1]"}) {
    Connection c;
    TlsPeerNames names = tls_peer_names(TlsLevel::kVerify, host, "");
    EXPECT_TRUE(names.sni.empty()) << "no SNI for an IP literal";
    ASSERT_EQ(connect(c, *cctx, *sctx, names), PumpResult::kBothDone) << c.client.error();
    EXPECT_TRUE(c.client.verdict().trusted()) << host;
  }
}

// BadCase: one bad certificate, the verdict summary, and words the sentence
// must carry.
struct BadCase {
  const char* name;
  const TestCert TestPki::*cert;
  const char* summary;
  std::vector<std::string> words;
};

std::vector<BadCase> bad_cases() {
  return {
      {"wrong_name",
       &TestPki::wrong_name,
       "name mismatch",
       {"name mismatch", "DNS:wrong.example", "name wanted is localhost", "relay.host", "CN=wrong.example"}},
      {"expired", &TestPki::expired, "expired", {"expired on", "renew", "CN=localhost"}},
      {"not_yet_valid", &TestPki::not_yet_valid, "not yet valid", {"not valid before", "clock"}},
      {"self_signed",
       &TestPki::self_signed,
       "self-signed",
       {"self-signed", "not in the trust store", "--save-chain", "tls.ca_dir"}},
      {"unknown_issuer",
       &TestPki::unknown_issuer,
       "unknown issuer",
       {"issuer CN=ringmail unknown CA,O=ringmail tests is not in the trust store", "tls.ca_file",
        "--save-chain"}},
  };
}

TEST(TlsSession, EveryBadCertificateAtEveryLevel) {
  for (KeyKind kind : {KeyKind::kEcdsaP256, KeyKind::kRsa2048}) {
    const TestPki& pki = test::shared_test_pki(kind);
    for (const BadCase& bad : bad_cases()) {
      auto sctx = server_ctx(pki.*bad.cert);
      for (TlsLevel level : {TlsLevel::kMay, TlsLevel::kEncrypt, TlsLevel::kVerify, TlsLevel::kSecure}) {
        SCOPED_TRACE(std::string(test::key_kind_name(kind)) + " " + bad.name + " at " +
                     tls_level_name(level));
        auto cctx = client_ctx(test_policy(level, kind));
        Connection c;
        PumpResult result = connect(c, *cctx, *sctx, tls_peer_names(level, "localhost", "localhost"));
        const TlsVerdict& v = c.client.verdict();
        EXPECT_TRUE(v.checked);
        EXPECT_FALSE(v.trusted());
        EXPECT_STREQ(v.summary(), bad.summary);
        std::string sentence = v.explain(level, cctx->trust_store_name());
        for (const auto& word : bad.words)
          EXPECT_NE(sentence.find(word), std::string::npos) << word << " in: " << sentence;
        if (tls_level_enforces_certificate(level)) {
          EXPECT_EQ(result, PumpResult::kClientFailed);
          EXPECT_EQ(std::string(c.client.error()), sentence);
          EXPECT_NE(sentence.find("tls = \"encrypt\""), std::string::npos) << sentence;
          EXPECT_EQ(sentence.rfind("not trusted: certificate ", 0), 0u) << sentence;
        } else {
          EXPECT_EQ(result, PumpResult::kBothDone) << c.client.error();
          EXPECT_EQ(sentence.rfind("not verified (level ", 0), 0u) << sentence;
        }
      }
    }
  }
}

TEST(TlsSession, SecureChecksTheNextHopDomainNotTheHost) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kSecure, KeyKind::kEcdsaP256));
  {
    // Connected to 127.0.0.1 (e.g. from an MX lookup), next hop localhost.
    Connection c;
    TlsPeerNames names = tls_peer_names(TlsLevel::kSecure, "127.0.0.1", "localhost");
    EXPECT_EQ(names.verify_name, "localhost");
    EXPECT_EQ(connect(c, *cctx, *sctx, names), PumpResult::kBothDone) << c.client.error();
  }
  {
    Connection c;
    TlsPeerNames names = tls_peer_names(TlsLevel::kSecure, "localhost", "example.org");
    EXPECT_EQ(names.sni, "localhost");
    EXPECT_EQ(connect(c, *cctx, *sctx, names), PumpResult::kClientFailed);
    EXPECT_NE(std::string(c.client.error()).find("name wanted is example.org"), std::string::npos)
        << c.client.error();
  }
}

TEST(TlsSession, UnknownIssuerAgainstTheSystemStore) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  TlsPolicy policy;
  policy.level = TlsLevel::kVerify;  // ca_dir = /etc/ssl/certs
  std::string error;
  auto cctx = TlsClientContext::create(policy, error);
  if (!cctx) GTEST_SKIP() << "no system trust store here: " << error;
  EXPECT_GT(cctx->trust_store_certs(), 10u);
  auto sctx = server_ctx(pki.good);
  Connection c;
  EXPECT_EQ(connect(c, *cctx, *sctx, tls_peer_names(policy.level, "localhost", "")),
            PumpResult::kClientFailed);
  EXPECT_STREQ(c.client.verdict().summary(), "unknown issuer");
  EXPECT_NE(std::string(c.client.error()).find("not in the trust store (ca_dir /etc/ssl/certs)"),
            std::string::npos)
      << c.client.error();
}

TEST(TlsSession, DefaultCipherListIsEcdheAeadOnly) {
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(cctx->ssl_ctx());
  ASSERT_NE(ciphers, nullptr);
  ASSERT_GT(sk_SSL_CIPHER_num(ciphers), 0u);
  for (size_t i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    SCOPED_TRACE(SSL_CIPHER_get_name(cipher));
    EXPECT_EQ(SSL_CIPHER_get_kx_nid(cipher), NID_kx_ecdhe);
    EXPECT_TRUE(SSL_CIPHER_is_aead(cipher));
  }
  EXPECT_EQ(SSL_CTX_get_min_proto_version(cctx->ssl_ctx()), kTls12);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(cctx->ssl_ctx()), kTls13);
}

TEST(TlsSession, ServerOfferingOnlyOldProtocolsFails) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kRsa2048);
  auto cctx = client_ctx(test_policy(TlsLevel::kEncrypt, KeyKind::kRsa2048));
  for (uint16_t version : {kTls10, kTls11}) {
    TlsServerOptions options;
    options.min_version = version;
    options.max_version = version;
    options.ciphers = "ECDHE-RSA-AES128-SHA:AES128-SHA";
    auto sctx = server_ctx(pki.good, options);
    Connection c;
    PumpResult result = connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kEncrypt, "localhost", ""));
    EXPECT_NE(result, PumpResult::kBothDone) << tls_version_text(version);
    EXPECT_FALSE(c.client.handshake_done());
    EXPECT_NE(std::string(c.client.error()).find("no TLS version in common"), std::string::npos)
        << c.client.error();
  }
}

TEST(TlsSession, ServerOfferingOnlyRsaKeyExchangeOr3desFails) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kRsa2048);
  auto cctx = client_ctx(test_policy(TlsLevel::kEncrypt, KeyKind::kRsa2048));
  for (const char* list :
       {"AES128-SHA:AES256-SHA", "DES-CBC3-SHA", "AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA"}) {
    TlsServerOptions options;
    options.max_version = kTls12;
    options.ciphers = list;
    std::string error;
    auto sctx =
        TlsServerContext::create_in_memory(pki.good.cert.get(), nullptr, pki.good.key.get(), options, error);
    if (!sctx) {
      // This BoringSSL does not even know the suite: it cannot be offered.
      SUCCEED() << list << ": " << error;
      continue;
    }
    Connection c;
    PumpResult result = connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kEncrypt, "localhost", ""));
    EXPECT_NE(result, PumpResult::kBothDone) << list;
    EXPECT_FALSE(c.client.handshake_done()) << list;
    EXPECT_NE(std::string(c.client.error()).find("no cipher in common"), std::string::npos)
        << list << ": " << c.client.error();
  }
}

TEST(TlsSession, Tls12NegotiatesEcdheAead) {
  for (KeyKind kind : {KeyKind::kEcdsaP256, KeyKind::kRsa2048}) {
    const TestPki& pki = test::shared_test_pki(kind);
    TlsServerOptions options;
    options.max_version = kTls12;
    options.ciphers = "ALL";  // the server would accept anything
    auto sctx = server_ctx(pki.good, options);
    auto cctx = client_ctx(test_policy(TlsLevel::kVerify, kind));
    Connection c;
    ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kVerify, "localhost", "")),
              PumpResult::kBothDone)
        << c.client.error();
    EXPECT_EQ(c.client.version(), kTls12);
    std::string cipher = c.client.cipher();
    EXPECT_EQ(cipher.rfind("TLS_ECDHE_", 0), 0u) << cipher;
    EXPECT_NE(cipher.find("GCM"), std::string::npos) << cipher;
  }
}

TEST(TlsSession, Tls13ResumptionTakesEachTicketOnce) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  TlsTicketCache cache(4);
  TlsPeerNames names = tls_peer_names(TlsLevel::kVerify, "localhost", "");
  {
    Connection c;
    ASSERT_EQ(connect(c, *cctx, *sctx, names, &cache), PumpResult::kBothDone);
    EXPECT_FALSE(c.client.resumed());
    ASSERT_TRUE(test::settle_after_handshake(c.client, c.server));
  }
  ASSERT_EQ(cache.size(), 2u) << "BoringSSL sends two single-use tickets";
  {
    Connection c;
    ASSERT_EQ(connect(c, *cctx, *sctx, names, &cache), PumpResult::kBothDone) << c.client.error();
    EXPECT_TRUE(c.client.resumed());
    EXPECT_TRUE(c.server.resumed());
    EXPECT_TRUE(c.client.verdict().trusted());
    EXPECT_TRUE(c.client.verdict().from_resumption);
    EXPECT_EQ(cache.size(), 1u) << "the ticket used is gone";
  }
  EXPECT_EQ(cache.offered(), 1u);
}

TEST(TlsSession, TicketCacheIsBounded) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  TlsPolicy policy = test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256);
  auto cctx = client_ctx(policy);
  TlsTicketCache cache(3);
  for (int i = 0; i < 4; i++) {
    Connection c;
    ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(policy.level, "localhost", ""), &cache),
              PumpResult::kBothDone);
    EXPECT_EQ(c.client.resumed(), i > 0) << i;
    ASSERT_TRUE(test::settle_after_handshake(c.client, c.server));
    EXPECT_LE(cache.size(), 3u);
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.stored(), 8u);   // two tickets per connection
  EXPECT_EQ(cache.offered(), 3u);  // one per connection after the first
  EXPECT_EQ(cache.dropped(), 2u);  // 8 stored - 3 taken - 3 kept
}

TEST(TlsSession, Tls12SessionIsReusable) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  TlsServerOptions options;
  options.max_version = kTls12;
  auto sctx = server_ctx(pki.good, options);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  TlsTicketCache cache(4);
  TlsPeerNames names = tls_peer_names(TlsLevel::kVerify, "localhost", "");
  {
    Connection c;
    ASSERT_EQ(connect(c, *cctx, *sctx, names, &cache), PumpResult::kBothDone);
    EXPECT_FALSE(c.client.resumed());
  }
  ASSERT_EQ(cache.size(), 1u);
  for (int i = 0; i < 3; i++) {
    Connection c;
    ASSERT_EQ(connect(c, *cctx, *sctx, names, &cache), PumpResult::kBothDone) << c.client.error();
    EXPECT_TRUE(c.client.resumed()) << i;
    EXPECT_EQ(c.client.version(), kTls12);
  }
  EXPECT_GE(cache.size(), 1u) << "a TLS 1.2 session stays";
}

TEST(TlsSession, ResumptionOffIgnoresTheCache) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  TlsPolicy policy = test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256);
  policy.session_resumption = false;
  auto cctx = client_ctx(policy);
  TlsTicketCache cache(4);
  Connection c;
  ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(policy.level, "localhost", ""), &cache),
            PumpResult::kBothDone);
  ASSERT_TRUE(test::settle_after_handshake(c.client, c.server));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(TlsSession, CloseSendsCloseNotify) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  Connection c;
  ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kVerify, "localhost", "")),
            PumpResult::kBothDone);
  EXPECT_EQ(c.client.close(), TlsStep::kDone);
  EXPECT_FALSE(c.client.pending_ciphertext().empty());
  test::move_ciphertext(c.client, c.server);
  char buf[64];
  size_t read = 0;
  EXPECT_EQ(c.server.read_plaintext(buf, sizeof buf, read), TlsIo::kClosed);
  EXPECT_TRUE(c.server.peer_sent_close_notify());
}

TEST(TlsSession, TruncationWithoutCloseNotifyIsAnError) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  Connection c;
  ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kVerify, "localhost", "")),
            PumpResult::kBothDone);
  c.client.feed_eof();
  char buf[64];
  size_t read = 0;
  EXPECT_EQ(c.client.read_plaintext(buf, sizeof buf, read), TlsIo::kFailed);
  EXPECT_NE(std::string(c.client.error()).find("without a TLS close_notify"), std::string::npos);
}

TEST(TlsSession, EofDuringHandshakeIsExplained) {
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  TlsSession client;
  ASSERT_TRUE(client.start_client(*cctx, tls_peer_names(TlsLevel::kVerify, "localhost", ""), nullptr));
  EXPECT_EQ(client.handshake(), TlsStep::kWantMore);
  EXPECT_FALSE(client.pending_ciphertext().empty()) << "ClientHello";
  client.feed_eof();
  EXPECT_EQ(client.handshake(), TlsStep::kFailed);
  EXPECT_NE(std::string(client.error()).find("closed the connection during the TLS handshake"),
            std::string::npos);
}

TEST(TlsSession, PlainSmtpInsteadOfTlsIsExplained) {
  auto cctx = client_ctx(test_policy(TlsLevel::kEncrypt, KeyKind::kEcdsaP256));
  TlsSession client;
  ASSERT_TRUE(client.start_client(*cctx, tls_peer_names(TlsLevel::kEncrypt, "localhost", ""), nullptr));
  client.handshake();
  std::string greeting = "220 mx.example ESMTP ready\r\n";
  client.feed_ciphertext(reinterpret_cast<const uint8_t*>(greeting.data()), greeting.size());
  EXPECT_EQ(client.handshake(), TlsStep::kFailed);
  EXPECT_NE(std::string(client.error()).find("did not answer with TLS"), std::string::npos) << client.error();
}

TEST(TlsSession, CiphertextFedOneByteAtATime) {
  for (KeyKind kind : {KeyKind::kEcdsaP256, KeyKind::kRsa2048}) {
    const TestPki& pki = test::shared_test_pki(kind);
    auto sctx = server_ctx(pki.good);
    auto cctx = client_ctx(test_policy(TlsLevel::kVerify, kind));
    Connection c;
    ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kVerify, "localhost", ""), nullptr, 1),
              PumpResult::kBothDone)
        << c.client.error();
    EXPECT_TRUE(c.client.verdict().trusted());
  }
}

TEST(TlsSession, ServerFlightSplitAtEveryByte) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  TlsPeerNames names = tls_peer_names(TlsLevel::kVerify, "localhost", "");
  // Learn the size of the server's first flight once; every handshake has a
  // flight of about the same length (same certificate, same extensions).
  size_t flight = 0;
  {
    Connection c;
    ASSERT_TRUE(c.client.start_client(*cctx, names, nullptr));
    ASSERT_TRUE(c.server.start_server(*sctx));
    c.client.handshake();
    test::move_ciphertext(c.client, c.server);
    c.server.handshake();
    flight = c.server.pending_ciphertext().size();
  }
  ASSERT_GT(flight, 100u);
  for (size_t split = 1; split < flight; split++) {
    Connection c;
    ASSERT_TRUE(c.client.start_client(*cctx, names, nullptr));
    ASSERT_TRUE(c.server.start_server(*sctx));
    c.client.handshake();
    test::move_ciphertext(c.client, c.server);
    c.server.handshake();
    auto pending = c.server.pending_ciphertext();
    // An ECDSA signature's length varies by a byte or two.
    ASSERT_NEAR(static_cast<double>(pending.size()), static_cast<double>(flight), 4.0);
    std::vector<uint8_t> bytes(pending.begin(), pending.end());
    size_t n = bytes.size();
    if (split >= n) break;
    c.server.consume_ciphertext(bytes.size());
    ASSERT_EQ(c.client.feed_ciphertext(bytes.data(), split), split);
    ASSERT_EQ(c.client.handshake(), TlsStep::kWantMore) << split;
    ASSERT_EQ(c.client.feed_ciphertext(bytes.data() + split, n - split), n - split);
    ASSERT_EQ(c.client.handshake(), TlsStep::kDone) << "split at " << split << ": " << c.client.error();
    test::move_ciphertext(c.client, c.server);
    ASSERT_EQ(c.server.handshake(), TlsStep::kDone) << split;
  }
}

TEST(TlsSession, LargeTransferBothWays) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  Connection c;
  ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kVerify, "localhost", "")),
            PumpResult::kBothDone);
  std::string body(300'000, '\0');
  for (size_t i = 0; i < body.size(); i++) body[i] = static_cast<char>('a' + i % 26);
  EXPECT_EQ(test::send_all(c.client, c.server, body), body);
  EXPECT_EQ(test::send_all(c.server, c.client, body), body);
}

TEST(TlsSession, BackPressureBoundsBuffers) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  Connection c;
  ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kVerify, "localhost", "")),
            PumpResult::kBothDone);
  // Output: with nothing pending one full record goes in; then want-more.
  std::string chunk(kMaxPlaintextPerWrite, 'x');
  size_t written = 0;
  EXPECT_EQ(c.client.write_plaintext(chunk.data(), chunk.size(), written), TlsIo::kOk);
  EXPECT_EQ(written, chunk.size());
  EXPECT_EQ(c.client.write_plaintext(chunk.data(), chunk.size(), written), TlsIo::kWantMore);
  EXPECT_LE(c.client.pending_ciphertext().size(), kMaxPendingCiphertextOut);
  // Deliver it (the server reads it all), then small writes pack into the
  // room, within the bound.
  std::vector<char> sink(kMaxPlaintextPerWrite);
  for (int i = 0; i < 100 && !c.client.pending_ciphertext().empty(); i++) {
    test::move_ciphertext(c.client, c.server);
    size_t got = 0;
    while (c.server.read_plaintext(sink.data(), sink.size(), got) == TlsIo::kOk) {
    }
  }
  ASSERT_TRUE(c.client.pending_ciphertext().empty());
  std::string alert(2048, 'a');
  int packed = 0;
  while (c.client.write_plaintext(alert.data(), alert.size(), written) == TlsIo::kOk) packed++;
  EXPECT_GE(packed, 7);
  EXPECT_LE(c.client.pending_ciphertext().size(), kMaxPendingCiphertextOut);
  // Input: feed stops at the bound until BoringSSL takes bytes in.
  auto pending = c.client.pending_ciphertext();
  std::vector<uint8_t> bytes(pending.begin(), pending.end());
  size_t accepted = c.server.feed_ciphertext(bytes.data(), bytes.size());
  EXPECT_EQ(accepted, kMaxBufferedCiphertextIn);
  EXPECT_EQ(c.server.feed_ciphertext(bytes.data() + accepted, bytes.size() - accepted), 0u);
  char buf[4096];
  size_t read = 0;
  EXPECT_EQ(c.server.read_plaintext(buf, sizeof buf, read), TlsIo::kOk);
  EXPECT_GT(c.server.feed_ciphertext(bytes.data() + accepted, bytes.size() - accepted), 0u);
}

TEST(TlsSession, MutualTlsWithClientCertificate) {
  KeyKind kind = KeyKind::kEcdsaP256;
  const TestPki& pki = test::shared_test_pki(kind);
  TlsServerOptions options;
  options.client_ca_file = PkiDir::get().path(kind, "ca.pem");
  auto sctx = server_ctx(pki.good, options);
  TlsPolicy policy = test_policy(TlsLevel::kVerify, kind);
  {
    auto cctx = client_ctx(policy);
    Connection c;
    EXPECT_EQ(connect(c, *cctx, *sctx, tls_peer_names(policy.level, "localhost", "")),
              PumpResult::kServerFailed);
    // TLS 1.3: the client finished first and hears the alert on its next read.
    char buf[16];
    size_t read = 0;
    EXPECT_EQ(c.client.read_plaintext(buf, sizeof buf, read), TlsIo::kFailed);
    EXPECT_NE(std::string(c.client.error()).find("refused ringmail's client certificate"), std::string::npos)
        << c.client.error();
  }
  policy.client_cert = PkiDir::get().path(kind, "good.pem");
  policy.client_key = PkiDir::get().path(kind, "good.key");
  auto cctx = client_ctx(policy);
  Connection c;
  ASSERT_EQ(connect(c, *cctx, *sctx, tls_peer_names(policy.level, "localhost", "")), PumpResult::kBothDone)
      << c.client.error();
  EXPECT_NE(SSL_get_peer_full_cert_chain(c.server.ssl()), nullptr);
}

// resident_bytes: this process's resident set, from /proc/self/statm.
size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0;
  size_t pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// MemoryCost is what one open connection holds, averaged over many.
struct MemoryCost {
  size_t client_heap = 0;  // bytes in use in the heap (glibc's count)
  size_t server_heap = 0;
  size_t resident_both = 0;  // resident set growth per connection pair
};

// measure_open_connections keeps |count| client connections open (servers
// are torn down one by one to split the heap between the sides). With
// |transfer|, 100 kB go each way on each connection first, so the buffers
// a busy connection keeps are counted too. The unit tests are not linked
// with mimalloc: glibc malloc's in-use count is the measure.
MemoryCost measure_open_connections(int count, bool transfer) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  TlsPeerNames names = tls_peer_names(TlsLevel::kVerify, "localhost", "");
  {
    Connection c;  // warm up lazily created global state
    connect(c, *cctx, *sctx, names);
    test::settle_after_handshake(c.client, c.server);
  }
  const std::string body(100'000, 'm');
  std::vector<std::unique_ptr<TlsSession>> clients;
  clients.reserve(static_cast<size_t>(count));
  size_t client_bytes = 0;
  size_t server_bytes = 0;
  size_t rss_before = resident_bytes();
  for (int i = 0; i < count; i++) {
    auto client = std::make_unique<TlsSession>();
    auto server = std::make_unique<TlsSession>();
    size_t before = mallinfo2().uordblks;
    EXPECT_TRUE(client->start_client(*cctx, names, nullptr));
    EXPECT_TRUE(server->start_server(*sctx));
    EXPECT_EQ(test::handshake_pair(*client, *server), PumpResult::kBothDone);
    EXPECT_TRUE(test::settle_after_handshake(*client, *server));
    if (transfer) {
      EXPECT_EQ(test::send_all(*client, *server, body).size(), body.size());
      EXPECT_EQ(test::send_all(*server, *client, body).size(), body.size());
    }
    size_t with_both = mallinfo2().uordblks - before;
    size_t before_free = mallinfo2().uordblks;
    server.reset();
    size_t server_part = before_free - mallinfo2().uordblks;
    client_bytes += with_both - server_part;
    server_bytes += server_part + sizeof(TlsSession);
    clients.push_back(std::move(client));
  }
  MemoryCost cost;
  cost.client_heap = client_bytes / static_cast<size_t>(count) + sizeof(TlsSession);
  cost.server_heap = server_bytes / static_cast<size_t>(count);
  size_t rss_after = resident_bytes();
  cost.resident_both = rss_after > rss_before ? (rss_after - rss_before) / static_cast<size_t>(count) : 0;
  return cost;
}

// worst_case_buffers: heap a client connection adds on top of its idle cost
// when every bound is reached at once: its input BIO full, its output BIO
// full, and BoringSSL holding a decrypted record the owner has only partly
// read.
size_t worst_case_buffers() {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto sctx = server_ctx(pki.good);
  auto cctx = client_ctx(test_policy(TlsLevel::kVerify, KeyKind::kEcdsaP256));
  Connection c;
  EXPECT_EQ(connect(c, *cctx, *sctx, tls_peer_names(TlsLevel::kVerify, "localhost", "")),
            PumpResult::kBothDone);
  EXPECT_TRUE(test::settle_after_handshake(c.client, c.server));
  std::string chunk(kMaxPlaintextPerWrite, 'x');
  size_t written = 0;
  while (c.server.write_plaintext(chunk.data(), chunk.size(), written) == TlsIo::kOk) {
  }
  size_t before = mallinfo2().uordblks;  // the server's own growth is not counted
  test::move_ciphertext(c.server, c.client);
  while (c.client.write_plaintext(chunk.data(), chunk.size(), written) == TlsIo::kOk) {
  }
  char small[100];
  size_t read = 0;
  TlsIo r = TlsIo::kWantMore;
  for (int i = 0; i < 10 && r == TlsIo::kWantMore; i++) {
    test::move_ciphertext(c.server, c.client);
    r = c.client.read_plaintext(small, sizeof small, read);
  }
  EXPECT_EQ(r, TlsIo::kOk);
  test::move_ciphertext(c.server, c.client);  // refill the input BIO
  size_t after = mallinfo2().uordblks;
  return after - before;
}

TEST(TlsSession, MemoryPerOpenConnection) {
  MemoryCost idle = measure_open_connections(256, false);
  if (idle.client_heap <= sizeof(TlsSession)) {
    GTEST_SKIP() << "glibc's heap counters do not move: another allocator (a sanitizer's) is in use";
  }
  MemoryCost busy = measure_open_connections(64, true);
  size_t worst = idle.client_heap + worst_case_buffers();
  std::printf("worst case per client connection (every buffer bound reached at once): %zu bytes\n", worst);
  EXPECT_LE(worst, 64u * 1024u);
  std::printf(
      "per open TLS 1.3 connection (P-256, verify), heap in use: idle after the handshake: client %zu bytes, "
      "server %zu; after 100 kB each way: client %zu, server %zu (sizeof(TlsSession) %zu); resident set "
      "growth "
      "per idle client: %zu bytes\n",
      idle.client_heap, idle.server_heap, busy.client_heap, busy.server_heap, sizeof(TlsSession),
      idle.resident_both);
  EXPECT_LE(idle.client_heap, 24u * 1024u);
  EXPECT_LE(busy.client_heap, 64u * 1024u);
}

}  // namespace
}  // namespace ringmail
