// queue/dir_stream.h — streams the entries of a spool directory, given its
// fd, without loading the listing into memory (a spool can hold millions of
// files) and without disturbing the fd's own offset.
//
// Who uses it: the intake (claims, recovery, orphan meta clean-up), the
// queue report, the engine's end-of-run count. Blocking I/O: never on a
// worker thread.
#pragma once

#include <dirent.h>

namespace ringmail {

class DirStream {
 public:
  // DirStream opens its own description of the directory |dir_fd| (a dup
  // would share the offset). ok() is false if that failed.
  explicit DirStream(int dir_fd);
  ~DirStream();
  DirStream(const DirStream&) = delete;
  DirStream& operator=(const DirStream&) = delete;

  bool ok() const { return dir_ != nullptr; }
  // next returns the next entry other than "." and "..", or nullptr at the
  // end or on error (then errno != 0). Entries added or removed meanwhile
  // may or may not be seen (readdir's rule).
  const dirent* next();

 private:
  DIR* dir_ = nullptr;
};

}  // namespace ringmail
