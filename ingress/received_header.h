// ingress/received_header.h — the Received: trace field the listener puts
// on top of every message it accepts (RFC 5321 4.4; protocol names of RFC
// 3848: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA).
//
// Who uses it: the engine's ingress SessionHost, when it builds the spool
// file (preamble, this field, the body); tests/unit/received_header_test.cc.
// Pure: no clock (the caller passes the time), no I/O. The HELO name is
// client text: characters outside a host name or address literal are
// written as '?', and it is cut to 255 bytes, so the field can neither be
// broken nor made to lie about its structure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ingress/smtp_server_session.h"

namespace ringmail::ingress {

// format_received_header appends one Received: field (folded, CRLF line
// ends) to |out|:
//   Received: from HELO ([IP])\r\n
//   \tby HOST (ringmail) with PROTOCOL id ID\r\n
//   \t(using TLSv1.3 with cipher X)\r\n          only with |tls|
//   \tfor <rcpt>; Tue, 01 Dec 2026 03:50:12 +0000\r\n   "for" only with one recipient
// |client_ip| is the text form ("192.0.2.1", "2001:db8::1"); an IPv6 one is
// written as the address literal "[IPv6:2001:db8::1]". |unix_time| is in
// seconds; the date is in UTC.
void format_received_header(const TransactionInfo& info, std::string_view client_ip, const TlsFacts* tls,
                            std::string_view hostname, std::string_view queue_id, int64_t unix_time,
                            std::string& out);

}  // namespace ringmail::ingress
