// tests/fuzz/spool_parser_fuzz.cc — libFuzzer target for the spool file
// parsers: parse_envelope (queue/envelope.h) and parse_message_meta
// (queue/message_meta.h), both fed bytes written by arbitrary producers.
//
// Checks, beyond "never crashes": every view lies inside the input (or the
// default sender), skip ranges are sorted, disjoint, after body_offset and
// inside the head, body_offset <= size, recipients pass check_address and
// are unique; meta text that parses formats and re-parses to the same text.
// The first input byte picks whole_file and the default sender.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "queue/envelope.h"
#include "queue/message_meta.h"

namespace {

using ringmail::Envelope;
using ringmail::EnvelopeParse;
using ringmail::MessageMeta;

void require(bool ok) {
  if (!ok) std::abort();
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
