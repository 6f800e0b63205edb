// tools/sink/sink_session.h — the server side of one SMTP connection of
// `ringmail sink` (RFC 5321 with PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
// ENHANCEDSTATUSCODES, RFC 3030 CHUNKING: BDAT, RFC 3207 STARTTLS and RFC
// 4954 AUTH PLAIN/LOGIN), as a pure state machine:
// input bytes in, reply bytes and events out. Strict where a client's
// mistake would otherwise pass unseen: a non-ASCII address without the
// SMTPUTF8 parameter is refused (553 5.6.7, as Postfix does), and so are
// parameters for extensions it does not offer (555 5.5.4).
//
// Who uses it: tools/sink/sink_server.cc (one session per connection slot,
// reused for every connection the slot serves) and
// tests/unit/sink_session_test.cc. It never does I/O itself and never
// allocates in the steady state: the reply buffer and the command line buffer
// are inside the object; the envelope strings keep their capacity between
// messages. Message bodies go to an optional SessionObserver (the Maildir
// writer); without one they are scanned for the end marker (DATA) or
// counted off (BDAT chunks) and discarded without being copied.
//
// TLS: the machine only ever sees plaintext. It answers STARTTLS with 220 and
// then discards every byte fed until the server layer, having run the
// handshake, calls tls_started() (RFC 3207: bytes pipelined after STARTTLS
// came in clear and are not to be trusted; the server-side twin of the
// client's injection rule). After tls_started() it forgets EHLO, AUTH and
// the transaction, and no longer offers STARTTLS.
// Security: AUTH is also offered in clear on purpose (a test sink must see a
// client that would send credentials in clear); every exchange is counted by
// channel (FeedResult::auth_clear), never logged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingress/auth_dialogue.h"
#include "ingress/bdat_chunk.h"
#include "ingress/command_line_reader.h"
#include "ingress/reply_buffer.h"
#include "tools/sink/sink_faults.h"

namespace ringmail::sink {

// kSessionOutputBytes is the reply buffer of one session. feed() stops
// taking commands while less than kSessionReplyReserveBytes are free, so a
// reply always fits; the caller sends the output and feeds the rest.
inline constexpr size_t kSessionOutputBytes = 4096;
inline constexpr size_t kSessionReplyReserveBytes = 512;
// kMaxCommandLineBytes bounds a command line, CRLF included; a longer line
// is read to its end, dropped, and answered "500 5.5.0 Error: line too long".
inline constexpr size_t kMaxCommandLineBytes = 1000;
// kMaxAuthDecodedBytes bounds a decoded AUTH response (base64 of a command
// line: at most 3/4 of kMaxCommandLineBytes).
inline constexpr size_t kMaxAuthDecodedBytes = kMaxCommandLineBytes / 4 * 3;

// SessionConfig is shared, read-only, by every session of a server.
struct SessionConfig {
  std::string hostname = "localhost";  // in the greeting and the EHLO reply
  bool esmtp = true;                   // false: EHLO → 502 (HELO only)
  bool pipelining = true;              // advertise PIPELINING
  bool chunking = true;                // advertise CHUNKING and accept BDAT
                                       // (false: BDAT → 502, like any unknown verb)
  bool eight_bit_mime = true;          // advertise 8BITMIME (false: BODY=8BITMIME → 555)
  bool smtputf8 = true;                // advertise SMTPUTF8 (false: SMTPUTF8 → 555)
  // max_message_bytes is announced as "SIZE n"; a MAIL with a larger SIZE=
  // and a larger body are refused with 552.
  uint64_t max_message_bytes = 104857600;
  uint32_t max_recipients = 1000;  // per transaction; beyond: 452 4.5.3
  uint32_t queue_id_prefix = 0;    // high bits of "queued as" ids (thread)
  // starttls: advertise STARTTLS (the server has a certificate and does not
  // run implicit TLS); false: STARTTLS → 502 like any unknown verb.
  bool starttls = false;
  // auth_user non-empty: advertise AUTH PLAIN LOGIN (over TLS and in clear),
  // check the credentials against these, and require AUTH before MAIL (530).
  std::string auth_user;
  std::string auth_password;
};

// SessionObserver receives the accepted messages (the Maildir writer). All
// calls come from feed() or close(), on the session's thread.
class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  // on_message_begin is called when DATA is accepted (before the 354), or
  // at the first acceptable BDAT of a transaction, with the reverse path and
  // the accepted recipients as "<a>,<b>". Returning false answers DATA (or
  // every BDAT of that transaction, their chunks discarded) "451 4.3.0
  // Error: queue file write error".
  virtual bool on_message_begin(std::string_view from, std::string_view to_list, uint64_t queue_id) = 0;
  // on_body receives the body in order. DATA: dot-stuffing removed, CRLF
  // kept, the final ".\r\n" excluded. BDAT: the chunk bytes verbatim (no
  // unstuffing, no end marker). Segments can be as short as one byte.
  virtual void on_body(const char* data, size_t size) = 0;
  // on_message_end closes the message: |complete| true after the end
  // marker or the BDAT LAST chunk (the return value false turns the 250
  // into a 451), false when the transaction was cut (connection closed,
  // RSET/EHLO/QUIT inside a BDAT transaction, too big, dropped).
  virtual bool on_message_end(bool complete) = 0;
};

// SessionAction tells the caller what to do after sending the output.
enum class SessionAction {
  kContinue,  // send the output (if any), feed unconsumed input, then read more
  kClose,     // send the output (if any), then close the connection
  kStartTls,  // send the output (the 220) in clear, then run the TLS
              // handshake and call tls_started(); the rest of the input
              // was discarded (counted in discarded_after_starttls)
};

// FeedResult reports one feed() call. Counts are for replies now in the
// output buffer; the caller credits them once that output has been sent.
struct FeedResult {
  size_t consumed = 0;  // bytes of the input taken; < size only if the
                        // output buffer is full (send it, then feed the rest)
  SessionAction action = SessionAction::kContinue;
  uint32_t messages_accepted = 0;       // "250 ... queued as" replies written
  uint32_t recipients_accepted = 0;     // recipients of those messages
  uint32_t messages_8bitmime = 0;       // of those messages, MAIL had BODY=8BITMIME
  uint32_t messages_smtputf8 = 0;       // of those messages, MAIL had SMTPUTF8
  uint32_t messages_tls = 0;            // of those messages, received over TLS
  uint32_t auth_tls = 0;                // AUTH exchanges with credentials, over TLS
  uint32_t auth_clear = 0;              // the same in clear (a client leaking them)
  uint32_t auth_failed = 0;             // of those, refused (535, or undecodable)
  size_t discarded_after_starttls = 0;  // bytes pipelined after STARTTLS, dropped
};

class SmtpServerSession {
 public:
  // SmtpServerSession keeps pointers to |config| and |faults| (null: no
  // faults), which must outlive it.
  SmtpServerSession(const SessionConfig* config, const SinkFaults* faults);
  SmtpServerSession(const SmtpServerSession&) = delete;
  SmtpServerSession& operator=(const SmtpServerSession&) = delete;

  // start begins a new connection: resets all state and writes the greeting
  // "220 <hostname> ESMTP ringmail-sink" to the output. |observer| (may be
  // null: discard bodies) must stay valid until close() or the next start().
  void start(SessionObserver* observer, uint64_t* next_queue_id);

  // feed processes client bytes: complete command lines, a body in DATA,
  // BDAT chunk bytes, any split across calls at any byte. Replies to all
  // commands it takes are appended to the output; a BDAT's reply is written
  // once all of its chunk bytes have been taken.
  FeedResult feed(const char* data, size_t size);

  // close ends the connection from the caller's side (peer gone, drop,
  // shutdown): an open message is reported as cut to the observer.
  void close();

  // tls_started tells the machine that TLS is now on (after the handshake
  // that followed its 220 to STARTTLS, or, with implicit TLS, right after
  // start()). It forgets EHLO, AUTH and any transaction (RFC 3207 4.2),
  // keeps the output (the greeting of an implicit TLS connection), and from
  // then on counts messages and AUTH as over TLS and offers no STARTTLS.
  void tls_started();
  bool tls_active() const { return tls_active_; }
  bool authenticated() const { return authenticated_; }

  std::string_view output() const { return out_.view(); }
  // consume_output drops the first |bytes| of the output (they were sent).
  void consume_output(size_t bytes) { out_.consume(bytes); }

  // State is where the session is; each state says what it waits for.
  enum class State {
    kIdle,      // no connection (before start(), after close())
    kCommand,   // waiting for a command line
    kData,      // inside DATA: waiting for body bytes and "\r\n.\r\n"
    kBdat,      // after a BDAT line: waiting for the rest of its chunk bytes
    kAuth,      // a 334 challenge sent: waiting for the base64 response line
    kStartTls,  // 220 to STARTTLS written: waiting for tls_started(); input discarded
    kClosed,    // QUIT answered or connection cut; ignores further input
  };
  State state() const { return state_; }
  static const char* state_name(State state);
  // in_transaction: a MAIL FROM was accepted and not yet ended.
  bool in_transaction() const { return mail_active_; }

 private:
  // BodyScan is where the DATA scanner is inside the current body line.
  enum class BodyScan {
    kLineStart,  // just after LF (or at the body's start)
    kInLine,     // inside a line: looking for LF
    kDot,        // the line began with '.', held back
    kDotCr,      // the line began with ".\r", both held back
  };

  void process_line(std::string_view line, FeedResult& result);
  void do_ehlo(std::string_view arg, bool extended);
  void do_mail(std::string_view arg);
  void do_rcpt(std::string_view arg);
  void do_data();
  void do_bdat(std::string_view arg, FeedResult& result);
  void do_starttls(std::string_view arg);
  void do_auth(std::string_view arg, FeedResult& result);
  // auth_step answers a step of the AUTH exchange (a challenge, the check).
  void auth_step(ingress::AuthDialogue<kMaxAuthDecodedBytes>::Step step, FeedResult& result);
  // finish_auth counts an exchange that carried credentials and replies 235
  // or 535.
  void finish_auth(bool ok, FeedResult& result);
  // reset_transaction ends the transaction; an open BDAT message is
  // reported to the observer as cut.
  void reset_transaction();
  // consume_body scans body bytes for the end marker, passing unstuffed
  // segments to the observer; returns the bytes taken.
  size_t consume_body(const char* data, size_t size, FeedResult& result);
  void finish_message(FeedResult& result);
  // consume_chunk takes BDAT chunk bytes (at most the chunk's remainder);
  // returns the bytes taken.
  size_t consume_chunk(const char* data, size_t size, FeedResult& result);
  // finish_chunk writes the reply of the BDAT whose bytes are all in.
  void finish_chunk(FeedResult& result);
  // accept_message writes "250 ... queued as", counts it, ends the transaction.
  void accept_message(FeedResult& result);
  // cut_connection ends an open message as cut and closes without a reply
  // (--drop-during-data).
  void cut_connection(FeedResult& result);
  void emit_body(const char* data, size_t size);
  void append(std::string_view text) { out_.put(text); }  // raw text into the output
  void reply(std::string_view text) { out_.line(text); }  // text + CRLF

  const SessionConfig* config_;
  const SinkFaults* faults_;
  SessionObserver* observer_ = nullptr;
  uint64_t* next_queue_id_ = nullptr;
  uint64_t local_queue_id_ = 0;  // used when next_queue_id_ is null

  State state_ = State::kIdle;
  bool helo_seen_ = false;
  bool tls_active_ = false;     // tls_started() was called for this connection
  bool authenticated_ = false;  // AUTH succeeded on this connection (this TLS state)
  bool mail_active_ = false;
  uint32_t rcpt_count_ = 0;
  bool mail_8bitmime_ = false;  // MAIL FROM had BODY=8BITMIME
  bool mail_smtputf8_ = false;  // MAIL FROM had SMTPUTF8
  std::string from_;            // reverse path of the open transaction
  std::string rcpt_list_;       // "<a>,<b>" of the accepted recipients

  // DATA state.
  BodyScan body_scan_ = BodyScan::kLineStart;
  uint64_t body_bytes_ = 0;
  uint64_t queue_id_ = 0;
  bool drop_message_ = false;

  // BDAT state. body_bytes_ and queue_id_ above are shared with DATA.
  ingress::BdatChunk chunk_;  // the BDAT chunk being read
  // bdat_error_ sticks for the rest of a failed BDAT transaction (too big,
  // observer refusal): every BDAT up to LAST gets it.
  const char* bdat_error_ = nullptr;
  bool bdat_seen_ = false;  // a BDAT came in this transaction (DATA/RCPT → 503)
  bool bdat_open_ = false;  // a BDAT message has begun and not yet ended

  ingress::AuthDialogue<kMaxAuthDecodedBytes> auth_;       // the AUTH exchange
  ingress::CommandLineReader<kMaxCommandLineBytes> line_;  // a command line split across feeds
  ingress::ReplyBuffer<kSessionOutputBytes> out_;
};

}  // namespace ringmail::sink
