// engine/message_slot.h — one message in flight on a worker: its file
// buffers, parsed envelope, meta record and per-recipient state for the
// current attempt. Slots are allocated once when the worker starts (a fixed
// pool); a message borrows one from load to its final spool transition.
//
// Owned by one worker thread; never shared. Views in |envelope| point into
// |head|, views in |meta| into |meta_text| or |reply_arena|: none of these
// buffers move while the slot is in use.
#pragma once

#include <linux/time_types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/uring.h"
#include "engine/work_item.h"
#include "queue/envelope.h"
#include "queue/message_meta.h"

namespace ringmail {

class Worker;
class SmtpConnection;
class SmtpClient;

// RcptState is a recipient's state in the current attempt.
enum class RcptState : uint8_t {
  kSkip,      // done or failed in an earlier attempt (listed in the meta file)
  kPending,   // not yet answered
  kAccepted,  // RCPT got 2xx; waiting for the end-of-data reply
  kDone,      // end of data got 2xx
  kFailed,    // a 5xx for it (RCPT, MAIL, DATA or end of data)
  kDeferred,  // a 4xx or a connection failure
};

// SessionFacts: what the delivery log says about the connection that
// carried a message's transaction (engine/attempt_log.h fills it).
struct SessionFacts {
  uint64_t started_ns = 0;  // CLOCK_MONOTONIC when the transaction began; 0: no connection carried it
  uint64_t ended_ns = 0;
  char address[64] = {0};             // "ip:port" or "[ipv6]:port" connected to
  const char* tls_version = nullptr;  // static texts (BoringSSL, TlsVerdict::summary); null: clear text
  const char* tls_cipher = nullptr;
  const char* tls_verdict = nullptr;
  bool tls_verified = false;
  bool auth = false;
};

class MessageSlot {
 public:
  static constexpr size_t kHeadBytes = kMaxHeadBytes;  // first read of the file
  static constexpr size_t kStreamBytes = 64 * 1024;    // later body chunks
  static constexpr size_t kMetaBytes = kMaxMetaBytes;
  static constexpr size_t kReplyArenaBytes = 16 * 1024;

  MessageSlot(Worker* worker, uint32_t index);

  // Identity and life cycle.
  Worker* worker;
  uint32_t index;  // also selects fixed-file slots 2*index (message) and 2*index+1 (meta)
  MessageRef ref{};

  // File contents. |head| holds the first head_len bytes of the file; when
  // the file is larger, |stream| holds [stream_offset, stream_offset+stream_len).
  std::unique_ptr<char[]> head;
  uint32_t head_len = 0;
  bool whole_file = false;  // head holds the entire file
  uint64_t file_end = 0;    // known end of file (valid once whole_file or eof_seen)
  bool eof_seen = false;
  std::unique_ptr<char[]> stream;
  uint64_t stream_offset = 0;
  uint32_t stream_len = 0;
  bool stream_read_pending = false;
  bool finish_after_read = false;  // finish() waits for the pending read
  std::unique_ptr<char[]> meta_text;
  uint32_t meta_len = 0;

  // Parsed state.
  Envelope envelope;
  MessageMeta meta;
  std::array<RcptState, kMaxRecipients> rcpt_state{};
  std::array<uint16_t, kMaxRecipients> rcpt_reply_offset{};  // into reply_arena
  std::array<uint16_t, kMaxRecipients> rcpt_reply_length{};
  std::unique_ptr<char[]> reply_arena;
  uint32_t reply_arena_used = 0;
  uint32_t last_kept_offset = 0, last_kept_length = 0;  // the reply kept last (shared by the next equal one)
  char message_reply[512] = {0};                        // why the message as a whole was deferred/failed
  uint32_t attempt_pending = 0;                         // recipients still kPending or kAccepted

  // The connection carrying it: the worker-side adapter (set and cleared by
  // it; body reads report there) and the protocol machine (set by
  // SmtpClient::take_message, cleared when it hands the slot back). Below,
  // the transaction progress the machine keeps on the message. A slot made
  // with a null |worker| (unit tests, the fuzz target) serves the machine.
  SmtpConnection* connection = nullptr;
  SmtpClient* client = nullptr;
  bool mail_rejected = false;  // MAIL got a non-2xx: ignore the RCPT/DATA replies that follow
  bool used_bdat = false;      // sent with BDAT LAST rather than DATA
  uint32_t accepted = 0;       // RCPTs accepted in this transaction
  uint32_t expect_refs = 0;    // replies still expected for it on the connection

  // For the delivery log and the intake's counts.
  SessionFacts session{};
  RecipientCounts counts{};
  bool partial = false;  // failed, but delivered to some recipients

  // Why the engine could not parse it (it goes to failed/ untouched).
  bool unparsable = false;
  char reason_text[640] = {0};
  // The final transition: a chain of spool operations (FinishStep), each
  // reporting its own result, so an error names the step that failed and
  // its own errno (linked steps after it only say "canceled").
  enum class FinishOp : uint8_t {
    kUnlinkFile,  // unlink <file_dir>/ID (delivered)
    kUnlinkMeta,  // unlink meta/ID (delivered)
    kOpenTmp,     // the record: meta/.ID.tmp ...
    kWriteTmp,
    kSyncTmp,
    kCloseTmp,
    kRenameMeta,  // meta/.ID.tmp → meta/ID
    kRenameFile,  // <file_dir>/ID → deferred/ or failed/ID
    kHoldFile,    // <file_dir>/ID → hold/ID (the record could not be written)
    kRemoveTmp,   // clean-up of meta/.ID.tmp after a failed record
    // The bounce (DSN), written before the record (engine/bounce_writer.cc):
    // incoming/tmp/DSNID open → write → fsync → close → rename into
    // incoming/new → fsync incoming/new.
    kOpenBounce,
    kWriteBounce,
    kSyncBounce,
    kCloseBounce,
    kRenameBounce,
    kSyncBounceDir,
  };
  struct FinishStep : Completion {
    MessageSlot* slot = nullptr;
    FinishOp op = FinishOp::kUnlinkFile;
    int res = 0;
    int inject_res = 0;  // test hook (RINGMAIL_FAULT_UNLINK): the result to report instead
  };
  static constexpr uint32_t kMaxFinishSteps = 14;
  std::array<FinishStep, kMaxFinishSteps> finish_steps{};
  uint32_t finish_step_count = 0;
  uint32_t finish_steps_pending = 0;
  char tmp_name[kMessageIdMax + 8] = {0};
  OutcomeKind finish_kind = OutcomeKind::kDelivered;
  int64_t finish_next_unix = 0;
  uint32_t meta_bytes = 0;  // the formatted record, in |stream|, once finish() built it
  bool in_hold = false;     // the file is in hold/ (else active/)
  bool held = false;        // the outcome could not be recorded: retrying the record
  bool holding = false;     // the chain in flight is the move to hold/
  uint32_t record_retries = 0;
  __kernel_timespec retry_ts{};
  // The bounce of this attempt, composed by finish() when recipients failed
  // for good or a delay warning is due; empty (no allocation) otherwise.
  // Written into incoming/ before the record, once (|bounce_written|).
  std::string bounce_text;
  char bounce_id[kMessageIdMax] = {0};
  bool bounce_written = false;
  bool bounce_kill = false;  // test hook RINGMAIL_FAULT_KILL_AFTER_BOUNCE (engine/bounce_writer.cc)
  static void on_finish_step(Completion* step, int res, uint32_t flags);

  // I/O results of the load chains.
  int open_result = 0;
  int meta_open_result = 0;
  int meta_read_result = 0;
  __kernel_timespec read_ts{};  // the head read's linked timeout
  bool head_read_done = false;
  bool meta_read_done = false;

  void on_meta_open(int res, uint32_t flags);
  void on_meta_read(int res, uint32_t flags);
  void on_open(int res, uint32_t flags);
  void on_head_read(int res, uint32_t flags);
  void on_stream_read(int res, uint32_t flags);
  void on_retry_timer(int res, uint32_t flags);

  MemberCompletion<MessageSlot, &MessageSlot::on_meta_open> meta_open_done{this};
  MemberCompletion<MessageSlot, &MessageSlot::on_meta_read> meta_read_done_c{this};
  MemberCompletion<MessageSlot, &MessageSlot::on_open> open_done{this};
  MemberCompletion<MessageSlot, &MessageSlot::on_head_read> head_read_c{this};
  MemberCompletion<MessageSlot, &MessageSlot::on_stream_read> stream_read_c{this};
  MemberCompletion<MessageSlot, &MessageSlot::on_retry_timer> retry_timer_c{this};

  // Per-attempt bookkeeping.
  void reset();
  // keep_reply copies |reply| for recipient |i| into the arena (truncated
  // when the arena is full) so it outlives the receive buffer.
  void keep_rcpt_reply(uint32_t i, std::string_view reply);
  std::string_view rcpt_reply(uint32_t i) const;
  // resolve moves recipient |i| from pending/accepted to |state|.
  void resolve(uint32_t i, RcptState state, std::string_view reply);
  // resolve_all_unresolved applies |state| to every pending/accepted recipient.
  void resolve_all_unresolved(RcptState state, std::string_view reply);
  void set_message_reply(std::string_view reply);
  const char* id() const { return ref.id; }
};

}  // namespace ringmail
