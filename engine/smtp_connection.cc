// engine/smtp_connection.cc — see smtp_connection.h. Reading order: the
// commands the machine gives (connect, close, read a body, a message
// done), the events the worker gives, then the io_uring operations and
// their completions, each turned into one machine event.
#include "engine/smtp_connection.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "engine/attempt_log.h"
#include "engine/message_slot.h"
#include "engine/metrics_hooks.h"
#include "engine/worker.h"

namespace ringmail {
namespace {

// RINGMAIL_TRACE=1 in the environment prints every byte sent and received
// on stderr (a debugging transcript; never on in production runs).
bool trace_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("RINGMAIL_TRACE");
    return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
  }();
  return enabled;
}

// trace prints |len| bytes; the first |secret| of them carry credentials
// and are shown masked (mask_credential_lines: "AUTH PLAIN ****").
void trace(uint32_t conn, const char* dir, const char* data, size_t len, size_t secret = 0) {
  if (!trace_enabled()) return;
  secret = std::min(secret, len);
  const std::string shown =
      mask_credential_lines(std::string_view(data, secret)) + std::string(data + secret, len - secret);
  fmt::print(stderr, "[conn {}] {} {:?}\n", conn, dir, shown);
}

}  // namespace

SmtpConnection::SmtpConnection(Worker* worker, const SmtpClientConfig* config, uint32_t index)
    : worker_(worker), index_(index), client_(config, this) {
  bind_destination();
}

void SmtpConnection::bind_destination() {
  assert(is_closed());
  const Destination& destination = worker_->destination().destination();
  tls_.reset();
  if (destination.uses_tls()) {
    tls_ = std::make_unique<TlsRecordLayer>(destination.tls_context.get());
    tls_->bind_cache(worker_->destination().tickets());
    if (tls_in_ == nullptr) tls_in_.reset(new char[kTlsInBytes]);
    if (tls_out_ == nullptr) tls_out_.reset(new char[kTlsOutBytes]);
  }
}

std::string SmtpConnection::debug_state() const {
  return fmt::format("{} sending {} recv {} ops {}", client_.debug_state(), send_in_flight_, recv_armed_,
                     ops_in_flight_);
}

// ---------------------------------------------------------------------------
// Events from the worker.

void SmtpConnection::open() {
  assert(is_closed());
  const size_t count = worker_->relay().addresses.size();
  assert(count > 0);
  close_asked_ = closing_io_ = tls_asked_ = false;
  connect_deadline_ns_ = send_deadline_ns_ = recv_deadline_ns_ = 0;
  send_in_flight_ = 0;
  recv_armed_ = false;
  tls_in_len_ = tls_out_len_ = 0;
  if (tls_ != nullptr) tls_->reset();
  DestinationState& destination = worker_->destination();
  client_.start(static_cast<uint32_t>(count), destination.preferred_address(),
                destination.starttls_allowed(worker_->now_ns()));
  after_event();
}

void SmtpConnection::take_message(MessageSlot* slot) {
  slot->connection = this;
  note_transaction_start(*slot);
  client_.take_message(slot);
  after_event();
}

void SmtpConnection::quit() {
  client_.quit();
  after_event();
}

void SmtpConnection::abort(std::string_view reason) {
  client_.abort(reason);
  after_event();
}

void SmtpConnection::body_chunk_arrived(MessageSlot* slot) {
  client_.on_body_chunk(slot);
  after_event();
}

// ---------------------------------------------------------------------------
// Commands from the machine (SmtpClientHost). None calls back into it.

void SmtpConnection::connect(uint32_t address_index) {
  address_index_ = address_index;
  const RelayTarget& relay = worker_->relay();
  const RelayAddress& address = relay.addresses[address_index_];
  peer_name_ = fmt::format("{}[{}]:{}", relay.host, address.text, relay.port);
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_socket(sqe, address.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP, 0);
  set_completion(sqe, &socket_c_);
  ++ops_in_flight_;
}

void SmtpConnection::close() { close_asked_ = true; }

void SmtpConnection::read_body(MessageSlot* slot, uint64_t offset) { worker_->read_body_chunk(slot, offset); }

void SmtpConnection::transaction_done(MessageSlot* slot) {
  slot->connection = nullptr;
  note_transaction_end(*slot, client_, tls_.get(), worker_->relay(), address_index_);
  if (!client_.carries_messages()) idle_since_ns_ = worker_->now_ns();
  worker_->on_attempt_done(slot);
}

// start_tls: answered after the event (begin_tls), as the host must not
// call back into the machine from inside one of its events.
void SmtpConnection::start_tls() { tls_asked_ = true; }

void SmtpConnection::tls_shortfall_seen(TlsShortfall what) {
  const TlsLevel level = worker_->destination().destination().tls_level;
  worker_->metrics().count_tls_failure(tls_failure_of(what, level, tls_.get()));
}

void SmtpConnection::after_event() {
  if (tls_asked_) {
    tls_asked_ = false;
    begin_tls();
  }
  if (close_asked_ && !closing_io_) {
    close_asked_ = false;
    closing_io_ = true;
    start_close_io();
    return;
  }
  if (closing_io_) return;
  send_owed_ = true;
  arm_recv();
}

// send_owed: the send is prepared after the worker's schedule(), not in the
// event itself. The SQE would only be submitted at the loop's wait either
// way, so nothing leaves later, but a 354's body and the MAIL/RCPT/DATA of
// the message schedule() hands over next now share one send (with DATA,
// one send per message instead of two; docs/performance.md).
void SmtpConnection::send_owed() {
  if (!send_owed_) return;
  send_owed_ = false;
  if (closing_io_) return;
  flush();
  if (close_asked_) after_event();  // moving output into TLS may have ended the session
}

// begin_tls puts the record layer in and sends its first flight. SNI and
// the name verified are derived from the relay's host (never an IP literal
// as SNI; tls_peer_names).
void SmtpConnection::begin_tls() {
  if (client_.state() != ClientState::kTlsHandshake) return;  // the machine failed meanwhile
  if (tls_ == nullptr) {
    client_.on_tls_failed("TLS is not configured for this destination");
    return;
  }
  tls_in_len_ = tls_out_len_ = 0;
  if (tls_->start_handshake(worker_->relay().host) == RecordLayer::Status::kFailed) {
    const std::string why = tls_->describe_failure();
    tls_->reset();
    client_.on_tls_failed(why);
  }
}

uint32_t SmtpConnection::timeout_ms(TimeoutKind kind) const {
  return timeout_ms_of(worker_->config().smtp, kind);
}

// ---------------------------------------------------------------------------
// Deadlines: each operation in flight has one (connect, send, receive), a
// number kept here instead of a linked timeout submitted with it (which
// cost an SQE, an hrtimer armed and cancelled, and a CQE per operation).
// The worker calls check_deadlines after every batch of completions and
// wakes by next_deadline_ns(); an operation past its deadline is
// cancelled, and completes with -ECANCELED, which its handler reads as a
// timeout exactly as it read a linked timeout's.

uint64_t SmtpConnection::deadline_after(TimeoutKind kind) const {
  return worker_->now_ns() + static_cast<uint64_t>(timeout_ms(kind)) * 1'000'000ull;
}

uint64_t SmtpConnection::next_deadline_ns() const {
  uint64_t next = UINT64_MAX;
  for (const uint64_t deadline : {connect_deadline_ns_, send_deadline_ns_, recv_deadline_ns_}) {
    if (deadline != 0) next = std::min(next, deadline);
  }
  return next;
}

void SmtpConnection::check_deadlines(uint64_t now_ns) {
  cancel_if_due(connect_deadline_ns_, &connect_c_, now_ns);
  cancel_if_due(send_deadline_ns_, &send_c_, now_ns);
  cancel_if_due(recv_deadline_ns_, &recv_c_, now_ns);
}

// cancel_if_due cancels |op| (by its user_data: one operation of each kind
// is in flight at a time) once |deadline_ns| has passed. An operation that
// completed meanwhile is not found; its own result stands. The cancel's
// completion is dropped.
void SmtpConnection::cancel_if_due(uint64_t& deadline_ns, Completion* op, uint64_t now_ns) {
  if (deadline_ns == 0 || now_ns < deadline_ns) return;
  deadline_ns = 0;
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_cancel(sqe, op, 0);
  set_completion(sqe, nullptr);
}

// ---------------------------------------------------------------------------
// Connecting: socket, then connect with its timeout.

void SmtpConnection::on_socket(int res, uint32_t) {
  --ops_in_flight_;
  if (closing_io_) {
    if (res >= 0) fd_ = res;  // op_done closes it
    op_done();
    return;
  }
  if (res < 0) {
    worker_->metrics().count_connect_failure(ConnectFailure::kOther);
    client_.on_connect_failed(peer_name_, fmt::format("cannot create a socket: {}", std::strerror(-res)));
    if (client_.state() == ClientState::kIdle) worker_->on_connection_closed(this, /*was_ready=*/false);
    return;
  }
  fd_ = res;
  // Commands and replies are small and latency-bound: never wait for Nagle.
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const RelayAddress& address = worker_->relay().addresses[address_index_];
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_connect(sqe, fd_, reinterpret_cast<const sockaddr*>(&address.address), address.length);
  set_completion(sqe, &connect_c_);
  connect_deadline_ns_ = deadline_after(TimeoutKind::kConnect);
  ++ops_in_flight_;
}

void SmtpConnection::on_connect(int res, uint32_t) {
  --ops_in_flight_;
  connect_deadline_ns_ = 0;
  if (closing_io_) {
    op_done();
    return;
  }
  if (res < 0) {
    worker_->metrics().count_connect_failure(connect_failure_of(res));
    const bool timed_out = res == -ECANCELED;
    const std::string why = timed_out
                                ? fmt::format("timed out after {} ms", timeout_ms(TimeoutKind::kConnect))
                                : std::string(std::strerror(-res));
    // Close this socket through the ring (nobody waits for it), then let
    // the machine choose the next address or give up.
    io_uring_sqe* sqe = worker_->ring().sqe();
    io_uring_prep_close(sqe, fd_);
    set_completion(sqe, nullptr);
    fd_ = -1;
    client_.on_connect_failed(peer_name_, why, timed_out);
    if (client_.state() == ClientState::kIdle) worker_->on_connection_closed(this, /*was_ready=*/false);
    return;
  }
  worker_->destination().note_good_address(address_index_);
  CoreMetrics::add(worker_->metrics().connections_opened);
  client_.on_connected(peer_name_);
  after_event();
}

// ---------------------------------------------------------------------------
// Sending and receiving: what the machine wrote, and replies for it.

void SmtpConnection::flush() {
  if (send_in_flight_ > 0 || fd_ < 0) return;
  if (tls_on()) {
    flush_tls();
    return;
  }
  const std::string_view out = client_.output();
  if (out.empty()) return;
  trace(index_, "C:", out.data(), out.size(), client_.output_credential_bytes());
  send_bytes(out.data(), out.size());
}

// flush_tls: seal the machine's output into records (once the handshake is
// done), then send the ciphertext from tls_out_, a fixed buffer the kernel
// reads while the send is in flight (the session's own buffer may move).
// Sealing goes on behind ciphertext already pending, up to the session's
// bound (kMaxPendingCiphertextOut, which tls_out_ holds): so the EHLO after
// STARTTLS leaves in the same send as the client's Finished (per
// connection one send fewer here, one receive fewer at the server;
// docs/performance.md). Nothing is
// sealed before the handshake is done and its verdict accepted: the
// machine writes nothing until on_tls_ready.
void SmtpConnection::flush_tls() {
  if (tls_out_len_ == 0) {
    while (tls_->established() && !client_.output().empty()) {
      const std::string_view out = client_.output();
      size_t used = 0;
      if (tls_->write_plaintext(out.data(), out.size(), used) == RecordLayer::Status::kFailed) {
        client_.on_send_failed(false, tls_->describe_failure());
        return;
      }
      if (used == 0) break;
      trace(index_, "C(tls):", out.data(), used, client_.output_credential_bytes());
      client_.on_sent(used);  // the bytes are the record layer's now
    }
    const std::string_view cipher = tls_->ciphertext_out();
    const size_t n = cipher.size() < kTlsOutBytes ? cipher.size() : kTlsOutBytes;
    if (n == 0) return;
    std::memcpy(tls_out_.get(), cipher.data(), n);
    tls_->consume_ciphertext_out(n);
    tls_out_len_ = n;
  }
  if (trace_enabled()) fmt::print(stderr, "[conn {}] send(tls): {} bytes\n", index_, tls_out_len_);
  send_bytes(tls_out_.get(), tls_out_len_);
}

io_uring_sqe* SmtpConnection::send_bytes(const void* data, size_t size) {
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_send(sqe, fd_, data, size, MSG_NOSIGNAL);
  set_completion(sqe, &send_c_);
  send_deadline_ns_ = deadline_after(TimeoutKind::kData);
  send_in_flight_ = size;
  ++ops_in_flight_;
  return sqe;
}

void SmtpConnection::on_send(int res, uint32_t) {
  --ops_in_flight_;
  send_in_flight_ = 0;
  send_deadline_ns_ = 0;
  if (closing_io_) {
    op_done();
    return;
  }
  if (res < 0 && client_.state() == ClientState::kTlsHandshake) {
    client_.on_tls_failed(fmt::format("send failed during the TLS handshake: {}",
                                      res == -ECANCELED ? "timed out" : std::strerror(-res)));
  } else if (res < 0) {
    client_.on_send_failed(res == -ECANCELED, std::strerror(-res));
  } else if (tls_on()) {
    const size_t sent = static_cast<size_t>(res);
    std::memmove(tls_out_.get(), tls_out_.get() + sent, tls_out_len_ - sent);
    tls_out_len_ -= sent;
  } else {
    client_.on_sent(static_cast<size_t>(res));
  }
  after_event();
}

void SmtpConnection::arm_recv() {
  if (recv_armed_ || fd_ < 0) return;
  const bool handshaking = client_.state() == ClientState::kTlsHandshake && tls_on();
  if (!handshaking && !client_.awaiting_reply()) return;
  char* space = client_.in_space();
  size_t room = client_.in_room();
  if (tls_on()) {
    space = tls_in_.get() + tls_in_len_;
    room = kTlsInBytes - tls_in_len_;
    if (room == 0) return;
  }
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_recv(sqe, fd_, space, room, 0);
  set_completion(sqe, &recv_c_);
  recv_deadline_ns_ = deadline_after(client_.reply_timeout());
  recv_armed_ = true;
  ++ops_in_flight_;
}

void SmtpConnection::on_recv(int res, uint32_t) {
  --ops_in_flight_;
  recv_armed_ = false;
  recv_deadline_ns_ = 0;
  if (closing_io_) {
    op_done();
    return;
  }
  const bool opening = client_.opening();
  if (res == 0) {
    if (client_.state() == ClientState::kTlsHandshake) {
      client_.on_tls_failed("the server closed the connection during the TLS handshake");
    } else {
      client_.on_peer_closed();
    }
  } else if (res < 0 && client_.state() == ClientState::kTlsHandshake) {
    // A handshake that stalls or breaks is a TLS failure (at may: clear
    // text on a new connection), not a plain I/O error.
    client_.on_tls_failed(
        res == -ECANCELED
            ? fmt::format("no TLS handshake reply within {} ms", timeout_ms(client_.reply_timeout()))
            : fmt::format("receive failed during the TLS handshake: {}", std::strerror(-res)));
  } else if (res < 0) {
    client_.on_receive_failed(res == -ECANCELED, std::strerror(-res));
  } else if (tls_on()) {
    tls_in_len_ += static_cast<size_t>(res);
    process_tls_in();
  } else {
    trace(index_, "S:", client_.in_space(), static_cast<size_t>(res));
    client_.on_received(static_cast<size_t>(res));
  }
  if (opening && client_.session_open()) {
    idle_since_ns_ = worker_->now_ns();
    worker_->on_connection_ready(this);
  }
  after_event();
}

// process_tls_in hands the ciphertext received to the record layer until
// it makes no more progress: handshake steps (then on_tls_ready or
// on_tls_failed), and plaintext into the machine's receive buffer.
void SmtpConnection::process_tls_in() {
  for (;;) {
    const ClientState state = client_.state();
    if (state == ClientState::kIdle || state == ClientState::kClosing) return;
    size_t used = 0;
    size_t plain = 0;
    const bool handshaking = !tls_->established();
    const RecordLayer::Status status =
        tls_->read_ciphertext(tls_in_.get(), tls_in_len_, used, client_.in_space(), client_.in_room(), plain);
    if (used > 0) {
      std::memmove(tls_in_.get(), tls_in_.get() + used, tls_in_len_ - used);
      tls_in_len_ -= used;
    }
    switch (status) {
      case RecordLayer::Status::kFailed:
        if (handshaking || client_.state() == ClientState::kEhloAfterTls) {
          client_.on_tls_failed(tls_->describe_failure());
        } else {
          client_.on_receive_failed(false, tls_->describe_failure());
        }
        return;
      case RecordLayer::Status::kClosed:
        client_.on_peer_closed();
        return;
      case RecordLayer::Status::kHandshakeDone:
        if (trace_enabled()) fmt::print(stderr, "[conn {}] TLS: {}\n", index_, tls_->summary());
        CoreMetrics::add(tls_->session().resumed() ? worker_->metrics().tls_handshakes_resumed
                                                   : worker_->metrics().tls_handshakes_full);
        client_.on_tls_ready();
        continue;
      case RecordLayer::Status::kOk:
        break;
    }
    if (plain > 0) {
      trace(index_, "S(tls):", client_.in_space(), plain);
      client_.on_received(plain);
      continue;
    }
    if (used == 0) return;  // no progress: wait for more ciphertext
  }
}

// ---------------------------------------------------------------------------
// Closing: wake what is pending, then close the socket, then tell the
// machine and the worker.

void SmtpConnection::start_close_io() {
  // After a TLS session (or a failed handshake's alert): close_notify, or
  // the alert, goes out first. Best effort: a failure changes nothing.
  // With nothing else in flight the close is hard-linked behind it (it runs
  // whatever the send gives), so both go in one submission; otherwise the
  // shutdown is linked behind it, to wake what is pending.
  if (fd_ >= 0 && tls_on() && send_in_flight_ == 0) {
    tls_->shutdown();
    const std::string_view cipher = tls_->ciphertext_out();
    const size_t n = cipher.size() < kTlsOutBytes ? cipher.size() : kTlsOutBytes;
    if (n > 0) {
      std::memcpy(tls_out_.get(), cipher.data(), n);
      tls_->consume_ciphertext_out(n);
      tls_out_len_ = n;
      const bool close_behind = ops_in_flight_ == 0;
      worker_->ring().reserve(2);
      send_bytes(tls_out_.get(), n)->flags |= close_behind ? IOSQE_IO_HARDLINK : IOSQE_IO_LINK;
      if (close_behind) {
        queue_close();
        return;
      }
    }
  }
  if (fd_ >= 0 && ops_in_flight_ > 0) {
    // Wake any receive or send still pending on the socket.
    io_uring_sqe* sqe = worker_->ring().sqe();
    io_uring_prep_shutdown(sqe, fd_, SHUT_RDWR);
    set_completion(sqe, &shutdown_c_);
    ++ops_in_flight_;
    return;
  }
  op_done();
}

void SmtpConnection::queue_close() {
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_close(sqe, fd_);
  set_completion(sqe, &close_c_);
  fd_ = -1;
  ++ops_in_flight_;
}

void SmtpConnection::on_shutdown(int, uint32_t) {
  --ops_in_flight_;
  op_done();
}

void SmtpConnection::op_done() {
  if (!closing_io_ || ops_in_flight_ > 0) return;
  if (fd_ >= 0) {
    queue_close();
    return;
  }
  closing_io_ = false;
  connect_deadline_ns_ = send_deadline_ns_ = recv_deadline_ns_ = 0;
  send_in_flight_ = 0;
  recv_armed_ = false;
  tls_in_len_ = tls_out_len_ = 0;
  if (tls_ != nullptr) tls_->reset();  // frees the SSL object; the buffers stay
  client_.on_closed();
  worker_->on_connection_closed(this, client_.was_ready());
}

void SmtpConnection::on_close(int, uint32_t) {
  --ops_in_flight_;
  op_done();
}

}  // namespace ringmail
