// engine/smtp_auth.h — the client's side of SMTP AUTH (RFC 4954) with the
// PLAIN (RFC 4616) and LOGIN mechanisms: the relay credentials, their
// base64 forms (encoded once, at start-up), and the masking of AUTH
// commands in a transcript.
//
// Who uses it: engine/destination.cc builds the credentials once on the
// main thread (make_smtp_credentials); engine/smtp_client.cc copies the
// prepared lines into its output; engine/smtp_connection.cc (RINGMAIL_TRACE)
// and any other transcript printer mask them (mask_credential_lines).
//
// Security: the password is held in memory for the life of the process
// (it is needed at every connection) and is never written anywhere except
// into an AUTH exchange on the wire. Nothing here logs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail {

// kMaxCredentialBytes bounds the user name and the password (each); the
// PLAIN response "\0user\0password" in base64 then fits one AUTH line well
// under RFC 4954's 12,288-octet limit. AWS SES SMTP user names are 20
// characters and passwords 44.
inline constexpr size_t kMaxCredentialBytes = 255;

// base64_encoded_size is the size of the base64 text of |n| bytes.
constexpr size_t base64_encoded_size(size_t n) { return (n + 2) / 3 * 4; }

// base64_encode writes the standard base64 (RFC 4648, '=' padding) of
// |data| into |out| and returns its size, or 0 (nothing written) when
// |capacity| is below base64_encoded_size(data.size()). No allocation.
size_t base64_encode(std::string_view data, char* out, size_t capacity);

// SmtpCredentials: the login to one destination, with every line the
// client sends for it prepared once. Empty username: no AUTH.
struct SmtpCredentials {
  std::string username;
  // allow_plaintext_auth: AUTH may go out without TLS (relay.allow_plaintext_auth).
  bool allow_plaintext_auth = false;
  // The client's lines, each with its CRLF: "AUTH PLAIN <base64(\0user\0password)>",
  // and LOGIN's two answers, "<base64(user)>" and "<base64(password)>".
  std::string auth_plain_line;
  std::string login_username_line;
  std::string login_password_line;

  bool configured() const { return !username.empty(); }
};

// make_smtp_credentials prepares |out| for |username| and |password|. False
// with a sentence in |error| when either is empty, longer than
// kMaxCredentialBytes, or holds a NUL, CR or LF (which PLAIN and the SMTP
// line cannot carry).
bool make_smtp_credentials(std::string_view username, std::string_view password, bool allow_plaintext_auth,
                           SmtpCredentials& out, std::string& error);

// mask_credential_lines returns |bytes|, client output that carries
// credentials (SmtpClient::output_credential_bytes), with every secret
// replaced: "AUTH PLAIN <response>" becomes "AUTH PLAIN ****", any other
// line (a LOGIN answer) "****"; line ends are kept. For transcripts only.
std::string mask_credential_lines(std::string_view bytes);

}  // namespace ringmail
