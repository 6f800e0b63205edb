// tests/fuzz/spool_parser_fuzz.cc — libFuzzer target for the spool file
// parsers: parse_envelope (queue/envelope.h) and parse_message_meta
// (queue/message_meta.h), both fed bytes written by arbitrary producers.
//
// Checks, beyond "never crashes": every view lies inside the input (or the
// default sender), skip ranges are sorted, disjoint, after body_offset and
// inside the head, body_offset <= size, recipients pass check_address and
// are unique; header_end lies between body_offset and the parsed size; the
// bytes the SMTP client sends (next_sendable over the skip ranges, through
// the BodyEncoder, as engine/smtp_connection.cc does) carry no Bcc field in
// the header section the parser saw (both use queue/line_end.h) and no line
// over 998 octets; meta text that parses formats and re-parses to the same
// text.
// The first input byte picks whole_file and the default sender.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "engine/body_encoder.h"
#include "queue/envelope.h"
#include "queue/message_meta.h"

namespace {

using ringmail::Envelope;
using ringmail::EnvelopeParse;
using ringmail::MessageMeta;

void require(bool ok) {
  if (!ok) std::abort();
}

bool starts_with_bcc(std::string_view line) {
  return line.size() >= 4 && (line[0] | 0x20) == 'b' && (line[1] | 0x20) == 'c' && (line[2] | 0x20) == 'c' &&
         (line[3] == ':' || line[3] == ' ' || line[3] == '\t');
}

// check_wire encodes what the client sends of [body_offset, header_end) of
// |parsed| and checks it: no Bcc field line, no line over 998 octets.
void check_wire(std::string_view parsed, const Envelope& envelope) {
  static std::string wire;
  wire.clear();
  ringmail::BodyEncoder encoder;
  encoder.reset();
  char out[256];
  uint64_t cursor = envelope.body_offset;
  while (true) {
    uint64_t run_end = 0;
    bool gap = false;
    cursor = ringmail::next_sendable(envelope, cursor, run_end, gap);
    if (cursor >= envelope.header_end) break;
    if (gap) encoder.resume_after_gap();
    const uint64_t end = std::min<uint64_t>(envelope.header_end, run_end);
    size_t used = 0, produced = 0;
    encoder.encode(parsed.data() + cursor, end - cursor, out, sizeof(out), used, produced);
    require(used > 0 || produced > 0);
    wire.append(out, produced);
    cursor += used;
  }
  size_t start = 0;
  while (start < wire.size()) {
    size_t end = wire.find("\r\n", start);
    if (end == std::string::npos) end = wire.size();
    const std::string_view line(wire.data() + start, end - start);
    require(line.size() <= ringmail::kMaxLineBytes);
    if (!envelope.from_preamble) require(!starts_with_bcc(line));
    start = end + 2;
  }
}

bool inside(std::string_view view, std::string_view buffer) {
  if (view.empty()) return true;
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

void check_envelope(std::string_view head, bool whole_file, std::string_view default_sender) {
  static auto envelope = std::make_unique<Envelope>();
  std::string error;
  const EnvelopeParse result = ringmail::parse_envelope(head, whole_file, default_sender, *envelope, error);
  if (result != EnvelopeParse::kOk) {
    require(!error.empty());
    return;
  }
  const size_t size = std::min(head.size(), ringmail::kMaxHeadBytes);
  const std::string_view parsed = head.substr(0, size);
  require(envelope->body_offset <= size);
  require(inside(envelope->sender, parsed) || inside(envelope->sender, default_sender));
  require(envelope->recipient_count <= ringmail::kMaxRecipients);
  require(envelope->recipient_count > 0);
  std::string why;
  for (uint32_t i = 0; i < envelope->recipient_count; ++i) {
    const std::string_view r = envelope->recipients[i];
    require(inside(r, parsed));
    require(ringmail::check_address(r, why));
    for (uint32_t j = 0; j < i; ++j) require(!ringmail::same_address(envelope->recipients[j], r));
  }
  if (!envelope->sender.empty()) require(ringmail::check_address(envelope->sender, why));
  require(envelope->skip_count <= ringmail::kMaxSkipRanges);
  uint32_t previous_end = envelope->body_offset;
  for (uint32_t i = 0; i < envelope->skip_count; ++i) {
    const ringmail::ByteRange& r = envelope->skip[i];
    require(r.begin >= previous_end);
    require(r.begin < r.end);
    require(r.end <= size);
    previous_end = r.end;
  }
  if (envelope->from_preamble) require(envelope->skip_count == 0);
  require(envelope->header_end >= envelope->body_offset && envelope->header_end <= size);
  check_wire(parsed, *envelope);
}

void check_meta(std::string_view text) {
  static auto meta = std::make_unique<MessageMeta>();
  static auto again = std::make_unique<MessageMeta>();
  static std::string buffer(ringmail::kMaxMetaBytes * 2, '\0');
  static std::string buffer2(ringmail::kMaxMetaBytes * 2, '\0');
  std::string error;
  if (!ringmail::parse_message_meta(text, *meta, error)) {
    require(!error.empty());
    return;
  }
  require(inside(meta->last_reply, text) && inside(meta->reason, text));
  require(meta->mark_count <= ringmail::kMaxRecipients);
  for (uint32_t i = 0; i < meta->mark_count; ++i) {
    require(inside(meta->marks[i].address, text) && inside(meta->marks[i].reply, text));
    require(ringmail::find_mark(*meta, meta->marks[i].address) == &meta->marks[i]);
  }
  // Round trip: format, parse, format again gives the same bytes.
  const size_t n = ringmail::format_message_meta(*meta, buffer.data(), buffer.size());
  require(n > 0);
  const std::string_view formatted(buffer.data(), n);
  require(ringmail::parse_message_meta(formatted, *again, error));
  const size_t n2 = ringmail::format_message_meta(*again, buffer2.data(), buffer2.size());
  require(std::string_view(buffer2.data(), n2) == formatted);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    check_envelope({}, true, "");
    return 0;
  }
  const uint8_t mode = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const std::string_view kSenders[] = {"", "<>", "default@example.org", "bad sender"};
  check_envelope(input, (mode & 1) != 0, kSenders[(mode >> 1) & 3]);
  check_meta(input);
  return 0;
}
