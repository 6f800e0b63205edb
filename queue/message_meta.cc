// queue/message_meta.cc — parse and format the meta/ID side file. See
// message_meta.h and docs/spool.md for the format.
//
// Untrusted input on the parse side: bounded loops over |text| only, no
// allocation on success. The formatter writes into a caller's buffer and
// never writes past |cap|.
#include "queue/message_meta.h"

#include <cstring>
#include <string>

namespace ringmail {
namespace {

enum class Record {
  kAttempts,
  kFirstAttempt,
  kNextAttempt,
  kLastReply,
  kReason,
  kDelayWarned,
  kDone,
  kFailed,
  kUnknown
};

Record record_of(std::string_view key) {
  if (key == "attempts") return Record::kAttempts;
  if (key == "first_attempt") return Record::kFirstAttempt;
  if (key == "next_attempt") return Record::kNextAttempt;
  if (key == "last_reply") return Record::kLastReply;
  if (key == "reason") return Record::kReason;
  if (key == "delay_warned") return Record::kDelayWarned;
  if (key == "done") return Record::kDone;
  if (key == "failed") return Record::kFailed;
  return Record::kUnknown;
}

// address_ok: what a mark's address may hold so that it survives the line
// format (no blank, no control character, not empty).
bool address_ok(std::string_view address) {
  if (address.empty() || address.size() > kMaxAddressBytes) return false;
  for (char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

bool parse_decimal(std::string_view text, uint64_t max, uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return false;
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 40; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    out += (u >= 0x20 && u < 0x7f) ? s[i] : '?';
  }
  if (s.size() > 40) out += "...";
  return out;
}

// Writer appends to a fixed buffer; |ok| turns false once anything did not fit.
struct Writer {
  char* out;
  size_t cap;
  size_t len = 0;
  bool ok = true;

  void put(std::string_view s) {
    if (!ok || s.size() > cap - len) {
      ok = false;
      return;
    }
    std::memcpy(out + len, s.data(), s.size());
    len += s.size();
  }
  // text writes a single-line text: CR and LF become spaces.
  void text(std::string_view s) {
    if (!ok || s.size() > cap - len) {
      ok = false;
      return;
    }
    for (char c : s) out[len++] = (c == '\r' || c == '\n') ? ' ' : c;
  }
  void number(uint64_t value) {
    char digits[24];
    size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    char reversed[24];
    for (size_t i = 0; i < n; ++i) reversed[i] = digits[n - 1 - i];
    put(std::string_view(reversed, n));
  }
};

uint64_t clamp_time(int64_t t) { return t < 0 ? 0 : static_cast<uint64_t>(t); }

}  // namespace

bool parse_message_meta(std::string_view text, MessageMeta& out, std::string& error) {
  out.attempts = 0;
  out.first_attempt = 0;
  out.next_attempt = 0;
  out.last_reply = {};
  out.reason = {};
  out.delay_warned = 0;
  out.mark_count = 0;
  if (text.size() > kMaxMetaBytes) {
    error = "meta file is larger than " + std::to_string(kMaxMetaBytes) + " bytes";
    return false;
  }
  bool seen[6] = {false, false, false, false, false, false};
  size_t pos = 0;
  uint32_t line_no = 0;
  while (pos < text.size()) {
    size_t lf = text.find('\n', pos);
    if (lf == std::string_view::npos) lf = text.size();
    std::string_view line = text.substr(pos, lf - pos);
    pos = lf + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    const std::string_view key = line.substr(0, space);
    const std::string_view value =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    const Record record = record_of(key);
    auto fail = [&](const std::string& what) {
      error = "meta line " + std::to_string(line_no) + ": " + what;
      return false;
    };
    if (record == Record::kUnknown) return fail("unknown record '" + printable(key) + "'");
    if (record != Record::kDone && record != Record::kFailed) {
      const size_t slot = static_cast<size_t>(record);
      if (seen[slot]) return fail("record '" + std::string(key) + "' appears twice");
      seen[slot] = true;
    }
    uint64_t number = 0;
    switch (record) {
      case Record::kAttempts:
        if (!parse_decimal(value, UINT32_MAX, number)) return fail("attempts is not a number");
        out.attempts = static_cast<uint32_t>(number);
        break;
      case Record::kFirstAttempt:
      case Record::kNextAttempt:
      case Record::kDelayWarned:
        if (!parse_decimal(value, INT64_MAX, number)) {
          return fail(std::string(key) + " is not a unix time in seconds");
        }
        (record == Record::kFirstAttempt  ? out.first_attempt
         : record == Record::kNextAttempt ? out.next_attempt
                                          : out.delay_warned) = static_cast<int64_t>(number);
        break;
      case Record::kLastReply:
        out.last_reply = value;
        break;
      case Record::kReason:
        out.reason = value;
        break;
      case Record::kDone:
      case Record::kFailed: {
        RecipientMark mark;
        mark.failed = record == Record::kFailed;
        const size_t split = mark.failed ? value.find(' ') : std::string_view::npos;
        mark.address = value.substr(0, split);
        if (split != std::string_view::npos) mark.reply = value.substr(split + 1);
        if (!address_ok(mark.address)) {
          return fail("'" + std::string(key) + "' needs an address without blanks or control characters");
        }
        if (find_mark(out, mark.address) != nullptr) {
          return fail("recipient '" + printable(mark.address) + "' is marked twice");
        }
        if (out.mark_count == kMaxRecipients) {
          return fail("more than " + std::to_string(kMaxRecipients) + " recipient marks");
        }
        out.marks[out.mark_count++] = mark;
        break;
      }
      case Record::kUnknown:
        break;
    }
  }
  return true;
}

size_t format_message_meta(const MessageMeta& meta, char* out, size_t cap) {
  Writer w{out, cap};
  w.put("attempts ");
  w.number(meta.attempts);
  w.put("\nfirst_attempt ");
  w.number(clamp_time(meta.first_attempt));
  w.put("\nnext_attempt ");
  w.number(clamp_time(meta.next_attempt));
  w.put("\n");
  if (!meta.last_reply.empty()) {
    w.put("last_reply ");
    w.text(meta.last_reply);
    w.put("\n");
  }
  if (meta.delay_warned != 0) {
    w.put("delay_warned ");
    w.number(clamp_time(meta.delay_warned));
    w.put("\n");
  }
  if (!meta.reason.empty()) {
    w.put("reason ");
    w.text(meta.reason);
    w.put("\n");
  }
  const uint32_t count = meta.mark_count < kMaxRecipients ? meta.mark_count : kMaxRecipients;
  for (uint32_t i = 0; i < count; ++i) {
    const RecipientMark& mark = meta.marks[i];
    if (!address_ok(mark.address)) return 0;
    w.put(mark.failed ? "failed " : "done ");
    w.put(mark.address);
    if (mark.failed && !mark.reply.empty()) {
      w.put(" ");
      w.text(mark.reply);
    }
    w.put("\n");
  }
  return w.ok ? w.len : 0;
}

const RecipientMark* find_mark(const MessageMeta& meta, std::string_view address) {
  const uint32_t count = meta.mark_count < kMaxRecipients ? meta.mark_count : kMaxRecipients;
  for (uint32_t i = 0; i < count; ++i) {
    if (same_address(meta.marks[i].address, address)) return &meta.marks[i];
  }
  return nullptr;
}

}  // namespace ringmail
