// tls/tls_server_context.h — one configured BoringSSL server context, for
// the sink's STARTTLS and implicit TLS and for tests that need a TLS server
// in memory.
//
// Who calls it: `ringmail sink` (at start-up) and the TLS unit tests and
// benchmarks. Loading reads the certificate and key files; never on a
// worker thread. Defaults match the client's (TLS 1.2..1.3, ECDHE + AEAD);
// tests may set weaker versions and ciphers to prove the client refuses them.
#pragma once

#include <openssl/base.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "tls/tls_policy.h"

namespace ringmail {

struct TlsServerOptions {
  // PEM files (used by create()); create_in_memory() takes objects instead.
  std::string cert_file;  // leaf first, then intermediates
  std::string key_file;
  uint16_t min_version = kTls12;
  uint16_t max_version = kTls13;
  std::string ciphers = std::string(kTlsDefaultCiphers);
  std::string curves = std::string(kTlsDefaultCurves);
  // Mutual TLS: request a client certificate and verify it against this
  // PEM file ("" = do not ask).
  std::string client_ca_file;
  bool session_tickets = true;  // TLS 1.3 tickets and TLS 1.2 tickets
};

class TlsServerContext {
 public:
  // create loads |options|' PEM files. nullptr and |error| (a sentence
  // naming the file and what to do) on failure.
  static std::unique_ptr<TlsServerContext> create(const TlsServerOptions& options, std::string& error);
  // create_in_memory uses |cert| (leaf), optional |chain| (intermediates,
  // may be null) and |key|; the files in |options| are ignored.
  static std::unique_ptr<TlsServerContext> create_in_memory(X509* cert, STACK_OF(X509) * chain, EVP_PKEY* key,
                                                            const TlsServerOptions& options,
                                                            std::string& error);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  SSL_CTX* ssl_ctx() const { return ctx_; }

 private:
  TlsServerContext() = default;
  bool finish(const TlsServerOptions& options, std::string& error);

  SSL_CTX* ctx_ = nullptr;
};

}  // namespace ringmail
