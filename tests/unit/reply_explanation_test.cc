// tests/unit/reply_explanation_test.cc — engine/reply_explanation: which
// replies get which hint (a table of real server texts, AWS SES's among
// them), that hints are short enough to follow a reply in a 511-byte
// reason, and that the other explanations name the keys to change.
#include "engine/reply_explanation.h"

#include <gtest/gtest.h>

#include <string>

namespace ringmail {
namespace {

struct Row {
  const char* name;
  SmtpStage stage;
  uint16_t code;
  const char* text;
  const char* hint_has;  // "" = no hint
};

constexpr Row kTable[] = {
    {"ses_535", SmtpStage::kAuth, 535, "535 Authentication Credentials Invalid",
     "the SMTP user name, not an IAM user name"},
    {"postfix_535", SmtpStage::kAuth, 535, "535 5.7.8 Error: authentication failed: authentication failure",
     "re-create the SES SMTP credentials"},
    {"535_after_login_user", SmtpStage::kAuthChallenge, 535, "535 5.7.8 no", "check relay.username"},
    {"530_starttls_first_to_mail", SmtpStage::kMail, 530, "530 5.7.0 Must issue a STARTTLS command first",
     "set relay.tls = \"encrypt\" or stricter"},
    {"530_starttls_first_to_auth", SmtpStage::kAuth, 530, "530 5.7.0 Must issue a STARTTLS command first",
     "relay.implicit_tls = true"},
    {"530_auth_required_to_mail", SmtpStage::kMail, 530, "530 5.7.0 Authentication required",
     "set relay.username and relay.password_file"},
    {"530_auth_required_to_rcpt", SmtpStage::kRcpt, 530, "530 5.7.1 Client was not authenticated",
     "wants a login first"},
    {"538_encryption_required", SmtpStage::kAuth, 538, "538 5.7.11 Encryption required", "wants TLS"},
    {"534_mechanism_too_weak", SmtpStage::kAuth, 534, "534 5.7.9 Authentication mechanism is too weak",
     "stronger AUTH mechanism"},
    {"ses_554_not_verified_end_of_data", SmtpStage::kDataEnd, 554,
     "554 Message rejected: Email address is not verified. The following identities failed the check in "
     "region US-EAST-1: alerts@example.org",
     "set smtp.default_sender"},
    {"ses_554_not_verified_mail", SmtpStage::kMail, 554,
     "554 Message rejected: Email address is not verified.", "verified identity"},
    {"ses_sandbox_recipient", SmtpStage::kRcpt, 554, "554 Message rejected: Email address is not verified.",
     "in the SES sandbox, a recipient"},
    {"ses_throttling", SmtpStage::kDataEnd, 454, "454 Throttling failure: Maximum sending rate exceeded.",
     "sending rate or quota"},
    {"plain_550", SmtpStage::kRcpt, 550, "550 5.1.1 <x@y>: Recipient address rejected: User unknown", ""},
    {"plain_554", SmtpStage::kDataEnd, 554, "554 5.7.1 spam", ""},
    {"454_not_throttling", SmtpStage::kAuth, 454, "454 4.7.0 Temporary authentication failure", ""},
    {"534_not_auth", SmtpStage::kMail, 534, "534 odd", ""},
};

TEST(ReplyExplanation, Table) {
  for (const Row& row : kTable) {
    const std::string_view hint = explain_reply(row.stage, row.code, row.text);
    if (row.hint_has[0] == '\0') {
      EXPECT_EQ(hint, "") << row.name;
    } else {
      EXPECT_NE(hint.find(row.hint_has), std::string_view::npos) << row.name << ": " << hint;
    }
    // Short enough to follow 200 bytes of the server's words in a reason.
    EXPECT_LE(hint.size(), 300u) << row.name;
  }
}

TEST(ReplyExplanation, TimeoutsNameFirewallAndPorts) {
  const std::string_view connect = explain_connect_timeout();
  for (const char* words : {"firewall, VPN or allow-list", "relay.port", "465 or 2465", "587 or 2587"}) {
    EXPECT_NE(connect.find(words), std::string_view::npos) << words;
  }
  EXPECT_NE(explain_greeting_timeout().find("relay.implicit_tls = true"), std::string_view::npos);
  EXPECT_LE(connect.size(), 300u);
  EXPECT_LE(explain_greeting_timeout().size(), 300u);
}

TEST(ReplyExplanation, AuthShortfalls) {
  EXPECT_NE(explain_auth_shortfall(AuthShortfall::kNoTls).find("relay.allow_plaintext_auth = true"),
            std::string_view::npos);
  EXPECT_NE(explain_auth_shortfall(AuthShortfall::kNotOffered).find("remove relay.username"),
            std::string_view::npos);
  EXPECT_NE(explain_auth_shortfall(AuthShortfall::kNoMechanism).find("PLAIN and LOGIN"),
            std::string_view::npos);
}

}  // namespace
}  // namespace ringmail
