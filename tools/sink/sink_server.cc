// tools/sink/sink_server.cc — the io_uring event loop of `ringmail sink`.
// See sink_server.h. One SinkWorker per thread; everything a worker touches
// on its hot path is its own. Each connection has at most one operation in
// flight (recv, send, or the --delay-ms timeout), so a slot is only reused
// after its last completion and no cancellation is ever needed.
#include "tools/sink/sink_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <future>
#include <span>

#include "tls/tls_session.h"
#include "tools/sink/sink_maildir.h"

namespace ringmail::sink {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

bool parse_listen_address(std::string_view text, ListenAddress& out, std::string& error) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = fmt::format("--listen '{}' is not [V6ADDRESS]:PORT (e.g. [::1]:2525)", text);
      return false;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = fmt::format("--listen '{}' has no port; write HOST:PORT (e.g. 127.0.0.1:2525)", text);
      return false;
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535) {
    error = fmt::format("--listen '{}': the port must be a number from 0 to 65535", text);
    return false;
  }
  out = ListenAddress{};
  if (host.empty()) host = "0.0.0.0";
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.size = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.size = sizeof(sockaddr_in6);
    return true;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result); rc != 0 || !result) {
    error = fmt::format("--listen '{}': cannot resolve '{}': {}", text, host, gai_strerror(rc));
    return false;
  }
  std::memcpy(&out.storage, result->ai_addr, result->ai_addrlen);
  out.size = static_cast<socklen_t>(result->ai_addrlen);
  freeaddrinfo(result);
  if (out.storage.ss_family == AF_INET)
    v4->sin_port = htons(static_cast<uint16_t>(port));
  else
    v6->sin6_port = htons(static_cast<uint16_t>(port));
  return true;
}

std::string format_listen_address(const ListenAddress& address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (address.storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
    return fmt::format("[{}]:{}", host, ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
  inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
  return fmt::format("{}:{}", host, ntohs(v4->sin_port));
}

namespace {

constexpr unsigned kRingEntries = 2048;
constexpr size_t kRecvBytes = 64 * 1024;
// kPlainBytes: decrypted bytes waiting for the session machine (one record).
constexpr size_t kPlainBytes = kMaxPlaintextPerWrite;
constexpr int kListenBacklog = 4096;
constexpr int64_t kAcceptRetryNs = 10'000'000;  // after an accept error (EMFILE...)
constexpr char kTooManyConnections[] = "421 4.3.2 too many connections\r\n";

// Op is what a completion is for; it sits in the top byte of user_data,
// the connection slot index in the low 32 bits.
enum Op : uint64_t {
  kOpAccept = 1,
  kOpAcceptRetry,  // timeout before re-arming a failed accept
  kOpRecv,
  kOpSend,
  kOpDelay,     // --delay-ms timeout before a send
  kOpClose,     // fire-and-forget close (result ignored)
  kOpOverflow,  // 421 to a connection beyond the limit (result ignored)
  kOpStop,      // the stop eventfd became readable
};

uint64_t tag(Op op, uint32_t index = 0) { return (static_cast<uint64_t>(op) << 56) | index; }

}  // namespace

// Connection is one slot of a worker's pool, reused for every connection it
// serves. Its buffers are allocated once, at start-up.
struct Connection {
  Connection(const SessionConfig* config, const SinkFaults* faults, bool with_tls)
      : recv_buffer(new char[kRecvBytes]), session(config, faults) {
    if (with_tls) {
      tls = std::make_unique<TlsSession>();
      plain_buffer.reset(new char[kPlainBytes]);
    }
  }

  int fd = -1;
  uint32_t index = 0;
  bool close_after_send = false;
  bool delay_done = false;  // the --delay-ms timeout ran for this batch
  uint32_t recv_start = 0;  // unconsumed input: [recv_start, recv_end)
  uint32_t recv_end = 0;
  uint32_t pending_messages = 0;  // accepted in the output being sent
  uint32_t pending_recipients = 0;
  uint32_t pending_8bitmime = 0;
  uint32_t pending_smtputf8 = 0;
  uint32_t pending_messages_tls = 0;
  // TLS. tls_on: the socket carries TLS records (ciphertext in recv_buffer,
  // decrypted bytes in plain_buffer[plain_start, plain_end)).
  bool tls_on = false;
  bool starttls_pending = false;  // the 220 to STARTTLS is being sent in clear
  bool close_notify_queued = false;
  uint32_t tls_spins = 0;  // loop guard in pump_tls
  uint32_t plain_start = 0;
  uint32_t plain_end = 0;
  std::unique_ptr<TlsSession> tls;
  std::unique_ptr<char[]> plain_buffer;
  __kernel_timespec delay{};
  std::unique_ptr<char[]> recv_buffer;
  SmtpServerSession session;
  std::unique_ptr<MaildirWriter> maildir;
};

class SinkWorker {
 public:
  SinkWorker(SinkServer::Shared* shared, uint32_t index) : shared_(shared), index_(index) {}
  ~SinkWorker() { teardown(); }

  // setup creates the ring and the listening socket on the calling thread
  // (the worker's own). Returns "" or an error sentence.
  std::string setup();
  // run serves until the stop eventfd fires, then closes everything.
  void run();

  WorkerCounters counters;
  const ListenAddress& bound() const { return bound_; }

 private:
  io_uring_sqe* get_sqe();
  void arm_accept();
  void arm_recv(Connection& c);
  void handle(uint64_t user_data, int res, uint32_t flags);
  void on_accept(int res, uint32_t flags);
  void on_accepted(int fd);
  void on_recv(Connection& c, int res);
  void on_send(Connection& c, int res);
  void process_input(Connection& c);
  // account adds one feed's counts to the connection and the worker.
  void account(Connection& c, const FeedResult& r);
  // start_tls begins the server side of a handshake on |c|.
  bool start_tls(Connection& c);
  // pump_tls moves bytes through TLS and the session until it needs to send
  // or to receive, then sends, receives or closes.
  void pump_tls(Connection& c);
  void send_output(Connection& c);
  void close_connection(Connection& c);
  void credit(Connection& c);
  void teardown();

  SinkServer::Shared* shared_;
  uint32_t index_;
  io_uring ring_{};
  bool ring_ready_ = false;
  int listen_fd_ = -1;
  ListenAddress bound_;
  bool multishot_accept_ = true;
  bool accept_seen_ok_ = false;
  bool stopping_ = false;
  bool first_connection_seen_ = false;
  uint64_t next_queue_id_ = 1;
  __kernel_timespec accept_retry_{0, kAcceptRetryNs};
  SessionConfig session_config_;
  std::vector<std::unique_ptr<Connection>> slots_;
  std::vector<uint32_t> free_slots_;  // a stack of free slot indexes
};

std::string SinkWorker::setup() {
  const SinkServerConfig& config = shared_->config;
  session_config_ = config.session;
  session_config_.queue_id_prefix = index_;

  // Ring: the cheapest completion mode the kernel offers, logged once.
  struct Mode {
    unsigned flags;
    const char* name;
  };
  const Mode modes[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "SINGLE_ISSUER|DEFER_TASKRUN"},
      {IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN"},
      {0, "no setup flags"},
  };
  int rc = -EINVAL;
  const char* mode_name = "";
  for (const Mode& mode : modes) {
    io_uring_params params{};
    params.flags = mode.flags;
    rc = io_uring_queue_init_params(kRingEntries, &ring_, &params);
    if (rc == 0) {
      mode_name = mode.name;
      break;
    }
  }
  if (rc != 0) {
    return fmt::format(
        "cannot create an io_uring ({}); the sink needs Linux 5.19 or later with "
        "io_uring enabled (sysctl kernel.io_uring_disabled = 0)",
        std::strerror(-rc));
  }
  ring_ready_ = true;
  io_uring_register_ring_fd(&ring_);  // an optimisation; fine if refused
  if (!shared_->ring_mode_logged.exchange(true)) {
    std::fprintf(stderr, "sink: io_uring with %s\n", mode_name);
  }

  // Listening socket, bound on this thread. SO_REUSEPORT only when several
  // threads share the port, so a single sink cannot silently share a port
  // with another process.
  const ListenAddress& address = shared_->address;
  listen_fd_ = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return fmt::format("cannot create a socket: {}", std::strerror(errno));
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (config.threads > 1 && setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return fmt::format("cannot set SO_REUSEPORT: {}", std::strerror(errno));
  }
  if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address.storage), address.size) != 0) {
    return fmt::format("cannot listen on {}: {}; choose another --listen address or port",
                       format_listen_address(address), std::strerror(errno));
  }
  if (::listen(listen_fd_, kListenBacklog) != 0) {
    return fmt::format("cannot listen on {}: {}", format_listen_address(address), std::strerror(errno));
  }
  bound_.size = sizeof(bound_.storage);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound_.storage), &bound_.size);

  // Connection pool, all allocated now.
  const uint32_t slots = config.max_connections_per_thread;
  slots_.reserve(slots);
  free_slots_.reserve(slots);
  for (uint32_t i = 0; i < slots; ++i) {
    slots_.push_back(std::make_unique<Connection>(&session_config_, shared_->faults, config.tls != nullptr));
    slots_.back()->index = i;
    if (!config.maildir.empty()) {
      slots_.back()->maildir = std::make_unique<MaildirWriter>(&shared_->config.maildir);
    }
    slots_.back()->delay.tv_sec = config.delay_ms / 1000;
    slots_.back()->delay.tv_nsec = static_cast<long long>(config.delay_ms % 1000) * 1'000'000;
    free_slots_.push_back(slots - 1 - i);
  }
  return "";
}

io_uring_sqe* SinkWorker::get_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    io_uring_submit(&ring_);  // SQ full: hand the batch to the kernel now
    sqe = io_uring_get_sqe(&ring_);
  }
  if (sqe == nullptr) {
    std::fprintf(stderr, "sink: io_uring submission queue stuck full; aborting\n");
    std::abort();
  }
  return sqe;
}

void SinkWorker::arm_accept() {
  io_uring_sqe* sqe = get_sqe();
  if (multishot_accept_) {
    io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  } else {
    io_uring_prep_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  }
  io_uring_sqe_set_data64(sqe, tag(kOpAccept));
}

void SinkWorker::arm_recv(Connection& c) {
  c.recv_start = c.recv_end = 0;
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv(sqe, c.fd, c.recv_buffer.get(), kRecvBytes, 0);
  io_uring_sqe_set_data64(sqe, tag(kOpRecv, c.index));
}

void SinkWorker::run() {
  arm_accept();
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, shared_->stop_fd, POLLIN);
  io_uring_sqe_set_data64(sqe, tag(kOpStop));
  while (!stopping_) {
    // One submit (all SQEs queued by the last batch) and one wait per loop.
    const int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
      std::fprintf(stderr, "sink: io_uring_submit_and_wait failed: %s; thread %u stops\n", std::strerror(-rc),
                   index_);
      break;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      handle(cqe->user_data, cqe->res, cqe->flags);
    }
    io_uring_cq_advance(&ring_, seen);
  }
  teardown();
}

void SinkWorker::handle(uint64_t user_data, int res, uint32_t flags) {
  const Op op = static_cast<Op>(user_data >> 56);
  const uint32_t index = static_cast<uint32_t>(user_data);
  switch (op) {
    case kOpAccept:
      on_accept(res, flags);
      return;
    case kOpAcceptRetry:
      arm_accept();
      return;
    case kOpRecv:
      on_recv(*slots_[index], res);
      return;
    case kOpSend:
      on_send(*slots_[index], res);
      return;
    case kOpDelay: {
      Connection& c = *slots_[index];
      c.delay_done = true;
      send_output(c);
      return;
    }
    case kOpStop:
      stopping_ = true;
      return;
    case kOpClose:
    case kOpOverflow:
      return;
  }
}

void SinkWorker::on_accept(int res, uint32_t flags) {
  const bool rearm = !multishot_accept_ || (flags & IORING_CQE_F_MORE) == 0;
  if (res >= 0) {
    accept_seen_ok_ = true;
    on_accepted(res);
    if (rearm) arm_accept();
    return;
  }
  if (res == -EINVAL && multishot_accept_ && !accept_seen_ok_) {
    multishot_accept_ = false;  // kernel before 5.19: one accept at a time
    std::fprintf(stderr, "sink: multishot accept not supported; using single accepts\n");
    arm_accept();
    return;
  }
  if (!rearm) return;
  // EMFILE and the like: wait a little instead of spinning on the error.
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_timeout(sqe, &accept_retry_, 0, 0);
  io_uring_sqe_set_data64(sqe, tag(kOpAcceptRetry));
}

void SinkWorker::on_accepted(int fd) {
  WorkerCounters::add(counters.connections, 1);
  if (!first_connection_seen_) {
    first_connection_seen_ = true;
    int64_t expected = 0;
    shared_->first_connection_ns->compare_exchange_strong(expected, monotonic_ns());
  }
  if (free_slots_.empty()) {
    // At the limit: answer 421 and close (the close is hard-linked so it
    // runs whether or not the send worked). Nothing is kept for it.
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_send(sqe, fd, kTooManyConnections, sizeof(kTooManyConnections) - 1, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(kOpOverflow));
    sqe->flags |= IOSQE_IO_HARDLINK;
    sqe = get_sqe();
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, tag(kOpClose));
    return;
  }
  Connection& c = *slots_[free_slots_.back()];
  free_slots_.pop_back();
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c.fd = fd;
  c.close_after_send = false;
  c.recv_start = c.recv_end = 0;
  c.pending_messages = c.pending_recipients = c.pending_8bitmime = c.pending_smtputf8 = 0;
  c.pending_messages_tls = 0;
  c.tls_on = c.starttls_pending = c.close_notify_queued = false;
  c.plain_start = c.plain_end = 0;
  if (shared_->config.implicit_tls) {
    // The greeting comes after the handshake (pump_tls); the client speaks first.
    if (!start_tls(c)) {
      close_connection(c);
      return;
    }
    arm_recv(c);
    return;
  }
  c.session.start(c.maildir.get(), &next_queue_id_);
  send_output(c);  // the greeting
}

bool SinkWorker::start_tls(Connection& c) {
  c.tls_on = true;
  c.tls_spins = 0;
  c.plain_start = c.plain_end = 0;
  if (!c.tls->start_server(*shared_->config.tls)) {
    std::fprintf(stderr, "sink: %.*s\n", static_cast<int>(c.tls->error().size()), c.tls->error().data());
    return false;
  }
  return true;
}

void SinkWorker::account(Connection& c, const FeedResult& r) {
  c.pending_messages += r.messages_accepted;
  c.pending_recipients += r.recipients_accepted;
  c.pending_8bitmime += r.messages_8bitmime;
  c.pending_smtputf8 += r.messages_smtputf8;
  c.pending_messages_tls += r.messages_tls;
  if ((r.auth_tls | r.auth_clear) != 0) {
    WorkerCounters::add(counters.auth_tls, r.auth_tls);
    WorkerCounters::add(counters.auth_clear, r.auth_clear);
    WorkerCounters::add(counters.auth_failed, r.auth_failed);
  }
}

void SinkWorker::pump_tls(Connection& c) {
  TlsSession& tls = *c.tls;
  for (;;) {
    if (c.recv_start < c.recv_end) {
      const size_t fed = tls.feed_ciphertext(
          reinterpret_cast<const uint8_t*>(c.recv_buffer.get()) + c.recv_start, c.recv_end - c.recv_start);
      c.recv_start += static_cast<uint32_t>(fed);
      if (fed > 0) c.tls_spins = 0;
    }
    if (!tls.handshake_done()) {
      const TlsStep step = tls.handshake();
      if (step == TlsStep::kFailed) {
        WorkerCounters::add(counters.tls_failed, 1);
        c.close_after_send = true;
        c.close_notify_queued = true;  // the alert (if any) is pending; no close_notify
        break;
      }
      if (step == TlsStep::kWantMore) {
        if (c.recv_start < c.recv_end && ++c.tls_spins < 3) continue;
        break;
      }
      WorkerCounters::add(counters.tls_handshakes, 1);
      if (tls.resumed()) WorkerCounters::add(counters.tls_resumed, 1);
      if (c.session.state() == SmtpServerSession::State::kIdle) {  // implicit TLS: greet now
        c.session.start(c.maildir.get(), &next_queue_id_);
      }
      c.session.tls_started();
    }
    // Replies first, so the session's output buffer always has room.
    if (const std::string_view out = c.session.output(); !out.empty()) {
      size_t written = 0;
      const TlsIo io = tls.write_plaintext(out.data(), out.size(), written);
      if (io == TlsIo::kFailed) {
        c.close_after_send = true;
        c.close_notify_queued = true;
        break;
      }
      if (io == TlsIo::kWantMore || written == 0) break;  // send the ciphertext first
      c.session.consume_output(written);
      continue;
    }
    if (c.close_after_send) {
      if (!c.close_notify_queued) {
        c.close_notify_queued = true;
        tls.close();
      }
      break;
    }
    if (c.plain_start == c.plain_end) {
      size_t read = 0;
      const TlsIo io = tls.read_plaintext(c.plain_buffer.get(), kPlainBytes, read);
      if (io == TlsIo::kWantMore) {
        if (c.recv_start < c.recv_end && ++c.tls_spins < 3) continue;
        break;
      }
      if (io != TlsIo::kOk) {  // close_notify from the peer, or a broken record
        c.close_after_send = true;
        if (io == TlsIo::kFailed) c.close_notify_queued = true;
        continue;
      }
      c.plain_start = 0;
      c.plain_end = static_cast<uint32_t>(read);
    }
    const FeedResult r = c.session.feed(c.plain_buffer.get() + c.plain_start, c.plain_end - c.plain_start);
    c.plain_start += static_cast<uint32_t>(r.consumed);
    account(c, r);
    if (r.action != SessionAction::kContinue) c.close_after_send = true;  // kStartTls cannot come over TLS
  }
  if (!tls.pending_ciphertext().empty()) {
    send_output(c);
  } else if (c.close_after_send || c.recv_start < c.recv_end) {
    close_connection(c);  // the second case: TLS took no input and wants more (cannot happen)
  } else {
    arm_recv(c);
  }
}

void SinkWorker::on_recv(Connection& c, int res) {
  if (res <= 0) {  // peer closed, reset, or shutdown
    close_connection(c);
    return;
  }
  WorkerCounters::add(counters.bytes_in, static_cast<uint64_t>(res));
  c.recv_start = 0;
  c.recv_end = static_cast<uint32_t>(res);
  process_input(c);
}

void SinkWorker::process_input(Connection& c) {
  if (c.tls_on) {
    pump_tls(c);
    return;
  }
  while (c.recv_start < c.recv_end) {
    const FeedResult r = c.session.feed(c.recv_buffer.get() + c.recv_start, c.recv_end - c.recv_start);
    c.recv_start += static_cast<uint32_t>(r.consumed);
    account(c, r);
    if (r.action == SessionAction::kClose) {
      c.close_after_send = true;
      break;
    }
    if (r.action == SessionAction::kStartTls) {
      // The session discarded what followed STARTTLS; the 220 goes out in
      // clear, then the handshake starts (on_send).
      c.starttls_pending = true;
      c.recv_start = c.recv_end;
      break;
    }
    if (!c.session.output().empty()) break;  // full: send, then feed the rest
    if (r.consumed == 0) {                   // cannot happen; never spin
      c.close_after_send = true;
      break;
    }
  }
  if (!c.session.output().empty()) {
    send_output(c);
  } else if (c.close_after_send) {
    close_connection(c);
  } else {
    arm_recv(c);
  }
}

void SinkWorker::send_output(Connection& c) {
  if (shared_->config.delay_ms > 0 && !c.delay_done) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_timeout(sqe, &c.delay, 0, 0);
    io_uring_sqe_set_data64(sqe, tag(kOpDelay, c.index));
    return;
  }
  io_uring_sqe* sqe = get_sqe();
  if (c.tls_on) {
    const std::span<const uint8_t> out = c.tls->pending_ciphertext();
    io_uring_prep_send(sqe, c.fd, out.data(), out.size(), MSG_NOSIGNAL);
  } else {
    const std::string_view out = c.session.output();
    io_uring_prep_send(sqe, c.fd, out.data(), out.size(), MSG_NOSIGNAL);
  }
  io_uring_sqe_set_data64(sqe, tag(kOpSend, c.index));
}

void SinkWorker::on_send(Connection& c, int res) {
  if (res < 0) {
    close_connection(c);
    return;
  }
  WorkerCounters::add(counters.bytes_out, static_cast<uint64_t>(res));
  if (c.tls_on) {
    c.tls->consume_ciphertext(static_cast<size_t>(res));
    if (!c.tls->pending_ciphertext().empty()) {  // short send: the rest, without delay
      send_output(c);
      return;
    }
    c.delay_done = false;
    if (c.session.output().empty()) credit(c);
    if (c.close_after_send && c.close_notify_queued && c.session.output().empty()) {
      close_connection(c);
    } else {
      pump_tls(c);
    }
    return;
  }
  c.session.consume_output(static_cast<size_t>(res));
  if (!c.session.output().empty()) {  // short send: the rest, without delay
    send_output(c);
    return;
  }
  c.delay_done = false;
  credit(c);
  if (c.close_after_send) {
    close_connection(c);
  } else if (c.starttls_pending) {
    c.starttls_pending = false;
    if (!start_tls(c)) {
      close_connection(c);
      return;
    }
    arm_recv(c);
  } else if (c.recv_start < c.recv_end) {
    process_input(c);
  } else {
    arm_recv(c);
  }
}

void SinkWorker::credit(Connection& c) {
  if (c.pending_messages == 0) return;
  WorkerCounters::add(counters.messages, c.pending_messages);
  WorkerCounters::add(counters.recipients, c.pending_recipients);
  WorkerCounters::add(counters.body_8bitmime, c.pending_8bitmime);
  WorkerCounters::add(counters.smtputf8, c.pending_smtputf8);
  if (c.pending_messages_tls > 0) WorkerCounters::add(counters.messages_tls, c.pending_messages_tls);
  const uint64_t exit_after = shared_->config.exit_after;
  if (exit_after > 0) {
    const uint64_t total =
        shared_->messages_total.fetch_add(c.pending_messages, std::memory_order_relaxed) + c.pending_messages;
    if (total >= exit_after && total - c.pending_messages < exit_after) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(shared_->stop_fd, &one, sizeof(one));
    }
  }
  c.pending_messages = c.pending_recipients = c.pending_8bitmime = c.pending_smtputf8 = 0;
  c.pending_messages_tls = 0;
}

void SinkWorker::close_connection(Connection& c) {
  c.session.close();
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_close(sqe, c.fd);
  io_uring_sqe_set_data64(sqe, tag(kOpClose));
  c.fd = -1;
  c.delay_done = false;
  if (c.tls_on) c.tls->reset();  // frees the SSL object now, not at the slot's next use
  c.tls_on = false;
  free_slots_.push_back(c.index);
}

void SinkWorker::teardown() {
  for (auto& slot : slots_) {
    if (slot->fd >= 0) {
      slot->session.close();
      ::close(slot->fd);
      slot->fd = -1;
    }
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  // The ring goes before the slots: the kernel may still hold their buffers.
  if (ring_ready_) {
    io_uring_queue_exit(&ring_);
    ring_ready_ = false;
  }
}

SinkServer::SinkServer(SinkServerConfig config, const SinkFaults* faults) {
  shared_.config = std::move(config);
  shared_.faults = faults;
  shared_.first_connection_ns = &first_connection_ns_;
}

SinkServer::~SinkServer() {
  stop();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

bool SinkServer::start(std::string& error) {
  SinkServerConfig& config = shared_.config;
  if (config.threads == 0 || config.threads > 256) {
    error = fmt::format("--threads {} is out of range; use 1 to 256", config.threads);
    return false;
  }
  if (config.max_connections_per_thread == 0 || config.max_connections_per_thread > 65536) {
    error = "max connections per thread must be 1 to 65536";
    return false;
  }
  if (!parse_listen_address(config.listen, shared_.address, error)) return false;
  if (!config.maildir.empty() && !prepare_maildir(config.maildir, error)) return false;
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    error = fmt::format("cannot create an eventfd: {}", std::strerror(errno));
    return false;
  }
  shared_.stop_fd = stop_fd_;
  for (uint32_t i = 0; i < config.threads; ++i) {
    workers_.push_back(std::make_unique<SinkWorker>(&shared_, i));
    SinkWorker* worker = workers_.back().get();
    std::promise<std::string> ready;
    std::future<std::string> ready_result = ready.get_future();
    threads_.emplace_back([worker, ready = std::move(ready)]() mutable {
      std::string setup_error = worker->setup();
      const bool ok = setup_error.empty();
      ready.set_value(std::move(setup_error));
      if (ok) worker->run();
    });
    std::string setup_error = ready_result.get();
    if (!setup_error.empty()) {
      error = fmt::format("sink thread {}: {}", i, setup_error);
      stop();
      return false;
    }
    if (i == 0) {
      // The others bind to the port the first one got (port 0 resolved).
      bound_ = worker->bound();
      shared_.address = bound_;
    }
  }
  return true;
}

void SinkServer::request_stop() {
  if (stop_fd_ < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
}

void SinkServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  request_stop();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

SinkTotals SinkServer::totals() const {
  SinkTotals totals;
  for (const auto& worker : workers_) {
    totals.messages += worker->counters.messages.load(std::memory_order_relaxed);
    totals.recipients += worker->counters.recipients.load(std::memory_order_relaxed);
    totals.connections += worker->counters.connections.load(std::memory_order_relaxed);
    totals.body_8bitmime += worker->counters.body_8bitmime.load(std::memory_order_relaxed);
    totals.smtputf8 += worker->counters.smtputf8.load(std::memory_order_relaxed);
    totals.messages_tls += worker->counters.messages_tls.load(std::memory_order_relaxed);
    totals.tls_handshakes += worker->counters.tls_handshakes.load(std::memory_order_relaxed);
    totals.tls_resumed += worker->counters.tls_resumed.load(std::memory_order_relaxed);
    totals.tls_failed += worker->counters.tls_failed.load(std::memory_order_relaxed);
    totals.auth_tls += worker->counters.auth_tls.load(std::memory_order_relaxed);
    totals.auth_clear += worker->counters.auth_clear.load(std::memory_order_relaxed);
    totals.auth_failed += worker->counters.auth_failed.load(std::memory_order_relaxed);
    totals.bytes_in += worker->counters.bytes_in.load(std::memory_order_relaxed);
    totals.bytes_out += worker->counters.bytes_out.load(std::memory_order_relaxed);
  }
  return totals;
}

}  // namespace ringmail::sink
