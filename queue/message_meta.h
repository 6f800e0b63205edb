// queue/message_meta.h — the meta/ID side file: per-message delivery state
// that changes between attempts (attempt count and times, last reply, which
// recipients are done or failed, why a message failed).
//
// The file annotates a message, it is not a state: the message's directory
// is its state, and a message without a meta file has never been attempted.
// The engine writes it as meta/.ID.tmp and renames it over meta/ID, so a
// reader sees the old or the new record, never a mix. Text format, one
// record per line; docs/spool.md documents it.
//
// Callers: the engine (after each attempt), `ringmail queue`. The parser
// reads files it did not write in this process (a crashed or older engine,
// an operator's editor): it must never crash, and it never allocates on
// success. Neither function touches the file system.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "queue/envelope.h"

namespace ringmail {

// kMaxMetaBytes bounds a meta file; larger is malformed (the engine never
// writes more: kMaxRecipients marks with their replies are cut to fit, see
// format_message_meta).
constexpr size_t kMaxMetaBytes = 65536;

// RecipientMark records a recipient that needs no further attempt: accepted
// by the server (failed = false) or refused permanently (failed = true,
// with the server's reply).
struct RecipientMark {
  std::string_view address;
  bool failed = false;
  std::string_view reply;
};

// MessageMeta is one parsed meta file. Views point into the parsed text (or,
// when the engine fills it, into the engine's own buffers).
struct MessageMeta {
  uint32_t attempts = 0;        // attempts made so far
  int64_t first_attempt = 0;    // unix seconds of the first attempt; 0 = none yet
  int64_t next_attempt = 0;     // unix seconds; 0 = as soon as possible
  std::string_view last_reply;  // the last reply that deferred the message
  std::string_view reason;      // why the message failed (messages in failed/)
  int64_t delay_warned = 0;     // unix seconds a delay warning (DSN) was queued; 0 = none
  NoInitArray<RecipientMark, kMaxRecipients> marks;  // [0, mark_count) are set
  uint32_t mark_count = 0;
};

// parse_message_meta parses the text of a meta file. On success |out| is
// filled with views into |text| and true is returned. On failure |error| is
// a sentence naming the line, e.g. "meta line 4: unknown record 'colour'",
// and |out| is unspecified. Malformed: a record other than attempts,
// first_attempt, next_attempt, last_reply, reason, delay_warned, done, failed; a scalar
// record given twice; a number that is not decimal or overflows; an address
// that is empty or has a blank or control character; the same address
// marked twice; more than kMaxRecipients marks; more than kMaxMetaBytes.
bool parse_message_meta(std::string_view text, MessageMeta& out, std::string& error);

// format_message_meta writes |meta| in the meta file format into
// out[0..cap) without allocating. Returns the number of bytes written, or 0
// if it does not fit in |cap| or a mark's address cannot be written (empty,
// blank or control character). CR and LF in reply and reason texts become
// spaces. parse_message_meta(format_message_meta(m)) gives back m (texts
// modulo that replacement).
size_t format_message_meta(const MessageMeta& meta, char* out, size_t cap);

// find_mark returns the mark for |address| (compared as same_address does),
// or nullptr if the recipient has none (it is still pending).
const RecipientMark* find_mark(const MessageMeta& meta, std::string_view address);

}  // namespace ringmail
