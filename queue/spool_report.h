// queue/spool_report.h — a read-only summary of the spool for `ringmail
// queue`: counts per state, the oldest message, the deferred, failed and
// held messages with their meta records, and what the engine will refuse
// or never take. It decides what a message is as the engine does
// (queue/spool_entry.h), so the two never disagree.
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

// FailedEntry is a message in failed/ (or hold/): its reason comes from
// meta/ID; for an entry that is not a message file (the engine moved a
// symbolic link or FIFO there) without a recorded reason, the refusal.
struct FailedEntry {
  std::string id;
  std::string reason;
  std::string problem;
};

// RefusedEntry is an entry in incoming/new under a valid message name that
// the engine will not read but move to failed/ (spool_entry_refusal).
struct RefusedEntry {
  std::string id;
  std::string reason;  // "symbolic link refused", ...
};

// IgnoredEntry is a name in a state directory that is not a valid message
// name (is_valid_message_id): the engine never takes it, nothing moves it.
struct IgnoredEntry {
  std::string path;    // relative to the spool root, "incoming/new/bad name"
  std::string reason;  // "not a valid message name (64 characters; at most 63)"
};

// kHoldHint is what `ringmail queue` says about every message in hold/.
inline constexpr std::string_view kHoldHint =
    "held: outcome could not be recorded; release with `mv hold/ID deferred/`";

struct SpoolReport {
  std::string root;
  // Spool directories that do not exist yet (a spool a producer made before
  // `ringmail run` did, or one from a version without hold/); they count as
  // empty. Paths relative to the root.
  std::vector<std::string> missing_dirs;
  // Messages per state; index with static_cast<size_t>(SpoolState). Entries
  // in incoming/new that will be refused are not in counts[kIncoming].
  uint64_t counts[kSpoolStateCount] = {};
  uint64_t incoming_tmp = 0;  // files in incoming/tmp (in progress, or left by a crashed producer)
  uint64_t ignored = 0;       // names in state directories that are not valid message names
  uint64_t refused = 0;       // entries in incoming/new the engine will refuse (move to failed/)
  uint64_t bounces = 0;       // of the messages counted, bounces (DSNs) the engine queued (queue/dsn_id.h)
  bool has_oldest = false;    // the oldest message by mtime, across the states
  std::string oldest_id;
  SpoolState oldest_state = SpoolState::kIncoming;
  int64_t oldest_mtime = 0;  // unix seconds
  // The |list_limit| deferred / failed / held / refused messages with the
  // smallest ids (ids made by make_message_id sort by creation time: the
  // oldest first), and the first |list_limit| ignored names found.
  std::vector<DeferredEntry> deferred;
  uint64_t deferred_more = 0;
  std::vector<FailedEntry> failed;
  uint64_t failed_more = 0;
  std::vector<FailedEntry> hold;
  uint64_t hold_more = 0;
  std::vector<RefusedEntry> refused_list;
  uint64_t refused_more = 0;
  std::vector<IgnoredEntry> ignored_list;
  uint64_t ignored_more = 0;
};

// collect_spool_report scans |dirs| and fills |out|. A directory whose fd
// in |dirs| is -1 (see open_spool_for_reading) counts as empty; pass its
// name in |missing_dirs| to have the report say so. |default_sender| is
// passed to parse_envelope when counting pending recipients. An entry under
// a valid message name counts as a message of its state whatever its file
// type, as the engine sees it (queue/spool_entry.h); in incoming/new the
// ones the engine will refuse are counted apart. Returns false with an
// error sentence only when a directory cannot be read at all.
bool collect_spool_report(const SpoolDirs& dirs, std::string_view default_sender, size_t list_limit,
                          SpoolReport& out, std::string& error,
                          const std::vector<std::string>& missing_dirs = {});

// format_spool_report_text renders |report| as the terminal table; times are
// shown in UTC and relative to |now_unix| ("in 4m", "2h 5m ago"). Columns
// are as wide as their widest entry. Bytes that came from servers or
// producers are shown with control characters as '?'.
void format_spool_report_text(const SpoolReport& report, int64_t now_unix, std::string& out);

// format_spool_report_json renders |report| as one JSON object and a newline
// (keys: spool, counts{incoming,active,deferred,failed,incoming_tmp,ignored,
// hold,will_be_refused}, bounces, oldest{id,state,mtime,age_s} or null,
// deferred[{id,pending,attempts,next_attempt,next_attempt_in_s,last_reply,
// problem}], deferred_more, failed[{id,reason,problem}], failed_more,
// hold[{id,reason,problem}], hold_more, hold_hint, will_be_refused[{id,
// reason}], will_be_refused_more, ignored[{path,reason}], ignored_more,
// missing_dirs[]). Keys are only ever added, never renamed. Always valid
// UTF-8 JSON.
void format_spool_report_json(const SpoolReport& report, int64_t now_unix, std::string& out);

// append_json_string appends |s| to |out| as a JSON string; bytes that are
// not valid UTF-8 become U+FFFD, control characters \u00XX. For the other
// JSON output of `ringmail queue` (--show, --requeue, --delete).
void append_json_string(std::string_view s, std::string& out);

// format_utc_time renders unix seconds as "2024-04-05 17:34:38 UTC".
std::string format_utc_time(int64_t unix_s);

// format_duration renders |seconds| (>= 0) briefly: "45s", "4m", "2h 5m",
// "3d 4h".
std::string format_duration(int64_t seconds);

}  // namespace ringmail
