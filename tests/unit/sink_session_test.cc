// tests/unit/sink_session_test.cc — tests of `ringmail sink`: the SMTP server
// state machine driven directly (every input split at every byte), the fault
// rules, the report formats, and one small loopback run of the io_uring
// server (skipped where io_uring is not available).
//
// Bounded: every test finishes in well under a second; the loopback tests
// use port 0 and blocking client sockets with receive timeouts.
#include "tools/sink/sink_session.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sink/sink_faults.h"
#include "tools/sink/sink_maildir.h"
#include "tools/sink/sink_server.h"
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
      messages_8bitmime += r.messages_8bitmime;
      messages_smtputf8 += r.messages_smtputf8;
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
  uint64_t messages_8bitmime = 0;
  uint64_t messages_smtputf8 = 0;
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
    "250-SMTPUTF8\r\n"
    "250-CHUNKING\r\n"
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
      {"RCPT before MAIL",
       "HELO x\r\nRCPT TO:<a@b>\r\n",
       {"250 sink.test", "503 5.5.1 Error: need MAIL command"}},
      {"DATA before MAIL", "HELO x\r\nDATA\r\n", {"250 sink.test", "503 5.5.1 Error: need RCPT command"}},
      {"DATA without RCPT",
       "HELO x\r\nMAIL FROM:<a@b>\r\nDATA\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "554 5.5.1 Error: no valid recipients"}},
      {"nested MAIL",
       "HELO x\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "503 5.5.1 Error: nested MAIL command"}},
      {"RSET ends the transaction",
       "HELO x\r\nMAIL FROM:<a@b>\r\nRSET\r\nRCPT TO:<c@d>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.0.0 Ok", "503 5.5.1 Error: need MAIL command"}},
      {"NOOP", "NOOP\r\n", {"250 2.0.0 Ok"}},
      {"unknown",
       "VRFY root\r\nSTARTTLS\r\nBDATX 10 LAST\r\n",
       {"502 5.5.2 Error: command not recognized", "502 5.5.2 Error: command not recognized",
        "502 5.5.2 Error: command not recognized"}},
      {"empty line", "\r\n", {"500 5.5.2 Error: bad syntax"}},
      {"lower case verbs",
       "helo x\r\nmail from:<a@b>\r\nrcpt to:<c@d>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok"}},
      {"space after colon",
       "HELO x\r\nMAIL FROM: <a@b>\r\nRCPT TO: c@d\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok"}},
      {"bad MAIL syntax",
       "HELO x\r\nMAIL <a@b>\r\nMAIL FROM:<a@b\r\n",
       {"250 sink.test", "501 5.5.4 Syntax: MAIL FROM:<address>", "501 5.5.4 Syntax: MAIL FROM:<address>"}},
      {"empty RCPT",
       "HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "501 5.5.4 Syntax: RCPT TO:<address>"}},
      {"SIZE too big",
       "HELO x\r\nMAIL FROM:<a@b> SIZE=104857601\r\nMAIL FROM:<a@b> SIZE=10\r\n",
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
  EXPECT_NE(a.transcript.find("250-CHUNKING\r\n"), std::string::npos);
  EXPECT_NE(a.transcript.find("250 ENHANCEDSTATUSCODES\r\n"), std::string::npos);

  SessionConfig no_esmtp = test_config();
  no_esmtp.esmtp = false;
  Driver b(no_esmtp);
  b.feed("EHLO x\r\nHELO x\r\nMAIL FROM:<a@b>\r\n");
  const std::vector<std::string> expected = {"220 sink.test ESMTP ringmail-sink",
                                             "502 5.5.2 Error: command not recognized", "250 sink.test",
                                             "250 2.1.0 Ok"};
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
    const std::vector<std::string> expected = {"220 sink.test ESMTP ringmail-sink", "250 2.0.0 Ok",
                                               "500 5.5.0 Error: line too long",
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

TEST(SinkSession, AnnouncedSizeLimit) {
  SessionConfig config = test_config();
  config.max_message_bytes = 10240;
  Driver d(config);
  d.feed("EHLO x\r\nMAIL FROM:<a@b> SIZE=10241\r\nMAIL FROM:<a@b> SIZE=10240\r\n");
  const std::vector<std::string> lines = reply_lines(d.transcript);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "250-SIZE 10240"), lines.end());
  EXPECT_EQ(lines[lines.size() - 2], "552 5.3.4 Message size exceeds fixed limit");
  EXPECT_EQ(lines.back(), "250 2.1.0 Ok");
}

// SMTPUTF8 (RFC 6531): offered by default; a non-ASCII address needs the
// parameter on MAIL, in MAIL FROM and in RCPT TO alike (Postfix's 553 5.6.7).
TEST(SinkSession, Smtputf8) {
  Driver d(test_config());
  d.feed(
      "EHLO x\r\n"
      "MAIL FROM:<\xc3\xbc@\xe4\xbe\x8b\xe3\x81\x88.jp>\r\n"
      "MAIL FROM:<a@b>\r\n"
      "RCPT TO:<\xc3\xbc@x.jp>\r\n"
      "RSET\r\n"
      "MAIL FROM:<\xc3\xbc@\xe4\xbe\x8b\xe3\x81\x88.jp> SMTPUTF8 BODY=8BITMIME\r\n"
      "RCPT TO:<\xc3\xbc@x.jp>\r\n"
      "DATA\r\nSubject: \xc3\xbc\r\n\r\nx\r\n.\r\n");
  std::vector<std::string> lines = reply_lines(d.transcript);
  lines.erase(lines.begin(), lines.begin() + 8);  // greeting and EHLO
  const std::vector<std::string> expected = {"553 5.6.7 Must declare SMTPUTF8 to send unicode address",
                                             "250 2.1.0 Ok",
                                             "553 5.6.7 Must declare SMTPUTF8 to send unicode address",
                                             "250 2.0.0 Ok",
                                             "250 2.1.0 Ok",
                                             "250 2.1.5 Ok",
                                             "354 End data with <CR><LF>.<CR><LF>",
                                             "250 2.0.0 Ok: queued as 1"};
  EXPECT_EQ(lines, expected);
  EXPECT_EQ(d.messages_smtputf8, 1u);
  EXPECT_EQ(d.messages_8bitmime, 1u);
}

TEST(SinkSession, NoSmtputf8AndNo8bitmime) {
  SessionConfig config = test_config();
  config.smtputf8 = false;
  config.eight_bit_mime = false;
  Driver d(config);
  d.feed(
      "EHLO x\r\n"
      "MAIL FROM:<a@b> SMTPUTF8\r\n"
      "MAIL FROM:<a@b> BODY=8BITMIME\r\n"
      "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n");
  EXPECT_EQ(d.transcript.find("SMTPUTF8\r\n250"), std::string::npos);
  EXPECT_EQ(d.transcript.find("8BITMIME\r\n250"), std::string::npos);
  std::vector<std::string> lines = reply_lines(d.transcript);
  EXPECT_EQ(lines[1], "250-sink.test");
  EXPECT_EQ(lines[2], "250-PIPELINING");
  EXPECT_EQ(lines[3], "250-SIZE 104857600");
  EXPECT_EQ(lines[4], "250-CHUNKING");
  lines.erase(lines.begin(), lines.begin() + 6);
  const std::vector<std::string> expected = {
      "555 5.5.4 Unsupported option",        "555 5.5.4 Unsupported option", "250 2.1.0 Ok", "250 2.1.5 Ok",
      "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1"};
  EXPECT_EQ(lines, expected);
  EXPECT_EQ(d.messages_8bitmime, 0u);
  EXPECT_EQ(d.messages_smtputf8, 0u);
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

// ---- CHUNKING (RFC 3030): BDAT ----

// bdat builds "BDAT <size of chunk>[ LAST]\r\n<chunk>".
std::string bdat(std::string_view chunk, bool last) {
  return "BDAT " + std::to_string(chunk.size()) + (last ? " LAST" : "") + "\r\n" + std::string(chunk);
}

// Two pipelined BDAT transactions, as the engine writes them, the second in
// three chunks whose bytes look like SMTP (end markers, dots, commands).
const std::string kBdatChunk1 = "Subject: one\r\n\r\n..not stuffed\r\n.\r\nQUIT\r\n";
const std::string kBdatChunk2a = "Subject: two\r\n\r\n.";
const std::string kBdatChunk2b = "\r\nRSET\r\n";
const std::string kBdatChunk2c = ".\r\n";

std::string bdat_session_input() {
  return "EHLO client.test\r\n"
         "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n" +
         bdat(kBdatChunk1, true) +
         "MAIL FROM:<>\r\nRCPT TO:<carol@example.net>\r\nRCPT TO:<dave@example.net>\r\n" +
         bdat(kBdatChunk2a, false) + bdat(kBdatChunk2b, false) + bdat(kBdatChunk2c, true) + "QUIT\r\n";
}

const char kBdatSessionReplies[] =
    "220 sink.test ESMTP ringmail-sink\r\n"
    "250-sink.test\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 104857600\r\n"
    "250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n"
    "250-CHUNKING\r\n"
    "250 ENHANCEDSTATUSCODES\r\n"
    "250 2.1.0 Ok\r\n"
    "250 2.1.5 Ok\r\n"
    "250 2.0.0 Ok: queued as 1\r\n"
    "250 2.1.0 Ok\r\n"
    "250 2.1.5 Ok\r\n"
    "250 2.1.5 Ok\r\n"
    "250 2.0.0 17 octets received\r\n"
    "250 2.0.0 8 octets received\r\n"
    "250 2.0.0 Ok: queued as 2\r\n"
    "221 2.0.0 Bye\r\n";

void expect_bdat_session_result(const Driver& d, const std::string& label) {
  EXPECT_EQ(d.transcript, kBdatSessionReplies) << label;
  EXPECT_EQ(d.messages, 2u) << label;
  EXPECT_EQ(d.recipients, 3u) << label;
  EXPECT_TRUE(d.closed) << label;
  ASSERT_EQ(d.observer.bodies.size(), 2u) << label;
  EXPECT_EQ(d.observer.bodies[0], kBdatChunk1) << label;  // verbatim: no unstuffing
  EXPECT_EQ(d.observer.bodies[1], kBdatChunk2a + kBdatChunk2b + kBdatChunk2c) << label;
  EXPECT_TRUE(d.observer.cut_bodies.empty()) << label;
  ASSERT_EQ(d.observer.envelopes.size(), 2u) << label;
  EXPECT_EQ(d.observer.envelopes[0], "alice@example.org -> <bob@example.net>") << label;
  EXPECT_EQ(d.observer.envelopes[1], " -> <carol@example.net>,<dave@example.net>") << label;
}

TEST(SinkSessionBdat, PipelinedTransactionsInOneRead) {
  Driver d(test_config());
  d.feed(bdat_session_input());
  expect_bdat_session_result(d, "one read");
  EXPECT_EQ(d.feeds, 1);  // all replies in one batch
}

TEST(SinkSessionBdat, PipelinedTransactionsSplitInTwoAtEveryByte) {
  const std::string input = bdat_session_input();
  for (size_t cut = 1; cut < input.size(); ++cut) {
    Driver d(test_config());
    d.feed(input.substr(0, cut));
    d.feed(input.substr(cut));
    expect_bdat_session_result(d, "cut at " + std::to_string(cut));
  }
}

TEST(SinkSessionBdat, PipelinedTransactionsInChunksOfEverySize) {
  const std::string input = bdat_session_input();
  for (size_t chunk = 1; chunk <= 40; ++chunk) {
    Driver d(test_config());
    d.feed_split(input, chunk);
    expect_bdat_session_result(d, "chunk " + std::to_string(chunk));
  }
}

TEST(SinkSessionBdat, StateWhileChunkBytesAreMissing) {
  Driver d(test_config());
  d.feed("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 10 LAST\r\n0123");
  EXPECT_EQ(d.session.state(), SmtpServerSession::State::kBdat);
  EXPECT_STREQ(SmtpServerSession::state_name(d.session.state()), "bdat");
  EXPECT_EQ(reply_lines(d.transcript).back(), "250 2.1.5 Ok");  // no BDAT reply yet
  EXPECT_EQ(d.messages, 0u);
  d.feed("456789");
  EXPECT_EQ(d.session.state(), SmtpServerSession::State::kCommand);
  EXPECT_EQ(reply_lines(d.transcript).back(), "250 2.0.0 Ok: queued as 1");
  EXPECT_EQ(d.messages, 1u);
  EXPECT_EQ(d.recipients, 1u);
  EXPECT_FALSE(d.session.in_transaction());
  EXPECT_EQ(d.observer.bodies.at(0), "0123456789");
}

TEST(SinkSessionBdat, ChunkContentIsKeptVerbatim) {
  const std::vector<std::string> chunks = {
      "",
      "\r\n.\r\n",
      ".\r\n",
      "..\r\n.x\r\n...\r\n",
      "a\r\n.\r\nMAIL FROM:<x@y>\r\n.\n",
      std::string("\0\r\x80\xff", 4),
      std::string(70000, '.'),
  };
  for (const std::string& chunk : chunks) {
    for (size_t split : {size_t{1}, size_t{3}, size_t{100000}}) {
      Driver d(test_config());
      d.feed_split("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" + bdat(chunk, true) + "NOOP\r\n", split);
      ASSERT_EQ(d.observer.bodies.size(), 1u) << chunk.size() << " split " << split;
      EXPECT_EQ(d.observer.bodies[0], chunk) << "split " << split;
      EXPECT_EQ(d.messages, 1u);
      const std::vector<std::string> lines = reply_lines(d.transcript);
      ASSERT_GE(lines.size(), 2u);
      EXPECT_EQ(lines[lines.size() - 2], "250 2.0.0 Ok: queued as 1");
      EXPECT_EQ(lines.back(), "250 2.0.0 Ok");  // the NOOP after the chunk is a command
    }
  }
}

TEST(SinkSessionBdat, RepliesAndErrors) {
  SessionConfig small = test_config();
  small.max_message_bytes = 10;
  const std::string start = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n";
  struct Case {
    const char* name;
    SessionConfig config;
    std::string input;                 // after the greeting; ends with NOOP to check framing
    std::vector<std::string> replies;  // after the greeting
    uint64_t messages;
    std::vector<std::string> bodies;
    size_t cut_bodies;
  };
  const std::vector<Case> cases = {
      {"single LAST chunk",
       test_config(),
       start + "BDAT 5 LAST\r\nhello" + "NOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as 1", "250 2.0.0 Ok"},
       1,
       {"hello"},
       0},
      {"several chunks, lower case",
       test_config(),
       start + "bdat 3\r\nabcBdAt 2\r\nde" + "BDAT 1 last\r\nf" + "NOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 3 octets received",
        "250 2.0.0 2 octets received", "250 2.0.0 Ok: queued as 1", "250 2.0.0 Ok"},
       1,
       {"abcdef"},
       0},
      {"BDAT 0 LAST ends the message",
       test_config(),
       start + "BDAT 4\r\nabcdBDAT 0 LAST\r\nNOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 4 octets received",
        "250 2.0.0 Ok: queued as 1", "250 2.0.0 Ok"},
       1,
       {"abcd"},
       0},
      {"BDAT 0 LAST alone: an empty message",
       test_config(),
       start + "BDAT 0 LAST\r\nNOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as 1", "250 2.0.0 Ok"},
       1,
       {""},
       0},
      {"no MAIL: 503, bytes skipped",
       test_config(),
       "HELO x\r\nBDAT 6\r\nNOOP\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n",
       {"250 sink.test", "503 5.5.1 Error: need RCPT command", "503 5.5.1 Error: need RCPT command",
        "250 2.0.0 Ok"},
       0,
       {},
       0},
      {"no valid recipient: 554 until LAST ends it",
       test_config(),
       "HELO x\r\nMAIL FROM:<a@b>\r\nBDAT 4\r\nRSETBDAT 4 LAST\r\nQUITRCPT TO:<c@d>\r\nNOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "554 5.5.1 Error: no valid recipients",
        "554 5.5.1 Error: no valid recipients", "503 5.5.1 Error: need MAIL command", "250 2.0.0 Ok"},
       0,
       {},
       0},
      {"DATA after BDAT",
       test_config(),
       start + "BDAT 2\r\nabDATA\r\nBDAT 1 LAST\r\nc" + "NOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 2 octets received",
        "503 5.5.1 Error: DATA after BDAT", "250 2.0.0 Ok: queued as 1", "250 2.0.0 Ok"},
       1,
       {"abc"},
       0},
      {"RCPT after BDAT",
       test_config(),
       start + "BDAT 2\r\nabRCPT TO:<e@f>\r\nBDAT 0 LAST\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 2 octets received",
        "503 5.5.1 Error: RCPT after BDAT", "250 2.0.0 Ok: queued as 1"},
       1,
       {"ab"},
       0},
      {"malformed sizes: 501, line framing kept",
       test_config(),
       start +
           "BDAT\r\nBDAT x\r\nBDAT -1\r\nBDAT +1\r\nBDAT 1x\r\nBDAT 1 MORE\r\nBDAT 1 LAST x\r\n"
           "BDAT 99999999999999999999999\r\nBDAT 2 LAST\r\nok" +
           "NOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "501 5.5.4 Syntax: BDAT count [LAST]",
        "501 5.5.4 Syntax: BDAT count [LAST]", "501 5.5.4 Syntax: BDAT count [LAST]",
        "501 5.5.4 Syntax: BDAT count [LAST]", "501 5.5.4 Syntax: BDAT count [LAST]",
        "501 5.5.4 Syntax: BDAT count [LAST]", "501 5.5.4 Syntax: BDAT count [LAST]",
        "501 5.5.4 Syntax: BDAT count [LAST]", "250 2.0.0 Ok: queued as 1", "250 2.0.0 Ok"},
       1,
       {"ok"},
       0},
      {"extra spaces are fine",
       test_config(),
       start + "BDAT  2   LAST \r\nok" + "NOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as 1", "250 2.0.0 Ok"},
       1,
       {"ok"},
       0},
      {"oversize first chunk",
       small,
       start + "BDAT 11 LAST\r\n0123456789aNOOP\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "552 5.3.4 Error: message file too big",
        "250 2.0.0 Ok"},
       0,
       {},
       0},
      {"oversize total: sticky until LAST",
       small,
       start + "BDAT 6\r\n012345BDAT 5\r\n6789aBDAT 1 LAST\r\nbRCPT TO:<c@d>\r\n",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 6 octets received",
        "552 5.3.4 Error: message file too big", "552 5.3.4 Error: message file too big",
        "503 5.5.1 Error: need MAIL command"},
       0,
       {},
       1},
      {"exactly the limit",
       small,
       start + "BDAT 6\r\n012345BDAT 4 LAST\r\n6789",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 6 octets received",
        "250 2.0.0 Ok: queued as 1"},
       1,
       {"0123456789"},
       0},
      {"RSET between chunks drops the message",
       test_config(),
       start + "BDAT 2\r\nabRSET\r\nBDAT 1 LAST\r\nc",
       {"250 sink.test", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 2 octets received", "250 2.0.0 Ok",
        "503 5.5.1 Error: need RCPT command"},
       0,
       {},
       1},
  };
  for (const Case& c : cases) {
    for (size_t split : {size_t{1}, size_t{100000}}) {
      Driver d(c.config);
      d.feed_split(c.input, split);
      std::vector<std::string> lines = reply_lines(d.transcript);
      ASSERT_FALSE(lines.empty());
      lines.erase(lines.begin());  // greeting
      EXPECT_EQ(lines, c.replies) << c.name << " split " << split;
      EXPECT_EQ(d.messages, c.messages) << c.name;
      EXPECT_EQ(d.observer.bodies, c.bodies) << c.name;
      EXPECT_EQ(d.observer.cut_bodies.size(), c.cut_bodies) << c.name;
      EXPECT_FALSE(d.closed) << c.name;
    }
  }
}

TEST(SinkSessionBdat, RejectedRecipientsAndFaults) {
  SinkFaults faults;
  std::string error;
  ASSERT_TRUE(faults.add_rcpt_reply("x@y=550", error)) << error;
  Driver d(test_config(), &faults);
  d.feed(
      "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nBDAT 3 LAST\r\nabc"
      "MAIL FROM:<a@b>\r\nRCPT TO:<x@y>\r\nRCPT TO:<ok@y>\r\nBDAT 3 LAST\r\ndef");
  std::vector<std::string> lines = reply_lines(d.transcript);
  lines.erase(lines.begin(), lines.begin() + 8);  // greeting + EHLO
  const std::vector<std::string> expected = {
      "250 2.1.0 Ok",
      "550 5.1.1 <x@y>: Recipient address rejected: User unknown",
      "554 5.5.1 Error: no valid recipients",
      "250 2.1.0 Ok",
      "550 5.1.1 <x@y>: Recipient address rejected: User unknown",
      "250 2.1.5 Ok",
      "250 2.0.0 Ok: queued as 1",
  };
  EXPECT_EQ(lines, expected);
  EXPECT_EQ(d.messages, 1u);
  EXPECT_EQ(d.recipients, 1u);
  EXPECT_EQ(d.observer.envelopes, std::vector<std::string>{"a@b -> <ok@y>"});
  EXPECT_EQ(d.observer.bodies, std::vector<std::string>{"def"});
}

TEST(SinkSessionBdat, ObserverRefusalIsStickyUntilLast) {
  Driver d(test_config());
  d.observer.accept_begin = false;
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 1\r\naBDAT 1 LAST\r\nbNOOP\r\n");
  std::vector<std::string> lines = reply_lines(d.transcript);
  const std::vector<std::string> tail(lines.end() - 3, lines.end());
  const std::vector<std::string> expected = {"451 4.3.0 Error: queue file write error",
                                             "451 4.3.0 Error: queue file write error", "250 2.0.0 Ok"};
  EXPECT_EQ(tail, expected);
  EXPECT_EQ(d.observer.envelopes.size(), 1u);  // asked once, not per chunk
  EXPECT_EQ(d.messages, 0u);
  EXPECT_FALSE(d.session.in_transaction());
}

TEST(SinkSessionBdat, EhloAdvertisementAndNoChunking) {
  Driver on(test_config());
  on.feed("EHLO x\r\n");
  EXPECT_NE(on.transcript.find("\r\n250-CHUNKING\r\n"), std::string::npos);

  SessionConfig off_config = test_config();
  off_config.chunking = false;
  Driver off(off_config);
  off.feed("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 6 LAST\r\nNOOP\r\n");
  EXPECT_EQ(off.transcript.find("CHUNKING"), std::string::npos);
  EXPECT_NE(off.transcript.find("250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n"), std::string::npos);
  // Without CHUNKING, BDAT is an unknown verb and the bytes after it are commands.
  std::vector<std::string> lines = reply_lines(off.transcript);
  const std::vector<std::string> tail(lines.end() - 2, lines.end());
  const std::vector<std::string> expected = {"502 5.5.2 Error: command not recognized", "250 2.0.0 Ok"};
  EXPECT_EQ(tail, expected);

  SessionConfig no_esmtp = test_config();
  no_esmtp.esmtp = false;
  Driver helo(no_esmtp);
  helo.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 0 LAST\r\n");
  EXPECT_EQ(reply_lines(helo.transcript).back(), "502 5.5.2 Error: command not recognized");
}

TEST(SinkSessionBdat, DropDuringChunkBytes) {
  SinkFaults faults;
  faults.set_drop_during_data(2);
  const std::string start = "HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n";
  Driver d(test_config(), &faults);
  d.feed(start + "BDAT 10 LAST\r\n");
  EXPECT_FALSE(d.closed);
  d.feed("01234");  // the middle of the chunk: cut, no reply
  EXPECT_TRUE(d.closed);
  EXPECT_EQ(reply_lines(d.transcript).back(), "250 2.1.5 Ok");
  EXPECT_EQ(d.messages, 0u);
  EXPECT_EQ(d.observer.cut_bodies.size(), 1u);
  EXPECT_TRUE(d.observer.bodies.empty());

  // The whole message in one read: the earlier replies go out, then the cut.
  Driver e(test_config(), &faults);
  e.feed(start + "BDAT 10 LAST\r\n0123456789NOOP\r\n");
  EXPECT_TRUE(e.closed);
  EXPECT_EQ(reply_lines(e.transcript).back(), "250 2.1.5 Ok");
  EXPECT_EQ(e.messages, 0u);

  // The count is used up.
  Driver f(test_config(), &faults);
  f.feed(start + "BDAT 10 LAST\r\n0123456789");
  EXPECT_FALSE(f.closed);
  EXPECT_EQ(f.messages, 1u);
}

TEST(SinkSessionBdat, CloseInsideChunkCutsTheMessage) {
  Driver d(test_config());
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 3\r\nabcBDAT 9 LAST\r\npart");
  d.session.close();
  ASSERT_EQ(d.observer.cut_bodies.size(), 1u);
  EXPECT_EQ(d.observer.cut_bodies[0], "abcpart");
  EXPECT_TRUE(d.observer.bodies.empty());
  // The slot is reused: a fresh connection starts clean.
  d.session.start(&d.observer, &d.queue_id);
  d.take_output();
  d.closed = false;
  d.feed("HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 1 LAST\r\nz");
  EXPECT_EQ(d.observer.bodies, std::vector<std::string>{"z"});
  EXPECT_EQ(d.observer.cut_bodies.size(), 1u);
}

TEST(SinkSessionBdat, ManyPipelinedMessagesFillTheOutputAndResume) {
  // 300 transactions in one read: ~13 KiB of replies do not fit in 4 KiB.
  std::string input = "EHLO x\r\n";
  for (int i = 0; i < 300; ++i) {
    input += "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n" + bdat("msg " + std::to_string(i) + "\r\n", true);
  }
  Driver d(test_config());
  d.feed(input);
  EXPECT_GT(d.feeds, 3);
  EXPECT_EQ(d.messages, 300u);
  ASSERT_EQ(d.observer.bodies.size(), 300u);
  EXPECT_EQ(d.observer.bodies[299], "msg 299\r\n");
}

TEST(SinkSessionBdat, MaildirGetsTheRawChunks) {
  char dir_template[] = "/tmp/sink_bdat_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  std::string error;
  ASSERT_TRUE(prepare_maildir(dir, error)) << error;
  {
    MaildirWriter writer(&dir);
    SessionConfig config = test_config();
    SmtpServerSession session(&config, nullptr);
    uint64_t queue_id = 1;
    session.start(&writer, &queue_id);
    const std::string input = "EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n" +
                              bdat("Subject: x\r\n\r\n..dot\r\n", false) + bdat(".\r\nend\r\n", true);
    const FeedResult r = session.feed(input.data(), input.size());
    EXPECT_EQ(r.consumed, input.size());
    EXPECT_EQ(r.messages_accepted, 1u);
    session.close();
  }
  const std::string listing = dir + "/new";
  std::vector<std::string> contents;
  for (const auto& entry : std::filesystem::directory_iterator(listing)) {
    std::ifstream in(entry.path(), std::ios::binary);
    contents.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::filesystem::remove_all(dir);
  ASSERT_EQ(contents.size(), 1u);
  EXPECT_EQ(contents[0],
            "X-Sink-Envelope: from=<a@b> to=<c@d>,<e@f>\r\nSubject: x\r\n\r\n..dot\r\n.\r\nend\r\n");
}

TEST(SinkFaults, ParseSpecs) {
  struct Case {
    const char* spec;
    bool ok;
  };
  const Case cases[] = {
      {"a@b=550", true},  {"a@b=451:3", true},  {"<a@b>=550:1", true}, {"a@b=599", true},
      {"a@b", false},     {"=550", false},      {"a@b=250", false},    {"a@b=421", false},
      {"a@b=55x", false}, {"a@b=550:0", false}, {"a@b=550:", false},   {"a@b=550:-1", false},
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
  stats.totals.bytes_in = 2'100'000;
  stats.totals.bytes_out = 30'000;
  stats.seconds = 0.5;
  stats.cpu_seconds = 0.004;
  EXPECT_EQ(format_final_line(stats),
            "sink: accepted 1000 messages (2000 recipients) in 0.500 s, 2000 msg/s, cpu 4.00 us/msg");
  EXPECT_EQ(format_stats_json(stats),
            "{\"messages\":1000,\"recipients\":2000,\"seconds\":0.500000,\"cpu_us_per_msg\":4.000,"
            "\"connections\":4,\"body_8bitmime\":0,\"smtputf8\":0,\"tls_handshakes\":0,\"tls_resumed\":0,"
            "\"tls_failed\":0,\"messages_tls\":0,\"messages_clear\":1000,\"auth_tls\":0,\"auth_clear\":0,"
            "\"auth_failed\":0,\"bytes_in\":2100000,\"bytes_out\":30000}");
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
      {"127.0.0.1:2525", true, "127.0.0.1:2525"},
      {"[::1]:0", true, "[::1]:0"},
      {":25", true, "0.0.0.0:25"},
      {"127.0.0.1", false, ""},
      {"127.0.0.1:65536", false, ""},
      {"[::1]2525", false, ""},
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

TEST(SinkServer, LoopbackPipelinedBdatWithDelay) {
  SinkServerConfig config;
  config.listen = "127.0.0.1:0";
  config.delay_ms = 20;
  config.session.hostname = "sink.test";
  SinkServer server(config, nullptr);
  if (!start_or_skip(server)) GTEST_SKIP() << "io_uring not available";
  const int fd = connect_to(server.bound_address());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_lines(fd, 1), "220 sink.test ESMTP ringmail-sink\r\n");
  ASSERT_EQ(write(fd, "EHLO c\r\n", 8), 8);
  EXPECT_NE(read_lines(fd, 6).find("250-CHUNKING\r\n"), std::string::npos);
  // Two transactions in one write, as the engine sends them.
  std::string batch;
  for (int i = 0; i < 2; ++i) {
    batch += "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n" +
             bdat("Subject: x\r\n\r\n.\r\n", false) + bdat("", true);
  }
  const int64_t start_ns = monotonic_ns();
  ASSERT_EQ(write(fd, batch.data(), batch.size()), static_cast<ssize_t>(batch.size()));
  const std::string replies = read_lines(fd, 10);
  EXPECT_GE(monotonic_ns() - start_ns, 15'000'000);  // the reply batch was delayed
  EXPECT_NE(replies.find("250 2.0.0 17 octets received\r\n"), std::string::npos) << replies;
  size_t queued = 0;
  for (size_t at = 0; (at = replies.find("250 2.0.0 Ok: queued as ", at)) != std::string::npos; ++at) {
    ++queued;
  }
  EXPECT_EQ(queued, 2u) << replies;
  ASSERT_EQ(write(fd, "QUIT\r\n", 6), 6);
  EXPECT_EQ(read_lines(fd, 1), "221 2.0.0 Bye\r\n");
  close(fd);
  server.stop();
  EXPECT_EQ(server.totals().messages, 2u);
  EXPECT_EQ(server.totals().recipients, 4u);
}

}  // namespace
}  // namespace ringmail::sink
