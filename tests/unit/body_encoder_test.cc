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
