// tls/tls_client_context.h — one configured BoringSSL client context
// (SSL_CTX) built from a TlsPolicy.
//
// Who calls it: start-up code (off the workers) builds one per core or one
// shared read-only per destination policy; TlsSession::start_client creates
// each connection's SSL from it. Loading reads the trust store and the
// client certificate files, so it must never run on a worker thread. Once
// built it is never changed, so several threads may start sessions from it.
//
// Every setting BoringSSL would otherwise take from its own defaults is set
// explicitly: protocol floor and ceiling, the TLS 1.2 cipher list (strict:
// an unknown name is an error, not ignored), the curves, the verification
// callback (TlsSession's, which fills a TlsVerdict), and the client session
// cache callback that feeds the per-destination TlsTicketCache.
#pragma once

#include <openssl/base.h>

#include <cstddef>
#include <memory>
#include <string>

#include "tls/tls_policy.h"

namespace ringmail {

class TlsClientContext {
 public:
  // create builds a context for |policy|. On failure returns nullptr and sets
  // |error| to a sentence naming the setting or file and what to do.
  static std::unique_ptr<TlsClientContext> create(const TlsPolicy& policy, std::string& error);

  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* ssl_ctx() const { return ctx_; }
  X509_STORE* trust_store() const;
  const TlsPolicy& policy() const { return policy_; }
  // trust_store_name: "ca_dir /etc/ssl/certs" etc., for verdict sentences.
  const std::string& trust_store_name() const { return trust_store_name_; }
  size_t trust_store_certs() const { return trust_store_certs_; }

 private:
  explicit TlsClientContext(const TlsPolicy& policy) : policy_(policy) {}

  SSL_CTX* ctx_ = nullptr;
  TlsPolicy policy_;
  std::string trust_store_name_;
  size_t trust_store_certs_ = 0;
};

// configure_versions_and_ciphers applies |min_version|, |max_version|,
// |ciphers| (strict) and |curves| to |ctx|; shared by the client and server
// contexts. |what| prefixes the key names in errors ("tls" or "sink").
bool configure_versions_and_ciphers(SSL_CTX* ctx, uint16_t min_version, uint16_t max_version,
                                    const std::string& ciphers, const std::string& curves, const char* what,
                                    std::string& error);

// ssl_error_text gives the reason of the first queued BoringSSL error
// ("NO_SHARED_CIPHER") and clears the queue; "" when none is queued.
std::string ssl_error_text();

}  // namespace ringmail
