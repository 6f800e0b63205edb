// ingress/smtp_server_session.h — the server side of one inbound SMTP
// connection of the listener (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
// SMTPUTF8, ENHANCEDSTATUSCODES, RFC 3030 CHUNKING, RFC 3207 STARTTLS and
// RFC 4954 AUTH PLAIN/LOGIN), as a pure state machine: client bytes in,
// reply bytes and SessionHost calls out. docs/ingress.md ("Session") says
// what it refuses and why.
//
// Who uses it: the engine's ingress connection (engine/ingress_*), which owns
// the socket, TLS, timers and the spool writer behind SessionHost;
// tests/unit/ingress_session_test.cc and tests/fuzz/ingress_session_fuzz.cc.
// It never does I/O, never reads a clock and never allocates in the steady
// state: the reply and command line buffers are inside the object, the
// envelope strings and the recipients keep their capacity between messages.
//
// Security: every byte fed is untrusted. Only CRLF ends a line; a bare LF or
// bare CR anywhere (command, DATA, BDAT) ends the connection with 521, so no
// end-of-data sequence but CRLF.CRLF can end a message (SMTP smuggling).
// A client that is neither trusted nor authenticated can never start a
// message (530 at MAIL or 554 at RCPT). AUTH is neither offered nor
// accepted in clear unless allow_plaintext_auth. Credentials go only to
// SessionHost::check_credentials and are wiped from the session's buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/listen_config.h"
#include "ingress/auth_dialogue.h"
#include "ingress/bdat_chunk.h"
#include "ingress/command_line_reader.h"
#include "ingress/reply_buffer.h"

namespace ringmail::ingress {

enum class AuthCheck { kOk, kBad, kThrottled };

// SessionEvent is something the host counts and logs (metrics, the log).
enum class SessionEvent {
  kRelayDenied,         // 554 at RCPT: untrusted, not authenticated
  kAuthRequired,        // 530 at MAIL: auth = "required", untrusted, not authenticated
  kTlsRequired,         // 530: tls = "required" and no STARTTLS yet
  kAuthFailed,          // 535 (wrong credentials or a malformed response)
  kAuthThrottled,       // 454: too many failures from this IP (the host said so)
  kAuthInClearRefused,  // AUTH without TLS and allow_plaintext_auth off
  kBareNewline,         // bare LF or bare CR: 521 and close
  kLineTooLong,         // command line over kMaxCommandLineBytes: 500
  kMessageTooBig,       // SIZE= or the body over max_message_bytes: 552
  kTooManyRecipients,   // RCPT beyond max_recipients: 452
  kTooManyErrors,       // max_errors reached: 421 and close
  kRateLimited,         // admit_message() said no: 451
  kMessageCut,          // an open message ended without its end (close, timeout)
  kUnknownCommand,      // 502
};
const char* session_event_name(SessionEvent event);  // "relay-denied", ...

struct SessionSettings {  // per listener, read-only, shared
  std::string hostname;
  uint64_t max_message_bytes = 10 << 20;
  uint32_t max_recipients = 1000;
  bool starttls = false;      // listener offers STARTTLS (starttls/required)
  bool tls_required = false;  // "required": MAIL before TLS → 530 5.7.0 Must issue a STARTTLS command first
  ListenAuth auth = ListenAuth::kNone;
  bool allow_plaintext_auth = false;
  uint32_t max_errors = 20;  // 0: no limit
};

// make_session_settings derives a listener's settings from its [[listen]]
// table: STARTTLS offered with tls = "starttls" or "required" (not with
// "implicit", where TLS is on from the start); hostname "" becomes
// |default_hostname| (smtp.helo_name).
SessionSettings make_session_settings(const ListenConfig& listen, std::string_view default_hostname);

struct ClientInfo {
  std::string_view address_text;  // "192.0.2.1" / "::1"
  bool trusted = false;           // in trusted_networks: may send without AUTH
};
struct TlsFacts {  // for Received and the log
  std::string_view version;
  std::string_view cipher;
};

struct TransactionInfo {                                 // what the host needs to write the spool file
  std::string_view helo;                                 // as the client gave it
  std::string_view reverse_path;                         // without <>; "" = null sender
  const std::vector<std::string>* recipients = nullptr;  // without <>
  std::string_view protocol;   // "SMTP" "ESMTP" "ESMTPS" "ESMTPA" "ESMTPSA" (RFC 3848)
  std::string_view auth_user;  // "" when not authenticated
  bool eight_bit_mime = false, smtputf8 = false;
};

// SessionHost is the connection's owner as the machine sees it. All calls
// come from inside ServerSession's methods, on the connection's thread.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual AuthCheck check_credentials(std::string_view user, std::string_view password) = 0;
  virtual bool admit_message() = 0;                             // at MAIL; false → 451 4.7.1 rate limit
  virtual bool begin_message(const TransactionInfo& info) = 0;  // at DATA/first BDAT; false → 451 4.3.0
  virtual bool append_body(const char* data, size_t size) = 0;  // unstuffed body bytes, CRLF kept;
                                                                // false → 451 4.3.0 after the body
  virtual void end_message() = 0;    // body complete: store durably, then call on_stored() (later)
  virtual void abort_message() = 0;  // transaction cut/refused: drop what was appended
  virtual void note(SessionEvent event, std::string_view detail) = 0;
};

enum class SessionAction {
  kContinue,   // send the output (if any), feed unconsumed input, then read more
  kClose,      // send the output (if any), then close the connection
  kStartTls,   // send the output (the 220) in clear, run the handshake, call tls_started();
               // the rest of the input was discarded (RFC 3207)
  kWaitStore,  // end_message() was called; send the output, feed nothing until on_stored()
};
enum class SessionTimeout { kCommand, kData };

struct FeedResult {
  size_t consumed = 0;  // < size when the output is full or the session waits (kWaitStore)
  SessionAction action = SessionAction::kContinue;
};

// kSessionOutputBytes is the reply buffer. feed() takes no command while
// less than kSessionReplyReserveBytes are free, so any reply fits; the
// caller sends the output and feeds the rest.
inline constexpr size_t kSessionOutputBytes = 4096;
inline constexpr size_t kSessionReplyReserveBytes = 768;
// kMaxCommandLineBytes bounds a command line (and an AUTH response), CRLF
// included; a longer line is skipped to its end without being buffered and
// answered "500 5.5.0 Error: line too long".
inline constexpr size_t kMaxCommandLineBytes = 1000;
inline constexpr size_t kMaxAuthDecodedBytes = kMaxCommandLineBytes / 4 * 3;
// kRecipientOvershoot: RCPTs beyond max_recipients answered 452 without
// counting as errors (Postfix's smtpd_recipient_overshoot_limit); the ones
// after those count toward max_errors.
inline constexpr uint32_t kRecipientOvershoot = 1000;

class ServerSession {
 public:
  // ServerSession keeps |settings| and |host|; both must outlive it.
  ServerSession(const SessionSettings* settings, SessionHost* host);
  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // start: new connection (the object is reused for the next one). Writes
  // the 220 greeting. With implicit TLS the owner runs the handshake first
  // and calls start() then tls_started().
  void start(const ClientInfo& client);
  // feed processes client bytes, split anywhere. Replies to pipelined
  // commands are written in order.
  FeedResult feed(const char* data, size_t size);
  // tls_started: after the handshake (STARTTLS or implicit). Forgets EHLO,
  // AUTH and the transaction (RFC 3207 4.2); keeps the output.
  void tls_started(const TlsFacts& facts);
  // on_stored answers the message end_message() handed over: "250 2.0.0 Ok:
  // queued as ID" or "451 4.3.0 Error: queue file write error". Ignored
  // unless the session waits for it.
  void on_stored(bool ok, std::string_view queue_id);
  // close: peer gone / shutdown: an open message → abort_message() (not
  // one already handed over by end_message()).
  void close();
  // timed_out writes "421 4.4.2 <host> Error: timeout exceeded" and closes
  // (an open message is aborted); the owner sends the output and closes.
  void timed_out();

  std::string_view output() const { return out_.view(); }
  void consume_output(size_t bytes) { out_.consume(bytes); }  // the first |bytes| of output() were sent
  SessionTimeout timeout_kind() const;
  bool tls_active() const { return tls_active_; }
  std::string_view auth_user() const { return auth_user_; }
  std::string_view tls_version() const { return tls_version_; }
  std::string_view tls_cipher() const { return tls_cipher_; }

  // State is where the session is; each state says what it waits for.
  enum class State {
    kIdle,       // no connection (before start(), after close())
    kCommand,    // a command line
    kData,       // DATA body bytes up to CRLF.CRLF
    kBdat,       // the rest of a BDAT chunk's bytes
    kAuth,       // a 334 challenge sent: the client's base64 response line
    kStartTls,   // 220 to STARTTLS sent: tls_started(); input discarded
    kWaitStore,  // end_message() called: on_stored(); input not taken
    kClosed,     // QUIT answered, 421/521 sent or connection cut
  };
  State state() const { return state_; }
  static const char* state_name(State state);

 private:
  // BodyScan is where the DATA scanner is inside the current body line.
  enum class BodyScan {
    kLineStart,  // after CRLF (or at the body's start)
    kInLine,     // inside a line
    kCr,         // a CR was seen: only LF may follow
    kDot,        // the line began with '.', held back
    kDotCr,      // the line began with ".\r", both held back
  };

  void take_line(std::string_view line);
  void command(std::string_view line);
  void do_ehlo(std::string_view arg, bool extended);
  void do_mail(std::string_view arg);
  void do_rcpt(std::string_view arg);
  void do_data(std::string_view arg);
  void do_bdat(std::string_view arg);
  void do_starttls(std::string_view arg);
  void do_auth(std::string_view arg);
  void do_vrfy(std::string_view arg);
  // auth_step answers a step of the AUTH exchange (a challenge, the check).
  void auth_step(AuthDialogue<kMaxAuthDecodedBytes>::Step step);
  bool auth_offered() const;
  // begin opens the message at the host (DATA, first BDAT); false: 451 written.
  bool begin();
  void append(const char* data, size_t size);
  size_t consume_body(const char* data, size_t size);
  size_t consume_chunk(const char* data, size_t size);
  void finish_chunk();
  // finish_message ends a body: end_message() (kWaitStore) or the error reply.
  void finish_message();
  void bare_newline(bool lf);
  void reset_transaction();
  void abort_open_message();
  // hang_up ends the connection from the server's side (the caller writes
  // the last reply): an open message is aborted, further input ignored.
  void hang_up();
  void reply(std::string_view text) { out_.line(text); }          // text + CRLF
  void error(std::string_view text);                              // reply(), counted toward max_errors
  void reply_host(std::string_view code, std::string_view tail);  // "code host tail"
  void put(std::string_view text) { out_.put(text); }             // raw text into the output

  const SessionSettings* settings_;
  SessionHost* host_;

  State state_ = State::kIdle;
  bool trusted_ = false;
  bool helo_seen_ = false;
  bool ehlo_ = false;  // the last greeting was EHLO (ESMTP)
  bool tls_active_ = false;
  uint32_t errors_ = 0;
  std::string helo_;
  std::string auth_user_;  // empty: not authenticated
  char tls_version_[32] = {};
  char tls_cipher_[96] = {};

  // The transaction.
  bool mail_active_ = false;
  bool eight_bit_mime_ = false;
  bool smtputf8_ = false;
  std::string reverse_path_;
  std::vector<std::string> recipients_;
  std::vector<std::string> spare_recipients_;  // cleared strings kept for their capacity
  uint32_t overshoot_ = 0;                     // RCPTs answered 452 in this transaction

  // The message body (DATA and BDAT).
  bool message_open_ = false;         // begin_message() returned true; not yet ended or aborted
  uint64_t body_bytes_ = 0;           // DATA: unstuffed bytes; BDAT: the sum of chunk sizes
  const char* body_error_ = nullptr;  // the reply instead of storing (too big, write error)
  BodyScan body_scan_ = BodyScan::kLineStart;

  // BDAT.
  bool bdat_seen_ = false;     // a BDAT came in this transaction
  bool bdat_last_cr_ = false;  // the chunk bytes so far end with CR
  BdatChunk chunk_;            // the chunk being read

  AuthDialogue<kMaxAuthDecodedBytes> auth_;
  CommandLineReader<kMaxCommandLineBytes> line_;
  ReplyBuffer<kSessionOutputBytes> out_;
};

}  // namespace ringmail::ingress
