// queue/dir_stream.cc — see dir_stream.h.
#include "queue/dir_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringmail {

DirStream::DirStream(int dir_fd) {
  const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  dir_ = ::fdopendir(fd);
  if (dir_ == nullptr) ::close(fd);
}

DirStream::~DirStream() {
  if (dir_ != nullptr) ::closedir(dir_);
}

const dirent* DirStream::next() {
  if (dir_ == nullptr) return nullptr;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir_);
    if (entry == nullptr) return nullptr;
    if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
    return entry;
  }
}

}  // namespace ringmail
