// engine/ingress_connection.cc — see ingress_connection.h. Reading order:
// opening a connection, the machine's host calls (credentials, messages),
// the pump that moves bytes (clear text, then TLS), the io_uring
// operations and their completions, closing.
#include "engine/ingress_connection.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

#include "engine/attempt_log.h"
#include "engine/ingress_log.h"
#include "engine/ingress_server.h"
#include "engine/worker.h"
#include "ingress/received_header.h"
#include "queue/envelope.h"

static_assert(static_cast<size_t>(ringmail::ingress::SessionEvent::kUnknownCommand) + 1 ==
                  ringmail::kIngressEventCount,
              "metrics/core_metrics.h names every SessionEvent, in order");

namespace ringmail {
namespace {

void set_timeout(__kernel_timespec& ts, uint32_t timeout_ms) {
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
}

// link_timeout queues a linked timeout for the SQE just queued before it.
void link_timeout(Ring& ring, io_uring_sqe* op, __kernel_timespec* ts) {
  op->flags |= IOSQE_IO_LINK;
  io_uring_sqe* timeout = ring.sqe();
  io_uring_prep_link_timeout(timeout, ts, 0);
  set_completion(timeout, nullptr);
}

const sockaddr* as_sockaddr(const sockaddr_storage& address) {
  return reinterpret_cast<const sockaddr*>(&address);
}

}  // namespace

IngressConnection::IngressConnection(IngressPort* port, uint64_t token)
    : port_(port), token_(token), session_(&port->listener().settings, this), in_(new char[kInBytes]) {
  if (port->listener().tls != nullptr) {
    tls_ = std::make_unique<TlsSession>();
    plain_.reset(new char[kPlainBytes]);
  }
}

IngressConnection::~IngressConnection() {
  // Only at the worker's end (the ring is gone: nothing is in flight).
  if (fd_ >= 0) ::close(fd_);
  if (open_) listener().limits->close(as_sockaddr(peer_));  // the ClientLimits::try_open place
}

const IngressListener& IngressConnection::listener() const { return port_->listener(); }

// ---------------------------------------------------------------------------
// Opening.

void IngressConnection::open(int fd, const sockaddr_storage& peer) {
  assert(is_free());
  fd_ = fd;
  peer_ = peer;
  open_ = true;
  closing_ = close_after_send_ = starttls_pending_ = waiting_store_ = false;
  shutting_down_ = port_->server().stopping();
  shutdown_cancel_ = shutdown_said_ = session_started_ = session_open_ = false;
  tls_on_ = close_notify_queued_ = false;
  extra_out_ = {};
  in_start_ = in_end_ = plain_start_ = plain_end_ = 0;
  tls_spins_ = 0;
  format_ip(peer, peer_text_);
  trusted_ = listener().trusted.contains(as_sockaddr(peer));
  session_deadline_ns_ = port_->server().worker().now_ns() +
                         static_cast<uint64_t>(listener().config->session_timeout_ms) * 1'000'000;
  if (listener().implicit_tls) {
    // The client speaks first (ClientHello); the greeting follows the handshake.
    if (!start_tls_session()) {
      start_close();
      return;
    }
    arm_recv();
    return;
  }
  session_.start(ingress::ClientInfo{peer_text_, trusted_});
  session_started_ = session_open_ = true;
  pump();
}

bool IngressConnection::start_tls_session() {
  if (!tls_->start_server(*listener().tls)) {
    fmt::print(stderr, "ringmail: [[listen]] {}: cannot start TLS for {}: {}\n", listener().name, peer_text_,
               tls_->error());
    return false;
  }
  tls_on_ = true;
  close_notify_queued_ = false;
  in_start_ = in_end_ = plain_start_ = plain_end_ = 0;
  tls_spins_ = 0;
  return true;
}

// ---------------------------------------------------------------------------
// SessionHost: what the machine asks of its owner.

ingress::AuthCheck IngressConnection::check_credentials(std::string_view user, std::string_view password) {
  const uint64_t now_s = port_->server().worker().now_ns() / 1'000'000'000ull;
  ingress::ClientLimits& limits = *listener().limits;
  if (!limits.auth_allowed(as_sockaddr(peer_), now_s)) return ingress::AuthCheck::kThrottled;
  if (listener().users != nullptr && listener().users->verify(user, password)) {
    auth_user_.assign(user);
    return ingress::AuthCheck::kOk;
  }
  limits.auth_failed(as_sockaddr(peer_), now_s);
  return ingress::AuthCheck::kBad;
}

bool IngressConnection::admit_message() {
  const uint64_t now_s = port_->server().worker().now_ns() / 1'000'000'000ull;
  return listener().limits->admit_message(as_sockaddr(peer_), now_s);
}

// begin_message writes the spool file's head: the envelope preamble
// (docs/spool.md) and the Received: field, which names the spool id.
bool IngressConnection::begin_message(const ingress::TransactionInfo& info) {
  if (commit_in_flight_) return false;  // cannot happen: the machine waits for on_stored
  spool_.clear();
  if (!write_envelope_preamble(info.reverse_path, *info.recipients, spool_)) return false;
  message_offset_ = spool_.size();
  port_->server().next_id(request_.id);
  ingress::TlsFacts facts;
  const bool with_tls = tls_on_ && tls_->handshake_done();
  if (with_tls) facts = ingress::TlsFacts{tls_->version_text(), tls_->cipher()};
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  ingress::format_received_header(info, peer_text_, with_tls ? &facts : nullptr, listener().settings.hostname,
                                  request_.id, now.tv_sec, spool_);
  sender_.assign(info.reverse_path);
  recipients_ = info.recipients;
  auth_user_.assign(info.auth_user);
  return true;
}

bool IngressConnection::append_body(const char* data, size_t size) {
  spool_.append(data, size);
  return true;
}

// end_message hands the whole file to the commit thread; the machine waits
// (kWaitStore) until on_commit_ack answers it.
void IngressConnection::end_message() {
  request_.token = token_;
  request_.data = spool_.data();
  request_.size = spool_.size();
  commit_in_flight_ = true;
  submit_waiting_ = !port_->server().submit(request_);  // full: IngressServer::poll retries next turn
}

void IngressConnection::retry_submit() { submit_waiting_ = !port_->server().resubmit(request_); }

void IngressConnection::abort_message() {
  if (commit_in_flight_) return;  // the commit thread reads spool_ until its ack
  spool_.clear();
}

void IngressConnection::note(ingress::SessionEvent event, std::string_view detail) {
  Worker& worker = port_->server().worker();
  worker.metrics().count_ingress_event(static_cast<size_t>(event));
  if (DeliveryLog* log = worker.delivery_log(); log != nullptr) {
    RejectedEvent line;
    line.time_ms = unix_now_ms();
    line.listener = listener().name;
    line.client = peer_text_;
    line.reason = ingress_event_name(static_cast<size_t>(event));
    line.detail = detail;
    log_rejected_event(*log, line);
  }
}

void IngressConnection::on_commit_ack(const ingress::CommitAck& ack) {
  port_->server().commit_done();
  if (send_in_flight_ > 0) {
    // The machine's output is being sent from its buffer: on_stored would
    // append to it. Answer once the send completes.
    ack_ = ack;
    ack_waiting_ = true;
    return;
  }
  apply_ack(ack);
}

void IngressConnection::apply_ack(const ingress::CommitAck& ack) {
  commit_in_flight_ = false;
  Worker& worker = port_->server().worker();
  if (ack.ok) {
    CoreMetrics::add(worker.metrics().ingress_messages_accepted);
    CoreMetrics::add(worker.metrics().ingress_bytes_accepted, spool_.size() - message_offset_);
    log_accepted();
  } else {
    CoreMetrics::add(worker.metrics().ingress_store_failures);
    fmt::print(stderr,
               "ringmail: [[listen]] {}: cannot store a message from {}: {}; the client was told 451\n",
               listener().name, peer_text_, std::strerror(ack.error));
  }
  if (spool_.capacity() > kKeepSpoolBytes) {
    std::string().swap(spool_);
  } else {
    spool_.clear();
  }
  recipients_ = nullptr;
  if (!open_) {  // the client left while the message was being stored
    port_->release(this);
    return;
  }
  if (closing_ || !session_open_) return;  // op_done releases the slot
  waiting_store_ = false;
  session_.on_stored(ack.ok, ack.ok ? std::string_view(request_.id) : std::string_view());
  pump();
}

void IngressConnection::log_accepted() {
  DeliveryLog* log = port_->server().worker().delivery_log();
  if (log == nullptr) return;
  AcceptedEvent event;
  event.time_ms = unix_now_ms();
  event.id = request_.id;
  event.listener = listener().name;
  event.client = peer_text_;
  if (tls_on_ && tls_->handshake_done()) {
    event.tls_version = tls_->version_text();
    event.tls_cipher = tls_->cipher();
  }
  event.auth_user = auth_user_;
  event.sender = sender_;
  event.recipients = recipients_;
  event.size_bytes = spool_.size() - message_offset_;
  log_accepted_event(*log, event);
}

// ---------------------------------------------------------------------------
// The pump.

void IngressConnection::take_action(ingress::SessionAction action) {
  switch (action) {
    case ingress::SessionAction::kContinue:
      break;
    case ingress::SessionAction::kClose:
      close_after_send_ = true;
      break;
    case ingress::SessionAction::kStartTls:
      if (tls_on_ || tls_ == nullptr) {
        close_after_send_ = true;  // the machine never offers it then
      } else {
        starttls_pending_ = true;
        in_start_ = in_end_;  // RFC 3207: nothing sent before the handshake counts
      }
      break;
    case ingress::SessionAction::kWaitStore:
      waiting_store_ = true;
      break;
  }
}

bool IngressConnection::feed_input(const char* buffer, uint32_t& start, uint32_t end) {
  if (start >= end || waiting_store_ || close_after_send_ || starttls_pending_) return false;
  const ingress::FeedResult r = session_.feed(buffer + start, end - start);
  start += static_cast<uint32_t>(r.consumed);
  take_action(r.action);
  return r.consumed > 0;
}

std::string_view IngressConnection::pending_plain() const {
  const std::string_view out = session_open_ ? session_.output() : std::string_view();
  return out.empty() ? extra_out_ : out;
}

void IngressConnection::consume_plain(size_t n) {
  if (session_open_ && !session_.output().empty()) {
    session_.consume_output(n);
  } else {
    extra_out_.remove_prefix(n);
  }
}

bool IngressConnection::at_command_boundary() const {
  if (!session_started_) return true;  // implicit TLS, handshake not done: nothing to finish
  return session_.timeout_kind() == ingress::SessionTimeout::kCommand && !waiting_store_ &&
         !commit_in_flight_ && in_start_ == in_end_ && plain_start_ == plain_end_;
}

bool IngressConnection::shutdown_reply_due() const {
  return shutting_down_ && !shutdown_said_ && !close_after_send_ && at_command_boundary();
}

// say_shutdown ends the session at a command boundary while the engine
// stops: "421 4.3.2 HOST Service shutting down", then close.
void IngressConnection::say_shutdown() {
  shutdown_said_ = true;
  close_after_send_ = true;
  if (tls_on_ && !tls_->handshake_done()) return;  // nothing can be said yet
  if (session_open_) {
    session_.close();
    session_open_ = false;
  }
  extra_out_ = listener().shutdown_reply;
}

void IngressConnection::pump() {
  if (!open_ || closing_ || recv_armed_ || send_in_flight_ > 0) return;
  if (tls_on_) {
    pump_tls();
  } else {
    pump_clear();
  }
}

void IngressConnection::pump_clear() {
  for (;;) {
    while (feed_input(in_.get(), in_start_, in_end_)) {
    }
    if (const std::string_view out = pending_plain(); !out.empty()) {
      send_bytes(out.data(), out.size());
      return;
    }
    if (close_after_send_) {
      start_close();
      return;
    }
    if (starttls_pending_) {
      // The 220 went out in clear; the handshake starts with the client's next bytes.
      starttls_pending_ = false;
      if (!start_tls_session()) {
        start_close();
        return;
      }
      arm_recv();
      return;
    }
    if (waiting_store_) return;
    if (shutdown_reply_due()) {
      say_shutdown();
      continue;
    }
    arm_recv();
    return;
  }
}

// pump_tls: handshake, then the machine's output sealed into records, then
// records received opened and fed to the machine, until TLS needs bytes
// from the socket or has bytes to send.
void IngressConnection::pump_tls() {
  TlsSession& tls = *tls_;
  for (;;) {
    if (in_start_ < in_end_) {
      const size_t fed =
          tls.feed_ciphertext(reinterpret_cast<const uint8_t*>(in_.get()) + in_start_, in_end_ - in_start_);
      in_start_ += static_cast<uint32_t>(fed);
      if (fed > 0) tls_spins_ = 0;
    }
    if (!tls.handshake_done()) {
      if (close_after_send_) break;
      const TlsStep step = tls.handshake();
      if (step == TlsStep::kFailed) {
        CoreMetrics::add(port_->server().worker().metrics().ingress_tls_failures);
        close_after_send_ = true;
        close_notify_queued_ = true;  // the alert (if any) is pending; no close_notify
        break;
      }
      if (step == TlsStep::kWantMore) {
        if (in_start_ < in_end_ && ++tls_spins_ < 3) continue;
        break;
      }
      CoreMetrics::add(port_->server().worker().metrics().ingress_tls_handshakes);
      if (!session_started_) {  // implicit TLS: greet now
        session_.start(ingress::ClientInfo{peer_text_, trusted_});
        session_started_ = session_open_ = true;
      }
      session_.tls_started(ingress::TlsFacts{tls.version_text(), tls.cipher()});
    }
    // Replies first, so the machine's output never piles up.
    if (const std::string_view out = pending_plain(); !out.empty()) {
      size_t written = 0;
      const TlsIo io = tls.write_plaintext(out.data(), out.size(), written);
      if (io == TlsIo::kFailed) {
        close_after_send_ = true;
        close_notify_queued_ = true;
        break;
      }
      if (io == TlsIo::kWantMore || written == 0) break;  // send the ciphertext first
      consume_plain(written);
      continue;
    }
    if (close_after_send_) {
      if (!close_notify_queued_) {
        close_notify_queued_ = true;
        tls.close();
      }
      break;
    }
    if (waiting_store_) break;
    if (feed_input(plain_.get(), plain_start_, plain_end_)) continue;
    if (close_after_send_ || waiting_store_) continue;
    if (shutdown_reply_due()) {
      say_shutdown();
      continue;
    }
    // Open more records, after what the machine left (a partial line).
    if (plain_start_ == plain_end_) {
      plain_start_ = plain_end_ = 0;
    } else if (plain_start_ > 0) {
      std::memmove(plain_.get(), plain_.get() + plain_start_, plain_end_ - plain_start_);
      plain_end_ -= plain_start_;
      plain_start_ = 0;
    }
    if (plain_end_ == kPlainBytes) {  // a full buffer the machine does not take: cannot happen
      close_after_send_ = true;
      continue;
    }
    size_t read = 0;
    const TlsIo io = tls.read_plaintext(plain_.get() + plain_end_, kPlainBytes - plain_end_, read);
    if (io == TlsIo::kOk && read > 0) {
      plain_end_ += static_cast<uint32_t>(read);
      tls_spins_ = 0;
      continue;
    }
    if (io == TlsIo::kClosed || io == TlsIo::kFailed) {  // close_notify, or a broken record
      close_after_send_ = true;
      if (io == TlsIo::kFailed) close_notify_queued_ = true;
      continue;
    }
    if (in_start_ < in_end_ && ++tls_spins_ < 3) continue;
    break;
  }
  if (const std::span<const uint8_t> out = tls.pending_ciphertext(); !out.empty()) {
    send_bytes(out.data(), out.size());
    return;
  }
  if (close_after_send_) {
    start_close();
    return;
  }
  if (waiting_store_) return;
  arm_recv();
}

// ---------------------------------------------------------------------------
// I/O: one receive or one send at a time, each with a linked timeout.

uint32_t IngressConnection::timeout_ms_for(uint32_t kind_ms) const {
  const uint64_t now = port_->server().worker().now_ns();
  if (now >= session_deadline_ns_) return 0;
  const uint64_t left_ms = (session_deadline_ns_ - now) / 1'000'000;
  return static_cast<uint32_t>(std::min<uint64_t>(kind_ms, std::max<uint64_t>(left_ms, 1)));
}

void IngressConnection::send_bytes(const void* data, size_t size) {
  Ring& ring = port_->server().worker().ring();
  ring.reserve(2);  // the send and its timeout in one submission
  io_uring_sqe* sqe = ring.sqe();
  io_uring_prep_send(sqe, fd_, data, size, MSG_NOSIGNAL);
  set_completion(sqe, &send_c_);
  set_timeout(send_ts_, std::max<uint32_t>(timeout_ms_for(listener().config->command_timeout_ms), 1));
  link_timeout(ring, sqe, &send_ts_);
  send_in_flight_ = size;
  ++ops_in_flight_;
}

void IngressConnection::arm_recv() {
  if (in_start_ == in_end_) {
    in_start_ = in_end_ = 0;
  } else if (in_start_ > 0) {
    std::memmove(in_.get(), in_.get() + in_start_, in_end_ - in_start_);
    in_end_ -= in_start_;
    in_start_ = 0;
  }
  if (in_end_ == kInBytes) {  // the machine (or TLS) takes nothing from a full buffer: cannot happen
    start_close();
    return;
  }
  const bool data = session_started_ && session_.timeout_kind() == ingress::SessionTimeout::kData;
  const uint32_t timeout_ms =
      timeout_ms_for(data ? listener().config->data_timeout_ms : listener().config->command_timeout_ms);
  if (timeout_ms == 0) {  // the session timeout is spent
    CoreMetrics::add(port_->server().worker().metrics().ingress_timeouts);
    if (session_open_) session_.timed_out();
    close_after_send_ = true;
    pump();
    return;
  }
  Ring& ring = port_->server().worker().ring();
  ring.reserve(2);  // the receive and its timeout in one submission
  io_uring_sqe* sqe = ring.sqe();
  io_uring_prep_recv(sqe, fd_, in_.get() + in_end_, kInBytes - in_end_, 0);
  set_completion(sqe, &recv_c_);
  set_timeout(recv_ts_, timeout_ms);
  link_timeout(ring, sqe, &recv_ts_);
  recv_armed_ = true;
  ++ops_in_flight_;
}

void IngressConnection::begin_shutdown() {
  shutting_down_ = true;
  if (!open_ || closing_ || !recv_armed_ || !at_command_boundary()) return;
  // Waiting for the client's next command: stop waiting, say 421 (pump).
  io_uring_sqe* sqe = port_->server().worker().ring().sqe();
  io_uring_prep_cancel(sqe, &recv_c_, 0);
  set_completion(sqe, nullptr);
  shutdown_cancel_ = true;
}

void IngressConnection::on_recv(int res, uint32_t) {
  --ops_in_flight_;
  recv_armed_ = false;
  const bool cancelled_for_shutdown = shutdown_cancel_;
  shutdown_cancel_ = false;
  if (closing_) {
    op_done();
    return;
  }
  if (res == -ECANCELED && cancelled_for_shutdown) {
    pump();  // says 421 at this command boundary
    return;
  }
  if (res == -ECANCELED) {  // the linked timeout fired
    CoreMetrics::add(port_->server().worker().metrics().ingress_timeouts);
    if (session_open_ && !(tls_on_ && !tls_->handshake_done())) session_.timed_out();
    close_after_send_ = true;
    pump();
    return;
  }
  if (res <= 0) {  // the client closed or reset the connection
    if (tls_on_ && res == 0) tls_->feed_eof();
    start_close();
    return;
  }
  in_end_ += static_cast<uint32_t>(res);
  pump();
}

void IngressConnection::on_send(int res, uint32_t) {
  --ops_in_flight_;
  const size_t sent = send_in_flight_;
  send_in_flight_ = 0;
  if (closing_) {
    op_done();
  } else if (res < 0) {  // reset, or the client does not read (timeout)
    if (res == -ECANCELED) CoreMetrics::add(port_->server().worker().metrics().ingress_timeouts);
    start_close();
  } else if (tls_on_) {
    tls_->consume_ciphertext(static_cast<size_t>(res));
  } else {
    consume_plain(std::min(sent, static_cast<size_t>(res)));
  }
  if (ack_waiting_) {
    ack_waiting_ = false;
    apply_ack(ack_);  // pumps
    return;
  }
  pump();
}

// ---------------------------------------------------------------------------
// Closing: wake what is pending, close the socket, give the slot back
// (once the commit thread is done with the spool buffer).

void IngressConnection::start_close() {
  if (closing_) return;
  closing_ = true;
  if (session_open_) {
    session_.close();  // an open message is aborted (abort_message)
    session_open_ = false;
  }
  if (fd_ >= 0 && ops_in_flight_ > 0) {
    io_uring_sqe* sqe = port_->server().worker().ring().sqe();
    io_uring_prep_shutdown(sqe, fd_, SHUT_RDWR);
    set_completion(sqe, nullptr);
    return;  // the pending operation completes; op_done goes on
  }
  op_done();
}

void IngressConnection::op_done() {
  if (!closing_ || ops_in_flight_ > 0) return;
  if (fd_ >= 0) {
    io_uring_sqe* sqe = port_->server().worker().ring().sqe();
    io_uring_prep_close(sqe, fd_);
    set_completion(sqe, &close_c_);
    fd_ = -1;
    ++ops_in_flight_;
    return;
  }
  closing_ = false;
  if (open_) listener().limits->close(as_sockaddr(peer_));  // the place ClientLimits::try_open took
  open_ = false;
  if (tls_on_) tls_->reset();  // frees the SSL object now; the buffers stay
  tls_on_ = false;
  extra_out_ = {};
  if (!commit_in_flight_) port_->release(this);  // else apply_ack does
}

void IngressConnection::on_close(int, uint32_t) {
  --ops_in_flight_;
  op_done();
}

}  // namespace ringmail
