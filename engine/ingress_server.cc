// engine/ingress_server.cc — see ingress_server.h.
#include "engine/ingress_server.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/attempt_log.h"
#include "engine/ingress_log.h"
#include "engine/worker.h"
#include "ingress/spool_committer.h"

namespace ringmail {
namespace {

constexpr std::string_view kTooManyConnections = "421 4.7.0 Too many connections, try again later\r\n";
constexpr std::string_view kTooManyFromAddress = "421 4.7.0 Too many connections from your address\r\n";

uint64_t unix_now_us() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000ull + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace

// ---------------------------------------------------------------------------
// IngressPort

IngressPort::IngressPort(IngressServer* server, const IngressListener* listener, int fd, uint32_t connections,
                         uint64_t first_token)
    : server_(server), listener_(listener), fd_(fd) {
  connections_.reserve(connections);
  free_.reserve(connections);
  for (uint32_t i = 0; i < connections; ++i) {
    connections_.push_back(std::make_unique<IngressConnection>(this, first_token + i));
  }
  for (uint32_t i = connections; i > 0; --i) free_.push_back(connections_[i - 1].get());
}

IngressPort::~IngressPort() {
  if (fd_ >= 0) ::close(fd_);
}

void IngressPort::arm_accept() {
  if (stopped_ || accept_armed_ || retry_armed_ || fd_ < 0) return;
  io_uring_sqe* sqe = server_->worker().ring().sqe();
  // The peer's address comes from getpeername(): a multishot accept has one
  // address buffer for all its completions.
  io_uring_prep_multishot_accept(sqe, fd_, nullptr, nullptr, SOCK_CLOEXEC);
  set_completion(sqe, &accept_c_);
  accept_armed_ = true;
}

void IngressPort::stop_accepting() {
  if (stopped_) return;
  stopped_ = true;
  if (accept_armed_) {
    io_uring_sqe* sqe = server_->worker().ring().sqe();
    io_uring_prep_cancel(sqe, &accept_c_, 0);
    set_completion(sqe, nullptr);
  }
  // Connections still in the kernel's backlog are reset when the socket
  // closes; SO_REUSEPORT sends no new ones here once it is gone.
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void IngressPort::on_accept(int res, uint32_t flags) {
  if ((flags & IORING_CQE_F_MORE) == 0) accept_armed_ = false;
  if (res >= 0) {
    accepted(res);
  } else if (res != -ECANCELED && !stopped_ && !accept_armed_ && !retry_armed_) {
    // EMFILE, ENFILE, ENOBUFS...: try again shortly instead of spinning.
    io_uring_sqe* sqe = server_->worker().ring().sqe();
    io_uring_prep_timeout(sqe, &retry_ts_, 0, 0);
    set_completion(sqe, &retry_c_);
    retry_armed_ = true;
    return;
  }
  if (!accept_armed_) arm_accept();  // the multishot ended: re-arm it
}

void IngressPort::on_accept_retry(int, uint32_t) {
  retry_armed_ = false;
  arm_accept();
}

void IngressPort::accepted(int fd) {
  CoreMetrics& metrics = server_->worker().metrics();
  if (stopped_) {
    ::close(fd);
    return;
  }
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof(peer);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
    ::close(fd);  // already reset by the peer
    return;
  }
  if (free_.empty()) {
    refuse(fd, peer, "too_many_connections", kTooManyConnections);
    return;
  }
  if (!listener_->limits->try_open(reinterpret_cast<const sockaddr*>(&peer))) {
    refuse(fd, peer, "too_many_connections_per_ip", kTooManyFromAddress);
    return;
  }
  CoreMetrics::add(metrics.ingress_connections);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  IngressConnection* connection = free_.back();
  free_.pop_back();
  connection->open(fd, peer);
}

// refuse answers |reply| and closes: the close is hard-linked, so it runs
// whether or not the send worked. Nothing is kept for the socket. Counted,
// and logged as "rejected" with |reason|.
void IngressPort::refuse(int fd, const sockaddr_storage& peer, std::string_view reason,
                         std::string_view reply) {
  Worker& worker = server_->worker();
  CoreMetrics::add(worker.metrics().ingress_connections_refused);
  if (DeliveryLog* log = worker.delivery_log(); log != nullptr) {
    char client[64];
    format_ip(peer, client);
    RejectedEvent line;
    line.time_ms = unix_now_ms();
    line.listener = listener_->name;
    line.client = client;
    line.reason = reason;
    line.detail = reply.substr(0, reply.size() - 2);  // without CRLF
    log_rejected_event(*log, line);
  }
  Ring& ring = worker.ring();
  ring.reserve(2);
  io_uring_sqe* sqe = ring.sqe();
  io_uring_prep_send(sqe, fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  sqe->flags |= IOSQE_IO_HARDLINK;
  set_completion(sqe, nullptr);
  sqe = ring.sqe();
  io_uring_prep_close(sqe, fd);
  set_completion(sqe, nullptr);
}

void IngressPort::release(IngressConnection* connection) { free_.push_back(connection); }

// ---------------------------------------------------------------------------
// IngressServer

IngressServer::IngressServer(Worker* worker, IngressSetup* setup) : worker_(worker), setup_(setup) {
  const uint32_t w = worker->id();
  for (auto& listener : setup->listeners) {
    const uint32_t share = listener->worker_connections.at(w);
    if (share == 0) continue;
    const int fd = listener->worker_fds.at(w);
    listener->worker_fds[w] = -1;  // ours now
    ports_.push_back(std::make_unique<IngressPort>(this, listener.get(), fd, share, by_token_.size()));
    for (auto& connection : ports_.back()->connections()) by_token_.push_back(connection.get());
  }
}

IngressServer::~IngressServer() = default;

void IngressServer::start() {
  for (auto& port : ports_) port->arm_accept();
}

uint32_t IngressServer::poll() {
  ingress::CommitAck ack;
  uint32_t acks = 0;
  const uint32_t w = worker_->id();
  while (setup_->committer->pop_ack(w, ack)) {
    ++acks;
    if (ack.token < by_token_.size()) by_token_[ack.token]->on_commit_ack(ack);
  }
  if (submit_waiting()) {
    for (IngressConnection* connection : by_token_) {
      if (connection->submit_waiting()) connection->retry_submit();
    }
  }
  return acks;
}

void IngressServer::begin_stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto& port : ports_) {
    port->stop_accepting();
    for (auto& connection : port->connections()) connection->begin_shutdown();
  }
}

bool IngressServer::idle() const {
  if (commits_in_flight_ > 0) return false;
  for (const auto& port : ports_) {
    if (port->accept_armed()) return false;
    for (const auto& connection : port->connections()) {
      if (!connection->is_free()) return false;
    }
  }
  return true;
}

void IngressServer::wait_for_commits() {
  ingress::CommitAck ack;
  while (commits_in_flight_ > 0) {
    bool any = false;
    while (setup_->committer->pop_ack(worker_->id(), ack)) {
      any = true;
      --commits_in_flight_;
    }
    if (!any) usleep(1000);
  }
}

bool IngressServer::submit(const ingress::CommitRequest& request) {
  if (setup_->committer->submit(worker_->id(), request)) {
    ++commits_in_flight_;
    return true;
  }
  ++submits_waiting_;
  return false;
}

bool IngressServer::resubmit(const ingress::CommitRequest& request) {
  if (!setup_->committer->submit(worker_->id(), request)) return false;
  --submits_waiting_;
  ++commits_in_flight_;
  return true;
}

void IngressServer::next_id(char (&id)[64]) {
  ingress::format_ingress_id(id, unix_now_us(), worker_->id(), ++id_counter_);
}

}  // namespace ringmail
