// engine/smtp_connection.h — one SMTP client connection to the relay, as an
// explicit state machine driven by io_uring completions.
//
// Who uses it: engine/worker.cc owns a fixed pool of these and hands each
// ready connection messages (MessageSlot) to carry. The connection speaks
// RFC 5321 with PIPELINING, SIZE, 8BITMIME, SMTPUTF8, CHUNKING and
// ENHANCEDSTATUSCODES; before each MAIL it checks the message against what
// the relay offers (non-ASCII addresses, size, 8-bit data); it sends
// commands, matches each reply to the command it answers (a queue of
// expectations), and asks engine/delivery_policy what the reply means. It
// never touches the spool: when a message's transaction is over it hands
// the slot back to the worker with every recipient resolved.
//
// States (each waits for one thing):
//   kClosed      no socket
//   kConnecting  socket + connect in flight (each relay address in turn)
//   kGreeting    waiting for the 220 banner
//   kHello       EHLO (or the HELO fallback) sent, waiting for its reply
//   kReady       may carry messages: MAIL/RCPT/DATA, body, RSET pipelined
//   kQuitting    QUIT sent, waiting for 221 or EOF
//   kClosing     shutdown/close in flight; back to kClosed when done
// Memory: buffers are allocated once, with the connection.
#pragma once

#include <linux/time_types.h>
#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/body_encoder.h"
#include "engine/delivery_policy.h"
#include "engine/ehlo_capabilities.h"
#include "engine/mail_precheck.h"
#include "engine/uring.h"

namespace ringmail {

class Worker;
class MessageSlot;
struct SmtpReply;

class SmtpConnection {
 public:
  enum class State : uint8_t { kClosed, kConnecting, kGreeting, kHello, kReady, kQuitting, kClosing };

  static constexpr size_t kInBytes = 32 * 1024;
  static constexpr size_t kOutBytes = 256 * 1024;
  static constexpr size_t kMaxExpectations = 4096;  // replies outstanding
  // Messages a connection carries at once. With DATA: the one whose body is
  // going out and the next one's MAIL/RCPT/DATA pipelined behind it. With
  // BDAT (CHUNKING): up to four whole transactions back to back.
  static constexpr uint32_t kMaxMessagesInFlightData = 2;
  static constexpr uint32_t kMaxMessagesInFlight = 4;

  SmtpConnection(Worker* worker, uint32_t index);
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;

  // open starts connecting (state must be kClosed).
  void open();
  // can_take_message: ready, below the in-flight and per-connection limits,
  // and no transaction waiting to be started.
  bool can_take_message() const;
  // take_message starts |slot|'s transaction on this connection.
  void take_message(MessageSlot* slot);
  // quit sends QUIT if the connection is ready and carries nothing.
  void quit();
  // abort closes the connection now, deferring what it carries.
  void abort(std::string_view reason);
  // body_chunk_arrived: the worker read more of |slot|'s file; go on sending.
  void body_chunk_arrived(MessageSlot* slot);

  State state() const { return state_; }
  // exhausted: it carried max_messages_per_connection and takes no more.
  bool exhausted() const;
  bool carries_messages() const { return messages_in_flight_ > 0; }
  uint64_t idle_since_ns() const { return idle_since_ns_; }
  uint32_t index() const { return index_; }
  const char* state_name() const;
  // debug_state is a one-word-per-field summary for stall diagnostics.
  std::string debug_state() const;
  const std::string& last_error() const { return last_error_; }

 private:
  enum class Expect : uint8_t { kGreeting, kEhlo, kHelo, kMail, kRcpt, kData, kDataEnd, kRset, kQuit };
  struct Expectation {
    MessageSlot* slot;
    uint16_t rcpt;
    Expect kind;
  };

  // I/O.
  void start_socket();
  void on_socket(int res, uint32_t flags);
  void on_connect(int res, uint32_t flags);
  void on_send(int res, uint32_t flags);
  void on_recv(int res, uint32_t flags);
  void on_shutdown(int res, uint32_t flags);
  void on_close(int res, uint32_t flags);
  void connect_failed(std::string_view why);
  void arm_recv();
  void flush();
  void op_done();         // an operation of ours completed; finish closing if it was the last
  void begin_close();     // mark closing and start the close I/O
  void start_close_io();  // shutdown pending operations, then close

  // Protocol.
  void handle_replies();
  void on_reply(const Expectation& expect, const SmtpReply& reply);
  void on_hello_reply(const Expectation& expect, const SmtpReply& reply, Decision decision);
  void on_mail_reply(MessageSlot* slot, const SmtpReply& reply, Decision decision);
  void on_rcpt_reply(MessageSlot* slot, uint16_t rcpt, const SmtpReply& reply, Decision decision);
  void on_data_reply(MessageSlot* slot, const SmtpReply& reply, Decision decision);
  void on_data_end_reply(MessageSlot* slot, const SmtpReply& reply, Decision decision);
  void pump();  // emit whatever may be sent now, then flush
  bool can_emit_command() const;
  bool emit_command(std::string_view text, Expect kind, MessageSlot* slot, uint16_t rcpt);
  void emit_transaction();
  bool uses_bdat(const MessageSlot* slot) const;
  bool emit_bdat(MessageSlot* slot);  // false: not enough room yet
  uint32_t max_in_flight() const;
  void emit_body();
  void end_transaction(MessageSlot* slot);  // no more commands or body for it
  // precheck runs the client's own checks on |slot| against the relay's
  // EHLO (SMTPUTF8, SIZE, 8BITMIME) before its MAIL: what the relay cannot
  // take is resolved as delivery_policy decides, and the MAIL parameters
  // are written into tx_params_. false: nothing of the message goes out.
  bool precheck(MessageSlot* slot);
  // refuse resolves every unresolved recipient of |slot| as policy decides
  // for |check|, with |why| as the reason; returns false.
  bool refuse(MessageSlot* slot, Precheck check, std::string_view why);
  // eight_bit_met_while_streaming: a body byte >= 0x80 is about to go to a
  // relay that did not offer 8BITMIME; fail the message, close.
  void eight_bit_met_while_streaming(MessageSlot* slot);
  void maybe_release(MessageSlot* slot);
  // fail is a connection-scope failure: everything the connection carries
  // (and |current|, the message whose reply caused it, when that reply was
  // its last reference) is deferred, then the connection closes.
  void fail(std::string_view reason, MessageSlot* current = nullptr);
  void push_expect(Expect kind, MessageSlot* slot, uint16_t rcpt);
  size_t out_room() const { return kOutBytes - out_len_; }

  Worker* worker_;
  uint32_t index_;
  State state_ = State::kClosed;
  int fd_ = -1;
  uint32_t address_index_ = 0;    // which relay address this attempt uses
  uint32_t addresses_tried_ = 0;  // in this open()
  std::string connect_errors_;    // one clause per failed address
  std::string last_error_;
  std::string peer_name_;  // "host[ip]:port" for messages
  EhloCapabilities caps_{};
  uint32_t messages_started_ = 0;
  uint32_t messages_in_flight_ = 0;
  uint64_t idle_since_ns_ = 0;
  uint32_t ops_in_flight_ = 0;
  bool closing_requested_ = false;
  bool quit_sent_ = false;
  bool ready_before_close_ = false;

  // Transaction progress.
  MessageSlot* tx_ = nullptr;  // commands being emitted (MAIL/RCPT/DATA)
  uint32_t tx_next_rcpt_ = 0;
  bool tx_rset_sent_ = false;  // RSET already written ahead of this MAIL
  // MAIL FROM parameters of tx_ (" SIZE=n BODY=8BITMIME SMTPUTF8").
  char tx_params_[kMaxMailParamsBytes] = {0};
  size_t tx_params_len_ = 0;
  enum class TxStage : uint8_t { kMail, kRcpt, kData, kWait354 } tx_stage_ = TxStage::kMail;
  MessageSlot* body_ = nullptr;  // 354 received: body being emitted
  uint64_t body_cursor_ = 0;     // next file offset to emit
  bool body_empty_ = false;      // 354 with no accepted recipient: send "." alone
  bool need_rset_ = false;
  BodyEncoder encoder_;

  // Expectations ring.
  std::unique_ptr<Expectation[]> expect_;
  uint32_t expect_head_ = 0, expect_count_ = 0;

  // Buffers.
  std::unique_ptr<char[]> in_;
  size_t in_len_ = 0;
  std::unique_ptr<char[]> out_;
  size_t out_len_ = 0;
  size_t send_in_flight_ = 0;  // bytes of out_ the kernel is sending
  bool recv_armed_ = false;
  bool in_reply_loop_ = false;  // handle_replies is walking in_
  __kernel_timespec connect_ts_{}, send_ts_{}, recv_ts_{};

  MemberCompletion<SmtpConnection, &SmtpConnection::on_socket> socket_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_connect> connect_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_send> send_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_recv> recv_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_shutdown> shutdown_c_{this};
  MemberCompletion<SmtpConnection, &SmtpConnection::on_close> close_c_{this};
};

}  // namespace ringmail
