// engine/message_io.cc — a worker's spool I/O for one message slot, all
// through the worker's io_uring: loading (meta + head of the file), reading
// later body chunks, and the final transition (unlink, or meta record +
// rename into deferred/ or failed/: engine/message_finish.cc). Also
// MessageSlot's bookkeeping.
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
namespace {

constexpr int kFileReadTimeoutS = 30;  // bound on reading the head of a message file

}  // namespace

// ---------------------------------------------------------------------------
// MessageSlot bookkeeping.

MessageSlot::MessageSlot(Worker* worker_in, uint32_t index_in)
    : worker(worker_in),
      index(index_in),
      head(new char[kHeadBytes]),
      stream(new char[kStreamBytes]),
      meta_text(new char[kMetaBytes]),
      reply_arena(new char[kReplyArenaBytes]) {
  for (FinishStep& step : finish_steps) {
    step.slot = this;
    step.on_complete = &MessageSlot::on_finish_step;
  }
}

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
  meta.delay_warned = 0;
  meta.mark_count = 0;
  reply_arena_used = 0;
  last_kept_offset = last_kept_length = 0;
  message_reply[0] = '\0';
  attempt_pending = 0;
  connection = nullptr;
  session = SessionFacts{};
  counts = RecipientCounts{};
  partial = false;
  mail_rejected = false;
  accepted = 0;
  expect_refs = 0;
  unparsable = false;
  reason_text[0] = '\0';
  open_result = meta_open_result = meta_read_result = 0;
  head_read_done = meta_read_done = false;
  finish_step_count = finish_steps_pending = 0;
  meta_bytes = 0;
  in_hold = held = holding = false;
  record_retries = 0;
  std::string().swap(bounce_text);  // frees the text of a bounce; allocates nothing
  bounce_id[0] = '\0';
  bounce_written = bounce_kill = false;
}

void MessageSlot::keep_rcpt_reply(uint32_t i, std::string_view reply) {
  // The recipients of one transaction share its end-of-data reply: keep it once.
  if (last_kept_length == reply.size() && reply.size() > 0 &&
      std::memcmp(reply_arena.get() + last_kept_offset, reply.data(), reply.size()) == 0) {
    rcpt_reply_offset[i] = static_cast<uint16_t>(last_kept_offset);
    rcpt_reply_length[i] = static_cast<uint16_t>(last_kept_length);
    return;
  }
  const size_t room = kReplyArenaBytes - reply_arena_used;
  const size_t n = std::min(reply.size(), room);
  std::memcpy(reply_arena.get() + reply_arena_used, reply.data(), n);
  rcpt_reply_offset[i] = static_cast<uint16_t>(reply_arena_used);
  rcpt_reply_length[i] = static_cast<uint16_t>(n);
  last_kept_offset = reply_arena_used;
  last_kept_length = static_cast<uint32_t>(n);
  reply_arena_used += static_cast<uint32_t>(n);
}

std::string_view MessageSlot::rcpt_reply(uint32_t i) const {
  return std::string_view(reply_arena.get() + rcpt_reply_offset[i], rcpt_reply_length[i]);
}

void MessageSlot::resolve(uint32_t i, RcptState state, std::string_view reply) {
  const RcptState before = rcpt_state[i];
  if (before != RcptState::kPending && before != RcptState::kAccepted) return;
  rcpt_state[i] = state;
  keep_rcpt_reply(i, reply);  // the 250 too: the delivery log shows it
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
  ring_.reserve(5);  // both chains in one submission, never split
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
  read->flags |= IOSQE_FIXED_FILE | IOSQE_IO_LINK;
  set_completion(read, &slot->head_read_c);
  // A file that cannot be read within the bound (a hung network file
  // system) is a fault with a reason, not a slot lost for good.
  slot->read_ts.tv_sec = kFileReadTimeoutS;
  slot->read_ts.tv_nsec = 0;
  io_uring_sqe* timeout = ring_.sqe();
  io_uring_prep_link_timeout(timeout, &slot->read_ts, 0);
  set_completion(timeout, nullptr);
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
    if (slot->open_result == -ECANCELED) {
      fmt::print(stderr,
                 "ringmail: worker {}: reading active/{} did not finish within {} s; left in active/, "
                 "tried again later\n",
                 id_, slot->id(), kFileReadTimeoutS);
    } else if (slot->open_result == -ENOENT) {
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

}  // namespace ringmail
