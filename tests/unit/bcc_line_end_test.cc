// tests/unit/bcc_line_end_test.cc — the envelope parser and the body
// encoder agree on where a line ends (queue/line_end.h), so a Bcc field is
// never sent whatever mix of CRLF, LF and bare CR the producer wrote.
// Drives the same walk as the SMTP client: parse_envelope, then
// next_sendable over the skip ranges into one BodyEncoder.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "engine/body_encoder.h"
#include "queue/envelope.h"
#include "queue/line_end.h"

namespace ringmail {
namespace {

// wire_form is what the client sends for |file| with DATA (dot-stuffed,
// CRLF, ".\r\n" at the end), fed to the encoder in |piece|-byte steps.
std::string wire_form(std::string_view file, const Envelope& env, size_t piece) {
  BodyEncoder encoder;
  encoder.reset();
  std::string out;
  char buffer[64];
  uint64_t cursor = env.body_offset;
  while (true) {
    uint64_t run_end = 0;
    bool gap = false;
    cursor = next_sendable(env, cursor, run_end, gap);
    if (cursor >= file.size()) break;
    if (gap) encoder.resume_after_gap();
    const uint64_t end = std::min<uint64_t>({file.size(), run_end, cursor + piece});
    size_t used = 0, produced = 0;
    encoder.encode(file.data() + cursor, end - cursor, buffer, sizeof(buffer), used, produced);
    out.append(buffer, produced);
    cursor += used;
  }
  out.append(buffer, encoder.finish(buffer, sizeof(buffer)));
  return out;
}

// header_names lists the field names of the header section of |wire|
// (CRLF lines up to the first empty one; continuation lines skipped).
std::vector<std::string> header_names(std::string_view wire) {
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos < wire.size()) {
    const size_t crlf = wire.find("\r\n", pos);
    const std::string_view line = wire.substr(pos, crlf - pos);
    pos = crlf + 2;
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') continue;
    names.emplace_back(line.substr(0, line.find(':')));
  }
  return names;
}

constexpr std::string_view kEnds[] = {"\r\n", "\n", "\r"};

TEST(BccLineEnd, TheIssueCase) {
  const std::string file = "To: ops@example.org\nSubject: hi\rBcc: hidden@x.org\n\nbody\n";
  Envelope env;
  std::string error;
  ASSERT_EQ(parse_envelope(file, true, "a@b.org", env, error), EnvelopeParse::kOk) << error;
  ASSERT_EQ(env.recipient_count, 2u);
  EXPECT_EQ(env.recipients[0], "ops@example.org");
  EXPECT_EQ(env.recipients[1], "hidden@x.org");
  const std::string wire = wire_form(file, env, 1000);
  EXPECT_EQ(wire, "To: ops@example.org\r\nSubject: hi\r\n\r\nbody\r\n.\r\n");
}

// Every combination of line ends for the five line ends of a message with
// a Bcc field before, between and after other fields.
TEST(BccLineEnd, EveryLineEndingMix) {
  const char* layouts[][3] = {
      {"Bcc: hidden@x.org", "To: ops@example.org", "Subject: hi"},
      {"To: ops@example.org", "Bcc: hidden@x.org", "Subject: hi"},
      {"To: ops@example.org", "Subject: hi", "Bcc: hidden@x.org"},
  };
  for (const auto& layout : layouts) {
    for (std::string_view e0 : kEnds) {
      for (std::string_view e1 : kEnds) {
        for (std::string_view e2 : kEnds) {
          for (std::string_view e3 : kEnds) {
            for (std::string_view e4 : kEnds) {
              std::string file = std::string(layout[0]) + std::string(e0) + layout[1] + std::string(e1) +
                                 layout[2] + std::string(e2) + std::string(e3) + "body" + std::string(e4);
              // "\r" then "\n" as two line ends would read as one CRLF: that
              // mix is the same file as the CRLF one, tested there.
              if (e2 == "\r" && e3 == "\n") continue;
              SCOPED_TRACE(testing::PrintToString(file));
              Envelope env;
              std::string error;
              ASSERT_EQ(parse_envelope(file, true, "a@b.org", env, error), EnvelopeParse::kOk) << error;
              ASSERT_EQ(env.recipient_count, 2u);
              ASSERT_EQ(env.skip_count, 1u);
              for (size_t piece : {size_t{1}, size_t{3}, size_t{1000}}) {
                const std::string wire = wire_form(file, env, piece);
                const std::vector<std::string> names = header_names(wire);
                EXPECT_EQ(names.size(), 2u) << wire;
                for (const std::string& name : names) EXPECT_NE(name, "Bcc") << wire;
                EXPECT_NE(wire.find("\r\n\r\nbody\r\n.\r\n"), std::string::npos) << wire;
                EXPECT_EQ(wire.find("hidden"), std::string::npos) << wire;
              }
            }
          }
        }
      }
    }
  }
}

// A bare CR before a stripped Bcc field whose own line end is CRLF, then an
// LF (the empty line): the LF must not be taken as the CR's partner.
TEST(BccLineEnd, GapDoesNotJoinCrAndLf) {
  const std::string file = "To: ops@example.org\rBcc: hidden@x.org\r\n\nbody\n";
  Envelope env;
  std::string error;
  ASSERT_EQ(parse_envelope(file, true, "a@b.org", env, error), EnvelopeParse::kOk) << error;
  EXPECT_EQ(wire_form(file, env, 1000), "To: ops@example.org\r\n\r\nbody\r\n.\r\n");
}

TEST(LineEnd, Lengths) {
  EXPECT_EQ(line_end_length("a\r\nb", 1), 2u);
  EXPECT_EQ(line_end_length("a\rb", 1), 1u);
  EXPECT_EQ(line_end_length("a\nb", 1), 1u);
  EXPECT_EQ(line_end_length("a\r", 1), 1u);
  EXPECT_EQ(line_end_length("ab", 1), 0u);
  EXPECT_EQ(line_end_length("ab", 5), 0u);
  EXPECT_EQ(find_line_end("abc\rd\ne", 0), 3u);
  EXPECT_EQ(find_line_end("abc\rd\ne", 4), 5u);
  EXPECT_EQ(find_line_end("abc", 0), 3u);
  EXPECT_EQ(find_line_end("abc", 7), 3u);
}

TEST(NextSendable, StepsOverRanges) {
  Envelope env;
  env.skip[0] = {10, 20};
  env.skip[1] = {20, 25};
  env.skip[2] = {40, 50};
  env.skip_count = 3;
  uint64_t run_end = 0;
  bool gap = false;
  EXPECT_EQ(next_sendable(env, 0, run_end, gap), 0u);
  EXPECT_EQ(run_end, 10u);
  EXPECT_FALSE(gap);
  EXPECT_EQ(next_sendable(env, 12, run_end, gap), 25u);  // two adjacent ranges
  EXPECT_EQ(run_end, 40u);
  EXPECT_TRUE(gap);
  EXPECT_EQ(next_sendable(env, 45, run_end, gap), 50u);
  EXPECT_EQ(run_end, UINT64_MAX);
  EXPECT_EQ(next_sendable(env, 60, run_end, gap), 60u);
  EXPECT_FALSE(gap);
}

}  // namespace
}  // namespace ringmail
