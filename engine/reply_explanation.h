// engine/reply_explanation.h — what a relay's refusal most likely means
// and what the operator should do, in one sentence each: the hints the
// deferral and failure sentences carry (stderr, the meta file, so `ringmail
// queue`) and that `ringmail test-send` prints after its transcript.
//
// Who uses it: engine/smtp_client.cc appends a hint to the reason it
// records (connection failures, and a message's refusal when a hint
// exists); tools that print a transcript call explain_reply on the final
// reply. Pure functions returning static text: no allocation, no I/O, so
// they may run on a worker. The reply text is untrusted; it is only
// searched, never copied into the hint.
//
// The cases come from the seeds' troubleshooting tables (AWS SES, Tenable):
// 535 credentials rejected, 530 authentication or TLS required first, 554
// "Email address is not verified", a connection or greeting that times out
// (firewall, VPN, allow-list, or the port of the other TLS mode). A
// certificate path that is not found is reported when the config is loaded
// (config/config.cc names the key and the path), and a chain that does not
// lead to the trust store (Java's "unable to find valid certification
// path") by the TLS verdict (tls/tls_verdict.h), each with its next step.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/delivery_policy.h"

namespace ringmail {

// explain_reply: the hint for a reply with |code| and |text| (its last
// line, "535 5.7.8 Authentication credentials invalid") answering |stage|;
// "" when there is nothing to add to the reply itself.
std::string_view explain_reply(SmtpStage stage, uint16_t code, std::string_view text);

// explain_connect_timeout: the TCP connect to the relay timed out.
std::string_view explain_connect_timeout();

// explain_greeting_timeout: connected, but no banner came (with STARTTLS
// configured, the classic sign of an implicit-TLS port).
std::string_view explain_greeting_timeout();

// explain_auth_shortfall: why a connection with credentials did not log in
// and what to change.
std::string_view explain_auth_shortfall(AuthShortfall what);

}  // namespace ringmail
