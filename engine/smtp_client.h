// engine/smtp_client.h — the SMTP client protocol (RFC 5321 with PIPELINING,
// SIZE, 8BITMIME, SMTPUTF8, CHUNKING, ENHANCEDSTATUSCODES) as a pure state
// machine: events and bytes in; bytes to send, commands to its owner and
// per-recipient verdicts out. It is to the client what
// tools/sink/sink_session is to the server.
//
// Who uses it: engine/smtp_connection.cc (the worker-side adapter that owns
// the socket, the io_uring operations and their deadlines, and feeds
// this machine), tests/unit/smtp_client_test.cc (a scripted server, every
// reply split at every byte) and tests/fuzz/smtp_client_fuzz.cc.
//
// What it must never do: make a system call or an io_uring call, read the
// clock, touch the spool, or decide policy. It talks to untrusted servers
// through bytes only. Each reply is matched to the command it answers (a
// ring of expectations) and its meaning — go on, defer, fail, fall back to
// HELO, and for whom — comes from engine/delivery_policy (decide(),
// decide_io_failure(), decide_precheck()); the machine records the result
// on the message's recipients (MessageSlot::resolve) and hands the message
// back to its owner when its transaction is over.
//
// Memory: the receive buffer, send buffer and expectation ring are
// allocated once, in the constructor; nothing is allocated per message
// (error sentences, on error paths only, are std::string).
//
// States (ClientState; one at a time, each says what it waits for):
//
//   kIdle ──start()──► kConnecting ──on_connected──► kGreeting ──220──► kEhloSent
//     ▲                  │ on_connect_failed: next address (connect(i)), or
//     │                  │ kIdle with last_error() once every address failed
//     │                                    kEhloSent ──5xx──► kHeloSent ──2xx──┐
//     │                                    kEhloSent ──2xx─────────────────────┤
//     │   (TLS: per SmtpClientConfig::tls_level; AUTH: with credentials)       │
//     │   kEhloSent ──2xx, STARTTLS offered──► kStarttlsSent ──220──►          │
//     │   kTlsHandshake ──on_tls_ready──► kEhloAfterTls ──2xx──────────────────┤
//     │                                                                        │
//     │   [AUTH, when SmtpClientConfig::credentials are configured: from the   │
//     │    last EHLO's 2xx, PLAIN preferred]                                    │
//     │    ──► kAuthPlainSent ──235──────────────────────────────────────────► │
//     │    ──► kAuthLoginSent ──334──► kAuthUsernameSent ──334──►              │
//     │        kAuthPasswordSent ──235─────────────────────────────────────────┤
//     │                                                                        ▼
//     │        ┌──────────────────────────────────────────────────────────► kReady
//     │        │ "." written                  354 to DATA                  │   │ DATA written
//     │      kBody ◄──────────────────────── kDataSent ◄──────────────────────┘   │
//     │                      (other DATA reply: back to kReady)                  │
//     │           quit(), or after the last message's end of data ──► kQuitSent ─┤
//     │                                                                          ▼
//     └──────────── on_closed() ◄── kClosing ◄── 221, peer closed, any failure (fail())
//
// TLS: with implicit TLS, kConnecting ──on_connected──► kTlsHandshake
// ──on_tls_ready──► kGreeting. With STARTTLS, what a server without it, a
// refusal or a failed handshake means is decide_tls_shortfall's (clear text
// at may, defer at encrypt and above); messages are only taken in kReady,
// so at the levels that require TLS no message byte is written before it.
// Capabilities from before TLS are forgotten; EHLO is sent again.
//
// AUTH (RFC 4954): with credentials, the session opens only after a 235.
// Credentials go out only over TLS unless allow_plaintext_auth
// (may_send_credentials); a session in clear without it, a server without
// AUTH, or one with neither PLAIN nor LOGIN ends the connection as
// decide_auth_shortfall says (defer, nothing sent). A refusal (535, 530,
// 534, 538, 454...) is decide()'s at SmtpStage::kAuth/kAuthChallenge, and
// its reason carries engine/reply_explanation's hint. The AUTH lines are
// prepared at start-up (engine/smtp_auth.h); output_credential_bytes()
// tells a transcript printer which output bytes to mask.
//
// In kReady the machine writes whole transactions as far as PIPELINING
// allows: MAIL, RCPTs and DATA (then kDataSent: nothing more may be written
// before the 354), or MAIL, RCPTs and "BDAT n LAST" with the body when the
// server offers CHUNKING and the message fits one read (up to four
// transactions in flight). In kBody the body is encoded into the send
// buffer (BodyEncoder: CRLF, 998-octet lines, dot-stuffing); bytes beyond
// what is in memory are asked for with read_body(); the next message's
// MAIL/RCPT/DATA go out right behind the ".". A failed transaction is
// followed by RSET before the next MAIL.
//
// Failures: a reply whose decision has connection scope, a malformed or
// unsolicited reply, the peer closing, an I/O error or timeout all end in
// fail(): every message the connection carries is resolved as
// decide_io_failure() says and handed back, then kClosing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/body_encoder.h"
#include "engine/delivery_policy.h"
#include "engine/ehlo_capabilities.h"
#include "engine/mail_precheck.h"
#include "engine/record_layer.h"
#include "engine/smtp_auth.h"

namespace ringmail {

class MessageSlot;
struct SmtpReply;

// ClientState: where the connection is; each state waits for one thing.
enum class ClientState : uint8_t {
  kIdle,           // no connection; waits for start()
  kConnecting,     // waits for the owner's connect result (each relay address in turn)
  kGreeting,       // waits for the server's 220 banner
  kEhloSent,       // waits for the reply to EHLO (5xx: fall back to HELO)
  kHeloSent,       // waits for the reply to HELO
  kStarttlsSent,   // waits for the 220 to STARTTLS
  kTlsHandshake,   // waits for the record layer's handshake: on_tls_ready / on_tls_failed; no plaintext may
                   // arrive
  kEhloAfterTls,   // waits for the reply to the EHLO sent over TLS
  kAuthPlainSent,  // "AUTH PLAIN <response>" written: waits for the 235
  kAuthLoginSent,  // "AUTH LOGIN" written: waits for the 334 asking for the user name
  kAuthUsernameSent,  // the user name written: waits for the 334 asking for the password
  kAuthPasswordSent,  // the password written: waits for the 235
  kReady,             // session open: takes messages, writes commands, waits for replies, room and messages
  kDataSent,          // DATA written: waits for its reply before anything else may be written
  kBody,              // 354 received: waits for body bytes (read_body) and room to write them
  kQuitSent,          // QUIT written (maybe behind the last message): waits for the replies due, then the 221
                      // or the peer closing
  kClosing,           // the owner is closing the socket: waits for on_closed()
};

// client_state_name is the state's name for logs ("ehlo-sent", "body"...).
const char* client_state_name(ClientState state);

// TimeoutKind says which configured timeout bounds an operation the owner
// arms: the connect (smtp.connect_timeout_ms), a reply
// (smtp.reply_timeout_ms) or the body and the reply after it
// (smtp.data_timeout_ms).
enum class TimeoutKind : uint8_t { kConnect, kReply, kData };

// timeout_ms_of is |smtp|'s timeout for |kind|: the one mapping every owner
// of the machine (SmtpConnection, test-send's blocking driver) arms.
uint32_t timeout_ms_of(const SmtpConfig& smtp, TimeoutKind kind);

// SmtpClientConfig is read-only and shared by a worker's clients.
struct SmtpClientConfig {
  std::string helo_name = "localhost";
  uint32_t max_messages_per_connection = 1000;
  bool chunking = true;  // smtp.chunking: BDAT allowed where offered
  // tls_level: the destination's level in force (effective_tls_level).
  // none: never STARTTLS. may: STARTTLS when offered. encrypt, verify,
  // secure: TLS required. What a shortfall means (not offered, refused,
  // handshake failed) is engine/delivery_policy's decide_tls_shortfall.
  TlsLevel tls_level = TlsLevel::kNone;
  // implicit_tls: TLS from the first byte: start_tls() is asked as soon as
  // the connection is up, and the greeting is read over TLS.
  bool implicit_tls = false;
  // pipeline_quit: with PIPELINING, QUIT follows the last message a
  // connection may carry (max_messages_per_connection) in the same send.
  // test-send turns it off, to show the dialogue one reply at a time.
  bool pipeline_quit = true;
  // credentials: the login (engine/smtp_auth.h); null or not configured():
  // no AUTH. Owned by the Destination.
  const SmtpCredentials* credentials = nullptr;
};

// SmtpClientHost receives the machine's commands. Each call is made from
// inside one of the machine's event functions; the host must not call back
// into the machine from it (it records the command, or queues I/O, and acts
// after the event returns).
class SmtpClientHost {
 public:
  virtual ~SmtpClientHost() = default;
  // connect: open a connection to relay address |address_index| (bounded by
  // TimeoutKind::kConnect); answer with on_connected or on_connect_failed.
  virtual void connect(uint32_t address_index) = 0;
  // close: close the connection (after sending nothing more); answer with
  // on_closed() once the socket is gone.
  virtual void close() = 0;
  // read_body: bring |slot|'s file bytes from |offset| into its stream
  // buffer, then call on_body_chunk(slot). Asked again while a read is in
  // flight; the host ignores the repeat.
  virtual void read_body(MessageSlot* slot, uint64_t offset) = 0;
  // transaction_done: |slot|'s attempt on this connection is over (every
  // recipient resolved, no reply outstanding for it); the slot is the
  // host's again.
  virtual void transaction_done(MessageSlot* slot) = 0;
  // start_tls: put a record layer (engine/record_layer.h) between the
  // machine and the socket and begin its handshake; answer with
  // on_tls_ready or on_tls_failed. Asked on entering kTlsHandshake.
  virtual void start_tls() = 0;
  // tls_shortfall_seen: the session did not get TLS (not offered, refused,
  // handshake failed), whatever the level then makes of it; for counting
  // only. Not called when STARTTLS is skipped because TLS failed there
  // recently (level may).
  virtual void tls_shortfall_seen(TlsShortfall) {}
};

class SmtpClient {
 public:
  static constexpr size_t kInBytes = 32 * 1024;
  static constexpr size_t kOutBytes = 256 * 1024;
  static constexpr uint32_t kMaxExpectations = 4096;  // replies outstanding
  // Messages a connection carries at once. With DATA: the one whose body is
  // going out and the next one's MAIL/RCPT/DATA pipelined behind it. With
  // BDAT (CHUNKING): up to four whole transactions back to back.
  static constexpr uint32_t kMaxMessagesInFlightData = 2;
  static constexpr uint32_t kMaxMessagesInFlight = 4;

  // SmtpClient keeps |config| and |host|, which must outlive it.
  SmtpClient(const SmtpClientConfig* config, SmtpClientHost* host);
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;

  // --- Events from the owner ---------------------------------------------

  // start begins a connection (state must be kIdle): asks connect() for
  // |first_address|, then the others of |address_count| in turn on failure.
  // |starttls_allowed| false: do not try STARTTLS on this connection (at
  // level may, while its owner remembers a failed handshake there).
  void start(uint32_t address_count, uint32_t first_address, bool starttls_allowed = true);
  // on_connected: the connect to the address asked for succeeded; |peer| is
  // its name for messages ("host[ip]:port").
  void on_connected(std::string_view peer);
  // on_connect_failed: the connect to |peer| failed (|why|: refused, timed
  // out...; |timed_out| when the connect timeout fired). The next address
  // is asked for, or, all tried, kIdle.
  void on_connect_failed(std::string_view peer, std::string_view why, bool timed_out = false);
  // in_space/in_room: where the owner may put received bytes (at most
  // in_room() of them), then call on_received(n).
  char* in_space() { return in_.get() + in_len_; }
  size_t in_room() const { return kInBytes - in_len_; }
  void on_received(size_t n);
  // feed copies up to in_room() bytes of data[0..size) into the receive
  // buffer and handles them; returns the bytes taken (for tests and, later,
  // the record layer's plaintext).
  size_t feed(const char* data, size_t size);
  // on_sent: the first |n| bytes of output() went out.
  void on_sent(size_t n);
  // on_peer_closed: the server closed the connection (a receive read 0).
  void on_peer_closed();
  // on_receive_failed / on_send_failed: an I/O error (|error|, e.g.
  // strerror) or, with |timed_out|, the operation's timeout fired.
  void on_receive_failed(bool timed_out, std::string_view error);
  void on_send_failed(bool timed_out, std::string_view error);
  // on_tls_ready / on_tls_failed: the record layer finished its handshake
  // (kTlsHandshake; on_tls_failed also in kEhloAfterTls, where a TLS 1.3
  // server's verdict on the client certificate arrives).
  void on_tls_ready();
  void on_tls_failed(std::string_view why);
  // on_closed: the socket the machine asked to close() is gone: kIdle.
  void on_closed();

  // can_take_message: ready, below the in-flight and per-connection limits,
  // and no transaction waiting to be written.
  bool can_take_message() const;
  // take_message starts |slot|'s transaction (the machine's prechecks may
  // refuse it at once: transaction_done() follows from inside this call).
  void take_message(MessageSlot* slot);
  // on_body_chunk: the read asked for by read_body(slot, ...) landed.
  void on_body_chunk(MessageSlot* slot);
  // quit writes QUIT if the session is open and carries nothing.
  void quit();
  // abort ends the connection now (a body read failed, shutdown): what it
  // carries is resolved as decide_io_failure() says.
  void abort(std::string_view reason);

  // --- Outputs -------------------------------------------------------------

  // output: bytes to send. Stable until on_sent(): the machine only appends.
  std::string_view output() const { return std::string_view(out_.get(), out_len_); }
  // awaiting_reply: a reply is expected; the owner keeps a receive armed,
  // bounded by reply_timeout().
  bool awaiting_reply() const;
  TimeoutKind reply_timeout() const;

  ClientState state() const { return state_; }
  const char* state_name() const { return client_state_name(state_); }
  // session_open: greeted, and not yet quitting or closing.
  bool session_open() const {
    return state_ == ClientState::kReady || state_ == ClientState::kDataSent || state_ == ClientState::kBody;
  }
  // opening: between start() and kReady.
  bool opening() const { return state_ >= ClientState::kConnecting && state_ < ClientState::kReady; }
  // exhausted: it carried max_messages_per_connection and takes no more.
  bool exhausted() const { return messages_started_ >= config_->max_messages_per_connection; }
  bool carries_messages() const { return messages_in_flight_ > 0; }
  uint32_t messages_in_flight() const { return messages_in_flight_; }
  uint32_t replies_outstanding() const { return expect_count_; }
  // was_ready: the connection that is closing (or just closed) got as far
  // as kReady.
  bool was_ready() const { return was_ready_; }
  const std::string& last_error() const { return last_error_; }
  // tls_fell_back: the connection closed because its TLS handshake failed at
  // level may (decide_tls_shortfall: kClearNewConnection): the owner should
  // remember it and reconnect without STARTTLS.
  bool tls_fell_back() const { return tls_fell_back_; }
  // tls_active: the session runs over TLS (the handshake completed).
  bool tls_active() const { return tls_active_; }
  // authenticated: AUTH succeeded (235) on this session.
  bool authenticated() const { return authenticated_; }
  // output_credential_bytes: how many bytes at the front of output() may
  // carry credentials (through the end of the last AUTH PLAIN line or LOGIN
  // answer written); a transcript shows them through mask_credential_lines.
  size_t output_credential_bytes() const { return out_credentials_; }
  const std::string& peer() const { return peer_; }
  const EhloCapabilities& capabilities() const { return caps_; }
  // debug_state: one line for stall diagnostics.
  std::string debug_state() const;

 private:
  // Expect names the command a reply answers.
  enum class Expect : uint8_t {
    kGreeting,
    kEhlo,
    kHelo,
    kStarttls,
    kAuth,           // the final reply (235)
    kAuthChallenge,  // a 334 asking for the next LOGIN answer
    kMail,
    kRcpt,
    kData,
    kDataEnd,
    kRset,
    kQuit
  };
  struct Expectation {
    MessageSlot* slot;
    uint16_t rcpt;
    Expect kind;
  };

  // Replies: the dispatcher, then one handler per command answered.
  void handle_replies();
  void on_reply(const Expectation& expect, const SmtpReply& reply);
  void on_greeting_reply(const SmtpReply& reply);
  void on_hello_reply(const Expectation& expect, const SmtpReply& reply);
  void on_starttls_reply(const SmtpReply& reply);
  void on_auth_reply(const Expectation& expect, const SmtpReply& reply);
  void on_mail_reply(MessageSlot* slot, const SmtpReply& reply);
  void on_rcpt_reply(MessageSlot* slot, uint16_t rcpt, const SmtpReply& reply);
  void on_data_reply(MessageSlot* slot, const SmtpReply& reply);
  void on_data_end_reply(MessageSlot* slot, const SmtpReply& reply);
  void on_rset_reply(const SmtpReply& reply);
  // session_greeted: the last EHLO (or HELO) is answered and TLS is as the
  // level wants it: log in (with credentials), or the session is ready.
  // |why_clear| says why the session is in clear, for the sentence when
  // credentials may not go out then.
  void session_greeted(const EhloCapabilities& caps, const char* why_clear);
  void session_ready(const EhloCapabilities& caps);
  // auth_shortfall: the login cannot happen (|what|; |why_clear| for
  // kNoTls); ends the connection as decide_auth_shortfall says.
  void auth_shortfall(AuthShortfall what, std::string_view why_clear);
  // emit_credentials writes |line| (which carries a secret) as a command
  // answered by |kind|.
  void emit_credentials(const std::string& line, Expect kind);
  // tls_shortfall: TLS did not happen (|what|, |detail| says how); go on in
  // clear or end the connection, as decide_tls_shortfall says.
  void tls_shortfall(TlsShortfall what, std::string_view detail);

  // Emitters: write commands and bodies into out_, within the limits.
  void pump();           // write whatever may be written now
  void pipeline_quit();  // QUIT behind the last message the connection may carry
  bool can_emit_command() const;
  bool emit_command(std::string_view text, Expect kind, MessageSlot* slot, uint16_t rcpt);
  void emit_hello(Expect kind);
  void emit_transaction();
  bool uses_bdat(const MessageSlot* slot) const;
  bool emit_bdat(MessageSlot* slot);  // false: not enough room yet
  uint32_t max_in_flight() const;
  void emit_body();
  void end_transaction(MessageSlot* slot);  // no more commands or body for it
  void push_expect(Expect kind, MessageSlot* slot, uint16_t rcpt);
  size_t out_room() const { return kOutBytes - out_len_; }

  // Prechecks (engine/mail_precheck) before a message's MAIL.
  bool precheck(MessageSlot* slot);
  bool refuse(MessageSlot* slot, Precheck check, std::string_view why);
  void eight_bit_met_while_streaming(MessageSlot* slot);

  // Ending.
  void maybe_release(MessageSlot* slot);
  // fail is a connection-scope failure: everything the connection carries
  // (and |current|, the message whose reply caused it, when that reply was
  // its last reference) is resolved as decide_io_failure() says, then the
  // machine asks the owner to close.
  void fail(std::string_view reason, MessageSlot* current = nullptr);
  void begin_close();
  bool live() const { return state_ != ClientState::kIdle && state_ != ClientState::kClosing; }

  const SmtpClientConfig* config_;
  SmtpClientHost* host_;
  ClientState state_ = ClientState::kIdle;

  // Opening: the relay addresses in turn.
  uint32_t address_count_ = 0;
  uint32_t address_index_ = 0;
  uint32_t addresses_tried_ = 0;
  std::string connect_errors_;  // one clause per failed address
  std::string last_error_;
  std::string peer_;  // "host[ip]:port" for messages
  bool was_ready_ = false;
  bool starttls_allowed_ = true;
  bool greeted_ = false;  // the 220 banner arrived (implicit TLS: after the handshake)
  bool tls_active_ = false;
  bool tls_fell_back_ = false;
  bool authenticated_ = false;
  bool connect_timed_out_ = false;  // some address's connect timed out (for the hint)

  // Session.
  EhloCapabilities caps_{};
  uint32_t messages_started_ = 0;
  uint32_t messages_in_flight_ = 0;
  bool rset_owed_ = false;  // an RSET goes out before the next MAIL

  // The transaction whose commands are being written: tx_next_ is its next
  // command (kTxMail, then one per recipient index + kTxRcpt0, then the
  // DATA or BDAT).
  MessageSlot* tx_ = nullptr;
  uint32_t tx_next_ = 0;
  char tx_params_[kMaxMailParamsBytes] = {0};  // " SIZE=n BODY=8BITMIME SMTPUTF8"
  size_t tx_params_len_ = 0;

  // The body being written (kBody).
  MessageSlot* body_ = nullptr;
  uint64_t body_cursor_ = 0;  // next file offset to write
  BodyEncoder encoder_;

  // Expectations ring.
  std::unique_ptr<Expectation[]> expect_;
  uint32_t expect_head_ = 0, expect_count_ = 0;

  // Buffers.
  std::unique_ptr<char[]> in_;
  size_t in_len_ = 0;
  size_t bytes_after_reply_ = 0;  // received bytes after the reply being handled (STARTTLS injection)
  std::unique_ptr<char[]> out_;
  size_t out_len_ = 0;
  size_t out_credentials_ = 0;  // bytes at the front of out_ that may carry credentials
};

}  // namespace ringmail
