// bench/tls_bench.cc — what TLS costs the engine, in memory (no sockets):
// sealing and opening a 2 KB record, a full TLS 1.3 handshake (client and
// server separately; P-256 vs RSA-2048 server certificate; the client
// verifies chain and name), a resumed handshake with a ticket from the
// per-destination cache, and verifying a server's chain and name against
// the trust store on its own. Counters client_us / server_us are the thread
// CPU time spent inside each side's handshake calls per connection.
// `ringmail bench` measures the same handshakes and records at its start
// (tools/bench/crypto_floor) to print the floor beside its results.
#include <benchmark/benchmark.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_pki.h"
#include "tls/testing/tls_pump.h"
#include "tls/tls_client_context.h"
#include "tls/tls_server_context.h"
#include "tls/tls_session.h"
#include "tls/tls_ticket_cache.h"
#include "tls/tls_verdict.h"

namespace ringmail {
namespace {

struct Fixture {
  std::unique_ptr<TlsClientContext> client_ctx;
  std::unique_ptr<TlsServerContext> server_ctx;
  TlsPeerNames names;
  std::string dir;

  explicit Fixture(test::KeyKind kind) {
    const test::TestPki& pki = test::shared_test_pki(kind);
    char templ[] = "/tmp/ringmail-tls-bench-XXXXXX";
    dir = ::mkdtemp(templ);
    std::string error;
    pki.write_files(dir, error);
    TlsPolicy policy;
    policy.level = TlsLevel::kVerify;
    policy.ca_file = dir + "/ca.pem";
    policy.ca_dir = "";
    client_ctx = TlsClientContext::create(policy, error);
    server_ctx =
        TlsServerContext::create_in_memory(pki.good.cert.get(), nullptr, pki.good.key.get(), {}, error);
    names = tls_peer_names(TlsLevel::kVerify, "localhost", "");
  }
};

void BM_TlsFullHandshake(benchmark::State& state) {
  Fixture f(state.range(0) == 0 ? test::KeyKind::kEcdsaP256 : test::KeyKind::kRsa2048);
  double client_s = 0;
  double server_s = 0;
  for (auto _ : state) {
    TlsSession client;
    TlsSession server;
    client.start_client(*f.client_ctx, f.names, nullptr);
    server.start_server(*f.server_ctx);
    if (!test::timed_handshake_pair(client, server, client_s, server_s))
      state.SkipWithError("handshake failed");
  }
  state.counters["client_us"] = benchmark::Counter(client_s * 1e6 / state.iterations());
  state.counters["server_us"] = benchmark::Counter(server_s * 1e6 / state.iterations());
  state.SetLabel(state.range(0) == 0 ? "P-256 server cert" : "RSA-2048 server cert");
}
BENCHMARK(BM_TlsFullHandshake)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_TlsResumedHandshake(benchmark::State& state) {
  Fixture f(state.range(0) == 0 ? test::KeyKind::kEcdsaP256 : test::KeyKind::kRsa2048);
  TlsTicketCache cache(16);
  double client_s = 0;
  double server_s = 0;
  int64_t resumed = 0;
  for (auto _ : state) {
    TlsSession client;
    TlsSession server;
    client.start_client(*f.client_ctx, f.names, &cache);
    server.start_server(*f.server_ctx);
    if (!test::timed_handshake_pair(client, server, client_s, server_s))
      state.SkipWithError("handshake failed");
    resumed += client.resumed() ? 1 : 0;
    // Read the server's new tickets so the next connection has one (not timed
    // in client_us/server_us; included in the wall time).
    test::settle_after_handshake(client, server);
  }
  state.counters["client_us"] = benchmark::Counter(client_s * 1e6 / state.iterations());
  state.counters["server_us"] = benchmark::Counter(server_s * 1e6 / state.iterations());
  state.counters["resumed"] = benchmark::Counter(static_cast<double>(resumed) / state.iterations());
  state.SetLabel(state.range(0) == 0 ? "P-256 server cert" : "RSA-2048 server cert");
}
BENCHMARK(BM_TlsResumedHandshake)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// One 2 KB message: encrypt on the client, decrypt on the server.
void BM_TlsSealOpen2KB(benchmark::State& state) {
  Fixture f(test::KeyKind::kEcdsaP256);
  TlsSession client;
  TlsSession server;
  client.start_client(*f.client_ctx, f.names, nullptr);
  server.start_server(*f.server_ctx);
  if (test::handshake_pair(client, server) != test::PumpResult::kBothDone) state.SkipWithError("handshake");
  std::string message(2048, 'a');
  std::vector<char> out(4096);
  for (auto _ : state) {
    size_t written = 0;
    client.write_plaintext(message.data(), message.size(), written);
    test::move_ciphertext(client, server);
    size_t read = 0;
    server.read_plaintext(out.data(), out.size(), read);
    benchmark::DoNotOptimize(read);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2048);
  state.SetLabel(client.cipher());
}
BENCHMARK(BM_TlsSealOpen2KB);

// Sealing only: what the engine pays per 2 KB it sends.
void BM_TlsSeal2KB(benchmark::State& state) {
  Fixture f(test::KeyKind::kEcdsaP256);
  TlsSession client;
  TlsSession server;
  client.start_client(*f.client_ctx, f.names, nullptr);
  server.start_server(*f.server_ctx);
  if (test::handshake_pair(client, server) != test::PumpResult::kBothDone) state.SkipWithError("handshake");
  std::string message(2048, 'a');
  for (auto _ : state) {
    size_t written = 0;
    client.write_plaintext(message.data(), message.size(), written);
    client.consume_ciphertext(client.pending_ciphertext().size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2048);
}
BENCHMARK(BM_TlsSeal2KB);

// Chain and name verification alone (what the client pays in a full
// handshake at verify/secure on top of the key exchange): the server's leaf
// against the trust store holding the test CA, name "localhost".
void BM_TlsChainVerify(benchmark::State& state) {
  Fixture f(state.range(0) == 0 ? test::KeyKind::kEcdsaP256 : test::KeyKind::kRsa2048);
  const test::TestPki& pki =
      test::shared_test_pki(state.range(0) == 0 ? test::KeyKind::kEcdsaP256 : test::KeyKind::kRsa2048);
  bssl::UniquePtr<STACK_OF(X509)> chain(sk_X509_new_null());
  X509_up_ref(pki.good.cert.get());
  sk_X509_push(chain.get(), pki.good.cert.get());
  for (auto _ : state) {
    TlsVerdict verdict;
    verify_peer_chain(f.client_ctx->trust_store(), chain.get(), "localhost", verdict);
    if (!verdict.trusted()) state.SkipWithError("chain not trusted");
    benchmark::DoNotOptimize(verdict.problems);
  }
  state.SetLabel(state.range(0) == 0 ? "P-256 chain" : "RSA-2048 chain");
}
BENCHMARK(BM_TlsChainVerify)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ringmail
