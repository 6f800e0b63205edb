// engine/ehlo_capabilities.cc — EHLO reply → EhloCapabilities (see the header).
//
// Works on string_views into the parsed reply: no allocation, no exceptions,
// never reads outside the reply. Unknown keywords and junk are ignored.
#include "engine/ehlo_capabilities.h"

#include <cstdint>
#include <string_view>

namespace ringmail {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

// equals_ci compares |s| with the upper-case ASCII |upper| ignoring case.
bool equals_ci(std::string_view s, std::string_view upper) {
  if (s.size() != upper.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != upper[i]) return false;
  }
  return true;
}

// next_token removes the next space-separated token from |rest| into |token|;
// false when only spaces are left.
bool next_token(std::string_view& rest, std::string_view& token) {
  size_t i = 0;
  while (i < rest.size() && is_space(rest[i])) ++i;
  if (i == rest.size()) {
    rest = {};
    return false;
  }
  size_t end = i;
  while (end < rest.size() && !is_space(rest[end])) ++end;
  token = rest.substr(i, end - i);
  rest.remove_prefix(end);
  return true;
}

// parse_size reads a decimal SIZE parameter; 0 if it is not all digits.
uint64_t parse_size(std::string_view s) {
  uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return 0;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return UINT64_MAX;  // saturate
    value = value * 10 + digit;
  }
  return value;
}

void add_auth_mechanism(std::string_view mechanism, EhloCapabilities& caps) {
  if (equals_ci(mechanism, "PLAIN")) caps.auth_plain = true;
  if (equals_ci(mechanism, "LOGIN")) caps.auth_login = true;
  if (equals_ci(mechanism, "XOAUTH2")) caps.auth_xoauth2 = true;
}

void parse_capability_line(std::string_view line, EhloCapabilities& caps) {
  std::string_view keyword;
  if (!next_token(line, keyword)) return;
  std::string_view param;
  if (equals_ci(keyword, "PIPELINING")) {
    caps.pipelining = true;
  } else if (equals_ci(keyword, "SIZE")) {
    caps.size = true;
    if (next_token(line, param)) caps.size_limit = parse_size(param);
  } else if (equals_ci(keyword, "8BITMIME")) {
    caps.eight_bit_mime = true;
  } else if (equals_ci(keyword, "SMTPUTF8")) {
    caps.smtputf8 = true;
  } else if (equals_ci(keyword, "ENHANCEDSTATUSCODES")) {
    caps.enhanced_status_codes = true;
  } else if (equals_ci(keyword, "STARTTLS")) {
    caps.starttls = true;
  } else if (equals_ci(keyword, "CHUNKING")) {
    caps.chunking = true;
  } else if (equals_ci(keyword, "DSN")) {
    caps.dsn = true;
  } else if (keyword.size() >= 4 && equals_ci(keyword.substr(0, 4), "AUTH") &&
             (keyword.size() == 4 || keyword[4] == '=')) {
    // "AUTH PLAIN LOGIN" or the pre-RFC 2554 "AUTH=PLAIN LOGIN".
    caps.auth = true;
    if (keyword.size() > 5) add_auth_mechanism(keyword.substr(5), caps);
    while (next_token(line, param)) add_auth_mechanism(param, caps);
  }
}

}  // namespace

EhloCapabilities parse_ehlo_capabilities(const SmtpReply& reply) {
  EhloCapabilities caps;
  if (reply.code != 250) return caps;
  bool first = true;
  for_each_reply_line(reply, [&](std::string_view line) {
    if (first) {
      first = false;  // the greeting: "mx.example.org at your service"
      return;
    }
    parse_capability_line(line, caps);
  });
  return caps;
}

}  // namespace ringmail
