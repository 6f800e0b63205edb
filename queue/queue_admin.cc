// queue/queue_admin.cc — see queue_admin.h. Every state change is one
// rename within the spool (RENAME_NOREPLACE, so nothing is ever overwritten)
// or an unlink, and a meta record is always replaced whole
// (write_meta_file); a crash between two steps leaves the message in hold/
// or where it was, never sent twice.
#include "queue/queue_admin.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "queue/dir_stream.h"
#include "queue/envelope.h"
#include "queue/meta_file.h"
#include "queue/spool_entry.h"

namespace ringmail {
namespace {

constexpr const char* kLockName = "ringmail.lock";

// read_head reads at most kMaxHeadBytes of |dir_fd|/|id| (not following a
// link, never blocking on a FIFO) into |out|; |whole| says the file ended
// within them. False with errno set.
bool read_head(int dir_fd, const std::string& id, std::string& out, bool& whole) {
  const int fd = ::openat(dir_fd, id.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return false;
  out.resize(kMaxHeadBytes + 1);
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      return false;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  whole = got <= kMaxHeadBytes;
  out.resize(std::min(got, kMaxHeadBytes));
  return true;
}

// count_pending counts the recipients of |dir_fd|/|id| without a mark in
// |meta|; -1 when the file cannot be read or parsed.
int64_t count_pending(int dir_fd, const std::string& id, std::string_view default_sender,
                      const MessageMeta& meta) {
  struct stat st {};
  if (::fstatat(dir_fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || spool_entry_refusal(st) != nullptr)
    return -1;
  std::string head;
  bool whole = false;
  if (!read_head(dir_fd, id, head, whole)) return -1;
  auto envelope = std::make_unique<Envelope>();
  std::string error;
  if (parse_envelope(head, whole, default_sender, *envelope, error) != EnvelopeParse::kOk) return -1;
  int64_t pending = 0;
  for (uint32_t i = 0; i < envelope->recipient_count; ++i) {
    if (find_mark(meta, envelope->recipients[i]) == nullptr) ++pending;
  }
  return pending;
}

std::string pending_words(int64_t pending) {
  if (pending < 0) return "recipients unknown";
  return fmt::format("{} recipient{} pending", pending, pending == 1 ? "" : "s");
}

// move_noreplace renames |from_fd|/|id| to |to_fd|/|id| without replacing
// anything there.
bool move_noreplace(int from_fd, int to_fd, const std::string& id) {
  return ::renameat2(from_fd, id.c_str(), to_fd, id.c_str(), RENAME_NOREPLACE) == 0;
}

AdminResult in_flight(const std::string& id, SpoolState state) {
  AdminResult r;
  r.id = id;
  r.from = state;
  r.outcome = AdminOutcome::kInFlight;
  r.text = fmt::format(
      "{} is in {}/: the running engine is delivering it (in flight); wait until it is deferred or failed, "
      "or stop the engine first",
      id, spool_state_dir(state));
  return r;
}

}  // namespace

EngineState probe_engine(const SpoolDirs& dirs, long& pid, std::string& error) {
  pid = 0;
  const int fd = ::openat(dirs.root_fd, kLockName, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return EngineState::kNotRunning;  // no engine ever ran here
    error = fmt::format("cannot open the spool lock {}/{}: {}; run as the user that owns the spool",
                        dirs.root, kLockName, std::strerror(errno));
    return EngineState::kUnknown;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
    ::close(fd);  // released at once: an engine may start the next instant
    return EngineState::kNotRunning;
  }
  const int err = errno;
  if (err != EWOULDBLOCK) {
    ::close(fd);
    error = fmt::format("cannot test the spool lock {}/{}: {}", dirs.root, kLockName, std::strerror(err));
    return EngineState::kUnknown;
  }
  char text[32] = {0};
  const ssize_t n = ::pread(fd, text, sizeof(text) - 1, 0);
  ::close(fd);
  if (n > 0) pid = std::strtol(text, nullptr, 10);
  return EngineState::kRunning;
}

void requeue_deferred_meta(MessageMeta& meta) { meta.next_attempt = 0; }

void requeue_failed_meta(MessageMeta& meta) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < meta.mark_count; ++i) {
    if (!meta.marks[i].failed) meta.marks[kept++] = meta.marks[i];
  }
  for (uint32_t i = kept; i < meta.mark_count; ++i) meta.marks[i] = RecipientMark{};
  meta.mark_count = kept;
  meta.attempts = 0;
  meta.first_attempt = 0;
  meta.next_attempt = 0;
  meta.reason = {};
  meta.delay_warned = 0;  // the age counts afresh: a delay warning may be due again
}

bool find_message(const SpoolDirs& dirs, const std::string& id, SpoolState& state) {
  static constexpr SpoolState kStates[] = {SpoolState::kDeferred, SpoolState::kFailed, SpoolState::kHold,
                                           SpoolState::kIncoming, SpoolState::kActive};
  for (const SpoolState s : kStates) {
    const int fd = dirs.state_fd(s);
    struct stat st {};
    if (fd >= 0 && ::fstatat(fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      state = s;
      return true;
    }
  }
  return false;
}

bool list_messages(const SpoolDirs& dirs, SpoolState state, std::vector<std::string>& ids,
                   std::string& error) {
  const int fd = dirs.state_fd(state);
  if (fd < 0) return true;  // a spool without that directory: none there
  DirStream dir(fd);
  if (!dir.ok()) {
    error = fmt::format("cannot read spool directory {}/{}: {}", dirs.root, spool_state_dir(state),
                        std::strerror(errno));
    return false;
  }
  const size_t first = ids.size();
  errno = 0;
  while (const dirent* entry = dir.next()) {
    if (is_valid_message_id(entry->d_name)) ids.emplace_back(entry->d_name);
  }
  if (errno != 0) {
    error = fmt::format("cannot read spool directory {}/{}: {}", dirs.root, spool_state_dir(state),
                        std::strerror(errno));
    return false;
  }
  std::sort(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
  return true;
}

AdminResult requeue_message(const SpoolDirs& dirs, const std::string& id, SpoolState state,
                            std::string_view default_sender) {
  AdminResult r;
  r.id = id;
  r.from = state;
  if (state == SpoolState::kIncoming || state == SpoolState::kActive) {
    r = in_flight(id, state);
    r.text =
        state == SpoolState::kIncoming
            ? fmt::format(
                  "{} is in incoming/new: it has not been attempted yet (in flight); nothing to requeue", id)
            : fmt::format(
                  "{} is in active/: an engine is delivering it (in flight), or, if none runs, the "
                  "next start recovers it; nothing to requeue",
                  id);
    return r;
  }
  const int from_fd = dirs.state_fd(state);
  struct stat st {};
  if (::fstatat(from_fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    r.outcome = AdminOutcome::kNotFound;
    r.text =
        fmt::format("{} is no longer in {}/ (delivered, or moved meanwhile)", id, spool_state_dir(state));
    return r;
  }
  if (const char* refusal = spool_entry_refusal(st)) {
    r.outcome = AdminOutcome::kRefused;
    r.text = fmt::format(
        "{}/{} is not a message file ({}): the engine would refuse it again; delete it with "
        "`ringmail queue --delete {}`",
        spool_state_dir(state), id, refusal, id);
    return r;
  }
  std::string text;
  auto meta = std::make_unique<MessageMeta>();
  std::string problem;
  const MetaRead load = read_meta_file(dirs.meta_fd, id.c_str(), text, *meta, problem);
  if (load == MetaRead::kBad) {
    r.outcome = AdminOutcome::kRefused;
    r.text = fmt::format("{}: {}; repair it, or delete the message with `ringmail queue --delete {}`", id,
                         problem, id);
    return r;
  }
  std::string error;
  if (state == SpoolState::kDeferred) {
    // Parked in hold/ while the record is rewritten: the engine never claims
    // from hold/, so it cannot attempt the message and write its own record
    // in between (that record would be lost under ours).
    if (load == MetaRead::kMissing) {
      r.pending = count_pending(from_fd, id, default_sender, *meta);
      r.text = fmt::format("requeued {} (deferred, due now, {})", id, pending_words(r.pending));
      return r;
    }
    if (!move_noreplace(dirs.deferred_fd, dirs.hold_fd, id)) {
      r.outcome = errno == ENOENT ? AdminOutcome::kInFlight : AdminOutcome::kIoError;
      r.text = errno == ENOENT
                   ? fmt::format("{} left deferred/ meanwhile: the engine is attempting it now", id)
                   : fmt::format("cannot move deferred/{} to hold/: {}", id, std::strerror(errno));
      return r;
    }
    // Read again: the engine may have written a newer record just before
    // the message reached hold/.
    if (read_meta_file(dirs.meta_fd, id.c_str(), text, *meta, problem) == MetaRead::kBad) {
      r.outcome = AdminOutcome::kRefused;
      r.text = fmt::format("{}: {}; the message stays in hold/", id, problem);
      return r;
    }
    requeue_deferred_meta(*meta);
    const bool written = write_meta_file(dirs.meta_fd, id.c_str(), *meta, error);
    if (!move_noreplace(dirs.hold_fd, dirs.deferred_fd, id)) {
      r.outcome = AdminOutcome::kIoError;
      r.text = fmt::format(
          "cannot move hold/{} back to deferred/: {}; it stays in hold/ with its record: run "
          "`ringmail queue --requeue {}` again",
          id, std::strerror(errno), id);
      return r;
    }
    if (!written) {
      r.outcome = AdminOutcome::kIoError;
      r.text = fmt::format("{}: {}; it stays deferred with its old next attempt", id, error);
      return r;
    }
    r.pending = count_pending(dirs.deferred_fd, id, default_sender, *meta);
    r.text = fmt::format("requeued {} (deferred, due now, {})", id, pending_words(r.pending));
    return r;
  }
  if (state == SpoolState::kHold) {
    if (load == MetaRead::kMissing) {
      r.outcome = AdminOutcome::kRefused;
      r.text = fmt::format(
          "hold/{} has no meta/{}: which recipients accepted it was never recorded, so releasing it would "
          "send "
          "it to every recipient again; read the engine's log line for it, then `mv hold/{} deferred/` or "
          "`ringmail queue --delete {}`",
          id, id, id, id);
      return r;
    }
    requeue_deferred_meta(*meta);
    if (!write_meta_file(dirs.meta_fd, id.c_str(), *meta, error)) {
      r.outcome = AdminOutcome::kIoError;
      r.text = fmt::format("{}: {}; it stays in hold/", id, error);
      return r;
    }
    if (!move_noreplace(dirs.hold_fd, dirs.deferred_fd, id)) {
      r.outcome = AdminOutcome::kIoError;
      r.text =
          fmt::format("cannot move hold/{} to deferred/: {}; it stays in hold/", id, std::strerror(errno));
      return r;
    }
    r.pending = count_pending(dirs.deferred_fd, id, default_sender, *meta);
    r.text = fmt::format("released {} (hold -> deferred, due now, {})", id, pending_words(r.pending));
    return r;
  }
  // failed/: the engine never touches it, so the record is rewritten in
  // place and then the message moves; if the move fails the old record is
  // put back.
  requeue_failed_meta(*meta);
  if (!write_meta_file(dirs.meta_fd, id.c_str(), *meta, error)) {
    r.outcome = AdminOutcome::kIoError;
    r.text = fmt::format("{}: {}; it stays in failed/", id, error);
    return r;
  }
  if (!move_noreplace(dirs.failed_fd, dirs.deferred_fd, id)) {
    const int err = errno;
    std::string restore_error;
    if (load == MetaRead::kLoaded && parse_message_meta(text, *meta, restore_error)) {
      write_meta_file(dirs.meta_fd, id.c_str(), *meta, restore_error);
    }
    r.outcome = AdminOutcome::kIoError;
    r.text =
        fmt::format("cannot move failed/{} to deferred/: {}; it stays in failed/", id, std::strerror(err));
    return r;
  }
  r.pending = count_pending(dirs.deferred_fd, id, default_sender, *meta);
  r.text = fmt::format("requeued {} (failed -> deferred, due now, {})", id, pending_words(r.pending));
  return r;
}

AdminResult delete_message(const SpoolDirs& dirs, const std::string& id, SpoolState state,
                           bool engine_running, std::string_view default_sender) {
  AdminResult r;
  r.id = id;
  r.from = state;
  if (engine_running && (state == SpoolState::kIncoming || state == SpoolState::kActive)) {
    r = in_flight(id, state);
    if (state == SpoolState::kIncoming) {
      r.text = fmt::format(
          "{} is in incoming/new and the running engine may claim it any moment (in flight); "
          "stop the engine to delete it, or delete it once it is deferred or failed",
          id);
    }
    return r;
  }
  const int from_fd = dirs.state_fd(state);
  std::string text;
  auto meta = std::make_unique<MessageMeta>();
  std::string problem;
  read_meta_file(dirs.meta_fd, id.c_str(), text, *meta,
                 problem);  // a bad record only makes the count unknown
  r.pending = problem.empty() ? count_pending(from_fd, id, default_sender, *meta) : -1;
  struct stat st {};
  const bool is_dir = ::fstatat(from_fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
  if (::unlinkat(from_fd, id.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0) {
    if (errno == ENOENT) {
      r.outcome = engine_running ? AdminOutcome::kInFlight : AdminOutcome::kNotFound;
      r.text = fmt::format("{} left {}/ meanwhile{}; nothing deleted", id, spool_state_dir(state),
                           engine_running ? " (the engine is attempting it now)" : "");
    } else {
      r.outcome = AdminOutcome::kIoError;
      r.text = fmt::format("cannot delete {}/{}: {}", spool_state_dir(state), id, std::strerror(errno));
    }
    return r;
  }
  if (::unlinkat(dirs.meta_fd, id.c_str(), 0) != 0 && errno != ENOENT) {
    // The engine removes orphan meta files at its next start.
    r.text = fmt::format("deleted {} ({}, {}; meta/{} stays until the engine's next start: {})", id,
                         spool_state_name(state), pending_words(r.pending), id, std::strerror(errno));
    return r;
  }
  r.text = fmt::format("deleted {} ({}, {})", id, spool_state_name(state), pending_words(r.pending));
  return r;
}

bool load_message_details(const SpoolDirs& dirs, const std::string& id, SpoolState state,
                          std::string_view default_sender, MessageDetails& out, std::string& error) {
  out = MessageDetails{};
  out.id = id;
  out.state = state;
  const int fd = dirs.state_fd(state);
  struct stat st {};
  if (::fstatat(fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    error = fmt::format("{} is no longer in {}/", id, spool_state_dir(state));
    return false;
  }
  std::string meta_text;
  auto meta = std::make_unique<MessageMeta>();
  const MetaRead load = read_meta_file(dirs.meta_fd, id.c_str(), meta_text, *meta, out.problem);
  out.has_meta = load == MetaRead::kLoaded;
  if (load == MetaRead::kBad) *meta = MessageMeta{};
  out.attempts = meta->attempts;
  out.first_attempt = meta->first_attempt;
  out.next_attempt = meta->next_attempt;
  out.last_reply.assign(meta->last_reply);
  out.reason.assign(meta->reason);
  out.delay_warned = meta->delay_warned;
  if (const char* refusal = spool_entry_refusal(st)) {
    error = fmt::format("{}/{} is not a message file ({})", spool_state_dir(state), id, refusal);
    return false;
  }
  std::string head;
  bool whole = false;
  if (!read_head(fd, id, head, whole)) {
    error = fmt::format("cannot read {}/{}: {}", spool_state_dir(state), id, std::strerror(errno));
    return false;
  }
  auto envelope = std::make_unique<Envelope>();
  std::string parse_error;
  if (parse_envelope(head, whole, default_sender, *envelope, parse_error) != EnvelopeParse::kOk) {
    if (!out.problem.empty()) out.problem += "; ";
    out.problem += "malformed message: " + parse_error;
    return true;
  }
  out.sender.assign(envelope->sender);
  for (uint32_t i = 0; i < envelope->recipient_count; ++i) {
    RecipientDetail rcpt;
    rcpt.address.assign(envelope->recipients[i]);
    if (const RecipientMark* mark = find_mark(*meta, envelope->recipients[i])) {
      rcpt.state = mark->failed ? RecipientDetail::State::kFailed : RecipientDetail::State::kDone;
      rcpt.reply.assign(mark->reply);
    }
    out.recipients.push_back(std::move(rcpt));
  }
  const uint32_t begin = std::min<uint32_t>(envelope->body_offset, static_cast<uint32_t>(head.size()));
  const uint32_t end = std::clamp<uint32_t>(envelope->header_end, begin, static_cast<uint32_t>(head.size()));
  out.headers.assign(head, begin, end - begin);
  out.headers_cut = !whole && end == head.size();
  return true;
}

}  // namespace ringmail
