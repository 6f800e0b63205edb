// engine/relay_generation.h — what `SIGHUP` can change while the engine
// runs: one generation of the relay (its config, resolver, Destination with
// TLS context and credentials, and each worker's connection limit), and the
// board through which the engine hands a new generation to the workers.
//
// Who uses it: engine/engine.cc builds generation 1 at start-up and a new
// one on every successful reload, on its own thread (file reads, DNS: never
// on a worker). Each Worker holds a shared_ptr to the generation its
// connections use; when the board's number moves, it stops giving its
// connections new messages, lets them finish what they carry and QUIT, then
// switches (engine/worker.cc check_reload). An old generation, and its
// SSL_CTX, is freed when the last worker lets go of it. Design:
// docs/reload.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/destination.h"
#include "engine/relay_resolver.h"

namespace ringmail {

struct RelayGeneration {
  explicit RelayGeneration(const Config& loaded) : config(loaded), resolver(config.relay) {}
  RelayGeneration(const RelayGeneration&) = delete;
  RelayGeneration& operator=(const RelayGeneration&) = delete;

  Config config;           // the file as loaded (workers read smtp timeouts and [relay]/[tls] from it)
  RelayResolver resolver;  // reads config.relay
  Destination destination;
  uint64_t number = 0;                       // 1 at start-up, +1 per reload
  std::vector<uint32_t> worker_connections;  // connections each worker may open
};

// connection_shares splits |max_connections| over |workers| (the first ones
// get the remainder), each at least 1 and at most |allocated|[i] (the pool a
// worker was built with).
std::vector<uint32_t> connection_shares(uint32_t max_connections, const std::vector<uint32_t>& allocated);

// build_relay_generation resolves the relay of |config| and builds its
// Destination (TLS context, credentials). Blocking: never on a worker.
// False with a sentence in |error|.
bool build_relay_generation(const Config& config, uint64_t number, const std::vector<uint32_t>& allocated,
                            std::shared_ptr<const RelayGeneration>& out, std::string& error);

// ReloadBoard holds the current generation. Workers poll number() (one
// atomic load per loop pass) and take current() (a lock, rarely) when it
// moved.
class ReloadBoard {
 public:
  explicit ReloadBoard(std::shared_ptr<const RelayGeneration> first) : current_(std::move(first)) {
    number_.store(current_->number, std::memory_order_release);
  }
  uint64_t number() const { return number_.load(std::memory_order_acquire); }
  std::shared_ptr<const RelayGeneration> current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
  }
  void publish(std::shared_ptr<const RelayGeneration> next) {
    const uint64_t number = next->number;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = std::move(next);
    }
    number_.store(number, std::memory_order_release);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const RelayGeneration> current_;
  std::atomic<uint64_t> number_{0};
};

// restart_keys_changed names the parts of |running| and |loaded| that
// differ but take effect only at a restart (everything except [relay],
// [tls] and smtp.{connect,reply,data}_timeout_ms and smtp.chunking).
std::vector<std::string> restart_keys_changed(const Config& running, const Config& loaded);

}  // namespace ringmail
