// tools/cmd_queue.cc — `ringmail queue [--json]`: what is in the spool and
// why deferred messages wait (queue/spool_report.h does the work).
//
// Read-only: it never creates the spool or any of its directories, moves or
// deletes a message, so it is safe beside a running engine; directories a
// partial spool lacks count as empty. It counts what the engine counts
// (queue/spool_entry.h), held messages (hold/) included. Output goes to stdout, errors to stderr.
#include <time.h>

#include <cstdio>
#include <string>
#include <vector>

#include "queue/spool_layout.h"
#include "queue/spool_report.h"
#include "tools/commands.h"

namespace ringmail {
namespace {

constexpr int kQueueExitOk = 0;
constexpr int kQueueExitIo = 74;  // EX_IOERR: the spool or stdout cannot be used

}  // namespace

int cmd_queue(const Config& config, const QueueOptions& options) {
  SpoolDirs dirs;
  std::vector<std::string> missing;  // a producer's partial spool, or one without hold/
  std::string error;
  if (!open_spool_for_reading(config.spool, dirs, missing, error)) {
    std::fprintf(stderr, "ringmail queue: %s\n", error.c_str());
    return kQueueExitIo;
  }
  SpoolReport report;
  if (!collect_spool_report(dirs, config.smtp.default_sender, kReportListLimit, report, error, missing)) {
    std::fprintf(stderr, "ringmail queue: %s\n", error.c_str());
    return kQueueExitIo;
  }
  const int64_t now_unix = static_cast<int64_t>(::time(nullptr));
  std::string out;
  if (options.json) {
    format_spool_report_json(report, now_unix, out);
  } else {
    format_spool_report_text(report, now_unix, out);
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    std::fprintf(stderr, "ringmail queue: cannot write the report to standard output\n");
    return kQueueExitIo;
  }
  return kQueueExitOk;
}

}  // namespace ringmail
