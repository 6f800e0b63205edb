// tools/bench/crypto_floor.cc — see crypto_floor.h.
#include "tools/bench/crypto_floor.h"

#include <algorithm>
#include <memory>
#include <string_view>

#include "tls/testing/tls_pump.h"
#include "tls/tls_client_context.h"
#include "tls/tls_policy.h"
#include "tls/tls_server_context.h"
#include "tls/tls_session.h"
#include "tls/tls_ticket_cache.h"

namespace ringmail::bench {

namespace {

constexpr int kHandshakes = 60;  // per kind; ~30 ms with P-256, ~60 ms with RSA-2048

struct Contexts {
  std::unique_ptr<TlsClientContext> client;
  std::unique_ptr<TlsServerContext> server;
  TlsPeerNames names = tls_peer_names(TlsLevel::kVerify, "localhost", "");
};

bool make_contexts(const test::ServerChain& chain, const std::string& ca_file, Contexts& out,
                   std::string& error) {
  TlsPolicy policy;
  policy.level = TlsLevel::kVerify;
  policy.ca_file = ca_file;
  policy.ca_dir = "";
  out.client = TlsClientContext::create(policy, error);
  if (!out.client) return false;
  out.server = TlsServerContext::create_in_memory(chain.server.cert.get(), nullptr, chain.server.key.get(),
                                                  TlsServerOptions{}, error);
  return out.server != nullptr;
}

// measure_handshakes runs kHandshakes handshakes (with |cache|: resumed
// ones, after one full handshake that fills it) and averages each side,
// the server's session tickets included (sent and taken with a first short
// reply, as in SMTP).
bool measure_handshakes(const Contexts& contexts, TlsTicketCache* cache, HandshakeCost& out,
                        std::string& error) {
  double client_s = 0;
  double server_s = 0;
  for (int i = -1; i < kHandshakes; ++i) {  // i = -1: warm-up (and the cache's first ticket)
    TlsSession client;
    TlsSession server;
    client.start_client(*contexts.client, contexts.names, cache);
    server.start_server(*contexts.server);
    double c = 0;
    double s = 0;
    if (!test::timed_handshake_pair(client, server, c, s)) {
      error = "the in-memory TLS handshake for the crypto floor failed: " + std::string(client.error()) +
              std::string(server.error());
      return false;
    }
    // BoringSSL's server sends its session tickets with its first write
    // after the handshake (in SMTP: the reply to the second EHLO), and the
    // client takes them with that reply: both are part of what a
    // connection costs, so one short reply each way is timed too.
    constexpr std::string_view kReply = "250 ok\r\n";
    size_t written = 0;
    const double t0 = test::thread_cpu_seconds();
    server.write_plaintext(kReply.data(), kReply.size(), written);
    s += test::thread_cpu_seconds() - t0;
    test::move_ciphertext(server, client);
    char plain[64];
    size_t read = 0;
    const double t1 = test::thread_cpu_seconds();
    while (client.read_plaintext(plain, sizeof(plain), read) == TlsIo::kOk) {
    }
    c += test::thread_cpu_seconds() - t1;
    if (i < 0) continue;
    if (cache != nullptr && !client.resumed()) {
      error = "the in-memory TLS handshake for the crypto floor was not resumed";
      return false;
    }
    client_s += c;
    server_s += s;
  }
  out.client_us = client_s * 1e6 / kHandshakes;
  out.server_us = server_s * 1e6 / kHandshakes;
  return true;
}

// send_message seals |message| on |client| (records of up to 16 KiB); with
// |server|, opens it there too, else drops the ciphertext (that client's
// stream is then of no use to a server). False on failure or no progress.
bool send_message(TlsSession& client, TlsSession* server, const std::string& message,
                  std::vector<char>& plain) {
  for (size_t offset = 0; offset < message.size();) {
    size_t written = 0;
    if (client.write_plaintext(message.data() + offset, message.size() - offset, written) == TlsIo::kFailed) {
      return false;
    }
    offset += written;
    if (server == nullptr) {
      client.consume_ciphertext(client.pending_ciphertext().size());
    } else {
      const size_t moved = test::move_ciphertext(client, *server);
      size_t read = 0;
      while (server->read_plaintext(plain.data(), plain.size(), read) == TlsIo::kOk) {
      }
      if (written == 0 && moved == 0) return false;
    }
  }
  return true;
}

// measure_record times sealing |size| bytes alone (ciphertext dropped),
// then sealing and opening them on a second pair, many times each, with one
// clock reading around each loop (reading the thread clock costs about a
// microsecond here, as much as a 2 KiB record); opening is the difference.
bool measure_record(const Contexts& contexts, uint32_t size, RecordCost& out, std::string& cipher) {
  TlsSession sealer, sealer_peer, client, server;
  for (auto [c, s] : {std::pair{&sealer, &sealer_peer}, std::pair{&client, &server}}) {
    c->start_client(*contexts.client, contexts.names, nullptr);
    s->start_server(*contexts.server);
    if (test::handshake_pair(*c, *s) != test::PumpResult::kBothDone) return false;
  }
  cipher = client.cipher();
  const std::string message(size, 'a');
  std::vector<char> plain(kMaxPlaintextPerWrite);
  const int iterations = static_cast<int>(std::clamp<uint32_t>((8u << 20) / size, 20, 4000));
  bool ok = true;
  const double t0 = test::thread_cpu_seconds();
  for (int i = 0; ok && i < iterations; ++i) ok = send_message(sealer, nullptr, message, plain);
  const double t1 = test::thread_cpu_seconds();
  for (int i = 0; ok && i < iterations; ++i) ok = send_message(client, &server, message, plain);
  const double t2 = test::thread_cpu_seconds();
  const double seal_us = (t1 - t0) * 1e6 / iterations;
  out = RecordCost{size, seal_us, std::max(0.0, (t2 - t1) * 1e6 / iterations - seal_us)};
  return ok;
}

}  // namespace

RecordCost CryptoFloor::record_for(uint32_t size) const {
  for (const RecordCost& record : records) {
    if (record.size == size) return record;
  }
  return RecordCost{size, 0, 0};
}

double CryptoFloor::client_us_per_message(uint32_t size, uint32_t per_connection, bool resumption) const {
  return handshake(resumption).client_us / per_connection + record_for(size).seal_us;
}

double CryptoFloor::server_us_per_message(uint32_t size, uint32_t per_connection, bool resumption) const {
  return handshake(resumption).server_us / per_connection + record_for(size).open_us;
}

double CryptoFloor::ceiling_msgs_per_s(uint32_t size, uint32_t per_connection, bool resumption,
                                       unsigned cpus) const {
  const double us = client_us_per_message(size, per_connection, resumption) +
                    server_us_per_message(size, per_connection, resumption);
  return us > 0 ? cpus * 1e6 / us : 0;
}

bool measure_crypto_floor(const test::ServerChain& chain, const std::string& ca_file,
                          const std::vector<uint32_t>& sizes, CryptoFloor& out, std::string& error) {
  out.cert = chain.kind;
  Contexts contexts;
  if (!make_contexts(chain, ca_file, contexts, error)) return false;
  if (!measure_handshakes(contexts, nullptr, out.full, error)) return false;
  TlsTicketCache cache(16);
  if (!measure_handshakes(contexts, &cache, out.resumed, error)) return false;
  out.records.clear();
  for (uint32_t size : sizes) {
    RecordCost record;
    if (!measure_record(contexts, size, record, out.cipher)) {
      error = "sealing a message for the crypto floor failed";
      return false;
    }
    out.records.push_back(record);
  }
  return true;
}

}  // namespace ringmail::bench
