// tls/tls_session.h — one TLS connection as a record layer over memory:
// ciphertext in and out on one side, plaintext in and out on the other.
//
// Who uses it: the SMTP client's worker (and `ringmail check-tls`, and the
// sink as a server). The owner does all socket I/O: it feeds bytes it
// received with feed_ciphertext, sends what pending_ciphertext shows (then
// consume_ciphertext) or copies it out with take_ciphertext. This class
// makes no system call and never touches a socket; it runs on the thread
// that owns the connection and is never shared.
//
// Memory: the SSL object and two memory BIOs. Both BIOs are bounded here
// (kMaxBufferedCiphertextIn, kMaxPendingCiphertextOut) and keep their
// high-water allocation; BoringSSL allocates its record buffers while a
// record is in flight and frees them after, and frees the handshake state
// when the handshake ends. docs/tls.md gives the measured cost per
// connection (idle, busy, and the worst case the bounds allow: under 64 KiB).
// No allocation of its own beyond that.
//
// Security: the peer is untrusted. A certificate is checked on every full
// handshake (a TlsVerdict is always computed); at levels verify and secure a
// failed check fails the handshake, at may and encrypt it is only reported.
#pragma once

#include <openssl/base.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tls/tls_policy.h"
#include "tls/tls_verdict.h"

namespace ringmail {

class TlsClientContext;
class TlsServerContext;
class TlsTicketCache;

// kMaxBufferedCiphertextIn: feed_ciphertext accepts bytes only while fewer
// than this many are buffered and not yet taken in by BoringSSL (which
// moves them into its own record buffer as it reads, so a small bound costs
// only extra feed calls). The owner keeps the rest and feeds it after the
// next handshake() or read_plaintext().
inline constexpr size_t kMaxBufferedCiphertextIn = 8192;
// kMaxPlaintextPerWrite: one write_plaintext call encrypts at most one
// full record.
inline constexpr size_t kMaxPlaintextPerWrite = 16384;
// kMaxPendingCiphertextOut: write_plaintext encrypts only while the
// ciphertext waiting to be sent stays within this (about one full record);
// beyond it, kWantMore: send first. With nothing pending one full record is
// always accepted.
inline constexpr size_t kMaxPendingCiphertextOut = kMaxPlaintextPerWrite + 512;
// kRecordOverhead: the most a record adds to its plaintext here (header,
// content type, AEAD tag and explicit nonce, no padding), rounded up.
inline constexpr size_t kRecordOverhead = 64;

// TlsStep is the result of handshake() and close().
enum class TlsStep {
  kWantMore,  // feed more ciphertext (after sending what is pending)
  kDone,      // finished
  kFailed,    // the connection is unusable; error() says why
};

// TlsIo is the result of read_plaintext and write_plaintext.
enum class TlsIo {
  kOk,        // some bytes moved (count in the out parameter)
  kWantMore,  // read: feed more ciphertext; write: send pending ciphertext first
  kClosed,    // read: the peer sent close_notify (an orderly end)
  kFailed,    // error() says why
};

class TlsSession {
 public:
  TlsSession() = default;
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // start_client begins a client session on |ctx| (whose policy gives the
  // level) towards a server known by |names| (SNI and the name to verify).
  // |cache| (may be null) supplies a session to resume and receives the
  // new ones; it must outlive this session's handshake. Returns false (with
  // error()) only when BoringSSL cannot allocate.
  bool start_client(const TlsClientContext& ctx, const TlsPeerNames& names, TlsTicketCache* cache);

  // start_server begins a server session on |ctx|.
  bool start_server(const TlsServerContext& ctx);

  // reset frees the connection's TLS state; the object may be started again.
  void reset();

  // handshake advances the handshake with the ciphertext fed so far.
  // kDone once (and on every later call) the handshake is complete;
  // kFailed if it failed (error() gives the sentence, verdict() the
  // certificate check); kWantMore otherwise. Call pending_ciphertext after
  // every call: there may be bytes to send in all three cases (a failure
  // queues an alert).
  TlsStep handshake();

  // feed_ciphertext hands bytes received from the peer to TLS. Returns how
  // many were accepted (fewer than |size| when kMaxBufferedCiphertextIn is
  // reached; feed the rest after reading plaintext).
  size_t feed_ciphertext(const uint8_t* data, size_t size);
  // feed_eof tells TLS that the peer closed the TCP connection.
  void feed_eof();

  // pending_ciphertext shows the bytes waiting to be sent (valid until the
  // next call on this session); consume_ciphertext drops the first |size|
  // of them once sent. take_ciphertext copies up to |capacity| out and
  // drops them.
  std::span<const uint8_t> pending_ciphertext() const;
  void consume_ciphertext(size_t size);
  size_t take_ciphertext(uint8_t* out, size_t capacity);

  // write_plaintext encrypts up to kMaxPlaintextPerWrite bytes of |data|
  // (fewer when that keeps the pending ciphertext within
  // kMaxPendingCiphertextOut) and sets |written|. kWantMore: too much
  // ciphertext pending; send it first. Only after the handshake is done.
  TlsIo write_plaintext(const void* data, size_t size, size_t& written);

  // read_plaintext decrypts into |out| and sets |read|. kWantMore: feed
  // more ciphertext. kClosed: the peer ended TLS with close_notify.
  TlsIo read_plaintext(void* out, size_t capacity, size_t& read);

  // close queues close_notify (send pending_ciphertext, then close the
  // socket). kDone when queued; kFailed if the session never started.
  TlsStep close();

  // After the handshake:
  bool handshake_done() const { return done_; }
  uint16_t version() const;          // wire version (kTls12, kTls13), 0 before
  const char* version_text() const;  // "TLSv1.3"
  const char* cipher() const;        // IANA name, "TLS_AES_128_GCM_SHA256"
  const char* group() const;         // key exchange group, "X25519"
  bool resumed() const;
  // peer_chain: as sent by the peer, leaf first (client sessions); owned by
  // the session; null when none.
  STACK_OF(X509) * peer_chain() const;
  const TlsVerdict& verdict() const { return verdict_; }
  bool peer_sent_close_notify() const { return peer_closed_; }
  // error: the sentence for the last failure ("" if none).
  std::string_view error() const { return error_.view(); }
  SSL* ssl() const { return ssl_; }

  // install_client_callbacks sets the verification and new-session
  // callbacks on a client SSL_CTX (called by TlsClientContext::create).
  static void install_client_callbacks(SSL_CTX* ctx, bool session_resumption);

 private:
  static enum ssl_verify_result_t verify_callback(SSL* ssl, uint8_t* out_alert);
  static int new_session_callback(SSL* ssl, SSL_SESSION* session);
  static TlsSession* from_ssl(const SSL* ssl);
  bool start_common(SSL_CTX* ctx);
  void fail(std::string_view text);
  void fail_from_ssl(int ret, const char* during);
  void finish_handshake();

  SSL* ssl_ = nullptr;
  BIO* network_in_ = nullptr;   // ciphertext from the peer (SSL's rbio)
  BIO* network_out_ = nullptr;  // ciphertext to the peer (SSL's wbio)
  const TlsClientContext* client_ctx_ = nullptr;
  TlsTicketCache* cache_ = nullptr;
  TlsLevel level_ = TlsLevel::kNone;
  bool is_client_ = false;
  bool done_ = false;
  bool failed_ = false;
  bool peer_closed_ = false;
  bool eof_ = false;
  uintptr_t offered_verdict_bits_ = 0;  // verdict stored with the session offered
  FixedText<256> verify_name_;
  FixedText<1024> error_;
  TlsVerdict verdict_;
};

}  // namespace ringmail
