// tests/unit/mail_precheck_test.cc — engine/mail_precheck: what a message
// needs (parsed from real spool bytes), what the relay offers, and the
// MAIL FROM parameters and refusals that follow. Table-driven over the
// relay's capabilities.
#include "engine/mail_precheck.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ringmail {
namespace {

MessageNeeds needs_of(const std::string& file, bool whole_file = true, uint64_t size = 0) {
  static auto env = std::make_unique<Envelope>();
  std::string error;
  EXPECT_EQ(parse_envelope(file, whole_file, "alerts@example.com", *env, error), EnvelopeParse::kOk) << error;
  return message_needs(*env, file, whole_file, size != 0 ? size : file.size(), [](uint32_t) { return true; });
}

EhloCapabilities caps(bool size, uint64_t limit, bool eight_bit, bool utf8) {
  EhloCapabilities c;
  c.size = size;
  c.size_limit = limit;
  c.eight_bit_mime = eight_bit;
  c.smtputf8 = utf8;
  return c;
}

std::string params(const EhloCapabilities& c, const MessageNeeds& n) {
  char out[kMaxMailParamsBytes];
  return std::string(out, mail_params(c, n, out, sizeof(out)));
}

const std::string kAscii = "X-Ringmail-To: <ops@example.org>\nSubject: hi\n\nbody\n";  // 51 bytes
const std::string kUtf8Rcpt =
    "X-Ringmail-To: <\xc3\xbc@\xe4\xbe\x8b.jp>\nSubject: hi\n\nbody\n";  // 8-bit in the envelope only
const std::string kUtf8Sender = "X-Ringmail-From: <\xc3\xbc@x.jp>\nX-Ringmail-To: <a@b.org>\n\nbody\n";
const std::string kUtf8Header =
    "To: ops@example.org\nSubject: gr\xc3\xbc\xc3\x9f"
    "e\n\nbody\n";
const std::string kEightBitBody = "To: ops@example.org\nSubject: x\n\nk\xc3\xa4se\n";

TEST(MailPrecheck, Needs) {
  MessageNeeds n = needs_of(kAscii);
  EXPECT_FALSE(n.sender_utf8 || n.recipient_utf8 || n.header_8bit || n.eight_bit || n.rest_unknown);
  EXPECT_EQ(n.size_bytes, kAscii.size());
  n = needs_of(kUtf8Rcpt);
  EXPECT_TRUE(n.recipient_utf8);
  EXPECT_FALSE(n.sender_utf8 || n.header_8bit || n.eight_bit);  // the preamble is not sent
  n = needs_of(kUtf8Sender);
  EXPECT_TRUE(n.sender_utf8);
  EXPECT_FALSE(n.recipient_utf8 || n.eight_bit);
  n = needs_of(kUtf8Header);
  EXPECT_TRUE(n.header_8bit && n.eight_bit);
  n = needs_of(kEightBitBody);
  EXPECT_FALSE(n.header_8bit);
  EXPECT_TRUE(n.eight_bit);
  n = needs_of(kAscii, /*whole_file=*/false, 200'000'000);
  EXPECT_TRUE(n.rest_unknown);
  EXPECT_EQ(n.size_bytes, 200'000'000u);
}

TEST(MailPrecheck, NotPendingRecipientsDoNotCount) {
  auto env = std::make_unique<Envelope>();
  std::string error;
  const std::string file =
      "X-Ringmail-From: <s@b.org>\nX-Ringmail-To: <a@b.org>\nX-Ringmail-To: <\xc3\xbc@x.jp>\n\nbody\n";
  ASSERT_EQ(parse_envelope(file, true, "", *env, error), EnvelopeParse::kOk) << error;
  EXPECT_TRUE(message_needs(*env, file, true, 0, [](uint32_t) { return true; }).recipient_utf8);
  EXPECT_FALSE(message_needs(*env, file, true, 0, [](uint32_t i) { return i == 0; }).recipient_utf8);
}

struct Row {
  const char* name;
  const std::string* file;
  EhloCapabilities caps;
  std::optional<Precheck> refusal;  // message_precheck
  const char* params;               // mail_params when not refused
};

TEST(MailPrecheck, Table) {
  const Row rows[] = {
      {"ascii, nothing offered", &kAscii, caps(false, 0, false, false), std::nullopt, ""},
      {"ascii, SIZE", &kAscii, caps(true, 0, false, false), std::nullopt, " SIZE=51"},
      {"ascii, everything", &kAscii, caps(true, 1000, true, true), std::nullopt, " SIZE=51"},
      {"ascii, over SIZE", &kAscii, caps(true, 50, true, true), Precheck::kSizeOverLimit, ""},
      {"ascii, SIZE exactly", &kAscii, caps(true, 51, true, true), std::nullopt, " SIZE=51"},
      {"utf8 rcpt, SMTPUTF8", &kUtf8Rcpt, caps(true, 0, true, true), std::nullopt, " SIZE=45 SMTPUTF8"},
      {"utf8 rcpt, no SMTPUTF8", &kUtf8Rcpt, caps(true, 0, true, false), std::nullopt, " SIZE=45"},
      {"utf8 sender, SMTPUTF8", &kUtf8Sender, caps(false, 0, true, true), std::nullopt, " SMTPUTF8"},
      {"utf8 sender, no SMTPUTF8", &kUtf8Sender, caps(false, 0, true, false), Precheck::kSenderNeedsSmtputf8,
       ""},
      {"utf8 header, both", &kUtf8Header, caps(false, 0, true, true), std::nullopt,
       " BODY=8BITMIME SMTPUTF8"},
      {"utf8 header, 8BITMIME only", &kUtf8Header, caps(false, 0, true, false), std::nullopt,
       " BODY=8BITMIME"},
      {"utf8 header, neither", &kUtf8Header, caps(false, 0, false, false), Precheck::kEightBitNotOffered, ""},
      {"8-bit body, 8BITMIME", &kEightBitBody, caps(false, 0, true, false), std::nullopt, " BODY=8BITMIME"},
      {"8-bit body, no 8BITMIME", &kEightBitBody, caps(true, 0, false, true), Precheck::kEightBitNotOffered,
       ""},
  };
  for (const Row& row : rows) {
    const MessageNeeds n = needs_of(*row.file);
    EXPECT_EQ(message_precheck(row.caps, n), row.refusal) << row.name;
    if (!row.refusal) {
      EXPECT_EQ(params(row.caps, n), row.params) << row.name;
    }
  }
}

TEST(MailPrecheck, StreamedMessages) {
  // Past the bytes in memory the data is unknown: declared 8-bit where the
  // relay offers 8BITMIME, not refused where it does not (watched while
  // streaming instead).
  const MessageNeeds n = needs_of(kAscii, /*whole_file=*/false, 200'000'000);
  EXPECT_EQ(params(caps(true, 0, true, false), n), " SIZE=200000000 BODY=8BITMIME");
  EXPECT_EQ(message_precheck(caps(true, 0, false, false), n), std::nullopt);
  EXPECT_EQ(message_precheck(caps(true, 10'240'000, true, false), n), Precheck::kSizeOverLimit);
  // Size unknown (0): no SIZE=, no refusal.
  MessageNeeds unknown = n;
  unknown.size_bytes = 0;
  EXPECT_EQ(params(caps(true, 0, true, false), unknown), " BODY=8BITMIME");
  EXPECT_EQ(message_precheck(caps(true, 10, true, false), unknown), std::nullopt);
}

TEST(MailPrecheck, Recipients) {
  EXPECT_EQ(recipient_precheck(caps(false, 0, true, false), "a@b.org"), std::nullopt);
  EXPECT_EQ(recipient_precheck(caps(false, 0, true, true), "\xc3\xbc@x.jp"), std::nullopt);
  EXPECT_EQ(recipient_precheck(caps(false, 0, true, false), "\xc3\xbc@x.jp"),
            Precheck::kRecipientNeedsSmtputf8);
}

TEST(MailPrecheck, Reasons) {
  char out[512];
  MessageNeeds n;
  n.size_bytes = 200'000'000;
  const EhloCapabilities c = caps(true, 10'240'000, false, false);
  std::string text(out, precheck_reason(Precheck::kSizeOverLimit, c, n, {}, out, sizeof(out)));
  EXPECT_NE(text.find("message is 200000000 bytes; the relay accepts at most 10240000 (SIZE)"),
            std::string::npos);
  text.assign(out,
              precheck_reason(Precheck::kRecipientNeedsSmtputf8, c, n, "\xc3\xbc@x.jp", out, sizeof(out)));
  EXPECT_NE(text.find("the relay does not offer SMTPUTF8 and the address <\xc3\xbc@x.jp> is not ASCII"),
            std::string::npos);
  text.assign(out, precheck_reason(Precheck::kSenderNeedsSmtputf8, c, n, "\xc3\xbc@x.jp", out, sizeof(out)));
  EXPECT_NE(text.find("the sender address <\xc3\xbc@x.jp> is not ASCII"), std::string::npos);
  for (Precheck p : {Precheck::kEightBitNotOffered, Precheck::kEightBitWhileStreaming}) {
    text.assign(out, precheck_reason(p, c, n, {}, out, sizeof(out)));
    EXPECT_EQ(text.rfind("message has 8-bit data and the relay does not offer 8BITMIME", 0), 0u) << text;
  }
  // Cut to fit, NUL-terminated.
  char small[16];
  EXPECT_EQ(precheck_reason(Precheck::kSizeOverLimit, c, n, {}, small, sizeof(small)), 15u);
  EXPECT_EQ(small[15], '\0');
}

}  // namespace
}  // namespace ringmail
