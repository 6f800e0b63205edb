// engine/smtp_transcript.h — an SMTP conversation as an operator may read
// it: every line the client wrote ("C: ...") and read ("S: ..."), with AUTH
// credentials masked and a message's content summarised in one line rather
// than shown.
//
// Who uses it: `ringmail test-send` (tools/blocking_smtp_driver.cc) feeds
// it the plaintext the SMTP client machine wrote and the plaintext it was
// given to read (never TLS records). Pure: bytes in, lines out; no I/O, no
// clock; bytes may arrive split anywhere (tests/unit/smtp_transcript_test.cc
// cuts them at every byte).
//
// What it must never do: let a credential or message content through.
// The machine says which of its output bytes carry credentials
// (SmtpClient::output_credential_bytes); every line holding one of them is
// shown through mask_credential_lines (engine/smtp_auth.h), so `AUTH PLAIN
// <base64>` prints as `AUTH PLAIN ****` and AUTH LOGIN's user name and
// password lines as `****`. After a 354 the client's bytes up to the lone
// "." (DATA), or the chunk announced by "BDAT n" (CHUNKING), are counted,
// not shown. Server lines are shown, with control and non-ASCII bytes
// escaped (they come from an untrusted peer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail {

class SmtpTranscript {
 public:
  // kMaxLineChars: a longer line is shown cut, with its full size.
  static constexpr size_t kMaxLineChars = 512;

  // client_bytes takes bytes the client wrote, in order, of which the first
  // |credential_bytes| carry credentials; appends each line they complete
  // to |out|.
  void client_bytes(std::string_view bytes, size_t credential_bytes, std::vector<std::string>& out);
  // server_bytes takes bytes the client read, in order; appends each line
  // they complete to |out|.
  void server_bytes(std::string_view bytes, std::vector<std::string>& out);
  // finish appends whatever is pending (a line without its end, a body cut
  // short) so nothing is silently dropped when the connection ends.
  void finish(std::vector<std::string>& out);

  // last_reply_code: the code of the last complete server reply (0: none);
  // last_reply: its last line as shown ("250 2.0.0 Ok: queued as 1").
  int last_reply_code() const { return last_reply_code_; }
  const std::string& last_reply() const { return last_reply_; }

 private:
  enum class ClientMode : uint8_t {
    kCommands,   // command lines
    kDataBody,   // after a 354: content lines up to the lone "."
    kBdatChunk,  // the |bdat_left_| bytes announced by BDAT
  };

  // Line buffer for one direction: collects up to kMaxLineChars, counts the rest.
  struct LineBuffer {
    std::string text;
    size_t size = 0;      // bytes of the line so far (text holds at most kMaxLineChars)
    bool secret = false;  // some byte of it carries a credential
    bool pending() const { return size > 0; }
    void add(char c, bool credential = false);
    // shown: the line without its CR LF, escaped, cut if too long.
    std::string shown() const;
    void clear() {
      text.clear();
      size = 0;
      secret = false;
    }
  };

  void client_line(std::vector<std::string>& out);
  void server_line(std::vector<std::string>& out);
  void end_content(std::vector<std::string>& out, bool complete);

  LineBuffer client_;
  LineBuffer server_;
  ClientMode mode_ = ClientMode::kCommands;
  uint64_t bdat_left_ = 0;
  uint64_t content_bytes_ = 0;  // of the message being summarised
  uint64_t content_lines_ = 0;
  int last_reply_code_ = 0;
  std::string last_reply_;
};

}  // namespace ringmail
