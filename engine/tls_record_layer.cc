// engine/tls_record_layer.cc — see tls_record_layer.h.
#include "engine/tls_record_layer.h"

#include <fmt/format.h>

#include "tls/tls_client_context.h"
#include "tls/tls_ticket_cache.h"

namespace ringmail {
namespace {

// status_of maps a session's plaintext result onto the seam's: kWantMore
// is not an error (more ciphertext must come in, or go out first).
RecordLayer::Status status_of(TlsIo io) {
  switch (io) {
    case TlsIo::kOk:
    case TlsIo::kWantMore:
      return RecordLayer::Status::kOk;
    case TlsIo::kClosed:
      return RecordLayer::Status::kClosed;
    case TlsIo::kFailed:
      return RecordLayer::Status::kFailed;
  }
  return RecordLayer::Status::kFailed;
}

}  // namespace

TlsRecordLayer::TlsRecordLayer(const TlsClientContext* context) : context_(context) {}

RecordLayer::Status TlsRecordLayer::start_handshake(std::string_view server_name) {
  reset();
  failure_.clear();
  // SNI is the host name connected to (never an IP literal); the name
  // verified is that host (verify) or the next-hop domain (secure).
  const TlsPeerNames names = tls_peer_names(context_->policy(), server_name);
  if (!session_.start_client(*context_, names, cache_)) {
    failure_ = std::string(session_.error());
    return Status::kFailed;
  }
  started_ = true;
  // The first flight (ClientHello) is produced by the first handshake step.
  return session_.handshake() == TlsStep::kFailed ? Status::kFailed : Status::kOk;
}

RecordLayer::Status TlsRecordLayer::read_ciphertext(const char* cipher, size_t cipher_len,
                                                    size_t& cipher_used, char* plain, size_t plain_cap,
                                                    size_t& plain_len) {
  cipher_used = 0;
  plain_len = 0;
  if (!started_) return Status::kFailed;
  if (cipher_len > 0)
    cipher_used = session_.feed_ciphertext(reinterpret_cast<const uint8_t*>(cipher), cipher_len);
  if (!session_.handshake_done()) {
    switch (session_.handshake()) {
      case TlsStep::kFailed:
        return Status::kFailed;
      case TlsStep::kWantMore:
        return Status::kOk;
      case TlsStep::kDone:
        break;
    }
    // Belt and braces: at verify and secure nothing may go on over a
    // connection whose certificate was not trusted.
    const TlsVerdict& verdict = session_.verdict();
    if (tls_level_enforces_certificate(context_->policy().level) && !verdict.from_resumption &&
        !verdict.trusted()) {
      failure_ = verdict.explain(context_->policy().level, context_->trust_store_name());
      return Status::kFailed;
    }
    return Status::kHandshakeDone;
  }
  if (plain_cap == 0) return Status::kOk;
  return status_of(session_.read_plaintext(plain, plain_cap, plain_len));
}

RecordLayer::Status TlsRecordLayer::write_plaintext(const char* plain, size_t plain_len, size_t& plain_used) {
  plain_used = 0;
  if (!session_.handshake_done()) return Status::kFailed;
  return status_of(session_.write_plaintext(plain, plain_len, plain_used));  // kWantMore: send first
}

std::string_view TlsRecordLayer::ciphertext_out() const {
  if (!started_) return {};
  const std::span<const uint8_t> pending = session_.pending_ciphertext();
  return std::string_view(reinterpret_cast<const char*>(pending.data()), pending.size());
}

void TlsRecordLayer::consume_ciphertext_out(size_t n) {
  if (started_) session_.consume_ciphertext(n);
}

void TlsRecordLayer::shutdown() {
  if (started_ && session_.handshake_done()) session_.close();
}

std::string TlsRecordLayer::describe_failure() const {
  if (!failure_.empty()) return failure_;
  const TlsVerdict& verdict = session_.verdict();
  if (tls_level_enforces_certificate(context_->policy().level) && verdict.checked && !verdict.trusted()) {
    return verdict.explain(context_->policy().level, context_->trust_store_name());
  }
  return std::string(session_.error());
}

void TlsRecordLayer::reset() {
  if (started_) session_.reset();
  started_ = false;
}

std::string TlsRecordLayer::summary() const {
  if (!session_.handshake_done()) return "no TLS";
  return fmt::format("{} {} {}{}, certificate {}", session_.version_text(), session_.cipher(),
                     session_.group(), session_.resumed() ? " resumed" : "", session_.verdict().summary());
}

}  // namespace ringmail
