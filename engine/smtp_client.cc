// engine/smtp_client.cc — see smtp_client.h. Reading order: the events
// (opening, bytes in, bytes out, failures), the reply dispatcher with one
// handler per command answered, then the emitters that write commands and
// bodies, then the prechecks and the ending of messages and connections.
// No system call, no clock, no spool: only bytes, the slots' memory and
// engine/delivery_policy.
#include "engine/smtp_client.h"

#include <fmt/format.h>

#include <cassert>
#include <cstdio>
#include <cstring>

#include "engine/message_slot.h"
#include "engine/reply_explanation.h"
#include "engine/smtp_reply.h"
#include "tls/starttls_guard.h"

namespace ringmail {
namespace {

// Transaction cursor values (SmtpClient::tx_next_).
constexpr uint32_t kTxMail = 0;
constexpr uint32_t kTxRcpt0 = 1;  // + recipient index; past the last: DATA or BDAT

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

// kExplainedSummaryMax bounds the server's words in an explained reason, so
// the hint after them fits a reason of 511 bytes.
constexpr size_t kExplainedSummaryMax = 200;

// explained is a refusal's reason: the reply's summary line, then
// engine/reply_explanation's hint when there is one ("535 5.7.8 ...; the
// relay rejected ..."), formatted into |buffer| (on the caller's stack:
// refusals only, no allocation). Without a hint, the summary itself.
std::string_view explained(SmtpStage stage, const SmtpReply& reply, char* buffer, size_t size) {
  const std::string_view summary = reply_summary(reply);
  const std::string_view hint = explain_reply(stage, reply.code, summary);
  if (hint.empty()) return summary;
  const int n = std::snprintf(buffer, size, "%.*s; %.*s",
                              static_cast<int>(std::min(summary.size(), kExplainedSummaryMax)),
                              summary.data(), static_cast<int>(hint.size()), hint.data());
  return std::string_view(buffer, std::min(static_cast<size_t>(n < 0 ? 0 : n), size - 1));
}

// kReasonBytes is the size of a stack buffer for explained().
constexpr size_t kReasonBytes = 512;

RcptState outcome_of(Verdict verdict) {
  return verdict == Verdict::kFail ? RcptState::kFailed : RcptState::kDeferred;
}

}  // namespace

uint32_t timeout_ms_of(const SmtpConfig& smtp, TimeoutKind kind) {
  switch (kind) {
    case TimeoutKind::kConnect:
      return smtp.connect_timeout_ms;
    case TimeoutKind::kReply:
      return smtp.reply_timeout_ms;
    case TimeoutKind::kData:
      return smtp.data_timeout_ms;
  }
  return smtp.reply_timeout_ms;
}

const char* client_state_name(ClientState state) {
  switch (state) {
    case ClientState::kIdle:
      return "idle";
    case ClientState::kConnecting:
      return "connecting";
    case ClientState::kGreeting:
      return "greeting";
    case ClientState::kEhloSent:
      return "ehlo-sent";
    case ClientState::kHeloSent:
      return "helo-sent";
    case ClientState::kStarttlsSent:
      return "starttls-sent";
    case ClientState::kTlsHandshake:
      return "tls-handshake";
    case ClientState::kEhloAfterTls:
      return "ehlo-after-tls";
    case ClientState::kAuthPlainSent:
      return "auth-plain-sent";
    case ClientState::kAuthLoginSent:
      return "auth-login-sent";
    case ClientState::kAuthUsernameSent:
      return "auth-username-sent";
    case ClientState::kAuthPasswordSent:
      return "auth-password-sent";
    case ClientState::kReady:
      return "ready";
    case ClientState::kDataSent:
      return "data-sent";
    case ClientState::kBody:
      return "body";
    case ClientState::kQuitSent:
      return "quit-sent";
    case ClientState::kClosing:
      return "closing";
  }
  return "?";
}

SmtpClient::SmtpClient(const SmtpClientConfig* config, SmtpClientHost* host)
    : config_(config),
      host_(host),
      expect_(new Expectation[kMaxExpectations]),
      in_(new char[kInBytes]),
      out_(new char[kOutBytes]) {}

std::string SmtpClient::debug_state() const {
  return fmt::format("{} msgs {} expect {} out {} tx {} body {} rset {}", state_name(), messages_in_flight_,
                     expect_count_, out_len_, tx_ != nullptr, body_ != nullptr, rset_owed_);
}

// ---------------------------------------------------------------------------
// Opening: each relay address in turn, until one answers.

void SmtpClient::start(uint32_t address_count, uint32_t first_address, bool starttls_allowed) {
  assert(state_ == ClientState::kIdle && address_count > 0);
  state_ = ClientState::kConnecting;
  starttls_allowed_ = starttls_allowed;
  greeted_ = tls_active_ = tls_fell_back_ = authenticated_ = connect_timed_out_ = false;
  address_count_ = address_count;
  address_index_ = first_address % address_count;
  addresses_tried_ = 0;
  connect_errors_.clear();
  last_error_.clear();
  peer_.clear();
  was_ready_ = false;
  caps_ = EhloCapabilities{};
  messages_started_ = messages_in_flight_ = 0;
  rset_owed_ = false;
  tx_ = body_ = nullptr;
  expect_head_ = expect_count_ = 0;
  in_len_ = out_len_ = out_credentials_ = 0;
  host_->connect(address_index_);
}

void SmtpClient::on_connected(std::string_view peer) {
  if (state_ != ClientState::kConnecting) return;
  peer_.assign(peer);
  if (config_->implicit_tls) {
    // SMTPS: TLS first; the banner comes over it.
    state_ = ClientState::kTlsHandshake;
    host_->start_tls();
    return;
  }
  state_ = ClientState::kGreeting;
  push_expect(Expect::kGreeting, nullptr, 0);
}

void SmtpClient::on_connect_failed(std::string_view peer, std::string_view why, bool timed_out) {
  if (state_ != ClientState::kConnecting) return;
  if (!connect_errors_.empty()) connect_errors_ += "; ";
  connect_errors_ += fmt::format("connect to {}: {}", peer, why);
  connect_timed_out_ = connect_timed_out_ || timed_out;
  if (++addresses_tried_ < address_count_) {
    address_index_ = (address_index_ + 1) % address_count_;
    host_->connect(address_index_);
    return;
  }
  last_error_ = connect_errors_;
  if (connect_timed_out_) last_error_ += fmt::format("; {}", explain_connect_timeout());
  state_ = ClientState::kIdle;  // nothing to close: the owner closed each failed socket
}

// ---------------------------------------------------------------------------
// Bytes in and out, failures reported by the owner.

void SmtpClient::on_received(size_t n) {
  assert(n <= in_room());
  if (!live()) return;
  in_len_ += n;
  handle_replies();
}

size_t SmtpClient::feed(const char* data, size_t size) {
  const size_t n = size < in_room() ? size : in_room();
  std::memcpy(in_space(), data, n);
  on_received(n);
  return n;
}

void SmtpClient::on_sent(size_t n) {
  assert(n <= out_len_);
  std::memmove(out_.get(), out_.get() + n, out_len_ - n);
  out_len_ -= n;
  out_credentials_ -= std::min(n, out_credentials_);
  pump();
}

bool SmtpClient::awaiting_reply() const {
  return live() && state_ != ClientState::kConnecting && expect_count_ > 0;
}

TimeoutKind SmtpClient::reply_timeout() const {
  if (expect_count_ > 0 && expect_[expect_head_].kind == Expect::kDataEnd) return TimeoutKind::kData;
  return TimeoutKind::kReply;
}

void SmtpClient::on_peer_closed() {
  if (!live()) return;
  if (state_ == ClientState::kQuitSent && messages_in_flight_ == 0) {
    begin_close();  // the server closed after QUIT without a 221: fine
    return;
  }
  fail(fmt::format("lost connection with {} while waiting for a reply", peer_));
}

void SmtpClient::on_receive_failed(bool timed_out, std::string_view error) {
  if (!live()) return;
  if (timed_out && state_ == ClientState::kGreeting) {
    fail(fmt::format("timeout waiting for the greeting from {}; {}", peer_, explain_greeting_timeout()));
  } else if (timed_out) {
    fail(fmt::format("timeout waiting for the {} reply from {}",
                     reply_timeout() == TimeoutKind::kData ? "end-of-data" : "next", peer_));
  } else {
    fail(fmt::format("receive from {} failed: {}", peer_, error));
  }
}

void SmtpClient::on_send_failed(bool timed_out, std::string_view error) {
  if (!live()) return;
  fail(timed_out ? fmt::format("timeout sending to {}", peer_)
                 : fmt::format("send to {} failed: {}", peer_, error));
}

void SmtpClient::on_tls_ready() {
  if (state_ != ClientState::kTlsHandshake) return;
  tls_active_ = true;
  // Nothing learned before TLS is trusted: greet again.
  caps_ = EhloCapabilities{};
  if (!greeted_) {  // implicit TLS: the banner comes first
    state_ = ClientState::kGreeting;
    push_expect(Expect::kGreeting, nullptr, 0);
    return;
  }
  state_ = ClientState::kEhloAfterTls;
  emit_hello(Expect::kEhlo);
}

void SmtpClient::on_tls_failed(std::string_view why) {
  // kEhloAfterTls too: with TLS 1.3 the server judges a client certificate
  // after the client's side of the handshake is done; its alert arrives
  // with the reply to the EHLO.
  if (state_ != ClientState::kTlsHandshake && state_ != ClientState::kEhloAfterTls) return;
  tls_shortfall(TlsShortfall::kHandshakeFailed, why);
}

// tls_shortfall: STARTTLS not offered, refused, or the handshake failed.
// Never reached at level none. Only commands of the session's opening have
// been sent so far, never a message byte: messages are taken in kReady.
void SmtpClient::tls_shortfall(TlsShortfall what, std::string_view detail) {
  if (what != TlsShortfall::kNotOffered || starttls_allowed_) host_->tls_shortfall_seen(what);
  const TlsLevel level = config_->tls_level;
  switch (decide_tls_shortfall(level, what)) {
    case TlsFallback::kClearHere:
      session_greeted(caps_, what == TlsShortfall::kRefused ? "it refused STARTTLS"
                             : starttls_allowed_            ? "it does not offer STARTTLS"
                                                 : "its TLS handshake failed recently, so STARTTLS "
                                                   "is not tried there for a while");
      return;
    case TlsFallback::kClearNewConnection:
      tls_fell_back_ = true;
      fail(
          fmt::format("TLS handshake with {} failed: {}; relay.tls = \"may\": delivering in clear on a new "
                      "connection, and not trying TLS there again for {} s",
                      peer_, detail, kTlsBrokenRememberS));
      return;
    case TlsFallback::kDefer:
      break;
  }
  const char* what_text = what == TlsShortfall::kNotOffered ? "does not offer STARTTLS"
                          : what == TlsShortfall::kRefused  ? "refused STARTTLS"
                                                            : "failed the TLS handshake";
  // A failed handshake's |detail| carries its own advice (the verdict's).
  const char* advice =
      what == TlsShortfall::kHandshakeFailed
          ? ""
          : " (enable STARTTLS on the relay, or set relay.tls = \"may\" to allow clear text)";
  fail(
      fmt::format("{} {}: {}; relay.tls = \"{}\" requires TLS, so nothing was sent and the messages wait for "
                  "the next attempt{}",
                  peer_, what_text, detail, tls_level_name(level), advice));
}

void SmtpClient::on_closed() {
  if (state_ != ClientState::kClosing) return;
  state_ = ClientState::kIdle;
  in_len_ = out_len_ = out_credentials_ = 0;
  expect_head_ = expect_count_ = 0;
}

void SmtpClient::abort(std::string_view reason) { fail(reason); }

// ---------------------------------------------------------------------------
// Replies: parse what arrived, match each reply to the oldest expectation.

void SmtpClient::handle_replies() {
  size_t offset = 0;
  while (offset < in_len_ && live()) {
    if (state_ == ClientState::kTlsHandshake) {
      // Plaintext after the 220 to STARTTLS, before the handshake: the
      // response-injection class of CVE-2011-0411. Nothing of it is read.
      fail(fmt::format("{} sent data after its 220 to STARTTLS, before the TLS handshake", peer_));
      return;
    }
    SmtpReply reply;
    size_t consumed = 0;
    const char* error = nullptr;
    const ReplyParse parse = parse_reply(in_.get() + offset, in_len_ - offset, reply, consumed, error);
    if (parse == ReplyParse::kIncomplete) break;
    if (parse == ReplyParse::kMalformed) {
      fail(fmt::format("malformed reply from {}: {}", peer_, error));
      return;
    }
    offset += consumed;
    if (expect_count_ == 0) {
      // A reply to nothing we sent.
      fail(fmt::format("unexpected reply from {}: {}", peer_, reply_summary(reply)));
      return;
    }
    const Expectation expect = expect_[expect_head_];
    expect_head_ = (expect_head_ + 1) % kMaxExpectations;
    --expect_count_;
    if (expect.slot != nullptr) --expect.slot->expect_refs;
    bytes_after_reply_ = in_len_ - offset;
    on_reply(expect, reply);
  }
  if (!live()) return;
  if (offset > 0) {
    std::memmove(in_.get(), in_.get() + offset, in_len_ - offset);
    in_len_ -= offset;
  }
  pump();
}

void SmtpClient::on_reply(const Expectation& expect, const SmtpReply& reply) {
  switch (expect.kind) {
    case Expect::kGreeting:
      on_greeting_reply(reply);
      return;
    case Expect::kEhlo:
    case Expect::kHelo:
      on_hello_reply(expect, reply);
      return;
    case Expect::kStarttls:
      on_starttls_reply(reply);
      return;
    case Expect::kAuth:
    case Expect::kAuthChallenge:
      on_auth_reply(expect, reply);
      return;
    case Expect::kMail:
      on_mail_reply(expect.slot, reply);
      return;
    case Expect::kRcpt:
      on_rcpt_reply(expect.slot, expect.rcpt, reply);
      return;
    case Expect::kData:
      on_data_reply(expect.slot, reply);
      return;
    case Expect::kDataEnd:
      on_data_end_reply(expect.slot, reply);
      return;
    case Expect::kRset:
      on_rset_reply(reply);
      return;
    case Expect::kQuit:
      begin_close();
      return;
  }
}

// kGreeting: the 220 banner, then EHLO.
void SmtpClient::on_greeting_reply(const SmtpReply& reply) {
  if (decide(SmtpStage::kGreeting, reply.code).verdict != Verdict::kProceed) {
    fail(fmt::format("{} greeted us with {}", peer_, reply_summary(reply)));
    return;
  }
  greeted_ = true;
  state_ = ClientState::kEhloSent;
  emit_hello(Expect::kEhlo);
}

// kEhloSent, kHeloSent, kEhloAfterTls: the greeting's answer.
void SmtpClient::on_hello_reply(const Expectation& expect, const SmtpReply& reply) {
  const Decision decision =
      decide(expect.kind == Expect::kEhlo ? SmtpStage::kEhlo : SmtpStage::kHelo, reply.code);
  if (decision.verdict == Verdict::kFallback && state_ == ClientState::kEhloSent) {
    // EHLO refused: the server speaks plain SMTP. Greet with HELO instead.
    state_ = ClientState::kHeloSent;
    emit_hello(Expect::kHelo);
    return;
  }
  if (decision.verdict != Verdict::kProceed) {
    fail(fmt::format("{} rejected our greeting: {}", peer_, reply_summary(reply)));
    return;
  }
  const EhloCapabilities caps =
      expect.kind == Expect::kEhlo ? parse_ehlo_capabilities(reply) : EhloCapabilities{};
  if (tls_active_ || config_->tls_level == TlsLevel::kNone) {
    session_greeted(caps, "relay.tls = \"none\"");
    return;
  }
  caps_ = caps;  // kept for going on in clear if STARTTLS is refused (level may)
  if (caps.starttls && starttls_allowed_) {
    state_ = ClientState::kStarttlsSent;
    emit_command("STARTTLS\r\n", Expect::kStarttls, nullptr, 0);
    return;
  }
  tls_shortfall(TlsShortfall::kNotOffered,
                starttls_allowed_ ? "its EHLO reply has no STARTTLS"
                                  : "TLS failed there recently, so this connection goes on in clear");
}

// kStarttlsSent: 220 hands the connection to the record layer; anything
// else is a shortfall (decide_tls_shortfall: clear text at may, defer above).
void SmtpClient::on_starttls_reply(const SmtpReply& reply) {
  if (decide(SmtpStage::kStarttls, reply.code).verdict != Verdict::kProceed) {
    if (reply.code == 421) {  // the server is closing, at any level
      fail(fmt::format("{} refused STARTTLS: {}", peer_, reply_summary(reply)));
      return;
    }
    tls_shortfall(TlsShortfall::kRefused, fmt::format("it answered {}", reply_summary(reply)));
    return;
  }
  // Bytes already received after the 220 travelled in clear and may be an
  // attacker's (CVE-2011-0411): starttls_guard refuses them, at any level.
  std::string reason;
  if (judge_starttls_reply(reply.code, bytes_after_reply_, reason) == StartTlsReplyVerdict::kInjection) {
    fail(fmt::format("{}: {}", peer_, reason));
    return;
  }
  state_ = ClientState::kTlsHandshake;
  host_->start_tls();
}

// session_greeted: the greeting is done and TLS is as the level wants it.
// Without credentials the session is ready; with them, AUTH comes first,
// and only where may_send_credentials allows (nothing is sent otherwise).
void SmtpClient::session_greeted(const EhloCapabilities& caps, const char* why_clear) {
  const SmtpCredentials* credentials = config_->credentials;
  if (credentials == nullptr || !credentials->configured()) {
    session_ready(caps);
    return;
  }
  caps_ = caps;
  if (!may_send_credentials(tls_active_, credentials->allow_plaintext_auth)) {
    auth_shortfall(AuthShortfall::kNoTls, why_clear);
    return;
  }
  if (caps.auth_plain) {
    state_ = ClientState::kAuthPlainSent;
    emit_credentials(credentials->auth_plain_line, Expect::kAuth);
  } else if (caps.auth_login) {
    state_ = ClientState::kAuthLoginSent;
    emit_command("AUTH LOGIN\r\n", Expect::kAuthChallenge, nullptr, 0);
  } else {
    auth_shortfall(caps.auth ? AuthShortfall::kNoMechanism : AuthShortfall::kNotOffered, "");
  }
}

// auth_shortfall ends the connection: decide_auth_shortfall's decisions
// all have connection scope, and no message is on the connection yet
// (messages are taken in kReady); its owner defers those waiting
// (decide_relay_unreachable) with this reason.
void SmtpClient::auth_shortfall(AuthShortfall what, std::string_view why_clear) {
  assert(decide_auth_shortfall(what).scope == Scope::kConnection);
  std::string what_text;
  switch (what) {
    case AuthShortfall::kNoTls:
      what_text = fmt::format("the session is in clear ({}) and relay.username is set", why_clear);
      break;
    case AuthShortfall::kNotOffered:
      what_text = "its EHLO reply offers no AUTH, but relay.username is set";
      break;
    case AuthShortfall::kNoMechanism:
      what_text = "it offers AUTH, but neither PLAIN nor LOGIN";
      break;
  }
  fail(fmt::format("{}: {}; nothing was sent, and the messages wait for the next attempt; {}", peer_,
                   what_text, explain_auth_shortfall(what)));
}

// emit_credentials: a line with a secret. AUTH is never pipelined, so the
// output holds at most what a server that answered early made us write
// before it (an EHLO); the bytes through the end of this line are marked,
// so a transcript masks them all rather than show part of a secret.
void SmtpClient::emit_credentials(const std::string& line, Expect kind) {
  if (emit_command(line, kind, nullptr, 0)) out_credentials_ = out_len_;
}

// kAuthPlainSent, kAuthLoginSent, kAuthUsernameSent, kAuthPasswordSent: a
// 334 asks for LOGIN's next answer (the challenge text, "VXNlcm5hbWU6" or
// anything else, is not interpreted: the user name, then the password),
// a 235 opens the session; anything else is a refusal, decided at
// SmtpStage::kAuth (or kAuthChallenge), and explained.
void SmtpClient::on_auth_reply(const Expectation& expect, const SmtpReply& reply) {
  const SmtpStage stage = expect.kind == Expect::kAuth ? SmtpStage::kAuth : SmtpStage::kAuthChallenge;
  if (decide(stage, reply.code).verdict != Verdict::kProceed) {
    char buffer[kReasonBytes];
    fail(fmt::format("{} refused the login (AUTH {}): {}", peer_,
                     state_ == ClientState::kAuthPlainSent ? "PLAIN" : "LOGIN",
                     explained(stage, reply, buffer, sizeof(buffer))));
    return;
  }
  const SmtpCredentials& credentials = *config_->credentials;
  switch (state_) {
    case ClientState::kAuthLoginSent:
      state_ = ClientState::kAuthUsernameSent;
      emit_credentials(credentials.login_username_line, Expect::kAuthChallenge);
      return;
    case ClientState::kAuthUsernameSent:
      state_ = ClientState::kAuthPasswordSent;
      emit_credentials(credentials.login_password_line, Expect::kAuth);
      return;
    default:  // kAuthPlainSent, kAuthPasswordSent: 235
      authenticated_ = true;
      session_ready(caps_);
      return;
  }
}

void SmtpClient::session_ready(const EhloCapabilities& caps) {
  caps_ = caps;
  state_ = ClientState::kReady;
  was_ready_ = true;
}

void SmtpClient::on_mail_reply(MessageSlot* slot, const SmtpReply& reply) {
  const Decision decision = decide(SmtpStage::kMail, reply.code);
  char buffer[kReasonBytes];
  if (decision.scope == Scope::kConnection) {
    fail(fmt::format("{} answered MAIL FROM with: {}", peer_,
                     explained(SmtpStage::kMail, reply, buffer, sizeof(buffer))),
         slot);
    return;
  }
  if (decision.verdict != Verdict::kProceed) {
    // The whole message is refused; the RCPT and DATA replies that were
    // pipelined behind MAIL are answers to a transaction that never began.
    slot->mail_rejected = true;
    const std::string_view why = explained(SmtpStage::kMail, reply, buffer, sizeof(buffer));
    slot->set_message_reply(why);
    slot->resolve_all_unresolved(outcome_of(decision.verdict), why);
    if (tx_ == slot && state_ != ClientState::kDataSent) end_transaction(slot);
  }
  maybe_release(slot);
}

void SmtpClient::on_rcpt_reply(MessageSlot* slot, uint16_t rcpt, const SmtpReply& reply) {
  const Decision decision = decide(SmtpStage::kRcpt, reply.code);
  char buffer[kReasonBytes];
  if (decision.scope == Scope::kConnection) {
    fail(fmt::format("{} answered RCPT TO with: {}", peer_,
                     explained(SmtpStage::kRcpt, reply, buffer, sizeof(buffer))),
         slot);
    return;
  }
  if (!slot->mail_rejected) {
    if (decision.verdict == Verdict::kProceed) {
      slot->rcpt_state[rcpt] = RcptState::kAccepted;
      ++slot->accepted;
    } else {
      slot->resolve(rcpt, outcome_of(decision.verdict),
                    explained(SmtpStage::kRcpt, reply, buffer, sizeof(buffer)));
    }
  }
  maybe_release(slot);
}

// kDataSent: 354 opens the body (kBody); anything else ends the transaction.
void SmtpClient::on_data_reply(MessageSlot* slot, const SmtpReply& reply) {
  // With no recipient accepted the transaction carries nothing; policy has
  // its own rows for the replies that still come.
  const bool nothing_to_send = slot->mail_rejected || slot->accepted == 0;
  const Decision decision = decide(nothing_to_send ? SmtpStage::kDataUnwanted : SmtpStage::kData, reply.code);
  if (tx_ == slot) tx_ = nullptr;
  state_ = ClientState::kReady;
  char buffer[kReasonBytes];
  if (decision.scope == Scope::kConnection) {
    fail(fmt::format("{} answered DATA with: {}", peer_,
                     explained(SmtpStage::kData, reply, buffer, sizeof(buffer))),
         slot);
    return;
  }
  if (nothing_to_send) {
    // Every recipient was refused. A server that still says 354 gets an
    // empty message ended at once; either way the transaction is reset.
    rset_owed_ = true;
    if (reply.code == 354) {
      body_ = slot;
      state_ = ClientState::kBody;
    }
    maybe_release(slot);
    return;
  }
  if (decision.verdict != Verdict::kProceed) {
    const std::string_view why = explained(SmtpStage::kData, reply, buffer, sizeof(buffer));
    slot->set_message_reply(why);
    slot->resolve_all_unresolved(outcome_of(decision.verdict), why);
    rset_owed_ = true;
    maybe_release(slot);
    return;
  }
  body_ = slot;
  body_cursor_ = slot->envelope.body_offset;
  encoder_.reset();
  state_ = ClientState::kBody;
}

void SmtpClient::on_data_end_reply(MessageSlot* slot, const SmtpReply& reply) {
  const bool unwanted = slot->mail_rejected || slot->accepted == 0;
  const Decision decision = decide(unwanted ? SmtpStage::kDataEndUnwanted : SmtpStage::kDataEnd, reply.code);
  // After BDAT, a failed transaction may leave the server's MAIL state
  // behind (RFC 3030 4.2: the client SHOULD send RSET).
  if (slot->used_bdat && (decision.verdict != Verdict::kProceed || slot->accepted == 0)) rset_owed_ = true;
  char buffer[kReasonBytes];
  if (decision.scope == Scope::kConnection) {
    fail(fmt::format("{} answered end of data with: {}", peer_,
                     explained(SmtpStage::kDataEnd, reply, buffer, sizeof(buffer))),
         slot);
    return;
  }
  if (unwanted) {
    maybe_release(slot);  // the "." after an unwanted 354, or BDAT for nobody
    return;
  }
  if (decision.verdict == Verdict::kProceed) {
    slot->resolve_all_unresolved(RcptState::kDone, reply_summary(reply));
    maybe_release(slot);
    return;
  }
  const std::string_view why = explained(SmtpStage::kDataEnd, reply, buffer, sizeof(buffer));
  slot->set_message_reply(why);
  slot->resolve_all_unresolved(outcome_of(decision.verdict), why);
  maybe_release(slot);
}

void SmtpClient::on_rset_reply(const SmtpReply& reply) {
  if (decide(SmtpStage::kRset, reply.code).verdict != Verdict::kProceed) {
    fail(fmt::format("{} answered RSET with: {}", peer_, reply_summary(reply)));
  }
}

// ---------------------------------------------------------------------------
// Emitters: write commands and bodies into out_, within the limits.

uint32_t SmtpClient::max_in_flight() const {
  if (!caps_.pipelining) return 1;
  return caps_.chunking && config_->chunking ? kMaxMessagesInFlight : kMaxMessagesInFlightData;
}

bool SmtpClient::can_take_message() const {
  return session_open() && tx_ == nullptr && messages_in_flight_ < max_in_flight() && !exhausted();
}

// uses_bdat: CHUNKING and PIPELINING offered, allowed by smtp.chunking, and
// the whole message is in the head buffer (one chunk, size known).
bool SmtpClient::uses_bdat(const MessageSlot* slot) const {
  return caps_.chunking && caps_.pipelining && config_->chunking && slot->whole_file;
}

void SmtpClient::take_message(MessageSlot* slot) {
  assert(can_take_message());
  slot->client = this;
  slot->mail_rejected = false;
  slot->accepted = 0;
  slot->expect_refs = 0;
  ++messages_in_flight_;
  if (!precheck(slot)) {
    maybe_release(slot);  // refused by our own checks: back to the owner, nothing sent
    return;
  }
  tx_ = slot;
  tx_next_ = kTxMail;
  slot->used_bdat = uses_bdat(slot);
  // Behind another BDAT transaction whose verdict is not known yet: a
  // failed BDAT may leave the server's MAIL state, so reset first (harmless
  // after a success, and pipelined: no round trip).
  if (messages_in_flight_ > 1 && slot->used_bdat) rset_owed_ = true;
  ++messages_started_;
  pump();
}

void SmtpClient::on_body_chunk(MessageSlot* slot) {
  if (body_ == slot && state_ == ClientState::kBody) pump();
}

bool SmtpClient::can_emit_command() const {
  // Without PIPELINING, one command at a time: only when nothing is unanswered.
  if (expect_count_ >= kMaxExpectations - 1) return false;
  return caps_.pipelining || expect_count_ == 0;
}

void SmtpClient::push_expect(Expect kind, MessageSlot* slot, uint16_t rcpt) {
  assert(expect_count_ < kMaxExpectations);
  expect_[(expect_head_ + expect_count_) % kMaxExpectations] = Expectation{slot, rcpt, kind};
  ++expect_count_;
  if (slot != nullptr) ++slot->expect_refs;
}

bool SmtpClient::emit_command(std::string_view text, Expect kind, MessageSlot* slot, uint16_t rcpt) {
  if (text.size() > out_room()) return false;
  std::memcpy(out_.get() + out_len_, text.data(), text.size());
  out_len_ += text.size();
  push_expect(kind, slot, rcpt);
  return true;
}

void SmtpClient::emit_hello(Expect kind) {
  char line[300];
  const std::string& name = config_->helo_name;
  const int n = std::snprintf(line, sizeof(line), "%s %.*s\r\n", kind == Expect::kHelo ? "HELO" : "EHLO",
                              static_cast<int>(name.size() < 255 ? name.size() : 255), name.data());
  emit_command(std::string_view(line, static_cast<size_t>(n)), kind, nullptr, 0);
}

void SmtpClient::pump() {
  if (!session_open()) return;
  if (state_ == ClientState::kBody) emit_body();
  if (state_ != ClientState::kReady) return;  // body not done, or the connection failed
  if (rset_owed_ && can_emit_command() && emit_command("RSET\r\n", Expect::kRset, nullptr, 0)) {
    rset_owed_ = false;
  }
  if (!rset_owed_ && tx_ != nullptr) emit_transaction();
  pipeline_quit();
}

// pipeline_quit: once the last message this connection may carry
// (max_messages_per_connection) is written to its end of data, QUIT
// follows it in the same send, as RFC 2920 allows QUIT last in a group:
// the 250 and the 221 then come back together, one round trip fewer per
// connection. The machine is in kQuitSent while the message's replies are
// still due; they are handled as in kReady, and a connection lost before
// them fails what it carries (on_peer_closed).
void SmtpClient::pipeline_quit() {
  if (state_ != ClientState::kReady || !exhausted() || !caps_.pipelining || !config_->pipeline_quit) return;
  if (tx_ != nullptr || body_ != nullptr || rset_owed_ || !can_emit_command()) return;
  if (emit_command("QUIT\r\n", Expect::kQuit, nullptr, 0)) state_ = ClientState::kQuitSent;
}

void SmtpClient::emit_transaction() {
  MessageSlot* slot = tx_;
  char line[600];
  while (tx_ == slot && state_ == ClientState::kReady && can_emit_command()) {
    const uint32_t count = slot->envelope.recipient_count;
    if (tx_next_ == kTxMail) {
      const std::string_view sender = slot->envelope.sender;
      const int n =
          std::snprintf(line, sizeof(line), "MAIL FROM:<%.*s>%.*s\r\n", static_cast<int>(sender.size()),
                        sender.data(), static_cast<int>(tx_params_len_), tx_params_);
      if (!emit_command(std::string_view(line, static_cast<size_t>(n)), Expect::kMail, slot, 0)) return;
      tx_next_ = kTxRcpt0;
      continue;
    }
    uint32_t rcpt = tx_next_ - kTxRcpt0;
    while (rcpt < count && slot->rcpt_state[rcpt] != RcptState::kPending) ++rcpt;
    tx_next_ = kTxRcpt0 + rcpt;
    if (rcpt < count) {
      const std::string_view address = slot->envelope.recipients[rcpt];
      const int n = std::snprintf(line, sizeof(line), "RCPT TO:<%.*s>\r\n", static_cast<int>(address.size()),
                                  address.data());
      if (!emit_command(std::string_view(line, static_cast<size_t>(n)), Expect::kRcpt, slot,
                        static_cast<uint16_t>(rcpt))) {
        return;
      }
      ++tx_next_;
      continue;
    }
    // Every recipient written: DATA or BDAT.
    if (slot->mail_rejected) {
      end_transaction(slot);  // MAIL refused (we were not pipelining): no DATA
      return;
    }
    if (!caps_.pipelining && slot->accepted == 0) {
      rset_owed_ = true;  // every RCPT refused, one at a time: no DATA
      end_transaction(slot);
      return;
    }
    if (slot->used_bdat) {
      // The whole transaction is written; the next one may follow at once.
      if (!emit_bdat(slot)) return;
      end_transaction(slot);
      return;
    }
    if (!emit_command("DATA\r\n", Expect::kData, slot, 0)) return;
    state_ = ClientState::kDataSent;  // nothing more may be written before its reply
  }
}

// emit_bdat writes "BDAT <n> LAST\r\n" and the message with CRLF line
// endings (no dot-stuffing: BDAT content is counted, not terminated). The
// content is encoded first, after a gap for the command, then the command
// is written into the gap and the content moved up against it.
bool SmtpClient::emit_bdat(MessageSlot* slot) {
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

void SmtpClient::end_transaction(MessageSlot* slot) {
  if (tx_ == slot) tx_ = nullptr;
  maybe_release(slot);
}

// emit_body (kBody) writes as much of the body as is in memory and fits;
// at the end of the file it writes the "." and goes back to kReady.
void SmtpClient::emit_body() {
  MessageSlot* slot = body_;
  constexpr size_t kFinishRoom = BodyEncoder::kMaxFinishBytes;
  if (slot->mail_rejected || slot->accepted == 0) {
    // A 354 with no recipient accepted: an empty message, ended at once.
    if (out_room() < 3) return;
    std::memcpy(out_.get() + out_len_, ".\r\n", 3);
    out_len_ += 3;
    push_expect(Expect::kDataEnd, slot, 0);
    body_ = nullptr;
    state_ = ClientState::kReady;
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
      state_ = ClientState::kReady;
      return;
    } else if (body_cursor_ >= slot->stream_offset && body_cursor_ < slot->stream_offset + slot->stream_len) {
      src = slot->stream.get() + (body_cursor_ - slot->stream_offset);
      available = slot->stream_offset + slot->stream_len - body_cursor_;
    } else {
      // The next bytes are not in memory: ask for them, come back when they are.
      host_->read_body(slot, body_cursor_);
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

// ---------------------------------------------------------------------------
// Prechecks: what the relay's EHLO says it cannot take never goes out.

bool SmtpClient::refuse(MessageSlot* slot, Precheck check, std::string_view why) {
  const Decision decision = decide_precheck(check);
  slot->set_message_reply(why);
  slot->resolve_all_unresolved(outcome_of(decision.verdict), why);
  return false;
}

// precheck runs the client's own checks on |slot| against the relay's EHLO
// (SMTPUTF8, SIZE, 8BITMIME) before its MAIL: what the relay cannot take is
// resolved as delivery_policy decides, and the MAIL parameters are written
// into tx_params_. false: nothing of the message goes out.
bool SmtpClient::precheck(MessageSlot* slot) {
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
    slot->resolve(i, outcome_of(decide_precheck(*check).verdict), why);
  }
  if (pending == 0) return false;
  tx_params_len_ = mail_params(caps_, needs, tx_params_, sizeof(tx_params_));
  return true;
}

// eight_bit_met_while_streaming: a body byte >= 0x80 is about to go to a
// relay that did not offer 8BITMIME; the message fails and the connection
// closes (the DATA already begun cannot be taken back; closing without the
// "." makes the relay drop it). The other messages go as after an I/O failure.
void SmtpClient::eight_bit_met_while_streaming(MessageSlot* slot) {
  char why[512];
  precheck_reason(Precheck::kEightBitWhileStreaming, caps_, MessageNeeds{}, {}, why, sizeof(why));
  refuse(slot, Precheck::kEightBitWhileStreaming, why);
  fail(why, slot);
}

// ---------------------------------------------------------------------------
// Ending: messages handed back, QUIT, failures.

void SmtpClient::maybe_release(MessageSlot* slot) {
  if (slot == nullptr || slot->client != this) return;
  if (tx_ == slot || body_ == slot) return;
  if (slot->expect_refs > 0) return;
  slot->client = nullptr;
  --messages_in_flight_;
  host_->transaction_done(slot);
}

void SmtpClient::quit() {
  if (state_ != ClientState::kReady || messages_in_flight_ > 0) return;
  state_ = ClientState::kQuitSent;
  // QUIT is sent whatever PIPELINING says: nothing else is outstanding.
  emit_command("QUIT\r\n", Expect::kQuit, nullptr, 0);
}

void SmtpClient::fail(std::string_view reason, MessageSlot* current) {
  if (!live()) return;
  // What a broken connection means for the messages on it is policy's
  // call (today: defer them all), not this state machine's.
  const RcptState outcome = outcome_of(decide_io_failure().verdict);
  last_error_.assign(reason);
  // Everything unresolved on this connection is resolved; each slot goes
  // back to the owner once.
  MessageSlot* carried[kMaxMessagesInFlight + 2] = {};
  uint32_t carried_count = 0;
  auto add = [&](MessageSlot* slot) {
    if (slot == nullptr || slot->client != this) return;
    for (uint32_t i = 0; i < carried_count; ++i) {
      if (carried[i] == slot) return;
    }
    if (carried_count < kMaxMessagesInFlight + 2) carried[carried_count++] = slot;
  };
  add(current);  // the message whose reply broke the connection: its last reference
  add(tx_);
  add(body_);
  for (uint32_t i = 0; i < expect_count_; ++i) add(expect_[(expect_head_ + i) % kMaxExpectations].slot);
  tx_ = body_ = nullptr;
  expect_count_ = 0;
  for (uint32_t i = 0; i < carried_count; ++i) carried[i]->expect_refs = 0;
  begin_close();
  for (uint32_t i = 0; i < carried_count; ++i) {
    carried[i]->set_message_reply(reason);
    carried[i]->resolve_all_unresolved(outcome, reason);
    maybe_release(carried[i]);
  }
}

void SmtpClient::begin_close() {
  if (!live()) return;
  state_ = ClientState::kClosing;
  host_->close();
}

}  // namespace ringmail
