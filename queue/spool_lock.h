// queue/spool_lock.h — one engine per spool. `ringmail run` takes an
// exclusive flock(2) on SPOOL/ringmail.lock for its whole life and writes
// its PID into the file; a second engine on the same spool (a second
// daemon, or a `run --drain` beside a daemon) fails to take it and says
// which process holds it. Without this lock the second engine "recovers"
// the first one's in-flight messages from active/ and delivers them twice.
//
// Producers (`ringmail inject`) and readers (`ringmail queue`) never take
// it. The lock dies with the process (kill -9 included): no stale locks.
// Blocking calls; start-up only, never on a worker thread.
#pragma once

#include <string>

namespace ringmail {

class SpoolLock {
 public:
  SpoolLock() = default;
  ~SpoolLock();
  SpoolLock(const SpoolLock&) = delete;
  SpoolLock& operator=(const SpoolLock&) = delete;

  // acquire opens (creating, mode 0600) |root_fd|/ringmail.lock and takes
  // an exclusive non-blocking flock. True on success (the file then holds
  // this process's PID). False with |error| a sentence: another engine
  // holds it ("spool /x is in use by another ringmail engine (PID 4711,
  // lock /x/ringmail.lock); ..."), or the file cannot be created.
  bool acquire(int root_fd, const std::string& root, std::string& error);

 private:
  int fd_ = -1;
};

}  // namespace ringmail
