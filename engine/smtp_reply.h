// engine/smtp_reply.h — parser for SMTP server replies (RFC 5321 4.2, RFC 3463).
//
// Who calls it: the SMTP client state machine, each time bytes are appended
// to a connection's receive buffer; EHLO capability parsing walks the lines of
// a parsed reply (engine/ehlo_capabilities.h).
//
// The bytes come from an untrusted server: the parser never reads outside
// data[0..size), never allocates, never throws, and looks at no more than
// kMaxReplyBytes bytes per call. A reply can be split across reads at any
// byte, and one read can carry several replies (PIPELINING): the parser
// returns the first complete reply and how many bytes it used, and the
// caller drops those bytes and calls again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace ringmail {

// kMaxReplyBytes is the longest reply (all lines, CRLFs included) that
// parse_reply accepts. A longer one is kMalformed ("reply too long"); so the
// connection's receive buffer must hold at least this many bytes.
constexpr size_t kMaxReplyBytes = 16384;

// SmtpReply is one parsed reply. The views point into the buffer given to
// parse_reply: they are valid until that buffer is changed.
struct SmtpReply {
  uint16_t code = 0;  // 200..559 ("2xx".."5xx", second digit 0-5)
  // has_enhanced: the text of the LAST line starts with an RFC 3463 status
  // code "c.s.d" (c = 2, 4 or 5 and equal to the first digit of |code|,
  // s and d of 1 to 3 digits) followed by a space or the end of the line.
  bool has_enhanced = false;
  uint8_t enhanced_class = 0;
  uint16_t enhanced_subject = 0;
  uint16_t enhanced_detail = 0;
  // text: the last line after "ddd " and after the enhanced code and the
  // spaces that follow it; no CR/LF. Empty for "250\r\n".
  std::string_view text;
  // raw: the whole reply, all lines, line endings included (logs, EHLO).
  std::string_view raw;
  uint16_t line_count = 0;  // >= 1 for a parsed reply
};

// ReplyParse is the result of parse_reply.
enum class ReplyParse {
  kComplete,    // |reply| and |consumed| describe the first reply in the data
  kIncomplete,  // the data is a valid start of a reply; append bytes, call again
  kMalformed,   // the server broke the protocol; |error| says how. Close the connection.
};

// parse_reply looks at data[0..size) and, if it starts with a complete reply,
// fills |reply| (views into |data|) and |consumed| (the reply's length in
// bytes) and returns kComplete. Lines end with CRLF or a bare LF (accepted,
// as Postfix does); each line is three digits (first 2-5, second 0-5) then
// '-' (more lines follow), ' ' or the end of the line (last line); every
// line of a reply carries the same code.
//
// kIncomplete: more bytes are needed. Once size >= kMaxReplyBytes and no
// reply has ended within the first kMaxReplyBytes bytes, the result is
// kMalformed with "reply too long" instead.
// kMalformed: |error| is a static sentence (e.g. "reply line does not start
// with three digits"). A malformed line is reported as soon as its first bad
// byte has arrived, so a garbage-speaking peer is caught without waiting for
// a line end; the result for a prefix of the data is always either
// kIncomplete or the result for the whole data.
//
// All outputs are always written: on anything but kComplete, |reply| is reset
// and |consumed| is 0; |error| is nullptr unless kMalformed.
ReplyParse parse_reply(const char* data, size_t size, SmtpReply& reply, size_t& consumed, const char*& error);

// ReplyLineIterator walks the lines of a parsed reply, first to last, giving
// each line's text: the bytes after "ddd-" / "ddd " (nothing for "ddd"), with
// no CR/LF. Unlike SmtpReply::text, the enhanced code is NOT removed. Safe on
// any SmtpReply (it never reads outside |raw|).
class ReplyLineIterator {
 public:
  explicit ReplyLineIterator(const SmtpReply& reply) : rest_(reply.raw) {}
  // next sets |line_text| to the next line's text and returns true, or
  // returns false when all lines have been given.
  bool next(std::string_view& line_text);

 private:
  std::string_view rest_;
};

// for_each_reply_line calls |callback(std::string_view line_text)| for each
// line of |reply| (see ReplyLineIterator). If the callback returns bool,
// false stops the walk. Returns false if the walk was stopped, else true.
template <typename F>
bool for_each_reply_line(const SmtpReply& reply, F&& callback) {
  ReplyLineIterator it(reply);
  std::string_view line_text;
  while (it.next(line_text)) {
    if constexpr (std::is_same_v<std::invoke_result_t<F&, std::string_view>, bool>) {
      if (!callback(line_text)) return false;
    } else {
      callback(line_text);
    }
  }
  return true;
}

}  // namespace ringmail
