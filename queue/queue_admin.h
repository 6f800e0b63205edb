// queue/queue_admin.h — what `ringmail queue --flush/--requeue/--delete/
// --show` do to the spool (Postfix: postqueue -f, postsuper -r/-d, postcat
// -q): find a message, rewrite its meta record, move or remove it, find the
// running engine.
//
// Callers: tools/cmd_queue.cc (formats the results) and unit tests. It runs
// beside a live engine, so it only ever touches what the engine does not
// hold: a deferred message is parked in hold/ (which the engine never
// claims on its own) while its record is rewritten; a message in
// incoming/new or active/ is refused while an engine runs. Blocking I/O;
// never on a worker thread. It never opens what is not a regular file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/message_meta.h"
#include "queue/spool_layout.h"

namespace ringmail {

// EngineState is what the spool lock says (queue/spool_lock.h).
enum class EngineState {
  kNotRunning,  // the lock could be taken (and was released at once), or there is no lock file
  kRunning,     // another process holds the lock; |pid| is the PID it wrote (0 = not written yet)
  kUnknown,     // the lock file cannot be opened or locked; |error| says why
};

// probe_engine tells whether an engine runs on the spool |dirs|: it opens
// ringmail.lock without creating it and tries flock(LOCK_EX|LOCK_NB); if
// that succeeds no engine runs and the lock is released at once (an engine
// starting in that instant fails to lock and exits 71 — a window of a few
// microseconds). kRunning sets |pid|; kUnknown sets |error| to a sentence.
EngineState probe_engine(const SpoolDirs& dirs, long& pid, std::string& error);

// requeue_deferred_meta makes a deferred message due now: next_attempt 0,
// everything else (marks, attempts, first attempt) kept.
void requeue_deferred_meta(MessageMeta& meta);

// requeue_failed_meta gives a failed message a fresh start: the `failed`
// recipient marks are removed (those recipients are tried again), `done`
// marks stay (they are never sent it again), attempts, first_attempt and
// next_attempt become 0 (max_age counts afresh from the next attempt) and
// the reason is cleared. The last reply is kept for the operator.
void requeue_failed_meta(MessageMeta& meta);

// find_message sets |state| to the state directory that holds |id|
// (checked with fstatat, not followed). False when no state holds it.
bool find_message(const SpoolDirs& dirs, const std::string& id, SpoolState& state);

// list_messages appends the valid message ids in |state| to |ids|, sorted.
// False with |error| when the directory cannot be read. Memory grows with
// the number of messages listed (64 bytes or so each).
bool list_messages(const SpoolDirs& dirs, SpoolState state, std::vector<std::string>& ids,
                   std::string& error);

// AdminOutcome is how one --requeue or --delete of one message ended.
enum class AdminOutcome {
  kDone,
  kNotFound,  // no state holds it (or it moved away meanwhile)
  kInFlight,  // in incoming/new or active/ while an engine runs: refused
  kRefused,   // the operator must decide (a held message without a record, a malformed record, ...)
  kIoError,   // a rename, unlink or meta write failed
};

// AdminResult is one message's outcome. |text| is one line for stdout
// (kDone: "requeued ID (failed → deferred, 1 recipient pending)") or a
// sentence with the cause and the next step for stderr.
struct AdminResult {
  std::string id;
  SpoolState from = SpoolState::kDeferred;
  AdminOutcome outcome = AdminOutcome::kDone;
  int64_t pending = -1;  // recipients still to send to; -1 = unknown
  std::string text;
};

// requeue_message makes |id| (in |state|) due now: deferred → next attempt
// 0; hold → deferred (its meta kept, next attempt 0; refused without a
// meta record: that would resend to every recipient); failed → deferred
// with requeue_failed_meta. incoming/ and active/ are refused as in flight.
// |default_sender| is only used to count pending recipients.
AdminResult requeue_message(const SpoolDirs& dirs, const std::string& id, SpoolState state,
                            std::string_view default_sender);

// delete_message removes |id| (in |state|) and then meta/ID. Refuses
// active/ while an engine runs, and incoming/new too; with no engine both
// are allowed.
AdminResult delete_message(const SpoolDirs& dirs, const std::string& id, SpoolState state,
                           bool engine_running, std::string_view default_sender);

// RecipientDetail is one envelope recipient and its mark in meta/ID.
struct RecipientDetail {
  enum class State { kPending, kDone, kFailed };
  std::string address;
  State state = State::kPending;
  std::string reply;  // the refusal of a failed recipient
};

// MessageDetails is everything `queue --show` prints. Texts are raw bytes
// from the file and servers: the printer escapes them.
struct MessageDetails {
  std::string id;
  SpoolState state = SpoolState::kIncoming;
  bool has_meta = false;
  std::string sender;  // "" = the null sender
  std::vector<RecipientDetail> recipients;
  uint32_t attempts = 0;
  int64_t first_attempt = 0;
  int64_t next_attempt = 0;
  std::string last_reply;
  std::string reason;
  int64_t delay_warned = 0;  // unix seconds a delay warning (DSN) went to the sender; 0 = none
  std::string headers;       // the header section (preamble excluded), as in the file
  bool headers_cut = false;  // the header section goes on past the first kMaxHeadBytes
  std::string problem;       // why part of this is missing ("" = none): a malformed file or record
};

// load_message_details fills |out| for |id| in |state|. False with |error|
// only when the message cannot be read at all (gone, not a regular file, an
// I/O error); a malformed envelope or record is reported in out.problem.
bool load_message_details(const SpoolDirs& dirs, const std::string& id, SpoolState state,
                          std::string_view default_sender, MessageDetails& out, std::string& error);

}  // namespace ringmail
