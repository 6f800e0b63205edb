// tools/blocking_smtp_driver.h — drives the engine's SMTP client machine
// (engine/smtp_client.h) over one blocking socket, for `ringmail
// test-send`: the same protocol code, TLS record layer
// (engine/tls_record_layer.h) and Destination (engine/destination.h) as
// delivery, so what it shows is what delivery would do. Only the I/O
// differs: BlockingWire with poll() timeouts (smtp.connect_timeout_ms,
// reply_timeout_ms, data_timeout_ms) instead of io_uring.
//
// It prints as it goes, to |out|: the connect attempts, the transcript
// (engine/smtp_transcript: AUTH masked, message content summarised), and
// after a handshake the TLS facts (tools/tls_report, lines "TLS: ...").
// At level may a failed handshake is followed by a new connection in clear,
// as the engine does (decide_tls_shortfall).
//
// What it must never do: write bytes the machine did not produce, or
// show a credential (the transcript masks them; the TLS layer sees only
// plaintext the machine wrote). Blocking: command-line use only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/smtp_client.h"
#include "engine/smtp_transcript.h"
#include "tools/blocking_wire.h"

namespace ringmail {

struct Destination;
struct RelayTarget;
class TlsRecordLayer;

// TestSendOutcome: how one test delivery ended.
enum class TestSendOutcome : uint8_t {
  kAccepted,      // the end of data got 2xx
  kRejected,      // a 5xx: the message, a recipient, the sender, AUTH or the session refused for good
  kDeferred,      // a 4xx, or the connection broke once the session had begun
  kTlsRefused,    // TLS did not happen and the level requires it (nothing was sent)
  kNoConnection,  // no address answered, or no SMTP greeting came
};

class BlockingSmtpDriver final : public SmtpClientHost {
 public:
  // The driver keeps references to all of these; they must outlive it.
  BlockingSmtpDriver(const SmtpClientConfig& client_config, const Destination& destination,
                     const RelayTarget& target, const SmtpConfig& timeouts, FILE* out);
  ~BlockingSmtpDriver() override;

  // send delivers |slot|, whose whole file is in its head
  // (MessageSlot::whole_file), over one connection (two at level may after
  // a failed handshake) and returns how it ended.
  TestSendOutcome send(MessageSlot& slot);

  // reply: the reply that settled the message ("" when it was not
  // answered): the end-of-data reply when accepted, else the refusal.
  const std::string& reply() const { return reply_; }
  // error: the machine's sentence for a connection-level failure.
  const std::string& error() const { return error_; }

 private:
  // SmtpClientHost: each records the command; after_event() acts on it.
  void connect(uint32_t address_index) override;
  void close() override;
  void read_body(MessageSlot* slot, uint64_t offset) override;
  void transaction_done(MessageSlot* slot) override;
  void start_tls() override;

  void run_connection(MessageSlot& slot, bool starttls_allowed);
  void after_event();
  void do_connect();
  void begin_tls();
  void do_close();
  bool flush();  // true when something was sent (or an event was given)
  void receive();
  void process_tls_in();
  void note_state();
  TestSendOutcome classify(const MessageSlot& slot) const;
  uint32_t timeout_ms(TimeoutKind kind) const;
  void print(std::vector<std::string>& lines);

  const Destination& destination_;
  const RelayTarget& target_;
  const SmtpConfig& timeouts_;
  FILE* out_;
  SmtpClient client_;
  std::unique_ptr<TlsRecordLayer> tls_;  // null at level none
  BlockingWire wire_;
  SmtpTranscript transcript_;
  std::vector<std::string> lines_;
  std::string tls_in_;  // ciphertext received and not yet taken by the layer

  // Commands recorded from the machine.
  bool connect_asked_ = false;
  uint32_t connect_index_ = 0;
  bool tls_asked_ = false;
  bool close_asked_ = false;
  bool body_asked_ = false;

  // What happened on the current connection.
  bool connected_ = false;
  bool message_taken_ = false;
  bool message_done_ = false;
  bool quit_asked_ = false;
  bool tls_failed_ = false;  // the handshake failed (or was refused by the server after it)
  ClientState last_open_state_ = ClientState::kIdle;  // the last state before kClosing
  std::string reply_;
  std::string error_;
};

}  // namespace ringmail
