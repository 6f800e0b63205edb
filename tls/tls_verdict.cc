// tls/tls_verdict.cc — see tls_verdict.h.
#include "tls/tls_verdict.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

#include "tls/tls_certificate.h"

namespace ringmail {

namespace {

// VerifyCollector gathers every problem X509_verify_cert reports; its
// callback returns 1 so that verification continues past the first error.
struct VerifyCollector {
  TlsVerdict* verdict;
};

uint32_t problem_for(int error) {
  switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return kCertUnknownIssuer;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return kCertSelfSigned;
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return kCertExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return kCertNotYetValid;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return kCertNameMismatch;
    default:
      return kCertOther;
  }
}

// describe_cert fills the verdict's text fields in place: no allocation of
// ours (BoringSSL allocates while printing names and reading SANs).
void describe_cert(const X509* cert, TlsVerdict& out) {
  out.subject.fill([cert](TextOut& text) { cert_subject_to(cert, text); });
  out.issuer.fill([cert](TextOut& text) { cert_issuer_to(cert, text); });
  out.not_before.fill([cert](TextOut& text) { cert_time_to(X509_get0_notBefore(cert), text); });
  out.not_after.fill([cert](TextOut& text) { cert_time_to(X509_get0_notAfter(cert), text); });
}

int collect_problem(int ok, X509_STORE_CTX* ctx) {
  if (ok) return 1;
  auto* collector = static_cast<VerifyCollector*>(X509_STORE_CTX_get_app_data(ctx));
  int error = X509_STORE_CTX_get_error(ctx);
  TlsVerdict& v = *collector->verdict;
  v.problems |= problem_for(error);
  if (v.x509_error == 0) {
    v.x509_error = error;
    v.error_depth = X509_STORE_CTX_get_error_depth(ctx);
    if (const X509* cert = X509_STORE_CTX_get_current_cert(ctx)) describe_cert(cert, v);
  }
  return 1;  // keep going: report every problem, not only the first
}

}  // namespace

bool cert_matches_name(X509* leaf, std::string_view name) {
  if (name.empty()) return false;
  if (is_ip_literal(name)) {
    char ip[64];  // is_ip_literal guarantees fewer than 64 bytes
    name.copy(ip, name.size());
    ip[name.size()] = '\0';
    return X509_check_ip_asc(leaf, ip, 0) == 1;
  }
  return X509_check_host(leaf, name.data(), name.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
}

void verify_peer_chain(X509_STORE* store, STACK_OF(X509) * chain, std::string_view name_wanted,
                       TlsVerdict& out) {
  out = TlsVerdict{};
  out.checked = true;
  out.name_wanted.set(name_wanted);
  if (chain == nullptr || sk_X509_num(chain) == 0) {
    out.problems = kCertNoCertificate;
    return;
  }
  X509* leaf = sk_X509_value(chain, 0);
  out.names_in_cert.fill([leaf](TextOut& text) { cert_names_to(leaf, text); });

  VerifyCollector collector{&out};
  bssl::UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  bool ran = ctx && X509_STORE_CTX_init(ctx.get(), store, leaf, chain) &&
             X509_STORE_CTX_set_default(ctx.get(), "ssl_server");
  if (ran) {
    X509_STORE_CTX_set_app_data(ctx.get(), &collector);
    X509_STORE_CTX_set_verify_cb(ctx.get(), collect_problem);
    ran = X509_verify_cert(ctx.get()) == 1;
  }
  if (!ran && out.problems == 0) {
    out.problems |= kCertOther;
    out.x509_error = ctx ? X509_STORE_CTX_get_error(ctx.get()) : X509_V_ERR_OUT_OF_MEM;
  }
  ERR_clear_error();
  out.chain_trusted = out.problems == 0;

  out.name_matches = cert_matches_name(leaf, name_wanted);
  if (!out.name_matches) out.problems |= kCertNameMismatch;
  if (out.subject.empty()) describe_cert(leaf, out);
}

const char* TlsVerdict::summary() const {
  if (!checked) return "not checked";
  if (trusted()) return "trusted";
  if (problems & kCertNoCertificate) return "no certificate";
  if (problems & kCertSelfSigned) return "self-signed";
  if (problems & kCertUnknownIssuer) return "unknown issuer";
  if (problems & kCertExpired) return "expired";
  if (problems & kCertNotYetValid) return "not yet valid";
  if (problems & kCertOther) return "invalid chain";
  if (problems & kCertNameMismatch) return "name mismatch";
  return "not trusted";
}

std::string TlsVerdict::explain(TlsLevel level, std::string_view trust_store) const {
  std::string prefix;
  if (!tls_level_enforces_certificate(level)) {
    prefix =
        fmt::format("not verified (level {} does not check certificates, so the connection went ahead): ",
                    level == TlsLevel::kEncrypt ? "encrypt" : "may");
  }
  if (!checked) return prefix + "no certificate was checked (no TLS handshake reached that point)";
  if (from_resumption) {
    return prefix + (trusted() ? "trusted (resumed session of a connection whose certificate was verified)"
                               : "not trusted (resumed session of a connection whose certificate failed)");
  }
  if (problems & kCertNoCertificate) return prefix + "not trusted: the server sent no certificate";
  if (trusted()) {
    return prefix + fmt::format(
                        "trusted: the certificate {} (issued by {}) leads to the trust store ({}) and "
                        "carries the name {}",
                        subject.view(), issuer.view(), trust_store, name_wanted.view());
  }
  std::vector<std::string> what;
  if (problems & kCertSelfSigned) {
    what.push_back(
        fmt::format("it is self-signed (its own issuer) and not in the trust store ({})", trust_store));
  }
  if (problems & kCertUnknownIssuer) {
    what.push_back(fmt::format("its issuer {} is not in the trust store ({})", issuer.view(), trust_store));
  }
  if (problems & kCertExpired) what.push_back(fmt::format("it expired on {}", not_after.view()));
  if (problems & kCertNotYetValid) {
    what.push_back(
        fmt::format("it is not valid before {} (or this machine's clock is wrong)", not_before.view()));
  }
  if (problems & kCertOther) {
    what.push_back(fmt::format("the chain is invalid ({})", X509_verify_cert_error_string(x509_error)));
  }
  if (problems & kCertNameMismatch) {
    what.push_back(fmt::format("name mismatch: the certificate is for {}, but the name wanted is {}",
                               names_in_cert.view(), name_wanted.view()));
  }
  std::string text =
      prefix + fmt::format("not trusted: certificate {} issued by {}: ", subject.view(), issuer.view());
  for (size_t i = 0; i < what.size(); i++) {
    if (i > 0) text += "; ";
    text += what[i];
  }
  std::vector<std::string> todo;
  if (problems & (kCertSelfSigned | kCertUnknownIssuer)) {
    todo.push_back(
        "add the issuer's certificate to tls.ca_file, or save the chain with `ringmail check-tls HOST "
        "--save-chain DIR` and set tls.ca_dir to DIR");
  }
  if (problems & (kCertExpired | kCertNotYetValid)) {
    todo.push_back("ask the server's operator to renew the certificate (or fix this machine's clock)");
  }
  if (problems & kCertNameMismatch) {
    todo.push_back(
        "connect by a name the certificate carries (relay.host), or have the server's certificate issued for "
        "the "
        "name wanted");
  }
  if (tls_level_enforces_certificate(level)) {
    todo.push_back("use tls = \"encrypt\" if encryption without verification is enough");
  }
  if (!todo.empty()) {
    text += ". To fix: ";
    for (size_t i = 0; i < todo.size(); i++) {
      if (i > 0) text += i + 1 == todo.size() ? ", or " : ", ";
      text += todo[i];
    }
  }
  return text;
}

}  // namespace ringmail
