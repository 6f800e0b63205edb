// engine/ehlo_capabilities.h — the ESMTP extensions a server offers in its
// reply to EHLO (RFC 5321 4.1.1.1 and the extension RFCs).
//
// Who calls it: the SMTP client, once per EHLO (after connect and again after
// STARTTLS, when the list must be taken afresh). The reply comes from an
// untrusted server: parsing never allocates, never reads outside the reply,
// and unknown or odd lines are ignored rather than rejected.
#pragma once

#include <cstdint>

#include "engine/smtp_reply.h"

namespace ringmail {

// EhloCapabilities lists what the client uses; everything else is ignored.
struct EhloCapabilities {
  bool pipelining = false;             // RFC 2920
  bool size = false;                   // RFC 1870
  bool eight_bit_mime = false;         // RFC 6152 "8BITMIME"
  bool smtputf8 = false;               // RFC 6531
  bool enhanced_status_codes = false;  // RFC 2034
  bool starttls = false;               // RFC 3207
  bool chunking = false;               // RFC 3030 (BDAT)
  bool dsn = false;                    // RFC 3461
  // size_limit: the SIZE parameter in bytes; 0 when none was given, it was
  // not a number, or it was "0" (RFC 1870: no fixed maximum). A value too big
  // for 64 bits saturates at UINT64_MAX.
  uint64_t size_limit = 0;
  bool auth = false;          // an AUTH line, whatever its mechanisms (RFC 4954)
  bool auth_plain = false;    // "AUTH ... PLAIN ..." (or the old "AUTH=PLAIN")
  bool auth_login = false;    // LOGIN
  bool auth_xoauth2 = false;  // XOAUTH2
};

// parse_ehlo_capabilities reads the extensions out of a reply to EHLO. The
// first line is the server's greeting ("mx.example.org Hello ...") and is
// skipped; each further line is "KEYWORD [PARAM ...]", keywords and AUTH
// mechanisms case-insensitive, separated by spaces or tabs. The old form
// "AUTH=LOGIN PLAIN" is accepted as well as "AUTH LOGIN PLAIN". A reply whose
// code is not 250 offers nothing (all false).
EhloCapabilities parse_ehlo_capabilities(const SmtpReply& reply);

}  // namespace ringmail
