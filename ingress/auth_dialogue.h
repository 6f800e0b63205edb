// ingress/auth_dialogue.h — the server's side of an SMTP AUTH exchange (RFC
// 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms: the AUTH argument,
// the 334 challenges (LOGIN's exactly "334 VXNlcm5hbWU6" and "334
// UGFzc3dvcmQ6", which Go's net/smtp clients check), the client's base64
// responses, and the decoded user name and password at the end. It checks
// nothing against any user list: the session does that with user() and
// password(), then calls clear().
//
// Who uses it: ingress/smtp_server_session (the listener) and
// tools/sink/sink_session (the test sink). Header-only: the sink links only
// ringmail_tls. No allocation. Security: the decoded credentials live in
// this object's buffers until clear(), which wipes them.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

#include "ingress/sasl_decode.h"
#include "ingress/smtp_command.h"

namespace ringmail::ingress {

template <size_t kMaxDecodedBytes>
class AuthDialogue {
 public:
  enum class Step {
    kChallenge,         // send challenge(), then pass the client's next line to respond()
    kCredentials,       // user() and password() are the decoded credentials: check them
    kCancelled,         // the client sent "*" (RFC 4954 4)
    kUndecodable,       // the LOGIN user name was not base64: nothing to check
    kMalformed,         // a response that carries no usable credentials: a failed AUTH
    kNoMechanism,       // "AUTH" without a mechanism
    kUnknownMechanism,  // neither PLAIN nor LOGIN
  };

  // start takes the argument of an AUTH command ("PLAIN", "LOGIN <b64>", ...).
  Step start(std::string_view arg) {
    clear();
    arg = trim_spaces(arg);
    const size_t gap = arg.find(' ');
    const std::string_view mechanism = arg.substr(0, gap);
    const std::string_view initial =
        gap == std::string_view::npos ? std::string_view() : trim_spaces(arg.substr(gap));
    if (equals_ignore_case(mechanism, "PLAIN")) {
      wait_ = Wait::kPlain;
      if (initial.empty()) return challenge_step("334 ");
      return respond(initial == "=" ? std::string_view() : initial);
    }
    if (equals_ignore_case(mechanism, "LOGIN")) {
      wait_ = Wait::kLoginUser;
      if (initial.empty()) return challenge_step("334 VXNlcm5hbWU6");  // "Username:"
      return respond(initial);                                         // the user name as initial response
    }
    return mechanism.empty() ? Step::kNoMechanism : Step::kUnknownMechanism;
  }

  // respond takes the client's line (without CRLF) after a challenge.
  Step respond(std::string_view line) {
    const Wait wait = wait_;
    wait_ = Wait::kNone;
    if (line == "*") return Step::kCancelled;
    size_t size = 0;
    switch (wait) {
      case Wait::kPlain: {
        PlainCredentials plain;
        if (!base64_decode(line, secret_, sizeof(secret_), size) ||
            !parse_plain(std::string_view(secret_, size), plain) ||
            !(plain.authzid.empty() || plain.authzid == plain.user))  // no acting for another user
          return Step::kMalformed;
        user_ = plain.user;
        password_ = plain.password;
        return Step::kCredentials;
      }
      case Wait::kLoginUser:
        if (!base64_decode(line, user_buffer_, sizeof(user_buffer_), size)) return Step::kUndecodable;
        user_ = std::string_view(user_buffer_, size);
        wait_ = Wait::kLoginPassword;
        return challenge_step("334 UGFzc3dvcmQ6");  // "Password:"
      case Wait::kLoginPassword:
        if (!base64_decode(line, secret_, sizeof(secret_), size)) return Step::kMalformed;
        password_ = std::string_view(secret_, size);
        return Step::kCredentials;
      case Wait::kNone:
        break;
    }
    return Step::kMalformed;
  }

  bool waiting() const { return wait_ != Wait::kNone; }
  std::string_view challenge() const { return challenge_; }
  std::string_view user() const { return user_; }
  std::string_view password() const { return password_; }

  // clear ends the exchange and wipes the decoded credentials.
  void clear() {
    std::memset(user_buffer_, 0, sizeof(user_buffer_));
    std::memset(secret_, 0, sizeof(secret_));
    user_ = password_ = std::string_view();
    wait_ = Wait::kNone;
  }

 private:
  enum class Wait { kNone, kPlain, kLoginUser, kLoginPassword };

  Step challenge_step(std::string_view challenge) {
    challenge_ = challenge;
    return Step::kChallenge;
  }

  Wait wait_ = Wait::kNone;
  std::string_view challenge_;
  std::string_view user_;
  std::string_view password_;
  char user_buffer_[kMaxDecodedBytes];  // LOGIN's user name
  char secret_[kMaxDecodedBytes];       // the PLAIN response or LOGIN's password
};

}  // namespace ringmail::ingress
