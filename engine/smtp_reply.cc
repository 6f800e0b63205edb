// engine/smtp_reply.cc — SMTP reply parser (see smtp_reply.h).
//
// Parses bytes from untrusted servers: every read is bounded by the window
// (min(size, kMaxReplyBytes)); no allocation, no exceptions. The checks on a
// line run left to right over the bytes that have arrived, so a prefix of the
// input never yields a different verdict than the whole input.
#include "engine/smtp_reply.h"

#include <cstring>

namespace ringmail {
namespace {

constexpr const char* kErrNotDigits = "reply line does not start with three digits";
constexpr const char* kErrCodeRange = "reply code out of range (first digit must be 2-5, second digit 0-5)";
constexpr const char* kErrSeparator = "reply code is followed by neither '-', ' ' nor the end of the line";
constexpr const char* kErrCodeChanged = "multi-line reply changes its code between lines";
constexpr const char* kErrTooLong = "reply too long (more than 16384 bytes)";

static_assert(kMaxReplyBytes == 16384, "update kErrTooLong");

// LineCheck is the verdict on the start of one reply line.
enum class LineCheck { kNeedMore, kLast, kContinued, kBad };

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// check_line checks line[0..len): the bytes of one line that have arrived,
// without its LF. |complete| says the LF has arrived too. |expected_code| is
// the code of the reply's first line, or 0 for the first line. On success,
// |code| is the line's code. Checks are ordered by byte position.
LineCheck check_line(const char* line, size_t len, bool complete, uint16_t expected_code, uint16_t& code,
                     const char*& error) {
  // Digits, one at a time, so a bad first byte is caught at once.
  for (size_t i = 0; i < 3; ++i) {
    if (i >= len) {
      if (!complete) return LineCheck::kNeedMore;
      error = kErrNotDigits;
      return LineCheck::kBad;
    }
    const char c = line[i];
    if (!is_digit(c)) {
      error = kErrNotDigits;
      return LineCheck::kBad;
    }
    if ((i == 0 && (c < '2' || c > '5')) || (i == 1 && c > '5')) {
      error = kErrCodeRange;
      return LineCheck::kBad;
    }
  }
  code = static_cast<uint16_t>((line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'));
  if (expected_code != 0 && code != expected_code) {
    error = kErrCodeChanged;
    return LineCheck::kBad;
  }
  if (!complete) {
    // The fourth byte decides unless it is a CR that may end the line.
    if (len == 3) return LineCheck::kNeedMore;
    const char c = line[3];
    if (c == '-') return LineCheck::kContinued;
    if (c == ' ') return LineCheck::kLast;
    if (c == '\r') return LineCheck::kNeedMore;
    error = kErrSeparator;
    return LineCheck::kBad;
  }
  // Complete line: one CR before the LF belongs to the line ending.
  size_t body_len = len;
  if (body_len > 3 && line[body_len - 1] == '\r') --body_len;
  if (body_len == 3) return LineCheck::kLast;
  if (line[3] == '-') return LineCheck::kContinued;
  if (line[3] == ' ') return LineCheck::kLast;
  error = kErrSeparator;
  return LineCheck::kBad;
}

// parse_number reads 1..3 decimal digits of |s| from |pos|; false if none.
bool parse_number(std::string_view s, size_t& pos, uint16_t& value) {
  const size_t start = pos;
  value = 0;
  while (pos < s.size() && pos - start < 3 && is_digit(s[pos])) {
    value = static_cast<uint16_t>(value * 10 + (s[pos] - '0'));
    ++pos;
  }
  return pos > start;
}

// parse_enhanced sets the enhanced-code fields of |reply| and strips the code
// from reply.text when the text starts with "c.s.d" (RFC 3463) whose class
// matches the reply code's first digit.
void parse_enhanced(SmtpReply& reply) {
  const std::string_view t = reply.text;
  if (t.size() < 5) return;  // shortest is "2.0.0"
  const char cls = t[0];
  if (cls != '2' && cls != '4' && cls != '5') return;
  if (cls - '0' != reply.code / 100) return;
  if (t[1] != '.') return;
  size_t pos = 2;
  uint16_t subject = 0;
  uint16_t detail = 0;
  if (!parse_number(t, pos, subject)) return;
  if (pos >= t.size() || t[pos] != '.') return;
  ++pos;
  if (!parse_number(t, pos, detail)) return;
  if (pos < t.size() && t[pos] != ' ') return;  // "2.0.0x" or a 4-digit detail
  while (pos < t.size() && t[pos] == ' ') ++pos;
  reply.has_enhanced = true;
  reply.enhanced_class = static_cast<uint8_t>(cls - '0');
  reply.enhanced_subject = subject;
  reply.enhanced_detail = detail;
  reply.text = t.substr(pos);
}

// last_line_text returns the text of a complete, checked line (no LF).
std::string_view last_line_text(const char* line, size_t len) {
  if (len > 3 && line[len - 1] == '\r') --len;
  if (len <= 4) return {};
  return std::string_view(line + 4, len - 4);
}

}  // namespace

ReplyParse parse_reply(const char* data, size_t size, SmtpReply& reply, size_t& consumed,
                       const char*& error) {
  reply = SmtpReply{};
  consumed = 0;
  error = nullptr;
  // Nothing past the window is ever read: a reply must end inside it.
  const size_t window = size < kMaxReplyBytes ? size : kMaxReplyBytes;
  size_t pos = 0;
  uint16_t first_code = 0;
  uint16_t line_count = 0;
  for (;;) {
    const char* line = data + pos;
    const size_t avail = window - pos;
    const void* lf = avail > 0 ? std::memchr(line, '\n', avail) : nullptr;
    const size_t len = lf != nullptr ? static_cast<size_t>(static_cast<const char*>(lf) - line) : avail;
    uint16_t code = 0;
    const LineCheck check = check_line(line, len, lf != nullptr, first_code, code, error);
    if (check == LineCheck::kBad) return ReplyParse::kMalformed;
    if (lf == nullptr) {
      if (size >= kMaxReplyBytes) {
        error = kErrTooLong;
        return ReplyParse::kMalformed;
      }
      return ReplyParse::kIncomplete;
    }
    // kNeedMore is only returned for incomplete lines, handled above.
    first_code = code;
    ++line_count;  // bounded: a line is >= 4 bytes, so <= 4096 lines
    pos += len + 1;
    if (check == LineCheck::kLast) {
      reply.code = code;
      reply.line_count = line_count;
      reply.raw = std::string_view(data, pos);
      reply.text = last_line_text(line, len);
      parse_enhanced(reply);
      consumed = pos;
      return ReplyParse::kComplete;
    }
  }
}

bool ReplyLineIterator::next(std::string_view& line_text) {
  if (rest_.empty()) return false;
  size_t lf = rest_.find('\n');
  std::string_view line;
  if (lf == std::string_view::npos) {
    line = rest_;  // not from parse_reply; be tolerant
    rest_ = {};
  } else {
    line = rest_.substr(0, lf);
    rest_.remove_prefix(lf + 1);
  }
  if (line.size() > 3 && line.back() == '\r') line.remove_suffix(1);
  line_text = line.size() > 4 ? line.substr(4) : std::string_view();
  return true;
}

}  // namespace ringmail
