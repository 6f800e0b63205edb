// tests/unit/body_encoder_test.cc — CRLF canonicalisation and dot-stuffing
// for DATA (engine/body_encoder.h).
//
// A table of input → wire form; every input is also encoded split at every
// byte position, with output room of 1..8 bytes per call, and both at once;
// every way must give the same bytes. Random inputs are checked against a
// simple whole-string reference encoder.
#include "engine/body_encoder.h"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/body_reference.h"

namespace ringmail {
namespace {

using testing_support::reference_encode;

// encode_all feeds |input| in chunks ending at |cuts| (ascending) with at
// most |out_cap| bytes of output room per call, then finishes.
std::string encode_all(BodyEncoder& enc, std::string_view input, const std::vector<size_t>& cuts,
                       size_t out_cap) {
  std::string out;
  std::vector<char> buf(out_cap);
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  size_t fed = 0;
  for (size_t end : ends) {
    std::string_view chunk = input.substr(fed, end - fed);
    fed = end;
    // Bounded: every call makes progress, and there are at most 2 output
    // bytes per input byte.
    const size_t max_calls = 4 * chunk.size() + 4;
    for (size_t calls = 0; calls < max_calls; ++calls) {
      if (chunk.empty()) break;
      size_t in_used = 99;
      size_t out_used = 99;
      enc.encode(chunk.data(), chunk.size(), buf.data(), out_cap, in_used, out_used);
      EXPECT_LE(in_used, chunk.size());
      EXPECT_LE(out_used, out_cap);
      EXPECT_TRUE(in_used > 0 || out_used > 0) << "no progress with out_cap " << out_cap;
      if (in_used == 0 && out_used == 0) return "<stuck>";
      out.append(buf.data(), out_used);
      chunk.remove_prefix(in_used);
    }
    EXPECT_TRUE(chunk.empty()) << "input left over";
  }
  char tail[kMaxFinishBytes];
  const size_t n = enc.finish(tail, sizeof(tail));
  EXPECT_LE(n, kMaxFinishBytes);
  out.append(tail, n);
  return out;
}

std::string encode_whole(std::string_view input) {
  BodyEncoder enc;
  return encode_all(enc, input, {}, 2 * input.size() + 1);
}

// Checks the wire invariants: every CR is followed by LF, every LF preceded
// by CR, no line starts with a single '.' except the final ".\r\n".
void expect_wire_form(const std::string& wire) {
  ASSERT_GE(wire.size(), 3u);
  ASSERT_EQ(wire.substr(wire.size() - 3), ".\r\n");
  for (size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r') {
      ASSERT_TRUE(i + 1 < wire.size() && wire[i + 1] == '\n') << i;
    }
    if (wire[i] == '\n') {
      ASSERT_TRUE(i > 0 && wire[i - 1] == '\r') << i;
    }
  }
  const std::string body = wire.substr(0, wire.size() - 3);
  for (size_t i = 0; i < body.size(); ++i) {
    const bool line_start = i == 0 || body[i - 1] == '\n';
    if (line_start && body[i] == '.') {
      ASSERT_TRUE(i + 1 < body.size() && body[i + 1] == '.') << i;
    }
  }
  // The body ends with a line ending (or is empty) before the terminator.
  if (!body.empty()) {
    ASSERT_EQ(body.substr(body.size() - 2), "\r\n");
  }
}

struct EncodeCase {
  const char* name;
  std::string input;
  std::string want;  // wire form, terminator included
};

// PrintTo names a case in gtest messages instead of dumping its bytes.
void PrintTo(const EncodeCase& c, std::ostream* os) { *os << c.name; }

std::vector<EncodeCase> cases() {
  return {
      {"empty", "", ".\r\n"},
      {"no_line_end", "a", "a\r\n.\r\n"},
      {"crlf", "a\r\n", "a\r\n.\r\n"},
      {"bare_lf", "a\n", "a\r\n.\r\n"},
      {"bare_cr_at_end", "a\r", "a\r\n.\r\n"},
      {"bare_cr_inside", "a\rb", "a\r\nb\r\n.\r\n"},
      {"cr_cr_lf", "\r\r\n", "\r\n\r\n.\r\n"},
      {"lf_cr", "\n\r", "\r\n\r\n.\r\n"},
      {"lf_lf", "\n\n", "\r\n\r\n.\r\n"},
      {"cr_only", "\r", "\r\n.\r\n"},
      {"lf_only", "\n", "\r\n.\r\n"},
      {"crlf_only", "\r\n", "\r\n.\r\n"},
      {"crlfcrlf", "\r\n\r\n", "\r\n\r\n.\r\n"},
      {"dot", ".", "..\r\n.\r\n"},
      {"dot_line", ".\r\n", "..\r\n.\r\n"},
      {"two_dots", "..\r\n", "...\r\n.\r\n"},
      {"dot_inside_line", "a.b\r\n", "a.b\r\n.\r\n"},
      {"dot_after_space", " .\r\n", " .\r\n.\r\n"},
      {"dot_lines", "a\r\n.b\r\n.\r\n", "a\r\n..b\r\n..\r\n.\r\n"},
      {"dot_after_bare_lf", "x\n.\n", "x\r\n..\r\n.\r\n"},
      {"dot_after_bare_cr", "x\r.\r", "x\r\n..\r\n.\r\n"},
      {"dot_after_cr_cr", "x\r\r.y", "x\r\n\r\n..y\r\n.\r\n"},
      {"terminator_lookalike", "a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
      {"dot_dot_dot_lines", "...\n...\n", "....\r\n....\r\n.\r\n"},
      {"mixed_endings", "a\r\nb\nc\rd\r\n", "a\r\nb\r\nc\r\nd\r\n.\r\n"},
      {"eight_bit_and_nul", std::string("\xc3\xa9\0\xff\r\n", 6), std::string("\xc3\xa9\0\xff\r\n.\r\n", 9)},
      {"message",
       "From: alerts@example.org\nTo: ops@example.org\nSubject: disk full\n\n"
       "Host db1: /var is 99% full.\n.\nEnd.\n",
       "From: alerts@example.org\r\nTo: ops@example.org\r\nSubject: disk full\r\n\r\n"
       "Host db1: /var is 99% full.\r\n..\r\nEnd.\r\n.\r\n"},
  };
}

class BodyEncoderTableTest : public testing::TestWithParam<EncodeCase> {};

TEST_P(BodyEncoderTableTest, WholeInput) {
  const EncodeCase& c = GetParam();
  const std::string got = encode_whole(c.input);
  EXPECT_EQ(got, c.want);
  EXPECT_EQ(got, reference_encode(c.input));
  expect_wire_form(got);
}

TEST_P(BodyEncoderTableTest, EverySplitPoint) {
  const EncodeCase& c = GetParam();
  for (size_t cut = 0; cut <= c.input.size(); ++cut) {
    BodyEncoder enc;
    ASSERT_EQ(encode_all(enc, c.input, {cut}, 2 * c.input.size() + 1), c.want) << "cut " << cut;
  }
}

TEST_P(BodyEncoderTableTest, ByteAtATime) {
  const EncodeCase& c = GetParam();
  std::vector<size_t> cuts;
  for (size_t i = 1; i < c.input.size(); ++i) cuts.push_back(i);
  BodyEncoder enc;
  EXPECT_EQ(encode_all(enc, c.input, cuts, 3), c.want);
}

TEST_P(BodyEncoderTableTest, TinyOutputRoom) {
  const EncodeCase& c = GetParam();
  for (size_t out_cap = 1; out_cap <= 8; ++out_cap) {
    BodyEncoder enc;
    ASSERT_EQ(encode_all(enc, c.input, {}, out_cap), c.want) << "out_cap " << out_cap;
  }
}

TEST_P(BodyEncoderTableTest, EverySplitPointWithTinyOutputRoom) {
  const EncodeCase& c = GetParam();
  for (size_t cut = 0; cut <= c.input.size(); ++cut) {
    for (size_t out_cap = 1; out_cap <= 8; ++out_cap) {
      BodyEncoder enc;
      ASSERT_EQ(encode_all(enc, c.input, {cut}, out_cap), c.want) << "cut " << cut << " out_cap " << out_cap;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BodyEncoderTableTest, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<EncodeCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(BodyEncoderTest, RandomInputsMatchReference) {
  std::mt19937 rng(20240611);  // fixed seed: failures reproduce
  const char alphabet[] = {'a', '.', '\r', '\n', ' '};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string input(rng() % 48, 'a');
    for (char& ch : input) ch = alphabet[rng() % sizeof(alphabet)];
    std::vector<size_t> cuts;
    for (size_t pos = 0; pos < input.size(); pos += 1 + rng() % 6) cuts.push_back(pos);
    const size_t out_cap = 1 + rng() % 10;
    const std::string want = reference_encode(input);
    BodyEncoder enc;
    const std::string got = encode_all(enc, input, cuts, out_cap);
    ASSERT_EQ(got, want) << "iteration " << iter;
    expect_wire_form(got);
  }
}

TEST(BodyEncoderTest, DoubleRoomAlwaysConsumesEverything) {
  const std::vector<std::string> inputs = {"\n\n\n\n", "\r\r\r\r", ".\n.\n.\n",           "\r.\r.\r.",
                                           "abc",      ".",        std::string(100, '\n')};
  for (const std::string& input : inputs) {
    // Also after a chunk that ended with '\r' (the pending-LF state).
    for (bool after_cr : {false, true}) {
      BodyEncoder enc;
      std::vector<char> out(2 * input.size() + 2);
      size_t in_used = 0;
      size_t out_used = 0;
      if (after_cr) enc.encode("\r", 1, out.data(), 2, in_used, out_used);
      enc.encode(input.data(), input.size(), out.data(), 2 * input.size(), in_used, out_used);
      EXPECT_EQ(in_used, input.size()) << input;
    }
  }
}

TEST(BodyEncoderTest, FinishResetsForTheNextMessage) {
  BodyEncoder enc;
  EXPECT_EQ(encode_all(enc, "abc\r", {}, 16), "abc\r\n.\r\n");
  // Had the pending-LF state survived, this "\n" would be swallowed.
  EXPECT_EQ(encode_all(enc, "\n.x", {}, 16), "\r\n..x\r\n.\r\n");
}

TEST(BodyEncoderTest, ResetDropsHalfWrittenState) {
  BodyEncoder enc;
  char out[8];
  size_t in_used = 0;
  size_t out_used = 0;
  enc.encode("x\n", 2, out, 2, in_used, out_used);  // "x\r", LF owed
  EXPECT_EQ(in_used, 1u);
  EXPECT_EQ(out_used, 2u);
  enc.reset();
  EXPECT_EQ(encode_all(enc, ".", {}, 8), "..\r\n.\r\n");
}

TEST(BodyEncoderDeathTest, FinishWithTooLittleRoomAborts) {
  BodyEncoder enc;
  char out[kMaxFinishBytes];
  EXPECT_DEATH(enc.finish(out, kMaxFinishBytes - 1), "");
}

TEST(BodyEncoderDeathTest, FinishWithUnconsumedInputAborts) {
  BodyEncoder enc;
  char out[8];
  size_t in_used = 0;
  size_t out_used = 0;
  enc.encode("\n", 1, out, 1, in_used, out_used);  // "\r" written, "\n" owed
  ASSERT_EQ(in_used, 0u);
  EXPECT_DEATH(enc.finish(out, sizeof(out)), "");
}

}  // namespace
}  // namespace ringmail

namespace ringmail {
namespace {

// encode_chunk runs the BDAT mode (no dot-stuffing, finish_chunk) over
// |input| split at |cut|.
std::string encode_chunk(std::string_view input, size_t cut) {
  BodyEncoder enc;
  enc.reset(/*dot_stuffing=*/false);
  std::string out;
  char buf[4096];
  for (std::string_view part : {input.substr(0, cut), input.substr(cut)}) {
    while (!part.empty()) {
      size_t used = 0, produced = 0;
      enc.encode(part.data(), part.size(), buf, sizeof(buf), used, produced);
      out.append(buf, produced);
      part.remove_prefix(used);
    }
  }
  out.append(buf, enc.finish_chunk(buf, sizeof(buf)));
  return out;
}

TEST(BodyEncoderChunkTest, NoDotStuffingAndNoTerminator) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {".a\n", ".a\r\n"},
      {"x\n.\n..y\n", "x\r\n.\r\n..y\r\n"},
      {"a\r\n.b", "a\r\n.b\r\n"},  // a missing final line ending is added
      {"bare\rcr", "bare\r\ncr\r\n"},
      {"", ""},
  };
  for (const Case& c : cases) {
    const std::string_view in(c.in);
    for (size_t cut = 0; cut <= in.size(); ++cut) {
      EXPECT_EQ(encode_chunk(in, cut), c.out) << "input " << c.in << " cut at " << cut;
    }
  }
}

TEST(BodyEncoderChunkTest, FinishChunkResetsToDotStuffing) {
  BodyEncoder enc;
  enc.reset(false);
  char buf[16];
  size_t used = 0, produced = 0;
  enc.encode(".x\n", 3, buf, sizeof(buf), used, produced);
  EXPECT_EQ(std::string(buf, produced), ".x\r\n");
  EXPECT_EQ(enc.finish_chunk(buf, sizeof(buf)), 0u);
  enc.encode(".y\n", 3, buf, sizeof(buf), used, produced);
  EXPECT_EQ(std::string(buf, produced), "..y\r\n");  // DATA mode again
}

}  // namespace
}  // namespace ringmail

// ---------------------------------------------------------------------------
// Line length: no wire line over 998 octets + CRLF (RFC 5321 4.5.3.1.6).
// Header lines are folded with "\r\n " (a continuation line), body lines
// broken with "\r\n", as Postfix's smtp_line_length_limit does.

namespace ringmail {
namespace {

using testing_support::reference_encode;

// expect_short_lines checks that no CRLF-terminated line of |wire| is
// longer than 998 octets before its CRLF.
void expect_short_lines(const std::string& wire) {
  size_t start = 0;
  while (start < wire.size()) {
    size_t end = wire.find("\r\n", start);
    ASSERT_NE(end, std::string::npos) << "unterminated line at " << start;
    ASSERT_LE(end - start, kMaxLineBytes) << "line at " << start;
    start = end + 2;
  }
}

std::string repeat(char c, size_t n) { return std::string(n, c); }

TEST(BodyEncoderLineLength, HeaderIsFoldedBodyIsBroken) {
  BodyEncoder enc;
  const std::string header = "Subject: " + repeat('a', 1000);  // 1009 bytes
  const std::string body = repeat('b', 998) + ".x";            // a dot lands at the break
  const std::string input = header + "\n\n" + body + "\n";
  const std::string want = "Subject: " + repeat('a', 989) + "\r\n " + repeat('a', 11) + "\r\n\r\n" +
                           repeat('b', 998) + "\r\n..x\r\n.\r\n";
  EXPECT_EQ(encode_all(enc, input, {}, 2 * input.size() + 8), want);
  EXPECT_EQ(reference_encode(input), want);
}

TEST(BodyEncoderLineLength, ExactLimitIsNotBroken) {
  BodyEncoder enc;
  const std::string input = repeat('h', 998) + "\r\n\r\n" + repeat('b', 998) + "\r" + repeat('c', 998) + "\n";
  EXPECT_EQ(encode_all(enc, input, {}, 4 * input.size()),
            repeat('h', 998) + "\r\n\r\n" + repeat('b', 998) + "\r\n" + repeat('c', 998) + "\r\n.\r\n");
}

TEST(BodyEncoderLineLength, BdatBreaksWithoutStuffing) {
  const std::string input = "X: " + repeat('a', 996) + "\n\n" + repeat('b', 998) + ".y\n";
  const std::string want = "X: " + repeat('a', 995) + "\r\n a\r\n\r\n" + repeat('b', 998) + "\r\n.y\r\n";
  EXPECT_EQ(reference_encode(input, false), want);
  for (size_t cut : {size_t{0}, size_t{500}, size_t{998}, size_t{999}, size_t{1000}, input.size()}) {
    EXPECT_EQ(encode_chunk(input, cut), want) << "cut " << cut;
  }
}

// Around every break point: lines of 996..1000 and 1995..1998 bytes, in the
// header and in the body, with dots and line ends at the edges, encoded
// split at every byte and with output room of 1..5 bytes per call.
TEST(BodyEncoderLineLength, EverySplitPointMatchesTheReference) {
  std::vector<std::string> inputs;
  for (size_t n : {996, 997, 998, 999, 1000, 1995, 1996, 1997, 1998}) {
    inputs.push_back("S: " + repeat('h', n - 3) + "\r\n\r\n.");
    inputs.push_back("S: " + repeat('h', n - 3) + "\rT: x\n\n" + repeat('b', n) + ".\r.\n");
    inputs.push_back("\n" + repeat('.', n) + "\r\n");
  }
  for (const std::string& input : inputs) {
    const std::string want = reference_encode(input);
    expect_short_lines(want.substr(0, want.size() - 3));
    for (size_t cut = 0; cut <= input.size(); cut += (cut % 997 < 4 || cut % 997 > 993) ? 1 : 97) {
      for (size_t out_cap = 1; out_cap <= 5; ++out_cap) {
        BodyEncoder enc;
        ASSERT_EQ(encode_all(enc, input, {cut}, out_cap), want)
            << "input size " << input.size() << " cut " << cut << " out_cap " << out_cap;
      }
    }
  }
}

TEST(BodyEncoderLineLength, RandomLongLinesMatchReference) {
  std::mt19937 rng(20261130);
  const char alphabet[] = {'a', 'a', 'a', 'a', 'a', 'a', 'a', '.', '\r', '\n', ' '};
  for (int iter = 0; iter < 300; ++iter) {
    std::string input(rng() % 5000, 'a');
    // Mostly long lines: line ends and dots are rare.
    for (char& ch : input) ch = rng() % 200 == 0 ? alphabet[rng() % sizeof(alphabet)] : 'a';
    std::vector<size_t> cuts;
    for (size_t pos = 0; pos < input.size(); pos += 1 + rng() % 1500) cuts.push_back(pos);
    const size_t out_cap = 1 + rng() % 2000;
    const std::string want = reference_encode(input);
    BodyEncoder enc;
    const std::string got = encode_all(enc, input, cuts, out_cap);
    ASSERT_EQ(got, want) << "iteration " << iter;
    expect_wire_form(got);
    expect_short_lines(got);
  }
}

// The bound encode() promises: 2n + 3 bytes of room always consume all.
TEST(BodyEncoderLineLength, TwiceTheInputPlusThreeIsEnough) {
  for (const std::string& input : {repeat('.', 3000), "S: " + repeat('x', 5000), "\n" + repeat('x', 5000),
                                   repeat('\n', 100) + repeat('x', 2000)}) {
    BodyEncoder enc;
    std::vector<char> out(2 * input.size() + 3);
    size_t used = 0, produced = 0;
    enc.encode(input.data(), input.size(), out.data(), out.size(), used, produced);
    EXPECT_EQ(used, input.size());
  }
}

}  // namespace
}  // namespace ringmail
