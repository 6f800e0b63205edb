// tests/unit/delivery_policy_test.cc — the whole reply → decision table of
// engine/delivery_policy: every stage against representative codes.
#include "engine/delivery_policy.h"

#include <gtest/gtest.h>

namespace ringmail {
namespace {

struct Row {
  SmtpStage stage;
  uint16_t code;
  Verdict verdict;
  Scope scope;
};

constexpr Row kTable[] = {
    // The server closing the connection wins everywhere.
    {SmtpStage::kGreeting, 421, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kMail, 421, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kRcpt, 421, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kDataEnd, 421, Verdict::kDefer, Scope::kConnection},
    // Greeting / HELO / RSET: anything but 2xx is the site's problem.
    {SmtpStage::kGreeting, 220, Verdict::kProceed, Scope::kConnection},
    {SmtpStage::kGreeting, 554, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kGreeting, 450, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kHelo, 250, Verdict::kProceed, Scope::kConnection},
    {SmtpStage::kHelo, 501, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kStarttls, 220, Verdict::kProceed, Scope::kConnection},
    {SmtpStage::kStarttls, 454, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kStarttls, 502, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kStarttls, 250, Verdict::kDefer, Scope::kConnection},  // anything but 220 is no TLS
    // AUTH: 235 goes on; every refusal defers the connection (soft bounce:
    // a credential or a server setting fixed once must not have failed the
    // queue). 535 invalid credentials, 530 STARTTLS/auth required first,
    // 534 mechanism too weak, 538 encryption required, 454 temporary, 5xx
    // syntax, a 334 to PLAIN's initial response.
    {SmtpStage::kAuth, 235, Verdict::kProceed, Scope::kConnection},
    {SmtpStage::kAuth, 535, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 530, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 534, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 538, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 454, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 432, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 501, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 504, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 334, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuth, 421, Verdict::kDefer, Scope::kConnection},
    // AUTH LOGIN's steps: a 334 asks for the next answer; anything else,
    // a 235 included (the dialogue out of step), ends the login.
    {SmtpStage::kAuthChallenge, 334, Verdict::kProceed, Scope::kConnection},
    {SmtpStage::kAuthChallenge, 235, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuthChallenge, 535, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuthChallenge, 504, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kAuthChallenge, 454, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kRset, 250, Verdict::kProceed, Scope::kConnection},
    {SmtpStage::kRset, 500, Verdict::kDefer, Scope::kConnection},
    // EHLO: 5xx means "no ESMTP here": fall back to HELO.
    {SmtpStage::kEhlo, 250, Verdict::kProceed, Scope::kConnection},
    {SmtpStage::kEhlo, 502, Verdict::kFallback, Scope::kConnection},
    {SmtpStage::kEhlo, 500, Verdict::kFallback, Scope::kConnection},
    {SmtpStage::kEhlo, 451, Verdict::kDefer, Scope::kConnection},
    // MAIL and end of data concern the message.
    {SmtpStage::kMail, 250, Verdict::kProceed, Scope::kMessage},
    {SmtpStage::kMail, 452, Verdict::kDefer, Scope::kMessage},
    {SmtpStage::kMail, 553, Verdict::kFail, Scope::kMessage},
    // 530 to MAIL: a login (or TLS) wanted first: the session's lack, the
    // same for every message: defer them all.
    {SmtpStage::kMail, 530, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kDataEnd, 250, Verdict::kProceed, Scope::kMessage},
    {SmtpStage::kDataEnd, 451, Verdict::kDefer, Scope::kMessage},
    {SmtpStage::kDataEnd, 454, Verdict::kDefer, Scope::kMessage},  // SES "Throttling failure"
    {SmtpStage::kDataEnd, 554, Verdict::kFail, Scope::kMessage},
    // RCPT concerns one recipient.
    {SmtpStage::kRcpt, 250, Verdict::kProceed, Scope::kRecipient},
    {SmtpStage::kRcpt, 251, Verdict::kProceed, Scope::kRecipient},
    {SmtpStage::kRcpt, 450, Verdict::kDefer, Scope::kRecipient},
    {SmtpStage::kRcpt, 451, Verdict::kDefer, Scope::kRecipient},
    {SmtpStage::kRcpt, 452, Verdict::kDefer, Scope::kRecipient},  // too many recipients: later
    {SmtpStage::kRcpt, 550, Verdict::kFail, Scope::kRecipient},
    {SmtpStage::kRcpt, 554, Verdict::kFail, Scope::kRecipient},
    // DATA: only 354 goes on; a 2xx there is a dialogue out of step.
    {SmtpStage::kData, 354, Verdict::kProceed, Scope::kMessage},
    {SmtpStage::kData, 451, Verdict::kDefer, Scope::kMessage},
    {SmtpStage::kData, 554, Verdict::kFail, Scope::kMessage},
    {SmtpStage::kData, 250, Verdict::kDefer, Scope::kConnection},
    // DATA and end of data after every recipient was refused: only the
    // server closing matters; any other code ends the empty transaction.
    {SmtpStage::kDataUnwanted, 421, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kDataUnwanted, 354, Verdict::kProceed, Scope::kMessage},
    {SmtpStage::kDataUnwanted, 554, Verdict::kProceed, Scope::kMessage},
    {SmtpStage::kDataUnwanted, 250, Verdict::kProceed, Scope::kMessage},
    {SmtpStage::kDataEndUnwanted, 421, Verdict::kDefer, Scope::kConnection},
    {SmtpStage::kDataEndUnwanted, 250, Verdict::kProceed, Scope::kMessage},
    {SmtpStage::kDataEndUnwanted, 554, Verdict::kProceed, Scope::kMessage},
    // QUIT: whatever it says, we are done.
    {SmtpStage::kQuit, 221, Verdict::kProceed, Scope::kConnection},
    {SmtpStage::kQuit, 500, Verdict::kProceed, Scope::kConnection},
    // Connect has no reply: anything is a connection deferral.
    {SmtpStage::kConnect, 0, Verdict::kDefer, Scope::kConnection},
};

TEST(DeliveryPolicy, Table) {
  for (const Row& row : kTable) {
    const Decision d = decide(row.stage, row.code);
    EXPECT_EQ(d.verdict, row.verdict) << smtp_stage_name(row.stage) << " " << row.code;
    EXPECT_EQ(d.scope, row.scope) << smtp_stage_name(row.stage) << " " << row.code;
  }
}

TEST(DeliveryPolicy, IoFailureDefersTheConnection) {
  const Decision d = decide_io_failure();
  EXPECT_EQ(d.verdict, Verdict::kDefer);
  EXPECT_EQ(d.scope, Scope::kConnection);
}

struct PrecheckRow {
  Precheck check;
  Verdict verdict;
  Scope scope;
};

constexpr PrecheckRow kPrecheckTable[] = {
    // RFC 6531 3.2: without SMTPUTF8 a non-ASCII address cannot be sent.
    {Precheck::kRecipientNeedsSmtputf8, Verdict::kFail, Scope::kRecipient},
    {Precheck::kSenderNeedsSmtputf8, Verdict::kFail, Scope::kMessage},
    // RFC 1870: over the announced SIZE the relay would refuse it anyway.
    {Precheck::kSizeOverLimit, Verdict::kFail, Scope::kMessage},
    // RFC 6152: 8-bit data only to a relay that offers 8BITMIME.
    {Precheck::kEightBitNotOffered, Verdict::kFail, Scope::kMessage},
    {Precheck::kEightBitWhileStreaming, Verdict::kFail, Scope::kMessage},
};

TEST(DeliveryPolicy, PrecheckTable) {
  for (const PrecheckRow& row : kPrecheckTable) {
    const Decision d = decide_precheck(row.check);
    EXPECT_EQ(d.verdict, row.verdict) << precheck_name(row.check);
    EXPECT_EQ(d.scope, row.scope) << precheck_name(row.check);
  }
}

// What becomes of a message after an attempt.
struct MessageEndRow {
  uint32_t pending, refused;
  bool retry_allowed;
  MessageEnd end;
};

constexpr MessageEndRow kMessageEndTable[] = {
    {0, 0, true, MessageEnd::kDelivered},   // every recipient done
    {0, 0, false, MessageEnd::kDelivered},  // max age is no reason to fail a delivered message
    {0, 1, true, MessageEnd::kFailed},      // nothing pending, one refused: final
    {1, 0, true, MessageEnd::kDeferred},    // a 4xx: tried again
    {1, 1, true, MessageEnd::kDeferred},    // partly refused, partly pending
    {1, 0, false, MessageEnd::kFailed},     // pending past retry.max_age: gave up
    {3, 2, false, MessageEnd::kFailed},
};

TEST(DeliveryPolicy, MessageEndTable) {
  for (const MessageEndRow& row : kMessageEndTable) {
    EXPECT_EQ(decide_message_end(row.pending, row.refused, row.retry_allowed), row.end)
        << "pending " << row.pending << " refused " << row.refused << " retry " << row.retry_allowed;
  }
}

// The spool-fault table: what the engine does when its own I/O fails. The
// one rule that must never change: an outcome that cannot be recorded is
// held, never retried by sending again.
TEST(DeliveryPolicy, SpoolFaultTable) {
  EXPECT_EQ(decide_spool_fault(SpoolFault::kRecordFailed).action, SpoolAction::kHold);
  EXPECT_GE(decide_spool_fault(SpoolFault::kRecordFailed).retry_delay_s, 1u);
  EXPECT_EQ(decide_spool_fault(SpoolFault::kNotAMessage).action, SpoolAction::kRefuse);
  EXPECT_EQ(decide_spool_fault(SpoolFault::kMetaNotRemoved).action, SpoolAction::kIgnore);
  for (SpoolFault fault : {SpoolFault::kUnreadable, SpoolFault::kClaimFailed}) {
    const SpoolDecision d = decide_spool_fault(fault);
    EXPECT_EQ(d.action, SpoolAction::kRetryLater);
    EXPECT_GE(d.retry_delay_s, 1u);  // never a spin
  }
}

TEST(DeliveryPolicy, RelayUnreachableDefers) {
  EXPECT_EQ(decide_relay_unreachable().verdict, Verdict::kDefer);
}

TEST(DeliveryPolicy, StageNames) {
  EXPECT_STREQ(smtp_stage_name(SmtpStage::kDataEnd), "end of data");
  EXPECT_STREQ(smtp_stage_name(SmtpStage::kRcpt), "RCPT TO");
}

// TLS levels: what happens when TLS does not happen (docs/tls.md, "Levels").
struct TlsRow {
  TlsLevel level;
  TlsShortfall what;
  TlsFallback expected;
};

constexpr TlsRow kTlsTable[] = {
    {TlsLevel::kMay, TlsShortfall::kNotOffered, TlsFallback::kClearHere},
    {TlsLevel::kMay, TlsShortfall::kRefused, TlsFallback::kClearHere},
    {TlsLevel::kMay, TlsShortfall::kHandshakeFailed, TlsFallback::kClearNewConnection},
    {TlsLevel::kEncrypt, TlsShortfall::kNotOffered, TlsFallback::kDefer},
    {TlsLevel::kEncrypt, TlsShortfall::kRefused, TlsFallback::kDefer},
    {TlsLevel::kEncrypt, TlsShortfall::kHandshakeFailed, TlsFallback::kDefer},
    {TlsLevel::kVerify, TlsShortfall::kNotOffered, TlsFallback::kDefer},
    {TlsLevel::kVerify, TlsShortfall::kRefused, TlsFallback::kDefer},
    {TlsLevel::kVerify, TlsShortfall::kHandshakeFailed, TlsFallback::kDefer},
    {TlsLevel::kSecure, TlsShortfall::kNotOffered, TlsFallback::kDefer},
    {TlsLevel::kSecure, TlsShortfall::kRefused, TlsFallback::kDefer},
    {TlsLevel::kSecure, TlsShortfall::kHandshakeFailed, TlsFallback::kDefer},
};

TEST(DeliveryPolicy, TlsShortfallTable) {
  for (const TlsRow& row : kTlsTable) {
    EXPECT_EQ(decide_tls_shortfall(row.level, row.what), row.expected)
        << tls_level_name(row.level) << " / " << tls_shortfall_name(row.what);
  }
}

// AUTH: credentials only over TLS unless allowed; a login that cannot
// happen defers (connection scope), never fails.
TEST(DeliveryPolicy, CredentialsOnlyOverTlsUnlessAllowed) {
  EXPECT_TRUE(may_send_credentials(/*tls_active=*/true, /*allow_plaintext_auth=*/false));
  EXPECT_TRUE(may_send_credentials(true, true));
  EXPECT_FALSE(may_send_credentials(false, false));
  EXPECT_TRUE(may_send_credentials(false, true));
}

TEST(DeliveryPolicy, AuthShortfallTable) {
  for (AuthShortfall what :
       {AuthShortfall::kNoTls, AuthShortfall::kNotOffered, AuthShortfall::kNoMechanism}) {
    const Decision d = decide_auth_shortfall(what);
    EXPECT_EQ(d.verdict, Verdict::kDefer) << auth_shortfall_name(what);
    EXPECT_EQ(d.scope, Scope::kConnection) << auth_shortfall_name(what);
    EXPECT_STRNE(auth_shortfall_name(what), "?");
  }
  EXPECT_STREQ(smtp_stage_name(SmtpStage::kAuthChallenge), "AUTH challenge");
}

TEST(DeliveryPolicy, ImplicitTlsAtMayIsEncrypt) {
  EXPECT_EQ(effective_tls_level(TlsLevel::kMay, true), TlsLevel::kEncrypt);
  EXPECT_EQ(effective_tls_level(TlsLevel::kMay, false), TlsLevel::kMay);
  EXPECT_EQ(effective_tls_level(TlsLevel::kVerify, true), TlsLevel::kVerify);
  EXPECT_EQ(effective_tls_level(TlsLevel::kSecure, true), TlsLevel::kSecure);
}

}  // namespace
}  // namespace ringmail
