// tls/tls_session.cc — see tls_session.h.
#include "tls/tls_session.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <cstring>

#include "tls/tls_client_context.h"
#include "tls/tls_server_context.h"
#include "tls/tls_ticket_cache.h"

namespace ringmail {

namespace {

// Ex-data slots, created once per process (BoringSSL makes this
// thread-safe; the function-local statics make it once).
int session_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
// The verdict of the handshake that made an SSL_SESSION, stored with it so a
// resumed connection knows whether the certificate was trusted then.
int verdict_bits_index() {
  static const int index = SSL_SESSION_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

constexpr uintptr_t kBitChecked = 1;
constexpr uintptr_t kBitChainTrusted = 2;
constexpr uintptr_t kBitNameMatches = 4;

uintptr_t verdict_bits(const TlsVerdict& v) {
  return (v.checked ? kBitChecked : 0) | (v.chain_trusted ? kBitChainTrusted : 0) |
         (v.name_matches ? kBitNameMatches : 0) | (static_cast<uintptr_t>(v.problems) << 8);
}

// explain_handshake_error turns a BoringSSL reason into a sentence with the
// likely cause and what to do.
std::string explain_handshake_error(uint32_t packed, uint16_t min_version, uint16_t max_version) {
  int lib = ERR_GET_LIB(packed);
  int reason = ERR_GET_REASON(packed);
  const char* reason_text = ERR_reason_error_string(packed);
  std::string raw = reason_text ? reason_text : fmt::format("error {:#x}", packed);
  if (lib == ERR_LIB_SSL) {
    switch (reason) {
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        return fmt::format(
            "no TLS version in common ({}): ringmail allows {} to {} (tls.min_version, tls.max_version) and "
            "the "
            "server offers none of them; a server limited to TLS 1.0 or 1.1 needs upgrading (lowering "
            "tls.min_version below 1.2 is insecure)",
            raw, tls_version_text(min_version), tls_version_text(max_version));
      case SSL_R_NO_SHARED_CIPHER:
      case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      case SSL_R_WRONG_CIPHER_RETURNED:
      case SSL_R_UNKNOWN_CIPHER_RETURNED:
      case SSL_R_NO_SHARED_GROUP:
      case SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY:
        return fmt::format(
            "no cipher in common ({}): ringmail offers ECDHE key exchange with AES-GCM or ChaCha20-Poly1305 "
            "only "
            "(tls.ciphers) and the server wants something else (RSA key exchange, CBC or 3DES are refused as "
            "insecure); fix the server's cipher list",
            raw);
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_HTTP_REQUEST:
      case SSL_R_HTTPS_PROXY_REQUEST:
      case SSL_R_RECORD_TOO_LARGE:
        return fmt::format(
            "the server did not answer with TLS ({}); it probably speaks plain SMTP on this port: use "
            "STARTTLS "
            "(implicit_tls = false) here, or the server's implicit TLS port (465)",
            raw);
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_TLSV1_CERTIFICATE_REQUIRED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
        return fmt::format(
            "the server refused ringmail's client certificate ({}); check tls.client_cert and that the "
            "server "
            "trusts its issuer",
            raw);
      default:
        break;
    }
  }
  return {};
}

}  // namespace

TlsSession* TlsSession::from_ssl(const SSL* ssl) {
  return static_cast<TlsSession*>(SSL_get_ex_data(ssl, session_index()));
}

void TlsSession::install_client_callbacks(SSL_CTX* ctx, bool session_resumption) {
  (void)session_index();
  (void)verdict_bits_index();
  SSL_CTX_set_custom_verify(ctx, SSL_VERIFY_PEER, &TlsSession::verify_callback);
  if (session_resumption) {
    // Client mode, no internal cache: the new-session callback hands every
    // session to the connection's TlsTicketCache.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, &TlsSession::new_session_callback);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
}

enum ssl_verify_result_t TlsSession::verify_callback(SSL* ssl, uint8_t* out_alert) {
  TlsSession* self = from_ssl(ssl);
  if (self == nullptr || self->client_ctx_ == nullptr) {
    *out_alert = SSL_AD_INTERNAL_ERROR;
    return ssl_verify_invalid;
  }
  verify_peer_chain(self->client_ctx_->trust_store(), SSL_get_peer_full_cert_chain(ssl),
                    self->verify_name_.view(), self->verdict_);
  if (!tls_level_enforces_certificate(self->level_) || self->verdict_.trusted()) return ssl_verify_ok;
  uint32_t p = self->verdict_.problems;
  if (p & (kCertUnknownIssuer | kCertSelfSigned)) {
    *out_alert = SSL_AD_UNKNOWN_CA;
  } else if (p & kCertExpired) {
    *out_alert = SSL_AD_CERTIFICATE_EXPIRED;
  } else {
    *out_alert = SSL_AD_BAD_CERTIFICATE;
  }
  return ssl_verify_invalid;
}

int TlsSession::new_session_callback(SSL* ssl, SSL_SESSION* session) {
  TlsSession* self = from_ssl(ssl);
  if (self == nullptr || self->cache_ == nullptr) return 0;  // BoringSSL keeps ownership
  SSL_SESSION_set_ex_data(session, verdict_bits_index(),
                          reinterpret_cast<void*>(verdict_bits(self->verdict_)));
  self->cache_->put(session);
  return 1;  // the cache owns the reference now
}

TlsSession::~TlsSession() { reset(); }

void TlsSession::reset() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both BIOs too
  ssl_ = nullptr;
  network_in_ = nullptr;
  network_out_ = nullptr;
  client_ctx_ = nullptr;
  cache_ = nullptr;
  level_ = TlsLevel::kNone;
  is_client_ = false;
  done_ = false;
  failed_ = false;
  peer_closed_ = false;
  eof_ = false;
  offered_verdict_bits_ = 0;
  verify_name_.set("");
  error_.set("");
  verdict_ = TlsVerdict{};
}

bool TlsSession::start_common(SSL_CTX* ctx) {
  reset();
  ssl_ = SSL_new(ctx);
  network_in_ = BIO_new(BIO_s_mem());
  network_out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || network_in_ == nullptr || network_out_ == nullptr ||
      !SSL_set_ex_data(ssl_, session_index(), this)) {
    BIO_free(network_in_);
    BIO_free(network_out_);
    network_in_ = network_out_ = nullptr;
    fail("cannot allocate a TLS connection (out of memory)");
    return false;
  }
  // An empty input BIO means "no data yet" (retry), not end of file.
  BIO_set_mem_eof_return(network_in_, -1);
  SSL_set_bio(ssl_, network_in_, network_out_);  // the SSL owns both now
  // Drop the copy of the configuration once the handshake is over: less
  // memory per open connection.
  SSL_set_shed_handshake_config(ssl_, 1);
  return true;
}

bool TlsSession::start_client(const TlsClientContext& ctx, const TlsPeerNames& names, TlsTicketCache* cache) {
  if (!start_common(ctx.ssl_ctx())) return false;
  is_client_ = true;
  client_ctx_ = &ctx;
  cache_ = ctx.policy().session_resumption ? cache : nullptr;
  level_ = ctx.policy().level;
  verify_name_.set(names.verify_name);
  SSL_set_connect_state(ssl_);
  if (!names.sni.empty()) {
    SSL_set_tlsext_host_name(ssl_, names.sni.c_str());
  }
  if (cache_ != nullptr) {
    bssl::UniquePtr<SSL_SESSION> session = cache_->take();
    if (session) {
      // TLS 1.3 resumption makes a new SSL_SESSION: remember the verdict of
      // the one offered now.
      offered_verdict_bits_ =
          reinterpret_cast<uintptr_t>(SSL_SESSION_get_ex_data(session.get(), verdict_bits_index()));
      SSL_set_session(ssl_, session.get());
    }
  }
  return true;
}

bool TlsSession::start_server(const TlsServerContext& ctx) {
  if (!start_common(ctx.ssl_ctx())) return false;
  SSL_set_accept_state(ssl_);
  return true;
}

void TlsSession::fail(std::string_view text) {
  failed_ = true;
  error_.set(text);
}

void TlsSession::fail_from_ssl(int ret, const char* during) {
  int code = SSL_get_error(ssl_, ret);
  // Read the error queue right away: the next SSL call on this thread
  // (another session in tests and benchmarks) would clear it.
  uint32_t packed = ERR_peek_error();
  ERR_clear_error();
  if (code == SSL_ERROR_SSL && ERR_GET_LIB(packed) == ERR_LIB_SSL &&
      ERR_GET_REASON(packed) == SSL_R_CERTIFICATE_VERIFY_FAILED && verdict_.checked) {
    fail(verdict_.explain(level_, client_ctx_ ? std::string_view(client_ctx_->trust_store_name()) : ""));
    return;
  }
  if (code == SSL_ERROR_SYSCALL || code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SSL && packed == 0)) {
    fail(fmt::format("the peer closed the connection {}", during));
    return;
  }
  if (code == SSL_ERROR_SSL) {
    uint16_t min_version = kTls12;
    uint16_t max_version = kTls13;
    if (client_ctx_ != nullptr) {
      min_version = client_ctx_->policy().min_version;
      max_version = client_ctx_->policy().max_version;
    }
    std::string text = explain_handshake_error(packed, min_version, max_version);
    if (text.empty()) {
      const char* reason = ERR_reason_error_string(packed);
      text = fmt::format("TLS failed {}: {}", during, reason ? reason : "unknown error");
    }
    fail(text);
    return;
  }
  fail(fmt::format("TLS failed {} (SSL_get_error {})", during, code));
}

void TlsSession::finish_handshake() {
  done_ = true;
  if (!is_client_) return;
  if (SSL_session_reused(ssl_)) {
    // No certificate was sent: take the verdict recorded when the session
    // was first made.
    uintptr_t bits = offered_verdict_bits_;
    verdict_ = TlsVerdict{};
    verdict_.from_resumption = true;
    verdict_.checked = (bits & kBitChecked) != 0;
    verdict_.chain_trusted = (bits & kBitChainTrusted) != 0;
    verdict_.name_matches = (bits & kBitNameMatches) != 0;
    verdict_.problems = static_cast<uint32_t>(bits >> 8);
    verdict_.name_wanted.set(verify_name_.view());
    if (tls_level_enforces_certificate(level_) && !verdict_.trusted()) {
      // Cannot happen with one policy per cache; refuse rather than trust.
      done_ = false;
      fail("a resumed TLS session was not verified when it was made; refusing it at this level");
    }
  }
}

TlsStep TlsSession::handshake() {
  if (ssl_ == nullptr || failed_) return TlsStep::kFailed;
  if (done_) return TlsStep::kDone;
  int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    finish_handshake();
    return failed_ ? TlsStep::kFailed : TlsStep::kDone;
  }
  int code = SSL_get_error(ssl_, ret);
  if (code == SSL_ERROR_WANT_READ && !eof_) return TlsStep::kWantMore;
  if (code == SSL_ERROR_WANT_READ && eof_) {
    ERR_clear_error();
    fail("the peer closed the connection during the TLS handshake");
    return TlsStep::kFailed;
  }
  fail_from_ssl(ret, "during the TLS handshake");
  return TlsStep::kFailed;
}

size_t TlsSession::feed_ciphertext(const uint8_t* data, size_t size) {
  if (ssl_ == nullptr || size == 0) return 0;
  size_t buffered = BIO_pending(network_in_);
  if (buffered >= kMaxBufferedCiphertextIn) return 0;
  size_t room = kMaxBufferedCiphertextIn - buffered;
  size_t n = size < room ? size : room;
  int wrote = BIO_write(network_in_, data, static_cast<int>(n));
  return wrote > 0 ? static_cast<size_t>(wrote) : 0;
}

void TlsSession::feed_eof() {
  if (ssl_ == nullptr) return;
  eof_ = true;
  BIO_set_mem_eof_return(network_in_, 0);
}

std::span<const uint8_t> TlsSession::pending_ciphertext() const {
  if (network_out_ == nullptr) return {};
  const uint8_t* data = nullptr;
  size_t len = 0;
  if (!BIO_mem_contents(network_out_, &data, &len)) return {};
  return {data, len};
}

void TlsSession::consume_ciphertext(size_t size) {
  uint8_t scratch[4096];
  while (size > 0 && network_out_ != nullptr) {
    size_t n = size < sizeof scratch ? size : sizeof scratch;
    int got = BIO_read(network_out_, scratch, static_cast<int>(n));
    if (got <= 0) break;
    size -= static_cast<size_t>(got);
  }
}

size_t TlsSession::take_ciphertext(uint8_t* out, size_t capacity) {
  if (network_out_ == nullptr || capacity == 0) return 0;
  int got = BIO_read(network_out_, out, static_cast<int>(capacity));
  return got > 0 ? static_cast<size_t>(got) : 0;
}

TlsIo TlsSession::write_plaintext(const void* data, size_t size, size_t& written) {
  written = 0;
  if (ssl_ == nullptr || failed_ || !done_) return TlsIo::kFailed;
  if (size == 0) return TlsIo::kOk;
  size_t n = size < kMaxPlaintextPerWrite ? size : kMaxPlaintextPerWrite;
  size_t pending = BIO_pending(network_out_);
  if (pending > 0) {
    // Keep pending + this record within the bound, and never cut a tiny
    // record just to fill the gap: send first instead.
    size_t room = pending + kRecordOverhead < kMaxPendingCiphertextOut
                      ? kMaxPendingCiphertextOut - pending - kRecordOverhead
                      : 0;
    size_t smallest = n < 1024 ? n : 1024;
    if (room < smallest) return TlsIo::kWantMore;
    if (n > room) n = room;
  }
  int ret = SSL_write(ssl_, data, static_cast<int>(n));
  if (ret > 0) {
    written = static_cast<size_t>(ret);
    return TlsIo::kOk;
  }
  fail_from_ssl(ret, "while writing");
  return TlsIo::kFailed;
}

TlsIo TlsSession::read_plaintext(void* out, size_t capacity, size_t& read) {
  read = 0;
  if (ssl_ == nullptr || failed_) return TlsIo::kFailed;
  if (peer_closed_) return TlsIo::kClosed;
  int ret = SSL_read(ssl_, out, static_cast<int>(capacity > INT32_MAX ? INT32_MAX : capacity));
  if (ret > 0) {
    if (!done_ && SSL_is_init_finished(ssl_)) finish_handshake();
    read = static_cast<size_t>(ret);
    return TlsIo::kOk;
  }
  int code = SSL_get_error(ssl_, ret);
  if (code == SSL_ERROR_WANT_READ && !eof_) return TlsIo::kWantMore;
  if (code == SSL_ERROR_ZERO_RETURN) {
    peer_closed_ = true;
    return TlsIo::kClosed;
  }
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_SYSCALL) {
    ERR_clear_error();
    fail("the peer closed the connection without a TLS close_notify (the data may be truncated)");
    return TlsIo::kFailed;
  }
  fail_from_ssl(ret, "while reading");
  return TlsIo::kFailed;
}

TlsStep TlsSession::close() {
  if (ssl_ == nullptr) return TlsStep::kFailed;
  if (!done_ || failed_) return TlsStep::kDone;  // nothing to close politely
  int ret = SSL_shutdown(ssl_);
  if (ret < 0) {
    ERR_clear_error();
    return TlsStep::kFailed;
  }
  return TlsStep::kDone;
}

uint16_t TlsSession::version() const { return ssl_ && done_ ? static_cast<uint16_t>(SSL_version(ssl_)) : 0; }

const char* TlsSession::version_text() const { return tls_version_text(version()); }

const char* TlsSession::cipher() const {
  const SSL_CIPHER* c = ssl_ ? SSL_get_current_cipher(ssl_) : nullptr;
  return c ? SSL_CIPHER_standard_name(c) : "none";
}

const char* TlsSession::group() const {
  uint16_t id = ssl_ ? SSL_get_curve_id(ssl_) : 0;
  const char* name = id ? SSL_get_curve_name(id) : nullptr;
  return name ? name : "none";
}

bool TlsSession::resumed() const { return ssl_ && done_ && SSL_session_reused(ssl_); }

STACK_OF(X509) * TlsSession::peer_chain() const {
  return ssl_ ? SSL_get_peer_full_cert_chain(ssl_) : nullptr;
}

}  // namespace ringmail
