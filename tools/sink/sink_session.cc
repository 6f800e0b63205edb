// tools/sink/sink_session.cc — the sink's SMTP server state machine. See
// sink_session.h. Pure: no I/O, no allocation once the envelope strings have
// grown to their working size. Reply texts follow Postfix's smtpd so clients
// under test see what they would see from a real MTA (BDAT: RFC 3030 as
// Postfix implements it — an erroneous BDAT still has its chunk read and
// discarded, and its reply comes after the chunk).
#include "tools/sink/sink_session.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "ingress/smtp_command.h"

namespace ringmail::sink {
namespace {

using ingress::ascii_upper;
using ingress::is_ascii_text;
using ingress::parse_bdat_args;
using ingress::parse_mail_params;
using ingress::starts_with_ignore_case;
using ingress::trim_spaces;

constexpr const char* kUnknownCommand = "502 5.5.2 Error: command not recognized";

}  // namespace

const char* SmtpServerSession::state_name(State state) {
  static constexpr const char* kNames[] = {"idle", "command", "data", "bdat", "auth", "starttls", "closed"};
  return kNames[static_cast<size_t>(state)];
}

SmtpServerSession::SmtpServerSession(const SessionConfig* config, const SinkFaults* faults)
    : config_(config), faults_(faults) {
  from_.reserve(ingress::kMaxPathBytes);
  rcpt_list_.reserve(4096);
}

void SmtpServerSession::start(SessionObserver* observer, uint64_t* next_queue_id) {
  observer_ = observer;
  next_queue_id_ = next_queue_id;
  state_ = State::kCommand;
  helo_seen_ = false;
  tls_active_ = false;
  authenticated_ = false;
  auth_.clear();
  bdat_open_ = false;  // a message left open by a connection never close()d is forgotten
  reset_transaction();
  line_.reset();
  out_.clear();
  append("220 ");
  append(config_->hostname);
  reply(" ESMTP ringmail-sink");
}

void SmtpServerSession::close() {
  if (state_ == State::kData && observer_ != nullptr) observer_->on_message_end(false);
  reset_transaction();  // an open BDAT message ends as cut
  state_ = State::kIdle;
}

void SmtpServerSession::tls_started() {
  assert(state_ == State::kStartTls || state_ == State::kCommand);
  reset_transaction();
  helo_seen_ = false;
  authenticated_ = false;
  auth_.clear();
  line_.reset();
  tls_active_ = true;
  state_ = State::kCommand;
}

FeedResult SmtpServerSession::feed(const char* data, size_t size) {
  FeedResult result;
  size_t pos = 0;
  while (pos < size) {
    if (state_ == State::kClosed || state_ == State::kIdle) {
      pos = size;  // after QUIT or a cut: the rest of the input is ignored
      result.action = SessionAction::kClose;
      break;
    }
    if (state_ == State::kStartTls) {
      // RFC 3207: bytes after STARTTLS and before the handshake came in
      // clear, possibly injected; none of them is taken as a command.
      result.discarded_after_starttls += size - pos;
      pos = size;
      break;
    }
    if (out_.free_bytes() < kSessionReplyReserveBytes) break;  // send first
    if (state_ == State::kData) {
      pos += consume_body(data + pos, size - pos, result);
      continue;
    }
    if (state_ == State::kBdat) {
      pos += consume_chunk(data + pos, size - pos, result);
      continue;
    }
    // kCommand or kAuth: a line (LF or CRLF ends it; the sink is lenient).
    ingress::CommandLineReader<kMaxCommandLineBytes>::Status status;
    pos += line_.take(data + pos, size - pos, status);
    if (status == ingress::CommandLineReader<kMaxCommandLineBytes>::Status::kTooLong) {
      reply("500 5.5.0 Error: line too long");
    } else if (status == ingress::CommandLineReader<kMaxCommandLineBytes>::Status::kLine) {
      std::string_view line = line_.line();
      line.remove_suffix(1);  // LF
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      process_line(line, result);
    }
  }
  if (state_ == State::kClosed) result.action = SessionAction::kClose;
  if (state_ == State::kStartTls) result.action = SessionAction::kStartTls;
  result.consumed = pos;
  return result;
}

void SmtpServerSession::process_line(std::string_view line, FeedResult& result) {
  const size_t space = line.find(' ');
  const std::string_view verb = line.substr(0, space);
  const std::string_view arg = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  auto is = [&](std::string_view name) {
    return verb.size() == name.size() && starts_with_ignore_case(verb, name);
  };
  if (state_ == State::kAuth) {
    state_ = State::kCommand;
    auth_step(auth_.respond(line), result);
  } else if (line.empty()) {
    reply("500 5.5.2 Error: bad syntax");
  } else if (is("EHLO")) {
    do_ehlo(arg, true);
  } else if (is("HELO")) {
    do_ehlo(arg, false);
  } else if (is("MAIL")) {
    do_mail(arg);
  } else if (is("RCPT")) {
    do_rcpt(arg);
  } else if (is("DATA")) {
    do_data();
  } else if (is("BDAT") && config_->chunking && config_->esmtp) {
    do_bdat(arg, result);
  } else if (is("STARTTLS") && config_->starttls && config_->esmtp) {
    do_starttls(arg);
  } else if (is("AUTH") && !config_->auth_user.empty() && config_->esmtp) {
    do_auth(arg, result);
  } else if (is("RSET")) {
    reset_transaction();
    reply("250 2.0.0 Ok");
  } else if (is("NOOP")) {
    reply("250 2.0.0 Ok");
  } else if (is("QUIT")) {
    reply("221 2.0.0 Bye");
    if (mail_active_) reset_transaction();
    state_ = State::kClosed;
  } else {
    reply(kUnknownCommand);
  }
}

void SmtpServerSession::do_ehlo(std::string_view arg, bool extended) {
  if (extended && !config_->esmtp) {
    reply(kUnknownCommand);
    return;
  }
  if (trim_spaces(arg).empty()) {
    reply(extended ? "501 Syntax: EHLO hostname" : "501 Syntax: HELO hostname");
    return;
  }
  reset_transaction();
  helo_seen_ = true;
  const std::string_view& name = config_->hostname;
  if (!extended) {
    append("250 ");
    reply(name);
    return;
  }
  append("250-");
  reply(name);
  if (config_->pipelining) reply("250-PIPELINING");
  append("250-SIZE ");
  out_.put_number(config_->max_message_bytes);
  reply("");
  if (config_->eight_bit_mime) reply("250-8BITMIME");
  if (config_->smtputf8) reply("250-SMTPUTF8");
  if (config_->chunking) reply("250-CHUNKING");
  if (config_->starttls && !tls_active_) reply("250-STARTTLS");
  if (!config_->auth_user.empty()) reply("250-AUTH PLAIN LOGIN");
  reply("250 ENHANCEDSTATUSCODES");
}

void SmtpServerSession::do_mail(std::string_view arg) {
  if (!helo_seen_) {
    reply("503 5.5.1 Error: send HELO/EHLO first");
    return;
  }
  if (mail_active_) {
    reply("503 5.5.1 Error: nested MAIL command");
    return;
  }
  if (!config_->auth_user.empty() && !authenticated_) {
    reply("530 5.7.0 Authentication required");
    return;
  }
  std::string_view address, params;
  if (!ingress::parse_mail_from(arg, address, params)) {
    reply("501 5.5.4 Syntax: MAIL FROM:<address>");
    return;
  }
  const ingress::MailParams mail = parse_mail_params(params);
  if ((mail.body_8bitmime && !config_->eight_bit_mime) || (mail.smtputf8 && !config_->smtputf8)) {
    reply("555 5.5.4 Unsupported option");
    return;
  }
  if (!mail.smtputf8 && !is_ascii_text(address)) {
    reply(ingress::kReplyNeedSmtputf8);
    return;
  }
  if (mail.size > config_->max_message_bytes) {
    reply("552 5.3.4 Message size exceeds fixed limit");
    return;
  }
  reset_transaction();
  mail_8bitmime_ = mail.body_8bitmime;
  mail_smtputf8_ = mail.smtputf8;
  from_.assign(address);
  mail_active_ = true;
  reply("250 2.1.0 Ok");
}

void SmtpServerSession::do_rcpt(std::string_view arg) {
  if (!mail_active_) {
    reply("503 5.5.1 Error: need MAIL command");
    return;
  }
  if (bdat_seen_) {  // the envelope went to the observer with the first BDAT
    reply("503 5.5.1 Error: RCPT after BDAT");
    return;
  }
  std::string_view address, params;
  if (!ingress::parse_rcpt_to(arg, address, params)) {
    reply("501 5.5.4 Syntax: RCPT TO:<address>");
    return;
  }
  if (!mail_smtputf8_ && !is_ascii_text(address)) {
    reply(ingress::kReplyNeedSmtputf8);
    return;
  }
  if (rcpt_count_ >= config_->max_recipients) {
    reply("452 4.5.3 Error: too many recipients");
    return;
  }
  if (faults_ != nullptr) {
    if (const int code = faults_->rcpt_reply_code(address); code != 0) {
      char text[kSessionReplyReserveBytes];
      size_t n = rcpt_fault_reply_text(code, address, text, sizeof(text));
      reply(std::string_view(text, n - 2));  // without its CRLF
      return;
    }
  }
  if (rcpt_count_ > 0) rcpt_list_.push_back(',');
  rcpt_list_.push_back('<');
  rcpt_list_.append(address);
  rcpt_list_.push_back('>');
  ++rcpt_count_;
  reply("250 2.1.5 Ok");
}

void SmtpServerSession::do_data() {
  if (!mail_active_) {
    reply(ingress::kReplyNeedRcpt);
    return;
  }
  if (bdat_seen_) {
    reply("503 5.5.1 Error: DATA after BDAT");
    return;
  }
  if (rcpt_count_ == 0) {
    reply(ingress::kReplyNoRecipients);
    return;
  }
  queue_id_ = (static_cast<uint64_t>(config_->queue_id_prefix) << 40) |
              (next_queue_id_ != nullptr ? (*next_queue_id_)++ : local_queue_id_++);
  if (observer_ != nullptr && !observer_->on_message_begin(from_, rcpt_list_, queue_id_)) {
    reply(ingress::kReplyWriteError);
    reset_transaction();
    return;
  }
  drop_message_ = faults_ != nullptr && faults_->take_drop_during_data();
  body_scan_ = BodyScan::kLineStart;
  body_bytes_ = 0;
  state_ = State::kData;
  reply("354 End data with <CR><LF>.<CR><LF>");
}

void SmtpServerSession::do_bdat(std::string_view arg, FeedResult& result) {
  uint64_t size = 0;
  bool last = false;
  if (!parse_bdat_args(arg, size, last)) {
    // The chunk size is unknown: nothing is skipped, the next line is a command.
    reply("501 5.5.4 Syntax: BDAT count [LAST]");
    return;
  }
  chunk_.start(size, last);
  if (!mail_active_) {
    chunk_.refusal = ingress::kReplyNeedRcpt;
  } else if (rcpt_count_ == 0) {
    chunk_.refusal = ingress::kReplyNoRecipients;
  } else if (bdat_error_ != nullptr) {
    chunk_.refusal = bdat_error_;
  } else if (!ingress::fits_limit(body_bytes_, size, config_->max_message_bytes)) {
    if (bdat_open_) {
      bdat_open_ = false;
      if (observer_ != nullptr) observer_->on_message_end(false);
    }
    chunk_.refusal = bdat_error_ = ingress::kReplyTooBig;
  } else if (!bdat_open_) {  // the first chunk: the message begins
    queue_id_ = (static_cast<uint64_t>(config_->queue_id_prefix) << 40) |
                (next_queue_id_ != nullptr ? (*next_queue_id_)++ : local_queue_id_++);
    if (observer_ != nullptr && !observer_->on_message_begin(from_, rcpt_list_, queue_id_)) {
      chunk_.refusal = bdat_error_ = ingress::kReplyWriteError;
    } else {
      bdat_open_ = true;
      drop_message_ = faults_ != nullptr && faults_->take_drop_during_data();
    }
  }
  if (mail_active_) bdat_seen_ = true;
  if (chunk_.refusal == nullptr) body_bytes_ += size;
  if (size > 0) {
    state_ = State::kBdat;
  } else {
    finish_chunk(result);  // "BDAT 0 [LAST]": nothing to read
  }
}

size_t SmtpServerSession::consume_chunk(const char* data, size_t size, FeedResult& result) {
  if (drop_message_) {
    // --drop-during-data: some chunk bytes are here; cut without a reply.
    cut_connection(result);
    return size;
  }
  const size_t take = chunk_.take(size);
  if (chunk_.refusal == nullptr) emit_body(data, take);
  if (chunk_.remaining == 0) finish_chunk(result);
  return take;
}

void SmtpServerSession::finish_chunk(FeedResult& result) {
  state_ = State::kCommand;
  if (drop_message_) {  // a dropped message whose first chunk was empty
    cut_connection(result);
    return;
  }
  if (chunk_.refusal != nullptr) {
    reply(chunk_.refusal);
    if (chunk_.last) reset_transaction();
    return;
  }
  if (!chunk_.last) {
    append("250 2.0.0 ");
    out_.put_number(chunk_.bytes);
    reply(" octets received");
    return;
  }
  bdat_open_ = false;
  if (observer_ != nullptr && !observer_->on_message_end(true)) {
    reply(ingress::kReplyWriteError);
    reset_transaction();
    return;
  }
  accept_message(result);
}

void SmtpServerSession::cut_connection(FeedResult& result) {
  if (state_ == State::kData && observer_ != nullptr) observer_->on_message_end(false);
  reset_transaction();  // ends an open BDAT message as cut
  state_ = State::kClosed;
  result.action = SessionAction::kClose;
}

void SmtpServerSession::reset_transaction() {
  if (bdat_open_) {
    bdat_open_ = false;
    if (observer_ != nullptr) observer_->on_message_end(false);
  }
  mail_active_ = false;
  mail_8bitmime_ = false;
  mail_smtputf8_ = false;
  rcpt_count_ = 0;
  from_.clear();
  rcpt_list_.clear();
  body_bytes_ = 0;
  drop_message_ = false;
  chunk_.refusal = nullptr;
  bdat_error_ = nullptr;
  bdat_seen_ = false;
}

void SmtpServerSession::emit_body(const char* data, size_t size) {
  if (observer_ != nullptr && size > 0) observer_->on_body(data, size);
}

size_t SmtpServerSession::consume_body(const char* data, size_t size, FeedResult& result) {
  if (drop_message_) {
    // --drop-during-data: some body bytes are here; cut without a reply.
    cut_connection(result);
    return size;
  }
  size_t i = 0;
  size_t segment = 0;  // start of the bytes not yet passed to the observer
  while (i < size) {
    switch (body_scan_) {
      case BodyScan::kInLine: {
        const void* lf = std::memchr(data + i, '\n', size - i);
        if (lf == nullptr) {
          i = size;
        } else {
          i = static_cast<size_t>(static_cast<const char*>(lf) - data) + 1;
          body_scan_ = BodyScan::kLineStart;
        }
        break;
      }
      case BodyScan::kLineStart:
        if (data[i] == '.') {
          emit_body(data + segment, i - segment);
          segment = ++i;  // hold the dot back: stuffing or end marker
          body_scan_ = BodyScan::kDot;
        } else {
          body_scan_ = BodyScan::kInLine;
        }
        break;
      case BodyScan::kDot:
        if (data[i] == '\r') {
          emit_body(data + segment, i - segment);
          segment = ++i;  // hold the CR back too
          body_scan_ = BodyScan::kDotCr;
        } else if (data[i] == '\n') {  // ".\n": tolerated as the end marker
          emit_body(data + segment, i - segment);
          body_bytes_ += i;
          finish_message(result);
          return i + 1;
        } else {
          body_scan_ = BodyScan::kInLine;  // the dot was stuffing: dropped
        }
        break;
      case BodyScan::kDotCr:
        if (data[i] == '\n') {
          body_bytes_ += i;
          finish_message(result);
          return i + 1;
        }
        emit_body("\r", 1);  // ".\rX": the CR is content
        body_scan_ = BodyScan::kInLine;
        break;
    }
  }
  emit_body(data + segment, size - segment);
  body_bytes_ += size;
  return size;
}

void SmtpServerSession::finish_message(FeedResult& result) {
  state_ = State::kCommand;
  if (body_bytes_ > config_->max_message_bytes) {
    if (observer_ != nullptr) observer_->on_message_end(false);
    reply(ingress::kReplyTooBig);
    reset_transaction();
    return;
  }
  if (observer_ != nullptr && !observer_->on_message_end(true)) {
    reply(ingress::kReplyWriteError);
    reset_transaction();
    return;
  }
  accept_message(result);
}

void SmtpServerSession::accept_message(FeedResult& result) {
  char text[64] = "250 2.0.0 Ok: queued as ";
  size_t n = std::strlen(text);
  auto [end, ec] = std::to_chars(text + n, text + sizeof(text), queue_id_, 16);
  (void)ec;
  for (char* p = text + n; p < end; ++p) *p = ascii_upper(*p);
  reply(std::string_view(text, static_cast<size_t>(end - text)));
  result.messages_accepted += 1;
  result.recipients_accepted += rcpt_count_;
  result.messages_8bitmime += mail_8bitmime_ ? 1 : 0;
  result.messages_smtputf8 += mail_smtputf8_ ? 1 : 0;
  result.messages_tls += tls_active_ ? 1 : 0;
  reset_transaction();
}

void SmtpServerSession::do_starttls(std::string_view arg) {
  if (tls_active_) {
    reply("554 5.5.1 Error: TLS already active");
    return;
  }
  if (!trim_spaces(arg).empty()) {
    reply("501 5.5.4 Syntax: STARTTLS");
    return;
  }
  if (mail_active_) {
    reply("503 5.5.1 Error: MAIL transaction in progress");
    return;
  }
  reply("220 2.0.0 Ready to start TLS");
  state_ = State::kStartTls;
}

void SmtpServerSession::do_auth(std::string_view arg, FeedResult& result) {
  if (!helo_seen_) {
    reply("503 5.5.1 Error: send HELO/EHLO first");
    return;
  }
  if (authenticated_) {
    reply("503 5.5.1 Error: already authenticated");
    return;
  }
  if (mail_active_) {
    reply("503 5.5.1 Error: MAIL transaction in progress");
    return;
  }
  auth_step(auth_.start(arg), result);
}

void SmtpServerSession::auth_step(ingress::AuthDialogue<kMaxAuthDecodedBytes>::Step step,
                                  FeedResult& result) {
  using Step = ingress::AuthDialogue<kMaxAuthDecodedBytes>::Step;
  switch (step) {
    case Step::kChallenge:
      reply(auth_.challenge());
      state_ = State::kAuth;
      return;  // the exchange goes on
    case Step::kCredentials:
      finish_auth(auth_.user() == config_->auth_user && auth_.password() == config_->auth_password, result);
      break;
    case Step::kMalformed:  // credentials that cannot be right
      finish_auth(false, result);
      break;
    case Step::kCancelled:
      reply("501 5.7.0 Authentication aborted");
      break;
    case Step::kUndecodable:
      reply("501 5.5.2 Error: cannot decode the response");
      break;
    case Step::kNoMechanism:
      reply("501 5.5.4 Syntax: AUTH mechanism");
      break;
    case Step::kUnknownMechanism:
      reply("504 5.5.4 Unrecognized authentication type");
      break;
  }
  auth_.clear();
}

void SmtpServerSession::finish_auth(bool ok, FeedResult& result) {
  state_ = State::kCommand;
  (tls_active_ ? result.auth_tls : result.auth_clear) += 1;
  if (!ok) {
    result.auth_failed += 1;
    reply("535 5.7.8 Error: authentication failed: authentication failure");
    return;
  }
  authenticated_ = true;
  reply("235 2.7.0 Authentication successful");
}

}  // namespace ringmail::sink
