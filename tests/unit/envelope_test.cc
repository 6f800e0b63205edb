// tests/unit/envelope_test.cc — table-driven tests of the spool file
// envelope parser (queue/envelope.h): the X-Ringmail- preamble, `sendmail
// -t` recipients from To/Cc/Bcc, Bcc stripping, sender choice, limits and
// the error sentences of malformed files. Pure in-memory; no file system.
#include "queue/envelope.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace ringmail {
namespace {

struct EnvelopeCase {
  const char* name;
  std::string input = {};
  bool whole_file = true;
  const char* default_sender = "";
  // Expected outcome: ok, or an error containing error_substr.
  bool ok = true;
  const char* sender = "";
  std::vector<std::string> recipients = {};
  bool from_preamble = false;
  // The bytes that are sent (after body_offset, minus the skip ranges);
  // nullptr = not checked.
  const char* sent = nullptr;
  const char* error_substr = "";
};

std::string sent_bytes(std::string_view head, const Envelope& e) {
  std::string out;
  size_t pos = e.body_offset;
  for (uint32_t i = 0; i < e.skip_count; ++i) {
    out.append(head.substr(pos, e.skip[i].begin - pos));
    pos = e.skip[i].end;
  }
  out.append(head.substr(pos));
  return out;
}

std::vector<EnvelopeCase> cases() {
  std::vector<EnvelopeCase> c;
  // --- Explicit preamble -------------------------------------------------
  c.push_back({.name = "preamble",
               .input = "X-Ringmail-From: <a@x.org>\nX-Ringmail-To: <b@y.org>\nX-Ringmail-To: c@y.org\n"
                        "To: ignored@z.org\nSubject: hi\n\nbody\n",
               .sender = "a@x.org",
               .recipients = {"b@y.org", "c@y.org"},
               .from_preamble = true,
               .sent = "To: ignored@z.org\nSubject: hi\n\nbody\n"});
  c.push_back(
      {.name = "preamble_crlf_case_insensitive",
       .input = "x-ringmail-from: a@x.org\r\nX-RINGMAIL-TO:   <b@y.org>  \r\nSubject: hi\r\n\r\nb\r\n",
       .sender = "a@x.org",
       .recipients = {"b@y.org"},
       .from_preamble = true,
       .sent = "Subject: hi\r\n\r\nb\r\n"});
  c.push_back({.name = "preamble_null_sender",
               .input = "X-Ringmail-From: <>\nX-Ringmail-To: b@y.org\nSubject: bounce\n\nb",
               .default_sender = "def@x.org",
               .sender = "",
               .recipients = {"b@y.org"},
               .from_preamble = true});
  c.push_back({.name = "preamble_to_uses_default_sender",
               .input = "X-Ringmail-To: b@y.org\nFrom: hdr@x.org\n\nb",
               .default_sender = "def@x.org",
               .sender = "def@x.org",
               .recipients = {"b@y.org"},
               .from_preamble = true});
  c.push_back({.name = "preamble_to_sender_from_header",
               .input = "X-Ringmail-To: b@y.org\nSubject: s\nFrom: Alerts <hdr@x.org>\n\nb",
               .sender = "hdr@x.org",
               .recipients = {"b@y.org"},
               .from_preamble = true});
  c.push_back({.name = "preamble_from_only_recipients_from_headers",
               .input = "X-Ringmail-From: <a@x.org>\nTo: b@y.org\nBcc: c@y.org\n\nbody",
               .sender = "a@x.org",
               .recipients = {"b@y.org", "c@y.org"},
               .from_preamble = false,
               .sent = "To: b@y.org\n\nbody"});
  c.push_back(
      {.name = "preamble_dedupe",
       .input = "X-Ringmail-To: b@Y.org\nX-Ringmail-To: b@y.ORG\nX-Ringmail-To: B@y.org\nFrom: a@x\n\n",
       .sender = "a@x",
       .recipients = {"b@Y.org", "B@y.org"},
       .from_preamble = true});
  // --- Recipients from headers (sendmail -t) ------------------------------
  c.push_back({.name = "display_names_quotes_comments",
               .input = "From: Alerts <alerts@x.org>\n"
                        "To: \"Doe, John <boss>\" <john@y.org>, jane@y.org (Jane (the) Admin)\n"
                        "Cc: Ops Team <ops@z.org>\nSubject: s\n\nb",
               .sender = "alerts@x.org",
               .recipients = {"john@y.org", "jane@y.org", "ops@z.org"},
               .sent = "From: Alerts <alerts@x.org>\n"
                       "To: \"Doe, John <boss>\" <john@y.org>, jane@y.org (Jane (the) Admin)\n"
                       "Cc: Ops Team <ops@z.org>\nSubject: s\n\nb"});
  c.push_back({.name = "undisclosed_group_and_bcc",
               .input = "From: a@x.org\nTo: undisclosed-recipients:;\nBcc: hidden@y.org\nSubject: s\n\nb\n",
               .sender = "a@x.org",
               .recipients = {"hidden@y.org"},
               .sent = "From: a@x.org\nTo: undisclosed-recipients:;\nSubject: s\n\nb\n"});
  c.push_back({.name = "group_with_members",
               .input = "From: a@x.org\nTo: Team: one@y.org, Two <two@y.org>;, three@y.org\n\n",
               .sender = "a@x.org",
               .recipients = {"one@y.org", "two@y.org", "three@y.org"}});
  c.push_back({.name = "folded_fields",
               .input = "From: a@x.org\nTo: one@y.org,\n  two@y.org,\r\n\tThree Name\n "
                        "<three@y.org>\nCc:\n four@y.org\n\nb",
               .sender = "a@x.org",
               .recipients = {"one@y.org", "two@y.org", "three@y.org", "four@y.org"}});
  c.push_back({.name = "bcc_ranges_with_continuations",
               .input = "From: s@x.org\nBcc: h1@y.org,\n  h2@y.org\nTo: t@y.org\nBCC: h3@y.org\n\n"
                        "body\nBcc: not-a-header@y.org\n",
               .sender = "s@x.org",
               .recipients = {"h1@y.org", "h2@y.org", "t@y.org", "h3@y.org"},
               .sent = "From: s@x.org\nTo: t@y.org\n\nbody\nBcc: not-a-header@y.org\n"});
  c.push_back({.name = "empty_bcc_is_stripped",
               .input = "From: s@x.org\nTo: t@y.org\nBcc:\n\nb",
               .sender = "s@x.org",
               .recipients = {"t@y.org"},
               .sent = "From: s@x.org\nTo: t@y.org\n\nb"});
  c.push_back({.name = "default_sender_wins_over_from",
               .input = "From: hdr@x.org\nTo: t@y.org\n\nb",
               .default_sender = "<def@x.org>",
               .sender = "def@x.org",
               .recipients = {"t@y.org"}});
  c.push_back({.name = "default_null_sender",
               .input = "From: hdr@x.org\nTo: t@y.org\n\nb",
               .default_sender = "<>",
               .sender = "",
               .recipients = {"t@y.org"}});
  c.push_back({.name = "dedupe_domain_case_insensitive_local_case_sensitive",
               .input = "From: s@x\nTo: A@Y.org, a@y.org\nCc: A@y.ORG, <a@Y.ORG>\n\n",
               .sender = "s@x",
               .recipients = {"A@Y.org", "a@y.org"}});
  c.push_back({.name = "headers_only_without_separator",
               .input = "From: s@x.org\nTo: t@y.org",
               .sender = "s@x.org",
               .recipients = {"t@y.org"},
               .sent = "From: s@x.org\nTo: t@y.org"});
  c.push_back({.name = "source_route_dropped",
               .input = "From: s@x.org\nTo: <@relay.x.org,@r2.x.org:t@y.org>\n\n",
               .sender = "s@x.org",
               .recipients = {"t@y.org"}});
  c.push_back({.name = "quoted_local_part",
               .input = "From: s@x.org\nTo: \"first.last\"@y.org\n\n",
               .sender = "s@x.org",
               .recipients = {"\"first.last\"@y.org"}});
  c.push_back({.name = "non_header_line_starts_body",
               .input = "From: s@x.org\nTo: t@y.org\nthis is no header\nCc: c@y.org\n",
               .sender = "s@x.org",
               .recipients = {"t@y.org"}});
  c.push_back({.name = "empty_list_elements",
               .input = "From: s@x.org\nTo: , t@y.org,,\n\n",
               .sender = "s@x.org",
               .recipients = {"t@y.org"}});
  c.push_back({.name = "long_headers_ok_with_preamble_and_sender",
               .input = "X-Ringmail-From: a@x\nX-Ringmail-To: b@y\nSubject: " + std::string(70000, 'x'),
               .whole_file = false,
               .sender = "a@x",
               .recipients = {"b@y"},
               .from_preamble = true});
  // --- Malformed ------------------------------------------------------------
  c.push_back({.name = "empty_file", .input = "", .ok = false, .error_substr = "empty message file"});
  c.push_back({.name = "unknown_field",
               .input = "X-Ringmail-To: a@y\nX-Ringmail-To: b@y\nX-Ringmail-Foo: 1\n\nb",
               .ok = false,
               .error_substr = "unknown envelope field X-Ringmail-Foo on line 3"});
  c.push_back({.name = "no_recipients",
               .input = "From: a@x\nSubject: s\n\nb",
               .ok = false,
               .error_substr = "no recipients: no X-Ringmail-To line and no To/Cc/Bcc header"});
  c.push_back({.name = "recipient_fields_without_address",
               .input = "From: a@x\nTo:\nCc: undisclosed-recipients:;\n\nb",
               .ok = false,
               .error_substr = "no recipients: the To/Cc/Bcc headers hold no address"});
  c.push_back({.name = "preamble_space",
               .input = "X-Ringmail-To: a b@c\n\nb",
               .ok = false,
               .error_substr = "recipient address 'a b@c' contains a space"});
  c.push_back({.name = "preamble_control_char",
               .input = std::string("X-Ringmail-To: a\x01@c\n\nb"),
               .ok = false,
               .error_substr = "contains a control character"});
  c.push_back({.name = "header_no_at",
               .input = "From: a@x\nTo: root\n\n",
               .ok = false,
               .error_substr = "recipient address 'root' has no '@' (To: header, line 2)"});
  c.push_back({.name = "display_name_without_angle",
               .input = "From: a@x\nTo: John Doe\n\n",
               .ok = false,
               .error_substr = "recipient address 'John Doe' contains a space"});
  c.push_back({.name = "comment_inside_address",
               .input = "From: a@x\nTo: john(c)@y.org\n\n",
               .ok = false,
               .error_substr = "is split by a comment or a line break"});
  c.push_back({.name = "empty_angle_recipient",
               .input = "From: a@x\nTo: <>\n\n",
               .ok = false,
               .error_substr = "empty address <> in the To: header on line 2"});
  c.push_back({.name = "header_section_too_long",
               .input = "From: a@x\nTo: b@y\nSubject: " + std::string(70000, 'x'),
               .whole_file = false,
               .ok = false,
               .error_substr = "header section does not end within the first 65536 bytes"});
  c.push_back({.name = "only_preamble",
               .input = "X-Ringmail-From: <a@x>\nX-Ringmail-To: b@y\n",
               .ok = false,
               .error_substr = "holds only the envelope preamble"});
  c.push_back({.name = "two_senders",
               .input = "X-Ringmail-From: a@x\nX-Ringmail-From: b@x\nX-Ringmail-To: c@y\n\nb",
               .ok = false,
               .error_substr = "line 2: second X-Ringmail-From line"});
  c.push_back({.name = "empty_preamble_sender",
               .input = "X-Ringmail-From:\nX-Ringmail-To: c@y\n\nb",
               .ok = false,
               .error_substr = "write <> for the null sender"});
  c.push_back({.name = "preamble_field_after_header",
               .input = "From: a@x\nX-Ringmail-To: b@y\n\nb",
               .ok = false,
               .error_substr = "X-Ringmail-To on line 2 comes after a header field"});
  c.push_back({.name = "continuation_after_preamble",
               .input = "X-Ringmail-To: b@y\n c@y\nFrom: a@x\n\nb",
               .ok = false,
               .error_substr = "line 2: continuation line after the envelope preamble"});
  c.push_back({.name = "no_sender",
               .input = "To: b@y\n\nb",
               .ok = false,
               .error_substr = "no sender: no X-Ringmail-From line"});
  c.push_back({.name = "sender_without_at",
               .input = "From: root\nTo: b@y\n\nb",
               .ok = false,
               .error_substr = "sender address 'root' has no '@' (From: header, line 1)"});
  c.push_back({.name = "bad_default_sender",
               .input = "To: b@y\n\nb",
               .default_sender = "no at sign",
               .ok = false,
               .error_substr = "default sender 'no at sign' contains a space"});
  c.push_back({.name = "unterminated_quote",
               .input = "From: a@x\nTo: \"John <j@y>\n\n",
               .ok = false,
               .error_substr = "unterminated quoted string in the To: header on line 2"});
  c.push_back({.name = "unterminated_comment",
               .input = "From: a@x\nCc: j@y (oops\n\n",
               .ok = false,
               .error_substr = "unterminated comment in the Cc: header"});
  c.push_back({.name = "unterminated_angle",
               .input = "From: a@x\nTo: John <j@y\n\n",
               .ok = false,
               .error_substr = "unterminated '<'"});
  c.push_back({.name = "address_too_long",
               .input = "From: a@x\nTo: " + std::string(250, 'l') + "@y.org\n\n",
               .ok = false,
               .error_substr = "is longer than 254 bytes"});
  c.push_back({.name = "text_after_angle",
               .input = "From: a@x\nTo: <j@y> extra\n\n",
               .ok = false,
               .error_substr = "text after '>'"});
  return c;
}

class EnvelopeTableTest : public ::testing::TestWithParam<EnvelopeCase> {};

TEST_P(EnvelopeTableTest, Parses) {
  const EnvelopeCase& tc = GetParam();
  auto env = std::make_unique<Envelope>();
  std::string error;
  const std::string_view head =
      std::string_view(tc.input).substr(0, std::min(tc.input.size(), kMaxHeadBytes));
  const EnvelopeParse result = parse_envelope(head, tc.whole_file, tc.default_sender, *env, error);
  if (!tc.ok) {
    ASSERT_EQ(result, EnvelopeParse::kMalformed);
    EXPECT_NE(error.find(tc.error_substr), std::string::npos) << "error: " << error;
    return;
  }
  ASSERT_EQ(result, EnvelopeParse::kOk) << error;
  EXPECT_EQ(env->sender, tc.sender);
  std::vector<std::string> got;
  for (uint32_t i = 0; i < env->recipient_count; ++i) got.emplace_back(env->recipients[i]);
  EXPECT_EQ(got, tc.recipients);
  EXPECT_EQ(env->from_preamble, tc.from_preamble);
  if (tc.sent != nullptr) {
    EXPECT_EQ(sent_bytes(head, *env), tc.sent);
  }
  for (uint32_t i = 0; i < env->skip_count; ++i) {
    EXPECT_GE(env->skip[i].begin, env->body_offset);
    EXPECT_LE(env->skip[i].end, head.size());
    if (i > 0) {
      EXPECT_GE(env->skip[i].begin, env->skip[i - 1].end);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, EnvelopeTableTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<EnvelopeCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(EnvelopeTest, RecipientViewsPointIntoHead) {
  const std::string input = "From: Alerts <a@x.org>\nTo: b@y.org\n\nbody";
  auto env = std::make_unique<Envelope>();
  std::string error;
  ASSERT_EQ(parse_envelope(input, true, "", *env, error), EnvelopeParse::kOk);
  ASSERT_EQ(env->recipient_count, 1u);
  EXPECT_EQ(env->recipients[0].data(), input.data() + input.find("b@y.org"));
  EXPECT_EQ(env->sender.data(), input.data() + input.find("a@x.org"));
}

TEST(EnvelopeTest, ExactlyMaxRecipientsIsOkOneMoreIsMalformed) {
  for (const size_t count : {kMaxRecipients, kMaxRecipients + 1}) {
    std::string input = "From: s@x\nTo: ";
    for (size_t i = 0; i < count; ++i) input += "r" + std::to_string(i) + "@y,";
    input += "\n\n";
    auto env = std::make_unique<Envelope>();
    std::string error;
    const EnvelopeParse result = parse_envelope(input, true, "", *env, error);
    if (count == kMaxRecipients) {
      ASSERT_EQ(result, EnvelopeParse::kOk) << error;
      EXPECT_EQ(env->recipient_count, kMaxRecipients);
    } else {
      ASSERT_EQ(result, EnvelopeParse::kMalformed);
      EXPECT_NE(error.find("more than 1000 recipients"), std::string::npos) << error;
    }
  }
}

TEST(EnvelopeTest, SkipRangeLimit) {
  for (const size_t fields : {kMaxSkipRanges, kMaxSkipRanges + 1}) {
    std::string input = "From: s@x\n";
    for (size_t i = 0; i < fields; ++i) input += "Bcc: b" + std::to_string(i) + "@y\n";
    input += "\nbody";
    auto env = std::make_unique<Envelope>();
    std::string error;
    const EnvelopeParse result = parse_envelope(input, true, "", *env, error);
    if (fields == kMaxSkipRanges) {
      ASSERT_EQ(result, EnvelopeParse::kOk) << error;
      EXPECT_EQ(env->skip_count, kMaxSkipRanges);
      EXPECT_EQ(sent_bytes(input, *env), "From: s@x\n\nbody");
    } else {
      ASSERT_EQ(result, EnvelopeParse::kMalformed);
      EXPECT_NE(error.find("more than 16 Bcc header fields"), std::string::npos) << error;
    }
  }
}

TEST(EnvelopeTest, AllowNoRecipients) {
  auto env = std::make_unique<Envelope>();
  std::string error;
  EnvelopeParseOptions options;
  options.allow_no_recipients = true;
  ASSERT_EQ(parse_envelope("From: s@x\nSubject: s\n\nb", true, "", options, *env, error), EnvelopeParse::kOk)
      << error;
  EXPECT_EQ(env->recipient_count, 0u);
  EXPECT_EQ(env->sender, "s@x");
}

TEST(EnvelopeTest, HeadBeyondLimitIsCut) {
  // A caller passing more than kMaxHeadBytes gets the same answer as with
  // exactly kMaxHeadBytes and whole_file = false.
  const std::string input = "From: a@x\nTo: b@y\nSubject: " + std::string(2 * kMaxHeadBytes, 'x') + "\n\n";
  auto env = std::make_unique<Envelope>();
  std::string error;
  EXPECT_EQ(parse_envelope(input, true, "", *env, error), EnvelopeParse::kMalformed);
  EXPECT_NE(error.find("header section does not end"), std::string::npos) << error;
}

struct AddressCase {
  const char* address;
  bool ok;
  const char* why;
};

TEST(EnvelopeTest, CheckAddress) {
  const AddressCase table[] = {
      {"user@example.org", true, ""},
      {"\"quoted\"@example.org", true, ""},
      {"user@[192.0.2.1]", true, ""},
      {"", false, "is empty"},
      {"user", false, "has no '@'"},
      {"@example.org", false, "has an empty local part"},
      {"user@", false, "has an empty domain"},
      {"us er@example.org", false, "contains a space"},
      {"user@exa\rmple.org", false, "contains a control character"},
      {"<user@example.org", false, "contains '<' or '>'"},
      {"a@x,b@y", false, "contains a comma"},
  };
  for (const AddressCase& tc : table) {
    std::string why;
    EXPECT_EQ(check_address(tc.address, why), tc.ok) << tc.address;
    if (!tc.ok) {
      EXPECT_NE(why.find(tc.why), std::string::npos) << tc.address << ": " << why;
    }
  }
  std::string why;
  EXPECT_TRUE(check_address(std::string(kMaxAddressBytes - 2, 'a') + "@b", why));
  EXPECT_FALSE(check_address(std::string(kMaxAddressBytes - 1, 'a') + "@b", why));
}

TEST(EnvelopeTest, SameAddressAndStrip) {
  EXPECT_TRUE(same_address("a@Example.ORG", "a@example.org"));
  EXPECT_FALSE(same_address("A@example.org", "a@example.org"));
  EXPECT_FALSE(same_address("a@b.c", "a@b.cd"));
  EXPECT_EQ(strip_angle_brackets("  <a@b>  "), "a@b");
  EXPECT_EQ(strip_angle_brackets("<>"), "");
  EXPECT_EQ(strip_angle_brackets("a@b"), "a@b");
}

TEST(EnvelopeTest, WritePreambleRoundTrips) {
  std::string preamble;
  ASSERT_TRUE(write_envelope_preamble("s@x.org", {"a@y.org", "b@y.org"}, preamble));
  EXPECT_EQ(preamble, "X-Ringmail-From: <s@x.org>\nX-Ringmail-To: <a@y.org>\nX-Ringmail-To: <b@y.org>\n");
  const std::string file = preamble + "Subject: s\n\nbody\n";
  auto env = std::make_unique<Envelope>();
  std::string error;
  ASSERT_EQ(parse_envelope(file, true, "", *env, error), EnvelopeParse::kOk) << error;
  EXPECT_EQ(env->sender, "s@x.org");
  EXPECT_EQ(env->recipient_count, 2u);
  EXPECT_EQ(env->body_offset, preamble.size());

  std::string null_sender;
  ASSERT_TRUE(write_envelope_preamble("", {"a@y.org"}, null_sender));
  EXPECT_EQ(null_sender, "X-Ringmail-From: <>\nX-Ringmail-To: <a@y.org>\n");

  std::string bad;
  EXPECT_FALSE(write_envelope_preamble("s@x", {"a b@y"}, bad));
  EXPECT_FALSE(write_envelope_preamble("s@x", {}, bad));
  EXPECT_TRUE(bad.empty());
}

}  // namespace
}  // namespace ringmail
