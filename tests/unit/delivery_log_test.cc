// tests/unit/delivery_log_test.cc — the delivery log: escaping
// (log/json_escape), the line writer (log/json_line), the event formatters
// (log/delivery_event) and the writer thread (log/delivery_log): every line
// arrives under a tiny ring with several producers, and a reopen after a
// rename sends later lines to the new file.
#include "log/delivery_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "log/delivery_event.h"
#include "log/json_escape.h"
#include "log/json_line.h"
#include "tests/support/json_check.h"

namespace ringmail {
namespace {

std::string escape(std::string_view in) {
  std::string out(json_escaped_size(in), '\0');
  out.resize(json_escape(in, out.data(), out.size()));
  return out;
}

TEST(JsonEscape, Table) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"plain text", "plain text"},
      {"say \"hi\"", "say \\\"hi\\\""},
      {"a\\b", "a\\\\b"},
      {"line\r\nnext\ttab", "line\\r\\nnext\\ttab"},
      {std::string("\x00\x01\x1f\x7f\b\f", 6), "\\u0000\\u0001\\u001f\\u007f\\b\\f"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},                        // UTF-8 kept
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},              // 4 bytes kept
      {"Latin-1 \xe9t\xe9", "Latin-1 \\ufffdt\\ufffd"},      // not UTF-8
      {"cut \xc3", "cut \\ufffd"},                           // sequence cut at the end
      {"\xc0\x80", "\\ufffd\\ufffd"},                        // overlong
      {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},             // surrogate
      {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // above U+10FFFF
      {"/slash/", "/slash/"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(escape(c.in), c.out) << c.in;
    std::string decoded;
    ASSERT_TRUE(testing::json_unescape(escape(c.in), decoded)) << c.in;
    EXPECT_EQ(decoded, testing::expected_text(c.in));
  }
}

TEST(JsonEscape, EveryCapacityGivesAValidPrefix) {
  const std::string in = "a\"\xc3\xa9\x01\xff\xf0\x9f\x98\x80z";
  const std::string whole = escape(in);
  for (size_t cap = 0; cap <= whole.size(); ++cap) {
    std::string out(cap, '\0');
    size_t consumed = 0;
    const size_t n = json_escape(in, out.data(), cap, &consumed);
    ASSERT_LE(n, cap);
    EXPECT_EQ(whole.substr(0, n), out.substr(0, n)) << cap;
    std::string decoded;
    EXPECT_TRUE(testing::json_unescape(out.substr(0, n), decoded)) << cap;
    EXPECT_EQ(decoded, testing::expected_text(in.substr(0, consumed))) << cap;
    if (cap == whole.size()) {
      EXPECT_EQ(consumed, in.size());
    }
  }
}

TEST(JsonLine, WritesFieldsInOrder) {
  char buf[256];
  JsonLine line(buf, sizeof(buf));
  line.str("s", "a\"b");
  line.num("n", -42);
  line.millis("t", 1234);
  line.millis("z", 5);
  line.boolean("b", true);
  line.null("x");
  line.str_or_null("e", "");
  line.time_utc("time", 1764549912345);
  const size_t n = line.finish();
  EXPECT_EQ(std::string(buf, n),
            "{\"s\":\"a\\\"b\",\"n\":-42,\"t\":1.234,\"z\":0.005,\"b\":true,\"x\":null,\"e\":null,"
            "\"time\":\"2025-12-01T00:45:12.345Z\"}\n");
  EXPECT_FALSE(line.truncated());
}

TEST(JsonLine, CutsWhatDoesNotFitAndSaysSo) {
  char buf[64];
  JsonLine line(buf, sizeof(buf));
  line.str("text", std::string(200, 'x'));
  line.num("after", 1);
  const size_t n = line.finish();
  const std::string text(buf, n);
  ASSERT_LE(n, sizeof(buf));
  EXPECT_EQ(text.substr(0, 9), "{\"text\":\"");
  EXPECT_EQ(text.substr(n - 20), "\",\"truncated\":true}\n");
  EXPECT_TRUE(line.truncated());
}

TEST(DeliveryEvent, SplitsReplies) {
  EXPECT_EQ(split_reply("250 2.0.0 Ok: queued as X").code, 250);
  EXPECT_EQ(split_reply("250 2.0.0 Ok: queued as X").enhanced, "2.0.0");
  EXPECT_EQ(split_reply("550 5.1.1 <x@y>: unknown").enhanced, "5.1.1");
  EXPECT_EQ(split_reply("451 try later").code, 451);
  EXPECT_EQ(split_reply("451 try later").enhanced, "");
  EXPECT_EQ(split_reply("451 5.1.1 class does not match").enhanced, "");
  EXPECT_EQ(split_reply("250").code, 250);
  EXPECT_EQ(split_reply("connection refused").code, 0);
  EXPECT_EQ(split_reply("2500 no").code, 0);
  EXPECT_EQ(split_reply("").code, 0);
}

TEST(DeliveryEvent, FindsMessageId) {
  EXPECT_EQ(find_message_id("From: a@b\r\nMessage-ID:  <x@y> \r\nSubject: s\r\n"), "<x@y>");
  EXPECT_EQ(find_message_id("message-id:<1@2>\n"), "<1@2>");
  EXPECT_EQ(find_message_id("Subject: Message-ID: <no>\r\n"), "");
  EXPECT_EQ(find_message_id("X-Message-ID: <no>\r\n"), "");
  EXPECT_EQ(find_message_id(""), "");
}

AttemptEvent sample_attempt() {
  AttemptEvent e;
  e.time_ms = 1764549912345;
  e.id = "e2e00000001";
  e.message_id = "<alert-1@ringmail.test>";
  e.sender = "alerts@example.com";
  e.recipient = "ops@example.org";
  e.destination = "relay.example.org";
  e.host = "relay.example.org";
  e.address = "192.0.2.1:25";
  e.tls_version = "TLSv1.3";
  e.tls_cipher = "TLS_AES_128_GCM_SHA256";
  e.tls_verified = true;
  e.tls_verdict = "trusted";
  e.reply = "250 2.0.0 Ok: queued as ABC";
  e.attempt = 2;
  e.queue_ms = 61234;
  e.duration_ms = 12;
  return e;
}

TEST(DeliveryEvent, AttemptJson) {
  char buf[LogRecord::kJsonCap];
  const AttemptEvent e = sample_attempt();
  const size_t n = format_attempt_json(e, buf, sizeof(buf));
  EXPECT_EQ(
      std::string(buf, n),
      "{\"time\":\"2025-12-01T00:45:12.345Z\",\"event\":\"attempt\",\"id\":\"e2e00000001\","
      "\"message_id\":\"<alert-1@ringmail.test>\",\"from\":\"alerts@example.com\",\"to\":\"ops@example.org\","
      "\"outcome\":\"delivered\",\"attempt\":2,\"destination\":\"relay.example.org\","
      "\"host\":\"relay.example.org\",\"address\":\"192.0.2.1:25\",\"tls\":\"TLSv1.3\","
      "\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\",\"tls_verified\":true,\"tls_verdict\":\"trusted\","
      "\"auth\":false,\"queue_s\":61.234,\"duration_s\":0.012,\"code\":250,\"dsn\":\"2.0.0\","
      "\"reply\":\"250 2.0.0 Ok: queued as ABC\"}\n");
}

TEST(DeliveryEvent, AttemptWithoutConnectionOrTls) {
  char buf[LogRecord::kJsonCap];
  AttemptEvent e = sample_attempt();
  e.host = e.address = "";
  e.tls_version = e.tls_cipher = e.tls_verdict = nullptr;
  e.tls_verified = false;
  e.duration_ms = -1;
  e.message_id = "";
  e.sender = "";
  e.outcome = AttemptOutcome::kExpired;
  e.reply = "cannot connect to relay.example.org[192.0.2.1]:25: Connection refused";
  const std::string line(buf, format_attempt_json(e, buf, sizeof(buf)));
  for (const char* field :
       {"\"message_id\":null", "\"from\":\"\"", "\"host\":null", "\"address\":null", "\"tls\":null",
        "\"tls_cipher\":null", "\"tls_verified\":false", "\"tls_verdict\":null", "\"duration_s\":null",
        "\"code\":null", "\"dsn\":null", "\"outcome\":\"expired\""}) {
    EXPECT_NE(line.find(field), std::string::npos) << field << " in " << line;
  }
}

TEST(DeliveryEvent, HostileTextsStayOneValidLine) {
  char buf[LogRecord::kJsonCap];
  AttemptEvent e = sample_attempt();
  const std::string evil = "550 \"x\"\r\n{\"injected\":1}\x00\xff" + std::string(3000, '\x01');
  e.reply = evil;
  e.recipient = "a\nb@c";
  const std::string line(buf, format_attempt_json(e, buf, sizeof(buf)));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_LE(line.size(), sizeof(buf));
  EXPECT_NE(line.find("\"truncated\":true}\n"), std::string::npos);
}

TEST(DeliveryEvent, SyslogInPostfixShape) {
  char buf[LogRecord::kSyslogCap];
  AttemptEvent e = sample_attempt();
  EXPECT_EQ(std::string(buf, format_attempt_syslog(e, buf, sizeof(buf))),
            "e2e00000001: to=<ops@example.org>, relay=relay.example.org[192.0.2.1]:25, delay=61, "
            "delays=61/0/0/0.012, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABC)");
  e.outcome = AttemptOutcome::kDeferred;
  e.reply = "451 try\r\nlater";
  e.host = e.address = "";
  e.queue_ms = 1200;
  e.duration_ms = -1;
  EXPECT_EQ(std::string(buf, format_attempt_syslog(e, buf, sizeof(buf))),
            "e2e00000001: to=<ops@example.org>, relay=none, delay=1.2, delays=1.2/0/0/0, dsn=4.0.0, "
            "status=deferred (451 try??later)");
  e.outcome = AttemptOutcome::kFailed;
  e.reply = "550 5.1.1 unknown";
  e.host = "::1";
  e.address = "[::1]:2525";
  EXPECT_EQ(std::string(buf, format_attempt_syslog(e, buf, sizeof(buf))),
            "e2e00000001: to=<ops@example.org>, relay=::1[::1]:2525, delay=1.2, delays=1.2/0/0/0, dsn=5.1.1, "
            "status=bounced (550 5.1.1 unknown)");
}

TEST(DeliveryEvent, MessageEvents) {
  char buf[LogRecord::kJsonCap];
  MessageEvent e;
  e.kind = MessageEventKind::kDeferred;
  e.time_ms = 1764549912345;
  e.id = "x1";
  e.next_attempt_unix = 1764549972;
  e.attempt = 1;
  e.recipients = 2;
  e.reason = "451 later";
  EXPECT_EQ(std::string(buf, format_message_json(e, buf, sizeof(buf))),
            "{\"time\":\"2025-12-01T00:45:12.345Z\",\"event\":\"deferred\",\"id\":\"x1\","
            "\"next_attempt\":\"2025-12-01T00:46:12.000Z\",\"attempt\":1,\"pending\":2,\"reason\":\"451 "
            "later\"}\n");
  e.kind = MessageEventKind::kDeleted;
  e.state = "failed";
  e.reason = "";
  EXPECT_EQ(
      std::string(buf, format_message_json(e, buf, sizeof(buf))),
      "{\"time\":\"2025-12-01T00:45:12.345Z\",\"event\":\"deleted\",\"id\":\"x1\",\"state\":\"failed\"}\n");
  EXPECT_STREQ(message_event_name(MessageEventKind::kBounced), "bounced");
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

LogRecord record_for(const std::string& text) {
  LogRecord record;
  std::memcpy(record.text, text.data(), text.size());
  record.json_len = static_cast<uint16_t>(text.size());
  record.syslog_len = 0;
  return record;
}

// A ring of 2 lines, 4 producers: every line arrives exactly once, and the
// producers had to wait (and counted it).
TEST(DeliveryLog, ConcurrentProducersLoseNoLineInATinyRing) {
  char dir[] = "/tmp/ringmail-log-test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/delivery.jsonl";
  DeliveryLog log;
  DeliveryLogOptions options;
  options.path = path;
  options.ring_capacity = 2;
  std::string error;
  ASSERT_TRUE(log.open(options, error)) << error;
  log.start();
  constexpr int kThreads = 4, kLines = 5000;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&log, t] {
      for (int i = 0; i < kLines; ++i)
        log.push_copy(record_for("{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}\n"));
    });
  }
  for (auto& p : producers) p.join();
  log.stop();
  const std::vector<std::string> lines = read_lines(path);
  EXPECT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), lines.size());
  EXPECT_EQ(log.lines_written(), static_cast<uint64_t>(kThreads * kLines));
  EXPECT_GT(log.waits(), 0u);
  std::remove(path.c_str());
  rmdir(dir);
}

TEST(DeliveryLog, ThreadReopensAfterRenameIntoTheNewFile) {
  char dir[] = "/tmp/ringmail-log-test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/delivery.jsonl";
  const std::string rotated = path + ".1";
  DeliveryLog log;
  DeliveryLogOptions options;
  options.path = path;
  options.ring_capacity = 8;
  std::string error;
  ASSERT_TRUE(log.open(options, error)) << error;
  log.start();
  for (int i = 0; i < 10; ++i) log.push_copy(record_for("{\"before\":" + std::to_string(i) + "}\n"));
  for (int i = 0; i < 200 && log.lines_written() < 10; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(std::rename(path.c_str(), rotated.c_str()), 0);
  log.request_reopen();
  for (int i = 0; i < 200 && access(path.c_str(), F_OK) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (int i = 0; i < 5; ++i) log.push_copy(record_for("{\"after\":" + std::to_string(i) + "}\n"));
  log.stop();
  EXPECT_EQ(read_lines(rotated).size(), 10u);
  EXPECT_EQ(read_lines(path).size(), 5u);
  std::remove(path.c_str());
  std::remove(rotated.c_str());
  rmdir(dir);
}

TEST(DeliveryLog, UnwritablePathIsRefusedWithTheReason) {
  DeliveryLog log;
  DeliveryLogOptions options;
  options.path = "/nonexistent-dir-ringmail/delivery.jsonl";
  std::string error;
  EXPECT_FALSE(log.open(options, error));
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  EXPECT_EQ(syslog_facility_code("mail"), 2);
  EXPECT_EQ(syslog_facility_code("local7"), 23);
  EXPECT_EQ(syslog_facility_code("nope"), -1);
}

}  // namespace
}  // namespace ringmail
