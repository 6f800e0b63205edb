// tests/unit/smtp_reply_test.cc — table-driven tests of the SMTP reply parser
// (engine/smtp_reply.h).
//
// Every table input is also fed the way a connection sees it: split at every
// byte position, and one byte at a time, with the buffer growing and parsed
// after each append (replies removed as they complete). All feeds must give
// the same replies and the same final verdict as the whole input at once.
#include "engine/smtp_reply.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail {
namespace {

// OwnedReply is an SmtpReply copied out of the buffer (the buffer changes).
struct OwnedReply {
  uint16_t code = 0;
  bool has_enhanced = false;
  int enhanced_class = 0;
  int enhanced_subject = 0;
  int enhanced_detail = 0;
  std::string text;
  std::string raw;
  uint16_t line_count = 0;
  size_t consumed = 0;
  bool operator==(const OwnedReply&) const = default;
};

// Outcome is what a connection ends up with after feeding all the bytes.
struct Outcome {
  std::vector<OwnedReply> replies;
  ReplyParse end = ReplyParse::kIncomplete;  // kIncomplete or kMalformed
  std::string error;
  bool operator==(const Outcome&) const = default;
};

std::string describe(const Outcome& o) {
  std::string s = std::to_string(o.replies.size()) + " replies:";
  for (const OwnedReply& r : o.replies) {
    s += " [" + std::to_string(r.code) + " '" + r.text + "' lines=" + std::to_string(r.line_count) +
         " consumed=" + std::to_string(r.consumed) + "]";
  }
  s += o.end == ReplyParse::kMalformed ? " malformed: " + o.error : " incomplete";
  return s;
}

// Checks the views of a complete reply lie inside the buffer, raw at its start.
void expect_views_inside(const std::string& buffer, const SmtpReply& reply, size_t consumed) {
  ASSERT_LE(consumed, buffer.size());
  ASSERT_EQ(reply.raw.data(), buffer.data());
  ASSERT_EQ(reply.raw.size(), consumed);
  if (!reply.text.empty()) {
    ASSERT_GE(reply.text.data(), reply.raw.data());
    ASSERT_LE(reply.text.data() + reply.text.size(), reply.raw.data() + reply.raw.size());
  }
}

// drive feeds |input| in chunks ending at |cuts| (ascending) and at the end,
// parsing after each append like a connection does.
Outcome drive(std::string_view input, const std::vector<size_t>& cuts) {
  Outcome out;
  std::string buffer;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    buffer.append(input.substr(fed, end - fed));
    fed = end;
    for (;;) {
      SmtpReply reply;
      size_t consumed = 99;
      const char* error = "unset";
      const ReplyParse r = parse_reply(buffer.data(), buffer.size(), reply, consumed, error);
      if (r == ReplyParse::kComplete) {
        EXPECT_EQ(error, nullptr);
        expect_views_inside(buffer, reply, consumed);
        OwnedReply owned{reply.code,
                         reply.has_enhanced,
                         reply.enhanced_class,
                         reply.enhanced_subject,
                         reply.enhanced_detail,
                         std::string(reply.text),
                         std::string(reply.raw),
                         reply.line_count,
                         consumed};
        out.replies.push_back(owned);
        buffer.erase(0, consumed);
        continue;
      }
      EXPECT_EQ(consumed, 0u);
      EXPECT_EQ(reply.code, 0);
      if (r == ReplyParse::kMalformed) {
        EXPECT_NE(error, nullptr);
        out.end = ReplyParse::kMalformed;
        out.error = error != nullptr ? error : "";
        return out;  // a connection closes here; the rest is never parsed
      }
      EXPECT_EQ(error, nullptr);
      break;
    }
  }
  return out;
}

// ExpectedReply: enhanced_class < 0 means "no enhanced code".
struct ExpectedReply {
  uint16_t code;
  int enhanced_class;
  int enhanced_subject;
  int enhanced_detail;
  std::string text;
  uint16_t line_count;
  size_t raw_size;
};

struct ReplyCase {
  const char* name;
  std::string input;
  std::vector<ExpectedReply> replies;
  ReplyParse end;          // after the last reply: kIncomplete or kMalformed
  const char* error_part;  // substring of the error when kMalformed
};

// PrintTo names a case in gtest messages instead of dumping its bytes.
void PrintTo(const ReplyCase& c, std::ostream* os) { *os << c.name; }

constexpr int kNo = -1;

std::string repeat(std::string_view s, size_t n) {
  std::string r;
  for (size_t i = 0; i < n; ++i) r += s;
  return r;
}

// A one-line reply of exactly |size| bytes: "250 xxx...\r\n".
std::string line_of_size(size_t size) { return "250 " + std::string(size - 6, 'x') + "\r\n"; }

// A multi-line reply of exactly |size| bytes (size >= 10): "250-xxxx\r\n"... "250 x..\r\n".
std::string multiline_of_size(size_t size) {
  const std::string cont = "250-abcd\r\n";  // 10 bytes
  const size_t n = (size - 8) / 10;         // leave >= 8 for the last line
  std::string r = repeat(cont, n);
  r += "250 " + std::string(size - r.size() - 6, 'y') + "\r\n";
  return r;
}

std::vector<ReplyCase> cases() {
  const std::string burst =
      "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n250 2.1.5 Recipient ok\r\n"
      "354 End data with <CR><LF>.<CR><LF>\r\n";
  return {
      {"empty", "", {}, ReplyParse::kIncomplete, nullptr},
      {"single", "250 OK\r\n", {{250, kNo, 0, 0, "OK", 1, 8}}, ReplyParse::kIncomplete, nullptr},
      {"greeting",
       "220 mx.example.org ESMTP Postfix\r\n",
       {{220, kNo, 0, 0, "mx.example.org ESMTP Postfix", 1, 34}},
       ReplyParse::kIncomplete,
       nullptr},
      {"multi_line",
       "250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n",
       {{250, kNo, 0, 0, "SIZE 10240000", 3, 55}},
       ReplyParse::kIncomplete,
       nullptr},
      {"no_text", "250\r\n", {{250, kNo, 0, 0, "", 1, 5}}, ReplyParse::kIncomplete, nullptr},
      {"space_no_text", "250 \r\n", {{250, kNo, 0, 0, "", 1, 6}}, ReplyParse::kIncomplete, nullptr},
      {"bare_lf", "250 OK\n", {{250, kNo, 0, 0, "OK", 1, 7}}, ReplyParse::kIncomplete, nullptr},
      {"bare_lf_no_text", "250\n", {{250, kNo, 0, 0, "", 1, 4}}, ReplyParse::kIncomplete, nullptr},
      {"bare_lf_multi",
       "250-a\n250-b\r\n250 c\n",
       {{250, kNo, 0, 0, "c", 3, 19}},
       ReplyParse::kIncomplete,
       nullptr},
      {"continuation_without_text",
       "250-\r\n250\r\n",
       {{250, kNo, 0, 0, "", 2, 11}},
       ReplyParse::kIncomplete,
       nullptr},
      {"enhanced", "250 2.1.0 Ok\r\n", {{250, 2, 1, 0, "Ok", 1, 14}}, ReplyParse::kIncomplete, nullptr},
      {"enhanced_rejection",
       "550 5.1.1 <bob@example.org>: Recipient address rejected\r\n",
       {{550, 5, 1, 1, "<bob@example.org>: Recipient address rejected", 1, 57}},
       ReplyParse::kIncomplete,
       nullptr},
      {"enhanced_three_digit_parts",
       "554 5.100.200 odd\r\n",
       {{554, 5, 100, 200, "odd", 1, 19}},
       ReplyParse::kIncomplete,
       nullptr},
      {"enhanced_many_spaces",
       "454 4.7.0  Throttling failure\r\n",
       {{454, 4, 7, 0, "Throttling failure", 1, 31}},
       ReplyParse::kIncomplete,
       nullptr},
      {"enhanced_alone", "250 2.0.0\r\n", {{250, 2, 0, 0, "", 1, 11}}, ReplyParse::kIncomplete, nullptr},
      {"enhanced_alone_bare_lf",
       "250 2.0.0\n",
       {{250, 2, 0, 0, "", 1, 10}},
       ReplyParse::kIncomplete,
       nullptr},
      {"enhanced_on_last_line_only",
       "550-5.7.1 first line\r\n550 second line\r\n",
       {{550, kNo, 0, 0, "second line", 2, 39}},
       ReplyParse::kIncomplete,
       nullptr},
      {"enhanced_multi_line",
       "550-5.7.1 first\r\n550 5.7.1 last\r\n",
       {{550, 5, 7, 1, "last", 2, 33}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_short",
       "554 5.1\r\n",
       {{554, kNo, 0, 0, "5.1", 1, 9}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_two_parts",
       "554 5.1 text\r\n",
       {{554, kNo, 0, 0, "5.1 text", 1, 14}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_class_mismatch",
       "250 5.1.1 odd\r\n",
       {{250, kNo, 0, 0, "5.1.1 odd", 1, 15}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_bad_class",
       "550 3.1.1 x\r\n",
       {{550, kNo, 0, 0, "3.1.1 x", 1, 13}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_glued",
       "250 2.0.0x\r\n",
       {{250, kNo, 0, 0, "2.0.0x", 1, 12}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_long_subject",
       "550 5.1234.1 x\r\n",
       {{550, kNo, 0, 0, "5.1234.1 x", 1, 16}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_long_detail",
       "550 5.1.1234 x\r\n",
       {{550, kNo, 0, 0, "5.1.1234 x", 1, 16}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_empty_part",
       "550 5..1 x\r\n",
       {{550, kNo, 0, 0, "5..1 x", 1, 12}},
       ReplyParse::kIncomplete,
       nullptr},
      {"not_enhanced_trailing_dot",
       "550 5.1.\r\n",
       {{550, kNo, 0, 0, "5.1.", 1, 10}},
       ReplyParse::kIncomplete,
       nullptr},
      {"bare_cr_in_text", "250 a\rb\r\n", {{250, kNo, 0, 0, "a\rb", 1, 9}}, ReplyParse::kIncomplete, nullptr},
      {"nul_in_text",
       std::string("250 a\0b\r\n", 9),
       {{250, kNo, 0, 0, std::string("a\0b", 3), 1, 9}},
       ReplyParse::kIncomplete,
       nullptr},
      {"pipelined_burst",
       burst,
       {{250, 2, 1, 0, "Sender ok", 1, 21},
        {250, 2, 1, 5, "Recipient ok", 1, 24},
        {250, 2, 1, 5, "Recipient ok", 1, 24},
        {354, kNo, 0, 0, "End data with <CR><LF>.<CR><LF>", 1, 37}},
       ReplyParse::kIncomplete,
       nullptr},
      {"back_to_back_multi",
       "220-hi\r\n220 there\r\n250-a\n250 b\n",
       {{220, kNo, 0, 0, "there", 2, 19}, {250, kNo, 0, 0, "b", 2, 12}},
       ReplyParse::kIncomplete,
       nullptr},
      {"complete_then_partial",
       "250 a\r\n25",
       {{250, kNo, 0, 0, "a", 1, 7}},
       ReplyParse::kIncomplete,
       nullptr},
      {"partial_continuation", "250-a\r\n250", {}, ReplyParse::kIncomplete, nullptr},
      {"partial_cr", "250\r", {}, ReplyParse::kIncomplete, nullptr},
      {"complete_then_garbage",
       "250 a\r\nHTTP/1.1 400\r\n",
       {{250, kNo, 0, 0, "a", 1, 7}},
       ReplyParse::kMalformed,
       "three digits"},
      {"code_mismatch", "250-a\r\n251 b\r\n", {}, ReplyParse::kMalformed, "changes"},
      {"code_mismatch_late", "250-a\r\n250-b\r\n350 c\r\n", {}, ReplyParse::kMalformed, "changes"},
      {"letters", "2X0 hello\r\n", {}, ReplyParse::kMalformed, "three digits"},
      {"ssh_banner", "SSH-2.0-OpenSSH_9.2\r\n", {}, ReplyParse::kMalformed, "three digits"},
      {"empty_line", "\r\n", {}, ReplyParse::kMalformed, "three digits"},
      {"empty_lf", "\n", {}, ReplyParse::kMalformed, "three digits"},
      {"two_digits", "25\r\n", {}, ReplyParse::kMalformed, "three digits"},
      {"two_digits_space", "25 x\r\n", {}, ReplyParse::kMalformed, "three digits"},
      {"four_digits", "2500 x\r\n", {}, ReplyParse::kMalformed, "neither"},
      {"first_digit_1", "150 x\r\n", {}, ReplyParse::kMalformed, "range"},
      {"first_digit_6", "650 x\r\n", {}, ReplyParse::kMalformed, "range"},
      {"second_digit_6", "260 x\r\n", {}, ReplyParse::kMalformed, "range"},
      {"bad_separator", "250x\r\n", {}, ReplyParse::kMalformed, "neither"},
      {"tab_separator", "250\tx\r\n", {}, ReplyParse::kMalformed, "neither"},
      {"double_cr", "250\r\r\n", {}, ReplyParse::kMalformed, "neither"},
      {"cr_then_text", "250\rx\r\n", {}, ReplyParse::kMalformed, "neither"},
      {"bad_second_line", "250-a\r\nxyz\r\n", {}, ReplyParse::kMalformed, "three digits"},
      {"exactly_max_one_line",
       line_of_size(kMaxReplyBytes),
       {{250, kNo, 0, 0, std::string(kMaxReplyBytes - 6, 'x'), 1, kMaxReplyBytes}},
       ReplyParse::kIncomplete,
       nullptr},
      {"one_over_max_one_line", line_of_size(kMaxReplyBytes + 1), {}, ReplyParse::kMalformed, "too long"},
      {"exactly_max_multi_line",
       multiline_of_size(kMaxReplyBytes),
       {{250, kNo, 0, 0, std::string(kMaxReplyBytes - (kMaxReplyBytes - 8) / 10 * 10 - 6, 'y'),
         static_cast<uint16_t>((kMaxReplyBytes - 8) / 10 + 1), kMaxReplyBytes}},
       ReplyParse::kIncomplete,
       nullptr},
      {"one_over_max_multi_line",
       multiline_of_size(kMaxReplyBytes + 1),
       {},
       ReplyParse::kMalformed,
       "too long"},
      {"max_then_next",
       line_of_size(kMaxReplyBytes) + "250 ok\r\n",
       {{250, kNo, 0, 0, std::string(kMaxReplyBytes - 6, 'x'), 1, kMaxReplyBytes},
        {250, kNo, 0, 0, "ok", 1, 8}},
       ReplyParse::kIncomplete,
       nullptr},
      {"endless_continuation", repeat("250-abcd\r\n", 1700), {}, ReplyParse::kMalformed, "too long"},
  };
}

Outcome expected_outcome(const ReplyCase& c) {
  Outcome o;
  size_t offset = 0;
  for (const ExpectedReply& e : c.replies) {
    OwnedReply r;
    r.code = e.code;
    r.has_enhanced = e.enhanced_class >= 0;
    if (r.has_enhanced) {
      r.enhanced_class = e.enhanced_class;
      r.enhanced_subject = e.enhanced_subject;
      r.enhanced_detail = e.enhanced_detail;
    }
    r.text = e.text;
    r.raw = c.input.substr(offset, e.raw_size);
    r.line_count = e.line_count;
    r.consumed = e.raw_size;
    offset += e.raw_size;
    o.replies.push_back(r);
  }
  o.end = c.end;
  return o;
}

class SmtpReplyTableTest : public testing::TestWithParam<ReplyCase> {};

TEST_P(SmtpReplyTableTest, WholeInputGivesExpectedReplies) {
  const ReplyCase& c = GetParam();
  Outcome got = drive(c.input, {});
  Outcome want = expected_outcome(c);
  if (c.end == ReplyParse::kMalformed) {
    EXPECT_NE(got.error.find(c.error_part), std::string::npos) << got.error;
    want.error = got.error;
  }
  EXPECT_EQ(got, want) << "got " << describe(got) << "\nwant " << describe(want);
}

TEST_P(SmtpReplyTableTest, EverySplitPointGivesSameResult) {
  const ReplyCase& c = GetParam();
  const Outcome whole = drive(c.input, {});
  for (size_t cut = 0; cut <= c.input.size(); ++cut) {
    const Outcome split = drive(c.input, {cut});
    ASSERT_EQ(split, whole) << "split at " << cut << ": " << describe(split);
  }
}

TEST_P(SmtpReplyTableTest, ByteAtATimeGivesSameResult) {
  const ReplyCase& c = GetParam();
  const Outcome whole = drive(c.input, {});
  std::vector<size_t> cuts;
  for (size_t i = 1; i < c.input.size(); ++i) cuts.push_back(i);
  const Outcome bytes = drive(c.input, cuts);
  EXPECT_EQ(bytes, whole) << describe(bytes);
}

// Every prefix of the input (no consumption) is either incomplete or gives
// exactly the verdict of the whole input.
TEST_P(SmtpReplyTableTest, EveryPrefixIsIncompleteOrFinal) {
  const ReplyCase& c = GetParam();
  SmtpReply whole;
  size_t whole_consumed = 0;
  const char* whole_error = nullptr;
  const ReplyParse whole_result =
      parse_reply(c.input.data(), c.input.size(), whole, whole_consumed, whole_error);
  bool decided = false;
  for (size_t n = 0; n <= c.input.size(); ++n) {
    SmtpReply reply;
    size_t consumed = 0;
    const char* error = nullptr;
    const ReplyParse r = parse_reply(c.input.data(), n, reply, consumed, error);
    if (r == ReplyParse::kIncomplete) {
      ASSERT_FALSE(decided) << "prefix " << n << " went back to incomplete";
      continue;
    }
    decided = true;
    ASSERT_EQ(r, whole_result) << "prefix " << n;
    ASSERT_EQ(consumed, whole_consumed) << "prefix " << n;
    ASSERT_EQ(reply.raw, whole.raw) << "prefix " << n;
    ASSERT_EQ(reply.text, whole.text) << "prefix " << n;
    ASSERT_STREQ(error, whole_error) << "prefix " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SmtpReplyTableTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<ReplyCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(SmtpReplyTest, DataPastTheWindowIsNeverRead) {
  // A complete reply sits past kMaxReplyBytes: it must not be found, and the
  // verdict is "too long" because the first reply has not ended in time.
  std::string data(kMaxReplyBytes - 3, 'x');
  data = "250-" + data.substr(4) + "\r\n250 ok\r\n";
  SmtpReply reply;
  size_t consumed = 0;
  const char* error = nullptr;
  EXPECT_EQ(parse_reply(data.data(), data.size(), reply, consumed, error), ReplyParse::kMalformed);
  EXPECT_NE(std::string_view(error).find("too long"), std::string_view::npos);
}

TEST(SmtpReplyTest, LineIteratorGivesEachLineText) {
  const std::string input = "250-mx.example.org Hello\r\n250-\r\n250-SIZE 100\n250 2.0.0 done\r\n";
  SmtpReply reply;
  size_t consumed = 0;
  const char* error = nullptr;
  ASSERT_EQ(parse_reply(input.data(), input.size(), reply, consumed, error), ReplyParse::kComplete);
  std::vector<std::string> lines;
  EXPECT_TRUE(for_each_reply_line(reply, [&](std::string_view t) { lines.emplace_back(t); }));
  EXPECT_EQ(lines, (std::vector<std::string>{"mx.example.org Hello", "", "SIZE 100", "2.0.0 done"}));
  EXPECT_EQ(reply.line_count, 4);
  EXPECT_EQ(reply.text, "done");
}

TEST(SmtpReplyTest, LineIteratorStopsWhenCallbackSaysSo) {
  const std::string input = "250-a\r\n250-b\r\n250 c\r\n";
  SmtpReply reply;
  size_t consumed = 0;
  const char* error = nullptr;
  ASSERT_EQ(parse_reply(input.data(), input.size(), reply, consumed, error), ReplyParse::kComplete);
  int calls = 0;
  EXPECT_FALSE(for_each_reply_line(reply, [&](std::string_view t) {
    ++calls;
    return t != "b";
  }));
  EXPECT_EQ(calls, 2);
}

TEST(SmtpReplyTest, LineIteratorIsSafeOnHandMadeReplies) {
  SmtpReply reply;
  reply.raw = "25";  // not from the parser: no LF, shorter than a code
  ReplyLineIterator it(reply);
  std::string_view t = "unset";
  ASSERT_TRUE(it.next(t));
  EXPECT_EQ(t, "");
  EXPECT_FALSE(it.next(t));
  SmtpReply empty;
  ReplyLineIterator it2(empty);
  EXPECT_FALSE(it2.next(t));
}

}  // namespace
}  // namespace ringmail
