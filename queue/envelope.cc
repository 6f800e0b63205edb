// queue/envelope.cc — parses the envelope of a spool file: the optional
// X-Ringmail- preamble, else To/Cc/Bcc like `sendmail -t`. See envelope.h
// and docs/spool.md.
//
// Untrusted input. Every loop advances a position inside |head| and every
// index is checked against its end; nothing is allocated on success (error
// sentences are built only on failure). Never touches the file system.
#include "queue/envelope.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "queue/line_end.h"

namespace ringmail {
namespace {

constexpr std::string_view kPreamblePrefix = "X-Ringmail-";
constexpr size_t kQuoteMax = 80;  // bytes of input echoed in an error

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ci(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && equals_ci(text.substr(0, prefix.size()), prefix);
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim_wsp(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

// printable renders untrusted bytes for an error sentence: printable ASCII
// as is, anything else as '?', at most kQuoteMax bytes then "...".
std::string printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < kQuoteMax; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    out += (u >= 0x20 && u < 0x7f) ? s[i] : '?';
  }
  if (s.size() > kQuoteMax) out += "...";
  return out;
}

// quote is printable() in single quotes.
std::string quote(std::string_view s) { return "'" + printable(s) + "'"; }

// Line is one line of |head|: [begin, end) without its line end (CRLF, LF
// or a bare CR: queue/line_end.h, the encoder's rule); next is where the
// following line starts.
struct Line {
  size_t begin = 0;
  size_t end = 0;
  size_t next = 0;
  bool terminated = false;  // ended by a line end (false: the last bytes of |head|)
};

Line line_at(std::string_view head, size_t pos) {
  Line line;
  line.begin = pos;
  line.end = find_line_end(head, pos);
  const size_t length = line_end_length(head, line.end);
  line.next = line.end + length;
  line.terminated = length > 0;
  return line;
}

// is_field_name says whether |name| is an RFC 5322 field name (ftext).
bool is_field_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 33 || u > 126 || c == ':') return false;
  }
  return true;
}

// Token kinds of the address-list tokenizer (RFC 5322 section 3.2).
enum class TokenKind { kAtom, kQuoted, kLiteral, kSpecial, kEnd };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t begin = 0;
  size_t end = 0;
  char special = 0;
};

bool is_special(char c) {
  return c == '<' || c == '>' || c == ',' || c == ':' || c == ';' || c == '@' || c == ')';
}

bool is_atom_char(char c) {
  return !is_fws(c) && !is_special(c) && c != '(' && c != '"' && c != '[' && c != ']';
}

// Field is one header field: [begin, end) covers the name, the value and
// all continuation lines including the final line break.
struct Field {
  size_t begin = 0;
  size_t end = 0;
  size_t value_begin = 0;
  std::string_view name;
  uint32_t line_no = 0;
};

enum class ListMode { kRecipients, kFirstSender };

class Parser {
 public:
  Parser(std::string_view head, bool whole_file, std::string_view default_sender,
         const EnvelopeParseOptions& options, Envelope& out, std::string& error)
      : head_(head),
        whole_file_(whole_file),
        default_sender_(default_sender),
        options_(options),
        out_(out),
        error_(error) {}

  EnvelopeParse run() {
    out_.sender = {};
    out_.recipient_count = 0;
    out_.body_offset = 0;
    out_.skip_count = 0;
    out_.header_end = static_cast<uint32_t>(head_.size());
    out_.from_preamble = false;
    if (head_.empty()) return fail("empty message file");
    if (!parse_preamble()) return EnvelopeParse::kMalformed;
    if (!resolve_default_sender()) return EnvelopeParse::kMalformed;
    if (!parse_header_section()) return EnvelopeParse::kMalformed;
    return EnvelopeParse::kOk;
  }

 private:
  EnvelopeParse fail(std::string sentence) {
    error_ = std::move(sentence);
    return EnvelopeParse::kMalformed;
  }
  bool fail_bool(std::string sentence) {
    error_ = std::move(sentence);
    return false;
  }

  // parse_preamble reads the leading X-Ringmail- lines and sets body_offset.
  bool parse_preamble() {
    size_t pos = 0;
    while (pos < head_.size()) {
      const Line line = line_at(head_, pos);
      const std::string_view text = head_.substr(line.begin, line.end - line.begin);
      if (!starts_with_ci(text, kPreamblePrefix)) break;
      ++line_no_;
      if (!line.terminated && !whole_file_) {
        return fail_bool("the envelope preamble does not end within the first " +
                         std::to_string(kMaxHeadBytes) + " bytes (line " + std::to_string(line_no_) +
                         "); split the message or use fewer X-Ringmail-To lines");
      }
      const size_t colon = text.find(':');
      if (colon == std::string_view::npos) {
        return fail_bool("line " + std::to_string(line_no_) + ": envelope field " + quote(text) +
                         " has no ':'; write e.g. 'X-Ringmail-To: <user@example.org>'");
      }
      std::string_view name = text.substr(0, colon);
      while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
      const std::string_view value = trim_wsp(text.substr(colon + 1));
      if (equals_ci(name, "X-Ringmail-From")) {
        if (!preamble_sender(value)) return false;
      } else if (equals_ci(name, "X-Ringmail-To")) {
        const std::string_view address = strip_angle_brackets(value);
        if (address.empty()) {
          return fail_bool("line " + std::to_string(line_no_) +
                           ": X-Ringmail-To has no address; write one recipient per line");
        }
        if (!add_recipient(address, "X-Ringmail-To", line_no_)) return false;
      } else {
        return fail_bool("unknown envelope field " + printable(name) + " on line " +
                         std::to_string(line_no_) + "; only X-Ringmail-From and X-Ringmail-To are defined");
      }
      pos = line.next;
    }
    out_.body_offset = static_cast<uint32_t>(pos);
    out_.from_preamble = out_.recipient_count > 0;
    if (pos >= head_.size() && whole_file_) {
      return fail_bool("the message is empty: the file holds only the envelope preamble");
    }
    if (pos < head_.size() && line_no_ > 0 && is_wsp(head_[pos])) {
      return fail_bool("line " + std::to_string(line_no_ + 1) +
                       ": continuation line after the envelope preamble; X-Ringmail- fields are "
                       "one line each");
    }
    return true;
  }

  bool preamble_sender(std::string_view value) {
    if (have_preamble_sender_) {
      return fail_bool("line " + std::to_string(line_no_) +
                       ": second X-Ringmail-From line; a message has one envelope sender");
    }
    if (value.empty()) {
      return fail_bool("line " + std::to_string(line_no_) +
                       ": X-Ringmail-From is empty; write <> for the null sender");
    }
    const std::string_view sender = strip_angle_brackets(value);
    std::string why;
    if (!sender.empty() && !check_address(sender, why)) {
      return fail_bool("sender address " + quote(sender) + " " + why + " (X-Ringmail-From, line " +
                       std::to_string(line_no_) + ")");
    }
    have_preamble_sender_ = true;
    sender_known_ = true;
    out_.sender = sender;
    return true;
  }

  bool resolve_default_sender() {
    if (sender_known_ || default_sender_.empty()) return true;
    const std::string_view sender = strip_angle_brackets(default_sender_);
    std::string why;
    if (!sender.empty() && !check_address(sender, why)) {
      return fail_bool("default sender " + quote(sender) + " " + why +
                       "; fix smtp.default_sender in the config");
    }
    sender_known_ = true;
    out_.sender = sender;
    return true;
  }

  // parse_header_section walks the header fields after the preamble up to
  // the empty line (or the first line that is not a header field).
  bool parse_header_section() {
    size_t pos = out_.body_offset;
    bool field_open = false;
    bool header_end = false;
    Field field;
    while (pos < head_.size()) {
      const Line line = line_at(head_, pos);
      ++line_no_;
      const std::string_view text = head_.substr(line.begin, line.end - line.begin);
      if (text.empty()) {
        header_end = true;
        out_.header_end = static_cast<uint32_t>(line.begin);
        break;
      }
      if (is_wsp(text.front())) {
        if (!field_open) {  // no field to continue: the body starts here
          header_end = true;
          out_.header_end = static_cast<uint32_t>(line.begin);
          break;
        }
        field.end = line.next;
        pos = line.next;
        continue;
      }
      if (field_open) {
        if (!finish_field(field)) return false;
        field_open = false;
      }
      const size_t colon = text.find(':');
      std::string_view name = colon == std::string_view::npos ? text : text.substr(0, colon);
      while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
      if (colon == std::string_view::npos || !is_field_name(name)) {
        header_end = true;  // not a header field: the body starts here (as Postfix does)
        out_.header_end = static_cast<uint32_t>(line.begin);
        break;
      }
      if (starts_with_ci(name, kPreamblePrefix)) {
        return fail_bool(printable(name) + " on line " + std::to_string(line_no_) +
                         " comes after a header field; the envelope preamble must be the first "
                         "lines of the file");
      }
      field.begin = line.begin;
      field.end = line.next;
      field.value_begin = line.begin + colon + 1;
      field.name = name;
      field.line_no = line_no_;
      field_open = true;
      pos = line.next;
    }
    if (pos >= head_.size() && whole_file_) header_end = true;  // headers only, no body
    if (field_open && header_end) {
      if (!finish_field(field)) return false;
    }
    if (!header_end && (!out_.from_preamble || !sender_known_)) {
      return fail_bool("header section does not end within the first " + std::to_string(kMaxHeadBytes) +
                       " bytes; shorten the headers or give the envelope in X-Ringmail- lines");
    }
    if (!sender_known_) {
      return fail_bool(
          "no sender: no X-Ringmail-From line, no default sender (smtp.default_sender) and no "
          "From header");
    }
    if (out_.recipient_count == 0 && !options_.allow_no_recipients) {
      if (saw_recipient_field_) {
        return fail_bool("no recipients: the To/Cc/Bcc headers hold no address");
      }
      return fail_bool("no recipients: no X-Ringmail-To line and no To/Cc/Bcc header");
    }
    return true;
  }

  bool finish_field(const Field& field) {
    const bool to = equals_ci(field.name, "To");
    const bool cc = equals_ci(field.name, "Cc");
    const bool bcc = equals_ci(field.name, "Bcc");
    if (!out_.from_preamble && (to || cc || bcc)) {
      saw_recipient_field_ = true;
      if (bcc) {
        if (out_.skip_count == kMaxSkipRanges) {
          return fail_bool("more than " + std::to_string(kMaxSkipRanges) + " Bcc header fields (line " +
                           std::to_string(field.line_no) + "); merge them into one");
        }
        out_.skip[out_.skip_count++] = {static_cast<uint32_t>(field.begin), static_cast<uint32_t>(field.end)};
      }
      const char* label = to ? "To:" : (cc ? "Cc:" : "Bcc:");
      return parse_address_list(field, label, ListMode::kRecipients);
    }
    if (!sender_known_ && equals_ci(field.name, "From")) {
      if (!parse_address_list(field, "From:", ListMode::kFirstSender)) return false;
      if (!sender_known_) {
        return fail_bool("the From header on line " + std::to_string(field.line_no) +
                         " holds no address; give the sender with -f or X-Ringmail-From");
      }
    }
    return true;
  }

  // next_token reads one token of the field value [pos, end), skipping
  // blanks, line breaks and (nested) comments.
  bool next_token(size_t& pos, size_t end, Token& token, const Field& field, const char* label) {
    while (pos < end) {
      const char c = head_[pos];
      if (is_fws(c)) {
        ++pos;
      } else if (c == '(') {
        int depth = 0;
        while (pos < end) {
          const char d = head_[pos];
          if (d == '\\') {
            pos += 2;
            continue;
          }
          ++pos;
          if (d == '(') ++depth;
          if (d == ')' && --depth == 0) break;
        }
        if (depth != 0) return unterminated("comment", field, label);
        pos = std::min(pos, end);
      } else {
        break;
      }
    }
    token = Token{};
    token.begin = pos;
    if (pos >= end) {
      token.kind = TokenKind::kEnd;
      token.end = pos;
      return true;
    }
    const char c = head_[pos];
    if (c == '"' || c == '[') {
      const char close = c == '"' ? '"' : ']';
      size_t i = pos + 1;
      bool closed = false;
      while (i < end) {
        if (head_[i] == '\\') {
          i += 2;
          continue;
        }
        if (head_[i] == close) {
          closed = true;
          break;
        }
        ++i;
      }
      if (!closed) return unterminated(c == '"' ? "quoted string" : "domain literal", field, label);
      token.kind = c == '"' ? TokenKind::kQuoted : TokenKind::kLiteral;
      token.end = i + 1;
    } else if (is_special(c) || c == ']') {
      token.kind = TokenKind::kSpecial;
      token.special = c;
      token.end = pos + 1;
    } else {
      size_t i = pos;
      while (i < end && is_atom_char(head_[i])) ++i;
      token.kind = TokenKind::kAtom;
      token.end = i;
    }
    pos = token.end;
    return true;
  }

  bool unterminated(const char* what, const Field& field, const char* label) {
    return fail_bool(std::string("unterminated ") + what + " in the " + label + " header on line " +
                     std::to_string(field.line_no));
  }

  bool syntax_error(const char* what, const Field& field, const char* label) {
    return fail_bool(std::string(what) + " in the " + label + " header on line " +
                     std::to_string(field.line_no));
  }

  // parse_address_list parses an RFC 5322 address-list (mailboxes, name-addr
  // with display names, groups, comments, folding). Each address must be one
  // contiguous run of bytes (it becomes a view into |head|).
  bool parse_address_list(const Field& field, const char* label, ListMode mode) {
    const size_t end = field.end;
    size_t pos = field.value_begin;
    bool in_group = false;
    // The current item: plain addr-spec tokens, or an <angle-addr>.
    size_t span_begin = 0, span_end = 0;
    bool have_span = false, contiguous = true, angle = false;
    auto reset = [&] {
      have_span = false;
      contiguous = true;
      angle = false;
    };
    auto finish = [&]() -> bool {
      if (!have_span) {
        reset();
        return true;
      }
      const std::string_view address = head_.substr(span_begin, span_end - span_begin);
      bool ok = true;
      if (!angle && !contiguous) {
        std::string why;
        if (check_address(address, why)) {
          why = "is split by a comment or a line break";
        }
        ok = fail_bool(std::string(mode == ListMode::kFirstSender ? "sender" : "recipient") + " address " +
                       quote(address) + " " + why + " (" + label + " header, line " +
                       std::to_string(field.line_no) + ")");
      } else if (mode == ListMode::kFirstSender) {
        ok = set_header_sender(address, field, label);
      } else {
        ok = add_recipient(address, label, field.line_no);
      }
      reset();
      return ok;
    };
    Token token;
    while (true) {
      if (mode == ListMode::kFirstSender && sender_known_) return true;
      if (!next_token(pos, end, token, field, label)) return false;
      if (token.kind == TokenKind::kEnd) return finish();
      if (token.kind == TokenKind::kSpecial) {
        switch (token.special) {
          case ',':
            if (!finish()) return false;
            continue;
          case ';':
            if (!in_group) return syntax_error("';' outside a group", field, label);
            if (!finish()) return false;
            in_group = false;
            continue;
          case ':':
            if (in_group) return syntax_error("a group inside a group", field, label);
            if (angle) return syntax_error("text after '>'", field, label);
            in_group = true;  // what came before was the group's display name
            reset();
            continue;
          case '<':
            if (angle) return syntax_error("a second '<'", field, label);
            if (!read_angle_addr(pos, end, field, label, span_begin, span_end)) return false;
            have_span = true;
            contiguous = true;
            angle = true;
            continue;
          case '@':
            break;  // part of an addr-spec
          default:
            return syntax_error("an unexpected character", field, label);
        }
      }
      if (angle) return syntax_error("text after '>'", field, label);
      if (!have_span) {
        span_begin = token.begin;
        have_span = true;
      } else if (token.begin != span_end) {
        contiguous = false;
      }
      span_end = token.end;
    }
  }

  // read_angle_addr reads the addr-spec after '<' up to '>' and sets
  // [begin, end) to it (an obsolete source route "@a,@b:" is dropped).
  bool read_angle_addr(size_t& pos, size_t end, const Field& field, const char* label, size_t& begin,
                       size_t& span_end) {
    bool have = false;
    bool contiguous = true;
    begin = pos;
    span_end = pos;
    Token token;
    while (true) {
      if (!next_token(pos, end, token, field, label)) return false;
      if (token.kind == TokenKind::kEnd) return unterminated("'<'", field, label);
      if (token.kind == TokenKind::kSpecial && token.special == '>') break;
      if (token.kind == TokenKind::kSpecial && token.special == ':') {  // end of a source route
        have = false;
        contiguous = true;
        continue;
      }
      if (token.kind == TokenKind::kSpecial && token.special != '@' && token.special != ',') {
        return syntax_error("an unexpected character inside <>", field, label);
      }
      if (!have) {
        begin = token.begin;
        have = true;
      } else if (token.begin != span_end) {
        contiguous = false;
      }
      span_end = token.end;
    }
    if (!have) {
      return fail_bool(std::string("empty address <> in the ") + label + " header on line " +
                       std::to_string(field.line_no));
    }
    if (!contiguous) {
      return fail_bool("address " + quote(head_.substr(begin, span_end - begin)) +
                       " is split by a space, comment or line break (" + label + " header, line " +
                       std::to_string(field.line_no) + ")");
    }
    return true;
  }

  bool set_header_sender(std::string_view address, const Field& field, const char* label) {
    std::string why;
    if (!check_address(address, why)) {
      return fail_bool("sender address " + quote(address) + " " + why + " (" + label + " header, line " +
                       std::to_string(field.line_no) +
                       "); give the sender with -f, X-Ringmail-From or smtp.default_sender");
    }
    out_.sender = address;
    sender_known_ = true;
    return true;
  }

  bool add_recipient(std::string_view address, const char* where, uint32_t line_no) {
    std::string why;
    if (!check_address(address, why)) {
      return fail_bool("recipient address " + quote(address) + " " + why + " (" + where +
                       (where[0] == 'X' ? ", line " : " header, line ") + std::to_string(line_no) + ")");
    }
    for (uint32_t i = 0; i < out_.recipient_count; ++i) {
      if (same_address(out_.recipients[i], address)) return true;  // keep the first
    }
    if (out_.recipient_count == kMaxRecipients) {
      return fail_bool("more than " + std::to_string(kMaxRecipients) + " recipients (line " +
                       std::to_string(line_no) + "); split the message");
    }
    out_.recipients[out_.recipient_count++] = address;
    return true;
  }

  std::string_view head_;
  bool whole_file_;
  std::string_view default_sender_;
  const EnvelopeParseOptions& options_;
  Envelope& out_;
  std::string& error_;
  uint32_t line_no_ = 0;  // the line last read (1-based)
  bool have_preamble_sender_ = false;
  bool sender_known_ = false;
  bool saw_recipient_field_ = false;
};

}  // namespace

uint64_t next_sendable(const Envelope& envelope, uint64_t cursor, uint64_t& run_end, bool& gap) {
  gap = false;
  run_end = UINT64_MAX;
  // The ranges are sorted and disjoint: one pass finds the range |cursor|
  // lies in (step over it; the next one cannot contain its end) and the
  // first range after it.
  for (uint32_t i = 0; i < envelope.skip_count; ++i) {
    const ByteRange& range = envelope.skip[i];
    if (cursor >= range.end) continue;
    if (cursor >= range.begin) {
      cursor = range.end;
      gap = true;
      continue;
    }
    run_end = range.begin;
    break;
  }
  return cursor;
}

bool is_ascii(std::string_view text) {
  // Eight bytes at a time: any high bit set means a non-ASCII byte.
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    if ((word & 0x8080808080808080ULL) != 0) return false;
  }
  for (; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0x80) return false;
  }
  return true;
}

bool check_address(std::string_view address, std::string& why) {
  if (address.empty()) {
    why = "is empty";
    return false;
  }
  if (address.size() > kMaxAddressBytes) {
    why = "is longer than " + std::to_string(kMaxAddressBytes) + " bytes";
    return false;
  }
  for (char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ') {
      why = "contains a space";
      return false;
    }
    if (u < 0x20 || u == 0x7f) {
      why = "contains a control character";
      return false;
    }
    if (c == '<' || c == '>') {
      why = "contains '<' or '>'";
      return false;
    }
    if (c == ',') {
      why = "contains a comma (write one address per line)";
      return false;
    }
  }
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos) {
    why = "has no '@'";
    return false;
  }
  if (at == 0) {
    why = "has an empty local part";
    return false;
  }
  if (at + 1 == address.size()) {
    why = "has an empty domain";
    return false;
  }
  return true;
}

std::string_view strip_angle_brackets(std::string_view text) {
  text = trim_wsp(text);
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>') {
    text = trim_wsp(text.substr(1, text.size() - 2));
  }
  return text;
}

bool same_address(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  const size_t at = a.rfind('@');
  if (at == std::string_view::npos || b.rfind('@') != at) return a == b;
  return a.substr(0, at) == b.substr(0, at) && equals_ci(a.substr(at), b.substr(at));
}

EnvelopeParse parse_envelope(std::string_view head, bool whole_file, std::string_view default_sender,
                             Envelope& out, std::string& error) {
  return parse_envelope(head, whole_file, default_sender, EnvelopeParseOptions{}, out, error);
}

EnvelopeParse parse_envelope(std::string_view head, bool whole_file, std::string_view default_sender,
                             const EnvelopeParseOptions& options, Envelope& out, std::string& error) {
  if (head.size() > kMaxHeadBytes) {
    head = head.substr(0, kMaxHeadBytes);
    whole_file = false;
  }
  Parser parser(head, whole_file, default_sender, options, out, error);
  return parser.run();
}

bool write_envelope_preamble(std::string_view sender, const std::vector<std::string>& rcpts,
                             std::string& out) {
  if (rcpts.empty()) return false;
  std::string why;
  if (!sender.empty() && !check_address(sender, why)) return false;
  for (const std::string& rcpt : rcpts) {
    if (!check_address(rcpt, why)) return false;
  }
  out += "X-Ringmail-From: <";
  out += sender;
  out += ">\n";
  for (const std::string& rcpt : rcpts) {
    out += "X-Ringmail-To: <";
    out += rcpt;
    out += ">\n";
  }
  return true;
}

}  // namespace ringmail
