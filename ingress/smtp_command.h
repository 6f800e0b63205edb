// ingress/smtp_command.h — the SMTP server's command line parser (RFC 5321
// 4.1): the verb, "FROM:<path> params" and "TO:<path> params", the MAIL
// parameters (SIZE, BODY, SMTPUTF8, AUTH) and "BDAT count [LAST]".
//
// Who uses it: ingress/smtp_server_session.cc (the product's listener) and
// tools/sink/sink_session.cc (the test sink), so both read a command the
// same way; tests/fuzz/ingress_command_fuzz.cc fuzzes it. Header-only on
// purpose: the sink links only ringmail_tls, never ringmail_ingress.
//
// Input is one command line without its CRLF, untrusted client text. Every
// result is a view into that line; nothing allocates, nothing reads outside
// the line. Addresses are bounded (kMaxPathBytes) and never hold a control
// byte, '<', '>' or blank, so they are safe to write into a spool preamble.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringmail::ingress {

// kMaxPathBytes is the longest address accepted (RFC 5321 4.5.3.1.3: a path
// is at most 256 octets including the angle brackets; we allow 256 inside).
inline constexpr size_t kMaxPathBytes = 256;

constexpr char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

// starts_with_ignore_case compares the first bytes of |text| to |prefix|
// (|prefix| must be upper case).
constexpr bool starts_with_ignore_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (ascii_upper(text[i]) != prefix[i]) return false;
  }
  return true;
}

// equals_ignore_case: |text| is |word| (upper case) in any case.
constexpr bool equals_ignore_case(std::string_view text, std::string_view word) {
  return text.size() == word.size() && starts_with_ignore_case(text, word);
}

constexpr std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr bool is_ascii_text(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// SmtpVerb is the command a line starts with.
enum class SmtpVerb {
  kEmpty,  // an empty line
  kUnknown,
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kHelp,
  kStartTls,
  kAuth,
};

// SmtpCommand is a command line split at its first space.
struct SmtpCommand {
  SmtpVerb verb = SmtpVerb::kEmpty;
  std::string_view arg;  // after the first space; may be empty
};

inline SmtpCommand parse_command(std::string_view line) {
  const size_t space = line.find(' ');
  const std::string_view word = line.substr(0, space);
  SmtpCommand command;
  command.arg = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  struct Name {
    std::string_view text;
    SmtpVerb verb;
  };
  constexpr Name kNames[] = {
      {"HELO", SmtpVerb::kHelo}, {"EHLO", SmtpVerb::kEhlo}, {"MAIL", SmtpVerb::kMail},
      {"RCPT", SmtpVerb::kRcpt}, {"DATA", SmtpVerb::kData}, {"BDAT", SmtpVerb::kBdat},
      {"RSET", SmtpVerb::kRset}, {"NOOP", SmtpVerb::kNoop}, {"QUIT", SmtpVerb::kQuit},
      {"VRFY", SmtpVerb::kVrfy}, {"HELP", SmtpVerb::kHelp}, {"STARTTLS", SmtpVerb::kStartTls},
      {"AUTH", SmtpVerb::kAuth},
  };
  if (line.empty()) return command;
  command.verb = SmtpVerb::kUnknown;
  for (const Name& name : kNames) {
    if (equals_ignore_case(word, name.text)) command.verb = name.verb;
  }
  return command;
}

// parse_path takes "<addr> params" or "addr params" (after "FROM:"/"TO:")
// and returns the address in |address| and the parameters in |params|.
// False: no closing '>', no space between '>' and the parameters, an
// address longer than kMaxPathBytes, or one holding a blank, '<', '>' or a
// control byte.
inline bool parse_path(std::string_view arg, std::string_view& address, std::string_view& params) {
  arg = trim_spaces(arg);
  if (!arg.empty() && arg.front() == '<') {
    const size_t close = arg.find('>');
    if (close == std::string_view::npos) return false;
    address = arg.substr(1, close - 1);
    params = trim_spaces(arg.substr(close + 1));
    if (!params.empty() && close + 1 < arg.size() && arg[close + 1] != ' ') return false;
  } else {
    const size_t space = arg.find(' ');
    address = arg.substr(0, space);
    params = space == std::string_view::npos ? std::string_view() : trim_spaces(arg.substr(space));
  }
  if (address.size() > kMaxPathBytes) return false;
  for (char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u == 0x7f || c == '<' || c == '>') return false;
  }
  return true;
}

// parse_mail_from reads the argument of MAIL ("FROM:<path> params"); the
// null path "<>" gives an empty |address|.
inline bool parse_mail_from(std::string_view arg, std::string_view& address, std::string_view& params) {
  return starts_with_ignore_case(arg, "FROM:") && parse_path(arg.substr(5), address, params);
}

// parse_rcpt_to reads the argument of RCPT ("TO:<path> params"); the path
// must not be empty.
inline bool parse_rcpt_to(std::string_view arg, std::string_view& address, std::string_view& params) {
  return starts_with_ignore_case(arg, "TO:") && parse_path(arg.substr(3), address, params) &&
         !address.empty();
}

// MailParams are the MAIL FROM parameters (RFC 1870 SIZE, RFC 6152 BODY,
// RFC 6531 SMTPUTF8, RFC 4954 AUTH, which is read and ignored).
struct MailParams {
  uint64_t size = 0;           // SIZE=n; 0 when absent or bad
  bool size_bad = false;       // SIZE= without a decimal number fitting 64 bits
  bool body_8bitmime = false;  // BODY=8BITMIME
  bool body_bad = false;       // BODY= other than 7BIT or 8BITMIME
  bool smtputf8 = false;
  std::string_view unknown;  // the first parameter not named above; empty when none
};

inline MailParams parse_mail_params(std::string_view params) {
  MailParams out;
  while (!params.empty()) {
    const size_t space = params.find(' ');
    std::string_view word = params.substr(0, space);
    params = space == std::string_view::npos ? std::string_view() : trim_spaces(params.substr(space));
    if (starts_with_ignore_case(word, "SIZE=")) {
      word.remove_prefix(5);
      const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), out.size);
      out.size_bad = word.empty() || ec != std::errc() || end != word.data() + word.size();
      if (out.size_bad) out.size = 0;
    } else if (starts_with_ignore_case(word, "BODY=")) {
      out.body_8bitmime = equals_ignore_case(word, "BODY=8BITMIME");
      out.body_bad = !out.body_8bitmime && !equals_ignore_case(word, "BODY=7BIT");
    } else if (equals_ignore_case(word, "SMTPUTF8")) {
      out.smtputf8 = true;
    } else if (!starts_with_ignore_case(word, "AUTH=") && out.unknown.empty()) {
      out.unknown = word;
    }
  }
  return out;
}

// parse_bdat_args takes "<count> [LAST]" (count: decimal digits fitting 64
// bits; LAST in any case). Returns false on anything else.
inline bool parse_bdat_args(std::string_view arg, uint64_t& size, bool& last) {
  arg = trim_spaces(arg);
  const size_t gap = arg.find_first_of(" \t");
  const std::string_view count = arg.substr(0, gap);
  const std::string_view rest =
      gap == std::string_view::npos ? std::string_view() : trim_spaces(arg.substr(gap));
  if (count.empty() || count.front() < '0' || count.front() > '9') return false;
  const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), size);
  if (ec != std::errc() || end != count.data() + count.size()) return false;
  last = false;
  if (rest.empty()) return true;
  last = equals_ignore_case(rest, "LAST");
  return last;
}

}  // namespace ringmail::ingress
