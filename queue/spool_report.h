// queue/spool_report.h — a read-only summary of the spool for `ringmail
// queue`: counts per state, the oldest message, and the deferred and failed
// messages with their meta records.
//
// Callers: tools/cmd_queue.cc (and tests). It may run beside a live engine:
// files that vanish or move while it scans are skipped, never an error. It
// streams readdir, so memory stays bounded (by |list_limit| entries) on a
// spool of millions of files. Blocking I/O: never call it on a worker
// thread. It never creates, moves or deletes anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/spool_layout.h"

namespace ringmail {

// kReportListLimit is how many deferred (and failed) messages `ringmail
// queue` lists; the rest are counted ("... and N more").
constexpr size_t kReportListLimit = 100;

struct DeferredEntry {
  std::string id;
  int64_t pending = -1;  // recipients not yet done or failed; -1 = unknown (unreadable file)
  uint32_t attempts = 0;
  int64_t next_attempt = 0;  // unix seconds; 0 = unknown / as soon as possible
  std::string last_reply;
  std::string problem;  // why the entry is incomplete ("" = none), e.g. a malformed meta file
};

struct FailedEntry {
  std::string id;
  std::string reason;
  std::string problem;
};

struct SpoolReport {
  std::string root;
  // Messages per state; index with static_cast<size_t>(SpoolState).
  uint64_t counts[kSpoolStateCount] = {0, 0, 0, 0};
  uint64_t incoming_tmp = 0;  // files in incoming/tmp (in progress, or left by a crashed producer)
  uint64_t ignored = 0;       // entries in state directories that are not message files
  bool has_oldest = false;    // the oldest message by mtime, across the four states
  std::string oldest_id;
  SpoolState oldest_state = SpoolState::kIncoming;
  int64_t oldest_mtime = 0;  // unix seconds
  // The |list_limit| deferred / failed messages with the smallest ids (ids
  // made by make_message_id sort by creation time: the oldest first).
  std::vector<DeferredEntry> deferred;
  uint64_t deferred_more = 0;
  std::vector<FailedEntry> failed;
  uint64_t failed_more = 0;
};

// collect_spool_report scans |dirs| and fills |out|. |default_sender| is
// passed to parse_envelope when counting pending recipients. Returns false
// with an error sentence only when a directory cannot be read at all.
bool collect_spool_report(const SpoolDirs& dirs, std::string_view default_sender, size_t list_limit,
                          SpoolReport& out, std::string& error);

// format_spool_report_text renders |report| as the terminal table; times are
// shown in UTC and relative to |now_unix| ("in 4m", "2h 5m ago"). Bytes that
// came from servers or producers are shown with control characters as '?'.
void format_spool_report_text(const SpoolReport& report, int64_t now_unix, std::string& out);

// format_spool_report_json renders |report| as one JSON object and a newline
// (keys: spool, counts{incoming,active,deferred,failed,incoming_tmp,ignored},
// oldest{id,state,mtime,age_s} or null, deferred[{id,pending,attempts,
// next_attempt,next_attempt_in_s,last_reply,problem}], deferred_more,
// failed[{id,reason,problem}], failed_more). Always valid UTF-8 JSON.
void format_spool_report_json(const SpoolReport& report, int64_t now_unix, std::string& out);

// format_duration renders |seconds| (>= 0) briefly: "45s", "4m", "2h 5m",
// "3d 4h".
std::string format_duration(int64_t seconds);

}  // namespace ringmail
