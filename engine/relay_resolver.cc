// engine/relay_resolver.cc — see relay_resolver.h.
#include "engine/relay_resolver.h"

#include <fmt/format.h>

#include <chrono>

namespace ringmail {

RelayResolver::RelayResolver(const RelayConfig& config) : config_(config) {}

RelayResolver::~RelayResolver() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RelayResolver::start(int retry_s) {
  std::string error;
  if (resolve_relay(config_, target_, error)) {
    ready_.store(true, std::memory_order_release);
    return;
  }
  // Host and port stay known (resolve_relay sets them before resolving).
  unresolved_reason_ = fmt::format(
      "{}; messages are deferred until it resolves (ringmail retries every {} s)", error, retry_s);
  fmt::print(stderr, "ringmail: {}\n", unresolved_reason_);
  thread_ = std::thread([this, retry_s] { retry_loop(retry_s); });
}

void RelayResolver::retry_loop(int retry_s) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (wake_.wait_for(lock, std::chrono::seconds(retry_s), [this] { return stopping_; })) return;
    }
    RelayTarget fresh;
    std::string error;
    if (!resolve_relay(config_, fresh, error)) continue;
    // Written once, before ready_ is published; workers read it only after.
    target_.addresses = std::move(fresh.addresses);
    ready_.store(true, std::memory_order_release);
    fmt::print(stderr, "ringmail: relay {} resolved ({} address(es)); delivering\n", target_.host,
               target_.addresses.size());
    return;
  }
}

}  // namespace ringmail
