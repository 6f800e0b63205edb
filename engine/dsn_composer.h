// engine/dsn_composer.h — builds a delivery status notification (a bounce,
// RFC 3464) as a complete spool file: the envelope preamble (null sender)
// followed by a multipart/report message with a human-readable part, a
// message/delivery-status part and the original message's headers.
//
// Who calls it: the worker when a message's recipients fail for good or a
// delay warning is due (engine/bounce_writer.cc), and the unit tests. It is
// a pure function: no clock, no file system, no global state; everything it
// needs (times, ids, names) comes in DsnInput. It allocates (bounces are a
// rare path). docs/bounces.md describes the format.
//
// Output rules: lines end in LF (the spool's convention; the engine sends
// CRLF), no line is longer than 998 octets, header fields are folded, and
// the parts that would carry 8-bit bytes or over-long lines (the server's
// replies, the original headers) are quoted-printable, so the bounce needs
// neither 8BITMIME nor SMTPUTF8 from the relay (only an address that is
// itself not ASCII can make it need SMTPUTF8).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail {

enum class DsnAction : uint8_t {
  kFailed,   // the recipient will not get the message (5xx, or retry.max_age reached)
  kDelayed,  // still being retried (delay warning, [bounce] notify_delay)
};

// DsnRecipient is one recipient reported on.
struct DsnRecipient {
  std::string_view address;
  DsnAction action = DsnAction::kFailed;
  // reply: the server's reply as one line ("550 5.1.1 No such user"), or
  // the engine's own reason when no server answered ("connect to ... timed
  // out"). May be empty.
  std::string_view reply;
  // expired: failed because the message reached retry.max_age (Status
  // 5.4.7 unless the reply says better).
  bool expired = false;
};

// DsnInput is everything the composer reads.
struct DsnInput {
  std::string_view dsn_id;           // spool id of the bounce itself (Message-ID, MIME boundary)
  std::string_view original_id;      // spool id of the message reported on
  std::string_view original_sender;  // its envelope sender: the bounce goes there (not empty)
  std::string_view copy_to;          // [bounce] sender_copy, "" = none: an envelope-only extra recipient
  std::string_view reporting_mta;    // smtp.helo_name: Reporting-MTA and MAILER-DAEMON@<this>
  std::string_view remote_mta;       // the relay's host name ("" = not known)
  // original_headers: the header section of the message as it was sent
  // (no preamble, Bcc removed), in any line-end convention.
  std::string_view original_headers;
  int64_t arrival_unix = 0;      // when ringmail first attempted it (0 = not known)
  int64_t now_unix = 0;          // Date, Last-Attempt-Date
  int64_t retry_until_unix = 0;  // delay warnings: when the engine gives up (0 = not said)
  uint32_t attempts = 0;
  std::vector<DsnRecipient> recipients;  // at least one
};

// compose_dsn returns the bounce as a spool file (preamble + message).
// From "Mail Delivery System <MAILER-DAEMON@reporting_mta>", To the
// original sender, Subject "Undelivered Mail Returned to Sender" (or
// "Delayed Mail (still being retried)" when no recipient failed),
// Auto-Submitted: auto-replied, a Message-ID made from |dsn_id|.
std::string compose_dsn(const DsnInput& input);

// dsn_status is the RFC 3463 status for a recipient: the reply's enhanced
// status when it has one of the right class, else derived from its code
// (5xx → 5.0.0), else 5.4.7 for an expired recipient, 5.0.0 for another
// failure, 4.0.0 for a delay.
std::string dsn_status(const DsnRecipient& recipient);

}  // namespace ringmail
