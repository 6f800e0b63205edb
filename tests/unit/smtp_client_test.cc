// tests/unit/smtp_client_test.cc — the SMTP client protocol machine
// (engine/smtp_client.h) over a scripted transport: no socket, no ring, no
// spool. A Transcript plays both the owner (it flushes the machine's
// output, answers its commands, offers messages, reads bodies) and the
// server (a list of replies, each sent only once the command it answers
// has been written, as a real server would).
//
// The scenarios are a table; each is run whole (every reply that is due
// delivered in one piece: pipelined bursts) and then again with the
// server's byte stream cut at EVERY byte, and one byte at a time: the
// bytes written, the commands given and the verdicts must be identical.
#include "engine/smtp_client.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/message_slot.h"
#include "queue/envelope.h"

namespace ringmail {
namespace {

constexpr char kGreeting[] = "220 relay.test ESMTP\r\n";
constexpr char kEhloAll[] =
    "250-relay.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-CHUNKING\r\n250 ENHANCEDSTATUSCODES\r\n";
constexpr char kEhloNoChunking[] =
    "250-relay.test\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";
constexpr char kEhloPlain[] = "250 relay.test\r\n";  // no extension at all
constexpr char kOk[] = "250 2.0.0 ok\r\n";
constexpr char kGoAhead[] = "354 go ahead\r\n";
constexpr char kBye[] = "221 2.0.0 bye\r\n";

// What the server does once its script is spent and nothing is due.
enum class End {
  kStop,         // nothing (the run ends)
  kPeerCloses,   // closes the connection
  kTimeout,      // the reply timeout fires
  kUnsolicited,  // sends the rest of its script, asked or not
};

struct Scenario {
  const char* name = "";
  std::vector<std::string> messages = {};  // spool files, offered in order
  std::vector<std::string> replies = {};   // the server's replies, in order
  End end = End::kStop;
  uint32_t max_messages_per_connection = 100;
  bool chunking = true;
  uint32_t addresses = 1;
  uint32_t refused_connects = 0;    // the first N connects fail
  uint32_t timed_out_connects = 0;  // of those, the first N by the connect timeout
  bool stall_reads = false;         // body reads never land
  bool quit_when_idle = true;
  bool pipeline_quit = true;       // SmtpClientConfig::pipeline_quit
  TlsLevel tls = TlsLevel::kNone;  // SmtpClientConfig::tls_level
  bool implicit_tls = false;       // SmtpClientConfig::implicit_tls
  bool tls_fails = false;          // the record layer's handshake fails
  bool starttls_allowed = true;    // start()'s: false after a failed handshake at may
  // AUTH: kNoAuth, or credentials "user" / "secret-pass", with or without
  // allow_plaintext_auth.
  enum class Login { kNone, kTlsOnly, kPlaintextAllowed } login = Login::kNone;
  // Expectations: one outcome line per message, "rcpt=state ..." (or
  // "not-done"), substrings the client must and must not have written,
  // and a substring of last_error() ("" = none expected).
  std::vector<std::string> outcomes = {};
  std::vector<std::string> wire_has = {};
  std::vector<std::string> wire_lacks = {};
  std::string error_has = {};
  // clear_lacks: substrings never written before TLS was up (with the
  // identity record layer, the wire shows no difference otherwise).
  std::vector<std::string> clear_lacks = {};
  bool authenticated = false;  // authenticated() at the end
};

// The test login and the forms in which it must never appear in clear or
// in a transcript.
constexpr char kUser[] = "user";
constexpr char kPassword[] = "secret-pass";
constexpr char kPlainResponse[] = "AHVzZXIAc2VjcmV0LXBhc3M=";  // base64("\0user\0secret-pass")
constexpr char kUserB64[] = "dXNlcg==";
constexpr char kPasswordB64[] = "c2VjcmV0LXBhc3M=";

// PrintTo names a scenario in gtest's messages (not its bytes).
void PrintTo(const Scenario& scenario, std::ostream* os) { *os << scenario.name; }

const char* rcpt_state_name(RcptState state) {
  switch (state) {
    case RcptState::kSkip:
      return "skip";
    case RcptState::kPending:
      return "pending";
    case RcptState::kAccepted:
      return "accepted";
    case RcptState::kDone:
      return "done";
    case RcptState::kFailed:
      return "failed";
    case RcptState::kDeferred:
      return "deferred";
  }
  return "?";
}

// Transcript drives one SmtpClient through one scenario.
class Transcript : public SmtpClientHost {
 public:
  // |cut|: the server stream is never delivered across this offset in one
  // piece; |bytewise|: every byte is its own piece.
  Transcript(const Scenario& scenario, size_t cut, bool bytewise)
      : scenario_(scenario), cut_(cut), bytewise_(bytewise), client_(&config_, this) {
    config_.helo_name = "client.test";
    config_.max_messages_per_connection = scenario.max_messages_per_connection;
    config_.chunking = scenario.chunking;
    config_.pipeline_quit = scenario.pipeline_quit;
    config_.tls_level = scenario.tls;
    config_.implicit_tls = scenario.implicit_tls;
    if (scenario.login != Scenario::Login::kNone) {
      std::string error;
      EXPECT_TRUE(make_smtp_credentials(
          kUser, kPassword, scenario.login == Scenario::Login::kPlaintextAllowed, credentials_, error))
          << error;
      config_.credentials = &credentials_;
    }
    for (const std::string& reply : scenario.replies) {
      server_ += reply;
      reply_ends_.push_back(server_.size());
    }
    for (size_t i = 0; i < scenario.messages.size(); ++i) {
      slots_.push_back(std::make_unique<MessageSlot>(nullptr, static_cast<uint32_t>(i)));
      load(*slots_.back(), scenario.messages[i]);
      queue_.push_back(slots_.back().get());
      outcomes_.push_back("not-done");
    }
  }

  void run() {
    client_.start(scenario_.addresses, 0, scenario_.starttls_allowed);
    ++starts_;
    for (int guard = 0; guard < 1'000'000; ++guard) {
      if (!step()) return;
    }
    ADD_FAILURE() << "no end";
  }

  // The result that every split of the server stream must reproduce.
  std::string result() const {
    std::string text = "wire:\n" + wire_ + "\nlog:\n";
    for (const std::string& line : log_) text += line + "\n";
    text += "outcomes:\n";
    for (const std::string& line : outcomes_) text += line + "\n";
    text += "state: " + std::string(client_.state_name()) + "\nerror: " + client_.last_error() + "\n";
    text += "authenticated: " + std::to_string(client_.authenticated()) + "\n";
    return text;
  }

  const std::string& wire() const { return wire_; }
  const std::string& clear_wire() const { return clear_wire_; }
  const std::string& masked_wire() const { return masked_wire_; }
  const std::vector<std::string>& outcomes() const { return outcomes_; }
  const std::vector<std::string>& log() const { return log_; }
  const SmtpClient& client() const { return client_; }
  size_t server_bytes() const { return server_.size(); }

  // SmtpClientHost.
  void connect(uint32_t address_index) override {
    log_.push_back("connect " + std::to_string(address_index));
    connect_asked_ = true;
  }
  void close() override {
    log_.push_back("close");
    close_asked_ = true;
  }
  void read_body(MessageSlot* slot, uint64_t offset) override {
    if (slot->stream_read_pending) return;  // as the worker does
    slot->stream_read_pending = true;
    log_.push_back("read " + std::to_string(slot->index) + "@" + std::to_string(offset));
    reads_.push_back({slot, offset});
  }
  // start_tls: the test's record layer is the identity; its handshake
  // ends (or fails) at the next step.
  void start_tls() override {
    log_.push_back("start-tls");
    tls_asked_ = true;
  }
  void transaction_done(MessageSlot* slot) override {
    std::string line;
    for (uint32_t i = 0; i < slot->envelope.recipient_count; ++i) {
      if (!line.empty()) line += ' ';
      line += std::string(slot->envelope.recipients[i]) + "=" + rcpt_state_name(slot->rcpt_state[i]);
    }
    if (slot->message_reply[0] != '\0') line += std::string(" | ") + slot->message_reply;
    if (outcomes_[slot->index] != "not-done")
      ADD_FAILURE() << "message " << slot->index << " handed back twice";
    outcomes_[slot->index] = line;
    log_.push_back("done " + std::to_string(slot->index));
  }

 private:
  struct Read {
    MessageSlot* slot;
    uint64_t offset;
  };

  static void load(MessageSlot& slot, const std::string& text) {
    slot.reset();
    const size_t n = std::min(text.size(), MessageSlot::kHeadBytes);
    std::memcpy(slot.head.get(), text.data(), n);
    slot.head_len = static_cast<uint32_t>(n);
    slot.whole_file = n < MessageSlot::kHeadBytes;
    if (slot.whole_file) slot.file_end = n;
    slot.ref.size_bytes = text.size();
    std::string error;
    const EnvelopeParse parse = parse_envelope(std::string_view(slot.head.get(), slot.head_len),
                                               slot.whole_file, "", slot.envelope, error);
    ASSERT_EQ(parse, EnvelopeParse::kOk) << error;
    slot.attempt_pending = slot.envelope.recipient_count;
    for (uint32_t i = 0; i < slot.envelope.recipient_count; ++i) slot.rcpt_state[i] = RcptState::kPending;
  }

  // step does one thing an owner or a server would do next; false when
  // nothing is left to do.
  bool step() {
    if (close_asked_) {
      close_asked_ = false;
      client_.on_closed();
      // A connection that was ready and closed is replaced while messages wait.
      if (!queue_.empty() && client_.was_ready() && starts_ < 5) {
        client_.start(scenario_.addresses, 0);
        ++starts_;
      }
      return true;
    }
    if (tls_asked_) {
      tls_asked_ = false;
      if (scenario_.tls_fails) {
        client_.on_tls_failed("handshake failure (alert 40)");
      } else {
        client_.on_tls_ready();
      }
      return true;
    }
    if (connect_asked_) {
      connect_asked_ = false;
      const std::string peer = "relay.test[192.0.2." + std::to_string(connects_) + "]:25";
      if (connects_ < scenario_.timed_out_connects) {
        ++connects_;
        client_.on_connect_failed(peer, "timed out after 2000 ms", /*timed_out=*/true);
      } else if (connects_++ < scenario_.refused_connects) {
        client_.on_connect_failed(peer, "Connection refused");
      } else {
        client_.on_connected(peer);
      }
      return true;
    }
    if (!client_.output().empty()) {
      const std::string_view out = client_.output();
      wire_.append(out);
      if (!client_.tls_active()) clear_wire_.append(out);
      // What RINGMAIL_TRACE would show.
      const size_t secret = client_.output_credential_bytes();
      EXPECT_LE(secret, out.size());
      masked_wire_ += mask_credential_lines(out.substr(0, secret));
      masked_wire_.append(out.substr(secret));
      client_.on_sent(out.size());
      return true;
    }
    if (!reads_.empty() && !scenario_.stall_reads) {
      const Read read = reads_.front();
      reads_.pop_front();
      MessageSlot* slot = read.slot;
      const std::string& text = scenario_.messages[slot->index];
      const size_t n = std::min<size_t>(MessageSlot::kStreamBytes, text.size() - read.offset);
      std::memcpy(slot->stream.get(), text.data() + read.offset, n);
      slot->stream_offset = read.offset;
      slot->stream_len = static_cast<uint32_t>(n);
      slot->stream_read_pending = false;
      if (n < MessageSlot::kStreamBytes) {
        slot->eof_seen = true;
        slot->file_end = read.offset + n;
      }
      client_.on_body_chunk(slot);
      return true;
    }
    if (!queue_.empty() && client_.can_take_message()) {
      MessageSlot* slot = queue_.front();
      queue_.pop_front();
      client_.take_message(slot);
      return true;
    }
    if (scenario_.quit_when_idle && client_.state() == ClientState::kReady && !client_.carries_messages() &&
        (queue_.empty() || client_.exhausted())) {
      client_.quit();
      return true;
    }
    if (deliver()) return true;
    return finish();
  }

  // deliver sends the server bytes that are due: the replies to every
  // command written so far, cut where the scenario says.
  bool deliver() {
    if (!client_.awaiting_reply() || delivered_ >= server_.size()) return false;
    size_t handled = 0;
    while (handled < reply_ends_.size() && reply_ends_[handled] <= delivered_) ++handled;
    const size_t due = std::min(handled + client_.replies_outstanding(), reply_ends_.size());
    if (due == 0) return false;
    size_t end = reply_ends_[due - 1];
    if (end <= delivered_) return false;
    if (delivered_ < cut_) end = std::min(end, cut_);
    if (bytewise_) end = delivered_ + 1;
    client_.feed(server_.data() + delivered_, end - delivered_);
    delivered_ = end;
    return true;
  }

  bool finish() {
    if (ended_ || client_.state() == ClientState::kIdle || client_.state() == ClientState::kClosing)
      return false;
    ended_ = true;
    switch (scenario_.end) {
      case End::kStop:
        return false;
      case End::kPeerCloses:
        log_.push_back("server closes");
        client_.on_peer_closed();
        return true;
      case End::kTimeout:
        log_.push_back("timeout");
        client_.on_receive_failed(true, "");
        return true;
      case End::kUnsolicited:
        if (delivered_ >= server_.size()) return false;
        log_.push_back("server talks");
        client_.feed(server_.data() + delivered_, server_.size() - delivered_);
        delivered_ = server_.size();
        return true;
    }
    return false;
  }

  const Scenario& scenario_;
  const size_t cut_;
  const bool bytewise_;
  SmtpClientConfig config_;
  SmtpCredentials credentials_;
  SmtpClient client_;
  std::vector<std::unique_ptr<MessageSlot>> slots_;
  std::deque<MessageSlot*> queue_;
  std::deque<Read> reads_;
  std::string server_;
  std::vector<size_t> reply_ends_;
  size_t delivered_ = 0;
  std::string wire_;
  std::string clear_wire_;   // the part of wire_ written before TLS
  std::string masked_wire_;  // wire_ with credentials masked, as a trace shows it
  std::vector<std::string> log_;
  std::vector<std::string> outcomes_;
  bool connect_asked_ = false;
  bool close_asked_ = false;
  bool tls_asked_ = false;
  bool ended_ = false;
  uint32_t connects_ = 0;
  uint32_t starts_ = 0;
};

// --- Messages ---------------------------------------------------------------

std::string message(const std::vector<std::string>& rcpts, const std::string& body = "hello\n",
                    const std::string& sender = "s@x.test") {
  std::string text = "X-Ringmail-From: <" + sender + ">\n";
  for (const std::string& rcpt : rcpts) text += "X-Ringmail-To: <" + rcpt + ">\n";
  return text + "Subject: test\n\n" + body;
}

// big_body is |bytes| of 7-bit lines ending with a marker line.
std::string big_body(size_t bytes, char fill = 'b') {
  std::string body;
  while (body.size() < bytes) body += std::string(70, fill) + "\n";
  return body + "THE-END\n";
}

std::vector<std::string> repeat(const std::string& text, size_t n) {
  return std::vector<std::string>(n, text);
}

std::vector<std::string> concat(std::vector<std::vector<std::string>> parts) {
  std::vector<std::string> all;
  for (auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

// The replies for one DATA transaction of |n| recipients, all accepted.
std::vector<std::string> data_ok(size_t n) {
  return concat({{kOk}, repeat(kOk, n), {kGoAhead, "250 2.0.0 queued\r\n"}});
}
// ... and one BDAT transaction.
std::vector<std::string> bdat_ok(size_t n) {
  return concat({{kOk}, repeat(kOk, n), {"250 2.0.0 queued\r\n"}});
}

std::vector<Scenario> scenarios() {
  const std::string one = message({"a@y.test"});
  const std::string two = message({"a@y.test", "b@y.test"});
  const std::string large = message({"a@y.test"}, big_body(150 * 1024));
  std::vector<Scenario> all;

  all.push_back({.name = "data_one_message",
                 .messages = {two},
                 .replies = concat({{kGreeting, kEhloNoChunking}, data_ok(2), {kBye}}),
                 .outcomes = {"a@y.test=done b@y.test=done"},
                 .wire_has = {"EHLO client.test\r\nMAIL FROM:<s@x.test> SIZE=",
                              "RCPT TO:<a@y.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n",
                              "Subject: test\r\n\r\nhello\r\n.\r\nQUIT\r\n"},
                 .wire_lacks = {"BDAT", "RSET"}});
  all.push_back({.name = "bdat_one_message",
                 .messages = {two},
                 .replies = concat({{kGreeting, kEhloAll}, bdat_ok(2), {kBye}}),
                 .outcomes = {"a@y.test=done b@y.test=done"},
                 .wire_has = {"RCPT TO:<b@y.test>\r\nBDAT 24 LAST\r\nSubject: test\r\n\r\nhello\r\nQUIT\r\n"},
                 .wire_lacks = {"DATA\r\n", "\r\n.\r\n"}});
  all.push_back({.name = "helo_fallback_one_command_at_a_time",
                 .messages = {two},
                 .replies = {kGreeting, "502 5.5.1 EHLO not here\r\n", "250 relay.test\r\n", kOk, kOk, kOk,
                             kGoAhead, kOk, kBye},
                 .outcomes = {"a@y.test=done b@y.test=done"},
                 .wire_has = {"EHLO client.test\r\nHELO client.test\r\nMAIL FROM:<s@x.test>\r\n"},
                 .wire_lacks = {"SIZE=", "BDAT"}});
  all.push_back({.name = "ehlo_plain_no_pipelining",
                 .messages = {one, one},
                 .replies = concat({{kGreeting, kEhloPlain}, data_ok(1), data_ok(1), {kBye}}),
                 .outcomes = {"a@y.test=done", "a@y.test=done"},
                 .wire_lacks = {"BDAT", "SIZE="}});
  all.push_back({.name = "data_two_messages_pipelined_behind_the_body",
                 .messages = {one, two},
                 .replies = concat({{kGreeting, kEhloNoChunking}, data_ok(1), data_ok(2), {kBye}}),
                 .outcomes = {"a@y.test=done", "a@y.test=done b@y.test=done"},
                 .wire_has = {"hello\r\n.\r\nMAIL FROM:<s@x.test>"}});
  // Four whole transactions written before any reply, each after the
  // first behind an RSET.
  all.push_back({.name = "bdat_four_messages_in_flight",
                 .messages = repeat(one, 4),
                 .replies = concat({{kGreeting, kEhloAll},
                                    bdat_ok(1),
                                    {kOk},
                                    bdat_ok(1),
                                    {kOk},
                                    bdat_ok(1),
                                    {kOk},
                                    bdat_ok(1),
                                    {kBye}}),
                 .outcomes = repeat("a@y.test=done", 4),
                 .wire_has = {"hello\r\nRSET\r\nMAIL FROM:"}});
  all.push_back({.name = "streamed_body_through_data",
                 .messages = {large},
                 .replies = concat({{kGreeting, kEhloAll}, data_ok(1), {kBye}}),
                 .outcomes = {"a@y.test=done"},
                 .wire_has = {"\r\nTHE-END\r\n.\r\nQUIT\r\n", "BODY=8BITMIME"},
                 .wire_lacks = {"BDAT"}});
  all.push_back({.name = "mail_4xx_defers_the_message",
                 .messages = {two},
                 .replies = {kGreeting, kEhloNoChunking, "451 4.3.0 try later\r\n", "503 5.5.1 need MAIL\r\n",
                             "503 5.5.1 need MAIL\r\n", "503 5.5.1 need MAIL\r\n", kOk, kBye},
                 .outcomes = {"a@y.test=deferred b@y.test=deferred | 451 4.3.0 try later"},
                 .wire_has = {"DATA\r\nRSET\r\nQUIT\r\n"}});
  all.push_back({.name = "mail_5xx_fails_the_message",
                 .messages = {one},
                 .replies = {kGreeting, kEhloNoChunking, "550 5.7.1 sender refused\r\n",
                             "503 5.5.1 need MAIL\r\n", "503 5.5.1 need MAIL\r\n", kOk, kBye},
                 .outcomes = {"a@y.test=failed | 550 5.7.1 sender refused"}});
  all.push_back({.name = "rcpt_some_refused",
                 .messages = {message({"a@y.test", "b@y.test", "c@y.test"})},
                 .replies = {kGreeting, kEhloNoChunking, kOk, kOk, "550 5.1.1 no such user\r\n",
                             "450 4.2.0 mailbox busy\r\n", kGoAhead, kOk, kBye},
                 .outcomes = {"a@y.test=done b@y.test=failed c@y.test=deferred"}});
  all.push_back({.name = "rcpt_all_refused_server_still_says_354",
                 .messages = {two},
                 .replies = {kGreeting, kEhloNoChunking, kOk, "550 5.1.1 no\r\n", "550 5.1.1 no\r\n",
                             kGoAhead, "554 5.5.1 no valid recipients\r\n", kOk, kBye},
                 .outcomes = {"a@y.test=failed b@y.test=failed"},
                 .wire_has = {"DATA\r\n.\r\nRSET\r\nQUIT\r\n"}});
  all.push_back(
      {.name = "rcpt_all_refused_bdat",
       .messages = {one, one},
       .replies = {kGreeting, kEhloAll, kOk, "550 5.1.1 no\r\n", "554 5.5.1 no valid recipients\r\n", kOk,
                   kOk, kOk, "250 2.0.0 queued\r\n", kOk, kBye},
       .outcomes = {"a@y.test=failed", "a@y.test=done"},
       .wire_has = {"LAST\r\nSubject: test\r\n\r\nhello\r\nRSET\r\nMAIL"}});
  all.push_back({.name = "data_4xx",
                 .messages = {one},
                 .replies = {kGreeting, kEhloNoChunking, kOk, kOk, "451 4.3.0 no room\r\n", kOk, kBye},
                 .outcomes = {"a@y.test=deferred | 451 4.3.0 no room"},
                 .wire_has = {"DATA\r\nRSET\r\nQUIT\r\n"}});
  all.push_back({.name = "data_5xx",
                 .messages = {one},
                 .replies = {kGreeting, kEhloNoChunking, kOk, kOk, "554 5.3.4 no\r\n", kOk, kBye},
                 .outcomes = {"a@y.test=failed | 554 5.3.4 no"}});
  all.push_back(
      {.name = "data_250_is_a_protocol_error",
       .messages = {one},
       .replies = {kGreeting, kEhloNoChunking, kOk, kOk, kOk},
       .outcomes = {"a@y.test=deferred | relay.test[192.0.2.0]:25 answered DATA with: 250 2.0.0 ok"},
       .wire_lacks = {"hello"},
       .error_has = "answered DATA"});
  all.push_back(
      {.name = "end_of_data_4xx",
       .messages = {two},
       .replies = concat({{kGreeting, kEhloNoChunking, kOk, kOk, kOk, kGoAhead, "452 4.3.1 full\r\n", kBye}}),
       .outcomes = {"a@y.test=deferred b@y.test=deferred | 452 4.3.1 full"}});
  all.push_back({.name = "end_of_data_5xx_bdat_then_rset",
                 .messages = {one},
                 .replies = {kGreeting, kEhloAll, kOk, kOk, "552 5.3.4 too big\r\n", kOk, kBye},
                 .outcomes = {"a@y.test=failed | 552 5.3.4 too big"},
                 .wire_has = {"hello\r\nRSET\r\nQUIT\r\n"}});
  all.push_back(
      {.name = "connection_lost_mid_data",
       .messages = {large, one},
       .replies = {kGreeting, kEhloNoChunking, kOk, kOk, kGoAhead},
       .end = End::kPeerCloses,
       .stall_reads = true,
       .outcomes = {"a@y.test=deferred | lost connection with relay.test[192.0.2.0]:25 while waiting for a "
                    "reply",
                    "a@y.test=deferred | lost connection with relay.test[192.0.2.0]:25 while waiting for a "
                    "reply"},
       .wire_lacks = {"THE-END"},
       .error_has = "lost connection"});
  all.push_back({.name = "timeout_waiting_for_end_of_data",
                 .messages = {one},
                 .replies = {kGreeting, kEhloNoChunking, kOk, kOk, kGoAhead},
                 .end = End::kTimeout,
                 .outcomes = {"a@y.test=deferred | timeout waiting for the end-of-data reply from "
                              "relay.test[192.0.2.0]:25"},
                 .error_has = "timeout waiting for the end-of-data reply"});
  all.push_back({.name = "unsolicited_reply",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloNoChunking}, data_ok(1), {"250 surprise\r\n"}}),
                 .end = End::kUnsolicited,
                 .quit_when_idle = false,
                 .outcomes = {"a@y.test=done"},
                 .error_has = "unexpected reply from relay.test[192.0.2.0]:25: 250 surprise"});
  all.push_back({.name = "garbage_greeting",
                 .messages = {one},
                 .replies = {"hello there\r\n"},
                 .outcomes = {"not-done"},
                 .wire_lacks = {"EHLO"},
                 .error_has = "malformed reply"});
  all.push_back(
      {.name = "garbage_in_the_middle",
       .messages = {two},
       .replies = {kGreeting, kEhloNoChunking, kOk, "250 ok\r\nXYZ\r\n"},
       .outcomes = {"a@y.test=deferred b@y.test=deferred | malformed reply from relay.test[192.0.2.0]:25: "
                    "reply line does not start with three digits"},
       .error_has = "malformed reply"});
  all.push_back({.name = "greeting_554",
                 .messages = {one},
                 .replies = {"554 5.3.2 go away\r\n"},
                 .outcomes = {"not-done"},
                 .error_has = "greeted us with 554 5.3.2 go away"});
  all.push_back({.name = "max_messages_per_connection_then_quit",
                 .messages = {one, one, one},
                 .replies = concat({{kGreeting, kEhloNoChunking},
                                    data_ok(1),
                                    data_ok(1),
                                    {kBye, kGreeting, kEhloNoChunking},
                                    data_ok(1),
                                    {kBye}}),
                 .max_messages_per_connection = 2,
                 .outcomes = repeat("a@y.test=done", 3),
                 .wire_has = {".\r\nQUIT\r\nEHLO client.test\r\nMAIL"}});
  // The last message a connection may carry: QUIT is pipelined behind its
  // end of data (RFC 2920), so it is written even though the owner never
  // asks for QUIT here (quit_when_idle false), and the 221 closes.
  all.push_back({.name = "quit_pipelined_behind_last_bdat",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloAll}, bdat_ok(1), {kBye}}),
                 .max_messages_per_connection = 1,
                 .quit_when_idle = false,
                 .outcomes = {"a@y.test=done"},
                 .wire_has = {"BDAT 24 LAST\r\nSubject: test\r\n\r\nhello\r\nQUIT\r\n"}});
  all.push_back({.name = "quit_pipelined_behind_last_data",
                 .messages = {one, one},
                 .replies = concat({{kGreeting, kEhloNoChunking}, data_ok(1), data_ok(1), {kBye}}),
                 .max_messages_per_connection = 2,
                 .quit_when_idle = false,
                 .outcomes = repeat("a@y.test=done", 2),
                 .wire_has = {"hello\r\n.\r\nMAIL", "hello\r\n.\r\nQUIT\r\n"}});
  // Turned off (test-send): QUIT waits for the owner (who never asks here).
  all.push_back({.name = "quit_not_pipelined_when_turned_off",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloAll}, bdat_ok(1)}),
                 .max_messages_per_connection = 1,
                 .quit_when_idle = false,
                 .pipeline_quit = false,
                 .outcomes = {"a@y.test=done"},
                 .wire_lacks = {"QUIT"}});
  // Without PIPELINING, QUIT waits for the owner (who never asks here).
  all.push_back({.name = "quit_not_pipelined_without_pipelining",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloPlain}, data_ok(1)}),
                 .max_messages_per_connection = 1,
                 .quit_when_idle = false,
                 .outcomes = {"a@y.test=done"},
                 .wire_lacks = {"QUIT"}});
  // The server closes after the pipelined QUIT but before the message's
  // verdict: the message is deferred, never taken as delivered or lost.
  all.push_back(
      {.name = "peer_closes_before_verdict_after_pipelined_quit",
       .messages = {one},
       .replies = concat({{kGreeting, kEhloAll}, {kOk, kOk}}),
       .end = End::kPeerCloses,
       .max_messages_per_connection = 1,
       .quit_when_idle = false,
       .outcomes = {"a@y.test=deferred | lost connection with relay.test[192.0.2.0]:25 while waiting "
                    "for a reply"},
       .wire_has = {"QUIT\r\n"},
       .error_has = "lost connection"});
  all.push_back({.name = "every_address_refused",
                 .messages = {one},
                 .replies = {},
                 .addresses = 3,
                 .refused_connects = 3,
                 .outcomes = {"not-done"},
                 .error_has =
                     "connect to relay.test[192.0.2.0]:25: Connection refused; connect to "
                     "relay.test[192.0.2.1]:25: Connection refused; connect to relay.test[192.0.2.2]:25: "
                     "Connection refused"});
  // A connect that timed out, and a server that never greets: the reason
  // carries engine/reply_explanation's hint (firewall, VPN, allow-list,
  // the port of the other TLS mode).
  all.push_back({.name = "connect_timeout_explained",
                 .messages = {one},
                 .replies = {},
                 .addresses = 2,
                 .refused_connects = 2,
                 .timed_out_connects = 1,
                 .outcomes = {"not-done"},
                 .error_has = "connect to relay.test[192.0.2.0]:25: timed out after 2000 ms; connect to "
                              "relay.test[192.0.2.1]:25: Connection refused; nothing answered: check that no "
                              "firewall, VPN or allow-list drops connections"});
  all.push_back({.name = "greeting_timeout_explained",
                 .messages = {one},
                 .replies = {},
                 .end = End::kTimeout,
                 .outcomes = {"not-done"},
                 .error_has =
                     "timeout waiting for the greeting from relay.test[192.0.2.0]:25; connected, but the "
                     "server sent no greeting: an implicit TLS port (465, 2465) waits for TLS first"});
  all.push_back({.name = "next_address_after_a_refusal",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloAll}, bdat_ok(1), {kBye}}),
                 .addresses = 3,
                 .refused_connects = 2,
                 .outcomes = {"a@y.test=done"}});
  all.push_back(
      {.name = "precheck_size_over_limit",
       .messages = {message({"a@y.test"}, big_body(2000)), one},
       .replies =
           concat({{kGreeting, "250-relay.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"}, data_ok(1), {kBye}}),
       .outcomes = {"a@y.test=failed | message is 2136 bytes; the relay accepts at most 1000 (SIZE); raise "
                    "the relay's message size limit or send a smaller message",
                    "a@y.test=done"},
       .wire_lacks = {"bbbbbbbbbb"}});
  all.push_back(
      {.name = "precheck_8bit_without_8bitmime",
       .messages = {message({"a@y.test"}, "caf\xc3\xa9\n"), one},
       .replies = concat({{kGreeting, "250-relay.test\r\n250 PIPELINING\r\n"}, data_ok(1), {kBye}}),
       .outcomes = {"a@y.test=failed | message has 8-bit data and the relay does not offer 8BITMIME (RFC "
                    "6152); encode the message as 7-bit MIME (quoted-printable or base64) or use a relay "
                    "that offers 8BITMIME",
                    "a@y.test=done"},
       .wire_lacks = {"caf"}});
  all.push_back(
      {.name = "precheck_8bit_met_while_streaming",
       .messages = {message({"a@y.test"}, big_body(70 * 1024) + "caf\xc3\xa9\n")},
       .replies = {kGreeting, "250-relay.test\r\n250 PIPELINING\r\n", kOk, kOk, kGoAhead},
       .outcomes = {"a@y.test=failed | message has 8-bit data and the relay does not offer 8BITMIME (RFC "
                    "6152; found past the first 64 KiB, while sending); encode the message as 7-bit MIME "
                    "(quoted-printable or base64) or use a relay that offers 8BITMIME"},
       .wire_lacks = {"caf", "\r\n.\r\n"},
       .error_has = "found past the first 64 KiB"});
  all.push_back(
      {.name = "precheck_smtputf8_recipient",
       .messages = {message({"a@y.test", "j\xc3\xb6rg@y.test"})},
       .replies =
           concat({{kGreeting, "250-relay.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"}, data_ok(1), {kBye}}),
       .outcomes = {"a@y.test=done j\xc3\xb6rg@y.test=failed"},
       .wire_lacks = {"j\xc3\xb6rg", "SMTPUTF8"}});
  all.push_back({.name = "smtputf8_and_8bitmime_parameters",
                 .messages = {message({"j\xc3\xb6rg@y.test"}, "caf\xc3\xa9\n")},
                 .replies = concat({{kGreeting, kEhloNoChunking}, data_ok(1), {kBye}}),
                 .outcomes = {"j\xc3\xb6rg@y.test=done"},
                 .wire_has = {" BODY=8BITMIME SMTPUTF8\r\n", "RCPT TO:<j\xc3\xb6rg@y.test>"}});
  all.push_back({.name = "dot_stuffing_long_lines_and_bcc",
                 .messages = {"From: s@x.test\nTo: a@y.test\nBcc: hidden@y.test\nSubject: t\n\n.dot\n" +
                              std::string(2000, 'L') + "\n"},
                 .replies = concat({{kGreeting, kEhloNoChunking}, data_ok(2), {kBye}}),
                 .outcomes = {"a@y.test=done hidden@y.test=done"},
                 .wire_has = {"RCPT TO:<hidden@y.test>", "\r\n..dot\r\n",
                              std::string(998, 'L') + "\r\n" + std::string(1002 - 998, 'L') + "\r\n"},
                 .wire_lacks = {"Bcc:", std::string(999, 'L')}});
  all.push_back({.name = "421_helo",
                 .messages = {one},
                 .replies = {kGreeting, "500 5.5.1 what\r\n", "421 4.3.2 shutting down\r\n"},
                 .outcomes = {"not-done"},
                 .wire_has = {"HELO client.test\r\n"},
                 .wire_lacks = {"MAIL", "QUIT"},
                 .error_has = "rejected our greeting: 421 4.3.2 shutting down"});
  all.push_back(
      {.name = "421_rset",
       .messages = {one, one},
       .replies = {kGreeting, kEhloNoChunking, "451 4.3.0 try later\r\n", "503 5.5.1 need MAIL\r\n",
                   "503 5.5.1 need MAIL\r\n", "421 4.3.2 shutting down\r\n"},
       .outcomes = {"a@y.test=deferred | 451 4.3.0 try later",
                    "a@y.test=deferred | relay.test[192.0.2.0]:25 answered RSET with: 421 4.3.2 shutting "
                    "down"},
       .wire_lacks = {"QUIT"},
       .error_has = "answered RSET with: 421"});
  all.push_back({.name = "quit_answered_oddly_still_closes",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloAll}, bdat_ok(1), {"500 5.5.1 what\r\n"}}),
                 .outcomes = {"a@y.test=done"}});
  constexpr char kEhloStarttls[] = "250-relay.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
  all.push_back(
      {.name = "starttls_then_ehlo_again",
       .messages = {one},
       .replies = concat(
           {{kGreeting, kEhloStarttls, "220 2.0.0 ready to start TLS\r\n", kEhloAll}, bdat_ok(1), {kBye}}),
       .tls = TlsLevel::kEncrypt,
       .outcomes = {"a@y.test=done"},
       .wire_has = {"EHLO client.test\r\nSTARTTLS\r\nEHLO client.test\r\nMAIL", "BDAT"}});
  // Capabilities from before TLS are forgotten: CHUNKING offered only in
  // clear is not used over TLS.
  all.push_back(
      {.name = "capabilities_before_tls_forgotten",
       .messages = {one},
       .replies = concat({{kGreeting, "250-relay.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 STARTTLS\r\n",
                           "220 2.0.0 go ahead\r\n", kEhloNoChunking},
                          data_ok(1),
                          {kBye}}),
       .tls = TlsLevel::kVerify,
       .outcomes = {"a@y.test=done"},
       .wire_has = {"STARTTLS\r\nEHLO client.test\r\nMAIL", "DATA\r\n"},
       .wire_lacks = {"BDAT"}});
  all.push_back({.name = "implicit_tls_greeting_over_tls",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloAll}, bdat_ok(1), {kBye}}),
                 .tls = TlsLevel::kEncrypt,
                 .implicit_tls = true,
                 .outcomes = {"a@y.test=done"},
                 .wire_lacks = {"STARTTLS"}});
  all.push_back(
      {.name = "may_starttls_refused_goes_on_in_clear",
       .messages = {one},
       .replies = concat({{kGreeting, kEhloStarttls, "454 4.7.0 TLS not available\r\n"}, data_ok(1), {kBye}}),
       .tls = TlsLevel::kMay,
       .outcomes = {"a@y.test=done"},
       .wire_has = {"STARTTLS\r\nMAIL"}});
  all.push_back({.name = "may_handshake_fails_reconnects_in_clear",
                 .messages = {one},
                 .replies = {kGreeting, kEhloStarttls, "220 2.0.0 go ahead\r\n"},
                 .tls = TlsLevel::kMay,
                 .tls_fails = true,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL"},
                 .error_has = "relay.tls = \"may\": delivering in clear on a new connection"});
  all.push_back({.name = "starttls_not_offered_defers_at_encrypt",
                 .messages = {one},
                 .replies = {kGreeting, kEhloAll},
                 .tls = TlsLevel::kEncrypt,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL", "STARTTLS"},
                 .error_has =
                     "does not offer STARTTLS: its EHLO reply has no STARTTLS; relay.tls = \"encrypt\" "
                     "requires TLS, so nothing was sent"});
  all.push_back({.name = "starttls_not_offered_defers_at_verify",
                 .messages = {one},
                 .replies = {kGreeting, kEhloAll},
                 .tls = TlsLevel::kVerify,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL", "STARTTLS"},
                 .error_has =
                     "does not offer STARTTLS: its EHLO reply has no STARTTLS; relay.tls = \"verify\" "
                     "requires TLS, so nothing was sent"});
  all.push_back({.name = "starttls_not_offered_defers_at_secure",
                 .messages = {one},
                 .replies = {kGreeting, kEhloAll},
                 .tls = TlsLevel::kSecure,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL", "STARTTLS"},
                 .error_has =
                     "does not offer STARTTLS: its EHLO reply has no STARTTLS; relay.tls = \"secure\" "
                     "requires TLS, so nothing was sent"});
  all.push_back({.name = "starttls_refused",
                 .messages = {one},
                 .replies = {kGreeting, kEhloStarttls, "454 4.7.0 TLS not available\r\n"},
                 .tls = TlsLevel::kEncrypt,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL"},
                 .error_has = "refused STARTTLS: it answered 454 4.7.0 TLS not available"});
  all.push_back({.name = "tls_handshake_fails",
                 .messages = {one},
                 .replies = {kGreeting, kEhloStarttls, "220 2.0.0 go ahead\r\n"},
                 .tls = TlsLevel::kEncrypt,
                 .tls_fails = true,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL"},
                 .error_has = "relay.test[192.0.2.0]:25 failed the TLS handshake: handshake failure"});
  all.push_back({.name = "starttls_not_offered_goes_on_in_clear",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloAll}, bdat_ok(1), {kBye}}),
                 .tls = TlsLevel::kMay,
                 .outcomes = {"a@y.test=done"},
                 .wire_lacks = {"STARTTLS"}});
  // 421 at every stage of a DATA and a BDAT dialogue: the connection is
  // closed, what it carries is deferred.
  const std::vector<std::string> data_dialogue = concat({{kGreeting, kEhloNoChunking}, data_ok(2), {kBye}});
  const std::vector<std::string> bdat_dialogue = concat({{kGreeting, kEhloAll}, bdat_ok(2), {kBye}});
  static const char* const kData421[] = {"421_greeting", "421_ehlo", "421_mail",    "421_rcpt1",
                                         "421_rcpt2",    "421_data", "421_data_end"};
  static const char* const kBdat421[] = {"421_bdat_greeting", "421_bdat_ehlo",  "421_bdat_mail",
                                         "421_bdat_rcpt1",    "421_bdat_rcpt2", "421_bdat_end"};
  for (int bdat = 0; bdat < 2; ++bdat) {
    const std::vector<std::string>& dialogue = bdat ? bdat_dialogue : data_dialogue;
    for (size_t at = 0; at + 1 < dialogue.size(); ++at) {
      std::vector<std::string> replies(dialogue.begin(), dialogue.begin() + static_cast<long>(at));
      replies.push_back("421 4.3.2 shutting down\r\n");
      const bool taken = at >= 2;  // the message is offered once EHLO is answered
      all.push_back(
          {.name = bdat ? kBdat421[at] : kData421[at],
           .messages = {two},
           .replies = replies,
           .outcomes = {taken ? "a@y.test=deferred b@y.test=deferred | relay.test[192.0.2.0]:25 answered " +
                                    std::string(at == 2            ? "MAIL FROM"
                                                : at < 5           ? "RCPT TO"
                                                : at == 5 && !bdat ? "DATA"
                                                                   : "end of data") +
                                    " with: 421 4.3.2 shutting down"
                              : "not-done"},
           .wire_lacks = {"QUIT"},
           .error_has = "421 4.3.2 shutting down"});
    }
  }
  return all;
}

// AUTH (RFC 4954) to the relay: PLAIN preferred, LOGIN otherwise, only
// over TLS unless allowed; every refusal and shortfall closes the
// connection before any message is taken.
std::vector<Scenario> auth_scenarios() {
  using Login = Scenario::Login;
  const std::string one = message({"a@y.test"});
  constexpr char kEhloStarttlsAuth[] =
      "250-relay.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n";
  constexpr char kEhloStarttlsNoAuth[] = "250-relay.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n";
  constexpr char kEhloAuthBoth[] = "250-relay.test\r\n250-PIPELINING\r\n250 AUTH LOGIN PLAIN\r\n";
  constexpr char kEhloAuthLogin[] = "250-relay.test\r\n250-PIPELINING\r\n250 AUTH=LOGIN\r\n";
  constexpr char kEhloAuthCram[] = "250-relay.test\r\n250-PIPELINING\r\n250 AUTH CRAM-MD5\r\n";
  constexpr char kEhloNoAuth[] = "250-relay.test\r\n250 PIPELINING\r\n";
  constexpr char kStartTls[] = "220 2.0.0 go ahead\r\n";
  constexpr char kAuthOk[] = "235 2.7.0 Authentication successful\r\n";
  const std::string plain_line = std::string("AUTH PLAIN ") + kPlainResponse + "\r\n";
  const std::string login_lines = std::string("AUTH LOGIN\r\n") + kUserB64 + "\r\n" + kPasswordB64 + "\r\n";
  // The opening up to the EHLO after TLS that offers |ehlo|.
  auto over_tls = [&](const char* ehlo) {
    return std::vector<std::string>{kGreeting, kEhloStarttlsAuth, kStartTls, ehlo};
  };
  std::vector<Scenario> all;
  // AUTH offered only after STARTTLS, as most relays do.
  all.push_back(
      {.name = "plain_over_tls",
       .messages = {one},
       .replies = concat(
           {{kGreeting, kEhloStarttlsNoAuth, kStartTls, kEhloAuthBoth}, {kAuthOk}, data_ok(1), {kBye}}),
       .tls = TlsLevel::kVerify,
       .login = Login::kTlsOnly,
       .outcomes = {"a@y.test=done"},
       .wire_has = {"STARTTLS\r\nEHLO client.test\r\n" + plain_line + "MAIL FROM:<s@x.test>"},
       .wire_lacks = {"AUTH LOGIN"},
       .clear_lacks = {"AUTH"},
       .authenticated = true});
  all.push_back({.name = "login_over_tls",
                 .messages = {one},
                 .replies = concat({over_tls(kEhloAuthLogin),
                                    {"334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n", kAuthOk},
                                    data_ok(1),
                                    {kBye}}),
                 .tls = TlsLevel::kEncrypt,
                 .login = Login::kTlsOnly,
                 .outcomes = {"a@y.test=done"},
                 .wire_has = {"EHLO client.test\r\n" + login_lines + "MAIL FROM:"},
                 .wire_lacks = {"AUTH PLAIN"},
                 .clear_lacks = {"AUTH"},
                 .authenticated = true});
  // The 334 texts are not interpreted: the user name, then the password.
  all.push_back({.name = "login_any_challenge_text",
                 .messages = {one},
                 .replies = concat({over_tls(kEhloAuthLogin),
                                    {"334 \r\n", "334 what is the secret word\r\n", kAuthOk},
                                    data_ok(1),
                                    {kBye}}),
                 .tls = TlsLevel::kEncrypt,
                 .login = Login::kTlsOnly,
                 .outcomes = {"a@y.test=done"},
                 .wire_has = {login_lines + "MAIL FROM:"},
                 .authenticated = true});
  all.push_back({.name = "implicit_tls_plain",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloAuthBoth, kAuthOk}, data_ok(1), {kBye}}),
                 .tls = TlsLevel::kVerify,
                 .implicit_tls = true,
                 .login = Login::kTlsOnly,
                 .outcomes = {"a@y.test=done"},
                 .wire_has = {"EHLO client.test\r\n" + plain_line + "MAIL"},
                 .authenticated = true});
  all.push_back(
      {.name = "plain_535",
       .messages = {one},
       .replies = concat({over_tls(kEhloAuthBoth), {"535 5.7.8 Authentication credentials invalid\r\n"}}),
       .tls = TlsLevel::kVerify,
       .login = Login::kTlsOnly,
       .outcomes = {"not-done"},
       .wire_has = {plain_line},
       .wire_lacks = {"MAIL", "QUIT"},
       .error_has = "relay.test[192.0.2.0]:25 refused the login (AUTH PLAIN): 535 5.7.8 Authentication "
                    "credentials invalid; the relay rejected the user name or password: check "
                    "relay.username and relay.password_file; for AWS SES these are SMTP credentials "
                    "(the SMTP user name, not an IAM user name)"});
  all.push_back({.name = "login_535_after_password",
                 .messages = {one},
                 .replies = concat({over_tls(kEhloAuthLogin),
                                    {"334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n", "535 5.7.8 no\r\n"}}),
                 .tls = TlsLevel::kEncrypt,
                 .login = Login::kTlsOnly,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL"},
                 .error_has = "refused the login (AUTH LOGIN): 535 5.7.8 no; the relay rejected"});
  all.push_back({.name = "login_refused_at_user_name",
                 .messages = {one},
                 .replies = concat({over_tls(kEhloAuthLogin), {"334 VXNlcm5hbWU6\r\n", "501 5.5.2 bad\r\n"}}),
                 .tls = TlsLevel::kEncrypt,
                 .login = Login::kTlsOnly,
                 .outcomes = {"not-done"},
                 .wire_lacks = {kPasswordB64, "MAIL"},
                 .error_has = "refused the login (AUTH LOGIN): 501 5.5.2 bad"});
  all.push_back({.name = "plain_530_starttls_first",
                 .messages = {one},
                 .replies = {kGreeting, kEhloAuthBoth, "530 5.7.0 Must issue a STARTTLS command first\r\n"},
                 .login = Login::kPlaintextAllowed,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL"},
                 .error_has =
                     "530 5.7.0 Must issue a STARTTLS command first; the relay wants TLS before this "
                     "command: set relay.tls = \"encrypt\" or stricter"});
  all.push_back(
      {.name = "plain_454_temporary",
       .messages = {one},
       .replies = concat({over_tls(kEhloAuthBoth), {"454 4.7.0 Temporary authentication failure\r\n"}}),
       .tls = TlsLevel::kVerify,
       .login = Login::kTlsOnly,
       .outcomes = {"not-done"},
       .wire_lacks = {"MAIL"},
       .error_has = "refused the login (AUTH PLAIN): 454 4.7.0 Temporary authentication failure"});
  all.push_back({.name = "plain_answered_334_out_of_step",
                 .messages = {one},
                 .replies = concat({over_tls(kEhloAuthBoth), {"334 \r\n"}}),
                 .tls = TlsLevel::kVerify,
                 .login = Login::kTlsOnly,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"MAIL", kUserB64},
                 .error_has = "refused the login (AUTH PLAIN): 334"});
  // 530 to MAIL from a relay that wants a login ringmail was not given:
  // every message deferred (connection scope), with the hint.
  all.push_back(
      {.name = "mail_530_login_required",
       .messages = {one},
       .replies = {kGreeting, kEhloNoChunking, "530 5.7.0 Authentication required\r\n"},
       .outcomes = {"a@y.test=deferred | relay.test[192.0.2.0]:25 answered MAIL FROM with: 530 5.7.0 "
                    "Authentication required; the relay wants a login first: set relay.username and "
                    "relay.password_file"},
       .wire_lacks = {"AUTH"},
       .error_has = "the relay wants a login first"});
  // AUTH offered in clear but not over TLS: what came before TLS is forgotten.
  all.push_back({.name = "auth_not_offered",
                 .messages = {one},
                 .replies = over_tls(kEhloNoAuth),
                 .tls = TlsLevel::kVerify,
                 .login = Login::kTlsOnly,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"AUTH", "MAIL"},
                 .error_has =
                     "relay.test[192.0.2.0]:25: its EHLO reply offers no AUTH, but relay.username is "
                     "set; nothing was sent, and the messages wait for the next attempt"});
  all.push_back({.name = "auth_no_common_mechanism",
                 .messages = {one},
                 .replies = over_tls(kEhloAuthCram),
                 .tls = TlsLevel::kVerify,
                 .login = Login::kTlsOnly,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"AUTH", "MAIL"},
                 .error_has = "it offers AUTH, but neither PLAIN nor LOGIN"});
  // Credentials and no TLS: nothing is sent (no AUTH, no message), at
  // may without STARTTLS, may with STARTTLS refused, may after a failed
  // handshake (the clear fallback connection), and none.
  const char* const kNoTlsWords =
      ") and relay.username is set; nothing was sent, and the messages wait for the next attempt; ringmail "
      "sends credentials only over TLS";
  all.push_back(
      {.name = "no_tls_may_not_offered",
       .messages = {one},
       .replies = {kGreeting, kEhloAuthBoth},
       .tls = TlsLevel::kMay,
       .login = Login::kTlsOnly,
       .outcomes = {"not-done"},
       .wire_lacks = {"AUTH", "MAIL"},
       .error_has = std::string("the session is in clear (it does not offer STARTTLS") + kNoTlsWords});
  all.push_back({.name = "no_tls_may_starttls_refused",
                 .messages = {one},
                 .replies = {kGreeting, kEhloStarttlsAuth, "454 4.7.0 TLS not available\r\n"},
                 .tls = TlsLevel::kMay,
                 .login = Login::kTlsOnly,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"AUTH", "MAIL"},
                 .error_has = std::string("the session is in clear (it refused STARTTLS") + kNoTlsWords});
  all.push_back({.name = "no_tls_may_fallback_in_clear",
                 .messages = {one},
                 .replies = {kGreeting, kEhloStarttlsAuth},
                 .tls = TlsLevel::kMay,
                 .starttls_allowed = false,
                 .login = Login::kTlsOnly,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"AUTH", "MAIL", "STARTTLS"},
                 .error_has = "the session is in clear (its TLS handshake failed recently"});
  all.push_back({.name = "no_tls_level_none",
                 .messages = {one},
                 .replies = {kGreeting, kEhloStarttlsAuth},
                 .login = Login::kTlsOnly,
                 .outcomes = {"not-done"},
                 .wire_lacks = {"AUTH", "MAIL"},
                 .error_has = std::string("the session is in clear (relay.tls = \"none\"") + kNoTlsWords});
  all.push_back({.name = "plaintext_allowed_plain_in_clear",
                 .messages = {one},
                 .replies = concat({{kGreeting, kEhloAuthBoth, kAuthOk}, data_ok(1), {kBye}}),
                 .login = Login::kPlaintextAllowed,
                 .outcomes = {"a@y.test=done"},
                 .wire_has = {"EHLO client.test\r\n" + plain_line + "MAIL"},
                 .authenticated = true});
  all.push_back({.name = "plaintext_allowed_still_prefers_tls",
                 .messages = {one},
                 .replies = concat({over_tls(kEhloAuthBoth), {kAuthOk}, data_ok(1), {kBye}}),
                 .tls = TlsLevel::kMay,
                 .login = Login::kPlaintextAllowed,
                 .outcomes = {"a@y.test=done"},
                 .wire_has = {"STARTTLS\r\nEHLO client.test\r\n" + plain_line},
                 .clear_lacks = {"AUTH"},
                 .authenticated = true});
  // SES refuses an unverified sender at the end of data: the message
  // fails, with the hint.
  all.push_back(
      {.name = "ses_554_not_verified",
       .messages = {one},
       .replies = concat({over_tls(kEhloAuthBoth),
                          {kAuthOk, kOk, kOk, kGoAhead,
                           "554 Message rejected: Email address is not verified. The following "
                           "identities failed the check in region US-EAST-1: s@x.test\r\n",
                           kBye}}),
       .tls = TlsLevel::kVerify,
       .login = Login::kTlsOnly,
       .outcomes = {"a@y.test=failed | 554 Message rejected: Email address is not verified. The "
                    "following identities failed the check in region US-EAST-1: s@x.test; the sender "
                    "(or, in the SES sandbox, a recipient) is not a verified identity in the relay's "
                    "region: set smtp.default_sender or the messages' From to an address in a domain "
                    "verified there"},
       .authenticated = true});
  return all;
}

// check_expectations holds |run| to what its scenario says.
void check_expectations(const Scenario& scenario, const Transcript& run) {
  ASSERT_EQ(run.outcomes().size(), scenario.outcomes.size());
  for (size_t i = 0; i < scenario.outcomes.size(); ++i) {
    EXPECT_EQ(run.outcomes()[i], scenario.outcomes[i]) << "message " << i;
  }
  for (const std::string& text : scenario.wire_has) {
    EXPECT_NE(run.wire().find(text), std::string::npos) << "wire lacks: " << text << "\n" << run.wire();
  }
  for (const std::string& text : scenario.wire_lacks) {
    EXPECT_EQ(run.wire().find(text), std::string::npos) << "wire has: " << text;
  }
  for (const std::string& text : scenario.clear_lacks) {
    EXPECT_EQ(run.clear_wire().find(text), std::string::npos) << "written in clear: " << text;
  }
  // Credentials never appear in a transcript, and never in clear unless allowed.
  for (const char* secret : {kPassword, kPlainResponse, kUserB64, kPasswordB64}) {
    EXPECT_EQ(run.masked_wire().find(secret), std::string::npos) << "trace shows " << secret;
    if (scenario.login != Scenario::Login::kPlaintextAllowed) {
      EXPECT_EQ(run.clear_wire().find(secret), std::string::npos) << "in clear: " << secret;
    }
  }
  EXPECT_EQ(run.client().authenticated(), scenario.authenticated);
  if (scenario.error_has.empty()) {
    EXPECT_EQ(run.client().last_error(), "");
  } else {
    EXPECT_NE(run.client().last_error().find(scenario.error_has), std::string::npos)
        << run.client().last_error();
  }
  // Whatever happened, the machine ends closed or ready, never stuck
  // carrying a message, and each message is handed back at most once.
  EXPECT_FALSE(run.client().carries_messages()) << run.client().debug_state();
}

class SmtpClientScenario : public ::testing::TestWithParam<Scenario> {};

TEST_P(SmtpClientScenario, WholeReplies) {
  Transcript run(GetParam(), SIZE_MAX, false);
  run.run();
  check_expectations(GetParam(), run);
}

// Every byte boundary of the server's stream, and one byte at a time: the
// same bytes written, the same commands, the same verdicts.
TEST_P(SmtpClientScenario, SplitAtEveryByte) {
  Transcript whole(GetParam(), SIZE_MAX, false);
  whole.run();
  const std::string want = whole.result();
  for (size_t cut = 1; cut < whole.server_bytes(); ++cut) {
    Transcript run(GetParam(), cut, false);
    run.run();
    ASSERT_EQ(run.result(), want) << "cut at byte " << cut;
  }
  Transcript bytewise(GetParam(), SIZE_MAX, true);
  bytewise.run();
  EXPECT_EQ(bytewise.result(), want) << "one byte at a time";
}

INSTANTIATE_TEST_SUITE_P(Table, SmtpClientScenario, ::testing::ValuesIn(scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Auth, SmtpClientScenario, ::testing::ValuesIn(auth_scenarios()),
                         [](const ::testing::TestParamInfo<Scenario>& info) { return info.param.name; });

// --- Properties that are not a dialogue -------------------------------------

TEST(SmtpClient, StatesHaveNames) {
  for (int s = 0; s <= static_cast<int>(ClientState::kClosing); ++s) {
    EXPECT_STRNE(client_state_name(static_cast<ClientState>(s)), "?");
  }
}

TEST(SmtpClient, NoBodyBeforeThe354) {
  // DATA written, no reply yet: the body must wait, and so must any
  // further command.
  Scenario scenario{.name = "wait",
                    .messages = {message({"a@y.test"}, "SECRET-BODY\n")},
                    .replies = {kGreeting, kEhloNoChunking, kOk, kOk}};
  Transcript run(scenario, SIZE_MAX, false);
  run.run();
  EXPECT_EQ(run.client().state(), ClientState::kDataSent);
  EXPECT_NE(run.wire().find("DATA\r\n"), std::string::npos);
  EXPECT_EQ(run.wire().find("SECRET-BODY"), std::string::npos);
  EXPECT_TRUE(run.client().awaiting_reply());
  EXPECT_EQ(run.client().reply_timeout(), TimeoutKind::kReply);
}

TEST(SmtpClient, EndOfDataReplyUsesTheDataTimeout) {
  Scenario scenario{.name = "data-timeout",
                    .messages = {message({"a@y.test"})},
                    .replies = {kGreeting, kEhloNoChunking, kOk, kOk, kGoAhead}};
  Transcript run(scenario, SIZE_MAX, false);
  run.run();
  EXPECT_TRUE(run.client().awaiting_reply());
  EXPECT_EQ(run.client().reply_timeout(), TimeoutKind::kData);
}

// Bytes after the 220 to STARTTLS in the same read, before any handshake
// (CVE-2011-0411): the connection fails and nothing of them is read. Not
// in the table: once the bytes are cut off from the 220, they would come
// after the handshake, as the record layer's to judge.
TEST(SmtpClient, StartTlsResponseInjectionFailsTheConnection) {
  Scenario scenario{.name = "starttls-injection",
                    .messages = {message({"a@y.test"})},
                    .replies = {kGreeting, "250-relay.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
                                "220 2.0.0 go ahead\r\n250-injected\r\n250 PIPELINING\r\n"},
                    .tls = TlsLevel::kEncrypt};
  Transcript run(scenario, SIZE_MAX, false);
  run.run();
  EXPECT_NE(run.client().last_error().find("after its 220 reply to STARTTLS and before the TLS handshake"),
            std::string::npos)
      << run.client().last_error();
  EXPECT_EQ(run.client().state(), ClientState::kIdle);
  EXPECT_EQ(run.wire().find("MAIL"), std::string::npos);
}

TEST(SmtpClient, StartTlsStatesAreNotReachedAtLevelNone) {
  // STARTTLS offered, level none: never used; the session opens in clear.
  Scenario scenario{
      .name = "starttls-offered",
      .messages = {message({"a@y.test"})},
      .replies =
          concat({{kGreeting, "250-relay.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"}, data_ok(1), {kBye}})};
  Transcript run(scenario, SIZE_MAX, false);
  run.run();
  EXPECT_EQ(run.outcomes()[0], "a@y.test=done");
  EXPECT_EQ(run.wire().find("STARTTLS"), std::string::npos);
}

}  // namespace
}  // namespace ringmail
