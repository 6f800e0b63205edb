// engine/message_finish.cc — the end of an attempt: decide the message's
// state and make it so on disk, through the worker's io_uring.
//
//   delivered           unlink <dir>/ID [→ unlink meta/ID]
//   deferred / failed   meta/.ID.tmp: open → write → fsync → close →
//                       rename over meta/ID → rename <dir>/ID into deferred/
//                       or failed/
//
// <dir> is active/, or hold/ once the message is held. Each step has its
// own completion (MessageSlot::FinishStep), so an error names the step
// that failed and its own errno, never the "Operation canceled" of the
// linked steps behind it.
//
// When a step fails the outcome is known but not recorded. The rule (the
// spool's second promise): a recipient that accepted the message is never
// sent it again. So the message is never attempted again by this process:
// the file moves to hold/ (a rename needs no free space), the intake is
// told (kHeld: it pauses claims), and the slot retries the *record* with
// backoff, not the delivery. If the engine stops first, the file stays in
// hold/, which nothing attempts on its own (docs/spool.md, "hold/").
#include <fcntl.h>
#include <fmt/format.h>
#include <time.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "engine/attempt_log.h"
#include "engine/metrics_hooks.h"
#include "engine/worker.h"

namespace ringmail {
namespace {

constexpr uint32_t kMaxRecordRetryDelayS = 60;  // the record retry backs off up to this

// g_fault_unlink: the test hook RINGMAIL_FAULT_UNLINK=N makes the first N
// removals of a delivered message's file fail as if with EIO (tests/e2e,
// the unlink-failure case). Read once, at the first delivered message.
std::atomic<int64_t>& fault_unlink_budget() {
  static std::atomic<int64_t> budget{[] {
    const char* text = std::getenv("RINGMAIL_FAULT_UNLINK");
    return text == nullptr ? int64_t{0} : std::strtoll(text, nullptr, 10);
  }()};
  return budget;
}

bool take_unlink_fault() {
  auto& budget = fault_unlink_budget();
  int64_t left = budget.load(std::memory_order_relaxed);
  while (left > 0) {
    if (budget.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

const char* finish_op_verb(MessageSlot::FinishOp op) {
  using Op = MessageSlot::FinishOp;
  switch (op) {
    case Op::kUnlinkFile:
    case Op::kUnlinkMeta:
    case Op::kRemoveTmp:
      return "remove";
    case Op::kOpenTmp:
      return "create";
    case Op::kWriteTmp:
      return "write";
    case Op::kSyncTmp:
      return "fsync";
    case Op::kCloseTmp:
    case Op::kCloseBounce:
      return "close";
    case Op::kRenameMeta:
    case Op::kRenameFile:
    case Op::kHoldFile:
    case Op::kRenameBounce:
      return "rename";
    case Op::kOpenBounce:
      return "create";
    case Op::kWriteBounce:
      return "write";
    case Op::kSyncBounce:
    case Op::kSyncBounceDir:
      return "fsync";
  }
  return "?";
}

const char* outcome_name(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kDelivered:
      return "delivered";
    case OutcomeKind::kDeferred:
      return "deferred";
    case OutcomeKind::kFailed:
      return "failed";
    case OutcomeKind::kStuck:
      return "stuck";
    case OutcomeKind::kHeld:
      return "held";
    case OutcomeKind::kNotStarted:
      return "not started";
  }
  return "?";
}

// accepted_list names the recipients that accepted the message in this
// attempt (for the operator, when that cannot be recorded).
std::string accepted_list(const MessageSlot* slot) {
  constexpr uint32_t kShown = 10;
  std::string list;
  uint32_t count = 0;
  for (uint32_t i = 0; i < slot->envelope.recipient_count; ++i) {
    if (slot->rcpt_state[i] != RcptState::kDone) continue;
    if (count++ < kShown) {
      if (!list.empty()) list += ", ";
      list += slot->envelope.recipients[i];
    }
  }
  if (count == 0) return "no recipient";
  if (count > kShown) list += fmt::format(" and {} more", count - kShown);
  return list;
}

}  // namespace

// ---------------------------------------------------------------------------
// Deciding the outcome and building the record.

void Worker::finish(MessageSlot* slot) {
  if (slot->stream_read_pending) {
    slot->finish_after_read = true;  // on_stream_read comes back here
    return;
  }
  const Envelope& env = slot->envelope;
  uint32_t failed = 0, deferred = 0, done = 0;
  for (uint32_t i = 0; i < env.recipient_count; ++i) {
    switch (slot->rcpt_state[i]) {
      case RcptState::kDone:
        ++done;
        break;
      case RcptState::kFailed:
        ++failed;
        break;
      case RcptState::kDeferred:
      case RcptState::kPending:
      case RcptState::kAccepted:
        ++deferred;
        break;
      case RcptState::kSkip:
        break;
    }
  }
  const uint32_t failed_now = failed;
  uint32_t done_before = 0;
  for (uint32_t i = 0; i < slot->meta.mark_count; ++i) {
    failed += slot->meta.marks[i].failed ? 1 : 0;
    done_before += slot->meta.marks[i].failed ? 0 : 1;
  }
  const uint32_t attempt = slot->meta.attempts + 1;

  const int64_t now_unix = static_cast<int64_t>(::time(nullptr));
  MessageMeta& meta = slot->meta;
  OutcomeKind kind = OutcomeKind::kDelivered;
  int64_t next_unix = 0;
  if (slot->unparsable) {
    kind = OutcomeKind::kFailed;
  } else if (deferred > 0 || failed > 0) {
    meta.attempts += 1;
    if (meta.first_attempt == 0) meta.first_attempt = now_unix;
    const bool retry_allowed = retry_.next_attempt(meta.attempts, meta.first_attempt, now_unix, next_unix);
    switch (decide_message_end(deferred, failed, retry_allowed)) {
      case MessageEnd::kDelivered:
        break;
      case MessageEnd::kDeferred:
        kind = OutcomeKind::kDeferred;
        meta.next_attempt = next_unix;
        break;
      case MessageEnd::kFailed:
        kind = OutcomeKind::kFailed;
        next_unix = 0;
        break;
    }
  }
  slot->finish_kind = kind;
  slot->finish_next_unix = next_unix;
  if (kind != OutcomeKind::kDelivered && !slot->unparsable) plan_bounce(slot, now_unix);  // before the record
  // What the intake counts and the delivery log says: recipients given up
  // at retry.max_age count as failed ("expired" in the log); a failed
  // message that reached some recipients is partial.
  const bool expired = kind == OutcomeKind::kFailed && deferred > 0;
  slot->counts = RecipientCounts{done, expired ? 0 : deferred, failed_now + (expired ? deferred : 0)};
  slot->partial = kind == OutcomeKind::kFailed && done + done_before > 0;
  if (reports_.log != nullptr) log_attempts(*reports_.log, *slot, config_.relay.host, expired, attempt);
  count_attempt(metrics_, AttemptTally{.kind = kind,
                                       .partial = slot->partial,
                                       .delivered = done,
                                       .deferred = expired ? 0 : deferred,
                                       .failed = failed_now,
                                       .expired = expired ? deferred : 0,
                                       .queued_ms = slot->ref.queued_ms});
  if (kind != OutcomeKind::kDelivered) build_record(slot, deferred, failed);
  start_final_chain(slot);
}

// build_record formats the meta record of a deferred or failed message into
// the slot's stream buffer (free now: no body read is in flight).
void Worker::build_record(MessageSlot* slot, uint32_t deferred, uint32_t failed) {
  const Envelope& env = slot->envelope;
  MessageMeta& meta = slot->meta;
  const OutcomeKind kind = slot->finish_kind;
  // The reply that explains it is the message-level one if there was one,
  // else the first recipient's that was deferred, else the first that failed.
  std::string_view last_reply = slot->message_reply;
  for (RcptState wanted : {RcptState::kDeferred, RcptState::kFailed}) {
    for (uint32_t i = 0; i < env.recipient_count && last_reply.empty(); ++i) {
      if (slot->rcpt_state[i] == wanted) last_reply = slot->rcpt_reply(i);
    }
  }
  // Record every recipient that needs no further attempt; when the message
  // fails as a whole (gave up), the still-pending ones fail with it.
  for (uint32_t i = 0; i < env.recipient_count && meta.mark_count < meta.marks.size(); ++i) {
    const RcptState state = slot->rcpt_state[i];
    if (state == RcptState::kSkip) continue;
    const bool unresolved = state != RcptState::kDone && state != RcptState::kFailed;
    if (unresolved && kind == OutcomeKind::kDeferred) continue;
    RecipientMark& mark = meta.marks[meta.mark_count++];
    mark.address = env.recipients[i];
    mark.failed = state != RcptState::kDone;
    mark.reply = slot->rcpt_reply(i).empty() ? last_reply : slot->rcpt_reply(i);
  }
  meta.last_reply = last_reply;
  if (kind == OutcomeKind::kFailed && !slot->unparsable) {
    if (deferred > 0) {
      std::snprintf(slot->reason_text, sizeof(slot->reason_text), "gave up after %u attempts: %.*s",
                    meta.attempts, static_cast<int>(last_reply.size()), last_reply.data());
    } else {
      std::snprintf(slot->reason_text, sizeof(slot->reason_text), "%u recipient(s) refused: %.*s", failed,
                    static_cast<int>(last_reply.size()), last_reply.data());
    }
    meta.reason = slot->reason_text;
  } else if (slot->unparsable) {
    meta.reason = slot->message_reply;
  }
  size_t bytes = format_message_meta(meta, slot->stream.get(), MessageSlot::kStreamBytes);
  if (bytes == 0) {
    // Too big (many recipients with long replies): keep the marks, which
    // must not be lost, and shorten the texts that only explain them.
    constexpr size_t kShortReply = 80;
    for (uint32_t i = 0; i < meta.mark_count; ++i)
      meta.marks[i].reply = meta.marks[i].reply.substr(0, kShortReply);
    meta.last_reply = meta.last_reply.substr(0, 4 * kShortReply);
    bytes = format_message_meta(meta, slot->stream.get(), MessageSlot::kStreamBytes);
  }
  // 0: it still does not fit; the chain then holds the message (a record
  // that cannot be written is the same fault as a write that fails).
  slot->meta_bytes = static_cast<uint32_t>(bytes);
  std::snprintf(slot->tmp_name, sizeof(slot->tmp_name), ".%s.tmp", slot->ref.id);
}

// ---------------------------------------------------------------------------
// The chain of spool operations.

MessageSlot::FinishStep* Worker::add_finish_step(MessageSlot* slot, MessageSlot::FinishOp op,
                                                 io_uring_sqe* sqe, bool link) {
  MessageSlot::FinishStep& step = slot->finish_steps[slot->finish_step_count++];
  step.op = op;
  step.res = 0;
  step.inject_res = 0;
  if (link) sqe->flags |= IOSQE_IO_LINK;
  set_completion(sqe, &step);
  ++slot->finish_steps_pending;
  return &step;
}

void Worker::start_final_chain(MessageSlot* slot) {
  using Op = MessageSlot::FinishOp;
  slot->finish_step_count = 0;
  slot->finish_steps_pending = 0;
  const char* id = slot->ref.id;
  const int file_fd = slot->in_hold ? spool_.hold_fd : spool_.active_fd;

  if (slot->holding) {
    // A rename needs no free space: the one move that works on a full disk.
    ring_.reserve(1);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_renameat(sqe, spool_.active_fd, id, spool_.hold_fd, id, RENAME_NOREPLACE);
    add_finish_step(slot, Op::kHoldFile, sqe, false);
    // A delivered message also gets a record saying every recipient has it
    // (best effort, not linked to the move): released from hold/ later, it
    // is then removed without being sent again.
    if (slot->finish_kind == OutcomeKind::kDelivered && slot->meta_bytes > 0) add_record_steps(slot, false);
    return;
  }

  if (slot->finish_kind == OutcomeKind::kDelivered) {
    // Every recipient has its 250: the file goes, then its meta (an orphan
    // meta left by a crash between the two is removed at start-up).
    ring_.reserve(2);
    const bool fault = take_unlink_fault();
    const bool has_meta = slot->ref.has_meta;
    io_uring_sqe* unlink = ring_.sqe();
    if (fault) {
      io_uring_prep_nop(unlink);
    } else {
      io_uring_prep_unlinkat(unlink, file_fd, id, 0);
    }
    MessageSlot::FinishStep* step = add_finish_step(slot, Op::kUnlinkFile, unlink, has_meta && !fault);
    if (fault) step->inject_res = -EIO;
    if (has_meta && !fault) {
      io_uring_sqe* unlink_meta = ring_.sqe();
      io_uring_prep_unlinkat(unlink_meta, spool_.meta_fd, id, 0);
      add_finish_step(slot, Op::kUnlinkMeta, unlink_meta, false);
    }
    return;
  }

  if (slot->meta_bytes == 0) {
    // The record does not fit in its file format (see build_record): the
    // outcome cannot be recorded. Report it as the first step's failure.
    ring_.reserve(1);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_nop(sqe);
    add_finish_step(slot, Op::kWriteTmp, sqe, false)->inject_res = -EFBIG;
    return;
  }

  const int dest_fd = slot->finish_kind == OutcomeKind::kDeferred ? spool_.deferred_fd : spool_.failed_fd;
  // The chain must reach the kernel in one piece. A bounce goes first: it
  // is in incoming/new before the failure is recorded (docs/bounces.md).
  const bool bounce = bounce_pending(slot);
  ring_.reserve(bounce ? 12 : 6);
  if (bounce) add_bounce_steps(slot);
  add_record_steps(slot, /*link_last=*/true);
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_renameat(sqe, file_fd, id, dest_fd, id, 0);
  add_finish_step(slot, Op::kRenameFile, sqe, false);
}

// add_record_steps queues the linked steps that write the record (already
// formatted in the slot's stream buffer) as meta/.ID.tmp and rename it over
// meta/ID; with |link_last| the last one is linked to the step queued next.
void Worker::add_record_steps(MessageSlot* slot, bool link_last) {
  using Op = MessageSlot::FinishOp;
  const unsigned meta_file = slot->index * 2 + 1;
  ring_.reserve(5);
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_openat_direct(sqe, spool_.meta_fd, slot->tmp_name, O_WRONLY | O_CREAT | O_TRUNC, 0600,
                              meta_file);
  add_finish_step(slot, Op::kOpenTmp, sqe, true);
  sqe = ring_.sqe();
  io_uring_prep_write(sqe, static_cast<int>(meta_file), slot->stream.get(), slot->meta_bytes, 0);
  sqe->flags |= IOSQE_FIXED_FILE;
  add_finish_step(slot, Op::kWriteTmp, sqe, true);
  sqe = ring_.sqe();
  io_uring_prep_fsync(sqe, static_cast<int>(meta_file), IORING_FSYNC_DATASYNC);
  sqe->flags |= IOSQE_FIXED_FILE;
  add_finish_step(slot, Op::kSyncTmp, sqe, true);
  sqe = ring_.sqe();
  io_uring_prep_close_direct(sqe, meta_file);
  add_finish_step(slot, Op::kCloseTmp, sqe, true);
  sqe = ring_.sqe();
  io_uring_prep_renameat(sqe, spool_.meta_fd, slot->tmp_name, spool_.meta_fd, slot->ref.id, 0);
  add_finish_step(slot, Op::kRenameMeta, sqe, link_last);
}

void MessageSlot::on_finish_step(Completion* completion, int res, uint32_t) {
  auto* step = static_cast<FinishStep*>(completion);
  step->res = step->inject_res != 0 ? step->inject_res : res;
  MessageSlot* slot = step->slot;
  if (--slot->finish_steps_pending == 0) slot->worker->on_final_chain_done(slot);
}

// describe_step says which file a step was working on: "meta/.ID.tmp".
std::string Worker::describe_step(const MessageSlot* slot, const MessageSlot::FinishStep& step) const {
  using Op = MessageSlot::FinishOp;
  const char* dir = slot->in_hold ? "hold" : "active";
  const char* dest = slot->finish_kind == OutcomeKind::kDeferred ? "deferred" : "failed";
  const std::string& root = spool_.root;
  switch (step.op) {
    case Op::kUnlinkFile:
      return fmt::format("{}/{}/{}", root, dir, slot->ref.id);
    case Op::kUnlinkMeta:
      return fmt::format("{}/meta/{}", root, slot->ref.id);
    case Op::kOpenTmp:
    case Op::kWriteTmp:
    case Op::kSyncTmp:
    case Op::kCloseTmp:
    case Op::kRemoveTmp:
      return fmt::format("{}/meta/{}", root, slot->tmp_name);
    case Op::kRenameMeta:
      return fmt::format("{}/meta/{} to meta/{}", root, slot->tmp_name, slot->ref.id);
    case Op::kRenameFile:
      return fmt::format("{}/{}/{} to {}/", root, dir, slot->ref.id, dest);
    case Op::kHoldFile:
      return fmt::format("{}/active/{} to hold/", root, slot->ref.id);
    case Op::kOpenBounce:
    case Op::kWriteBounce:
    case Op::kSyncBounce:
    case Op::kCloseBounce:
    case Op::kRenameBounce:
    case Op::kSyncBounceDir:
      return describe_bounce_step(slot, step.op);
  }
  return "?";
}

void Worker::on_final_chain_done(MessageSlot* slot) {
  using Op = MessageSlot::FinishOp;
  on_bounce_steps_done(slot);  // a bounce queued, or its temporary removed
  // The step that failed first, by its own errno; linked steps behind it
  // only report -ECANCELED. A file or meta that is already gone when it is
  // to be removed is what removing it wanted.
  const MessageSlot::FinishStep* failed = nullptr;
  for (uint32_t i = 0; i < slot->finish_step_count; ++i) {
    const MessageSlot::FinishStep& step = slot->finish_steps[i];
    if (step.res >= 0) continue;
    if ((step.op == Op::kUnlinkFile || step.op == Op::kUnlinkMeta) && step.res == -ENOENT) continue;
    if (failed == nullptr || (failed->res == -ECANCELED && step.res != -ECANCELED)) failed = &step;
  }
  const bool hold_move = slot->holding;
  slot->holding = false;

  if (hold_move) {
    const MessageSlot::FinishStep& move = slot->finish_steps[0];  // kHoldFile; a record may follow
    if (slot->finish_step_count > 1 && slot->finish_steps[slot->finish_step_count - 1].res >= 0) {
      slot->ref.has_meta = true;  // the all-done record of a delivered message is written
    }
    failed = move.res < 0 ? &move : nullptr;
    if (failed == nullptr) {
      slot->in_hold = true;
      fmt::print(stderr, "ringmail: worker {}: {} moved to hold/: it will not be attempted again\n", id_,
                 slot->id());
    } else {
      fmt::print(stderr,
                 "ringmail: worker {}: cannot move {} to hold/ either: {}; it stays in active/ and, if "
                 "ringmail stops before its outcome is recorded, recipients that already have it will get it "
                 "again\n",
                 id_, slot->id(), std::strerror(-failed->res));
    }
    schedule_record_retry(slot);
    return;
  }

  if (failed == nullptr) {
    if (slot->held) {
      fmt::print(stderr, "ringmail: worker {}: outcome of {} recorded ({}) after {} retr{}\n", id_,
                 slot->id(), outcome_name(slot->finish_kind), slot->record_retries,
                 slot->record_retries == 1 ? "y" : "ies");
    }
    on_finished(slot, slot->finish_kind, slot->finish_next_unix);
    return;
  }
  const SpoolDecision decision = decide_spool_fault(
      failed->op == Op::kUnlinkMeta ? SpoolFault::kMetaNotRemoved : SpoolFault::kRecordFailed);
  if (decision.action == SpoolAction::kIgnore) {
    // The message file is gone; only its meta stayed (removed at next start).
    fmt::print(stderr, "ringmail: worker {}: cannot remove {}: {} (removed at next start)\n", id_,
               describe_step(slot, *failed), std::strerror(-failed->res));
    on_finished(slot, slot->finish_kind, slot->finish_next_unix);
    return;
  }
  if (failed->op >= Op::kOpenTmp && failed->op <= Op::kRenameMeta && slot->meta_bytes > 0) {
    // Give back what a half-written temporary holds (it matters on a full disk).
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_unlinkat(sqe, spool_.meta_fd, slot->tmp_name, 0);
    set_completion(sqe, nullptr);
  }
  const bool first = !slot->held;
  const std::string what = failed->inject_res == -EFBIG && failed->op == Op::kWriteTmp
                               ? std::string("the record is larger than a meta file may be")
                               : fmt::format("cannot {} {}: {}", finish_op_verb(failed->op),
                                             describe_step(slot, *failed), std::strerror(-failed->res));
  if (first || (slot->record_retries & (slot->record_retries - 1)) == 0) {
    // Loud at the first failure, then at retries 1, 2, 4, 8...
    fmt::print(
        stderr,
        "ringmail: worker {}: the outcome of {} ({}) cannot be recorded: {}; {} — retrying the record, "
        "never the delivery{}\n",
        id_, slot->id(), outcome_name(slot->finish_kind), what,
        slot->finish_kind == OutcomeKind::kDelivered
            ? std::string("it was delivered to every recipient and will not be sent again")
            : fmt::format("accepted by {}; it will not be sent to them again", accepted_list(slot)),
        first ? "" : fmt::format(" (retry {})", slot->record_retries));
  }
  if (first) {
    if (slot->finish_kind == OutcomeKind::kDelivered) build_record(slot, 0, 0);
    slot->held = true;
    ++held_slots_;
    WorkerReport report{};
    std::memcpy(report.id, slot->ref.id, sizeof(report.id));
    report.kind = OutcomeKind::kHeld;
    pending_reports_.push_back(report);
    if (reports_.log != nullptr) {
      MessageEvent held;
      held.kind = MessageEventKind::kHeld;
      held.id = slot->ref.id;
      held.message_id = slot_message_id(*slot);
      held.attempt = slot->meta.attempts;
      held.reason = what;
      log_message_event(*reports_.log, held);
    }
    if (!slot->in_hold) {
      slot->holding = true;
      start_final_chain(slot);
      return;
    }
  }
  schedule_record_retry(slot);
}

void Worker::schedule_record_retry(MessageSlot* slot) {
  const uint32_t first_s = std::max<uint32_t>(decide_spool_fault(SpoolFault::kRecordFailed).retry_delay_s, 1);
  const uint32_t shift = std::min<uint32_t>(slot->record_retries, 6);
  const uint32_t delay_s = std::min<uint32_t>(first_s << shift, kMaxRecordRetryDelayS);
  ++slot->record_retries;
  slot->retry_ts.tv_sec = delay_s;
  slot->retry_ts.tv_nsec = 0;
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_timeout(sqe, &slot->retry_ts, 0, 0);
  set_completion(sqe, &slot->retry_timer_c);
}

void MessageSlot::on_retry_timer(int, uint32_t) { worker->start_final_chain(this); }

// report_held_at_exit tells the operator, per message, what stays held when
// the worker stops before its record could be written.
void Worker::report_held_at_exit() const {
  for (const auto& slot : slots_) {
    if (!slot->held) continue;
    fmt::print(stderr,
               "ringmail: worker {}: {} stays in {}/ with its outcome ({}) not recorded; see docs/spool.md "
               "\"hold/\" before releasing it\n",
               id_, slot->id(), slot->in_hold ? "hold" : "active", outcome_name(slot->finish_kind));
  }
}

}  // namespace ringmail
