// engine/engine.h — `ringmail run`: opens the spool, resolves the relay,
// starts one pinned worker per core, runs the intake on the calling thread,
// and stops everything in order (SIGTERM/SIGINT: in-flight deliveries end,
// the rest stays queued).
#pragma once

#include <cstdint>
#include <string>

#include "config/config.h"
#include "engine/intake.h"

namespace ringmail {

struct EngineResult {
  IntakeTotals totals;
  double seconds = 0;    // wall time of the run
  uint32_t threads = 0;  // workers started
  uint64_t deferred_left = 0;
  uint64_t active_left = 0;  // messages still in active/ at the end (recovered at the next start)
};

// run_engine delivers until a signal (daemon) or until one pass over the
// queue is done (|drain|). False with |error| when it cannot start
// (spool, relay name, io_uring) or a worker failed.
bool run_engine(const Config& config, bool drain, EngineResult& result, std::string& error);

}  // namespace ringmail
