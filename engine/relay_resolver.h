// engine/relay_resolver.h — resolves the relay's name at start-up and, when
// that fails (DNS down at boot), keeps trying in the background instead of
// refusing to start: messages meanwhile are deferred with the reason.
//
// Who uses it: engine/engine.cc owns one; workers read it. The address list
// is written once, before ready() turns true (release/acquire), and never
// changes after, so workers read it without a lock. getaddrinfo blocks: it
// runs on the engine's thread at start and then on the resolver's own
// thread, never on a worker. Re-resolution by TTL belongs to routing by MX.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "engine/relay_target.h"

namespace ringmail {

class RelayResolver {
 public:
  explicit RelayResolver(const RelayConfig& config);
  ~RelayResolver();  // stops the retry thread
  RelayResolver(const RelayResolver&) = delete;
  RelayResolver& operator=(const RelayResolver&) = delete;

  // start resolves once. On failure it says so on stderr and retries every
  // |retry_s| seconds on a thread of its own until it succeeds or stops.
  void start(int retry_s = 30);

  // ready: the address list is known (acquire: target().addresses is then
  // safe to read from any thread).
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // target: host and port are always valid; addresses only once ready().
  const RelayTarget& target() const { return target_; }
  // unresolved_reason is why messages are deferred while !ready(); it is
  // fixed by start() and never changes after.
  const std::string& unresolved_reason() const { return unresolved_reason_; }

 private:
  void retry_loop(int retry_s);

  const RelayConfig& config_;
  RelayTarget target_;
  std::string unresolved_reason_;
  std::atomic<bool> ready_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ringmail
