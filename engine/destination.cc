// engine/destination.cc — see destination.h. Start-up only, except
// DestinationState's small accessors, which run on its worker.
#include "engine/destination.h"

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
  return policy;
}

bool build_relay_destination(const Config& config, const RelayResolver& resolver, Destination& out,
                             std::string& error) {
  out.name = resolver.target().host;
  out.resolver = &resolver;
  out.tls_policy = relay_tls_policy(config);
  out.tls_level = out.tls_policy.level;
  out.implicit_tls = config.relay.implicit_tls;
  out.tls_context.reset();
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
