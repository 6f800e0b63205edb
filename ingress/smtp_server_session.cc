// ingress/smtp_server_session.cc — the listener's SMTP server state machine.
// See smtp_server_session.h and docs/ingress.md ("Session"). Reply texts are
// Postfix smtpd's where Postfix has one, so clients and operators see what
// they know. Pure: no I/O, no clock, no allocation once the envelope strings
// have grown to their working size.
#include "ingress/smtp_server_session.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "ingress/bdat_chunk.h"
#include "ingress/smtp_command.h"

namespace ringmail::ingress {
namespace {

constexpr const char* kNeedHelo = "503 5.5.1 Error: send HELO/EHLO first";
constexpr const char* kMustStartTls = "530 5.7.0 Must issue a STARTTLS command first";
constexpr const char* kAuthNotEnabled = "503 5.5.1 Error: authentication not enabled";
constexpr const char* kAuthFailed = "535 5.7.8 Error: authentication failed: authentication failure";
constexpr const char* kTooManyRecipients = "452 4.5.3 Error: too many recipients";

// kMaxEchoBytes bounds client text echoed in a reply ("Unsupported option: X").
constexpr size_t kMaxEchoBytes = 100;

bool has_control_byte(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace

const char* session_event_name(SessionEvent event) {
  switch (event) {
    case SessionEvent::kRelayDenied:
      return "relay-denied";
    case SessionEvent::kAuthRequired:
      return "auth-required";
    case SessionEvent::kTlsRequired:
      return "tls-required";
    case SessionEvent::kAuthFailed:
      return "auth-failed";
    case SessionEvent::kAuthThrottled:
      return "auth-throttled";
    case SessionEvent::kAuthInClearRefused:
      return "auth-in-clear-refused";
    case SessionEvent::kBareNewline:
      return "bare-newline";
    case SessionEvent::kLineTooLong:
      return "line-too-long";
    case SessionEvent::kMessageTooBig:
      return "message-too-big";
    case SessionEvent::kTooManyRecipients:
      return "too-many-recipients";
    case SessionEvent::kTooManyErrors:
      return "too-many-errors";
    case SessionEvent::kRateLimited:
      return "rate-limited";
    case SessionEvent::kMessageCut:
      return "message-cut";
    case SessionEvent::kUnknownCommand:
      return "unknown-command";
  }
  return "?";
}

const char* ServerSession::state_name(State state) {
  static constexpr const char* kNames[] = {"idle", "command",  "data",       "bdat",
                                           "auth", "starttls", "wait-store", "closed"};
  return kNames[static_cast<size_t>(state)];
}

SessionSettings make_session_settings(const ListenConfig& listen, std::string_view default_hostname) {
  SessionSettings s;
  s.hostname = listen.hostname.empty() ? std::string(default_hostname) : listen.hostname;
  s.max_message_bytes = listen.max_message_size;
  s.max_recipients = listen.max_recipients;
  s.starttls = listen.tls == ListenTls::kStartTls || listen.tls == ListenTls::kRequired;
  s.tls_required = listen.tls == ListenTls::kRequired;
  s.auth = listen.auth;
  s.allow_plaintext_auth = listen.allow_plaintext_auth;
  s.max_errors = listen.max_errors;
  return s;
}

ServerSession::ServerSession(const SessionSettings* settings, SessionHost* host)
    : settings_(settings), host_(host) {
  helo_.reserve(kMaxCommandLineBytes);
  auth_user_.reserve(kMaxAuthDecodedBytes);
  reverse_path_.reserve(kMaxPathBytes);
  const size_t expected_recipients = std::min<size_t>(settings->max_recipients, 64);
  recipients_.reserve(expected_recipients);
  spare_recipients_.reserve(expected_recipients);
}

void ServerSession::start(const ClientInfo& client) {
  trusted_ = client.trusted;
  helo_seen_ = false;
  ehlo_ = false;
  tls_active_ = false;
  errors_ = 0;
  helo_.clear();
  auth_user_.clear();
  tls_version_[0] = '\0';
  tls_cipher_[0] = '\0';
  message_open_ = false;  // a message of a connection never close()d is forgotten
  reset_transaction();
  auth_.clear();
  line_.reset();
  out_.clear();
  state_ = State::kCommand;
  reply_host("220", "ESMTP ringmail");
}

void ServerSession::tls_started(const TlsFacts& facts) {
  if (state_ != State::kStartTls && state_ != State::kCommand) return;  // closed meanwhile
  auto copy = [](std::string_view from, char* to, size_t capacity) {
    const size_t n = std::min(from.size(), capacity - 1);
    std::memcpy(to, from.data(), n);
    to[n] = '\0';
  };
  copy(facts.version, tls_version_, sizeof(tls_version_));
  copy(facts.cipher, tls_cipher_, sizeof(tls_cipher_));
  reset_transaction();  // RFC 3207 4.2: forget all that came in clear
  helo_seen_ = false;
  ehlo_ = false;
  helo_.clear();
  auth_user_.clear();
  auth_.clear();
  line_.reset();
  tls_active_ = true;
  state_ = State::kCommand;
}

void ServerSession::on_stored(bool ok, std::string_view queue_id) {
  if (state_ != State::kWaitStore) return;
  state_ = State::kCommand;
  if (ok) {
    put("250 2.0.0 Ok: queued as ");
    reply(queue_id.substr(0, kMaxEchoBytes));
  } else {
    error(kReplyWriteError);
  }
  reset_transaction();
}

void ServerSession::close() {
  if (message_open_) host_->note(SessionEvent::kMessageCut, "connection closed");
  reset_transaction();  // aborts the open message
  auth_.clear();
  state_ = State::kIdle;
}

void ServerSession::timed_out() {
  if (state_ == State::kIdle || state_ == State::kClosed) return;
  if (message_open_) host_->note(SessionEvent::kMessageCut, "timeout");
  hang_up();
  reply_host("421 4.4.2", "Error: timeout exceeded");
}

SessionTimeout ServerSession::timeout_kind() const {
  return state_ == State::kData || state_ == State::kBdat ? SessionTimeout::kData : SessionTimeout::kCommand;
}

void ServerSession::error(std::string_view text) {
  ++errors_;
  reply(text);
}

void ServerSession::reply_host(std::string_view code, std::string_view tail) {
  put(code);
  put(" ");
  put(settings_->hostname);
  put(" ");
  reply(tail);
}

void ServerSession::hang_up() {
  reset_transaction();  // aborts an open message
  auth_.clear();
  state_ = State::kClosed;
}

FeedResult ServerSession::feed(const char* data, size_t size) {
  FeedResult result;
  size_t pos = 0;
  while (pos < size) {
    if (state_ == State::kClosed || state_ == State::kIdle || state_ == State::kStartTls) {
      // After QUIT or a cut the rest is ignored; after STARTTLS it came in
      // clear before the handshake and is not to be trusted (RFC 3207).
      pos = size;
      break;
    }
    if (state_ == State::kWaitStore) break;
    if (out_.free_bytes() < kSessionReplyReserveBytes) break;  // send first
    if (state_ == State::kData) {
      pos += consume_body(data + pos, size - pos);
      continue;
    }
    if (state_ == State::kBdat) {
      pos += consume_chunk(data + pos, size - pos);
      continue;
    }
    // A command line or an AUTH response (a 2 MB line is skipped unkept).
    CommandLineReader<kMaxCommandLineBytes>::Status status;
    pos += line_.take(data + pos, size - pos, status);
    if (status == CommandLineReader<kMaxCommandLineBytes>::Status::kTooLong) {
      if (state_ == State::kAuth) {  // the exchange ends
        state_ = State::kCommand;
        auth_.clear();
      }
      host_->note(SessionEvent::kLineTooLong, "");
      error("500 5.5.0 Error: line too long");
    } else if (status == CommandLineReader<kMaxCommandLineBytes>::Status::kLine) {
      take_line(line_.line());
    }
  }
  result.consumed = pos;
  switch (state_) {
    case State::kClosed:
    case State::kIdle:
      result.action = SessionAction::kClose;
      break;
    case State::kStartTls:
      result.action = SessionAction::kStartTls;
      break;
    case State::kWaitStore:
      result.action = SessionAction::kWaitStore;
      break;
    default:
      break;
  }
  return result;
}

void ServerSession::take_line(std::string_view line) {
  // Only CRLF ends a line: a bare LF ends it here, a CR inside it is bare.
  if (line.size() < 2 || line[line.size() - 2] != '\r') {
    bare_newline(true);
    return;
  }
  line.remove_suffix(2);
  if (line.find('\r') != std::string_view::npos) {
    bare_newline(false);
    return;
  }
  if (state_ == State::kAuth) {
    state_ = State::kCommand;
    auth_step(auth_.respond(line));
    line_.wipe_line();  // it held a credential
    return;
  }
  command(line);
  if (starts_with_ignore_case(line, "AUTH ")) line_.wipe_line();  // an initial response
}

void ServerSession::bare_newline(bool lf) {
  host_->note(SessionEvent::kBareNewline, lf ? "LF" : "CR");
  hang_up();
  reply_host("521 5.5.2", lf ? "Error: bare <LF> received" : "Error: bare <CR> received");
}

void ServerSession::command(std::string_view line) {
  if (settings_->max_errors > 0 && errors_ >= settings_->max_errors) {
    host_->note(SessionEvent::kTooManyErrors, "");
    hang_up();
    reply_host("421 4.7.0", "Error: too many errors");
    return;
  }
  const SmtpCommand cmd = parse_command(line);
  switch (cmd.verb) {
    case SmtpVerb::kEmpty:
      error("500 5.5.2 Error: bad syntax");
      break;
    case SmtpVerb::kUnknown:
      host_->note(SessionEvent::kUnknownCommand, line.substr(0, std::min<size_t>(line.find(' '), 16)));
      error("502 5.5.2 Error: command not recognized");
      break;
    case SmtpVerb::kEhlo:
      do_ehlo(cmd.arg, true);
      break;
    case SmtpVerb::kHelo:
      do_ehlo(cmd.arg, false);
      break;
    case SmtpVerb::kMail:
      do_mail(cmd.arg);
      break;
    case SmtpVerb::kRcpt:
      do_rcpt(cmd.arg);
      break;
    case SmtpVerb::kData:
      do_data(cmd.arg);
      break;
    case SmtpVerb::kBdat:
      do_bdat(cmd.arg);
      break;
    case SmtpVerb::kRset:
      if (!trim_spaces(cmd.arg).empty()) {
        error("501 5.5.4 Syntax: RSET");
        break;
      }
      reset_transaction();
      reply("250 2.0.0 Ok");
      break;
    case SmtpVerb::kNoop:
      reply("250 2.0.0 Ok");
      break;
    case SmtpVerb::kQuit:
      reset_transaction();
      reply("221 2.0.0 Bye");
      state_ = State::kClosed;
      break;
    case SmtpVerb::kVrfy:
      do_vrfy(cmd.arg);
      break;
    case SmtpVerb::kHelp:
      reply("214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
      break;
    case SmtpVerb::kStartTls:
      do_starttls(cmd.arg);
      break;
    case SmtpVerb::kAuth:
      do_auth(cmd.arg);
      break;
  }
}

void ServerSession::do_ehlo(std::string_view arg, bool extended) {
  arg = trim_spaces(arg);
  if (arg.empty() || has_control_byte(arg)) {
    error(extended ? "501 Syntax: EHLO hostname" : "501 Syntax: HELO hostname");
    return;
  }
  reset_transaction();
  helo_seen_ = true;
  ehlo_ = extended;
  helo_.assign(arg);
  if (!extended) {
    put("250 ");
    reply(settings_->hostname);
    return;
  }
  // Postfix's order of the keywords.
  put("250-");
  reply(settings_->hostname);
  reply("250-PIPELINING");
  char size_line[48] = "250-SIZE ";
  const auto [end, ec] =
      std::to_chars(size_line + 9, size_line + sizeof(size_line), settings_->max_message_bytes);
  (void)ec;
  reply(std::string_view(size_line, static_cast<size_t>(end - size_line)));
  if (settings_->starttls && !tls_active_) reply("250-STARTTLS");
  if (auth_offered()) reply("250-AUTH PLAIN LOGIN");
  reply("250-ENHANCEDSTATUSCODES");
  reply("250-8BITMIME");
  reply("250-SMTPUTF8");
  reply("250 CHUNKING");
}

void ServerSession::do_mail(std::string_view arg) {
  if (settings_->tls_required && !tls_active_) {
    host_->note(SessionEvent::kTlsRequired, "MAIL");
    error(kMustStartTls);
    return;
  }
  if (!helo_seen_) {
    error(kNeedHelo);
    return;
  }
  if (mail_active_) {
    error("503 5.5.1 Error: nested MAIL command");
    return;
  }
  if (!trusted_ && auth_user_.empty() && settings_->auth == ListenAuth::kRequired) {
    host_->note(SessionEvent::kAuthRequired, "");
    error("530 5.7.0 Authentication required");
    return;
  }
  std::string_view address, params;
  if (!parse_mail_from(arg, address, params)) {
    error("501 5.5.4 Syntax: MAIL FROM:<address>");
    return;
  }
  const MailParams mail = parse_mail_params(params);
  if (mail.size_bad) {
    error("501 5.5.4 Bad message size syntax");
    return;
  }
  if (mail.body_bad) {
    error("501 5.5.4 Bad BODY keyword syntax");
    return;
  }
  if (!mail.unknown.empty()) {
    put("555 5.5.4 Unsupported option: ");
    ++errors_;
    reply(mail.unknown.substr(0, kMaxEchoBytes));
    return;
  }
  if (!mail.smtputf8 && !is_ascii_text(address)) {
    error(kReplyNeedSmtputf8);
    return;
  }
  if (mail.size > settings_->max_message_bytes) {
    host_->note(SessionEvent::kMessageTooBig, "SIZE=");
    error("552 5.3.4 Message size exceeds fixed limit");
    return;
  }
  if (!host_->admit_message()) {
    host_->note(SessionEvent::kRateLimited, "");
    error("451 4.7.1 Error: too much mail, try again later");
    return;
  }
  reset_transaction();
  mail_active_ = true;
  reverse_path_.assign(address);
  eight_bit_mime_ = mail.body_8bitmime;
  smtputf8_ = mail.smtputf8;
  reply("250 2.1.0 Ok");
}

void ServerSession::do_rcpt(std::string_view arg) {
  if (!mail_active_ || bdat_seen_) {  // after a BDAT the envelope is the host's
    error(mail_active_ ? "503 5.5.1 Error: RCPT after BDAT" : "503 5.5.1 Error: need MAIL command");
    return;
  }
  std::string_view address, params;
  if (!parse_rcpt_to(arg, address, params)) {
    error("501 5.5.4 Syntax: RCPT TO:<address>");
    return;
  }
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) {
    error("501 5.1.3 Bad recipient address syntax");
    return;
  }
  if (!params.empty()) {
    put("555 5.5.4 Unsupported option: ");
    ++errors_;
    reply(params.substr(0, std::min(params.find(' '), kMaxEchoBytes)));
    return;
  }
  if (!smtputf8_ && !is_ascii_text(address)) {
    error(kReplyNeedSmtputf8);
    return;
  }
  if (!trusted_ && auth_user_.empty()) {
    host_->note(SessionEvent::kRelayDenied, address);
    put("554 5.7.1 <");
    put(address);
    ++errors_;
    reply(">: Relay access denied");
    return;
  }
  if (recipients_.size() >= settings_->max_recipients) {
    if (overshoot_ == 0) host_->note(SessionEvent::kTooManyRecipients, "");
    if (overshoot_ < kRecipientOvershoot) {
      ++overshoot_;
      reply(kTooManyRecipients);  // not an error yet (Postfix's overshoot allowance)
    } else {
      error(kTooManyRecipients);
    }
    return;
  }
  if (spare_recipients_.empty()) {
    recipients_.emplace_back(address);
  } else {  // reuse a string kept from an earlier transaction
    recipients_.push_back(std::move(spare_recipients_.back()));
    spare_recipients_.pop_back();
    recipients_.back().assign(address);
  }
  reply("250 2.1.5 Ok");
}

bool ServerSession::begin() {
  static constexpr std::string_view kProtocols[2][2][2] = {
      {{"SMTP", "SMTP"}, {"SMTP", "SMTP"}},  // HELO: RFC 3848 names only ESMTP kinds
      {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
  };
  TransactionInfo info;
  info.helo = helo_;
  info.reverse_path = reverse_path_;
  info.recipients = &recipients_;
  info.protocol = kProtocols[ehlo_][tls_active_][!auth_user_.empty()];
  info.auth_user = auth_user_;
  info.eight_bit_mime = eight_bit_mime_;
  info.smtputf8 = smtputf8_;
  if (!host_->begin_message(info)) return false;
  message_open_ = true;
  body_scan_ = BodyScan::kLineStart;
  bdat_last_cr_ = false;
  return true;
}

void ServerSession::do_data(std::string_view arg) {
  if (!mail_active_) {
    error(kReplyNeedRcpt);
    return;
  }
  if (bdat_seen_) {
    error("503 5.5.1 Error: DATA after BDAT");
    return;
  }
  if (recipients_.empty()) {
    error(kReplyNoRecipients);
    return;
  }
  if (!trim_spaces(arg).empty()) {
    error("501 5.5.4 Syntax: DATA");
    return;
  }
  if (!begin()) {
    error(kReplyWriteError);
    reset_transaction();
    return;
  }
  body_bytes_ = 0;
  state_ = State::kData;
  reply("354 End data with <CR><LF>.<CR><LF>");
}

void ServerSession::append(const char* data, size_t size) {
  if (size == 0 || body_error_ != nullptr) return;
  if (!host_->append_body(data, size)) {
    body_error_ = kReplyWriteError;
    abort_open_message();
  }
}

size_t ServerSession::consume_body(const char* data, size_t size) {
  size_t i = 0;
  size_t segment = 0;  // start of the bytes not yet passed to the host
  // pass sends data[segment, end) to the host, counting it against the limit.
  auto pass = [&](size_t end) {
    const size_t n = end - segment;
    body_bytes_ += n;
    if (body_error_ == nullptr && body_bytes_ > settings_->max_message_bytes) {
      body_error_ = kReplyTooBig;
      host_->note(SessionEvent::kMessageTooBig, "DATA");
      abort_open_message();
    }
    append(data + segment, n);
  };
  while (i < size) {
    switch (body_scan_) {
      case BodyScan::kInLine: {
        const char* p = data + i;
        const char* cr = static_cast<const char*>(std::memchr(p, '\r', size - i));
        const size_t span = cr == nullptr ? size - i : static_cast<size_t>(cr - p);
        if (std::memchr(p, '\n', span) != nullptr) {
          bare_newline(true);
          return size;
        }
        i += span;
        if (cr != nullptr) {
          ++i;
          body_scan_ = BodyScan::kCr;
        }
        break;
      }
      case BodyScan::kCr:
        if (data[i] != '\n') {
          bare_newline(false);
          return size;
        }
        ++i;
        body_scan_ = BodyScan::kLineStart;
        break;
      case BodyScan::kLineStart:
        body_scan_ = BodyScan::kInLine;
        if (data[i] == '.') {  // held back: stuffing or the end marker
          pass(i);
          segment = ++i;
          body_scan_ = BodyScan::kDot;
        }
        break;
      case BodyScan::kDot:
        if (data[i] == '\r') {
          segment = ++i;  // ".\r" held back too
          body_scan_ = BodyScan::kDotCr;
        } else {
          body_scan_ = BodyScan::kInLine;  // the dot was stuffing: dropped
        }
        break;
      case BodyScan::kDotCr:
        if (data[i] != '\n') {
          bare_newline(false);
          return size;
        }
        state_ = State::kCommand;
        finish_message();
        return i + 1;
    }
  }
  pass(size);
  return size;
}

void ServerSession::finish_message() {
  if (body_error_ != nullptr) {
    error(body_error_);
    reset_transaction();
    return;
  }
  message_open_ = false;  // from here the host owns it
  host_->end_message();
  state_ = State::kWaitStore;
}

void ServerSession::do_bdat(std::string_view arg) {
  uint64_t size = 0;
  bool last = false;
  if (!parse_bdat_args(arg, size, last)) {
    // The chunk size is unknown, so the bytes after this line cannot be told
    // from commands: the only safe answer is to hang up.
    hang_up();
    reply("501 5.5.4 Syntax: BDAT count [LAST]");
    return;
  }
  chunk_.start(size, last);
  if (!mail_active_) {
    chunk_.refusal = kReplyNeedRcpt;
  } else if (recipients_.empty()) {
    chunk_.refusal = kReplyNoRecipients;
  } else if (body_error_ != nullptr) {
    chunk_.refusal = body_error_;  // sticks until LAST
  } else if (!fits_limit(body_bytes_, size, settings_->max_message_bytes)) {
    host_->note(SessionEvent::kMessageTooBig, "BDAT");
    abort_open_message();
    chunk_.refusal = body_error_ = kReplyTooBig;
  } else if (!message_open_ && !begin()) {
    chunk_.refusal = body_error_ = kReplyWriteError;
  }
  if (!recipients_.empty()) bdat_seen_ = true;  // the envelope is fixed from here
  if (chunk_.refusal == nullptr) body_bytes_ += size;
  if (size > 0) {
    state_ = State::kBdat;
  } else {
    finish_chunk();  // "BDAT 0 [LAST]": nothing to read
  }
}

size_t ServerSession::consume_chunk(const char* data, size_t size) {
  const bool keep = chunk_.refusal == nullptr && message_open_;
  const size_t take = chunk_.take(size);
  if (keep) {
    // Content lines end in CRLF here too (no BINARYMIME is offered).
    bool cr = bdat_last_cr_;
    for (size_t i = 0; i < take; ++i) {
      const char c = data[i];
      if (cr != (c == '\n')) {
        bare_newline(!cr);  // LF without CR, or CR not followed by LF
        return size;
      }
      cr = c == '\r';
    }
    bdat_last_cr_ = cr;
    append(data, take);
  }
  if (chunk_.remaining == 0) finish_chunk();
  return take;
}

void ServerSession::finish_chunk() {
  state_ = State::kCommand;
  const char* failure = chunk_.refusal != nullptr ? chunk_.refusal : body_error_;
  if (failure != nullptr) {
    error(failure);
    if (chunk_.last) reset_transaction();
    return;
  }
  if (!chunk_.last) {
    put("250 2.0.0 ");
    out_.put_number(chunk_.bytes);
    reply(" octets received");
    return;
  }
  if (bdat_last_cr_) {  // the message ends in a bare CR
    bare_newline(false);
    return;
  }
  finish_message();
}

void ServerSession::do_starttls(std::string_view arg) {
  if (tls_active_) {
    error("554 5.5.1 Error: TLS already active");
    return;
  }
  if (!settings_->starttls) {
    error("502 5.5.1 Error: command not implemented");
    return;
  }
  if (!trim_spaces(arg).empty()) {
    error("501 5.5.4 Syntax: STARTTLS");
    return;
  }
  reset_transaction();
  reply("220 2.0.0 Ready to start TLS");
  state_ = State::kStartTls;
}

bool ServerSession::auth_offered() const {
  if (settings_->auth == ListenAuth::kNone) return false;
  return tls_active_ || (settings_->allow_plaintext_auth && !settings_->tls_required);
}

void ServerSession::do_auth(std::string_view arg) {
  if (settings_->auth == ListenAuth::kNone) {
    error(kAuthNotEnabled);
    return;
  }
  if (settings_->tls_required && !tls_active_) {
    host_->note(SessionEvent::kTlsRequired, "AUTH");
    error(kMustStartTls);
    return;
  }
  if (!auth_offered()) {
    host_->note(SessionEvent::kAuthInClearRefused, "");
    error(kAuthNotEnabled);
    return;
  }
  if (!helo_seen_) {
    error(kNeedHelo);
    return;
  }
  if (!auth_user_.empty()) {
    error("503 5.5.1 Error: already authenticated");
    return;
  }
  if (mail_active_) {
    error("503 5.5.1 Error: MAIL transaction in progress");
    return;
  }
  auth_step(auth_.start(arg));
}

void ServerSession::auth_step(AuthDialogue<kMaxAuthDecodedBytes>::Step step) {
  using Step = AuthDialogue<kMaxAuthDecodedBytes>::Step;
  switch (step) {
    case Step::kChallenge:
      reply(auth_.challenge());
      state_ = State::kAuth;
      return;  // the exchange goes on: keep what was decoded
    case Step::kCredentials:
      switch (host_->check_credentials(auth_.user(), auth_.password())) {
        case AuthCheck::kOk:
          auth_user_.assign(auth_.user());
          reply("235 2.7.0 Authentication successful");
          break;
        case AuthCheck::kBad:
          host_->note(SessionEvent::kAuthFailed, "");
          error(kAuthFailed);
          break;
        case AuthCheck::kThrottled:
          host_->note(SessionEvent::kAuthThrottled, "");
          error("454 4.7.0 Temporary authentication failure");
          break;
      }
      break;
    case Step::kCancelled:
      error("501 5.7.0 Authentication aborted");
      break;
    case Step::kUndecodable:
      error("501 5.5.2 Cannot decode response");
      break;
    case Step::kMalformed:
      host_->note(SessionEvent::kAuthFailed, "malformed");
      error(kAuthFailed);
      break;
    case Step::kNoMechanism:
      error("501 5.5.4 Syntax: AUTH mechanism");
      break;
    case Step::kUnknownMechanism:
      error("504 5.5.4 Unrecognized authentication type");
      break;
  }
  auth_.clear();  // wipes the decoded credentials
}

void ServerSession::do_vrfy(std::string_view arg) {
  if (trim_spaces(arg).empty()) {
    error("501 5.5.4 Syntax: VRFY address");
    return;
  }
  reply("252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

void ServerSession::abort_open_message() {
  if (!message_open_) return;
  message_open_ = false;
  host_->abort_message();
}

void ServerSession::reset_transaction() {
  abort_open_message();
  mail_active_ = false;
  eight_bit_mime_ = false;
  smtputf8_ = false;
  reverse_path_.clear();
  // The strings go to the spare list with their buffers, last first, so the
  // next transaction's first recipient gets this one's first buffer back.
  for (auto r = recipients_.rbegin(); r != recipients_.rend(); ++r)
    spare_recipients_.push_back(std::move(*r));
  recipients_.clear();
  overshoot_ = 0;
  body_bytes_ = 0;
  body_error_ = nullptr;
  bdat_seen_ = false;
  bdat_last_cr_ = false;
  chunk_.refusal = nullptr;
}

}  // namespace ringmail::ingress
