// tools/cmd_run.cc — `ringmail run [--drain]`: the delivery daemon, or one
// pass over the queue. Exit: 0 done (drain: queue empty), 75 (EX_TEMPFAIL)
// when a drain leaves messages deferred, 71 when the engine cannot start.
#include <cstdio>

#include "engine/engine.h"
#include "tools/commands.h"

namespace ringmail {

int cmd_run(const Config& config, const RunOptions& options) {
  EngineResult result;
  std::string error;
  if (!run_engine(config, options.drain, result, error)) {
    std::fprintf(stderr, "ringmail: %s\n", error.c_str());
    return 71;
  }
  if (options.drain && result.deferred_left > 0) return 75;
  return 0;
}

}  // namespace ringmail
