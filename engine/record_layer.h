// engine/record_layer.h — the seam where TLS goes: a record layer between
// the SMTP client machine (engine/smtp_client.h), which only ever sees
// plaintext, and the socket, which only ever carries what the layer
// writes (ciphertext once the handshake has begun).
//
// Who uses it: engine/smtp_connection.cc, once the machine asks for TLS
// (SmtpClientHost::start_tls, after the 220 to STARTTLS, or at connect for
// implicit TLS). The implementation is engine/tls_record_layer.h: a
// BoringSSL session over memory buffers, one SSL object per connection,
// never crossing threads; without TLS no layer is installed and bytes pass
// through unchanged. It never does I/O itself: the adapter moves bytes
// between it, the machine and the ring.
//
// Data flow with a layer installed:
//   socket recv ──► read_ciphertext() ──► plaintext ──► SmtpClient::in_space()/on_received()
//   SmtpClient::output() ──► write_plaintext() ──► ciphertext_out() ──► socket send
// During the handshake read_ciphertext() produces no plaintext and answers
// kHandshakeDone once it is complete (then SmtpClient::on_tls_ready);
// kFailed means the handshake or a record failed (describe_failure() says
// why, in words, for SmtpClient::on_tls_failed). Plaintext that arrives
// with the last handshake flight, or any before it, is the STARTTLS
// injection case and is the caller's to refuse (the machine fails on
// bytes received in kTlsHandshake).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringmail {

class RecordLayer {
 public:
  enum class Status {
    kOk,             // progress made (possibly none: more ciphertext needed)
    kHandshakeDone,  // the handshake just completed; application data may flow
    kClosed,         // the peer sent close_notify
    kFailed,         // handshake or record failure; describe_failure() says why
  };

  virtual ~RecordLayer() = default;

  // start_handshake begins a client handshake for |server_name| (SNI, and
  // the name the certificate is checked against, per the TLS level). The
  // first flight appears in ciphertext_out().
  virtual Status start_handshake(std::string_view server_name) = 0;

  // read_ciphertext takes bytes received from the socket (it uses
  // |cipher_used| of them) and writes any plaintext they carry into
  // plain[0..plain_cap) (|plain_len| bytes).
  virtual Status read_ciphertext(const char* cipher, size_t cipher_len, size_t& cipher_used, char* plain,
                                 size_t plain_cap, size_t& plain_len) = 0;

  // write_plaintext seals plain[0..plain_len) (|plain_used| of it) into
  // records appended to ciphertext_out(). Only after kHandshakeDone.
  virtual Status write_plaintext(const char* plain, size_t plain_len, size_t& plain_used) = 0;

  // ciphertext_out: bytes to send; consume_ciphertext_out(n) drops the
  // first |n| once sent.
  virtual std::string_view ciphertext_out() const = 0;
  virtual void consume_ciphertext_out(size_t n) = 0;

  // shutdown queues close_notify (an orderly close) into ciphertext_out().
  virtual void shutdown() = 0;

  // describe_failure: the last failure in words (which certificate, what
  // failed, what to do), for the operator.
  virtual std::string describe_failure() const = 0;
};

}  // namespace ringmail
