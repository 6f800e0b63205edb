// tests/unit/sink_session_test.cc — tests of `ringmail sink`: the SMTP server
// state machine driven directly (every input split at every byte), the fault
// rules, the report formats, and one small loopback run of the io_uring
// server (skipped where io_uring is not available).
//
// Bounded: every test finishes in well under a second; the loopback tests
// use port 0 and blocking client sockets with receive timeouts.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "tools/sink/sink_faults.h"
#include "tools/sink/sink_server.h"
#include "tools/sink/sink_session.h"
#include "tools/sink/sink_stats.h"

namespace ringmail::sink {
namespace {

// RecordingObserver keeps what a Maildir writer would write.
class RecordingObserver : public SessionObserver {
 public:
  bool on_message_begin(std::string_view from, std::string_view to_list, uint64_t) override {
    envelopes.push_back(std::string(from) + " -> " + std::string(to_list));
    body.clear();
    return accept_begin;
  }
  void on_body(const char* data, size_t size) override { body.append(data, size); }
  bool on_message_end(bool complete) override {
    (complete ? bodies : cut_bodies).push_back(body);
    return true;
  }
  bool accept_begin = true;
  std::vector<std::string> envelopes;
  std::string body;
  std::vector<std::string> bodies;      // completed messages
  std::vector<std::string> cut_bodies;  // messages ended without the marker
};

// Driver plays the server loop: feeds bytes, keeps what was not consumed
// (the output was full), "sends" the output into a transcript.
struct Driver {
  explicit Driver(SessionConfig c = {}, const SinkFaults* faults = nullptr)
      : config(std::move(c)), session(&config, faults) {
    session.start(&observer, &queue_id);
    take_output();
  }
  void feed(std::string_view bytes) {
    pending.append(bytes);
    while (!pending.empty() && !closed) {
      const FeedResult r = session.feed(pending.data(), pending.size());
      pending.erase(0, r.consumed);
      messages += r.messages_accepted;
      recipients += r.recipients_accepted;
      ++feeds;
      const bool had_output = !session.output().empty();
      take_output();
      if (r.action == SessionAction::kClose) closed = true;
      if (r.consumed == 0 && !had_output && !closed) {
        ADD_FAILURE() << "session made no progress";
        return;
      }
    }
  }
  // feed_split feeds |bytes| in chunks of |chunk| bytes.
  void feed_split(std::string_view bytes, size_t chunk) {
    for (size_t i = 0; i < bytes.size(); i += chunk) feed(bytes.substr(i, chunk));
  }
  void take_output() {
    transcript.append(session.output());
    session.consume_output(session.output().size());
  }

  SessionConfig config;
  uint64_t queue_id = 1;
  RecordingObserver observer;
  SmtpServerSession session;
  std::string pending;
  std::string transcript;
  uint64_t messages = 0;
  uint64_t recipients = 0;
  int feeds = 0;
  bool closed = false;
};

SessionConfig test_config() {
  SessionConfig config;
  config.hostname = "sink.test";
  return config;
}

// reply_codes turns a transcript into the list of its reply lines' first
// four characters ("250-", "250 ", ...), for compact expectations.
std::vector<std::string> reply_lines(const std::string& transcript) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < transcript.size()) {
    size_t end = transcript.find("\r\n", start);
    if (end == std::string::npos) end = transcript.size();
    lines.push_back(transcript.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

const char kTransaction[] =
    "EHLO client.test\r\n"
    "MAIL FROM:<alice@example.org> BODY=8BITMIME\r\n"
    "RCPT TO:<bob@example.net>\r\n"
    "RCPT TO:<carol@example.net>\r\n"
    "DATA\r\n"
    "Subject: hi\r\n"
    "\r\n"
    "..leading dot\r\n"
    "middle . dot\r\n"
    ".\r\n"
    "MAIL FROM:<>\r\n"
    "RCPT TO:<dave@example.net>\r\n"
    "DATA\r\n"
    "..\r\n"
    "x.\r\n"
    "\r\n"
    ".\r\n"
    "QUIT\r\n";

const char kTransactionReplies[] =
    "220 sink.test ESMTP ringmail-sink\r\n"
    "250-sink.test\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 104857600\r\n"
    "250-8BITMIME\r\n"
    "250 ENHANCEDSTATUSCODES\r\n"
    "250 2.1.0 Ok\r\n"
    "250 2.1.5 Ok\r\n"
    "250 2.1.5 Ok\r\n"
    "354 End data with <CR><LF>.<CR><LF>\r\n"
    "250 2.0.0 Ok: queued as 1\r\n"
    "250 2.1.0 Ok\r\n"
    "250 2.1.5 Ok\r\n"
    "354 End data with <CR><LF>.<CR><LF>\r\n"
    "250 2.0.0 Ok: queued as 2\r\n"
    "221 2.0.0 Bye\r\n";

void expect_transaction_result(const Driver& d, const std::string& label) {
  EXPECT_EQ(d.transcript, kTransactionReplies) << label;
  EXPECT_EQ(d.messages, 2u) << label;
  EXPECT_EQ(d.recipients, 3u) << label;
  EXPECT_TRUE(d.closed) << label;
  ASSERT_EQ(d.observer.bodies.size(), 2u) << label;
  EXPECT_EQ(d.observer.bodies[0], "Subject: hi\r\n\r\n.leading dot\r\nmiddle . dot\r\n") << label;
  EXPECT_EQ(d.observer.bodies[1], ".\r\nx.\r\n\r\n") << label;
  ASSERT_EQ(d.observer.envelopes.size(), 2u) << label;
  EXPECT_EQ(d.observer.envelopes[0], "alice@example.org -> <bob@example.net>,<carol@example.net>");
  EXPECT_EQ(d.observer.envelopes[1], " -> <dave@example.net>");
}

TEST(SinkSession, WholeTransactionInOneRead) {
  Driver d(test_config());
  d.feed(kTransaction);
  expect_transaction_result(d, "one read");
  // Everything up to QUIT was answered from a single feed: one batch.
  EXPECT_EQ(d.feeds, 1);
}

TEST(SinkSession, TransactionInChunksOfEverySize) {
  const std::string input = kTransaction;
  for (size_t chunk = 1; chunk <= 40; ++chunk) {
    Driver d(test_config());
    d.feed_split(input, chunk);
    expect_transaction_result(d, "chunk " + std::to_string(chunk));
  }
}

TEST(SinkSession, TransactionSplitInTwoAtEveryByte) {
  const std::string input = kTransaction;
  for (size_t cut = 1; cut < input.size(); ++cut) {
    Driver d(test_config());
    d.feed(input.substr(0, cut));
    d.feed(input.substr(cut));
    expect_transaction_result(d, "cut at " + std::to_string(cut));
  }
}

TEST(SinkSession, WorksWithoutObserver) {
  SessionConfig config = test_config();
  SmtpServerSession session(&config, nullptr);
  session.start(nullptr, nullptr);
  const std::string input = kTransaction;
  std::string transcript(session.output());
  session.consume_output(session.output().size());
  uint32_t messages = 0;
  for (char c : input) {
    FeedResult r = session.feed(&c, 1);
    EXPECT_EQ(r.consumed, 1u);
    messages += r.messages_accepted;
    transcript.append(session.output());
    session.consume_output(session.output().size());
  }
  EXPECT_EQ(messages, 2u);
  // Without a shared counter the queue ids are per session, from 0.
  EXPECT_NE(transcript.find("queued as 0\r\n"), std::string::npos);
  EXPECT_NE(transcript.find("queued as 1\r\n"), std::string::npos);
}

struct BodyCase {
  const char* name;
  std::string wire;      // after the 354, up to and including the end marker
  std::string expected;  // what the observer must get
};

TEST(SinkSession, DotUnstuffingAndEndMarker) {
  const std::vector<BodyCase> cases = {
      {"empty", ".\r\n", ""},
      {"plain", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
      {"stuffed dot", "..\r\n.\r\n", ".\r\n"},
      {"stuffed text", "..x\r\n...\r\n.\r\n", ".x\r\n..\r\n"},
      {"dot inside line", "a.\r\n.\r\na\r\n", "a.\r\n"},  // rest is the next command
      {"dot CR then text", ".\rx\r\n.\r\n", "\rx\r\n"},
      {"bare LF end", "a\n.\n", "a\n"},
      {"CR CR", ".\r\r\n.\r\n", "\r\r\n"},
      {"long line", std::string(5000, 'y') + "\r\n.\r\n", std::string(5000, 'y') + "\r\n"},
  };
  for (const BodyCase& c : cases) {
    for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{100000}}) {
      Driver d(test_config());
      d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
      d.feed_split(c.wire, chunk);
      ASSERT_EQ(d.observer.bodies.size(), 1u) << c.name << " chunk " << chunk;
      EXPECT_EQ(d.observer.bodies[0], c.expected) << c.name << " chunk " << chunk;
      EXPECT_EQ(d.messages, 1u) << c.name;
    }
  }
}

TEST(SinkSession, EndMarkerNotYetComplete) {
  Driver d(test_config());
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nbody\r\n.\r");
  EXPECT_EQ(d.messages, 0u);
  EXPECT_EQ(d.session.state(), SmtpServerSession::State::kData);
  d.feed("\n");
  EXPECT_EQ(d.messages, 1u);
  EXPECT_EQ(d.session.state(), SmtpServerSession::State::kCommand);
}

struct ReplyCase {
  const char* name;
  std::string input;
  std::vector<std::string> replies;  // after the greeting
};

TEST(SinkSession, CommandRepliesAndSequenceErrors) {
  const std::vector<ReplyCase> cases = {
      {"MAIL before HELO", "MAIL FROM:<a@b>\r\n", {"503 5.5.1 Error: send HELO/EHLO first"}},
      {"RCPT before MAIL", "HELO x\r\nRCPT TO:<a@b>\r\n",
       {"250 sink.test", "503 5.5.1 Error: need MAIL command"}},
      {"DATA before MAIL", "HELO x\r\nDATA\r\n",
       {"250 sink.test", "503 5.5.1 Error: need RCPT command"}},
      {"DATA without RCPT", "HELO x\r\nMAIL FROM:<a@b>\r\nDATA\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "554 5.5.1 Error: no valid recipients"}},
      {"nested MAIL", "HELO x\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "503 5.5.1 Error: nested MAIL command"}},
      {"RSET ends the transaction", "HELO x\r\nMAIL FROM:<a@b>\r\nRSET\r\nRCPT TO:<c@d>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.0.0 Ok", "503 5.5.1 Error: need MAIL command"}},
      {"NOOP", "NOOP\r\n", {"250 2.0.0 Ok"}},
      {"unknown", "VRFY root\r\nSTARTTLS\r\nBDAT 10 LAST\r\n",
       {"502 5.5.2 Error: command not recognized", "502 5.5.2 Error: command not recognized",
        "502 5.5.2 Error: command not recognized"}},
      {"empty line", "\r\n", {"500 5.5.2 Error: bad syntax"}},
      {"lower case verbs", "helo x\r\nmail from:<a@b>\r\nrcpt to:<c@d>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok"}},
      {"space after colon", "HELO x\r\nMAIL FROM: <a@b>\r\nRCPT TO: c@d\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok"}},
      {"bad MAIL syntax", "HELO x\r\nMAIL <a@b>\r\nMAIL FROM:<a@b\r\n",
       {"250 sink.test", "501 5.5.4 Syntax: MAIL FROM:<address>",
        "501 5.5.4 Syntax: MAIL FROM:<address>"}},
      {"empty RCPT", "HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "501 5.5.4 Syntax: RCPT TO:<address>"}},
      {"SIZE too big", "HELO x\r\nMAIL FROM:<a@b> SIZE=104857601\r\nMAIL FROM:<a@b> SIZE=10\r\n",
       {"250 sink.test", "552 5.3.4 Message size exceeds fixed limit", "250 2.1.0 Ok"}},
      {"EHLO without name", "EHLO\r\n", {"501 Syntax: EHLO hostname"}},
      {"QUIT ignores the rest", "QUIT\r\nNOOP\r\n", {"221 2.0.0 Bye"}},
  };
  for (const ReplyCase& c : cases) {
    Driver d(test_config());
    d.feed(c.input);
    std::vector<std::string> lines = reply_lines(d.transcript);
    ASSERT_FALSE(lines.empty());
    lines.erase(lines.begin());  // greeting
    EXPECT_EQ(lines, c.replies) << c.name;
  }
}

TEST(SinkSession, EhloVariants) {
  SessionConfig no_pipelining = test_config();
  no_pipelining.pipelining = false;
  Driver a(no_pipelining);
  a.feed("EHLO x\r\n");
  EXPECT_EQ(a.transcript.find("PIPELINING"), std::string::npos);
  EXPECT_NE(a.transcript.find("250 ENHANCEDSTATUSCODES\r\n"), std::string::npos);

  SessionConfig no_esmtp = test_config();
  no_esmtp.esmtp = false;
  Driver b(no_esmtp);
  b.feed("EHLO x\r\nHELO x\r\nMAIL FROM:<a@b>\r\n");
  const std::vector<std::string> expected = {"220 sink.test ESMTP ringmail-sink",
                                             "502 5.5.2 Error: command not recognized",
                                             "250 sink.test", "250 2.1.0 Ok"};
  EXPECT_EQ(reply_lines(b.transcript), expected);
}

TEST(SinkSession, LineLengthLimit) {
  // "NOOP " + padding + CRLF: exactly 1000 bytes is fine, 1001 is not.
  const std::string ok_line = "NOOP " + std::string(kMaxCommandLineBytes - 7, 'a') + "\r\n";
  const std::string long_line = "NOOP " + std::string(kMaxCommandLineBytes - 6, 'a') + "\r\n";
  ASSERT_EQ(ok_line.size(), kMaxCommandLineBytes);
  for (size_t chunk : {size_t{1}, size_t{10}, size_t{999}, size_t{100000}}) {
    Driver d(test_config());
    d.feed_split(ok_line + long_line + std::string(50000, 'z') + "\r\nNOOP\r\n", chunk);
    const std::vector<std::string> expected = {
        "220 sink.test ESMTP ringmail-sink", "250 2.0.0 Ok", "500 5.5.0 Error: line too long",
        "500 5.5.0 Error: line too long", "250 2.0.0 Ok"};
    EXPECT_EQ(reply_lines(d.transcript), expected) << "chunk " << chunk;
  }
}

TEST(SinkSession, ManyPipelinedRecipientsFillTheOutputAndResume) {
  std::string input = "EHLO x\r\nMAIL FROM:<a@b>\r\n";
  for (int i = 0; i < 900; ++i) input += "RCPT TO:<user" + std::to_string(i) + "@example.org>\r\n";
  input += "DATA\r\n";
  Driver d(test_config());
  d.feed(input);
  // 900 replies of 14 bytes do not fit in 4 KiB: several feeds were needed.
  EXPECT_GT(d.feeds, 3);
  size_t ok = 0;
  for (size_t at = 0; (at = d.transcript.find("250 2.1.5 Ok\r\n", at)) != std::string::npos; ++at) ++ok;
  EXPECT_EQ(ok, 900u);
  EXPECT_NE(d.transcript.find("354 "), std::string::npos);
  d.feed("x\r\n.\r\n");
  EXPECT_EQ(d.recipients, 900u);
}

TEST(SinkSession, RecipientLimit) {
  SessionConfig config = test_config();
  config.max_recipients = 2;
  Driver d(config);
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@b>\r\nRCPT TO:<2@b>\r\nRCPT TO:<3@b>\r\n");
  EXPECT_EQ(reply_lines(d.transcript).back(), "452 4.5.3 Error: too many recipients");
}

TEST(SinkSession, MessageSizeLimit) {
  SessionConfig config = test_config();
  config.max_message_bytes = 10;
  Driver d(config);
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n0123456789abcdef\r\n.\r\n");
  EXPECT_EQ(reply_lines(d.transcript).back(), "552 5.3.4 Error: message file too big");
  EXPECT_EQ(d.messages, 0u);
  EXPECT_EQ(d.observer.cut_bodies.size(), 1u);
}

TEST(SinkSession, ObserverRefusal) {
  Driver d(test_config());
  d.observer.accept_begin = false;
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nRCPT TO:<c@d>\r\n");
  const std::vector<std::string> lines = reply_lines(d.transcript);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[4], "451 4.3.0 Error: queue file write error");
  EXPECT_EQ(lines[5], "503 5.5.1 Error: need MAIL command");
}

TEST(SinkSession, CloseInsideDataCutsTheMessage) {
  Driver d(test_config());
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\npartial");
  d.session.close();
  ASSERT_EQ(d.observer.cut_bodies.size(), 1u);
  EXPECT_EQ(d.observer.cut_bodies[0], "partial");
  EXPECT_TRUE(d.observer.bodies.empty());
}

TEST(SinkSession, RcptFaultReplies) {
  SinkFaults faults;
  std::string error;
  ASSERT_TRUE(faults.add_rcpt_reply("bad@example.org=550:2", error)) << error;
  ASSERT_TRUE(faults.add_rcpt_reply("<slow@example.org>=451", error)) << error;
  Driver d(test_config(), &faults);
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\n");
  for (int i = 0; i < 3; ++i) d.feed("RCPT TO:<BAD@example.org>\r\n");
  for (int i = 0; i < 3; ++i) d.feed("RCPT TO:<slow@example.org>\r\n");
  std::vector<std::string> lines = reply_lines(d.transcript);
  lines.erase(lines.begin(), lines.begin() + 3);
  const std::vector<std::string> expected = {
      "550 5.1.1 <BAD@example.org>: Recipient address rejected: User unknown",
      "550 5.1.1 <BAD@example.org>: Recipient address rejected: User unknown",
      "250 2.1.5 Ok",
      "451 4.3.0 <slow@example.org>: Temporary failure, try again",
      "451 4.3.0 <slow@example.org>: Temporary failure, try again",
      "451 4.3.0 <slow@example.org>: Temporary failure, try again",
  };
  EXPECT_EQ(lines, expected);
  // Only the accepted recipient makes it into the envelope.
  d.feed("DATA\r\n.\r\n");
  EXPECT_EQ(d.observer.envelopes.at(0), "a@b -> <BAD@example.org>");
  EXPECT_EQ(d.recipients, 1u);
}

TEST(SinkSession, DataWithOnlyRejectedRecipients) {
  SinkFaults faults;
  std::string error;
  ASSERT_TRUE(faults.add_rcpt_reply("x@y=550", error));
  Driver d(test_config(), &faults);
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nDATA\r\n");
  EXPECT_EQ(reply_lines(d.transcript).back(), "554 5.5.1 Error: no valid recipients");
}

TEST(SinkSession, DropDuringData) {
  SinkFaults faults;
  faults.set_drop_during_data(1);
  const std::string start = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
  Driver d(test_config(), &faults);
  d.feed(start);
  EXPECT_FALSE(d.closed);  // the 354 goes out first
  EXPECT_EQ(reply_lines(d.transcript).back(), "354 End data with <CR><LF>.<CR><LF>");
  d.feed("Subject: x\r\n\r\nbody\r\n.\r\n");
  EXPECT_TRUE(d.closed);
  EXPECT_EQ(reply_lines(d.transcript).back(), "354 End data with <CR><LF>.<CR><LF>");
  EXPECT_EQ(d.messages, 0u);
  EXPECT_EQ(d.observer.cut_bodies.size(), 1u);
  // The count is used up: the next connection's message goes through.
  Driver e(test_config(), &faults);
  e.feed(start + "body\r\n.\r\n");
  EXPECT_EQ(e.messages, 1u);
  EXPECT_FALSE(e.closed);
}

TEST(SinkFaults, ParseSpecs) {
  struct Case {
    const char* spec;
    bool ok;
  };
  const Case cases[] = {
      {"a@b=550", true},     {"a@b=451:3", true},  {"<a@b>=550:1", true}, {"a@b=599", true},
      {"a@b", false},        {"=550", false},      {"a@b=250", false},   {"a@b=421", false},
      {"a@b=55x", false},    {"a@b=550:0", false}, {"a@b=550:", false},  {"a@b=550:-1", false},
      {"<>=550", false},
  };
  for (const Case& c : cases) {
    SinkFaults faults;
    std::string error;
    EXPECT_EQ(faults.add_rcpt_reply(c.spec, error), c.ok) << c.spec;
    EXPECT_EQ(error.empty(), c.ok) << c.spec;
  }
}

TEST(SinkFaults, CountsAreShared) {
  SinkFaults faults;
  std::string error;
  ASSERT_TRUE(faults.add_rcpt_reply("a@b=451:3", error));
  int faulted = 0;
  for (int i = 0; i < 10; ++i) faulted += faults.rcpt_reply_code("A@B") == 451;
  EXPECT_EQ(faulted, 3);
  EXPECT_EQ(faults.rcpt_reply_code("other@b"), 0);
  faults.set_drop_during_data(2);
  EXPECT_TRUE(faults.take_drop_during_data());
  EXPECT_TRUE(faults.take_drop_during_data());
  EXPECT_FALSE(faults.take_drop_during_data());
}

TEST(SinkFaults, ReplyTexts) {
  struct Case {
    int code;
    const char* text;
  };
  const Case cases[] = {
      {550, "550 5.1.1 <a@b>: Recipient address rejected: User unknown\r\n"},
      {451, "451 4.3.0 <a@b>: Temporary failure, try again\r\n"},
      {452, "452 4.5.3 <a@b>: Too many recipients\r\n"},
      {554, "554 5.7.1 <a@b>: Recipient address rejected: Access denied\r\n"},
  };
  for (const Case& c : cases) {
    char out[512];
    const size_t n = rcpt_fault_reply_text(c.code, "a@b", out, sizeof(out));
    EXPECT_EQ(std::string(out, n), c.text);
  }
}

TEST(SinkStats, Formats) {
  FinalStats stats;
  stats.totals = {1000, 2000, 4};
  stats.seconds = 0.5;
  stats.cpu_seconds = 0.004;
  EXPECT_EQ(format_final_line(stats),
            "sink: accepted 1000 messages (2000 recipients) in 0.500 s, 2000 msg/s, cpu 4.00 us/msg");
  EXPECT_EQ(format_stats_json(stats),
            "{\"messages\":1000,\"recipients\":2000,\"seconds\":0.500000,\"cpu_us_per_msg\":4.000,"
            "\"connections\":4}");
  EXPECT_EQ(format_report_line(12345, 40123.4), "sink: 12345 messages, 40123 msg/s");
  FinalStats none;
  EXPECT_EQ(format_final_line(none),
            "sink: accepted 0 messages (0 recipients) in 0.000 s, 0 msg/s, cpu 0.00 us/msg");
}

TEST(SinkServer, ParseListenAddress) {
  struct Case {
    const char* text;
    bool ok;
    const char* formatted;
  };
  const Case cases[] = {
      {"127.0.0.1:2525", true, "127.0.0.1:2525"}, {"[::1]:0", true, "[::1]:0"},
      {":25", true, "0.0.0.0:25"},                {"127.0.0.1", false, ""},
      {"127.0.0.1:65536", false, ""},             {"[::1]2525", false, ""},
      {"127.0.0.1:x", false, ""},
  };
  for (const Case& c : cases) {
    ListenAddress address;
    std::string error;
    EXPECT_EQ(parse_listen_address(c.text, address, error), c.ok) << c.text << ": " << error;
    if (c.ok) {
      EXPECT_EQ(format_listen_address(address), c.formatted);
    }
  }
}

// Loopback client: connect, send, read replies until |want| lines arrived.
int connect_to(const ListenAddress& address) {
  const int fd = socket(address.storage.ss_family, SOCK_STREAM, 0);
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.size) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string read_lines(int fd, size_t want) {
  std::string got;
  char buf[4096];
  while (true) {
    size_t lines = 0;
    for (size_t at = 0; (at = got.find("\r\n", at)) != std::string::npos; at += 2) ++lines;
    if (lines >= want) break;
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

bool start_or_skip(SinkServer& server) {
  std::string error;
  if (server.start(error)) return true;
  if (error.find("io_uring") != std::string::npos) return false;
  ADD_FAILURE() << error;
  return false;
}

TEST(SinkServer, LoopbackPipelinedMessagesAndLimit) {
  SinkServerConfig config;
  config.listen = "127.0.0.1:0";
  config.max_connections_per_thread = 1;
  config.session.hostname = "sink.test";
  SinkServer server(config, nullptr);
  if (!start_or_skip(server)) GTEST_SKIP() << "io_uring not available";
  EXPECT_NE(format_listen_address(server.bound_address()), "127.0.0.1:0");

  const int fd = connect_to(server.bound_address());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_lines(fd, 1), "220 sink.test ESMTP ringmail-sink\r\n");
  // Over the limit of one connection: 421 and closed.
  const int extra = connect_to(server.bound_address());
  ASSERT_GE(extra, 0);
  EXPECT_EQ(read_lines(extra, 1), "421 4.3.2 too many connections\r\n");
  close(extra);

  std::string batch = "EHLO c\r\n";
  for (int i = 0; i < 3; ++i) {
    batch += "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n";
  }
  ASSERT_EQ(write(fd, batch.data(), batch.size()), static_cast<ssize_t>(batch.size()));
  // EHLO (5 lines), MAIL, RCPT, RCPT, 354; the next MAIL/RCPT/DATA are body.
  std::string replies = read_lines(fd, 9);
  EXPECT_NE(replies.find("354 End data"), std::string::npos) << replies;
  const std::string rest = "\r\n.\r\nQUIT\r\n";
  ASSERT_EQ(write(fd, rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  replies = read_lines(fd, 2);
  EXPECT_NE(replies.find("250 2.0.0 Ok: queued as"), std::string::npos) << replies;
  EXPECT_NE(replies.find("221 2.0.0 Bye"), std::string::npos) << replies;
  char byte;
  EXPECT_EQ(read(fd, &byte, 1), 0);  // closed by the server
  close(fd);
  server.stop();
  const SinkTotals totals = server.totals();
  EXPECT_EQ(totals.messages, 1u);
  EXPECT_EQ(totals.recipients, 2u);
  EXPECT_EQ(totals.connections, 2u);
  EXPECT_GT(server.first_connection_ns(), 0);
}

TEST(SinkServer, ExitAfterAndDelay) {
  SinkServerConfig config;
  config.listen = "127.0.0.1:0";
  config.threads = 2;
  config.exit_after = 2;
  config.delay_ms = 20;
  SinkServer server(config, nullptr);
  if (!start_or_skip(server)) GTEST_SKIP() << "io_uring not available";
  const int fd = connect_to(server.bound_address());
  ASSERT_GE(fd, 0);
  const int64_t start_ns = monotonic_ns();
  read_lines(fd, 1);
  EXPECT_GE(monotonic_ns() - start_ns, 15'000'000);  // the greeting was delayed
  const std::string one = "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
  write(fd, "HELO c\r\n", 8);
  read_lines(fd, 1);
  for (int i = 0; i < 2; ++i) {
    write(fd, one.data(), one.size());
    read_lines(fd, 3);
    write(fd, "x\r\n.\r\n", 6);
    read_lines(fd, 1);
  }
  pollfd pfd{server.stop_fd(), POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 2000), 1);  // --exit-after reached
  close(fd);
  server.stop();
  EXPECT_EQ(server.totals().messages, 2u);
}

}  // namespace
}  // namespace ringmail::sink
