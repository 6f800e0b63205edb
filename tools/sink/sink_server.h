// tools/sink/sink_server.h — the event loop of `ringmail sink`: N server
// threads, each with its own io_uring and its own SO_REUSEPORT listening
// socket on the same address, serving SMTP sessions (sink_session.h).
//
// Who uses it: tools/cmd_sink.cc (start, wait on stop_fd(), stop, totals).
// Each thread creates and owns its ring and socket; nothing is shared between
// threads but the read-only config, the fault table (atomics) and the stop
// eventfd. Bounded: max_connections_per_thread slots, each with a 64 KiB
// receive buffer and a 4 KiB reply buffer allocated at start-up; a
// connection beyond the limit is answered "421 4.3.2 too many connections"
// and closed. Never sleeps or blocks on a worker thread, except for the
// --maildir writes (a test aid).
//
// TLS (--tls-cert/--tls-key, --implicit-tls): a TlsSession sits between the
// socket and the session machine, which only ever sees plaintext. Slots get
// a TlsSession and a 16 KiB plaintext buffer at start-up, only when TLS is
// configured; BoringSSL allocates its SSL object and record buffers per TLS
// connection (docs/tls.md: under 64 KiB). Clear connections take the same
// path as before and allocate nothing per message.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tls/tls_server_context.h"
#include "tools/sink/sink_faults.h"
#include "tools/sink/sink_session.h"
#include "tools/sink/sink_stats.h"

namespace ringmail::sink {

struct SinkServerConfig {
  std::string listen = "127.0.0.1:2525";  // HOST:PORT, [V6]:PORT; port 0 = any free
  uint32_t threads = 1;                   // server threads, one io_uring each (1..256)
  uint32_t max_connections_per_thread = 1024;
  std::string maildir;      // "" = discard bodies
  uint64_t exit_after = 0;  // signal stop_fd() after this many messages
  uint32_t delay_ms = 0;    // delay every reply batch (io_uring timeout)
  SessionConfig session;    // hostname, esmtp, pipelining, chunking, limits
  // tls: the server context (owned by the caller, shared read-only by the
  // threads); null = no TLS. With implicit_tls every connection starts
  // with the handshake; otherwise session.starttls offers STARTTLS.
  const TlsServerContext* tls = nullptr;
  bool implicit_tls = false;
};

// ListenAddress is a parsed --listen value.
struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t size = 0;
};

// parse_listen_address accepts "127.0.0.1:2525", "[::1]:2525", "host:2525"
// (resolved once, first result) and port 0. Returns false with |error| set.
bool parse_listen_address(std::string_view text, ListenAddress& out, std::string& error);

// format_listen_address prints "127.0.0.1:2525" or "[::1]:2525".
std::string format_listen_address(const ListenAddress& address);

class SinkWorker;  // one server thread (sink_server.cc)

class SinkServer {
 public:
  // SinkServer keeps |faults| (may be null), which must outlive it.
  SinkServer(SinkServerConfig config, const SinkFaults* faults);
  ~SinkServer();  // stop()s
  SinkServer(const SinkServer&) = delete;
  SinkServer& operator=(const SinkServer&) = delete;

  // start starts the threads one by one; each sets up its ring and binds its
  // socket on its own thread (the first resolves port 0 for the others).
  // Returns false with |error| set (a sentence) if any thread fails; then
  // no thread is left running.
  bool start(std::string& error);

  // bound_address is the address actually listened on (port 0 resolved).
  const ListenAddress& bound_address() const { return bound_; }

  // stop_fd is an eventfd that becomes readable when the server should
  // stop: --exit-after reached, or request_stop() called. Poll it; never
  // read it (the threads watch it too).
  int stop_fd() const { return stop_fd_; }

  // request_stop makes stop_fd() readable (async-signal-safe).
  void request_stop();

  // stop requests a stop and joins the threads; idempotent.
  void stop();

  // totals sums the threads' counters (relaxed: may lag by a message).
  SinkTotals totals() const;

  // first_connection_ns is CLOCK_MONOTONIC of the first accepted connection,
  // 0 if none yet.
  int64_t first_connection_ns() const { return first_connection_ns_.load(std::memory_order_relaxed); }

  // Shared is what the threads share: read-only after start, plus atomics.
  struct Shared {
    SinkServerConfig config;
    const SinkFaults* faults = nullptr;
    ListenAddress address;  // port resolved by thread 0 before the others bind
    int stop_fd = -1;
    std::atomic<uint64_t> messages_total{0};  // only kept when exit_after > 0
    std::atomic<int64_t>* first_connection_ns = nullptr;
    std::atomic<bool> ring_mode_logged{false};
  };

 private:
  Shared shared_;
  ListenAddress bound_;
  int stop_fd_ = -1;
  bool stopped_ = false;
  std::atomic<int64_t> first_connection_ns_{0};
  std::vector<std::unique_ptr<SinkWorker>> workers_;
  std::vector<std::thread> threads_;
};

// monotonic_ns is CLOCK_MONOTONIC in nanoseconds.
int64_t monotonic_ns();

}  // namespace ringmail::sink
