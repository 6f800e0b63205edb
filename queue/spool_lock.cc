// queue/spool_lock.cc — see spool_lock.h.
#include "queue/spool_lock.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ringmail {
namespace {

constexpr const char* kLockName = "ringmail.lock";

// holder_pid reads the PID the holder wrote; 0 if unknown.
long holder_pid(int fd) {
  char text[32] = {0};
  const ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
  if (n <= 0) return 0;
  return std::strtol(text, nullptr, 10);
}

}  // namespace

SpoolLock::~SpoolLock() {
  if (fd_ >= 0) close(fd_);
}

bool SpoolLock::acquire(int root_fd, const std::string& root, std::string& error) {
  const std::string path = root + "/" + kLockName;
  const int fd = openat(root_fd, kLockName, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = fmt::format("cannot open the spool lock {}: {}; check the spool's permissions", path,
                        std::strerror(errno));
    return false;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      const long pid = holder_pid(fd);
      error = fmt::format(
          "spool {} is in use by another ringmail engine ({}, lock {}); only one engine may run on a spool: "
          "stop it first, or let it deliver (producers queue mail with `ringmail inject`)",
          root, pid > 0 ? fmt::format("PID {}", pid) : std::string("PID unknown"), path);
    } else {
      error = fmt::format("cannot lock {}: {}", path, std::strerror(err));
    }
    close(fd);
    return false;
  }
  const std::string pid = fmt::format("{}\n", static_cast<long>(getpid()));
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock holds without the PID; only the message of a second engine
    // is poorer for it.
  }
  fd_ = fd;
  return true;
}

}  // namespace ringmail
