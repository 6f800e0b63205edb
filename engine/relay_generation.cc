// engine/relay_generation.cc — see relay_generation.h.
#include "engine/relay_generation.h"

#include <algorithm>

namespace ringmail {

std::vector<uint32_t> connection_shares(uint32_t max_connections, const std::vector<uint32_t>& allocated) {
  const uint32_t workers = static_cast<uint32_t>(allocated.size());
  std::vector<uint32_t> shares(workers);
  for (uint32_t i = 0; i < workers; ++i) {
    const uint32_t share = max_connections / workers + (i < max_connections % workers);
    shares[i] = std::clamp<uint32_t>(share, 1, allocated[i]);
  }
  return shares;
}

bool build_relay_generation(const Config& config, uint64_t number, const std::vector<uint32_t>& allocated,
                            std::shared_ptr<const RelayGeneration>& out, std::string& error) {
  auto generation = std::make_shared<RelayGeneration>(config);
  generation->number = number;
  generation->worker_connections = connection_shares(config.relay.max_connections, allocated);
  if (!build_relay_destination(generation->config, generation->resolver, generation->destination, error)) {
    return false;
  }
  // DNS down does not refuse the generation: the resolver keeps trying and
  // messages are deferred meanwhile, as at start-up.
  generation->resolver.start();
  out = std::move(generation);
  return true;
}

std::vector<std::string> restart_keys_changed(const Config& running, const Config& loaded) {
  std::vector<std::string> changed;
  if (running.spool != loaded.spool) changed.push_back("spool");
  if (!(running.engine == loaded.engine)) changed.push_back("[engine]");
  if (running.smtp.helo_name != loaded.smtp.helo_name) changed.push_back("smtp.helo_name");
  if (running.smtp.default_sender != loaded.smtp.default_sender) changed.push_back("smtp.default_sender");
  if (!(running.retry == loaded.retry)) changed.push_back("[retry]");
  if (!(running.bounce == loaded.bounce)) changed.push_back("[bounce]");
  if (!(running.log == loaded.log)) changed.push_back("[log]");
  if (!(running.metrics == loaded.metrics)) changed.push_back("[metrics]");
  if (running.listen != loaded.listen) changed.push_back("[[listen]]");
  return changed;
}

}  // namespace ringmail
