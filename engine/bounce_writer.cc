// engine/bounce_writer.cc — a worker's bounces (DSN, RFC 3464): which
// recipients to report after an attempt, and the io_uring steps that put
// the bounce into the spool as an ordinary message before the original's
// outcome is recorded.
//
//   incoming/tmp/DSNID: open → write → fsync → close → rename into
//   incoming/new → fsync incoming/new   ──linked──►   meta record, rename
//
// Called from engine/message_finish.cc only. The bounce is a rare path and
// allocates (the composed text lives in MessageSlot::bounce_text until the
// slot is reused); a delivered message never comes here. A failed step is a
// failure of the record like any other (the message is held and the whole
// chain, bounce included, is retried until it is written once), so a
// failure is never recorded without its bounce. A crash after the bounce
// and before the record sends the bounce again on the next attempt:
// at-least-once, as docs/bounces.md says.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/attempt_log.h"
#include "engine/dsn_composer.h"
#include "engine/worker.h"
#include "queue/dsn_id.h"

namespace ringmail {
namespace {

bool is_bounce_op(MessageSlot::FinishOp op) { return op >= MessageSlot::FinishOp::kOpenBounce; }

// FaultBudget is a test hook read once from the environment: the first N
// times take() is asked it says yes (shared by the worker threads).
//   RINGMAIL_FAULT_BOUNCE_WRITE=N  the bounce write fails after its
//                                  temporary file was created, as if the
//                                  disk were full;
//   RINGMAIL_FAULT_KILL_AFTER_BOUNCE=N  the process kills itself (SIGKILL)
//                                  once a bounce is in incoming/new and
//                                  before the original's record.
// Used by tests/e2e/bounce_test.sh only.
class FaultBudget {
 public:
  explicit FaultBudget(const char* name) {
    const char* text = std::getenv(name);
    budget_.store(text == nullptr ? 0 : std::strtoll(text, nullptr, 10), std::memory_order_relaxed);
  }
  bool take() {
    int64_t left = budget_.load(std::memory_order_relaxed);
    while (left > 0) {
      if (budget_.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }

 private:
  std::atomic<int64_t> budget_{0};
};

FaultBudget& bounce_write_fault() {
  static FaultBudget budget("RINGMAIL_FAULT_BOUNCE_WRITE");
  return budget;
}

FaultBudget& kill_after_bounce_fault() {
  static FaultBudget budget("RINGMAIL_FAULT_KILL_AFTER_BOUNCE");
  return budget;
}

// original_headers is the header section as it was sent: no preamble, and
// without the Bcc fields the engine stripped.
std::string original_headers(const MessageSlot* slot) {
  const Envelope& env = slot->envelope;
  const uint32_t end = std::min(env.header_end, slot->head_len);
  std::string out;
  uint32_t pos = env.body_offset;
  for (uint32_t i = 0; i < env.skip_count && pos < end; ++i) {
    const ByteRange& skip = env.skip[i];
    if (skip.begin > pos) out.append(slot->head.get() + pos, std::min(skip.begin, end) - pos);
    pos = std::max(pos, skip.end);
  }
  if (pos < end) out.append(slot->head.get() + pos, end - pos);
  return out;
}

}  // namespace

// plan_bounce decides whether this attempt's end needs a bounce and, if so,
// composes it into slot->bounce_text: recipients refused in this attempt
// (earlier ones were reported by earlier bounces), all unresolved ones when
// the message gave up at retry.max_age, or a one-time delay warning for the
// unresolved ones ([bounce] notify_delay, then marked in the meta record).
void Worker::plan_bounce(MessageSlot* slot, int64_t now_unix) {
  const BounceConfig& cfg = config_.bounce;
  if (!cfg.enabled || !slot->bounce_text.empty() || slot->bounce_written) return;
  const Envelope& env = slot->envelope;
  MessageMeta& meta = slot->meta;
  const bool gave_up = slot->finish_kind == OutcomeKind::kFailed;
  const bool warn = slot->finish_kind == OutcomeKind::kDeferred && cfg.notify_delay.count() > 0 &&
                    meta.delay_warned == 0 && meta.first_attempt > 0 &&
                    now_unix - meta.first_attempt >= cfg.notify_delay.count();
  const std::string_view fallback =
      slot->message_reply[0] != '\0' ? std::string_view(slot->message_reply) : meta.last_reply;
  std::vector<DsnRecipient> rcpts;
  uint32_t failed = 0;
  for (uint32_t i = 0; i < env.recipient_count; ++i) {
    const RcptState state = slot->rcpt_state[i];
    if (state == RcptState::kDone || state == RcptState::kSkip) continue;
    DsnRecipient rcpt;
    rcpt.address = env.recipients[i];
    rcpt.reply = slot->rcpt_reply(i).empty() ? fallback : slot->rcpt_reply(i);
    if (state == RcptState::kFailed) {
      rcpt.action = DsnAction::kFailed;
    } else if (gave_up) {
      rcpt.action = DsnAction::kFailed;
      rcpt.expired = true;
    } else if (warn) {
      rcpt.action = DsnAction::kDelayed;
    } else {
      continue;
    }
    failed += rcpt.action == DsnAction::kFailed ? 1 : 0;
    rcpts.push_back(rcpt);
  }
  if (rcpts.empty()) return;
  if (env.sender.empty()) {
    fmt::print(stderr,
               "ringmail: worker {}: {}: no bounce for {} recipient(s) ({}): the sender is <> (a bounce is "
               "never bounced)\n",
               id_, slot->id(), rcpts.size(), failed > 0 ? "failed" : "delayed");
    return;
  }
  if (warn) meta.delay_warned = now_unix;
  make_dsn_id(slot->bounce_id);
  DsnInput input;
  input.dsn_id = slot->bounce_id;
  input.original_id = slot->id();
  input.original_sender = env.sender;
  input.copy_to = cfg.sender_copy;
  input.reporting_mta = config_.smtp.helo_name;
  input.remote_mta = config_.relay.host;
  const std::string headers = original_headers(slot);
  input.original_headers = headers;
  input.arrival_unix = meta.first_attempt;
  input.now_unix = now_unix;
  input.retry_until_unix = meta.first_attempt + config_.retry.max_age.count();
  input.attempts = meta.attempts;
  input.recipients = std::move(rcpts);
  slot->bounce_text = compose_dsn(input);
}

bool Worker::bounce_pending(const MessageSlot* slot) const {
  return !slot->bounce_text.empty() && !slot->bounce_written;
}

// add_bounce_steps queues the linked steps that put the bounce into
// incoming/new; the last is linked to the step queued next (the record).
// The caller reserved room for the whole chain. The file uses the slot's
// meta fixed-file index (2i+1), which the record's open replaces after it.
void Worker::add_bounce_steps(MessageSlot* slot) {
  using Op = MessageSlot::FinishOp;
  const unsigned file = slot->index * 2 + 1;
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_openat_direct(sqe, spool_.incoming_tmp_fd, slot->bounce_id, O_WRONLY | O_CREAT | O_TRUNC,
                              0600, file);
  add_finish_step(slot, Op::kOpenBounce, sqe, true);
  sqe = ring_.sqe();
  // The fault hook writes to the message's own file, open read-only: the
  // write really fails (EBADF) and the chain behind it is cancelled.
  const bool fault = bounce_write_fault().take();
  io_uring_prep_write(sqe, static_cast<int>(fault ? slot->index * 2 : file), slot->bounce_text.data(),
                      static_cast<unsigned>(slot->bounce_text.size()), 0);
  sqe->flags |= IOSQE_FIXED_FILE;
  add_finish_step(slot, Op::kWriteBounce, sqe, true)->inject_res = fault ? -ENOSPC : 0;
  sqe = ring_.sqe();
  io_uring_prep_fsync(sqe, static_cast<int>(file), 0);
  sqe->flags |= IOSQE_FIXED_FILE;
  add_finish_step(slot, Op::kSyncBounce, sqe, true);
  sqe = ring_.sqe();
  io_uring_prep_close_direct(sqe, file);
  add_finish_step(slot, Op::kCloseBounce, sqe, true);
  sqe = ring_.sqe();
  io_uring_prep_renameat(sqe, spool_.incoming_tmp_fd, slot->bounce_id, spool_.incoming_new_fd,
                         slot->bounce_id, RENAME_NOREPLACE);
  add_finish_step(slot, Op::kRenameBounce, sqe, true);
  // The rename is durable once the directory is synced: only then is the
  // original's failure recorded. (The kill hook fails this step, on a bad
  // fd, so that the record behind it does not run before the kill.)
  slot->bounce_kill = kill_after_bounce_fault().take();
  sqe = ring_.sqe();
  io_uring_prep_fsync(sqe, slot->bounce_kill ? -1 : spool_.incoming_new_fd, 0);
  add_finish_step(slot, Op::kSyncBounceDir, sqe, true);
}

// on_bounce_steps_done looks at the bounce steps of the chain that just
// ended: once the rename landed the bounce is queued (never written
// again); if a step before it failed, the temporary file is removed (the
// chain, and so the bounce, is retried with the record).
void Worker::on_bounce_steps_done(MessageSlot* slot) {
  using Op = MessageSlot::FinishOp;
  bool any = false, renamed = false;
  for (uint32_t i = 0; i < slot->finish_step_count; ++i) {
    MessageSlot::FinishStep& step = slot->finish_steps[i];
    if (!is_bounce_op(step.op)) continue;
    any = true;
    if (step.op == Op::kWriteBounce && step.res >= 0 &&
        static_cast<size_t>(step.res) != slot->bounce_text.size()) {
      step.res = -EIO;  // a short write is a failed write
    }
    if (step.op == Op::kRenameBounce && step.res >= 0) renamed = true;
  }
  if (!any) return;
  if (!renamed) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_unlinkat(sqe, spool_.incoming_tmp_fd, slot->bounce_id, 0);
    set_completion(sqe, nullptr);
    return;
  }
  slot->bounce_written = true;
  if (slot->bounce_kill) ::kill(::getpid(), SIGKILL);  // test hook: a crash before the record
  CoreMetrics::add(metrics_.bounces);
  if (reports_.log != nullptr) {
    MessageEvent bounced;
    bounced.kind = MessageEventKind::kBounced;
    bounced.id = slot->id();
    bounced.message_id = slot_message_id(*slot);
    bounced.sender = slot->envelope.sender;
    bounced.has_sender = true;
    bounced.bounce_id = slot->bounce_id;
    log_message_event(*reports_.log, bounced);
  }
  fmt::print(
      stderr, "ringmail: worker {}: {}: bounce {} queued to <{}>{}\n", id_, slot->id(), slot->bounce_id,
      slot->envelope.sender,
      config_.bounce.sender_copy.empty() ? "" : fmt::format(" (copy to <{}>)", config_.bounce.sender_copy));
}

std::string Worker::describe_bounce_step(const MessageSlot* slot, MessageSlot::FinishOp op) const {
  using Op = MessageSlot::FinishOp;
  switch (op) {
    case Op::kRenameBounce:
      return fmt::format("{}/incoming/tmp/{} to incoming/new/", spool_.root, slot->bounce_id);
    case Op::kSyncBounceDir:
      return fmt::format("{}/incoming/new", spool_.root);
    default:
      return fmt::format("{}/incoming/tmp/{} (a bounce)", spool_.root, slot->bounce_id);
  }
}

}  // namespace ringmail
