// engine/delivery_policy.cc — see delivery_policy.h. A pure function of
// (stage, code); tests/unit/delivery_policy_test.cc holds its whole table.
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
    case SmtpStage::kEhlo:
      if (klass == 2) return {Verdict::kProceed, Scope::kConnection};
      if (klass == 5) return {Verdict::kFallback, Scope::kConnection};
      return {Verdict::kDefer, Scope::kConnection};
    case SmtpStage::kMail:
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
    case SmtpStage::kQuit:
      return {Verdict::kProceed, Scope::kConnection};
  }
  return {Verdict::kDefer, Scope::kConnection};
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
    case SmtpStage::kMail:
      return "MAIL FROM";
    case SmtpStage::kRcpt:
      return "RCPT TO";
    case SmtpStage::kData:
      return "DATA";
    case SmtpStage::kDataEnd:
      return "end of data";
    case SmtpStage::kRset:
      return "RSET";
    case SmtpStage::kQuit:
      return "QUIT";
  }
  return "?";
}

}  // namespace ringmail
