// engine/delivery_policy.cc — see delivery_policy.h. A pure function of
// (stage, code), plus the client's own prechecks; tests/unit/delivery_policy_test.cc holds its whole table.
#include "engine/delivery_policy.h"

namespace ringmail {

Decision decide(SmtpStage stage, uint16_t code) {
  const unsigned klass = code / 100;
  if (code == 421) return {Verdict::kDefer, Scope::kConnection};
  switch (stage) {
    case SmtpStage::kConnect:
      return {Verdict::kDefer, Scope::kConnection};
    case SmtpStage::kGreeting:
    case SmtpStage::kHelo:
    case SmtpStage::kRset:
      // A relay that refuses to talk (even 5xx) is a site problem, not the
      // message's: defer, as Postfix does with smtp_skip_5xx_greeting.
      if (klass == 2) return {Verdict::kProceed, Scope::kConnection};
      return {Verdict::kDefer, Scope::kConnection};
    case SmtpStage::kStarttls:
      // Refused STARTTLS: the connection cannot carry what the TLS level
      // requires. Whether `may` then goes on in clear is the level's rule
      // (tls/), not the reply's.
      if (code == 220) return {Verdict::kProceed, Scope::kConnection};
      return {Verdict::kDefer, Scope::kConnection};
    case SmtpStage::kAuth:
      // Every refusal defers, connection scope (Postfix's
      // smtp_sasl_auth_soft_bounce, on by default): 535 credentials
      // invalid, 530 authentication or STARTTLS required first, 534
      // mechanism too weak, 538 encryption required, 454 and other 4xx
      // temporary, 5xx syntax. Each is the operator's configuration or the
      // server's, fixed once for every message: none may bounce the queue.
      // A 334 here (more asked after PLAIN's initial response) is a
      // dialogue out of step.
      if (klass == 2) return {Verdict::kProceed, Scope::kConnection};
      return {Verdict::kDefer, Scope::kConnection};
    case SmtpStage::kAuthChallenge:
      // AUTH LOGIN and its user name are answered with 334 and the next
      // challenge; anything else ends the login as at kAuth.
      if (code == 334) return {Verdict::kProceed, Scope::kConnection};
      return {Verdict::kDefer, Scope::kConnection};
    case SmtpStage::kEhlo:
      if (klass == 2) return {Verdict::kProceed, Scope::kConnection};
      if (klass == 5) return {Verdict::kFallback, Scope::kConnection};
      return {Verdict::kDefer, Scope::kConnection};
    case SmtpStage::kMail:
      // 530 to MAIL: the relay wants a login (or STARTTLS) first. That is
      // the session's shortcoming, the same for every message: defer them
      // all rather than fail each one.
      if (code == 530) return {Verdict::kDefer, Scope::kConnection};
      [[fallthrough]];
    case SmtpStage::kDataEnd:
      if (klass == 2) return {Verdict::kProceed, Scope::kMessage};
      if (klass == 5) return {Verdict::kFail, Scope::kMessage};
      return {Verdict::kDefer, Scope::kMessage};
    case SmtpStage::kRcpt:
      if (klass == 2) return {Verdict::kProceed, Scope::kRecipient};
      if (klass == 5) return {Verdict::kFail, Scope::kRecipient};
      return {Verdict::kDefer, Scope::kRecipient};
    case SmtpStage::kData:
      if (code == 354) return {Verdict::kProceed, Scope::kMessage};
      if (klass == 5) return {Verdict::kFail, Scope::kMessage};
      if (klass == 4) return {Verdict::kDefer, Scope::kMessage};
      // Anything else (a 250 to DATA) means we and the server disagree
      // about where we are in the dialogue: the connection is unusable.
      return {Verdict::kDefer, Scope::kConnection};
    case SmtpStage::kDataUnwanted:
    case SmtpStage::kDataEndUnwanted:
      // Nothing left to decide for the message (its recipients are all
      // resolved); the protocol ends the transaction whatever the code.
      return {Verdict::kProceed, Scope::kMessage};
    case SmtpStage::kQuit:
      return {Verdict::kProceed, Scope::kConnection};
  }
  return {Verdict::kDefer, Scope::kConnection};
}

Decision decide_precheck(Precheck check) {
  switch (check) {
    case Precheck::kRecipientNeedsSmtputf8:
      return {Verdict::kFail, Scope::kRecipient};
    case Precheck::kSenderNeedsSmtputf8:
    case Precheck::kSizeOverLimit:
    case Precheck::kEightBitNotOffered:
    case Precheck::kEightBitWhileStreaming:
      return {Verdict::kFail, Scope::kMessage};
  }
  return {Verdict::kFail, Scope::kMessage};
}

const char* precheck_name(Precheck check) {
  switch (check) {
    case Precheck::kRecipientNeedsSmtputf8:
      return "recipient needs SMTPUTF8";
    case Precheck::kSenderNeedsSmtputf8:
      return "sender needs SMTPUTF8";
    case Precheck::kSizeOverLimit:
      return "size over limit";
    case Precheck::kEightBitNotOffered:
      return "8-bit data without 8BITMIME";
    case Precheck::kEightBitWhileStreaming:
      return "8-bit data met while streaming without 8BITMIME";
  }
  return "?";
}

MessageEnd decide_message_end(uint32_t pending, uint32_t refused, bool retry_allowed) {
  if (pending == 0) return refused == 0 ? MessageEnd::kDelivered : MessageEnd::kFailed;
  return retry_allowed ? MessageEnd::kDeferred : MessageEnd::kFailed;
}

SpoolDecision decide_spool_fault(SpoolFault fault) {
  switch (fault) {
    case SpoolFault::kUnreadable:
    case SpoolFault::kClaimFailed:
      // Nothing was sent: trying again later is safe (EMFILE, EIO, a slow
      // network file system); a minute keeps a broken file from spinning.
      return {SpoolAction::kRetryLater, 60};
    case SpoolFault::kNotAMessage:
      return {SpoolAction::kRefuse, 0};
    case SpoolFault::kRecordFailed:
      // Some recipients may have it: sending again is the one thing not
      // to do (the spool's second promise).
      return {SpoolAction::kHold, 1};
    case SpoolFault::kMetaNotRemoved:
      return {SpoolAction::kIgnore, 0};
  }
  return {SpoolAction::kRetryLater, 60};
}

TlsFallback decide_tls_shortfall(TlsLevel level, TlsShortfall what) {
  switch (level) {
    case TlsLevel::kNone:
      return TlsFallback::kClearHere;
    case TlsLevel::kMay:
      // A refused STARTTLS leaves the clear session as it was (RFC 3207
      // 4.1); a failed handshake leaves the connection in an unknown state.
      return what == TlsShortfall::kHandshakeFailed ? TlsFallback::kClearNewConnection
                                                    : TlsFallback::kClearHere;
    case TlsLevel::kEncrypt:
    case TlsLevel::kVerify:
    case TlsLevel::kSecure:
      return TlsFallback::kDefer;
  }
  return TlsFallback::kDefer;
}

const char* tls_shortfall_name(TlsShortfall what) {
  switch (what) {
    case TlsShortfall::kNotOffered:
      return "STARTTLS not offered";
    case TlsShortfall::kRefused:
      return "STARTTLS refused";
    case TlsShortfall::kHandshakeFailed:
      return "TLS handshake failed";
  }
  return "?";
}

Decision decide_auth_shortfall(AuthShortfall what) {
  switch (what) {
    case AuthShortfall::kNoTls:
    case AuthShortfall::kNotOffered:
    case AuthShortfall::kNoMechanism:
      return {Verdict::kDefer, Scope::kConnection};
  }
  return {Verdict::kDefer, Scope::kConnection};
}

const char* auth_shortfall_name(AuthShortfall what) {
  switch (what) {
    case AuthShortfall::kNoTls:
      return "no TLS for AUTH";
    case AuthShortfall::kNotOffered:
      return "AUTH not offered";
    case AuthShortfall::kNoMechanism:
      return "no AUTH mechanism in common";
  }
  return "?";
}

const char* smtp_stage_name(SmtpStage stage) {
  switch (stage) {
    case SmtpStage::kConnect:
      return "connect";
    case SmtpStage::kGreeting:
      return "greeting";
    case SmtpStage::kEhlo:
      return "EHLO";
    case SmtpStage::kHelo:
      return "HELO";
    case SmtpStage::kStarttls:
      return "STARTTLS";
    case SmtpStage::kAuth:
      return "AUTH";
    case SmtpStage::kAuthChallenge:
      return "AUTH challenge";
    case SmtpStage::kMail:
      return "MAIL FROM";
    case SmtpStage::kRcpt:
      return "RCPT TO";
    case SmtpStage::kData:
      return "DATA";
    case SmtpStage::kDataEnd:
      return "end of data";
    case SmtpStage::kDataUnwanted:
      return "DATA (no recipient accepted)";
    case SmtpStage::kDataEndUnwanted:
      return "end of data (no recipient accepted)";
    case SmtpStage::kRset:
      return "RSET";
    case SmtpStage::kQuit:
      return "QUIT";
  }
  return "?";
}

}  // namespace ringmail
