// engine/dsn_composer.cc — the bounce (RFC 3464 multipart/report) as a spool
// file. Pure: see engine/dsn_composer.h for the contract and
// docs/bounces.md for the format.
#include "engine/dsn_composer.h"

#include <fmt/format.h>
#include <time.h>

#include "queue/envelope.h"
#include "queue/rfc5322_date.h"

namespace ringmail {
namespace {

constexpr size_t kFoldWidth = 78;     // preferred line width for folded fields and wrapped text
constexpr size_t kHardLineMax = 990;  // a word longer than this is broken (RFC 5322: 998)
constexpr size_t kQpLineMax = 76;     // RFC 2045 6.7

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// ReplyCode is what the start of a reply says: "550 5.1.1 ..." → 550, "5.1.1".
struct ReplyCode {
  int code = 0;  // 0: not an SMTP reply (the engine's own text)
  std::string_view enhanced;
};

ReplyCode parse_reply_code(std::string_view reply) {
  ReplyCode out;
  if (reply.size() < 3 || reply[0] < '2' || reply[0] > '5' || !is_digit(reply[1]) || !is_digit(reply[2]))
    return out;
  if (reply.size() > 3 && reply[3] != ' ' && reply[3] != '-') return out;
  out.code = (reply[0] - '0') * 100 + (reply[1] - '0') * 10 + (reply[2] - '0');
  std::string_view rest = reply.size() > 4 ? reply.substr(4) : std::string_view();
  const size_t end = std::min(rest.find(' '), rest.size());
  const std::string_view token = rest.substr(0, end);
  // c.s.d: one digit, then 1-3 digits twice.
  if (token.size() < 5 || token[0] != reply[0] || token[1] != '.') return out;
  size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    size_t digits = 0;
    while (i < token.size() && is_digit(token[i]) && digits < 4) ++i, ++digits;
    if (digits == 0 || digits > 3) return out;
    if (part == 0) {
      if (i >= token.size() || token[i] != '.') return out;
      ++i;
    }
  }
  if (i == token.size()) out.enhanced = token;
  return out;
}

// one_line makes a text safe on one line: CR, LF and TAB become spaces,
// other control characters '?'. 8-bit bytes stay (the caller decides).
std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || c == '\t') {
      out += ' ';
    } else if (u < 0x20 || u == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

// ascii_line is one_line with 8-bit bytes as '?' (delivery-status fields
// are 7-bit: RFC 3464 2.1.1).
std::string ascii_line(std::string_view text) {
  std::string out = one_line(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  }
  return out;
}

// xtext encodes an address for a delivery-status field (RFC 3461 4): bytes
// outside '!'..'~', and '+' and '=', become "+HH". ASCII addresses pass
// unchanged.
std::string xtext(std::string_view address) {
  std::string out;
  for (const char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '+' || c == '=') {
      out += fmt::format("+{:02X}", u);
    } else {
      out += c;
    }
  }
  return out;
}

// append_wrapped appends |text| broken at spaces into lines of at most
// |width| bytes (a longer word gets a line of its own, broken at
// kHardLineMax), each line starting with |indent| (the first with
// |first_prefix|), each ending in LF.
void append_wrapped(std::string& out, std::string_view text, std::string_view first_prefix,
                    std::string_view indent, size_t width) {
  std::string line(first_prefix);
  bool line_has_word = false;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (pos >= text.size()) break;
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    pos = end;
    if (line_has_word && line.size() + 1 + word.size() > width) {
      out += line;
      out += '\n';
      line.assign(indent);
      line_has_word = false;
    }
    while (line.size() + (line_has_word ? 1 : 0) + word.size() > kHardLineMax) {
      const size_t room = kHardLineMax - line.size() - (line_has_word ? 1 : 0);
      if (line_has_word) line += ' ';
      line += word.substr(0, room);
      word.remove_prefix(room);
      out += line;
      out += '\n';
      line.assign(indent);
      line_has_word = false;
    }
    if (line_has_word) line += ' ';
    line += word;
    line_has_word = true;
  }
  out += line;
  out += '\n';
}

// append_field appends "Name: value" folded (RFC 5322 2.2.3): continuation
// lines start with one space.
void append_field(std::string& out, std::string_view name, std::string_view value) {
  append_wrapped(out, value, fmt::format("{}: ", name), " ", kFoldWidth);
}

// to_lf turns CRLF and bare CR into LF and makes the text end in LF.
std::string to_lf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out;
}

// needs_quoting: the text has a byte that is not 7-bit printable (TAB and
// LF aside) or a line over 998 octets, so it cannot go as 7bit.
bool needs_quoting(std::string_view text) {
  size_t line = 0;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      line = 0;
      continue;
    }
    if (++line > 998) return true;
    if (u >= 0x80 || (u < 0x20 && c != '\t') || u == 0x7f) return true;
  }
  return false;
}

// quoted_printable encodes LF-terminated |text| (RFC 2045 6.7): LF is a hard
// line break; '=', control and 8-bit bytes are =HH; a space or TAB before a
// line end is encoded; lines longer than 76 get soft breaks ("=" LF).
std::string quoted_printable(std::string_view text) {
  std::string out;
  std::string line;
  auto emit = [&](std::string_view piece) {
    if (line.size() + piece.size() > kQpLineMax - 1) {
      out += line;
      out += "=\n";
      line.clear();
    }
    line += piece;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += line;
      out += '\n';
      line.clear();
      continue;
    }
    const bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n';
    const bool plain = (u >= 0x21 && u <= 0x7e && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (plain) {
      const char one[1] = {c};
      emit(std::string_view(one, 1));
    } else {
      emit(fmt::format("={:02X}", u));
    }
  }
  out += line;
  if (!line.empty()) out += "=\n";  // the text did not end in LF: add none
  return out;
}

// append_text_part appends a part's headers and |body| (LF-terminated),
// quoted-printable when it must be.
void append_part(std::string& out, std::string_view boundary, std::string_view description,
                 std::string_view content_type, const std::string& body) {
  out += fmt::format("--{}\n", boundary);
  out += fmt::format("Content-Description: {}\n", description);
  const bool quote = needs_quoting(body);
  if (quote) {
    out += fmt::format("Content-Type: {}\n", content_type);
    out += "Content-Transfer-Encoding: quoted-printable\n\n";
    out += quoted_printable(body);
  } else {
    out += fmt::format("Content-Type: {}\n\n", content_type);
    out += body;
  }
}

std::string human_reason(const DsnRecipient& rcpt, std::string_view remote_mta, uint32_t attempts) {
  const std::string reply = one_line(rcpt.reply);
  const ReplyCode code = parse_reply_code(rcpt.reply);
  if (rcpt.action == DsnAction::kDelayed) {
    return reply.empty() ? std::string("Not delivered yet.")
                         : "Not delivered yet; the last reply was: " + reply;
  }
  if (rcpt.expired) {
    return fmt::format("Gave up after {} attempt{}: the message reached its maximum age in the queue{}{}",
                       attempts, attempts == 1 ? "" : "s",
                       reply.empty() ? "." : "; the last reply was: ", reply);
  }
  if (code.code != 0) {
    return fmt::format("The mail server {} refused it: {}", remote_mta.empty() ? "of the relay" : remote_mta,
                       reply);
  }
  return reply.empty() ? std::string("Delivery failed.") : "Delivery failed: " + reply;
}

std::string human_part(const DsnInput& in, bool any_failed, bool any_delayed) {
  std::string text;
  text += fmt::format("This is the mail system at {}.\n\n", in.reporting_mta);
  for (int section = 0; section < 2; ++section) {
    const DsnAction action = section == 0 ? DsnAction::kFailed : DsnAction::kDelayed;
    if (action == DsnAction::kFailed && !any_failed) continue;
    if (action == DsnAction::kDelayed && !any_delayed) continue;
    if (action == DsnAction::kFailed) {
      text +=
          "Your message could not be delivered to the following recipients. It will not be\n"
          "tried again for them.\n\n";
    } else {
      std::string until = in.retry_until_unix > 0 ? " until " + rfc5322_date(in.retry_until_unix) : "";
      append_wrapped(text,
                     fmt::format("Your message has not been delivered yet to the following recipients. "
                                 "It is still being retried{}; you need not send it again.",
                                 until),
                     "", "", kFoldWidth);
      text += '\n';
    }
    for (const DsnRecipient& rcpt : in.recipients) {
      if (rcpt.action != action) continue;
      text += fmt::format("<{}>:\n", one_line(rcpt.address));
      append_wrapped(text, human_reason(rcpt, in.remote_mta, in.attempts), "    ", "    ", kFoldWidth);
      text += '\n';
    }
  }
  text += fmt::format("The headers of your message are attached below (ringmail queue id {}).\n",
                      one_line(in.original_id));
  return text;
}

std::string status_part(const DsnInput& in) {
  std::string ds;
  append_field(ds, "Reporting-MTA", "dns; " + ascii_line(in.reporting_mta));
  append_field(ds, "X-Ringmail-Spool-Id", ascii_line(in.original_id));
  if (in.arrival_unix > 0) append_field(ds, "Arrival-Date", rfc5322_date(in.arrival_unix));
  for (const DsnRecipient& rcpt : in.recipients) {
    ds += '\n';
    const ReplyCode code = parse_reply_code(rcpt.reply);
    append_field(ds, "Final-Recipient", "rfc822; " + xtext(rcpt.address));
    append_field(ds, "Action", rcpt.action == DsnAction::kFailed ? "failed" : "delayed");
    append_field(ds, "Status", dsn_status(rcpt));
    if (code.code != 0 && !in.remote_mta.empty()) {
      append_field(ds, "Remote-MTA", "dns; " + ascii_line(in.remote_mta));
    }
    if (!rcpt.reply.empty()) {
      append_field(ds, "Diagnostic-Code",
                   (code.code != 0 ? "smtp; " : "X-Ringmail; ") + ascii_line(rcpt.reply));
    }
    append_field(ds, "Last-Attempt-Date", rfc5322_date(in.now_unix));
    if (rcpt.action == DsnAction::kDelayed && in.retry_until_unix > 0) {
      append_field(ds, "Will-Retry-Until", rfc5322_date(in.retry_until_unix));
    }
  }
  return ds;
}

}  // namespace

std::string dsn_status(const DsnRecipient& recipient) {
  const ReplyCode code = parse_reply_code(recipient.reply);
  const char wanted = recipient.action == DsnAction::kFailed ? '5' : '4';
  if (!code.enhanced.empty() && code.enhanced[0] == wanted) return std::string(code.enhanced);
  if (recipient.action == DsnAction::kDelayed) return "4.0.0";
  if (recipient.expired) return "5.4.7";  // RFC 3463: delivery time expired
  return "5.0.0";
}

std::string compose_dsn(const DsnInput& in) {
  bool any_failed = false, any_delayed = false;
  for (const DsnRecipient& rcpt : in.recipients) {
    (rcpt.action == DsnAction::kFailed ? any_failed : any_delayed) = true;
  }
  const std::string human = human_part(in, any_failed, any_delayed);
  const std::string status = status_part(in);
  const std::string headers = to_lf(in.original_headers);

  // The boundary starts with "=_", which quoted-printable text never holds;
  // the 7-bit parts are checked.
  std::string boundary = fmt::format("=_rm_{}", ascii_line(in.dsn_id.substr(0, 63)));
  for (char& c : boundary) {
    if (c == ' ' || c == '"' || c == '\\') c = '_';
  }
  while (human.find(boundary) != std::string::npos || status.find(boundary) != std::string::npos ||
         headers.find(boundary) != std::string::npos) {
    boundary += '_';
  }

  std::string out;
  std::vector<std::string> rcpts{std::string(in.original_sender)};
  if (!in.copy_to.empty() && !same_address(in.copy_to, in.original_sender)) rcpts.emplace_back(in.copy_to);
  write_envelope_preamble("", rcpts, out);  // X-Ringmail-From: <> ...
  out += fmt::format("From: Mail Delivery System <MAILER-DAEMON@{}>\n", ascii_line(in.reporting_mta));
  out += fmt::format("To: <{}>\n", one_line(in.original_sender));
  out += fmt::format("Subject: {}\n", any_failed ? "Undelivered Mail Returned to Sender"
                                                 : "Delayed Mail (still being retried)");
  out += fmt::format("Date: {}\n", rfc5322_date(in.now_unix));
  out += fmt::format("Message-ID: <{}@{}>\n", ascii_line(in.dsn_id), ascii_line(in.reporting_mta));
  out += "Auto-Submitted: auto-replied\n";
  out += "MIME-Version: 1.0\n";
  out += fmt::format("Content-Type: multipart/report; report-type=delivery-status;\n boundary=\"{}\"\n",
                     boundary);
  out += "\nThis is a MIME-encapsulated message.\n\n";
  append_part(out, boundary, "Notification", "text/plain; charset=utf-8", human);
  append_part(out, boundary, "Delivery report", "message/delivery-status", status);
  append_part(out, boundary, any_failed ? "Undelivered Message Headers" : "Delayed Message Headers",
              "text/rfc822-headers", headers);
  out += fmt::format("--{}--\n", boundary);
  return out;
}

}  // namespace ringmail
