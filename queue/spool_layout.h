// queue/spool_layout.h — the spool's directories, message ids and file names.
//
// The spool is the on-disk contract between producers (`ringmail inject`,
// or any program that follows docs/spool.md) and the engine. A message is a
// file that lives in exactly one state directory; every state change is one
// rename(2). This header opens the directories once (one fd each, so every
// later operation is an *at() call or its io_uring twin) and makes ids.
//
// Callers: the engine at start-up (create = true), `ringmail inject`
// (open_spool_incoming),
// `ringmail queue` (open_spool_for_reading). open_spool blocks (mkdir, open): never call it on a
// worker thread. Nothing here reads or writes message contents.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail {

// kMessageIdMax is the size of a buffer that holds any valid message id and
// its terminating NUL: ids are at most kMessageIdMax - 1 = 63 characters.
constexpr size_t kMessageIdMax = 64;

// SpoolState names the directory a message file is in. A message is always
// in exactly one of them (incoming/tmp holds files that are not messages yet).
// kHold: the engine could not record a message's outcome (disk full, I/O
// error) and will not attempt it again on its own; an operator releases it
// (docs/spool.md, "hold/").
enum class SpoolState { kIncoming, kActive, kDeferred, kFailed, kHold };
constexpr size_t kSpoolStateCount = 5;

// spool_state_dir is the state's directory relative to the spool root:
// "incoming/new", "active", "deferred", "failed", "hold".
const char* spool_state_dir(SpoolState state);

// spool_state_name is the state's name in logs and reports: "incoming",
// "active", "deferred", "failed", "hold".
const char* spool_state_name(SpoolState state);

// SpoolDirs holds one open directory fd (O_DIRECTORY|O_RDONLY|O_CLOEXEC) per
// spool directory. It owns them: the destructor closes every fd that is
// >= 0. Movable (the source is left with all fds -1), not copyable.
struct SpoolDirs {
  int root_fd = -1;
  int incoming_tmp_fd = -1;
  int incoming_new_fd = -1;
  int active_fd = -1;
  int deferred_fd = -1;
  int failed_fd = -1;
  int hold_fd = -1;
  int meta_fd = -1;
  std::string root;

  SpoolDirs() = default;
  ~SpoolDirs();
  SpoolDirs(SpoolDirs&& other) noexcept;
  SpoolDirs& operator=(SpoolDirs&& other) noexcept;
  SpoolDirs(const SpoolDirs&) = delete;
  SpoolDirs& operator=(const SpoolDirs&) = delete;

  // state_fd is the directory fd of |state| (incoming = incoming/new).
  int state_fd(SpoolState state) const;
  // close_all closes every open fd and sets it to -1.
  void close_all();
};

// open_spool opens the spool rooted at |root|: incoming/tmp, incoming/new,
// active, deferred, failed, hold and meta. With |create|, missing directories
// (the root itself included, but not its parents) are created with mode
// 0700. On success |out| holds the fds (any fds it held before are closed)
// and true is returned. On failure |out| is left closed, false is returned
// and |error| is a sentence naming the directory, the errno text and what
// to do, e.g. "cannot open spool directory /var/spool/ringmail/active: No
// such file or directory; check `spool` in the config or start `ringmail
// run` once to create the spool".
bool open_spool(const std::string& root, bool create, SpoolDirs& out, std::string& error);

// open_spool_incoming opens only what a producer (`ringmail inject`) uses:
// the root, incoming/tmp and incoming/new; the other fds stay -1. With
// |create|, those missing are created as open_spool does. A producer may
// be a member of the spool's inject group that cannot enter active/,
// deferred/, ... (docs/operations.md), so it never opens them. Errors as
// open_spool.
bool open_spool_incoming(const std::string& root, bool create, SpoolDirs& out, std::string& error);

// open_spool_for_reading opens the spool at |root| for a reader that must
// not create anything (`ringmail queue`). The root must exist; a missing
// subdirectory is not an error (a producer may have made only incoming/
// before `ringmail run` ever started, and spools made by older versions
// have no hold/): its fd stays -1 and its path relative to the root
// ("active", "incoming/tmp", ...) is appended to |missing|, in kSubdirs
// order. Any other failure is reported as open_spool reports it.
bool open_spool_for_reading(const std::string& root, SpoolDirs& out, std::vector<std::string>& missing,
                            std::string& error);

// make_message_id writes a new message id, NUL-terminated, into |out|:
// "<unix time in microseconds, 16 digits>.<pid>.<per-process counter>",
// e.g. "1712345678901234.4711.17". Ids are unique across the threads and
// processes of one host (the counter is atomic; pid + microsecond make
// processes distinct), sort by creation time (fixed-width time first) and
// are safe as Maildir file names. Thread-safe; never allocates.
void make_message_id(char (&out)[kMessageIdMax]);

// is_valid_message_id says whether |name| is a message file name the engine
// accepts from a producer: 1..63 bytes of printable ASCII without space
// (0x21..0x7e), no '/', not starting with '.' (names starting with '.' are a
// producer's temporary files and are always skipped).
bool is_valid_message_id(std::string_view name);

}  // namespace ringmail
