// engine/delivery_policy.h — the one place that turns an SMTP reply (or an
// I/O failure) into a decision: go on, defer, fail, or fall back to HELO,
// and whether that decision concerns the connection, the message or one
// recipient. Protocol code (smtp_connection.cc) only reports replies here;
// it never decides policy itself (Postfix's smtp_trouble.c, in one table).
#pragma once

#include <cstdint>

namespace ringmail {

// SmtpStage names what a reply answers.
enum class SmtpStage : uint8_t {
  kConnect,   // TCP connect (no reply; I/O failures only)
  kGreeting,  // 220 banner
  kEhlo,
  kHelo,
  kMail,
  kRcpt,
  kData,     // the DATA command (354 expected)
  kDataEnd,  // the final reply after "."
  // DATA pipelined behind a MAIL or RCPTs that were all refused, and the
  // reply after the lone "." or BDAT that follows: every recipient is
  // already resolved, so only the server closing (421) means anything.
  kDataUnwanted,
  kDataEndUnwanted,
  kRset,
  kQuit,
};

enum class Verdict : uint8_t {
  kProceed,   // success: go on
  kDefer,     // temporary: try again later
  kFail,      // permanent: give up on what the scope says
  kFallback,  // EHLO refused: try HELO on the same connection
};

enum class Scope : uint8_t { kConnection, kMessage, kRecipient };

struct Decision {
  Verdict verdict;
  Scope scope;
};

// decide maps the reply |code| to |stage| onto a decision. 421 at any stage
// is the server closing the connection: defer, connection scope.
Decision decide(SmtpStage stage, uint16_t code);

// decide_io_failure is the decision for a timeout, reset, early EOF or an
// unparseable reply: the connection is unusable; everything unfinished on
// it is deferred.
inline Decision decide_io_failure() { return {Verdict::kDefer, Scope::kConnection}; }

// Precheck names what the client finds itself, from the relay's EHLO
// reply and the message, before (or while) it sends a message: things the
// relay cannot take as they are (RFC 6531 3.2, RFC 1870, RFC 6152).
enum class Precheck : uint8_t {
  kRecipientNeedsSmtputf8,  // a recipient's address is not ASCII; no SMTPUTF8
  kSenderNeedsSmtputf8,     // the sender's address is not ASCII; no SMTPUTF8
  kSizeOverLimit,           // the message is larger than the SIZE the relay announced
  kEightBitNotOffered,      // 8-bit data, no 8BITMIME (known before MAIL)
  kEightBitWhileStreaming,  // the same, found in the body after MAIL went out without BODY=
};

// decide_precheck is the decision for |check|: each is permanent (the
// relay will refuse the same next time), for the recipient or the message.
// kEightBitWhileStreaming fails the message too; the connection, whose DATA
// cannot be taken back, is then closed as after an I/O failure
// (decide_io_failure() for the other messages on it).
Decision decide_precheck(Precheck check);

// precheck_name is the check's name for logs.
const char* precheck_name(Precheck check);

// smtp_stage_name is the stage's name for logs and error sentences
// ("greeting", "MAIL FROM", "end of data"...).
const char* smtp_stage_name(SmtpStage stage);

}  // namespace ringmail
