// engine/smtp_connection.h — the worker side of one SMTP client connection:
// it owns the socket, the io_uring operations and their deadlines,
// and feeds the protocol machine (engine/smtp_client.h) with what they
// bring. It holds no protocol knowledge: what to send, when to read, when
// to close and what a reply means all come from the machine (and, through
// it, engine/delivery_policy).
//
// Who uses it: engine/worker.cc owns a fixed pool of these and hands each
// one whose machine can take a message a MessageSlot to carry;
// engine/message_io.cc reports body reads (body_chunk_arrived, abort).
//
// I/O: socket → connect (connect timeout) → receive (reply or data timeout,
// as the machine says) and send (data timeout), each bounded by a deadline
// the worker checks (check_deadlines: past it, the operation is cancelled,
// which reads as a timeout; no linked timeout per operation); on close,
// close_notify hard-linked to the close, or a shutdown (to wake what is
// pending) then close. Each
// completion becomes one machine event; after every event, after_event()
// carries out what the machine asked for: keep a receive armed while it
// awaits a reply, close; its output is sent once per pass of the worker's
// loop (send_owed), so everything written in one pass shares one send.
// RINGMAIL_TRACE=1 prints the bytes both ways on stderr (a debugging
// transcript, never on in production).
//
// TLS sits between the two when the machine asks for it (start_tls: after
// the 220 to STARTTLS, or at connect with implicit TLS): a TlsRecordLayer
// (engine/tls_record_layer.h) behind the engine/record_layer.h seam. Then
// the socket carries only ciphertext, received into tls_in_ and sent from
// tls_out_, and the machine sees only plaintext. On close, after the
// handshake, close_notify goes out before the socket is shut down.
// Memory: the machine's buffers, and with a TLS destination the record
// layer and its two ciphertext buffers (kTlsInBytes, kTlsOutBytes), all
// allocated once, with the connection; BoringSSL allocates the SSL object
// per connection (docs/tls.md: the budget).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/smtp_client.h"
#include "engine/tls_record_layer.h"
#include "engine/uring.h"

namespace ringmail {

class Worker;
class MessageSlot;

class SmtpConnection final : private SmtpClientHost {
 public:
  static constexpr uint32_t kMaxMessagesInFlight = SmtpClient::kMaxMessagesInFlight;
  // Ciphertext buffers: one full record and its overhead each way (plus
  // the largest handshake flight a server sends, which TlsSession takes in
  // kMaxBufferedCiphertextIn pieces).
  static constexpr size_t kTlsInBytes = kMaxPlaintextPerWrite + kRecordOverhead;
  static constexpr size_t kTlsOutBytes = kMaxPendingCiphertextOut + kRecordOverhead;

  // SmtpConnection keeps |worker| and |config|, which must outlive it.
  SmtpConnection(Worker* worker, const SmtpClientConfig* config, uint32_t index);
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;

  // bind_destination (re)builds the TLS record layer for the worker's
  // current DestinationState; at construction and, while is_closed(), when
  // the worker switches relay generations (SIGHUP).
  void bind_destination();
  // open starts connecting to the relay's addresses, the preferred one
  // first (is_closed() must be true).
  void open();
  bool can_take_message() const { return client_.can_take_message(); }
  // take_message starts |slot|'s transaction on this connection.
  void take_message(MessageSlot* slot);
  // quit sends QUIT if the connection is ready and carries nothing.
  void quit();
  // abort closes the connection now, deferring what it carries.
  void abort(std::string_view reason);
  // body_chunk_arrived: the worker read more of |slot|'s file; go on sending.
  void body_chunk_arrived(MessageSlot* slot);

  // is_closed: no socket and nothing in flight (open() may be called).
  bool is_closed() const { return client_.state() == ClientState::kIdle && ops_in_flight_ == 0; }
  // is_opening: connecting or greeting, not yet ready.
  bool is_opening() const { return client_.opening(); }
  // is_ready: the session is open (it may carry messages now or soon).
  bool is_ready() const { return client_.session_open(); }
  // is_idle_ready: ready and carrying nothing (a candidate for QUIT).
  bool is_idle_ready() const { return client_.state() == ClientState::kReady && !client_.carries_messages(); }
  bool exhausted() const { return client_.exhausted(); }
  bool carries_messages() const { return client_.carries_messages(); }
  uint64_t idle_since_ns() const { return idle_since_ns_; }
  uint32_t index() const { return index_; }
  const char* state_name() const { return client_.state_name(); }
  // check_deadlines cancels an operation whose timeout has passed (the
  // worker calls it after every batch of completions); next_deadline_ns is
  // the earliest deadline of an operation in flight (UINT64_MAX: none),
  // for the worker's wait. Times are Worker::now_ns() values.
  void check_deadlines(uint64_t now_ns);
  uint64_t next_deadline_ns() const;
  // send_owed sends what the machine wrote since the last call (the worker
  // calls it once per pass of its loop, after schedule(): a body written on
  // a 354 and the next message's MAIL/RCPT/DATA then leave in one send).
  void send_owed();
  // debug_state is a one-word-per-field summary for stall diagnostics.
  std::string debug_state() const;
  const std::string& last_error() const { return client_.last_error(); }
  // tls_fell_back: it closed because TLS failed at level may (the worker
  // remembers it and reconnects in clear).
  bool tls_fell_back() const { return client_.tls_fell_back(); }

 private:
  // SmtpClientHost: the machine's commands.
  void connect(uint32_t address_index) override;
  void close() override;
  void read_body(MessageSlot* slot, uint64_t offset) override;
  void transaction_done(MessageSlot* slot) override;
  void start_tls() override;
  void tls_shortfall_seen(TlsShortfall what) override;

  // after_event carries out what the machine asked for during an event.
  void after_event();
  void begin_tls();
  void flush();
  void flush_tls();
  // send_bytes queues one send of data[0..size) with its deadline (the data
  // timeout) and returns its SQE (a caller may link it to what follows).
  io_uring_sqe* send_bytes(const void* data, size_t size);
  void arm_recv();
  void process_tls_in();
  bool tls_on() const { return tls_ != nullptr && tls_->started(); }
  uint32_t timeout_ms(TimeoutKind kind) const;
  uint64_t deadline_after(TimeoutKind kind) const;  // now + the timeout of |kind|
  void cancel_if_due(uint64_t& deadline_ns, Completion* op, uint64_t now_ns);

  // Completions.
  void on_socket(int res, uint32_t flags);
  void on_connect(int res, uint32_t flags);
  void on_send(int res, uint32_t flags);
  void on_recv(int res, uint32_t flags);
  void on_shutdown(int res, uint32_t flags);
  void on_close(int res, uint32_t flags);
  void start_close_io();  // close_notify, shutdown pending operations, then close
  void queue_close();     // close fd_ through the ring
  void op_done();         // an operation of ours completed; finish closing if it was the last

  Worker* worker_;
  uint32_t index_;
  SmtpClient client_;
  int fd_ = -1;
  uint32_t address_index_ = 0;  // the address being connected to
  std::string peer_name_;       // "host[ip]:port" of that address
  uint64_t idle_since_ns_ = 0;
  uint32_t ops_in_flight_ = 0;
  bool close_asked_ = false;   // the machine asked to close; the close I/O starts after the event
  bool send_owed_ = false;     // the machine may have output: send_owed() flushes it
  bool tls_asked_ = false;     // the machine asked for TLS (answered after the event)
  bool closing_io_ = false;    // shutdown/close in flight: completions only count down
  size_t send_in_flight_ = 0;  // bytes of the machine's output the kernel is sending
  bool recv_armed_ = false;
  // TLS (null when the destination does not use TLS).
  std::unique_ptr<TlsRecordLayer> tls_;
  std::unique_ptr<char[]> tls_in_;  // ciphertext received, not yet taken by the session
  size_t tls_in_len_ = 0;
  std::unique_ptr<char[]> tls_out_;  // ciphertext being sent
  size_t tls_out_len_ = 0;
  // Deadlines of the operations in flight (Worker::now_ns() values; 0: none).
  uint64_t connect_deadline_ns_ = 0, send_deadline_ns_ = 0, recv_deadline_ns_ = 0;

  MemberCompletion<SmtpConnection, &SmtpConnection::on_socket> socket_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_connect> connect_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_send> send_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_recv> recv_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_shutdown> shutdown_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_close> close_c_{this};
};

}  // namespace ringmail
