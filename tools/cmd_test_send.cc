// tools/cmd_test_send.cc — `ringmail test-send --config F --to ADDR [--from
// ADDR]`: the "Test Action" of seed 004. It sends one short test message
// through the configured route (relay host and port, relay.tls,
// implicit_tls, the trust store, the client certificate, credentials),
// prints the SMTP transcript (AUTH masked, message content summarised, the
// TLS facts after the handshake) and ends with one line: the final reply
// and what it means.
//
// Not a second SMTP client: the route is built as the engine builds it
// (resolve_relay, build_relay_destination), and the conversation is the
// engine's machine (engine/smtp_client) driven over a blocking socket by
// tools/blocking_smtp_driver. It touches no spool. Exit codes: kTestSend*
// below, docs/tls.md ("Checking a relay").
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <string>

#include "engine/destination.h"
#include "engine/message_slot.h"
#include "engine/relay_resolver.h"
#include "engine/relay_target.h"
#include "engine/reply_explanation.h"
#include "queue/envelope.h"
#include "tls/tls_certificate.h"
#include "tls/tls_client_context.h"
#include "tools/blocking_smtp_driver.h"
#include "tools/commands.h"
#include "tools/operator_text.h"

namespace ringmail {
namespace {

constexpr int kTestSendAccepted = 0;      // the relay accepted the message (2xx after the content)
constexpr int kTestSendRejected = 1;      // a 5xx: refused for good (message, recipient, sender, AUTH)
constexpr int kTestSendDeferred = 2;      // a 4xx, or the connection broke after the greeting
constexpr int kTestSendTlsRefused = 3;    // TLS missing, refused or failed where relay.tls requires it
constexpr int kTestSendNoConnection = 4;  // the relay does not resolve, no address answers, no greeting
constexpr int kTestSendUsage = 64;        // a bad --to/--from, or no sender
constexpr int kTestSendConfig = 78;       // the config cannot be used (trust store, client certificate)

int exit_code(TestSendOutcome outcome) {
  switch (outcome) {
    case TestSendOutcome::kAccepted:
      return kTestSendAccepted;
    case TestSendOutcome::kRejected:
      return kTestSendRejected;
    case TestSendOutcome::kDeferred:
      return kTestSendDeferred;
    case TestSendOutcome::kTlsRefused:
      return kTestSendTlsRefused;
    case TestSendOutcome::kNoConnection:
      return kTestSendNoConnection;
  }
  return kTestSendDeferred;
}

// test_message is the spool-file form of the test alert: an explicit
// envelope preamble, then a short RFC 5322 message.
std::string test_message(const Config& config, const std::string& from, const std::string& to) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &local);
  const std::string& helo = config.smtp.helo_name;
  const char* tls_mode = config.relay.implicit_tls ? "implicit TLS" : "STARTTLS when offered";
  return "X-Ringmail-From: <" + from + ">\n" + "X-Ringmail-To: <" + to + ">\n" + "From: <" + from + ">\n" +
         "To: <" + to + ">\n" + "Subject: ringmail test message\n" + "Date: " + date + "\n" +
         "Message-ID: <" + stamp + "." + std::to_string(::getpid()) + ".test-send@" + helo + ">\n" +
         "MIME-Version: 1.0\n" + "Content-Type: text/plain; charset=us-ascii\n" +
         "Auto-Submitted: auto-generated\n" + "\n" + "This is a test message from `ringmail test-send` on " +
         helo + ".\n" + "It went through the relay " +
         format_host_port(config.relay.host, config.relay.port) + " with relay.tls = \"" +
         tls_level_name(config.relay.tls) + "\" (" + tls_mode + ").\n" +
         "If you can read it, ringmail can deliver alerts along this route.\n";
}

// load_slot puts the whole message into |slot|'s head and parses its
// envelope, as the engine's intake would.
bool load_slot(const std::string& file, MessageSlot& slot, std::string& error) {
  if (file.size() >= MessageSlot::kHeadBytes) {
    error = "the test message is larger than one read";
    return false;
  }
  slot.reset();
  std::copy(file.begin(), file.end(), slot.head.get());
  slot.head_len = static_cast<uint32_t>(file.size());
  slot.whole_file = true;
  slot.file_end = file.size();
  slot.ref.size_bytes = file.size();
  std::snprintf(slot.ref.id, sizeof slot.ref.id, "test-send");
  if (parse_envelope(std::string_view(slot.head.get(), slot.head_len), true, "", slot.envelope, error) !=
      EnvelopeParse::kOk) {
    return false;
  }
  slot.attempt_pending = slot.envelope.recipient_count;
  for (uint32_t i = 0; i < slot.envelope.recipient_count; ++i) slot.rcpt_state[i] = RcptState::kPending;
  return true;
}

// with_hint: |reason| followed by engine/reply_explanation's hint for the
// reply it starts with, unless the machine already put it there (its
// refusal sentences carry it), else by |otherwise|.
std::string with_hint(const std::string& reason, std::string_view otherwise) {
  uint16_t code = 0;
  if (reason.size() >= 3 && std::isdigit(static_cast<unsigned char>(reason[0])) &&
      std::isdigit(static_cast<unsigned char>(reason[1])) &&
      std::isdigit(static_cast<unsigned char>(reason[2]))) {
    code = static_cast<uint16_t>(std::stoi(reason.substr(0, 3)));
  }
  const std::string_view hint = explain_reply(SmtpStage::kMail, code, reason);
  if (!hint.empty() && reason.find(hint) != std::string::npos) return reason + ".";
  return reason + " — " + std::string(hint.empty() ? otherwise : hint) + ".";
}

// result_line: the final reply, and one sentence saying what it means.
// The sentences are the delivery path's: a refused message's reply with
// engine/reply_explanation's hint, or the machine's reason for ending the
// session (which carries its hints); the rest says what delivery would do.
std::string result_line(TestSendOutcome outcome, const BlockingSmtpDriver& driver, const std::string& to) {
  const std::string& reply = driver.reply();
  if (outcome == TestSendOutcome::kAccepted) {
    return reply + " — accepted: the relay took the test message for <" + to +
           ">; if it does not arrive, the relay's logs and the recipient's spam folder say why.";
  }
  if (!reply.empty()) {
    return with_hint(reply, outcome == TestSendOutcome::kRejected
                                ? "rejected for good: delivery would fail such messages, and sending again "
                                  "will not help until the cause named in the reply is fixed"
                                : "deferred: the relay cannot take the message now; delivery would keep it "
                                  "and try again on the retry schedule");
  }
  const std::string error = printable(driver.error());  // the machine's sentences quote the server
  std::string line = "not sent — " + error;
  if (outcome == TestSendOutcome::kNoConnection &&
      error.find(explain_connect_timeout()) == std::string::npos &&
      error.find(explain_greeting_timeout()) == std::string::npos) {
    line +=
        "; check relay.host and relay.port, and the TLS mode for that port (STARTTLS: 25, 587, 2587; "
        "relay.implicit_tls = true: 465, 2465)";
  }
  return line + ".";
}

}  // namespace

CLI::App* add_test_send_command(CLI::App& app, TestSendOptions& options, std::string& config_path) {
  auto* cmd = app.add_subcommand(
      "test-send",
      "Send one test message through the configured relay route and print the SMTP transcript (AUTH "
      "masked, TLS facts shown) and the final reply explained");
  cmd->add_option("--config,-c", config_path, "Config file")->capture_default_str();
  cmd->add_option("--to", options.to, "Recipient of the test message")->required();
  cmd->add_option("--from", options.from, "Envelope and header sender (default: smtp.default_sender)");
  cmd->footer(
      "Exit codes: 0 accepted; 1 rejected (5xx: message, recipient, sender or credentials); 2 deferred "
      "(4xx, or the connection broke); 3 TLS refused (STARTTLS missing or refused, handshake or certificate "
      "failed where relay.tls requires TLS; nothing was sent); 4 could not connect (name, address, "
      "port, no greeting); 64 usage; 78 config error. See docs/tls.md.");
  return cmd;
}

int cmd_test_send(const Config& config, const TestSendOptions& options) {
  const std::string from = options.from.empty() ? config.smtp.default_sender : options.from;
  std::string why;
  if (from.empty()) {
    std::fprintf(stderr, "ringmail test-send: no sender: give --from or set smtp.default_sender in %s\n",
                 config.path.c_str());
    return kTestSendUsage;
  }
  for (const auto& [flag, address] : {std::pair{"--to", &options.to}, std::pair{"--from", &from}}) {
    if (!check_address(*address, why)) {
      std::fprintf(stderr, "ringmail test-send: %s \"%s\" is not an address: it %s\n", flag,
                   escape_for_operator(*address).c_str(), why.c_str());
      return kTestSendUsage;
    }
  }

  // The route, built as the engine builds it.
  RelayResolver unused_resolver(config.relay);  // build_relay_destination keeps a pointer; addresses below
  Destination destination;
  if (!build_relay_destination(config, unused_resolver, destination, why)) {
    std::fprintf(stderr, "ringmail test-send: %s\n", why.c_str());
    return kTestSendConfig;
  }
  RelayTarget target;
  if (!resolve_relay(config.relay, target, why)) {
    std::printf("result: not sent — %s\n", why.c_str());
    return kTestSendNoConnection;
  }
  SmtpClientConfig client_config;
  client_config.helo_name = config.smtp.helo_name;
  client_config.max_messages_per_connection = 1;
  // One step at a time: the transcript reads as a dialogue and its result
  // is the end-of-data reply, not a 221 that arrived with it.
  client_config.pipeline_quit = false;
  client_config.chunking = config.smtp.chunking;
  client_config.tls_level = destination.tls_level;
  client_config.implicit_tls = destination.implicit_tls;
  client_config.credentials = &destination.credentials;

  const std::string file = test_message(config, from, options.to);
  auto slot = std::make_unique<MessageSlot>(nullptr, 0);
  if (!load_slot(file, *slot, why)) {
    std::fprintf(stderr, "ringmail test-send: cannot build the test message: %s\n", why.c_str());
    return kTestSendUsage;
  }

  std::printf("test-send: relay %s (%zu address%s), relay.tls = \"%s\"%s\n",
              format_host_port(target.host, target.port).c_str(), target.addresses.size(),
              target.addresses.size() == 1 ? "" : "es", tls_level_name(destination.tls_level),
              destination.implicit_tls ? " with implicit TLS" : "");
  if (destination.uses_tls()) {
    std::printf("test-send: trust store %s (%zu certificate(s))\n",
                destination.tls_context->trust_store_name().c_str(),
                destination.tls_context->trust_store_certs());
  }
  std::printf("test-send: from <%s> to <%s>\n", from.c_str(), options.to.c_str());
  std::fflush(stdout);

  BlockingSmtpDriver driver(client_config, destination, target, config.smtp, stdout);
  const TestSendOutcome outcome = driver.send(*slot);
  std::printf("result: %s\n", result_line(outcome, driver, options.to).c_str());
  return exit_code(outcome);
}

}  // namespace ringmail
