// tests/unit/smtp_transcript_test.cc — SmtpTranscript (engine/smtp_transcript.h),
// the masking and summarising behind `ringmail test-send`'s transcript:
// the bytes the machine marks as credentials (AUTH PLAIN's response,
// LOGIN's answers) never shown, neither the password nor its base64, even
// when a credential line arrives in pieces; message content counted and not
// shown (DATA and BDAT); the same lines whatever the byte splits. Each
// conversation is a list of (direction, bytes) steps, replayed whole, cut at
// every byte, and one byte at a time.
#include "engine/smtp_transcript.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace ringmail {
namespace {

struct Step {
  bool client;  // true: bytes the client wrote; false: bytes it read
  std::string bytes;
  size_t credential_bytes = 0;  // the first N bytes carry credentials (client only)
};

// secret is a client step whose bytes all carry credentials.
Step secret(const std::string& bytes) { return {true, bytes, bytes.size()}; }

// replay runs |steps| through a transcript; each step's bytes are cut into
// pieces of |piece| bytes (0: whole).
std::vector<std::string> replay(const std::vector<Step>& steps, size_t piece) {
  SmtpTranscript transcript;
  std::vector<std::string> lines;
  for (const Step& step : steps) {
    const size_t n = piece == 0 ? step.bytes.size() : piece;
    for (size_t at = 0; at < step.bytes.size(); at += n) {
      const std::string_view part = std::string_view(step.bytes).substr(at, n);
      if (step.client) {
        const size_t credential = step.credential_bytes > at ? step.credential_bytes - at : 0;
        transcript.client_bytes(part, std::min(credential, part.size()), lines);
      } else {
        transcript.server_bytes(part, lines);
      }
    }
  }
  transcript.finish(lines);
  return lines;
}

// expect_same_at_every_split checks that cutting the whole conversation at
// any one byte (and bytewise) changes nothing.
void expect_same_at_every_split(const std::vector<Step>& steps, const std::vector<std::string>& want) {
  EXPECT_EQ(replay(steps, 0), want);
  EXPECT_EQ(replay(steps, 1), want);
  for (size_t piece = 2; piece < 40; ++piece) EXPECT_EQ(replay(steps, piece), want) << "piece " << piece;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// "alerts" / "s3cret": PLAIN is base64("\0alerts\0s3cret").
constexpr char kPlainB64[] = "AGFsZXJ0cwBzM2NyZXQ=";
constexpr char kUserB64[] = "YWxlcnRz";  // "alerts"
constexpr char kPassB64[] = "czNjcmV0";  // "s3cret"

TEST(SmtpTranscript, AuthPlainInitialResponseIsMasked) {
  const std::vector<Step> steps = {
      {false, "220 relay.test ESMTP\r\n"},
      {true, "EHLO client.test\r\n"},
      {false, "250-relay.test\r\n250 AUTH PLAIN LOGIN\r\n"},
      secret(std::string("AUTH PLAIN ") + kPlainB64 + "\r\n"),
      {false, "235 2.7.0 ok\r\n"},
      {true, "MAIL FROM:<a@example.com>\r\n"},
      {false, "250 ok\r\n"},
  };
  const std::vector<std::string> want = {
      "S: 220 relay.test ESMTP",      "C: EHLO client.test", "S: 250-relay.test",
      "S: 250 AUTH PLAIN LOGIN",      "C: AUTH PLAIN ****",  "S: 235 2.7.0 ok",
      "C: MAIL FROM:<a@example.com>", "S: 250 ok",
  };
  expect_same_at_every_split(steps, want);
  EXPECT_EQ(joined(replay(steps, 0)).find(kPlainB64), std::string::npos);
}

TEST(SmtpTranscript, AuthPlainWithChallengeAndAuthLoginAreMasked) {
  const std::vector<Step> steps = {
      {true, "AUTH PLAIN\r\n"},
      {false, "334 \r\n"},
      secret(std::string(kPlainB64) + "\r\n"),
      {false, "535 5.7.8 Authentication credentials invalid\r\n"},
      {true, "auth login\r\n"},
      {false, "334 VXNlcm5hbWU6\r\n"},
      secret(std::string(kUserB64) + "\r\n"),
      {false, "334 UGFzc3dvcmQ6\r\n"},
      secret(std::string(kPassB64) + "\r\n"),
      {false, "235 ok\r\n"},
      {true, "QUIT\r\n"},
  };
  const std::vector<std::string> want = {
      "C: AUTH PLAIN", "S: 334 ",
      "C: ****",       "S: 535 5.7.8 Authentication credentials invalid",
      "C: auth login", "S: 334 VXNlcm5hbWU6",
      "C: ****",       "S: 334 UGFzc3dvcmQ6",
      "C: ****",       "S: 235 ok",
      "C: QUIT",  // shown again once the exchange is over
  };
  expect_same_at_every_split(steps, want);
  const std::string text = joined(replay(steps, 0));
  for (const char* secret : {kPlainB64, kUserB64, kPassB64, "s3cret"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
}

TEST(SmtpTranscript, AuthLoginInitialResponseAndCancelAreMasked) {
  const std::vector<Step> steps = {
      secret(std::string("AUTH LOGIN ") + kUserB64 + "\r\n"),
      {false, "334 UGFzc3dvcmQ6\r\n"},
      secret("*\r\n"),
      {false, "501 5.7.0 cancelled\r\n"},
  };
  expect_same_at_every_split(
      steps, {"C: AUTH LOGIN ****", "S: 334 UGFzc3dvcmQ6", "C: ****", "S: 501 5.7.0 cancelled"});
}

TEST(SmtpTranscript, OnlyTheMarkedPrefixIsMasked) {
  // Credentials first, then a command pipelined behind them in one write.
  const std::string auth = std::string("AUTH PLAIN ") + kPlainB64 + "\r\n";
  const std::vector<Step> steps = {
      {true, auth + "MAIL FROM:<a@example.com>\r\n", auth.size()},
      {false, "235 ok\r\n250 ok\r\n"},
  };
  expect_same_at_every_split(
      steps, {"C: AUTH PLAIN ****", "C: MAIL FROM:<a@example.com>", "S: 235 ok", "S: 250 ok"});
}

TEST(SmtpTranscript, DataContentIsSummarised) {
  const std::vector<Step> steps = {
      {true, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"},
      {false, "250 ok\r\n250 ok\r\n354 go ahead\r\n"},
      {true, "Subject: secret plans\r\n\r\n..dot-stuffed\r\nbody\r\n.\r\n"},
      {false, "250 2.0.0 queued\r\n"},
      {true, "QUIT\r\n"},
      {false, "221 bye\r\n"},
  };
  const std::vector<std::string> want = {
      "C: MAIL FROM:<a@example.com>",
      "C: RCPT TO:<b@example.org>",
      "C: DATA",
      "S: 250 ok",
      "S: 250 ok",
      "S: 354 go ahead",
      "C: (message content: 4 lines, 46 bytes, not shown)",
      "C: .",
      "S: 250 2.0.0 queued",
      "C: QUIT",
      "S: 221 bye",
  };
  expect_same_at_every_split(steps, want);
}

TEST(SmtpTranscript, BdatChunkIsSummarised) {
  const std::string content = "Subject: x\r\n\r\nAUTH PLAIN not a command\r\n";
  const std::vector<Step> steps = {
      {true, "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nBDAT " +
                 std::to_string(content.size()) + " LAST\r\n" + content},
      {false, "250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n"},
      {true, "QUIT\r\n"},
  };
  const std::vector<std::string> want = {
      "C: MAIL FROM:<a@example.com>",
      "C: RCPT TO:<b@example.org>",
      "C: BDAT " + std::to_string(content.size()) + " LAST",
      "C: (message content: 3 lines, " + std::to_string(content.size()) + " bytes, not shown)",
      "S: 250 ok",
      "S: 250 ok",
      "S: 250 2.0.0 queued",
      "C: QUIT",
  };
  expect_same_at_every_split(steps, want);
}

TEST(SmtpTranscript, CutShortAndUntrustedBytes) {
  // The connection ends inside the content; a server line carries an escape
  // sequence and no line end.
  const std::vector<Step> steps = {
      {true, "DATA\r\n"},
      {false, "354 go\r\n"},
      {true, "line one\r\npartial"},
      {false, "421 \x1b[31mbye"},
  };
  expect_same_at_every_split(
      steps, {"C: DATA", "S: 354 go", "C: (message content: 2 lines, 17 bytes, not shown; cut short)",
              "S: 421 \\x1b[31mbye"});
}

TEST(SmtpTranscript, LongLineIsCutWithItsSize) {
  SmtpTranscript transcript;
  std::vector<std::string> lines;
  transcript.server_bytes("250 " + std::string(2000, 'x') + "\r\n", lines);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "S: 250 " + std::string(SmtpTranscript::kMaxLineChars - 4, 'x') + "… (2006 bytes)");
  EXPECT_EQ(transcript.last_reply_code(), 250);
  transcript.server_bytes("250-first\r\n250 2.0.0 last\r\n", lines);
  EXPECT_EQ(transcript.last_reply(), "250 2.0.0 last");
}

}  // namespace
}  // namespace ringmail
