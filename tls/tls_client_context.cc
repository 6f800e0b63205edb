// tls/tls_client_context.cc — see tls_client_context.h.
#include "tls/tls_client_context.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls/tls_session.h"
#include "tls/tls_trust_store.h"

namespace ringmail {

std::string ssl_error_text() {
  uint32_t code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return {};
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : fmt::format("error {:#x}", code);
}

bool configure_versions_and_ciphers(SSL_CTX* ctx, uint16_t min_version, uint16_t max_version,
                                    const std::string& ciphers, const std::string& curves, const char* what,
                                    std::string& error) {
  if (min_version > max_version) {
    error =
        fmt::format("{}.min_version {} is above {}.max_version {}; set min_version to at most max_version",
                    what, tls_version_text(min_version), what, tls_version_text(max_version));
    return false;
  }
  if (!SSL_CTX_set_min_proto_version(ctx, min_version) || !SSL_CTX_set_max_proto_version(ctx, max_version)) {
    ERR_clear_error();
    error =
        fmt::format("{}.min_version/max_version {}..{} is not supported by this TLS library; use 1.2 and 1.3",
                    what, tls_version_text(min_version), tls_version_text(max_version));
    return false;
  }
  if (!SSL_CTX_set_strict_cipher_list(ctx, ciphers.c_str())) {
    std::string why = ssl_error_text();
    error = fmt::format(
        "{}.ciphers \"{}\" is not a cipher list BoringSSL accepts ({}); every name must be a known TLS 1.2 "
        "suite (BoringSSL has no DHE); remove the setting to use the default, ECDHE with AES-GCM or "
        "ChaCha20-Poly1305",
        what, ciphers, why);
    return false;
  }
  if (!SSL_CTX_set1_curves_list(ctx, curves.c_str())) {
    ERR_clear_error();
    error = fmt::format("{}.curves \"{}\" names a group BoringSSL does not know; use X25519, P-256 and P-384",
                        what, curves);
    return false;
  }
  return true;
}

X509_STORE* TlsClientContext::trust_store() const { return SSL_CTX_get_cert_store(ctx_); }

TlsClientContext::~TlsClientContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsClientContext> TlsClientContext::create(const TlsPolicy& policy, std::string& error) {
  std::unique_ptr<TlsClientContext> self(new TlsClientContext(policy));
  self->ctx_ = SSL_CTX_new(TLS_method());
  if (self->ctx_ == nullptr) {
    error = "cannot create a TLS context (out of memory?)";
    return nullptr;
  }
  SSL_CTX* ctx = self->ctx_;
  if (!configure_versions_and_ciphers(ctx, policy.min_version, policy.max_version, policy.ciphers,
                                      policy.curves, "tls", error)) {
    return nullptr;
  }
  if (policy.level != TlsLevel::kNone) {
    if (!load_trust_store(SSL_CTX_get_cert_store(ctx), policy.ca_file, policy.ca_dir,
                          self->trust_store_certs_, error)) {
      return nullptr;
    }
  }
  self->trust_store_name_ = trust_store_text(policy.ca_file, policy.ca_dir);

  if (!policy.client_cert.empty() || !policy.client_key.empty()) {
    if (policy.client_cert.empty() || policy.client_key.empty()) {
      error =
          "tls.client_cert and tls.client_key go together: set both (a PEM certificate chain and its key) or "
          "neither";
      return nullptr;
    }
    if (!SSL_CTX_use_certificate_chain_file(ctx, policy.client_cert.c_str())) {
      std::string why = ssl_error_text();
      error = fmt::format(
          "tls.client_cert {}: cannot load a PEM certificate chain from it ({}); check the path and that the "
          "file "
          "starts with \"-----BEGIN CERTIFICATE-----\"",
          policy.client_cert, why);
      return nullptr;
    }
    if (!SSL_CTX_use_PrivateKey_file(ctx, policy.client_key.c_str(), SSL_FILETYPE_PEM)) {
      uint32_t packed = ERR_peek_error();
      std::string why = ssl_error_text();
      if (ERR_GET_REASON(packed) == X509_R_KEY_VALUES_MISMATCH) {
        error = fmt::format(
            "tls.client_key {} does not belong to the certificate in tls.client_cert {}; give the key that "
            "was "
            "issued with that certificate",
            policy.client_key, policy.client_cert);
        return nullptr;
      }
      error = fmt::format(
          "tls.client_key {}: cannot load a PEM private key from it ({}); check the path, that ringmail may "
          "read "
          "it, and that it is not encrypted with a passphrase",
          policy.client_key, why);
      return nullptr;
    }
    if (!SSL_CTX_check_private_key(ctx)) {
      ERR_clear_error();
      error = fmt::format(
          "tls.client_key {} does not belong to the certificate in tls.client_cert {}; give the key "
          "that was issued with that certificate",
          policy.client_key, policy.client_cert);
      return nullptr;
    }
  }
  TlsSession::install_client_callbacks(ctx, policy.session_resumption);
  return self;
}

}  // namespace ringmail
