// engine/reply_explanation.cc — see reply_explanation.h. Each hint is kept
// short: it follows the server's own words in a reason of at most 511
// bytes (MessageSlot::message_reply).
#include "engine/reply_explanation.h"

namespace ringmail {
namespace {

bool contains_nocase(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && (haystack[i + j] | 0x20) == (needle[j] | 0x20)) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

constexpr std::string_view kCredentialsRejected =
    "the relay rejected the user name or password: check relay.username and relay.password_file; for AWS SES "
    "these are SMTP credentials (the SMTP user name, not an IAM user name), so re-create the SES SMTP "
    "credentials for this region if in doubt";
constexpr std::string_view kTlsFirst =
    "the relay wants TLS before this command: set relay.tls = \"encrypt\" or stricter, or relay.implicit_tls "
    "= true if relay.port is an implicit TLS port (465, 2465)";
constexpr std::string_view kLoginRequired =
    "the relay wants a login first: set relay.username and relay.password_file";
constexpr std::string_view kNotVerified =
    "the sender (or, in the SES sandbox, a recipient) is not a verified identity in the relay's region: set "
    "smtp.default_sender or the messages' From to an address in a domain verified there";
constexpr std::string_view kMechanismTooWeak =
    "the relay wants a stronger AUTH mechanism than PLAIN or LOGIN, the ones ringmail speaks; use an account "
    "the relay lets log in with them";
constexpr std::string_view kThrottled =
    "the relay's sending rate or quota is exceeded; the messages are tried again later (fewer "
    "relay.max_connections, or a higher quota, makes it rarer)";

}  // namespace

std::string_view explain_reply(SmtpStage stage, uint16_t code, std::string_view text) {
  const bool auth_stage = stage == SmtpStage::kAuth || stage == SmtpStage::kAuthChallenge;
  if (code == 535) return kCredentialsRejected;
  if (code == 538) return kTlsFirst;
  if (code == 530) {
    if (contains_nocase(text, "STARTTLS") || contains_nocase(text, " TLS")) return kTlsFirst;
    return auth_stage ? kTlsFirst : kLoginRequired;
  }
  if (code == 534 && auth_stage) return kMechanismTooWeak;
  if (code / 100 == 5 && contains_nocase(text, "not verified")) return kNotVerified;
  if (code == 454 && contains_nocase(text, "throttling")) return kThrottled;
  return {};
}

std::string_view explain_connect_timeout() {
  return "nothing answered: check that no firewall, VPN or allow-list drops connections from this host to "
         "the relay, and that relay.port is right (AWS SES: 587 or 2587 for STARTTLS, 465 or 2465 with "
         "relay.implicit_tls = true)";
}

std::string_view explain_greeting_timeout() {
  return "connected, but the server sent no greeting: an implicit TLS port (465, 2465) waits for TLS first, "
         "so set relay.implicit_tls = true there; otherwise a firewall or proxy may be holding the "
         "connection";
}

std::string_view explain_auth_shortfall(AuthShortfall what) {
  switch (what) {
    case AuthShortfall::kNoTls:
      return "ringmail sends credentials only over TLS: enable STARTTLS on the relay, or set relay.tls = "
             "\"encrypt\" or stricter (or relay.implicit_tls = true on an implicit TLS port); "
             "relay.allow_plaintext_auth = true allows clear text";
    case AuthShortfall::kNotOffered:
      return "many relays offer AUTH only over TLS (check relay.tls) or only on their submission port (587); "
             "if this relay needs no login, remove relay.username and relay.password_file";
    case AuthShortfall::kNoMechanism:
      return "ringmail speaks AUTH PLAIN and LOGIN; enable one of them on the relay";
  }
  return {};
}

}  // namespace ringmail
