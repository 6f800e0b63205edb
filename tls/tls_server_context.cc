// tls/tls_server_context.cc — see tls_server_context.h.
#include "tls/tls_server_context.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls/tls_client_context.h"

namespace ringmail {

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

bool TlsServerContext::finish(const TlsServerOptions& options, std::string& error) {
  if (!configure_versions_and_ciphers(ctx_, options.min_version, options.max_version, options.ciphers,
                                      options.curves, "server tls", error)) {
    return false;
  }
  if (!SSL_CTX_check_private_key(ctx_)) {
    ERR_clear_error();
    error =
        "the server key does not belong to the server certificate; give the key issued with that certificate";
    return false;
  }
  if (!options.client_ca_file.empty()) {
    if (!SSL_CTX_load_verify_locations(ctx_, options.client_ca_file.c_str(), nullptr)) {
      std::string why = ssl_error_text();
      error = fmt::format("client CA file {}: cannot load PEM certificates from it ({}); check the path",
                          options.client_ca_file, why);
      return false;
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  if (!options.session_tickets) {
    SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
  }
  return true;
}

std::unique_ptr<TlsServerContext> TlsServerContext::create(const TlsServerOptions& options,
                                                           std::string& error) {
  std::unique_ptr<TlsServerContext> self(new TlsServerContext());
  self->ctx_ = SSL_CTX_new(TLS_method());
  if (self->ctx_ == nullptr) {
    error = "cannot create a TLS context (out of memory?)";
    return nullptr;
  }
  if (!SSL_CTX_use_certificate_chain_file(self->ctx_, options.cert_file.c_str())) {
    std::string why = ssl_error_text();
    error =
        fmt::format("TLS certificate {}: cannot load a PEM certificate chain from it ({}); check the path",
                    options.cert_file, why);
    return nullptr;
  }
  if (!SSL_CTX_use_PrivateKey_file(self->ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM)) {
    std::string why = ssl_error_text();
    error =
        fmt::format("TLS key {}: cannot load a PEM private key from it ({}); check the path and permissions",
                    options.key_file, why);
    return nullptr;
  }
  if (!self->finish(options, error)) return nullptr;
  return self;
}

std::unique_ptr<TlsServerContext> TlsServerContext::create_in_memory(X509* cert, STACK_OF(X509) * chain,
                                                                     EVP_PKEY* key,
                                                                     const TlsServerOptions& options,
                                                                     std::string& error) {
  std::unique_ptr<TlsServerContext> self(new TlsServerContext());
  self->ctx_ = SSL_CTX_new(TLS_method());
  if (self->ctx_ == nullptr || !SSL_CTX_use_certificate(self->ctx_, cert) ||
      !SSL_CTX_use_PrivateKey(self->ctx_, key)) {
    std::string why = ssl_error_text();
    error = fmt::format("cannot install the server certificate and key ({})", why);
    return nullptr;
  }
  if (chain != nullptr) {
    for (size_t i = 0; i < sk_X509_num(chain); i++) {
      if (!SSL_CTX_add1_chain_cert(self->ctx_, sk_X509_value(chain, i))) {
        error = "cannot add an intermediate certificate to the server chain";
        return nullptr;
      }
    }
  }
  if (!self->finish(options, error)) return nullptr;
  return self;
}

}  // namespace ringmail
