// tools/cmd_run.cc — `ringmail run [--drain]`: the delivery daemon, or one
// pass over the queue. Exit:
//   0   done (drain: nothing left to attempt)
//   71  the engine cannot start (another engine holds the spool, config,
//       spool, io_uring)
//   74  an outcome could not be recorded: messages are held (hold/), see
//       docs/spool.md; a drain that used a full disk ends here
//   75  (drain) messages are left deferred, or unreadable in active/, or
//       still queued because claims were paused
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
  if (result.totals.held_now > 0) return 74;
  if (options.drain && (result.deferred_left > 0 || result.active_left > 0)) return 75;
  return 0;
}

}  // namespace ringmail
