// engine/message_io.cc — a worker's spool I/O for one message slot, all
// through the worker's io_uring: loading (meta + head of the file), reading
// later body chunks, and the final transition (unlink, or meta record +
// rename into deferred/ or failed/). Also MessageSlot's bookkeeping.
//
// Chains use fixed files: slot i opens its message as fixed file 2i and its
// meta file as 2i+1 (openat_direct → read in one linked submission). The
// files are never closed on their own: the next openat_direct into the same
// index replaces (and releases) the previous file, so no close can race a
// later open of the same index, and later body chunks of a large message are
// read from the file still installed at 2i. A slot is never finished while a
// read into its buffers is in flight (finish waits for it).
#include <fcntl.h>
#include <fmt/format.h>
#include <time.h>

#include <cstring>

#include "engine/smtp_connection.h"
#include "engine/worker.h"

namespace ringmail {

// ---------------------------------------------------------------------------
// MessageSlot bookkeeping.

MessageSlot::MessageSlot(Worker* worker_in, uint32_t index_in)
    : worker(worker_in),
      index(index_in),
      head(new char[kHeadBytes]),
      stream(new char[kStreamBytes]),
      meta_text(new char[kMetaBytes]),
      reply_arena(new char[kReplyArenaBytes]) {}

void MessageSlot::reset() {
  ref = MessageRef{};
  head_len = 0;
  whole_file = false;
  file_end = 0;
  eof_seen = false;
  stream_offset = 0;
  stream_len = 0;
  stream_read_pending = false;
  finish_after_read = false;
  meta_len = 0;
  envelope.recipient_count = 0;
  envelope.skip_count = 0;
  meta.attempts = 0;
  meta.first_attempt = 0;
  meta.next_attempt = 0;
  meta.last_reply = {};
  meta.reason = {};
  meta.mark_count = 0;
  reply_arena_used = 0;
  message_reply[0] = '\0';
  attempt_pending = 0;
  connection = nullptr;
  mail_rejected = false;
  accepted = 0;
  expect_refs = 0;
  unparsable = false;
  reason_text[0] = '\0';
  open_result = meta_open_result = meta_read_result = 0;
  head_read_done = meta_read_done = false;
}

void MessageSlot::keep_rcpt_reply(uint32_t i, std::string_view reply) {
  const size_t room = kReplyArenaBytes - reply_arena_used;
  const size_t n = std::min(reply.size(), room);
  std::memcpy(reply_arena.get() + reply_arena_used, reply.data(), n);
  rcpt_reply_offset[i] = static_cast<uint16_t>(reply_arena_used);
  rcpt_reply_length[i] = static_cast<uint16_t>(n);
  reply_arena_used += static_cast<uint32_t>(n);
}

std::string_view MessageSlot::rcpt_reply(uint32_t i) const {
  return std::string_view(reply_arena.get() + rcpt_reply_offset[i], rcpt_reply_length[i]);
}

void MessageSlot::resolve(uint32_t i, RcptState state, std::string_view reply) {
  const RcptState before = rcpt_state[i];
  if (before != RcptState::kPending && before != RcptState::kAccepted) return;
  rcpt_state[i] = state;
  if (state != RcptState::kDone) keep_rcpt_reply(i, reply);
  --attempt_pending;
}

void MessageSlot::resolve_all_unresolved(RcptState state, std::string_view reply) {
  for (uint32_t i = 0; i < envelope.recipient_count; ++i) resolve(i, state, reply);
}

void MessageSlot::set_message_reply(std::string_view reply) {
  const size_t n = std::min(reply.size(), sizeof(message_reply) - 1);
  std::memcpy(message_reply, reply.data(), n);
  message_reply[n] = '\0';
}

// ---------------------------------------------------------------------------
// Loading: meta file (if any) and the head of the message file, in parallel.

void Worker::start_load(MessageSlot* slot) {
  ring_.reserve(4);  // both chains in one submission, never split
  const unsigned message_file = slot->index * 2;
  const unsigned meta_file = slot->index * 2 + 1;
  if (slot->ref.has_meta) {
    io_uring_sqe* open = ring_.sqe();
    io_uring_prep_openat_direct(open, spool_.meta_fd, slot->ref.id, open_flags_, 0, meta_file);
    open->flags |= IOSQE_IO_LINK;
    set_completion(open, &slot->meta_open_done);
    io_uring_sqe* read = ring_.sqe();
    io_uring_prep_read(read, static_cast<int>(meta_file), slot->meta_text.get(), MessageSlot::kMetaBytes, 0);
    read->flags |= IOSQE_FIXED_FILE;
    set_completion(read, &slot->meta_read_done_c);
  } else {
    slot->meta_read_done = true;
  }
  io_uring_sqe* open = ring_.sqe();
  io_uring_prep_openat_direct(open, spool_.active_fd, slot->ref.id, open_flags_, 0, message_file);
  open->flags |= IOSQE_IO_LINK;
  set_completion(open, &slot->open_done);
  io_uring_sqe* read = ring_.sqe();
  io_uring_prep_read(read, static_cast<int>(message_file), slot->head.get(), MessageSlot::kHeadBytes, 0);
  read->flags |= IOSQE_FIXED_FILE;
  set_completion(read, &slot->head_read_c);
}

void MessageSlot::on_meta_open(int res, uint32_t) { meta_open_result = res; }

void MessageSlot::on_meta_read(int res, uint32_t) {
  meta_read_result = res;
  meta_read_done = true;
  if (head_read_done) worker->on_slot_loaded_raw(this);
}

void MessageSlot::on_open(int res, uint32_t) { open_result = res; }

void MessageSlot::on_head_read(int res, uint32_t) {
  head_read_done = true;
  if (res >= 0) {
    head_len = static_cast<uint32_t>(res);
    whole_file = head_len < kHeadBytes;
    if (whole_file) file_end = head_len;
  } else {
    open_result = open_result < 0 ? open_result : res;
  }
  if (meta_read_done) worker->on_slot_loaded_raw(this);
}

// on_slot_loaded_raw parses what the load chains brought in and either
// queues the message for a connection or ends it at once.
void Worker::on_slot_loaded_raw(MessageSlot* slot) {
  if ((slot->open_result == -EPERM || slot->meta_open_result == -EPERM) && (open_flags_ & O_NOATIME)) {
    // O_NOATIME needs us to own the file; a producer running as another
    // user makes it fail. Fall back to plain opens for good.
    open_flags_ &= ~O_NOATIME;
    const MessageRef ref = slot->ref;
    slot->reset();
    slot->ref = ref;
    start_load(slot);
    return;
  }
  if (slot->open_result < 0) {
    if (slot->open_result == -ENOENT) {
      // Someone removed or moved the file (an operator's `queue drop`):
      // nothing left to deliver, nothing to move.
      fmt::print(stderr, "ringmail: worker {}: {} vanished from active/ before delivery\n", id_, slot->id());
    } else {
      fmt::print(stderr, "ringmail: worker {}: cannot read active/{}: {}; left in active/\n", id_, slot->id(),
                 std::strerror(-slot->open_result));
    }
    on_finished(slot, OutcomeKind::kStuck, 0);
    return;
  }
  std::string error;
  if (slot->ref.has_meta && slot->meta_read_result < 0) {
    const int err = slot->meta_open_result < 0 ? slot->meta_open_result : slot->meta_read_result;
    if (err != -ENOENT) {
      // Without its meta record the engine would resend to recipients that
      // already have the message: leave it alone until the record is readable.
      fmt::print(stderr, "ringmail: worker {}: cannot read meta/{}: {}; left in active/\n", id_, slot->id(),
                 std::strerror(-err));
      on_finished(slot, OutcomeKind::kStuck, 0);
      return;
    }
    // Removed since the intake saw it: the message counts as never attempted.
  }
  if (slot->ref.has_meta && slot->meta_read_result >= 0) {
    slot->meta_len = static_cast<uint32_t>(slot->meta_read_result);
    if (!parse_message_meta(std::string_view(slot->meta_text.get(), slot->meta_len), slot->meta, error)) {
      fail_unparsable(slot, fmt::format("meta/{} is malformed: {}", slot->id(), error));
      return;
    }
  }
  const std::string_view head(slot->head.get(), slot->head_len);
  if (parse_envelope(head, slot->whole_file, config_.smtp.default_sender, slot->envelope, error) !=
      EnvelopeParse::kOk) {
    fail_unparsable(slot, fmt::format("malformed spool file: {}", error));
    return;
  }
  slot->attempt_pending = 0;
  for (uint32_t i = 0; i < slot->envelope.recipient_count; ++i) {
    const bool marked = find_mark(slot->meta, slot->envelope.recipients[i]) != nullptr;
    slot->rcpt_state[i] = marked ? RcptState::kSkip : RcptState::kPending;
    slot->attempt_pending += marked ? 0 : 1;
  }
  if (slot->attempt_pending == 0) {
    finish(slot);  // every recipient was settled by earlier attempts
    return;
  }
  on_slot_loaded(slot);
}

// fail_unparsable moves a file the engine cannot make sense of to failed/
// with the reason, never deleting it and never retrying it.
void Worker::fail_unparsable(MessageSlot* slot, const std::string& reason) {
  fmt::print(stderr, "ringmail: worker {}: {} → failed/: {}\n", id_, slot->id(), reason);
  slot->set_message_reply(reason);
  slot->envelope.recipient_count = 0;
  slot->meta = MessageMeta{};  // whatever a malformed meta held is not trusted
  slot->unparsable = true;
  finish(slot);
}

// ---------------------------------------------------------------------------
// Body chunks beyond the head: open, read at an offset, close.

void Worker::read_body_chunk(MessageSlot* slot, uint64_t offset) {
  if (slot->stream_read_pending) return;
  slot->stream_read_pending = true;
  slot->stream_offset = offset;
  slot->stream_len = 0;
  // The message file is still installed at fixed index 2i from the load.
  io_uring_sqe* read = ring_.sqe();
  io_uring_prep_read(read, static_cast<int>(slot->index * 2), slot->stream.get(), MessageSlot::kStreamBytes,
                     offset);
  read->flags |= IOSQE_FIXED_FILE;
  set_completion(read, &slot->stream_read_c);
}

void MessageSlot::on_stream_read(int res, uint32_t) {
  stream_read_pending = false;
  if (finish_after_read) {
    // The attempt ended (connection failure) while this read was in flight;
    // the slot's buffers are free to reuse only now.
    finish_after_read = false;
    worker->finish(this);
    return;
  }
  if (res < 0) {
    if (connection != nullptr) {
      connection->abort(fmt::format("cannot read active/{}: {}", ref.id, std::strerror(-res)));
    }
    return;
  }
  stream_len = static_cast<uint32_t>(res);
  if (stream_len < kStreamBytes) {
    eof_seen = true;
    file_end = stream_offset + stream_len;
  }
  if (connection != nullptr) connection->body_chunk_arrived(this);
}

// ---------------------------------------------------------------------------
// The end of an attempt: decide the message's state and make it so on disk.

void Worker::finish(MessageSlot* slot) {
  if (slot->stream_read_pending) {
    slot->finish_after_read = true;  // on_stream_read comes back here
    return;
  }
  const Envelope& env = slot->envelope;
  uint32_t failed = 0, deferred = 0;
  for (uint32_t i = 0; i < env.recipient_count; ++i) {
    switch (slot->rcpt_state[i]) {
      case RcptState::kDone:
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
  for (uint32_t i = 0; i < slot->meta.mark_count; ++i) failed += slot->meta.marks[i].failed ? 1 : 0;

  const int64_t now_unix = static_cast<int64_t>(::time(nullptr));
  MessageMeta& meta = slot->meta;
  OutcomeKind kind = OutcomeKind::kDelivered;
  int64_t next_unix = 0;
  if (slot->unparsable) {
    kind = OutcomeKind::kFailed;
  } else if (deferred > 0 || failed > 0) {
    meta.attempts += 1;
    if (meta.first_attempt == 0) meta.first_attempt = now_unix;
    kind = OutcomeKind::kFailed;
    if (deferred > 0 && retry_.next_attempt(meta.attempts, meta.first_attempt, now_unix, next_unix)) {
      kind = OutcomeKind::kDeferred;
      meta.next_attempt = next_unix;
    }
  }

  if (kind == OutcomeKind::kDelivered) {
    // Every recipient has its 250: the file goes, then its meta (an orphan
    // meta left by a crash between the two is removed at start-up).
    ring_.reserve(2);
    io_uring_sqe* unlink = ring_.sqe();
    io_uring_prep_unlinkat(unlink, spool_.active_fd, slot->ref.id, 0);
    if (slot->ref.has_meta) {
      unlink->flags |= IOSQE_IO_LINK;
      set_completion(unlink, nullptr);
      io_uring_sqe* unlink_meta = ring_.sqe();
      io_uring_prep_unlinkat(unlink_meta, spool_.meta_fd, slot->ref.id, 0);
      set_completion(unlink_meta, &slot->finish_c);
    } else {
      set_completion(unlink, &slot->finish_c);
    }
    slot->finish_kind = kind;
    slot->finish_next_unix = 0;
    return;
  }

  // Deferred or failed: the reply that explains it is the message-level one
  // if there was one, else the first recipient's that was deferred, else
  // the first that failed.
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
  size_t meta_bytes = format_message_meta(meta, slot->stream.get(), MessageSlot::kStreamBytes);
  if (meta_bytes == 0) {
    // Too big (many recipients with long replies): keep the marks, which
    // must not be lost, and shorten the texts that only explain them.
    constexpr size_t kShortReply = 80;
    for (uint32_t i = 0; i < meta.mark_count; ++i)
      meta.marks[i].reply = meta.marks[i].reply.substr(0, kShortReply);
    meta.last_reply = meta.last_reply.substr(0, 4 * kShortReply);
    meta_bytes = format_message_meta(meta, slot->stream.get(), MessageSlot::kStreamBytes);
  }
  if (meta_bytes == 0) {
    fmt::print(stderr, "ringmail: worker {}: meta record for {} does not fit; left in active/\n", id_,
               slot->id());
    on_finished(slot, OutcomeKind::kStuck, 0);
    return;
  }
  std::snprintf(slot->tmp_name, sizeof(slot->tmp_name), ".%s.tmp", slot->ref.id);
  const unsigned meta_file = slot->index * 2 + 1;
  const int dest_fd = kind == OutcomeKind::kDeferred ? spool_.deferred_fd : spool_.failed_fd;

  ring_.reserve(6);  // the chain must reach the kernel in one piece
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_openat_direct(sqe, spool_.meta_fd, slot->tmp_name, O_WRONLY | O_CREAT | O_TRUNC, 0600,
                              meta_file);
  sqe->flags |= IOSQE_IO_LINK;
  set_completion(sqe, nullptr);
  sqe = ring_.sqe();
  io_uring_prep_write(sqe, static_cast<int>(meta_file), slot->stream.get(), static_cast<unsigned>(meta_bytes),
                      0);
  sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
  set_completion(sqe, nullptr);
  sqe = ring_.sqe();
  io_uring_prep_fsync(sqe, static_cast<int>(meta_file), IORING_FSYNC_DATASYNC);
  sqe->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
  set_completion(sqe, nullptr);
  sqe = ring_.sqe();
  io_uring_prep_close_direct(sqe, meta_file);
  sqe->flags |= IOSQE_IO_LINK;
  set_completion(sqe, nullptr);
  sqe = ring_.sqe();
  io_uring_prep_renameat(sqe, spool_.meta_fd, slot->tmp_name, spool_.meta_fd, slot->ref.id, 0);
  sqe->flags |= IOSQE_IO_LINK;
  set_completion(sqe, nullptr);
  sqe = ring_.sqe();
  io_uring_prep_renameat(sqe, spool_.active_fd, slot->ref.id, dest_fd, slot->ref.id, 0);
  set_completion(sqe, &slot->finish_c);
  slot->finish_kind = kind;
  slot->finish_next_unix = next_unix;
}

void MessageSlot::on_finish(int res, uint32_t) {
  OutcomeKind kind = finish_kind;
  if (res < 0) {
    if (kind == OutcomeKind::kDelivered && ref.has_meta && res != -ECANCELED) {
      // The message file is gone; only its meta could not be removed.
      fmt::print(stderr, "ringmail: worker {}: cannot remove meta/{}: {} (removed at next start)\n",
                 worker->id(), ref.id, std::strerror(-res));
    } else {
      fmt::print(stderr,
                 "ringmail: worker {}: cannot move active/{} to its next state: {}; left in active/\n",
                 worker->id(), ref.id, std::strerror(-res));
      kind = OutcomeKind::kStuck;
    }
  }
  worker->on_finished(this, kind, finish_next_unix);
}

}  // namespace ringmail
