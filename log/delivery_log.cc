// log/delivery_log.cc — see delivery_log.h.
#include "log/delivery_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "queue/write_all.h"

namespace ringmail {
namespace {

constexpr size_t kBatchBytes = 64 * 1024;  // one write(2) carries up to this much
constexpr int kIdleWakeMs = 1000;          // the logger looks at its flags at least this often
constexpr int kBusyWakeMs = 2;             // while lines flow: one batch per this interval

int connect_syslog(const std::string& path, std::string& error) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    error = fmt::format("the syslog socket path {} is too long (at most {} bytes)", path,
                        sizeof(addr.sun_path) - 1);
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = fmt::format("cannot create a socket for syslog: {}", std::strerror(errno));
    return -1;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    error = fmt::format(
        "cannot connect to the syslog socket {}: {}; start the syslog daemon (rsyslog, systemd-journald), "
        "set [log] syslog_socket to the right path, or syslog = false",
        path, std::strerror(errno));
    ::close(fd);
    return -1;
  }
  // A syslog daemon that stops reading must not stop the logger for long.
  timeval timeout{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  return fd;
}

}  // namespace

int open_log_file(const std::string& path, std::string& error) {
  if (path == "-") {
    const int fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) error = fmt::format("cannot use stdout for the delivery log: {}", std::strerror(errno));
    return fd;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) {
    error = fmt::format(
        "cannot open the delivery log {}: {}; create its directory and let the user ringmail runs as write "
        "there, or change [log] delivery",
        path, std::strerror(errno));
  }
  return fd;
}

bool append_log_line(const std::string& path, const char* line, size_t len, std::string& error) {
  const int fd = open_log_file(path, error);
  if (fd < 0) return false;
  const int err = write_all(fd, line, len);
  const bool ok = err == 0;
  ::close(fd);
  if (!ok) error = fmt::format("cannot write to the delivery log {}: {}", path, std::strerror(err));
  return ok;
}

int syslog_facility_code(const std::string& name) {
  static const struct {
    const char* name;
    int code;
  } kFacilities[] = {{"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
                     {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
                     {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17}, {"local2", 18},
                     {"local3", 19},   {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};
  for (const auto& f : kFacilities) {
    if (name == f.name) return f.code;
  }
  return -1;
}

DeliveryLog::~DeliveryLog() {
  stop();
  if (fd_ >= 0) ::close(fd_);
  if (syslog_fd_ >= 0) ::close(syslog_fd_);
}

bool DeliveryLog::open(const DeliveryLogOptions& options, std::string& error) {
  options_ = options;
  if (!options.path.empty()) {
    fd_ = open_log_file(options.path, error);
    if (fd_ < 0) return false;
  }
  if (options.syslog) {
    syslog_fd_ = connect_syslog(options.syslog_socket, error);
    if (syslog_fd_ < 0) return false;
  }
  if (!enabled()) return true;
  if (!doorbell_.open(error)) return false;
  ring_ = std::make_unique<MpscRing<LogRecord>>(options.ring_capacity);
  batch_.reset(new char[kBatchBytes]);
  return true;
}

void DeliveryLog::start() {
  if (!enabled() || thread_.joinable()) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ringmail-log");
    run();
  });
}

void DeliveryLog::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  doorbell_.ring_always();
  thread_.join();
}

void DeliveryLog::push_copy(const LogRecord& record) {
  push([&record](LogRecord& cell) {
    cell.json_len = record.json_len;
    cell.syslog_len = record.syslog_len;
    std::memcpy(cell.text, record.text, record.json_len + record.syslog_len);
  });
}

// note_full: the ring is full. Wake the logger (it may be on its batch
// timer) and count the wait.
void DeliveryLog::note_full() {
  waits_.fetch_add(1, std::memory_order_relaxed);
  doorbell_.ring_always();
}

void DeliveryLog::request_reopen() {
  if (!thread_.joinable()) return;
  reopen_.store(true, std::memory_order_release);
  doorbell_.ring_always();
}

// run: while lines flow, the logger wakes on a timer (kBusyWakeMs) without
// announcing sleep, so producers' ring() finds it awake and costs them no
// syscall, and each write(2) carries a batch. Only after a pass that found
// nothing does it announce sleep and wait for a producer's doorbell. A
// producer that finds the ring full wakes it at once (push).
void DeliveryLog::run() {
  for (;;) {
    const size_t popped = drain();
    if (reopen_.exchange(false, std::memory_order_acq_rel)) reopen();
    // stop() comes after every producer ended: an empty ring is the end.
    if (stop_.load(std::memory_order_acquire) && ring_->size_approx() == 0) break;
    pollfd p{doorbell_.fd(), POLLIN, 0};
    if (popped > 0) {
      ::poll(&p, 1, kBusyWakeMs);
      doorbell_.drain();
      continue;
    }
    doorbell_.prepare_to_sleep();
    if (!ring_->empty_approx() || stop_.load(std::memory_order_acquire) ||
        reopen_.load(std::memory_order_acquire)) {
      doorbell_.cancel_sleep();
      continue;
    }
    ::poll(&p, 1, kIdleWakeMs);
    doorbell_.woke();
    doorbell_.drain();
  }
}

size_t DeliveryLog::drain() {
  size_t popped = 0;
  while (ring_->try_pop_with([this](const LogRecord& record) { take(record); })) ++popped;
  write_batch();
  return popped;
}

// take copies one record's line into the batch (written when full) and
// sends its syslog text, reading the ring cell in place.
void DeliveryLog::take(const LogRecord& record) {
  if (fd_ >= 0 && record.json_len > 0) {
    if (batch_len_ + record.json_len > kBatchBytes) write_batch();
    std::memcpy(batch_.get() + batch_len_, record.text, record.json_len);
    batch_len_ += record.json_len;
    ++batch_lines_;
  }
  if (syslog_fd_ >= 0 && record.syslog_len > 0) send_syslog(record);
}

void DeliveryLog::write_batch() {
  if (batch_len_ == 0) return;
  const int err = write_all(fd_, batch_.get(), batch_len_);
  if (err == 0) {
    lines_.fetch_add(batch_lines_, std::memory_order_relaxed);
    if (failing_) {
      fmt::print(stderr, "ringmail: the delivery log {} is written again\n", options_.path);
      failing_ = false;
    }
  } else {
    write_errors_.fetch_add(batch_lines_, std::memory_order_relaxed);
    if (!failing_) {
      fmt::print(stderr,
                 "ringmail: cannot write the delivery log {}: {}; {} line(s) lost, delivery goes on (said "
                 "once until it works again)\n",
                 options_.path, std::strerror(err), batch_lines_);
      failing_ = true;
    }
  }
  batch_len_ = 0;
  batch_lines_ = 0;
}

// send_syslog sends one datagram in the local syslog format (RFC 3164 as
// glibc's syslog(3) writes it to /dev/log): "<PRI>Mmm dd hh:mm:ss ringmail[PID]: text".
void DeliveryLog::send_syslog(const LogRecord& record) {
  char datagram[LogRecord::kSyslogCap + 96];
  const time_t now = ::time(nullptr);
  tm local{};
  localtime_r(&now, &local);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &local);
  const int pri = options_.syslog_facility * 8 + 6;  // severity info, as Postfix logs deliveries
  const int head = std::snprintf(datagram, sizeof(datagram), "<%d>%s ringmail[%d]: ", pri, stamp,
                                 static_cast<int>(::getpid()));
  const size_t len = static_cast<size_t>(head) + record.syslog_len;
  std::memcpy(datagram + head, record.text + record.json_len, record.syslog_len);
  int err = 0;
  for (int tries = 0; tries < 2; ++tries) {
    if (::send(syslog_fd_, datagram, len, MSG_NOSIGNAL) >= 0) return;
    err = errno;
    if (err != ECONNREFUSED && err != ENOTCONN) break;
    // The syslog daemon restarted: its socket is a new one.
    std::string error;
    const int fd = connect_syslog(options_.syslog_socket, error);
    if (fd < 0) break;
    ::close(syslog_fd_);
    syslog_fd_ = fd;
  }
  if (syslog_errors_.fetch_add(1, std::memory_order_relaxed) == 0) {
    fmt::print(stderr, "ringmail: cannot send to syslog at {}: {} (said once)\n", options_.syslog_socket,
               std::strerror(err));
  }
}

void DeliveryLog::reopen() {
  if (fd_ < 0 || options_.path == "-") return;
  std::string error;
  const int fd = open_log_file(options_.path, error);
  if (fd < 0) {
    fmt::print(stderr, "ringmail: SIGUSR1: {}; still writing to the file opened before\n", error);
    return;
  }
  ::close(fd_);
  fd_ = fd;
  fmt::print(stderr, "ringmail: SIGUSR1: delivery log {} reopened\n", options_.path);
}

}  // namespace ringmail
