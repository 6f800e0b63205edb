// engine/delivery_policy.h — the one place that turns an SMTP reply (or an
// I/O failure) into a decision: go on, defer, fail, or fall back to HELO,
// and whether that decision concerns the connection, the message or one
// recipient. Protocol code (engine/smtp_client.cc) only reports replies here;
// it never decides policy itself (Postfix's smtp_trouble.c, in one table).
// The same file decides what becomes of a message after an attempt and
// what the engine does when its own spool I/O fails: the worker, the
// intake and the connection only carry these decisions out.
#pragma once

#include <cstdint>

#include "config/config.h"  // TlsLevel

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
  kStarttls,       // the reply to STARTTLS (220 expected)
  kAuth,           // the final reply to AUTH (235 expected)
  kAuthChallenge,  // the reply to AUTH LOGIN and to its user name (334 expected: the next challenge)
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

// decide_relay_unreachable is the decision for the messages waiting on a
// worker when no connection to the relay could be made (every address
// refused or timed out, or the name does not resolve) and none is ready:
// deferred, all of them, rather than reopening connections for ever.
inline Decision decide_relay_unreachable() { return {Verdict::kDefer, Scope::kMessage}; }

// --- TLS: what each level does when TLS does not happen ------------------

// TlsShortfall names how TLS failed to happen on a connection.
enum class TlsShortfall : uint8_t {
  kNotOffered,       // the EHLO reply did not offer STARTTLS
  kRefused,          // STARTTLS answered with anything but 220 (421 closes, as everywhere)
  kHandshakeFailed,  // the handshake failed, or (verify, secure) the certificate was refused
};

enum class TlsFallback : uint8_t {
  kClearHere,           // go on in clear on this connection (the session before STARTTLS is intact)
  kClearNewConnection,  // close; reconnect in clear, and skip TLS at this destination on this worker
                        // for kTlsBrokenRememberS (the handshake left the connection unusable)
  kDefer,               // close; defer the waiting messages with the reason; never send them in clear
};

// kTlsBrokenRememberS: how long a worker remembers "TLS failed here" for a
// `may` destination before it offers STARTTLS there again.
inline constexpr uint32_t kTlsBrokenRememberS = 3600;

// decide_tls_shortfall: |level| is the destination's effective level
// (effective_tls_level). none never gets here (it never asks for TLS); may
// falls back to clear text; encrypt, verify and secure defer.
TlsFallback decide_tls_shortfall(TlsLevel level, TlsShortfall what);

// effective_tls_level: implicit TLS at `may` is `encrypt` (an SMTPS port
// has no clear text to fall back to); otherwise |level|.
constexpr TlsLevel effective_tls_level(TlsLevel level, bool implicit_tls) {
  return implicit_tls && level == TlsLevel::kMay ? TlsLevel::kEncrypt : level;
}

// tls_shortfall_name is the shortfall's name for logs.
const char* tls_shortfall_name(TlsShortfall what);

// --- AUTH: when credentials may go out, and what a shortfall means -------

// may_send_credentials: AUTH goes out only over TLS, unless the operator
// allowed clear text (relay.allow_plaintext_auth).
constexpr bool may_send_credentials(bool tls_active, bool allow_plaintext_auth) {
  return tls_active || allow_plaintext_auth;
}

// AuthShortfall names why a connection with credentials cannot log in.
enum class AuthShortfall : uint8_t {
  kNoTls,        // the session is in clear and allow_plaintext_auth is off (nothing is sent)
  kNotOffered,   // the EHLO reply has no AUTH
  kNoMechanism,  // AUTH offered, but neither PLAIN nor LOGIN
};

// decide_auth_shortfall: the connection is closed and the waiting messages
// deferred (never sent without the login the operator configured, never
// failed for a server's configuration that may change).
Decision decide_auth_shortfall(AuthShortfall what);

// auth_shortfall_name is the shortfall's name for logs.
const char* auth_shortfall_name(AuthShortfall what);

// --- After an attempt: what becomes of the message (Worker::finish) -------

enum class MessageEnd : uint8_t {
  kDelivered,  // every recipient done: the file is removed
  kDeferred,   // some recipient pending: deferred/, tried again at the next attempt time
  kFailed,     // nothing pending and some recipient refused, or gave up: failed/
};

// decide_message_end: |pending| recipients are still unresolved after the
// attempt (4xx, connection lost), |refused| were refused for good (now or
// before); |retry_allowed| says the retry schedule still allows an attempt
// (retry.max_age not reached). Pending recipients past max_age fail.
MessageEnd decide_message_end(uint32_t pending, uint32_t refused, bool retry_allowed);

// --- Spool faults: when the engine's own file I/O fails -------------------

enum class SpoolFault : uint8_t {
  kUnreadable,      // the message or its meta cannot be read now (nothing was sent)
  kNotAMessage,     // not a regular file with one link (FIFO, symlink, hard link...)
  kClaimFailed,     // the rename into active/ failed (other than "gone")
  kRecordFailed,    // after an attempt, the outcome could not be written (or the file removed)
  kMetaNotRemoved,  // delivered and its file removed, but meta/ID could not be
};

enum class SpoolAction : uint8_t {
  kRetryLater,  // leave it where it is; try the same step again after retry_delay_s
  kRefuse,      // move it to failed/ unread, with the reason
  kHold,        // hold/: never attempted again; claims pause; the record is retried, never the delivery
  kIgnore,      // nothing to do now (start-up removes orphan meta files)
};

struct SpoolDecision {
  SpoolAction action;
  uint32_t retry_delay_s;  // for kRetryLater; for kHold the first record retry (then doubling to 60 s)
};

// decide_spool_fault: the one table for spool faults (docs/spool.md).
SpoolDecision decide_spool_fault(SpoolFault fault);

// smtp_stage_name is the stage's name for logs and error sentences
// ("greeting", "MAIL FROM", "end of data"...).
const char* smtp_stage_name(SmtpStage stage);

}  // namespace ringmail
