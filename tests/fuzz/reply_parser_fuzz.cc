// tests/fuzz/reply_parser_fuzz.cc — libFuzzer target for the SMTP text codecs
// that face untrusted servers: parse_reply (engine/smtp_reply.h),
// parse_ehlo_capabilities (engine/ehlo_capabilities.h) and BodyEncoder
// (engine/body_encoder.h).
//
// The input is read as a server's byte stream: replies are parsed and
// consumed until one is incomplete or malformed, each complete reply is also
// run through the line iterator and the EHLO parser. Then the same bytes are
// encoded as a message body, split at a point taken from the first byte, and
// compared with a whole-string reference; the wire form has CRLF line ends,
// stuffed dots and no line over 998 octets. Any broken invariant aborts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/body_encoder.h"
#include "engine/ehlo_capabilities.h"
#include "engine/smtp_reply.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/support/body_reference.h"

namespace {

using ringmail::BodyEncoder;
using ringmail::ReplyParse;
using ringmail::SmtpReply;

using ringmail_fuzz::check;

bool inside(std::string_view inner, std::string_view outer) {
  if (inner.empty()) return true;
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

void check_complete_reply(const char* data, size_t size, const SmtpReply& reply, size_t consumed) {
  check(consumed > 0 && consumed <= size, "consumed within the input");
  check(consumed <= ringmail::kMaxReplyBytes, "reply not longer than kMaxReplyBytes");
  check(reply.raw.data() == data && reply.raw.size() == consumed, "raw is the consumed bytes");
  check(inside(reply.text, reply.raw), "text inside raw");
  check(reply.code >= 200 && reply.code <= 559 && reply.code % 100 <= 59, "code in range");
  check(reply.line_count >= 1, "at least one line");
  check(reply.raw.back() == '\n', "reply ends with LF");
  check(reply.text.find('\n') == std::string_view::npos, "no LF in text");
  if (reply.has_enhanced) {
    check(reply.enhanced_class == reply.code / 100, "enhanced class matches code");
    check(reply.enhanced_subject <= 999 && reply.enhanced_detail <= 999, "enhanced parts");
  }
  // The line iterator walks exactly line_count lines, all inside raw.
  size_t lines = 0;
  ringmail::for_each_reply_line(reply, [&](std::string_view text) {
    ++lines;
    check(inside(text, reply.raw), "line text inside raw");
    check(text.find('\n') == std::string_view::npos, "no LF in line text");
  });
  check(lines == reply.line_count, "iterator line count");
  // The same reply is found in exactly its own bytes, and not in fewer.
  SmtpReply again;
  size_t again_consumed = 0;
  const char* error = nullptr;
  check(ringmail::parse_reply(data, consumed, again, again_consumed, error) == ReplyParse::kComplete &&
            again_consumed == consumed && again.text == reply.text && again.code == reply.code,
        "reply parses the same from its own bytes");
  check(ringmail::parse_reply(data, consumed - 1, again, again_consumed, error) == ReplyParse::kIncomplete,
        "reply minus its last byte is incomplete");
  const ringmail::EhloCapabilities caps = ringmail::parse_ehlo_capabilities(reply);
  check(reply.code == 250 || !caps.pipelining, "only 250 offers extensions");
}

void fuzz_replies(const char* data, size_t size) {
  size_t offset = 0;
  // Bounded: each complete reply consumes at least 4 bytes.
  for (;;) {
    SmtpReply reply;
    size_t consumed = 99;
    const char* error = "unset";
    const ReplyParse r = ringmail::parse_reply(data + offset, size - offset, reply, consumed, error);
    if (r == ReplyParse::kComplete) {
      check(error == nullptr, "no error on success");
      check_complete_reply(data + offset, size - offset, reply, consumed);
      offset += consumed;
      continue;
    }
    check(consumed == 0 && reply.code == 0 && reply.raw.empty(), "outputs reset");
    if (r == ReplyParse::kMalformed) {
      check(error != nullptr && error[0] != '\0', "malformed has an error");
    } else {
      check(error == nullptr, "incomplete has no error");
      check(size - offset < ringmail::kMaxReplyBytes, "incomplete only below the limit");
    }
    return;
  }
}

using ringmail::testing_support::reference_encode;

// encode_split encodes in two chunks split at |cut|, |out_cap| bytes of room per call.
std::string encode_split(std::string_view in, size_t cut, size_t out_cap) {
  BodyEncoder enc;
  std::string out;
  char buf[64];
  check(out_cap <= sizeof(buf), "harness buffer");
  for (std::string_view chunk : {in.substr(0, cut), in.substr(cut)}) {
    while (!chunk.empty()) {
      size_t in_used = 0;
      size_t out_used = 0;
      enc.encode(chunk.data(), chunk.size(), buf, out_cap, in_used, out_used);
      check(in_used <= chunk.size() && out_used <= out_cap, "encode stays in bounds");
      check(in_used > 0 || out_used > 0, "encode makes progress");
      out.append(buf, out_used);
      chunk.remove_prefix(in_used);
    }
  }
  const size_t n = enc.finish(buf, sizeof(buf));
  check(n <= ringmail::kMaxFinishBytes, "finish size");
  out.append(buf, n);
  return out;
}

void check_wire_form(const std::string& wire) {
  check(wire.size() >= 3 && wire.compare(wire.size() - 3, 3, ".\r\n") == 0, "terminator");
  size_t line_start_at = 0;
  for (size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r') {
      check(i - line_start_at <= ringmail::kMaxLineBytes, "no line over 998 octets");
      line_start_at = i + 2;
    }
    if (wire[i] == '\n') check(i > 0 && wire[i - 1] == '\r', "no bare LF");
    if (wire[i] == '\r') check(i + 1 < wire.size() && wire[i + 1] == '\n', "no bare CR");
    const bool line_start = i == 0 || wire[i - 1] == '\n';
    if (line_start && wire[i] == '.' && i + 3 != wire.size()) {
      check(i + 1 < wire.size() && wire[i + 1] == '.', "line starting with '.' is stuffed");
    }
  }
}

void fuzz_body(const char* data, size_t size) {
  if (size == 0) return;
  const size_t cut = static_cast<uint8_t>(data[0]) % (size + 1);
  const size_t tiny_cap = 1 + (size > 1 ? static_cast<uint8_t>(data[1]) % 8 : 0);
  const std::string_view in(data, size);
  const std::string want = reference_encode(in);
  const std::string big = encode_split(in, cut, 64);
  check(big == want, "split encoding equals the reference");
  const std::string tiny = encode_split(in, cut, tiny_cap);
  check(tiny == want, "tiny-room encoding equals the reference");
  check_wire_form(big);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  fuzz_replies(bytes, size);
  fuzz_body(bytes, size);
  return 0;
}
