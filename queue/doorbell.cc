// queue/doorbell.cc — the eventfd half of Doorbell (see doorbell.h for the
// sleep/ring protocol). Called by worker cores and by whoever pushes into
// their rings; never blocks (the eventfd is non-blocking).
#include "queue/doorbell.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringmail {

namespace {

// kMaxEintrRetries bounds the retries of an interrupted eventfd read or write
// (non-blocking eventfd calls are not expected to see EINTR at all).
constexpr int kMaxEintrRetries = 8;

[[noreturn]] void die(const char* what, int err) {
  std::fprintf(stderr, "Doorbell: %s failed: %s (a bug: the eventfd was closed or corrupted)\n", what,
               std::strerror(err));
  std::abort();
}

}  // namespace

Doorbell::~Doorbell() {
  if (fd_ >= 0) ::close(fd_);
}

bool Doorbell::open(std::string& error) {
  if (fd_ >= 0) {
    error = "Doorbell::open called twice (a bug in the caller)";
    return false;
  }
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    error = std::string("cannot create the wake-up eventfd for a worker: ") + std::strerror(err);
    if (err == EMFILE || err == ENFILE) {
      error += "; raise the open-file limit (ulimit -n, LimitNOFILE= in the systemd unit)";
    } else if (err == ENOSYS) {
      error += "; this kernel lacks eventfd, which ringmail requires";
    }
    return false;
  }
  fd_ = fd;
  return true;
}

void Doorbell::write_eventfd() {
  const uint64_t one = 1;
  for (int attempt = 0; attempt < kMaxEintrRetries; ++attempt) {
    const ssize_t n = ::write(fd_, &one, sizeof(one));
    if (n == static_cast<ssize_t>(sizeof(one))) return;
    if (n < 0 && errno == EINTR) continue;
    // EAGAIN: the counter is at its maximum, so the fd is readable already.
    if (n < 0 && errno == EAGAIN) return;
    die("write to eventfd", n < 0 ? errno : EIO);
  }
  die("write to eventfd (interrupted repeatedly)", EINTR);
}

uint64_t Doorbell::drain() {
  uint64_t value = 0;
  for (int attempt = 0; attempt < kMaxEintrRetries; ++attempt) {
    const ssize_t n = ::read(fd_, &value, sizeof(value));
    if (n == static_cast<ssize_t>(sizeof(value))) return value;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;  // counter was zero
    die("read from eventfd", n < 0 ? errno : EIO);
  }
  die("read from eventfd (interrupted repeatedly)", EINTR);
}

}  // namespace ringmail
