// tests/unit/tls_record_layer_test.cc — engine/tls_record_layer against an
// in-memory TLS server (tls/TlsSession as a server, certificates from
// tests/support/test_pki): the handshake driven through the RecordLayer
// seam as SmtpConnection drives it, ciphertext handed over one byte at a
// time and all at once; the level decides whether a bad certificate fails;
// plaintext both ways; close_notify; resumption from the ticket cache.
#include "engine/tls_record_layer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/test_pki.h"
#include "tls/tls_client_context.h"
#include "tls/tls_server_context.h"
#include "tls/tls_ticket_cache.h"

namespace ringmail {
namespace {

using test::KeyKind;
using test::TestCert;
using test::TestPki;

// PkiDir writes the test PKI once per process into a temporary folder,
// removed at exit.
struct PkiDir {
  PkiDir() {
    char templ[] = "/tmp/ringmail-record-layer-test-XXXXXX";
    if (::mkdtemp(templ) == nullptr) std::abort();
    root = templ;
    std::string error;
    if (!test::shared_test_pki(KeyKind::kEcdsaP256).write_files(root, error)) std::abort();
  }
  ~PkiDir() { std::filesystem::remove_all(root); }
  std::string root;
};

std::string ca_file() {
  static const PkiDir dir;
  return dir.root + "/ca.pem";
}

std::unique_ptr<TlsClientContext> client_ctx(TlsLevel level) {
  TlsPolicy policy;
  policy.level = level;
  policy.ca_file = ca_file();
  policy.ca_dir = "";
  policy.next_hop_domain = "localhost";
  std::string error;
  auto ctx = TlsClientContext::create(policy, error);
  EXPECT_TRUE(ctx) << error;
  return ctx;
}

std::unique_ptr<TlsServerContext> server_ctx(const TestCert& cert) {
  std::string error;
  auto ctx = TlsServerContext::create_in_memory(cert.cert.get(), nullptr, cert.key.get(), {}, error);
  EXPECT_TRUE(ctx) << error;
  return ctx;
}

// Wire moves ciphertext between the layer (client) and a server session,
// |chunk| bytes at a time, and collects the plaintext the layer yields.
struct Wire {
  Wire(TlsRecordLayer& l, TlsSession& s, size_t c) : layer(l), server(s), chunk(c) {}
  TlsRecordLayer& layer;
  TlsSession& server;
  size_t chunk;
  std::string to_client;  // ciphertext from the server not yet taken by the layer
  std::string plain;      // plaintext the layer produced
  bool handshake_done = false;
  bool failed = false;
  bool closed = false;

  void server_to_client() {
    const std::span<const uint8_t> out = server.pending_ciphertext();
    to_client.append(reinterpret_cast<const char*>(out.data()), out.size());
    server.consume_ciphertext(out.size());
  }
  void client_to_server() {
    for (;;) {
      const std::string_view out = layer.ciphertext_out();
      if (out.empty()) return;
      const size_t n = server.feed_ciphertext(reinterpret_cast<const uint8_t*>(out.data()), out.size());
      layer.consume_ciphertext_out(n);
      if (!server.handshake_done()) server.handshake();
      if (n == 0) return;
    }
  }
  // step: one exchange; false when nothing moved.
  bool step() {
    bool moved = false;
    client_to_server();
    if (!server.handshake_done()) server.handshake();
    server_to_client();
    while (!to_client.empty() && !failed && !closed) {
      const size_t n = to_client.size() < chunk ? to_client.size() : chunk;
      size_t used = 0;
      size_t got = 0;
      char buf[4096];
      const RecordLayer::Status status =
          layer.read_ciphertext(to_client.data(), n, used, buf, sizeof(buf), got);
      to_client.erase(0, used);
      plain.append(buf, got);
      if (status == RecordLayer::Status::kFailed) failed = true;
      if (status == RecordLayer::Status::kClosed) closed = true;
      if (status == RecordLayer::Status::kHandshakeDone) handshake_done = true;
      if (used == 0 && got == 0 && status == RecordLayer::Status::kOk) break;
      moved = true;
    }
    // Plaintext may wait inside the session with no ciphertext left.
    for (int i = 0; i < 4 && handshake_done && !failed && !closed; ++i) {
      size_t used = 0, got = 0;
      char buf[4096];
      const RecordLayer::Status status = layer.read_ciphertext(nullptr, 0, used, buf, sizeof(buf), got);
      plain.append(buf, got);
      if (status == RecordLayer::Status::kClosed) closed = true;
      if (got == 0) break;
      moved = true;
    }
    return moved || !layer.ciphertext_out().empty();
  }
  void run() {
    for (int i = 0; i < 100000 && !failed && step();) ++i;
  }
};

struct Case {
  const char* name;
  const TestCert TestPki::*cert;
  TlsLevel level;
  bool succeeds;
  const char* words;  // in describe_failure() when it fails
};

class TlsRecordLayerTest : public ::testing::TestWithParam<size_t> {};

TEST_P(TlsRecordLayerTest, LevelsAndCertificates) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  const Case cases[] = {
      {"good verify", &TestPki::good, TlsLevel::kVerify, true, ""},
      {"good secure", &TestPki::good, TlsLevel::kSecure, true, ""},
      {"wrong name may", &TestPki::wrong_name, TlsLevel::kMay, true, ""},
      {"wrong name encrypt", &TestPki::wrong_name, TlsLevel::kEncrypt, true, ""},
      {"wrong name verify", &TestPki::wrong_name, TlsLevel::kVerify, false, "name mismatch"},
      {"self-signed verify", &TestPki::self_signed, TlsLevel::kVerify, false, "self-signed"},
      {"expired secure", &TestPki::expired, TlsLevel::kSecure, false, "expired"},
      {"unknown issuer verify", &TestPki::unknown_issuer, TlsLevel::kVerify, false, "not in the trust store"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto cctx = client_ctx(c.level);
    auto sctx = server_ctx(pki.*c.cert);
    TlsRecordLayer layer(cctx.get());
    TlsSession server;
    ASSERT_TRUE(server.start_server(*sctx));
    ASSERT_EQ(layer.start_handshake("localhost"), RecordLayer::Status::kOk);
    Wire wire(layer, server, GetParam());
    wire.run();
    EXPECT_EQ(wire.handshake_done, c.succeeds) << layer.describe_failure();
    EXPECT_EQ(wire.failed, !c.succeeds);
    if (!c.succeeds) {
      EXPECT_NE(layer.describe_failure().find(c.words), std::string::npos) << layer.describe_failure();
      continue;
    }
    // Plaintext both ways.
    size_t used = 0;
    ASSERT_EQ(layer.write_plaintext("EHLO client.test\r\n", 18, used), RecordLayer::Status::kOk);
    EXPECT_EQ(used, 18u);
    wire.client_to_server();
    char buf[64];
    size_t got = 0;
    ASSERT_EQ(server.read_plaintext(buf, sizeof(buf), got), TlsIo::kOk);
    EXPECT_EQ(std::string(buf, got), "EHLO client.test\r\n");
    size_t wrote = 0;
    ASSERT_EQ(server.write_plaintext("250 ok\r\n", 8, wrote), TlsIo::kOk);
    wire.run();
    EXPECT_NE(wire.plain.find("250 ok\r\n"), std::string::npos);
    // close_notify reaches the server.
    layer.shutdown();
    EXPECT_FALSE(layer.ciphertext_out().empty());
    wire.client_to_server();
    EXPECT_EQ(server.read_plaintext(buf, sizeof(buf), got), TlsIo::kClosed);
    layer.reset();
    EXPECT_FALSE(layer.started());
  }
}

INSTANTIATE_TEST_SUITE_P(Chunks, TlsRecordLayerTest, ::testing::Values(1, 7, SIZE_MAX));

TEST(TlsRecordLayer, SecondConnectionResumes) {
  const TestPki& pki = test::shared_test_pki(KeyKind::kEcdsaP256);
  auto cctx = client_ctx(TlsLevel::kVerify);
  auto sctx = server_ctx(pki.good);
  TlsTicketCache cache(16);
  TlsRecordLayer layer(cctx.get());
  layer.bind_cache(&cache);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    TlsSession server;
    ASSERT_TRUE(server.start_server(*sctx));
    ASSERT_EQ(layer.start_handshake("localhost"), RecordLayer::Status::kOk);
    Wire wire(layer, server, SIZE_MAX);
    wire.run();
    ASSERT_TRUE(wire.handshake_done) << layer.describe_failure();
    // Let the client read the server's tickets (TLS 1.3 sends them after
    // the handshake): one message each way.
    size_t used = 0;
    ASSERT_EQ(layer.write_plaintext("NOOP\r\n", 6, used), RecordLayer::Status::kOk);
    wire.client_to_server();
    char buf[64];
    size_t got = 0;
    server.read_plaintext(buf, sizeof(buf), got);
    size_t wrote = 0;
    ASSERT_EQ(server.write_plaintext("250 ok\r\n", 8, wrote), TlsIo::kOk);
    wire.run();
    EXPECT_EQ(layer.session().resumed(), round == 1);
    if (round == 1) {
      EXPECT_NE(layer.summary().find("resumed"), std::string::npos) << layer.summary();
    }
    layer.reset();
  }
  EXPECT_GE(cache.stored(), 1u);
}

}  // namespace
}  // namespace ringmail
