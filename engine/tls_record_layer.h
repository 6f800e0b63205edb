// engine/tls_record_layer.h — the BoringSSL record layer behind the seam of
// engine/record_layer.h: a TlsSession (tls/tls_session.h, SSL over memory
// BIOs) adapted so that SmtpConnection can put it between the socket
// (ciphertext) and the SMTP machine (plaintext).
//
// Who uses it: engine/smtp_connection.cc, one per connection slot, built
// with the connection when its destination uses TLS; started on
// SmtpClientHost::start_tls (after the 220 to STARTTLS, or at connect with
// implicit TLS) and reset when the connection closes.
//
// What it must never do: any I/O (the connection moves the bytes), block,
// or read a file (the trust store was loaded at start-up). The certificate
// verdict is checked here against the level: at verify and secure a chain
// that does not lead to the trust store or does not carry the wanted name
// fails the handshake (TlsSession does it in its verify callback; this
// class checks again on completion, so no code path can skip it).
//
// Memory: the object itself is allocated once with its connection; the
// SSL object, its two memory BIOs and BoringSSL's record buffers are
// allocated by BoringSSL per connection (docs/tls.md gives the budget),
// nothing per message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "engine/record_layer.h"
#include "tls/tls_session.h"

namespace ringmail {

class TlsClientContext;
class TlsTicketCache;

class TlsRecordLayer final : public RecordLayer {
 public:
  // TlsRecordLayer keeps |context|, which must outlive it.
  explicit TlsRecordLayer(const TlsClientContext* context);

  // bind_cache sets the ticket cache the next start_handshake resumes from
  // and stores new sessions into (null: no resumption).
  void bind_cache(TlsTicketCache* cache) { cache_ = cache; }

  Status start_handshake(std::string_view server_name) override;
  Status read_ciphertext(const char* cipher, size_t cipher_len, size_t& cipher_used, char* plain,
                         size_t plain_cap, size_t& plain_len) override;
  Status write_plaintext(const char* plain, size_t plain_len, size_t& plain_used) override;
  std::string_view ciphertext_out() const override;
  void consume_ciphertext_out(size_t n) override;
  void shutdown() override;
  std::string describe_failure() const override;

  // reset frees the connection's TLS state (on close); start_handshake may
  // be called again.
  void reset();
  // started: a handshake was begun and not reset; established: it finished.
  bool started() const { return started_; }
  bool established() const { return session_.handshake_done(); }
  const TlsSession& session() const { return session_; }
  // summary: "TLSv1.3 TLS_AES_128_GCM_SHA256 X25519 resumed, certificate trusted" for logs.
  std::string summary() const;

 private:
  const TlsClientContext* context_;
  TlsTicketCache* cache_ = nullptr;
  TlsSession session_;
  bool started_ = false;
  std::string failure_;  // set on a failure this class detects itself
};

}  // namespace ringmail
