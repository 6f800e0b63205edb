// queue/envelope.h — the spool file parser: who a message is from and to,
// and which bytes of the file are sent.
//
// A spool file is an optional envelope preamble (X-Ringmail-From / -To
// lines) followed by an RFC 5322 message; without X-Ringmail-To the
// recipients come from To/Cc/Bcc like `sendmail -t` and Bcc is not sent.
// docs/spool.md is the contract for producers; keep the two in step.
//
// Callers: the engine's intake (per claimed file), `ringmail inject`,
// `ringmail queue`. The input is written by arbitrary producers and is
// untrusted: the parser must never crash, read outside |head|, or loop
// without bound (fuzzed by tests/fuzz/spool_parser_fuzz.cc). It never
// allocates on success and never touches the file system.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/no_init_array.h"

namespace ringmail {

// kMaxRecipients bounds the recipients of one message (after de-duplication);
// more is malformed ("more than 1000 recipients").
constexpr size_t kMaxRecipients = 1000;
// kMaxHeadBytes: the preamble, and the header section when recipients come
// from the headers, must lie within the first 64 KiB of the file.
constexpr size_t kMaxHeadBytes = 65536;
// kMaxSkipRanges bounds the Bcc fields that can be stripped; more is malformed.
constexpr size_t kMaxSkipRanges = 16;
// kMaxAddressBytes is the longest address accepted (RFC 5321 path limit).
constexpr size_t kMaxAddressBytes = 254;

// ByteRange is [begin, end) in file offsets.
struct ByteRange {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// Envelope is the result of parse_envelope. Every string_view points into
// the |head| that was parsed; it is valid as long as that buffer is.
struct Envelope {
  // sender is the addr-spec without <>; empty = the null sender "<>".
  std::string_view sender;
  NoInitArray<std::string_view, kMaxRecipients> recipients;  // [0, recipient_count) are set
  uint32_t recipient_count = 0;
  // body_offset is the first byte to send (the byte after the preamble).
  uint32_t body_offset = 0;
  // skip lists byte ranges after body_offset that are never sent (Bcc header
  // fields with their continuation lines), sorted and disjoint.
  std::array<ByteRange, kMaxSkipRanges> skip;
  uint32_t skip_count = 0;
  // header_end is where the header section ends: the offset of the empty
  // line (or of the first line that is not a header field), or the end of
  // the parsed bytes when the header section does not end within them.
  uint32_t header_end = 0;
  // from_preamble is true when the recipients came from X-Ringmail-To.
  bool from_preamble = false;
};

// next_sendable is the walk over the bytes of a spool file that are sent:
// from file offset |cursor| (>= body_offset), it steps over any skip range
// (a stripped Bcc field) |cursor| lies in and returns the next offset to
// send; |run_end| gets where that sendable run stops (the begin of the next
// skip range, or UINT64_MAX when none follows). |gap| is set to true when a
// skip range was stepped over (the bytes on either side are not adjacent).
uint64_t next_sendable(const Envelope& envelope, uint64_t cursor, uint64_t& run_end, bool& gap);

// is_ascii says whether |text| holds only 7-bit bytes.
bool is_ascii(std::string_view text);

enum class EnvelopeParse { kOk, kMalformed };

// EnvelopeParseOptions changes what parse_envelope accepts.
struct EnvelopeParseOptions {
  // allow_no_recipients: zero recipients is not an error (`ringmail inject
  // -t RCPT...` adds recipients of its own).
  bool allow_no_recipients = false;
};

// parse_envelope parses the start of a spool file. |head| is the first
// min(file size, kMaxHeadBytes) bytes (anything beyond kMaxHeadBytes is
// ignored); |whole_file| says whether |head| is the entire file.
// |default_sender| is used when there is no X-Ringmail-From line (before the
// From: header); "" = none, "<>" = the null sender.
// kOk: |out| is filled (views into |head|), nothing allocated.
// kMalformed: |error| gets a sentence saying which line and what is wrong,
// e.g. "no recipients: no X-Ringmail-To line and no To/Cc/Bcc header";
// |out| is unspecified.
EnvelopeParse parse_envelope(std::string_view head, bool whole_file, std::string_view default_sender,
                             Envelope& out, std::string& error);
EnvelopeParse parse_envelope(std::string_view head, bool whole_file, std::string_view default_sender,
                             const EnvelopeParseOptions& options, Envelope& out, std::string& error);

// check_address says whether |address| (an addr-spec, no <>) can go into
// MAIL FROM / RCPT TO: 1..254 bytes, an '@' with text on both sides, no
// space, control character, '<', '>' or ','. On false |why| gets a phrase,
// e.g. "contains a space" (the caller adds which address and where).
bool check_address(std::string_view address, std::string& why);

// strip_angle_brackets trims blanks and one pair of surrounding <>:
// " <a@b> " -> "a@b", "<>" -> "", "a@b" -> "a@b".
std::string_view strip_angle_brackets(std::string_view text);

// same_address compares two addresses as SMTP does for de-duplication: the
// local part case-sensitively, the domain (after the last '@')
// case-insensitively.
bool same_address(std::string_view a, std::string_view b);

// write_envelope_preamble appends "X-Ringmail-From: <sender>\n" and one
// "X-Ringmail-To: <rcpt>\n" per recipient to |out| (empty sender = "<>").
// Returns false, appending nothing, when |rcpts| is empty or an address
// fails check_address.
bool write_envelope_preamble(std::string_view sender, const std::vector<std::string>& rcpts,
                             std::string& out);

}  // namespace ringmail
