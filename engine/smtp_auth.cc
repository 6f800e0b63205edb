// engine/smtp_auth.cc — see smtp_auth.h. Start-up work (base64 of the
// credentials) and a transcript helper; nothing on the per-message path.
#include "engine/smtp_auth.h"

#include <cstdint>

namespace ringmail {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// line_with_base64 returns |prefix| + base64(|data|) + CRLF.
std::string line_with_base64(std::string_view prefix, std::string_view data) {
  std::string line(prefix);
  const size_t start = line.size();
  line.resize(start + base64_encoded_size(data.size()));
  base64_encode(data, line.data() + start, line.size() - start);
  line += "\r\n";
  return line;
}

// check_credential: "" when |value| can be sent, else why not.
std::string check_credential(const char* what, std::string_view value) {
  if (value.empty()) return std::string(what) + " is empty";
  if (value.size() > kMaxCredentialBytes) {
    return std::string(what) + " is longer than " + std::to_string(kMaxCredentialBytes) + " bytes";
  }
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') {
      return std::string(what) + " contains a NUL, CR or LF byte, which AUTH cannot carry";
    }
  }
  return {};
}

}  // namespace

size_t base64_encode(std::string_view data, char* out, size_t capacity) {
  const size_t size = base64_encoded_size(data.size());
  if (capacity < size) return 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t bits = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out[o++] = kAlphabet[bits >> 18];
    out[o++] = kAlphabet[(bits >> 12) & 63];
    out[o++] = kAlphabet[(bits >> 6) & 63];
    out[o++] = kAlphabet[bits & 63];
  }
  const size_t rest = data.size() - i;
  if (rest > 0) {
    const uint32_t bits = (uint32_t{in[i]} << 16) | (rest == 2 ? uint32_t{in[i + 1]} << 8 : 0);
    out[o++] = kAlphabet[bits >> 18];
    out[o++] = kAlphabet[(bits >> 12) & 63];
    out[o++] = rest == 2 ? kAlphabet[(bits >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return o;
}

bool make_smtp_credentials(std::string_view username, std::string_view password, bool allow_plaintext_auth,
                           SmtpCredentials& out, std::string& error) {
  error = check_credential("the user name (relay.username)", username);
  if (error.empty()) error = check_credential("the password (relay.password_file)", password);
  if (!error.empty()) return false;
  out.username.assign(username);
  out.allow_plaintext_auth = allow_plaintext_auth;
  // PLAIN: authorization identity (empty: the same as the user), NUL, user, NUL, password.
  std::string plain;
  plain.reserve(username.size() + password.size() + 2);
  plain += '\0';
  plain += username;
  plain += '\0';
  plain += password;
  out.auth_plain_line = line_with_base64("AUTH PLAIN ", plain);
  out.login_username_line = line_with_base64("", username);
  out.login_password_line = line_with_base64("", password);
  return true;
}

std::string mask_credential_lines(std::string_view bytes) {
  std::string out;
  while (!bytes.empty()) {
    size_t end = bytes.find('\n');
    end = end == std::string_view::npos ? bytes.size() : end + 1;
    std::string_view line = bytes.substr(0, end);
    bytes.remove_prefix(end);
    std::string_view ending;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
      ending = std::string_view(line.data() + line.size() - 1, ending.size() + 1);
      line.remove_suffix(1);
    }
    // Keep "AUTH <mechanism> " (case as written), mask what follows.
    if (line.size() > 5 && (line.substr(0, 5) == "AUTH " || line.substr(0, 5) == "auth ")) {
      const size_t space = line.find(' ', 5);
      out += space == std::string_view::npos ? line : line.substr(0, space + 1);
      if (space != std::string_view::npos) out += "****";
    } else if (!line.empty()) {
      out += "****";
    }
    out += ending;
  }
  return out;
}

}  // namespace ringmail
