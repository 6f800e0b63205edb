// engine/body_encoder.h — message bytes (as stored in the spool file) → the
// SMTP DATA wire form: canonical CRLF line endings, lines no longer than
// 998 octets, dot-stuffing (RFC 5321 2.3.8, 4.5.2 and 4.5.3.1.6), then the
// ".\r\n" terminator.
//
// Who calls it: the SMTP client while streaming a body from the spool file
// into the send buffer, chunk by chunk. State crosses chunk boundaries, so a
// chunk may end anywhere (inside a CRLF, before a '.'). It never allocates,
// never reads past the input it is given, never writes past out_cap, and has
// no failure mode: any byte sequence has a wire form.
#pragma once

#include <cstddef>

namespace ringmail {

// kMaxFinishBytes is the most that BodyEncoder::finish writes ("\r\n.\r\n").
constexpr size_t kMaxFinishBytes = 5;

// kMaxLineBytes is SMTP's line limit without the CRLF (RFC 5321 4.5.3.1.6:
// 1000 octets with it), Postfix's smtp_line_length_limit.
constexpr size_t kMaxLineBytes = 998;

// BodyEncoder converts one message at a time (header section and body):
//   "\r\n" stays "\r\n"; a bare "\n" and a bare "\r" (one not followed by
//   "\n") each become "\r\n" (queue/line_end.h, the rule the envelope
//   parser shares); a '.' that starts a line is doubled.
//   No line on the wire is longer than kMaxLineBytes (stuffed dot included):
//   a longer line is broken as Postfix does. In the header section (up to
//   the first empty line) by folding: "\r\n " is inserted, making the rest
//   a continuation line of the same field; in the body by inserting "\r\n"
//   (and a '.' that then starts the new line is doubled, as any other).
// A '\r' at the end of a chunk is written out as "\r\n" at once and a '\n'
// starting the next chunk is then dropped, so nothing is ever held back and
// the encoder never needs to look past its input.
//
// For BDAT (CHUNKING) the same conversion runs with dot-stuffing off
// (reset(false)) and the chunk is closed with finish_chunk(), which adds no
// terminator.
class BodyEncoder {
 public:
  // kMaxFinishBytes: the same limit, spelled BodyEncoder::kMaxFinishBytes.
  static constexpr size_t kMaxFinishBytes = ringmail::kMaxFinishBytes;
  // kMaxExpansionBytes: the most one input byte becomes ("\r\n " + byte, or
  // "\r\n.." for a dot after a body break).
  static constexpr size_t kMaxExpansionBytes = 4;

  // reset prepares for a new message: at the start of a line, in the header
  // section, nothing pending. |dot_stuffing| false is for BDAT content,
  // sent verbatim but for line endings and long lines.
  void reset(bool dot_stuffing = true) {
    at_line_start_ = true;
    skip_lf_ = false;
    in_header_ = true;
    line_bytes_ = 0;
    owed_len_ = 0;
    dot_stuffing_ = dot_stuffing;
  }

  // resume_after_gap tells the encoder that the next input does not follow
  // the last directly (a stripped Bcc field lay between): a '\r' that ended
  // the last input must not swallow a '\n' that starts the next one.
  void resume_after_gap() { skip_lf_ = false; }

  // encode converts as much of in[0..in_size) as fits into out[0..out_cap)
  // and sets |in_used| (input bytes consumed) and |out_used| (bytes written).
  // The output is at most 2 * in_size + 3 bytes for any input (line breaks
  // come at most once per kMaxLineBytes of output), so with that much room
  // all of the input is consumed. With less room it stops when the output
  // is full; the input not consumed must be passed again at the start of
  // the next call (in[in_used] onwards, unchanged). Any out_cap >= 1 makes
  // progress: when only part of a byte's expansion fits, that part is
  // written and the byte is left unconsumed; the next call writes the rest
  // of the expansion and consumes it.
  void encode(const char* in, size_t in_size, char* out, size_t out_cap, size_t& in_used, size_t& out_used);

  // finish writes the end of the data: "\r\n" if the body did not end with a
  // line ending, then ".\r\n". Returns the bytes written (3 or 5). Call it
  // once all input has been consumed. out_cap must be >= kMaxFinishBytes.
  // Either rule broken is a caller bug and aborts. Afterwards the encoder is
  // reset for the next message.
  size_t finish(char* out, size_t out_cap);

  // finish_chunk ends BDAT content: "\r\n" if the body did not end with a
  // line ending, nothing else. Returns the bytes written (0 or 2); out_cap
  // must be >= 2. The same caller-bug rules as finish() apply; afterwards the
  // encoder is reset (dot-stuffing on).
  size_t finish_chunk(char* out, size_t out_cap);

 private:
  bool at_line_start_ = true;  // the next byte starts a line (dot-stuff a '.')
  bool skip_lf_ = false;       // the last byte was '\r', already sent as "\r\n"
  bool in_header_ = true;      // before the first empty line: fold long lines
  bool dot_stuffing_ = true;   // DATA: double line-start dots; BDAT: leave them
  size_t line_bytes_ = 0;      // bytes of the current wire line so far (no CRLF)
  // The rest of an expansion whose first bytes were written while its input
  // byte stays unconsumed (owed_len_ 0: none).
  char owed_[kMaxExpansionBytes] = {};
  size_t owed_len_ = 0;
};

}  // namespace ringmail
