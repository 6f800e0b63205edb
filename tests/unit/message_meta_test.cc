// tests/unit/message_meta_test.cc — the meta/ID side file format
// (queue/message_meta.h): round trips, the exact text written, malformed
// records with their error sentences, buffer limits. In memory only.
#include "queue/message_meta.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace ringmail {
namespace {

std::string format(const MessageMeta& meta, size_t cap = kMaxMetaBytes) {
  std::string buf(cap, '\0');
  const size_t n = format_message_meta(meta, buf.data(), buf.size());
  buf.resize(n);
  return buf;
}

TEST(MessageMetaTest, FormatsExactText) {
  auto meta = std::make_unique<MessageMeta>();
  meta->attempts = 3;
  meta->first_attempt = 1712345678;
  meta->next_attempt = 1712349278;
  meta->last_reply = "451 4.7.1 Try again\r\nlater";
  meta->marks[meta->mark_count++] = {"done@y.org", false, ""};
  meta->marks[meta->mark_count++] = {"gone@y.org", true, "550 5.1.1 No such user"};
  EXPECT_EQ(format(*meta),
            "attempts 3\nfirst_attempt 1712345678\nnext_attempt 1712349278\n"
            "last_reply 451 4.7.1 Try again  later\n"
            "done done@y.org\nfailed gone@y.org 550 5.1.1 No such user\n");
}

TEST(MessageMetaTest, RoundTrip) {
  auto meta = std::make_unique<MessageMeta>();
  meta->attempts = 4294967295u;
  meta->first_attempt = 1;
  meta->next_attempt = INT64_MAX;
  meta->last_reply = "  leading blanks kept";
  meta->reason = "expired after 5d: 451 try later";
  meta->marks[meta->mark_count++] = {"a@y.org", true, ""};
  meta->marks[meta->mark_count++] = {"b@y.org", false, ""};
  const std::string text = format(*meta);
  ASSERT_FALSE(text.empty());
  auto parsed = std::make_unique<MessageMeta>();
  std::string error;
  ASSERT_TRUE(parse_message_meta(text, *parsed, error)) << error;
  EXPECT_EQ(parsed->attempts, meta->attempts);
  EXPECT_EQ(parsed->first_attempt, meta->first_attempt);
  EXPECT_EQ(parsed->next_attempt, meta->next_attempt);
  EXPECT_EQ(parsed->last_reply, meta->last_reply);
  EXPECT_EQ(parsed->reason, meta->reason);
  ASSERT_EQ(parsed->mark_count, 2u);
  EXPECT_EQ(parsed->marks[0].address, "a@y.org");
  EXPECT_TRUE(parsed->marks[0].failed);
  EXPECT_EQ(parsed->marks[0].reply, "");
  EXPECT_FALSE(parsed->marks[1].failed);
  EXPECT_EQ(format(*parsed), text);
}

TEST(MessageMetaTest, EmptyTextIsNeverAttempted) {
  auto meta = std::make_unique<MessageMeta>();
  std::string error;
  ASSERT_TRUE(parse_message_meta("", *meta, error));
  EXPECT_EQ(meta->attempts, 0u);
  EXPECT_EQ(meta->mark_count, 0u);
}

TEST(MessageMetaTest, ToleratesCrlfBlankLinesAndMissingFinalNewline) {
  auto meta = std::make_unique<MessageMeta>();
  std::string error;
  ASSERT_TRUE(parse_message_meta("attempts 2\r\n\r\nfailed x@y 550 no\r\ndone z@y", *meta, error)) << error;
  EXPECT_EQ(meta->attempts, 2u);
  ASSERT_EQ(meta->mark_count, 2u);
  EXPECT_EQ(meta->marks[0].reply, "550 no");
  EXPECT_EQ(meta->marks[1].address, "z@y");
}

TEST(MessageMetaTest, FindMark) {
  auto meta = std::make_unique<MessageMeta>();
  std::string error;
  ASSERT_TRUE(parse_message_meta("done a@Y.org\nfailed b@y.org 550 no\n", *meta, error)) << error;
  ASSERT_NE(find_mark(*meta, "a@y.ORG"), nullptr);
  EXPECT_FALSE(find_mark(*meta, "a@y.ORG")->failed);
  ASSERT_NE(find_mark(*meta, "b@y.org"), nullptr);
  EXPECT_EQ(find_mark(*meta, "b@y.org")->reply, "550 no");
  EXPECT_EQ(find_mark(*meta, "A@y.org"), nullptr);
  EXPECT_EQ(find_mark(*meta, "c@y.org"), nullptr);
}

struct MalformedCase {
  const char* text;
  const char* error_substr;
};

TEST(MessageMetaTest, Malformed) {
  const MalformedCase table[] = {
      {"attempts 1\ncolour blue\n", "meta line 2: unknown record 'colour'"},
      {"attempts x\n", "meta line 1: attempts is not a number"},
      {"attempts\n", "attempts is not a number"},
      {"attempts -1\n", "attempts is not a number"},
      {"attempts 4294967296\n", "attempts is not a number"},
      {"next_attempt 99999999999999999999\n", "next_attempt is not a unix time"},
      {"first_attempt 1\nfirst_attempt 2\n", "meta line 2: record 'first_attempt' appears twice"},
      {"reason a\nreason b\n", "appears twice"},
      {"done\n", "'done' needs an address"},
      {"done a b@y\n", "'done' needs an address"},
      {"failed  550 x\n", "'failed' needs an address"},
      {"done a@y\nfailed a@Y 550\n", "meta line 2: recipient 'a@Y' is marked twice"},
      {"Attempts 1\n", "unknown record 'Attempts'"},
  };
  for (const MalformedCase& tc : table) {
    auto meta = std::make_unique<MessageMeta>();
    std::string error;
    EXPECT_FALSE(parse_message_meta(tc.text, *meta, error)) << tc.text;
    EXPECT_NE(error.find(tc.error_substr), std::string::npos) << tc.text << " -> " << error;
  }
  auto meta = std::make_unique<MessageMeta>();
  std::string error;
  EXPECT_FALSE(parse_message_meta(std::string(kMaxMetaBytes + 1, '\n'), *meta, error));
  EXPECT_NE(error.find("larger than 65536 bytes"), std::string::npos) << error;
}

TEST(MessageMetaTest, MarkLimit) {
  std::string text;
  for (size_t i = 0; i <= kMaxRecipients; ++i) text += "done r" + std::to_string(i) + "@y\n";
  auto meta = std::make_unique<MessageMeta>();
  std::string error;
  EXPECT_FALSE(parse_message_meta(text, *meta, error));
  EXPECT_NE(error.find("more than 1000 recipient marks"), std::string::npos) << error;
  text.resize(text.rfind("done r1000"));
  EXPECT_TRUE(parse_message_meta(text, *meta, error)) << error;
  EXPECT_EQ(meta->mark_count, kMaxRecipients);
}

TEST(MessageMetaTest, FormatReturnsZeroWhenItDoesNotFit) {
  auto meta = std::make_unique<MessageMeta>();
  meta->attempts = 1;
  meta->last_reply = "451 later";
  const std::string full = format(*meta);
  ASSERT_FALSE(full.empty());
  std::string buf(full.size(), '\0');
  EXPECT_EQ(format_message_meta(*meta, buf.data(), full.size()), full.size());
  EXPECT_EQ(format_message_meta(*meta, buf.data(), full.size() - 1), 0u);
  EXPECT_EQ(format_message_meta(*meta, buf.data(), 0), 0u);
}

TEST(MessageMetaTest, FormatRefusesUnwritableAddress) {
  auto meta = std::make_unique<MessageMeta>();
  meta->marks[meta->mark_count++] = {"a b@y", false, ""};
  char buf[256];
  EXPECT_EQ(format_message_meta(*meta, buf, sizeof(buf)), 0u);
  meta->marks[0] = {"", true, "550"};
  EXPECT_EQ(format_message_meta(*meta, buf, sizeof(buf)), 0u);
}

}  // namespace
}  // namespace ringmail
