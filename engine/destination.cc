// engine/destination.cc — see destination.h. Start-up only, except
// DestinationState's small accessors, which run on its worker.
#include "engine/destination.h"

#include <unistd.h>

#include <algorithm>

#include "config/password_file.h"
#include "engine/delivery_policy.h"

namespace ringmail {

TlsPolicy relay_tls_policy(const Config& config) {
  TlsPolicy policy;
  policy.level = effective_tls_level(config.relay.tls, config.relay.implicit_tls);
  policy.implicit_tls = config.relay.implicit_tls;
  policy.ca_file = config.tls.ca_file;
  policy.ca_dir = config.tls.ca_dir;
  policy.min_version = config.tls.min_version;
  policy.max_version = config.tls.max_version;
  if (!config.tls.ciphers.empty()) policy.ciphers = config.tls.ciphers;
  policy.client_cert = config.tls.client_cert;
  policy.client_key = config.tls.client_key;
  policy.session_resumption = config.tls.session_resumption;
  // secure checks the configured relay name; for the relay that is also
  // the host connected to.
  policy.next_hop_domain = config.relay.host;
  // may and encrypt do not check certificates: a machine without the
  // system store (no ca-certificates package) can still use them with the
  // default settings; the verdicts logged then say "unknown issuer".
  const bool checks = tls_level_enforces_certificate(policy.level);
  if (!checks && policy.ca_file.empty() && policy.ca_dir == kTlsSystemCaDir &&
      ::access(policy.ca_dir.c_str(), R_OK | X_OK) != 0) {
    policy.ca_dir.clear();
  }
  return policy;
}

bool build_relay_destination(const Config& config, const RelayResolver& resolver, Destination& out,
                             std::string& error) {
  // The host as configured, brackets removed (RelayTarget's spelling; the
  // resolver fills its own copy only in start()).
  std::string_view host = config.relay.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  out.name = std::string(host);
  out.resolver = &resolver;
  out.tls_policy = relay_tls_policy(config);
  out.tls_level = out.tls_policy.level;
  out.implicit_tls = config.relay.implicit_tls;
  out.tls_context.reset();
  out.credentials = SmtpCredentials{};
  if (!config.relay.username.empty()) {
    std::string password;
    if (!read_password_file(config.relay.password_file, password, error)) return false;
    const bool ok = make_smtp_credentials(config.relay.username, password, config.relay.allow_plaintext_auth,
                                          out.credentials, error);
    std::fill(password.begin(), password.end(), '\0');
    if (!ok) {
      error = "relay credentials cannot be used: " + error;
      return false;
    }
  }
  if (out.tls_level == TlsLevel::kNone) return true;
  std::string why;
  out.tls_context = TlsClientContext::create(out.tls_policy, why);
  if (out.tls_context == nullptr) {
    error = "relay.tls = \"" + std::string(tls_level_name(config.relay.tls)) +
            "\" needs a TLS context, which could not be built: " + why;
    return false;
  }
  return true;
}

DestinationState::DestinationState(const Destination& destination) : destination_(&destination) {
  if (destination.uses_tls() && destination.tls_policy.session_resumption) {
    tickets_ = std::make_unique<TlsTicketCache>(destination.tls_policy.session_cache_size);
  }
}

void DestinationState::note_tls_broken(uint64_t now_ns) {
  tls_broken_until_ns_ = now_ns + static_cast<uint64_t>(kTlsBrokenRememberS) * 1'000'000'000ull;
}

}  // namespace ringmail
