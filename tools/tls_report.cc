// tools/tls_report.cc — see tls_report.h.
#include "tools/tls_report.h"

#include <openssl/x509.h>

#include <string>

#include "tls/tls_certificate.h"
#include "tls/tls_client_context.h"
#include "tls/tls_session.h"
#include "tls/tls_verdict.h"

namespace ringmail {

void print_tls_facts(FILE* out, const char* prefix, const TlsSession& tls, const TlsClientContext& context,
                     std::string_view sni, TlsLevel level) {
  std::fprintf(out, "%sprotocol:  %s\n", prefix, tls.version_text());
  std::fprintf(out, "%scipher:    %s\n", prefix, tls.cipher());
  std::fprintf(out, "%sgroup:     %s\n", prefix, tls.group());
  std::fprintf(out, "%ssni:       %s\n", prefix,
               sni.empty() ? "(none: IP literal)" : std::string(sni).c_str());
  print_chain(out, prefix, tls.peer_chain());
  print_tls_verdict(out, prefix, tls.verdict(), context, level);
}

void print_chain(FILE* out, const char* prefix, STACK_OF(X509) * chain) {
  if (chain == nullptr || sk_X509_num(chain) == 0) {
    std::fprintf(out, "%schain:     (none)\n", prefix);
    return;
  }
  std::fprintf(out, "%schain (as sent by the server, leaf first):\n", prefix);
  for (size_t i = 0; i < sk_X509_num(chain); i++) {
    X509* cert = sk_X509_value(chain, i);
    std::fprintf(out, "%s  %zu subject: %s\n", prefix, i, cert_subject_text(cert).c_str());
    std::fprintf(out, "%s    issuer:  %s%s\n", prefix, cert_issuer_text(cert).c_str(),
                 cert_is_self_issued(cert) ? " (self-issued)" : "");
    std::fprintf(out, "%s    valid:   %s to %s\n", prefix, cert_time_text(X509_get0_notBefore(cert)).c_str(),
                 cert_time_text(X509_get0_notAfter(cert)).c_str());
    std::fprintf(out, "%s    key:     %s\n", prefix, cert_key_text(cert).c_str());
    if (i == 0) std::fprintf(out, "%s    names:   %s\n", prefix, cert_names_text(cert).c_str());
  }
}

void print_tls_verdict(FILE* out, const char* prefix, const TlsVerdict& verdict,
                       const TlsClientContext& context, TlsLevel level) {
  const std::string trust =
      verdict.chain_trusted ? "chain trusted by " + context.trust_store_name() : "chain NOT trusted";
  std::fprintf(out, "%strust:     %s\n", prefix, trust.c_str());
  std::fprintf(out, "%sname:      %s %s (certificate names: %s)\n", prefix,
               verdict.name_matches ? "matches" : "does NOT match",
               std::string(verdict.name_wanted.view()).c_str(),
               std::string(verdict.names_in_cert.view()).c_str());
  std::fprintf(out, "%sverdict:   %s\n", prefix, verdict.explain(level, context.trust_store_name()).c_str());
}

}  // namespace ringmail
