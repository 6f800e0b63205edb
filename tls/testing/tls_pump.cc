// tls/testing/tls_pump.cc — see tls_pump.h.
#include "tls/testing/tls_pump.h"

#include <time.h>

#include <algorithm>
#include <vector>

namespace ringmail::test {

size_t move_ciphertext(TlsSession& from, TlsSession& to, size_t chunk) {
  size_t moved = 0;
  for (;;) {
    auto pending = from.pending_ciphertext();
    if (pending.empty()) break;
    size_t n = std::min(pending.size(), chunk);
    size_t accepted = to.feed_ciphertext(pending.data(), n);
    if (accepted == 0) break;
    from.consume_ciphertext(accepted);
    moved += accepted;
    if (chunk != SIZE_MAX) {
      // Let the receiver look at each piece on its own.
      if (!to.handshake_done()) to.handshake();
    }
  }
  return moved;
}

PumpResult handshake_pair(TlsSession& client, TlsSession& server, size_t chunk) {
  for (int round = 0; round < 10000; round++) {
    TlsStep c = client.handshake();
    size_t moved = move_ciphertext(client, server, chunk);
    if (c == TlsStep::kFailed) return PumpResult::kClientFailed;
    TlsStep s = server.handshake();
    moved += move_ciphertext(server, client, chunk);
    if (s == TlsStep::kFailed) {
      client.handshake();  // let the client read the alert
      return PumpResult::kServerFailed;
    }
    if (c == TlsStep::kDone && s == TlsStep::kDone) return PumpResult::kBothDone;
    if (moved == 0 && c == TlsStep::kWantMore && s == TlsStep::kWantMore) return PumpResult::kStuck;
    if (moved == 0 && c == TlsStep::kDone && s == TlsStep::kWantMore) return PumpResult::kStuck;
  }
  return PumpResult::kStuck;
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool timed_handshake_pair(TlsSession& client, TlsSession& server, double& client_s, double& server_s) {
  for (int round = 0; round < 100; round++) {
    const double t0 = thread_cpu_seconds();
    const TlsStep c = client.handshake();
    const double t1 = thread_cpu_seconds();
    move_ciphertext(client, server);
    const double t2 = thread_cpu_seconds();
    const TlsStep s = server.handshake();
    const double t3 = thread_cpu_seconds();
    move_ciphertext(server, client);
    client_s += t1 - t0;
    server_s += t3 - t2;
    if (c == TlsStep::kFailed || s == TlsStep::kFailed) return false;
    if (c == TlsStep::kDone && s == TlsStep::kDone) return true;
  }
  return false;
}

std::string send_all(TlsSession& from, TlsSession& to, const std::string& data) {
  std::string got;
  size_t offset = 0;
  std::vector<char> buf(16384);
  for (int round = 0; round < 100000 && (offset < data.size() || !from.pending_ciphertext().empty());
       round++) {
    size_t written = 0;
    if (offset < data.size()) {
      TlsIo w = from.write_plaintext(data.data() + offset, data.size() - offset, written);
      if (w == TlsIo::kFailed) break;
      offset += written;
    }
    move_ciphertext(from, to);
    for (;;) {
      size_t read = 0;
      TlsIo r = to.read_plaintext(buf.data(), buf.size(), read);
      if (r != TlsIo::kOk) break;
      got.append(buf.data(), read);
    }
  }
  return got;
}

bool settle_after_handshake(TlsSession& client, TlsSession& server) {
  return send_all(server, client, "ping") == "ping" && send_all(client, server, "pong") == "pong";
}

}  // namespace ringmail::test
