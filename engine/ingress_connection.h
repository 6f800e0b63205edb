// engine/ingress_connection.h — the worker side of one inbound SMTP
// connection to a [[listen]]: it owns the accepted socket, its io_uring
// receives and sends with their linked timeouts, the server TLS session
// (STARTTLS or implicit TLS), and feeds the protocol machine
// (ingress/smtp_server_session.h) with the bytes. As the machine's
// SessionHost it checks credentials (users file, per-IP AUTH throttle),
// admits messages (per-IP rate), builds each message's spool file in its
// own buffer (envelope preamble, Received: field, body) and hands it to
// the commit thread (ingress/spool_committer.h); the 250 goes out only
// after the commit thread's ack (on_commit_ack).
//
// Who uses it: engine/ingress_server.cc owns a fixed pool of these per
// listener per worker and hands each accepted socket to a free one.
//
// I/O is half-duplex: at most one receive or one send is in flight (plus
// the shutdown that wakes it when closing). SMTP is request/reply, and
// with PIPELINING the replies to a batch of commands go out in one send
// before the next receive. Each receive's timeout is the command or data
// timeout (as the machine says: timeout_kind()), cut to what is left of
// the session timeout; each send has the command timeout. While the
// machine waits for the store (kWaitStore) nothing is received.
//
// Memory, allocated once with the connection: a 16 KiB receive buffer
// (ciphertext under TLS) and, on TLS listeners, a 16 KiB plaintext buffer
// and the TlsSession (BoringSSL allocates the SSL object per connection).
// The spool buffer grows to the largest message seen and keeps that
// capacity, up to kKeepSpoolBytes; beyond it, it is freed after the commit.
//
// Never: a blocking call (UsersFile::verify runs crypt(3) once per new
// user/password pair, then answers from its cache: the documented
// exception, docs/ingress.md), a write to the spool (the commit thread
// does it), or reuse of the spool buffer while a commit reads it.
#pragma once

#include <linux/time_types.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/uring.h"
#include "ingress/smtp_server_session.h"
#include "ingress/spool_committer.h"
#include "tls/tls_session.h"

namespace ringmail {

class IngressPort;
struct IngressListener;

class IngressConnection final : private ingress::SessionHost {
 public:
  static constexpr size_t kInBytes = 16 * 1024;
  static constexpr size_t kPlainBytes = kMaxPlaintextPerWrite;
  static constexpr size_t kKeepSpoolBytes = 1024 * 1024;

  // IngressConnection keeps |port|, which must outlive it; |token| names it
  // to the commit thread.
  IngressConnection(IngressPort* port, uint64_t token);
  ~IngressConnection() override;
  IngressConnection(const IngressConnection&) = delete;
  IngressConnection& operator=(const IngressConnection&) = delete;

  // open serves the accepted socket |fd| from |peer| (is_free() must be true).
  void open(int fd, const sockaddr_storage& peer);
  // on_commit_ack: the commit thread made this connection's message durable (or failed to).
  void on_commit_ack(const ingress::CommitAck& ack);
  // retry_submit offers the message to the commit thread again (it was full).
  void retry_submit();
  // begin_shutdown: the engine stops. The command in progress, or the
  // message being received or stored, finishes; then "421 4.3.2" and close.
  void begin_shutdown();

  // is_free: no socket and no commit outstanding (open() may be called).
  bool is_free() const { return fd_ < 0 && ops_in_flight_ == 0 && !commit_in_flight_ && !closing_; }
  bool submit_waiting() const { return submit_waiting_; }
  bool commit_in_flight() const { return commit_in_flight_; }
  uint64_t token() const { return token_; }

 private:
  // SessionHost.
  ingress::AuthCheck check_credentials(std::string_view user, std::string_view password) override;
  bool admit_message() override;
  bool begin_message(const ingress::TransactionInfo& info) override;
  bool append_body(const char* data, size_t size) override;
  void end_message() override;
  void abort_message() override;
  void note(ingress::SessionEvent event, std::string_view detail) override;

  const IngressListener& listener() const;
  // pump moves bytes between the socket buffers, TLS and the machine until
  // it must wait, then starts the one receive or send, or closes.
  void pump();
  void pump_clear();
  void pump_tls();
  // take_action records what the machine asked for in a feed.
  void take_action(ingress::SessionAction action);
  // feed_input hands [start, end) of |buffer| to the machine; false when
  // nothing could be fed (it waits, or needs more bytes).
  bool feed_input(const char* buffer, uint32_t& start, uint32_t end);
  // ready_to_receive is where the connection would wait for the client:
  // here a stopping engine says 421 instead.
  bool shutdown_reply_due() const;
  std::string_view pending_plain() const;
  void consume_plain(size_t n);
  bool start_tls_session();
  void send_bytes(const void* data, size_t size);
  void arm_recv();
  uint32_t timeout_ms_for(uint32_t kind_ms) const;
  void start_close();
  void op_done();
  void apply_ack(const ingress::CommitAck& ack);
  void say_shutdown();
  void log_accepted();
  bool at_command_boundary() const;

  void on_recv(int res, uint32_t flags);
  void on_send(int res, uint32_t flags);
  void on_close(int res, uint32_t flags);

  IngressPort* port_;
  const uint64_t token_;
  ingress::ServerSession session_;
  int fd_ = -1;
  sockaddr_storage peer_{};
  char peer_text_[64] = {};  // "192.0.2.1" / "2001:db8::1"
  uint64_t session_deadline_ns_ = 0;
  uint32_t ops_in_flight_ = 0;
  bool recv_armed_ = false;
  size_t send_in_flight_ = 0;
  bool closing_ = false;           // close I/O started
  bool close_after_send_ = false;  // the machine (or TLS) ended the session: send what is left, close
  bool starttls_pending_ = false;  // the 220 to STARTTLS is going out in clear
  bool waiting_store_ = false;     // the machine waits for on_stored()
  bool commit_in_flight_ = false;  // the commit thread holds spool_ (submitted or waiting to be)
  bool submit_waiting_ = false;    // the commit thread was full: retry_submit() next turn
  bool shutting_down_ = false;     // the engine stops
  bool shutdown_cancel_ = false;   // the receive was cancelled because the engine stops
  bool shutdown_said_ = false;     // "421 4.3.2" queued
  bool open_ = false;              // serving a socket (from open() until its close completed);
                                   // it holds a ClientLimits place all that time
  bool session_started_ = false;   // start() was called (after the handshake with implicit TLS)
  bool session_open_ = false;      // started and not yet close()d
  bool trusted_ = false;           // the client's address is in trusted_networks
  bool ack_waiting_ = false;       // an ack came during a send: applied when it completes
  ingress::CommitAck ack_;
  std::string_view extra_out_;  // a reply of the connection's own (421 at shutdown)

  std::unique_ptr<char[]> in_;  // received bytes: plaintext, or ciphertext under TLS
  uint32_t in_start_ = 0, in_end_ = 0;
  // TLS (null on listeners without TLS).
  std::unique_ptr<TlsSession> tls_;
  std::unique_ptr<char[]> plain_;
  uint32_t plain_start_ = 0, plain_end_ = 0;
  bool tls_on_ = false;
  bool close_notify_queued_ = false;
  uint32_t tls_spins_ = 0;

  // The message being received or stored.
  std::string spool_;
  ingress::CommitRequest request_;
  std::string sender_;                                    // for the log line
  const std::vector<std::string>* recipients_ = nullptr;  // the machine's, valid until on_stored
  std::string auth_user_;
  size_t message_offset_ = 0;  // where the message (Received: field) starts in spool_

  __kernel_timespec recv_ts_{}, send_ts_{};
  MemberCompletion<IngressConnection, &IngressConnection::on_recv> recv_c_{this};
  MemberCompletion<IngressConnection, &IngressConnection::on_send> send_c_{this};
  MemberCompletion<IngressConnection, &IngressConnection::on_close> close_c_{this};
};

}  // namespace ringmail
