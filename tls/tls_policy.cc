// tls/tls_policy.cc — see tls_policy.h. Pure functions; no BoringSSL calls.
#include "tls/tls_policy.h"

#include <arpa/inet.h>

namespace ringmail {

namespace {

std::string_view strip_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

}  // namespace

bool is_ip_literal(std::string_view name) {
  if (name.empty() || name.size() >= 64) return false;
  char buf[64];
  name.copy(buf, name.size());
  buf[name.size()] = '\0';
  unsigned char addr[16];
  return ::inet_pton(AF_INET, buf, addr) == 1 || ::inet_pton(AF_INET6, buf, addr) == 1;
}

TlsPeerNames tls_peer_names(TlsLevel level, std::string_view host, std::string_view next_hop_domain) {
  TlsPeerNames names;
  std::string_view connected = strip_host(host);
  if (!is_ip_literal(connected)) names.sni = std::string(connected);
  std::string_view wanted = connected;
  if (level == TlsLevel::kSecure && !next_hop_domain.empty()) wanted = strip_host(next_hop_domain);
  names.verify_name = std::string(wanted);
  return names;
}

TlsPeerNames tls_peer_names(const TlsPolicy& policy, std::string_view host) {
  TlsPeerNames names = tls_peer_names(policy.level, host, policy.next_hop_domain);
  std::string_view sni = strip_host(policy.sni_name);
  if (!sni.empty() && !is_ip_literal(sni)) names.sni = std::string(sni);
  return names;
}

bool parse_tls_version(std::string_view text, uint16_t& out) {
  if (text.starts_with("TLSv")) {
    text.remove_prefix(4);
  } else if (text.starts_with("TLS")) {
    text.remove_prefix(3);
  }
  if (text == "1.0") {
    out = kTls10;
  } else if (text == "1.1") {
    out = kTls11;
  } else if (text == "1.2") {
    out = kTls12;
  } else if (text == "1.3") {
    out = kTls13;
  } else {
    return false;
  }
  return true;
}

const char* tls_version_text(uint16_t version) {
  switch (version) {
    case kTls10:
      return "TLSv1.0";
    case kTls11:
      return "TLSv1.1";
    case kTls12:
      return "TLSv1.2";
    case kTls13:
      return "TLSv1.3";
    default:
      return "unknown";
  }
}

}  // namespace ringmail
