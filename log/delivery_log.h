// log/delivery_log.h — the delivery log's writer: a bounded lock-free ring
// (queue/mpsc_ring.h) of formatted lines, drained by one logger thread that
// writes them to the log file (or stdout) with write(2) in batches and, with
// syslog on, sends each attempt's Postfix-shaped text as a datagram to the
// local syslog socket.
//
// Who uses it: engine/engine.cc opens, starts and stops it; workers and the
// intake push records (engine/attempt_log.cc); the intake asks for a reopen
// on SIGUSR1.
//
// Rules: a producer never allocates, locks or makes a syscall to log, except
// a wake-up when the logger sleeps (Doorbell). When the ring is full the
// producer waits for room (yielding) and counts the wait (waits()): a line is
// never dropped for lack of room. The logger thread is the only one that
// touches the file and the socket. A line the kernel refuses (ENOSPC, EIO)
// is counted (write_errors()) and said on stderr once per episode, not
// retried forever: delivery is worth more than the log of it.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "queue/doorbell.h"
#include "queue/mpsc_ring.h"

namespace ringmail {

// LogRecord is one ring cell: a JSON line and, optionally, the text of a
// syslog message after it (text[json_len .. json_len + syslog_len)).
struct LogRecord {
  static constexpr size_t kBytes = 2048;
  static constexpr size_t kJsonCap = 1600;
  static constexpr size_t kSyslogCap = kBytes - 8 - kJsonCap;
  uint16_t json_len = 0;
  uint16_t syslog_len = 0;
  uint32_t unused = 0;
  char text[kBytes - 8];
};
static_assert(sizeof(LogRecord) == LogRecord::kBytes);

struct DeliveryLogOptions {
  std::string path;             // the JSON lines file; "-" = stdout; "" = no file
  bool syslog = false;          // also one syslog line per attempt
  std::string syslog_socket;    // the datagram socket, e.g. /dev/log
  int syslog_facility = 2;      // LOG_MAIL >> 3
  size_t ring_capacity = 1024;  // lines; a power of two
};

// open_log_file opens |path| for appending (O_APPEND|O_CREAT, mode 0640),
// "-" as a duplicate of stdout. Returns the fd, or -1 with |error|.
int open_log_file(const std::string& path, std::string& error);

// append_log_line writes one whole line with one write(2) to |path| opened
// O_APPEND (lines under PIPE_BUF are never interleaved with the engine's).
// For `ringmail queue --delete`; false with |error| when it cannot.
bool append_log_line(const std::string& path, const char* line, size_t len, std::string& error);

// syslog_facility_code maps a facility name ("mail", "daemon", "local0".."local7",
// "user") to its code (0..23); -1 when unknown.
int syslog_facility_code(const std::string& name);

class DeliveryLog {
 public:
  DeliveryLog() = default;
  ~DeliveryLog();
  DeliveryLog(const DeliveryLog&) = delete;
  DeliveryLog& operator=(const DeliveryLog&) = delete;

  // open opens the file and the syslog socket (on the calling thread, at
  // start-up: an unwritable path stops the engine with the reason). False
  // with |error|.
  bool open(const DeliveryLogOptions& options, std::string& error);
  // start runs the logger thread; stop lets it write every line pushed
  // before, then joins it. Both from the owner's thread.
  void start();
  void stop();

  bool writes_file() const { return fd_ >= 0; }
  bool writes_syslog() const { return syslog_fd_ >= 0; }
  bool enabled() const { return writes_file() || writes_syslog(); }

  // push hands a record to the logger (any thread): |fill(LogRecord&)|
  // formats it straight into a ring cell (only the bytes it writes are
  // touched: no 2 KiB copy). Waits while the ring is full, counting it;
  // never drops a record.
  template <typename F>
  void push(F&& fill) {
    if (!ring_->try_push_with(fill)) {
      note_full();
      while (!ring_->try_push_with(fill)) sched_yield();
    }
    doorbell_.ring();
  }
  // push_copy pushes a record formatted elsewhere (tests).
  void push_copy(const LogRecord& record);
  // request_reopen makes the logger reopen the file (SIGUSR1, after a
  // rotation by rename). Any thread.
  void request_reopen();

  uint64_t waits() const { return waits_.load(std::memory_order_relaxed); }
  uint64_t lines_written() const { return lines_.load(std::memory_order_relaxed); }
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }
  uint64_t syslog_errors() const { return syslog_errors_.load(std::memory_order_relaxed); }

 private:
  void note_full();
  void run();
  size_t drain();
  void take(const LogRecord& record);
  void write_batch();
  void send_syslog(const LogRecord& record);
  void reopen();

  DeliveryLogOptions options_;
  std::unique_ptr<MpscRing<LogRecord>> ring_;
  Doorbell doorbell_;
  std::thread thread_;
  int fd_ = -1;
  int syslog_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reopen_{false};
  std::atomic<uint64_t> waits_{0};
  std::atomic<uint64_t> lines_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> syslog_errors_{0};
  bool failing_ = false;  // the last write failed (said once per episode)
  // Logger thread only: the batch being built and one record popped.
  std::unique_ptr<char[]> batch_;
  size_t batch_len_ = 0;
  size_t batch_lines_ = 0;
};

}  // namespace ringmail
