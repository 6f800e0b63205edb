// engine/smtp_connection.cc — see smtp_connection.h. Reading order: open and
// connect, then the reply dispatcher (one handler per command), then the
// emitters that write commands and bodies, then closing.
#include "engine/smtp_connection.h"

#include <fmt/format.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "engine/mail_precheck.h"
#include "engine/message_slot.h"
#include "engine/smtp_reply.h"
#include "engine/worker.h"

namespace ringmail {
namespace {

void set_timeout(__kernel_timespec& ts, uint32_t timeout_ms) {
  ts.tv_sec = timeout_ms / 1000;
  ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
}

// link_timeout queues a linked timeout for the SQE just queued before it.
// Its own completion (user_data 0) is dropped.
void link_timeout(Ring& ring, io_uring_sqe* op, __kernel_timespec* ts) {
  op->flags |= IOSQE_IO_LINK;
  io_uring_sqe* timeout = ring.sqe();
  io_uring_prep_link_timeout(timeout, ts, 0);
  set_completion(timeout, nullptr);
}

std::string_view trim_crlf(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

// reply_summary is the reply as one line: "550 5.1.1 <x>: User unknown"
// (the last line of a multi-line reply, which carries the verdict). A view
// into the receive buffer: valid while the reply is being handled, and no
// allocation on the per-message path.
std::string_view reply_summary(const SmtpReply& reply) {
  std::string_view raw = trim_crlf(reply.raw);
  const size_t last = raw.rfind('\n');
  if (last != std::string_view::npos) raw.remove_prefix(last + 1);
  return trim_crlf(raw);
}

// RINGMAIL_TRACE=1 in the environment prints every byte sent and received
// on stderr (a debugging transcript; never on in production runs).
bool trace_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("RINGMAIL_TRACE");
    return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
  }();
  return enabled;
}

void trace(uint32_t conn, const char* dir, const char* data, size_t len) {
  if (!trace_enabled()) return;
  fmt::print(stderr, "[conn {}] {} {:?}\n", conn, dir, std::string_view(data, len));
}

}  // namespace

SmtpConnection::SmtpConnection(Worker* worker, uint32_t index)
    : worker_(worker),
      index_(index),
      expect_(new Expectation[kMaxExpectations]),
      in_(new char[kInBytes]),
      out_(new char[kOutBytes]) {}

const char* SmtpConnection::state_name() const {
  switch (state_) {
    case State::kClosed:
      return "closed";
    case State::kConnecting:
      return "connecting";
    case State::kGreeting:
      return "greeting";
    case State::kHello:
      return "hello";
    case State::kReady:
      return "ready";
    case State::kQuitting:
      return "quitting";
    case State::kClosing:
      return "closing";
  }
  return "?";
}

std::string SmtpConnection::debug_state() const {
  return fmt::format("{} msgs {} expect {} out {} sending {} recv {} ops {} tx {} body {} rset {}",
                     state_name(), messages_in_flight_, expect_count_, out_len_, send_in_flight_, recv_armed_,
                     ops_in_flight_, tx_ != nullptr, body_ != nullptr, need_rset_);
}

// ---------------------------------------------------------------------------
// Opening: socket, then connect to each relay address in turn.

void SmtpConnection::open() {
  assert(state_ == State::kClosed);
  state_ = State::kConnecting;
  addresses_tried_ = 0;
  address_index_ = worker_->preferred_address();
  connect_errors_.clear();
  last_error_.clear();
  caps_ = EhloCapabilities{};
  messages_started_ = 0;
  messages_in_flight_ = 0;
  closing_requested_ = false;
  quit_sent_ = false;
  need_rset_ = false;
  tx_ = body_ = nullptr;
  expect_head_ = expect_count_ = 0;
  in_len_ = out_len_ = send_in_flight_ = 0;
  recv_armed_ = false;
  start_socket();
}

void SmtpConnection::start_socket() {
  const RelayAddress& address = worker_->relay().addresses[address_index_];
  const RelayTarget& relay = worker_->relay();
  peer_name_ = fmt::format("{}[{}]:{}", relay.host, address.text, relay.port);
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_socket(sqe, address.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP, 0);
  set_completion(sqe, &socket_c_);
  ++ops_in_flight_;
}

void SmtpConnection::on_socket(int res, uint32_t) {
  --ops_in_flight_;
  if (closing_requested_) {
    if (res >= 0) fd_ = res;  // op_done closes it
    op_done();
    return;
  }
  if (res < 0) {
    connect_failed(fmt::format("cannot create a socket: {}", std::strerror(-res)));
    return;
  }
  fd_ = res;
  // Commands and replies are small and latency-bound: never wait for Nagle.
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const RelayAddress& address = worker_->relay().addresses[address_index_];
  worker_->ring().reserve(2);  // the connect and its timeout in one submission
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_connect(sqe, fd_, reinterpret_cast<const sockaddr*>(&address.address), address.length);
  set_completion(sqe, &connect_c_);
  set_timeout(connect_ts_, worker_->config().smtp.connect_timeout_ms);
  link_timeout(worker_->ring(), sqe, &connect_ts_);
  ++ops_in_flight_;
}

void SmtpConnection::on_connect(int res, uint32_t) {
  --ops_in_flight_;
  if (closing_requested_) {
    op_done();
    return;
  }
  if (res < 0) {
    const std::string why =
        res == -ECANCELED ? fmt::format("timed out after {} ms", worker_->config().smtp.connect_timeout_ms)
                          : std::string(std::strerror(-res));
    // Close this socket synchronously-free through the ring, then move on.
    io_uring_sqe* sqe = worker_->ring().sqe();
    io_uring_prep_close(sqe, fd_);
    set_completion(sqe, nullptr);
    fd_ = -1;
    connect_failed(why);
    return;
  }
  worker_->note_good_address(address_index_);
  state_ = State::kGreeting;
  push_expect(Expect::kGreeting, nullptr, 0);
  arm_recv();
}

void SmtpConnection::connect_failed(std::string_view why) {
  if (!connect_errors_.empty()) connect_errors_ += "; ";
  connect_errors_ += fmt::format("connect to {}: {}", peer_name_, why);
  ++addresses_tried_;
  const size_t count = worker_->relay().addresses.size();
  if (addresses_tried_ < count) {
    address_index_ = (address_index_ + 1) % count;
    start_socket();
    return;
  }
  last_error_ = connect_errors_;
  state_ = State::kClosed;
  worker_->on_connection_closed(this, /*was_ready=*/false);
}

// ---------------------------------------------------------------------------
// Replies: parse what arrived, match each reply to the oldest expectation.

void SmtpConnection::arm_recv() {
  if (recv_armed_ || fd_ < 0 || closing_requested_ || expect_count_ == 0) return;
  worker_->ring().reserve(2);  // the receive and its timeout in one submission
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_recv(sqe, fd_, in_.get() + in_len_, kInBytes - in_len_, 0);
  set_completion(sqe, &recv_c_);
  const Expect front = expect_[expect_head_].kind;
  const auto& smtp = worker_->config().smtp;
  set_timeout(recv_ts_, front == Expect::kDataEnd ? smtp.data_timeout_ms : smtp.reply_timeout_ms);
  link_timeout(worker_->ring(), sqe, &recv_ts_);
  recv_armed_ = true;
  ++ops_in_flight_;
}

void SmtpConnection::on_recv(int res, uint32_t) {
  --ops_in_flight_;
  recv_armed_ = false;
  if (closing_requested_) {
    op_done();
    return;
  }
  if (res <= 0) {
    if (res == 0 && quit_sent_) {
      begin_close();
      return;
    }
    if (res == 0) {
      fail(fmt::format("lost connection with {} while waiting for a reply", peer_name_));
    } else if (res == -ECANCELED) {
      const Expect front = expect_[expect_head_].kind;
      fail(fmt::format("timeout waiting for the {} reply from {}",
                       front == Expect::kDataEnd ? "end-of-data" : "next", peer_name_));
    } else {
      fail(fmt::format("receive from {} failed: {}", peer_name_, std::strerror(-res)));
    }
    return;
  }
  trace(index_, "S:", in_.get() + in_len_, static_cast<size_t>(res));
  in_len_ += static_cast<size_t>(res);
  handle_replies();
}

void SmtpConnection::handle_replies() {
  size_t offset = 0;
  in_reply_loop_ = true;
  while (offset < in_len_ && !closing_requested_) {
    SmtpReply reply;
    size_t consumed = 0;
    const char* error = nullptr;
    const ReplyParse parse = parse_reply(in_.get() + offset, in_len_ - offset, reply, consumed, error);
    if (parse == ReplyParse::kIncomplete) break;
    if (parse == ReplyParse::kMalformed) {
      in_reply_loop_ = false;
      fail(fmt::format("malformed reply from {}: {}", peer_name_, error));
      return;
    }
    offset += consumed;
    if (expect_count_ == 0) {
      in_reply_loop_ = false;
      fail(fmt::format("unexpected reply from {}: {}", peer_name_, reply_summary(reply)));
      return;
    }
    const Expectation expect = expect_[expect_head_];
    expect_head_ = (expect_head_ + 1) % kMaxExpectations;
    --expect_count_;
    if (expect.slot != nullptr) --expect.slot->expect_refs;
    on_reply(expect, reply);
  }
  in_reply_loop_ = false;
  if (closing_requested_) return;
  if (offset > 0) {
    std::memmove(in_.get(), in_.get() + offset, in_len_ - offset);
    in_len_ -= offset;
  }
  pump();
  arm_recv();
}

void SmtpConnection::on_reply(const Expectation& expect, const SmtpReply& reply) {
  switch (expect.kind) {
    case Expect::kGreeting:
    case Expect::kEhlo:
    case Expect::kHelo:
      on_hello_reply(expect, reply,
                     decide(expect.kind == Expect::kGreeting ? SmtpStage::kGreeting
                            : expect.kind == Expect::kEhlo   ? SmtpStage::kEhlo
                                                             : SmtpStage::kHelo,
                            reply.code));
      return;
    case Expect::kMail:
      on_mail_reply(expect.slot, reply, decide(SmtpStage::kMail, reply.code));
      return;
    case Expect::kRcpt:
      on_rcpt_reply(expect.slot, expect.rcpt, reply, decide(SmtpStage::kRcpt, reply.code));
      return;
    case Expect::kData:
    case Expect::kDataEnd: {
      // With no recipient accepted the transaction carries nothing; policy
      // has its own rows for the replies that still come.
      const bool unwanted = expect.slot->mail_rejected || expect.slot->accepted == 0;
      if (expect.kind == Expect::kData) {
        on_data_reply(expect.slot, reply,
                      decide(unwanted ? SmtpStage::kDataUnwanted : SmtpStage::kData, reply.code));
      } else {
        on_data_end_reply(expect.slot, reply,
                          decide(unwanted ? SmtpStage::kDataEndUnwanted : SmtpStage::kDataEnd, reply.code));
      }
      return;
    }
    case Expect::kRset:
      if (decide(SmtpStage::kRset, reply.code).verdict != Verdict::kProceed) {
        fail(fmt::format("{} answered RSET with: {}", peer_name_, reply_summary(reply)));
      }
      return;
    case Expect::kQuit:
      begin_close();
      return;
  }
}

void SmtpConnection::on_hello_reply(const Expectation& expect, const SmtpReply& reply, Decision decision) {
  if (decision.verdict == Verdict::kFallback) {
    // EHLO refused: the server speaks plain SMTP. Greet with HELO instead.
    const std::string helo = fmt::format("HELO {}\r\n", worker_->helo_name());
    emit_command(helo, Expect::kHelo, nullptr, 0);
    flush();
    return;
  }
  if (decision.verdict != Verdict::kProceed) {
    const char* what = expect.kind == Expect::kGreeting ? "greeted us with" : "rejected our greeting:";
    fail(fmt::format("{} {} {}", peer_name_, what, reply_summary(reply)));
    return;
  }
  if (expect.kind == Expect::kGreeting) {
    const std::string ehlo = fmt::format("EHLO {}\r\n", worker_->helo_name());
    state_ = State::kHello;
    emit_command(ehlo, Expect::kEhlo, nullptr, 0);
    flush();
    return;
  }
  caps_ = expect.kind == Expect::kEhlo ? parse_ehlo_capabilities(reply) : EhloCapabilities{};
  state_ = State::kReady;
  idle_since_ns_ = worker_->now_ns();
  worker_->on_connection_ready(this);
}

void SmtpConnection::on_mail_reply(MessageSlot* slot, const SmtpReply& reply, Decision decision) {
  if (decision.scope == Scope::kConnection) {
    fail(fmt::format("{} answered MAIL FROM with: {}", peer_name_, reply_summary(reply)), slot);
    return;
  }
  if (decision.verdict != Verdict::kProceed) {
    // The whole message is refused; the RCPT and DATA replies that were
    // pipelined behind MAIL are answers to a transaction that never began.
    slot->mail_rejected = true;
    const std::string_view why = reply_summary(reply);
    slot->set_message_reply(why);
    slot->resolve_all_unresolved(
        decision.verdict == Verdict::kFail ? RcptState::kFailed : RcptState::kDeferred, why);
    if (tx_ == slot && tx_stage_ != TxStage::kWait354) end_transaction(slot);
  }
  maybe_release(slot);
}

void SmtpConnection::on_rcpt_reply(MessageSlot* slot, uint16_t rcpt, const SmtpReply& reply,
                                   Decision decision) {
  if (decision.scope == Scope::kConnection) {
    fail(fmt::format("{} answered RCPT TO with: {}", peer_name_, reply_summary(reply)), slot);
    return;
  }
  if (!slot->mail_rejected) {
    if (decision.verdict == Verdict::kProceed) {
      slot->rcpt_state[rcpt] = RcptState::kAccepted;
      ++slot->accepted;
    } else {
      slot->resolve(rcpt, decision.verdict == Verdict::kFail ? RcptState::kFailed : RcptState::kDeferred,
                    reply_summary(reply));
    }
  }
  maybe_release(slot);
}

void SmtpConnection::on_data_reply(MessageSlot* slot, const SmtpReply& reply, Decision decision) {
  const bool nothing_to_send = slot->mail_rejected || slot->accepted == 0;
  if (tx_ == slot) tx_ = nullptr;
  if (decision.scope == Scope::kConnection) {
    fail(fmt::format("{} answered DATA with: {}", peer_name_, reply_summary(reply)), slot);
    return;
  }
  if (nothing_to_send) {
    // Every recipient was refused. A server that still says 354 gets an
    // empty message ended at once; either way the transaction is reset.
    need_rset_ = true;
    if (reply.code == 354) {
      body_ = slot;
      body_empty_ = true;
    }
    maybe_release(slot);
    return;
  }
  if (decision.verdict != Verdict::kProceed) {
    const std::string_view why = reply_summary(reply);
    slot->set_message_reply(why);
    slot->resolve_all_unresolved(
        decision.verdict == Verdict::kFail ? RcptState::kFailed : RcptState::kDeferred, why);
    need_rset_ = true;
    maybe_release(slot);
    return;
  }
  body_ = slot;
  body_empty_ = false;
  body_cursor_ = slot->envelope.body_offset;
  encoder_.reset();
}

void SmtpConnection::on_data_end_reply(MessageSlot* slot, const SmtpReply& reply, Decision decision) {
  // After BDAT, a failed transaction may leave the server's MAIL state
  // behind (RFC 3030 4.2: the client SHOULD send RSET).
  if (slot->used_bdat && (decision.verdict != Verdict::kProceed || slot->accepted == 0)) need_rset_ = true;
  if (decision.scope == Scope::kConnection) {
    fail(fmt::format("{} answered end of data with: {}", peer_name_, reply_summary(reply)), slot);
    return;
  }
  if (slot->mail_rejected || slot->accepted == 0) {
    maybe_release(slot);  // the "." after an unwanted 354, or BDAT for nobody
    return;
  }
  const std::string_view why = reply_summary(reply);
  const RcptState state = decision.verdict == Verdict::kProceed ? RcptState::kDone
                          : decision.verdict == Verdict::kFail  ? RcptState::kFailed
                                                                : RcptState::kDeferred;
  if (state != RcptState::kDone) slot->set_message_reply(why);
  slot->resolve_all_unresolved(state, why);
  maybe_release(slot);
}

// ---------------------------------------------------------------------------
// Emitters: write commands and bodies into out_, within the limits.

bool SmtpConnection::exhausted() const {
  return messages_started_ >= worker_->config().relay.max_messages_per_connection;
}

uint32_t SmtpConnection::max_in_flight() const {
  if (!caps_.pipelining) return 1;
  return caps_.chunking && worker_->config().smtp.chunking ? kMaxMessagesInFlight : kMaxMessagesInFlightData;
}

bool SmtpConnection::can_take_message() const {
  return state_ == State::kReady && !closing_requested_ && !quit_sent_ && tx_ == nullptr &&
         messages_in_flight_ < max_in_flight() && !exhausted();
}

// uses_bdat: CHUNKING and PIPELINING offered, allowed by smtp.chunking, and
// the whole message is in the head buffer (one chunk, size known).
bool SmtpConnection::uses_bdat(const MessageSlot* slot) const {
  return caps_.chunking && caps_.pipelining && worker_->config().smtp.chunking && slot->whole_file;
}

// emit_bdat writes "BDAT <n> LAST\r\n" and the message with CRLF line
// endings (no dot-stuffing: BDAT content is counted, not terminated). The
// content is encoded first, after a gap for the command, then the command
// is written into the gap and the content moved up against it.
bool SmtpConnection::emit_bdat(MessageSlot* slot) {
  constexpr size_t kGap = 32;  // "BDAT 4294967295 LAST\r\n" is 22 bytes
  const Envelope& env = slot->envelope;
  const size_t source_bytes = slot->head_len - env.body_offset;
  // Room for the worst case: every byte doubled, plus a line break's bytes
  // (encode's bound is 2n + 3) and the final CRLF.
  if (out_room() < kGap + 2 * source_bytes + 8 || !can_emit_command()) return false;
  char* const content = out_.get() + out_len_ + kGap;
  size_t produced = 0;
  encoder_.reset(/*dot_stuffing=*/false);
  uint64_t cursor = env.body_offset;
  while (true) {
    uint64_t run_end = 0;
    bool gap = false;
    cursor = next_sendable(env, cursor, run_end, gap);  // steps over stripped Bcc fields
    if (cursor >= slot->head_len) break;
    if (gap) encoder_.resume_after_gap();
    const uint64_t end = std::min<uint64_t>(slot->head_len, run_end);
    size_t used = 0, out_used = 0;
    encoder_.encode(slot->head.get() + cursor, end - cursor, content + produced, out_room() - kGap - produced,
                    used, out_used);
    assert(used > 0);  // the room above always fits the whole encoding
    cursor += used;
    produced += out_used;
  }
  produced += encoder_.finish_chunk(content + produced, out_room() - kGap - produced);
  char command[kGap];
  const int n = std::snprintf(command, sizeof(command), "BDAT %zu LAST\r\n", produced);
  std::memmove(out_.get() + out_len_ + n, content, produced);
  std::memcpy(out_.get() + out_len_, command, static_cast<size_t>(n));
  out_len_ += static_cast<size_t>(n) + produced;
  // The reply to BDAT LAST is the message's verdict, as the reply after "."
  // is for DATA.
  push_expect(Expect::kDataEnd, slot, 0);
  return true;
}

void SmtpConnection::take_message(MessageSlot* slot) {
  assert(can_take_message());
  slot->connection = this;
  slot->mail_rejected = false;
  slot->accepted = 0;
  ++messages_in_flight_;
  if (!precheck(slot)) {
    maybe_release(slot);  // refused by our own checks: back to the worker, nothing sent
    return;
  }
  tx_ = slot;
  tx_stage_ = TxStage::kMail;
  tx_next_rcpt_ = 0;
  tx_rset_sent_ = false;
  slot->used_bdat = uses_bdat(slot);
  ++messages_started_;
  pump();
}

bool SmtpConnection::refuse(MessageSlot* slot, Precheck check, std::string_view why) {
  const Decision decision = decide_precheck(check);
  slot->set_message_reply(why);
  slot->resolve_all_unresolved(decision.verdict == Verdict::kFail ? RcptState::kFailed : RcptState::kDeferred,
                               why);
  return false;
}

bool SmtpConnection::precheck(MessageSlot* slot) {
  const Envelope& env = slot->envelope;
  // SIZE= is the file size: the intake's claim, or the head when it is the
  // whole file.
  const uint64_t size = slot->ref.size_bytes != 0 ? slot->ref.size_bytes
                        : slot->whole_file        ? slot->file_end
                                                  : 0;
  const MessageNeeds needs =
      message_needs(env, std::string_view(slot->head.get(), slot->head_len), slot->whole_file, size,
                    [slot](uint32_t i) { return slot->rcpt_state[i] == RcptState::kPending; });
  char why[512];  // reasons are built only on refusal, on the stack (no allocation)
  if (const std::optional<Precheck> check = message_precheck(caps_, needs)) {
    precheck_reason(*check, caps_, needs, env.sender, why, sizeof(why));
    return refuse(slot, *check, why);
  }
  uint32_t pending = 0;
  for (uint32_t i = 0; i < env.recipient_count; ++i) {
    if (slot->rcpt_state[i] != RcptState::kPending) continue;
    const std::optional<Precheck> check = recipient_precheck(caps_, env.recipients[i]);
    if (!check) {
      ++pending;
      continue;
    }
    precheck_reason(*check, caps_, needs, env.recipients[i], why, sizeof(why));
    const Decision decision = decide_precheck(*check);
    slot->resolve(i, decision.verdict == Verdict::kFail ? RcptState::kFailed : RcptState::kDeferred, why);
  }
  if (pending == 0) return false;
  tx_params_len_ = mail_params(caps_, needs, tx_params_, sizeof(tx_params_));
  return true;
}

void SmtpConnection::eight_bit_met_while_streaming(MessageSlot* slot) {
  char why[512];
  precheck_reason(Precheck::kEightBitWhileStreaming, caps_, MessageNeeds{}, {}, why, sizeof(why));
  refuse(slot, Precheck::kEightBitWhileStreaming, why);
  // The DATA already begun cannot be taken back; closing without the "."
  // makes the relay drop it. The other messages here go as after an I/O
  // failure.
  fail(why, slot);
}

bool SmtpConnection::can_emit_command() const {
  // Without PIPELINING, one command at a time: only when nothing is unanswered.
  if (expect_count_ >= kMaxExpectations - 1) return false;
  return caps_.pipelining || expect_count_ == 0;
}

void SmtpConnection::push_expect(Expect kind, MessageSlot* slot, uint16_t rcpt) {
  assert(expect_count_ < kMaxExpectations);
  expect_[(expect_head_ + expect_count_) % kMaxExpectations] = Expectation{slot, rcpt, kind};
  ++expect_count_;
  if (slot != nullptr) ++slot->expect_refs;
}

bool SmtpConnection::emit_command(std::string_view text, Expect kind, MessageSlot* slot, uint16_t rcpt) {
  if (text.size() > out_room()) return false;
  std::memcpy(out_.get() + out_len_, text.data(), text.size());
  out_len_ += text.size();
  push_expect(kind, slot, rcpt);
  return true;
}

void SmtpConnection::pump() {
  if (state_ != State::kReady || closing_requested_) return;
  if (body_ != nullptr) emit_body();
  if (closing_requested_) return;  // the body could not go on (8-bit without 8BITMIME)
  if (body_ == nullptr) {
    if (need_rset_ && can_emit_command() && emit_command("RSET\r\n", Expect::kRset, nullptr, 0)) {
      need_rset_ = false;
    }
    if (!need_rset_ && tx_ != nullptr) emit_transaction();
  }
  flush();
  // Never armed from inside handle_replies' loop: the buffer is compacted
  // after the loop, and a receive must land after the compacted bytes.
  if (!in_reply_loop_) arm_recv();
}

void SmtpConnection::emit_transaction() {
  MessageSlot* slot = tx_;
  char line[600];
  while (tx_ == slot && tx_stage_ != TxStage::kWait354 && can_emit_command()) {
    if (tx_stage_ == TxStage::kMail) {
      // Behind another BDAT transaction whose verdict is not known yet: a
      // failed BDAT may leave the server's MAIL state, so reset first
      // (harmless after a success, and pipelined: no round trip).
      if (messages_in_flight_ > 1 && uses_bdat(slot) && !tx_rset_sent_) {
        if (!emit_command("RSET\r\n", Expect::kRset, nullptr, 0)) return;
        tx_rset_sent_ = true;
      }
      std::string_view sender = slot->envelope.sender;
      const int n =
          std::snprintf(line, sizeof(line), "MAIL FROM:<%.*s>%.*s\r\n", static_cast<int>(sender.size()),
                        sender.data(), static_cast<int>(tx_params_len_), tx_params_);
      if (!emit_command(std::string_view(line, n), Expect::kMail, slot, 0)) return;
      tx_stage_ = TxStage::kRcpt;
    } else if (tx_stage_ == TxStage::kRcpt) {
      while (tx_next_rcpt_ < slot->envelope.recipient_count &&
             slot->rcpt_state[tx_next_rcpt_] != RcptState::kPending) {
        ++tx_next_rcpt_;
      }
      if (tx_next_rcpt_ == slot->envelope.recipient_count) {
        tx_stage_ = TxStage::kData;
        continue;
      }
      std::string_view rcpt = slot->envelope.recipients[tx_next_rcpt_];
      const int n =
          std::snprintf(line, sizeof(line), "RCPT TO:<%.*s>\r\n", static_cast<int>(rcpt.size()), rcpt.data());
      if (!emit_command(std::string_view(line, n), Expect::kRcpt, slot, tx_next_rcpt_)) return;
      ++tx_next_rcpt_;
    } else {  // kData
      if (slot->mail_rejected) {
        end_transaction(slot);  // MAIL refused (we were not pipelining): no DATA
        return;
      }
      if (!caps_.pipelining && slot->accepted == 0) {
        need_rset_ = true;  // every RCPT refused, one at a time: no DATA
        end_transaction(slot);
        return;
      }
      if (uses_bdat(slot)) {
        // The whole transaction is written; the next one may follow at once.
        if (!emit_bdat(slot)) return;
        end_transaction(slot);
        return;
      }
      if (!emit_command("DATA\r\n", Expect::kData, slot, 0)) return;
      tx_stage_ = TxStage::kWait354;  // nothing more may be sent before the 354
    }
  }
}

void SmtpConnection::end_transaction(MessageSlot* slot) {
  if (tx_ == slot) tx_ = nullptr;
  maybe_release(slot);
}

void SmtpConnection::emit_body() {
  MessageSlot* slot = body_;
  constexpr size_t kFinishRoom = BodyEncoder::kMaxFinishBytes;
  if (body_empty_) {
    if (out_room() < 3) return;
    std::memcpy(out_.get() + out_len_, ".\r\n", 3);
    out_len_ += 3;
    push_expect(Expect::kDataEnd, slot, 0);
    body_ = nullptr;
    body_empty_ = false;
    return;
  }
  while (out_room() > kFinishRoom + 16) {
    // Where is the next byte to send? Skip ranges (stripped Bcc) first.
    uint64_t piece_end = UINT64_MAX;
    bool gap = false;
    body_cursor_ = next_sendable(slot->envelope, body_cursor_, piece_end, gap);
    if (gap) encoder_.resume_after_gap();

    const char* src = nullptr;
    uint64_t available = 0;
    if (body_cursor_ < slot->head_len) {
      src = slot->head.get() + body_cursor_;
      available = slot->head_len - body_cursor_;
    } else if ((slot->whole_file || slot->eof_seen) && body_cursor_ >= slot->file_end) {
      // All of the file is out: end the data.
      out_len_ += encoder_.finish(out_.get() + out_len_, out_room());
      push_expect(Expect::kDataEnd, slot, 0);
      body_ = nullptr;
      return;
    } else if (body_cursor_ >= slot->stream_offset && body_cursor_ < slot->stream_offset + slot->stream_len) {
      src = slot->stream.get() + (body_cursor_ - slot->stream_offset);
      available = slot->stream_offset + slot->stream_len - body_cursor_;
    } else {
      // The next bytes are not in memory: read them, come back when they are.
      worker_->read_body_chunk(slot, body_cursor_);
      return;
    }
    if (piece_end != UINT64_MAX) available = std::min<uint64_t>(available, piece_end - body_cursor_);
    const size_t fit = (out_room() - kFinishRoom - 4) / 2;  // worst case: 2n + 3
    const size_t take = static_cast<size_t>(std::min<uint64_t>(available, fit));
    // Past the head (checked before MAIL), without 8BITMIME: watch for 8-bit.
    if (!caps_.eight_bit_mime && body_cursor_ >= slot->head_len && !is_ascii(std::string_view(src, take))) {
      eight_bit_met_while_streaming(slot);
      return;
    }
    size_t used = 0, produced = 0;
    encoder_.encode(src, take, out_.get() + out_len_, out_room() - kFinishRoom, used, produced);
    body_cursor_ += used;
    out_len_ += produced;
    if (used == 0) return;
  }
}

// body_chunk_arrived is called by the worker when a read for |slot| lands.
void SmtpConnection::body_chunk_arrived(MessageSlot* slot) {
  if (body_ == slot) pump();
}

void SmtpConnection::maybe_release(MessageSlot* slot) {
  if (slot == nullptr || slot->connection != this) return;
  if (tx_ == slot || body_ == slot) return;
  if (slot->expect_refs > 0) return;
  slot->connection = nullptr;
  --messages_in_flight_;
  if (messages_in_flight_ == 0) idle_since_ns_ = worker_->now_ns();
  worker_->on_attempt_done(slot);
}

// ---------------------------------------------------------------------------
// Sending.

void SmtpConnection::flush() {
  if (send_in_flight_ > 0 || out_len_ == 0 || fd_ < 0 || closing_requested_) return;
  worker_->ring().reserve(2);  // the send and its timeout in one submission
  io_uring_sqe* sqe = worker_->ring().sqe();
  io_uring_prep_send(sqe, fd_, out_.get(), out_len_, MSG_NOSIGNAL);
  trace(index_, "C:", out_.get(), out_len_);
  set_completion(sqe, &send_c_);
  set_timeout(send_ts_, worker_->config().smtp.data_timeout_ms);
  link_timeout(worker_->ring(), sqe, &send_ts_);
  send_in_flight_ = out_len_;
  ++ops_in_flight_;
}

void SmtpConnection::on_send(int res, uint32_t) {
  --ops_in_flight_;
  send_in_flight_ = 0;
  if (closing_requested_) {
    op_done();
    return;
  }
  if (res < 0) {
    fail(res == -ECANCELED ? fmt::format("timeout sending to {}", peer_name_)
                           : fmt::format("send to {} failed: {}", peer_name_, std::strerror(-res)));
    return;
  }
  const size_t sent = static_cast<size_t>(res);
  std::memmove(out_.get(), out_.get() + sent, out_len_ - sent);
  out_len_ -= sent;
  if (state_ == State::kQuitting) {
    flush();  // QUIT may have been queued behind the send that just ended
    return;
  }
  pump();
}

// ---------------------------------------------------------------------------
// Ending: QUIT, failures, closing.

void SmtpConnection::quit() {
  if (state_ != State::kReady || messages_in_flight_ > 0 || closing_requested_ || quit_sent_) return;
  state_ = State::kQuitting;
  quit_sent_ = true;
  // QUIT is sent whatever PIPELINING says: nothing else is outstanding.
  emit_command("QUIT\r\n", Expect::kQuit, nullptr, 0);
  flush();
  arm_recv();
}

void SmtpConnection::abort(std::string_view reason) { fail(reason); }

void SmtpConnection::fail(std::string_view reason, MessageSlot* current) {
  if (closing_requested_) return;
  // What a broken connection means for the messages on it is policy's
  // call (today: defer them all), not this state machine's.
  const Decision decision = decide_io_failure();
  const RcptState outcome = decision.verdict == Verdict::kFail ? RcptState::kFailed : RcptState::kDeferred;
  last_error_ = std::string(reason);
  // Everything unresolved on this connection is deferred; each slot goes
  // back to the worker once.
  MessageSlot* carried[kMaxMessagesInFlight + 2] = {};
  uint32_t carried_count = 0;
  auto add = [&](MessageSlot* slot) {
    if (slot == nullptr || slot->connection != this) return;
    for (uint32_t i = 0; i < carried_count; ++i)
      if (carried[i] == slot) return;
    if (carried_count < kMaxMessagesInFlight + 2) carried[carried_count++] = slot;
  };
  add(current);  // the message whose reply broke the connection: its last reference
  add(tx_);
  add(body_);
  for (uint32_t i = 0; i < expect_count_; ++i) add(expect_[(expect_head_ + i) % kMaxExpectations].slot);
  tx_ = body_ = nullptr;
  expect_count_ = 0;
  for (uint32_t i = 0; i < carried_count; ++i) carried[i]->expect_refs = 0;
  ready_before_close_ = state_ == State::kReady || state_ == State::kQuitting;
  closing_requested_ = true;
  state_ = State::kClosing;
  for (uint32_t i = 0; i < carried_count; ++i) {
    carried[i]->set_message_reply(reason);
    carried[i]->resolve_all_unresolved(outcome, reason);
    maybe_release(carried[i]);
  }
  start_close_io();
}

void SmtpConnection::begin_close() {
  if (closing_requested_) return;
  ready_before_close_ = state_ == State::kReady || state_ == State::kQuitting;
  closing_requested_ = true;
  state_ = State::kClosing;
  start_close_io();
}

void SmtpConnection::start_close_io() {
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

void SmtpConnection::on_shutdown(int, uint32_t) {
  --ops_in_flight_;
  op_done();
}

void SmtpConnection::op_done() {
  if (!closing_requested_ || ops_in_flight_ > 0) return;
  if (fd_ >= 0) {
    io_uring_sqe* sqe = worker_->ring().sqe();
    io_uring_prep_close(sqe, fd_);
    set_completion(sqe, &close_c_);
    fd_ = -1;
    ++ops_in_flight_;
    return;
  }
  state_ = State::kClosed;
  worker_->on_connection_closed(this, ready_before_close_);
}

void SmtpConnection::on_close(int, uint32_t) {
  --ops_in_flight_;
  op_done();
}

}  // namespace ringmail
