// tests/unit/dsn_composer_test.cc — the bounce composer
// (engine/dsn_composer.h): the spool preamble, the top-level headers, the
// three MIME parts and their fields, partial failures, delays, expiry,
// status derivation, and the line rules (LF, <= 998 octets, folded fields,
// quoted-printable for 8-bit and over-long header lines). Also the bounce
// id rule (queue/dsn_id.h) and the meta record of a delay warning. In
// memory only; the e2e test (tests/e2e/bounce_test.sh) parses real bounces
// with Python's email package.
#include "engine/dsn_composer.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "queue/dsn_id.h"
#include "queue/envelope.h"
#include "queue/message_meta.h"
#include "queue/rfc5322_date.h"

namespace ringmail {
namespace {

constexpr int64_t kNow = 1796085840;  // Tue, 01 Dec 2026 00:44:00 +0000

DsnInput base_input() {
  DsnInput in;
  in.dsn_id = "1764549840000000.42.7.dsn";
  in.original_id = "1764549000000000.11.3";
  in.original_sender = "alerts@example.org";
  in.reporting_mta = "mx.example.org";
  in.remote_mta = "relay.example.net";
  in.original_headers = "From: alerts@example.org\r\nTo: ops@example.org\r\nSubject: disk full\r\n";
  in.arrival_unix = kNow - 3600;
  in.now_unix = kNow;
  in.attempts = 1;
  return in;
}

// Part is one MIME part of the bounce: its header lines and its body.
struct Part {
  std::string headers;
  std::string body;
};

// split_bounce checks the overall shape and returns the spool preamble,
// the top-level header section and the parts between the boundaries.
struct Bounce {
  std::string preamble;
  std::string headers;
  std::vector<Part> parts;
};

Bounce split_bounce(const std::string& text) {
  Bounce out;
  size_t pos = 0;
  while (text.compare(pos, 11, "X-Ringmail-") == 0) {
    const size_t lf = text.find('\n', pos);
    out.preamble += text.substr(pos, lf + 1 - pos);
    pos = lf + 1;
  }
  const size_t blank = text.find("\n\n", pos);
  EXPECT_NE(blank, std::string::npos);
  out.headers = text.substr(pos, blank + 1 - pos);
  const size_t b = out.headers.find("boundary=\"");
  EXPECT_NE(b, std::string::npos);
  const std::string boundary = out.headers.substr(b + 10, out.headers.find('"', b + 10) - b - 10);
  const std::string delim = "\n--" + boundary;
  size_t at = text.find(delim, blank);
  while (at != std::string::npos) {
    const size_t line_end = text.find('\n', at + 1);
    if (text.compare(at + delim.size(), 2, "--") == 0) break;
    const size_t next = text.find(delim, line_end);
    EXPECT_NE(next, std::string::npos);
    const std::string whole = text.substr(line_end + 1, next - line_end - 1 + 1);  // keep the final LF
    const size_t part_blank = whole.find("\n\n");
    Part part;
    part.headers = whole.substr(0, part_blank + 1);
    part.body = whole.substr(part_blank + 2);
    out.parts.push_back(part);
    at = next;
  }
  return out;
}

// fields unfolds an RFC 822-style block into "Name: value" lines.
std::vector<std::string> unfolded_lines(const std::string& block) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t lf = block.find('\n', pos);
    if (lf == std::string::npos) lf = block.size();
    const std::string line = block.substr(pos, lf - pos);
    pos = lf + 1;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !lines.empty()) {
      lines.back() += line;
    } else {
      lines.push_back(line);
    }
  }
  return lines;
}

bool has_line(const std::string& block, const std::string& line) {
  for (const std::string& l : unfolded_lines(block)) {
    if (l == line) return true;
  }
  return false;
}

void expect_line_rules(const std::string& text) {
  EXPECT_EQ(text.find('\r'), std::string::npos) << "LF line ends only";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t lf = text.find('\n', pos);
    ASSERT_NE(lf, std::string::npos) << "ends in LF";
    EXPECT_LE(lf - pos, 998u) << "line at " << pos;
    pos = lf + 1;
  }
}

TEST(DsnComposerTest, OneFailedRecipientHasEveryPartAndField) {
  DsnInput in = base_input();
  in.recipients.push_back(
      {"gone@example.org", DsnAction::kFailed, "550 5.1.1 <gone@example.org>: No such user"});
  const std::string text = compose_dsn(in);
  expect_line_rules(text);
  const Bounce b = split_bounce(text);
  EXPECT_EQ(b.preamble, "X-Ringmail-From: <>\nX-Ringmail-To: <alerts@example.org>\n");
  EXPECT_TRUE(has_line(b.headers, "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>"));
  EXPECT_TRUE(has_line(b.headers, "To: <alerts@example.org>"));
  EXPECT_TRUE(has_line(b.headers, "Subject: Undelivered Mail Returned to Sender"));
  EXPECT_TRUE(has_line(b.headers, "Date: Tue, 01 Dec 2026 00:44:00 +0000"));
  EXPECT_TRUE(has_line(b.headers, "Message-ID: <1764549840000000.42.7.dsn@mx.example.org>"));
  EXPECT_TRUE(has_line(b.headers, "Auto-Submitted: auto-replied"));
  EXPECT_TRUE(has_line(b.headers, "MIME-Version: 1.0"));
  EXPECT_NE(b.headers.find("Content-Type: multipart/report; report-type=delivery-status;"),
            std::string::npos);
  ASSERT_EQ(b.parts.size(), 3u);

  EXPECT_TRUE(has_line(b.parts[0].headers, "Content-Type: text/plain; charset=utf-8"));
  EXPECT_NE(b.parts[0].body.find("<gone@example.org>:"), std::string::npos);
  EXPECT_NE(b.parts[0].body.find("No such user"), std::string::npos);
  EXPECT_NE(b.parts[0].body.find("relay.example.net"), std::string::npos);

  EXPECT_TRUE(has_line(b.parts[1].headers, "Content-Type: message/delivery-status"));
  const std::string& ds = b.parts[1].body;
  EXPECT_TRUE(has_line(ds, "Reporting-MTA: dns; mx.example.org"));
  EXPECT_TRUE(has_line(ds, "X-Ringmail-Spool-Id: 1764549000000000.11.3"));
  EXPECT_TRUE(has_line(ds, "Arrival-Date: Mon, 30 Nov 2026 23:44:00 +0000"));
  EXPECT_TRUE(has_line(ds, "Final-Recipient: rfc822; gone@example.org"));
  EXPECT_TRUE(has_line(ds, "Action: failed"));
  EXPECT_TRUE(has_line(ds, "Status: 5.1.1"));
  EXPECT_TRUE(has_line(ds, "Remote-MTA: dns; relay.example.net"));
  EXPECT_TRUE(has_line(ds, "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.org>: No such user"));
  EXPECT_TRUE(has_line(ds, "Last-Attempt-Date: Tue, 01 Dec 2026 00:44:00 +0000"));
  // Per-message fields, a blank line, then the recipient's group.
  EXPECT_NE(ds.find("+0000\n\nFinal-Recipient:"), std::string::npos);

  EXPECT_TRUE(has_line(b.parts[2].headers, "Content-Type: text/rfc822-headers"));
  EXPECT_EQ(b.parts[2].body, "From: alerts@example.org\nTo: ops@example.org\nSubject: disk full\n");
}

TEST(DsnComposerTest, TheBounceIsAValidSpoolFileFromTheNullSender) {
  DsnInput in = base_input();
  in.copy_to = "postmaster@example.org";
  in.recipients.push_back({"gone@example.org", DsnAction::kFailed, "550 No"});
  const std::string text = compose_dsn(in);
  Envelope env;
  std::string error;
  ASSERT_EQ(parse_envelope(text, true, "", env, error), EnvelopeParse::kOk) << error;
  EXPECT_EQ(env.sender, "");
  ASSERT_EQ(env.recipient_count, 2u);
  EXPECT_EQ(env.recipients[0], "alerts@example.org");
  EXPECT_EQ(env.recipients[1], "postmaster@example.org");
  // The copy is an envelope recipient only.
  EXPECT_EQ(text.find("\nTo: <postmaster"), std::string::npos);
}

TEST(DsnComposerTest, CopyToTheSenderItselfIsNotDoubled) {
  DsnInput in = base_input();
  in.copy_to = "Alerts@EXAMPLE.org";
  in.copy_to = "alerts@EXAMPLE.ORG";
  in.recipients.push_back({"gone@example.org", DsnAction::kFailed, "550 No"});
  const Bounce b = split_bounce(compose_dsn(in));
  EXPECT_EQ(b.preamble, "X-Ringmail-From: <>\nX-Ringmail-To: <alerts@example.org>\n");
}

TEST(DsnComposerTest, PartialFailureListsOnlyTheRecipientsGiven) {
  DsnInput in = base_input();
  in.recipients.push_back({"a@example.org", DsnAction::kFailed, "550 5.1.1 unknown a"});
  in.recipients.push_back({"c@example.org", DsnAction::kFailed, "553 5.7.1 relaying denied"});
  const Bounce b = split_bounce(compose_dsn(in));
  ASSERT_EQ(b.parts.size(), 3u);
  const std::string& ds = b.parts[1].body;
  EXPECT_TRUE(has_line(ds, "Final-Recipient: rfc822; a@example.org"));
  EXPECT_TRUE(has_line(ds, "Final-Recipient: rfc822; c@example.org"));
  EXPECT_TRUE(has_line(ds, "Status: 5.7.1"));
  EXPECT_EQ(ds.find("b@example.org"), std::string::npos);
  EXPECT_EQ(b.parts[0].body.find("b@example.org"), std::string::npos);
}

TEST(DsnComposerTest, ExpiredRecipientSaysSoWith547) {
  DsnInput in = base_input();
  in.attempts = 5;
  in.recipients.push_back({"slow@example.org", DsnAction::kFailed, "451 4.7.1 Greylisted", true});
  const Bounce b = split_bounce(compose_dsn(in));
  const std::string& ds = b.parts[1].body;
  EXPECT_TRUE(has_line(ds, "Action: failed"));
  EXPECT_TRUE(has_line(ds, "Status: 5.4.7"));
  EXPECT_TRUE(has_line(ds, "Diagnostic-Code: smtp; 451 4.7.1 Greylisted"));
  EXPECT_NE(b.parts[0].body.find("Gave up after 5 attempts"), std::string::npos);
  EXPECT_NE(b.parts[0].body.find("maximum age"), std::string::npos);
}

TEST(DsnComposerTest, DelayWarningIsActionDelayed) {
  DsnInput in = base_input();
  in.retry_until_unix = kNow + 86400;
  in.recipients.push_back({"slow@example.org", DsnAction::kDelayed, "421 4.4.2 try later"});
  const Bounce b = split_bounce(compose_dsn(in));
  EXPECT_TRUE(has_line(b.headers, "Subject: Delayed Mail (still being retried)"));
  const std::string& ds = b.parts[1].body;
  EXPECT_TRUE(has_line(ds, "Action: delayed"));
  EXPECT_TRUE(has_line(ds, "Status: 4.4.2"));
  EXPECT_TRUE(has_line(ds, "Will-Retry-Until: Wed, 02 Dec 2026 00:44:00 +0000"));
  EXPECT_NE(b.parts[0].body.find("still being retried"), std::string::npos);
}

TEST(DsnComposerTest, StatusDerivation) {
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kFailed, "550 5.2.2 mailbox full"}), "5.2.2");
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kFailed, "550 mailbox unavailable"}), "5.0.0");
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kFailed, "554-5.7.1 multi"}), "5.7.1");
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kFailed, "message has 8-bit data and the relay ..."}), "5.0.0");
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kFailed, "", true}), "5.4.7");
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kFailed, "451 4.3.0 later", true}), "5.4.7");
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kFailed, "550 5.1.1234 bad"}), "5.0.0");
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kDelayed, "451 4.3.0 later"}), "4.3.0");
  EXPECT_EQ(dsn_status({"a@b", DsnAction::kDelayed, "connection refused"}), "4.0.0");
}

TEST(DsnComposerTest, EngineReasonIsNotAnSmtpDiagnostic) {
  DsnInput in = base_input();
  in.recipients.push_back(
      {"a@example.org", DsnAction::kFailed, "message has 8-bit data and the relay does not offer 8BITMIME"});
  const Bounce b = split_bounce(compose_dsn(in));
  const std::string& ds = b.parts[1].body;
  EXPECT_TRUE(has_line(ds,
                       "Diagnostic-Code: X-Ringmail; message has 8-bit data and the relay does not offer "
                       "8BITMIME"));
  EXPECT_EQ(ds.find("Remote-MTA"), std::string::npos);
}

TEST(DsnComposerTest, LongHeaderLinesAnd8BitGoQuotedPrintable) {
  DsnInput in = base_input();
  const std::string long_subject = "Subject: " + std::string(3000, 'x') + "\n";
  const std::string headers = "From: J\xc3\xb6rg <j@example.org>\n" + long_subject;
  in.original_headers = headers;
  in.recipients.push_back({"a@example.org", DsnAction::kFailed, "550 5.1.1 n\xc3\xb6 such user \x01"});
  const std::string text = compose_dsn(in);
  expect_line_rules(text);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    EXPECT_TRUE(u < 0x80 && (u >= 0x20 || c == '\n')) << "7-bit printable only, got " << int(u);
  }
  const Bounce b = split_bounce(text);
  ASSERT_EQ(b.parts.size(), 3u);
  EXPECT_TRUE(has_line(b.parts[2].headers, "Content-Transfer-Encoding: quoted-printable"));
  EXPECT_NE(b.parts[2].body.find("J=C3=B6rg"), std::string::npos);
  // Soft line breaks rebuild the long line.
  std::string decoded;
  for (size_t i = 0; i < b.parts[2].body.size(); ++i) {
    if (b.parts[2].body.compare(i, 2, "=\n") == 0) {
      ++i;
      continue;
    }
    decoded += b.parts[2].body[i];
  }
  EXPECT_NE(decoded.find(long_subject), std::string::npos);
  // The human part is quoted too (8-bit reply); the status part is 7-bit with '?'.
  EXPECT_TRUE(has_line(b.parts[0].headers, "Content-Transfer-Encoding: quoted-printable"));
  EXPECT_TRUE(has_line(b.parts[1].body, "Diagnostic-Code: smtp; 550 5.1.1 n?? such user ?"));
}

TEST(DsnComposerTest, LongDiagnosticIsFolded) {
  DsnInput in = base_input();
  std::string reply = "550 5.7.1";
  for (int i = 0; i < 100; ++i) reply += " word" + std::to_string(i);
  in.recipients.push_back({"a@example.org", DsnAction::kFailed, reply});
  const Bounce b = split_bounce(compose_dsn(in));
  const std::string& ds = b.parts[1].body;
  EXPECT_TRUE(has_line(ds, "Diagnostic-Code: smtp; " + reply));
  size_t pos = 0;
  while (pos < ds.size()) {
    const size_t lf = ds.find('\n', pos);
    EXPECT_LE(lf - pos, 78u);
    pos = lf + 1;
  }
}

TEST(DsnComposerTest, NonAsciiAddressIsXtextInTheStatusPart) {
  DsnInput in = base_input();
  in.recipients.push_back({"j\xc3\xb6rg+x@example.org", DsnAction::kFailed, "550 no"});
  const Bounce b = split_bounce(compose_dsn(in));
  EXPECT_TRUE(has_line(b.parts[1].body, "Final-Recipient: rfc822; j+C3+B6rg+2Bx@example.org"));
}

TEST(DsnComposerTest, BoundaryNeverAppearsInTheContent) {
  DsnInput in = base_input();
  const std::string headers = "X-Trap: --=_rm_1764549840000000.42.7.dsn\n";
  in.original_headers = headers;
  in.recipients.push_back({"a@example.org", DsnAction::kFailed, "550 no"});
  const Bounce b = split_bounce(compose_dsn(in));
  ASSERT_EQ(b.parts.size(), 3u);
  EXPECT_EQ(b.parts[2].body, headers);
}

TEST(DsnComposerTest, DateFormat) {
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc5322_date(kNow), "Tue, 01 Dec 2026 00:44:00 +0000");
}

TEST(DsnIdTest, MadeIdsAreValidAndRecognised) {
  char id[kMessageIdMax];
  make_dsn_id(id);
  EXPECT_TRUE(is_valid_message_id(id));
  EXPECT_TRUE(is_dsn_id(id));
  EXPECT_FALSE(is_dsn_id("1712345678901234.4711.17"));
  EXPECT_FALSE(is_dsn_id(".dsn"));
}

TEST(DsnMetaTest, DelayWarnedRoundTrips) {
  auto meta = std::make_unique<MessageMeta>();
  meta->attempts = 2;
  meta->delay_warned = 1712345678;
  std::string buf(kMaxMetaBytes, '\0');
  buf.resize(format_message_meta(*meta, buf.data(), buf.size()));
  EXPECT_NE(buf.find("delay_warned 1712345678\n"), std::string::npos);
  auto back = std::make_unique<MessageMeta>();
  std::string error;
  ASSERT_TRUE(parse_message_meta(buf, *back, error)) << error;
  EXPECT_EQ(back->delay_warned, 1712345678);
  EXPECT_FALSE(parse_message_meta("delay_warned 1\ndelay_warned 2\n", *back, error));
}

}  // namespace
}  // namespace ringmail
