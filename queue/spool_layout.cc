// queue/spool_layout.cc — opens (and creates) the spool directories, makes
// message ids. See spool_layout.h and docs/spool.md.
//
// Blocking file-system calls only; called at start-up and by the CLI tools,
// never on a worker thread. Never reads, moves or deletes a message.
#include "queue/spool_layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <utility>

namespace ringmail {
namespace {

constexpr mode_t kSpoolDirMode = 0700;

// kSubdirs lists every directory under the root in creation order (parents
// first) with the SpoolDirs member that receives its fd. The first
// kIncomingSubdirs are all a producer needs (open_spool_incoming).
struct Subdir {
  const char* path;
  int SpoolDirs::*fd;
};
constexpr Subdir kSubdirs[] = {
    {"incoming", nullptr},
    {"incoming/tmp", &SpoolDirs::incoming_tmp_fd},
    {"incoming/new", &SpoolDirs::incoming_new_fd},
    {"active", &SpoolDirs::active_fd},
    {"deferred", &SpoolDirs::deferred_fd},
    {"failed", &SpoolDirs::failed_fd},
    {"hold", &SpoolDirs::hold_fd},
    {"meta", &SpoolDirs::meta_fd},
};
constexpr size_t kIncomingSubdirs = 3;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// hint_for gives the "what to do" half of an open/mkdir error sentence.
const char* hint_for(int err, bool create) {
  switch (err) {
    case ENOENT:
      return create ? "create its parent directory or fix `spool` in the config"
                    : "check `spool` in the config, or start `ringmail run` once to create the spool";
    case EACCES:
    case EPERM:
      return "run as the user that owns the spool (to queue mail into a packaged spool: as a member of "
             "its group ringmail-inject, docs/operations.md), or fix its owner and mode";
    case ENOTDIR:
      return "a file is in the way; move it and let ringmail create the directory";
    case EROFS:
      return "the file system is read-only; put the spool on a writable one";
    case ENOSPC:
    case EDQUOT:
      return "free some disk space or inodes";
    default:
      return "check the directory and its permissions";
  }
}

std::string describe(const std::string& root, const char* sub, const char* verb, int err, bool create) {
  std::string path = root;
  if (sub != nullptr) {
    if (!path.empty() && path.back() != '/') path += '/';
    path += sub;
  }
  std::string out = "cannot ";
  out += verb;
  out += " spool directory ";
  out += path;
  out += ": ";
  out += std::strerror(err);
  out += "; ";
  out += hint_for(err, create);
  return out;
}

// open_dir opens |path| relative to |dir_fd| as a directory, creating it
// first when |create|. Returns the fd or -1 with errno set; |*verb| says
// which step failed.
int open_dir(int dir_fd, const char* path, bool create, const char** verb) {
  if (create) {
    if (::mkdirat(dir_fd, path, kSpoolDirMode) != 0 && errno != EEXIST) {
      *verb = "create";
      return -1;
    }
  }
  *verb = "open";
  return ::openat(dir_fd, path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
}

std::atomic<uint64_t> g_id_counter{0};

}  // namespace

const char* spool_state_dir(SpoolState state) {
  switch (state) {
    case SpoolState::kIncoming:
      return "incoming/new";
    case SpoolState::kActive:
      return "active";
    case SpoolState::kDeferred:
      return "deferred";
    case SpoolState::kFailed:
      return "failed";
    case SpoolState::kHold:
      return "hold";
  }
  return "?";
}

const char* spool_state_name(SpoolState state) {
  switch (state) {
    case SpoolState::kIncoming:
      return "incoming";
    case SpoolState::kActive:
      return "active";
    case SpoolState::kDeferred:
      return "deferred";
    case SpoolState::kFailed:
      return "failed";
    case SpoolState::kHold:
      return "hold";
  }
  return "?";
}

SpoolDirs::~SpoolDirs() { close_all(); }

SpoolDirs::SpoolDirs(SpoolDirs&& other) noexcept { *this = std::move(other); }

SpoolDirs& SpoolDirs::operator=(SpoolDirs&& other) noexcept {
  if (this == &other) return *this;
  close_all();
  root_fd = std::exchange(other.root_fd, -1);
  incoming_tmp_fd = std::exchange(other.incoming_tmp_fd, -1);
  incoming_new_fd = std::exchange(other.incoming_new_fd, -1);
  active_fd = std::exchange(other.active_fd, -1);
  deferred_fd = std::exchange(other.deferred_fd, -1);
  failed_fd = std::exchange(other.failed_fd, -1);
  hold_fd = std::exchange(other.hold_fd, -1);
  meta_fd = std::exchange(other.meta_fd, -1);
  root = std::move(other.root);
  other.root.clear();
  return *this;
}

int SpoolDirs::state_fd(SpoolState state) const {
  switch (state) {
    case SpoolState::kIncoming:
      return incoming_new_fd;
    case SpoolState::kActive:
      return active_fd;
    case SpoolState::kDeferred:
      return deferred_fd;
    case SpoolState::kFailed:
      return failed_fd;
    case SpoolState::kHold:
      return hold_fd;
  }
  return -1;
}

void SpoolDirs::close_all() {
  close_fd(root_fd);
  close_fd(incoming_tmp_fd);
  close_fd(incoming_new_fd);
  close_fd(active_fd);
  close_fd(deferred_fd);
  close_fd(failed_fd);
  close_fd(hold_fd);
  close_fd(meta_fd);
}

namespace {

// open_spool_dirs opens the root and each state directory. With
// |missing| == nullptr every directory must exist (or is created with
// |create|); otherwise a missing one is listed there and left at -1.
bool open_spool_dirs(const std::string& root, bool create, SpoolDirs& out, std::vector<std::string>* missing,
                     size_t subdir_count, std::string& error) {
  out.close_all();
  out.root.clear();
  if (missing != nullptr) missing->clear();
  if (root.empty()) {
    error = "no spool directory configured; set `spool` in the config file";
    return false;
  }
  SpoolDirs dirs;
  dirs.root = root;
  const char* verb = "open";
  dirs.root_fd = open_dir(AT_FDCWD, root.c_str(), create, &verb);
  if (dirs.root_fd < 0) {
    error = describe(root, nullptr, verb, errno, create);
    return false;
  }
  for (size_t i = 0; i < subdir_count; ++i) {
    const Subdir& sub = kSubdirs[i];
    if (sub.fd == nullptr && missing != nullptr) continue;  // "incoming" is only a parent
    const int fd = open_dir(dirs.root_fd, sub.path, create, &verb);
    if (fd < 0 && errno == ENOENT && missing != nullptr) {
      missing->emplace_back(sub.path);
      continue;
    }
    if (fd < 0) {
      error = describe(root, sub.path, verb, errno, create);
      return false;
    }
    if (sub.fd == nullptr) {
      ::close(fd);  // "incoming" is only a parent
    } else {
      dirs.*(sub.fd) = fd;
    }
  }
  out = std::move(dirs);
  return true;
}

}  // namespace

bool open_spool(const std::string& root, bool create, SpoolDirs& out, std::string& error) {
  return open_spool_dirs(root, create, out, nullptr, std::size(kSubdirs), error);
}

bool open_spool_incoming(const std::string& root, bool create, SpoolDirs& out, std::string& error) {
  return open_spool_dirs(root, create, out, nullptr, kIncomingSubdirs, error);
}

bool open_spool_for_reading(const std::string& root, SpoolDirs& out, std::vector<std::string>& missing,
                            std::string& error) {
  return open_spool_dirs(root, /*create=*/false, out, &missing, std::size(kSubdirs), error);
}

void make_message_id(char (&out)[kMessageIdMax]) {
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const uint64_t micros =
      static_cast<uint64_t>(now.tv_sec) * 1'000'000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
  const uint64_t count = g_id_counter.fetch_add(1, std::memory_order_relaxed);
  // 16 + 1 + 10 + 1 + 20 digits at most = 48 < kMessageIdMax.
  std::snprintf(out, sizeof(out), "%016" PRIu64 ".%ld.%" PRIu64, micros, static_cast<long>(::getpid()),
                count);
}

bool is_valid_message_id(std::string_view name) {
  if (name.empty() || name.size() > kMessageIdMax - 1) return false;
  if (name.front() == '.') return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '/') return false;
  }
  return true;
}

}  // namespace ringmail
