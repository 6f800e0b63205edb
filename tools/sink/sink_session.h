// tools/sink/sink_session.h — the server side of one SMTP connection of
// `ringmail sink` (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
// ENHANCEDSTATUSCODES), as a pure state machine: input bytes in, reply bytes
// and events out.
//
// Who uses it: tools/sink/sink_server.cc (one session per connection slot,
// reused for every connection the slot serves) and
// tests/unit/sink_session_test.cc. It never does I/O itself and never
// allocates in the steady state: the reply buffer and the command line buffer
// are inside the object; the envelope strings keep their capacity between
// messages. Message bodies go to an optional SessionObserver (the Maildir
// writer); without one they are scanned for the end marker and discarded
// without being copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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

// SessionConfig is shared, read-only, by every session of a server.
struct SessionConfig {
  std::string hostname = "localhost";  // in the greeting and the EHLO reply
  bool esmtp = true;                   // false: EHLO → 502 (HELO only)
  bool pipelining = true;              // advertise PIPELINING
  uint64_t max_message_bytes = 104857600;
  uint32_t max_recipients = 1000;      // per transaction; beyond: 452 4.5.3
  uint32_t queue_id_prefix = 0;        // high bits of "queued as" ids (thread)
};

// SessionObserver receives the accepted messages (the Maildir writer). All
// calls come from feed() or close(), on the session's thread.
class SessionObserver {
 public:
  virtual ~SessionObserver() = default;
  // on_message_begin is called when DATA is accepted (before the 354) with
  // the reverse path and the accepted recipients as "<a>,<b>". Returning
  // false answers DATA "451 4.3.0 Error: queue file write error".
  virtual bool on_message_begin(std::string_view from, std::string_view to_list,
                                uint64_t queue_id) = 0;
  // on_body receives the body in order, dot-stuffing removed, CRLF kept,
  // the final ".\r\n" excluded. Segments can be as short as one byte.
  virtual void on_body(const char* data, size_t size) = 0;
  // on_message_end closes the message: |complete| true after the end
  // marker (the return value false turns the 250 into a 451), false when
  // the transaction was cut (connection closed, too big, dropped).
  virtual bool on_message_end(bool complete) = 0;
};

// SessionAction tells the caller what to do after sending the output.
enum class SessionAction {
  kContinue,  // send the output (if any), feed unconsumed input, then read more
  kClose,     // send the output (if any), then close the connection
};

// FeedResult reports one feed() call. Counts are for replies now in the
// output buffer; the caller credits them once that output has been sent.
struct FeedResult {
  size_t consumed = 0;  // bytes of the input taken; < size only if the
                        // output buffer is full (send it, then feed the rest)
  SessionAction action = SessionAction::kContinue;
  uint32_t messages_accepted = 0;    // "250 ... queued as" replies written
  uint32_t recipients_accepted = 0;  // recipients of those messages
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

  // feed processes client bytes: complete command lines, a body in DATA, any
  // split across calls at any byte. Replies to all commands it takes are
  // appended to the output.
  FeedResult feed(const char* data, size_t size);

  // close ends the connection from the caller's side (peer gone, drop,
  // shutdown): an open message is reported as cut to the observer.
  void close();

  std::string_view output() const { return std::string_view(out_, out_size_); }
  // consume_output drops the first |bytes| of the output (they were sent).
  void consume_output(size_t bytes);

  // State is where the session is; each state says what it waits for.
  enum class State {
    kIdle,     // no connection (before start(), after close())
    kCommand,  // waiting for a command line
    kData,     // inside DATA: waiting for body bytes and "\r\n.\r\n"
    kClosed,   // QUIT answered or connection cut; ignores further input
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

  void process_line(std::string_view line);
  void do_ehlo(std::string_view arg, bool extended);
  void do_mail(std::string_view arg);
  void do_rcpt(std::string_view arg);
  void do_data();
  void reset_transaction();
  // consume_body scans body bytes for the end marker, passing unstuffed
  // segments to the observer; returns the bytes taken.
  size_t consume_body(const char* data, size_t size, FeedResult& result);
  void finish_message(FeedResult& result);
  void emit_body(const char* data, size_t size);
  void append(std::string_view text);  // appends raw text to the output
  void reply(std::string_view text);   // appends text + CRLF

  const SessionConfig* config_;
  const SinkFaults* faults_;
  SessionObserver* observer_ = nullptr;
  uint64_t* next_queue_id_ = nullptr;
  uint64_t local_queue_id_ = 0;  // used when next_queue_id_ is null

  State state_ = State::kIdle;
  bool helo_seen_ = false;
  bool mail_active_ = false;
  uint32_t rcpt_count_ = 0;
  std::string from_;      // reverse path of the open transaction
  std::string rcpt_list_; // "<a>,<b>" of the accepted recipients

  // DATA state.
  BodyScan body_scan_ = BodyScan::kLineStart;
  uint64_t body_bytes_ = 0;
  uint64_t queue_id_ = 0;
  bool drop_message_ = false;

  // A command line split across feeds is collected here.
  size_t line_size_ = 0;
  bool line_overlong_ = false;
  char line_[kMaxCommandLineBytes];

  size_t out_size_ = 0;
  char out_[kSessionOutputBytes];
};

}  // namespace ringmail::sink
