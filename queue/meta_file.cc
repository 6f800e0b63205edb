// queue/meta_file.cc — see meta_file.h.
#include "queue/meta_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace ringmail {

bool write_meta_file(int meta_fd, const char* id, const MessageMeta& meta, std::string& error) {
  std::unique_ptr<char[]> text(new char[kMaxMetaBytes]);
  const size_t len = format_message_meta(meta, text.get(), kMaxMetaBytes);
  if (len == 0) {
    error = fmt::format("the record for {} does not fit in a meta file", id);
    return false;
  }
  const std::string tmp = fmt::format(".{}.tmp", id);
  const int fd = openat(meta_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = fmt::format("cannot create meta/{}: {}", tmp, std::strerror(errno));
    return false;
  }
  const char* step = nullptr;
  size_t done = 0;
  while (done < len && step == nullptr) {
    const ssize_t n = write(fd, text.get() + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      step = "write";
    else
      done += static_cast<size_t>(n);
  }
  if (step == nullptr && fdatasync(fd) != 0) step = "fsync";
  const int err = errno;
  if (close(fd) != 0 && step == nullptr) step = "close";
  if (step == nullptr && renameat(meta_fd, tmp.c_str(), meta_fd, id) != 0) {
    error = fmt::format("cannot rename meta/{} to meta/{}: {}", tmp, id, std::strerror(errno));
    unlinkat(meta_fd, tmp.c_str(), 0);
    return false;
  }
  if (step != nullptr) {
    error = fmt::format("cannot {} meta/{}: {}", step, tmp, std::strerror(err));
    unlinkat(meta_fd, tmp.c_str(), 0);
    return false;
  }
  return true;
}

MetaRead read_meta_file(int meta_fd, const char* id, std::string& text, MessageMeta& meta,
                        std::string& problem) {
  const int fd = openat(meta_fd, id, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) {
      meta = MessageMeta{};
      return MetaRead::kMissing;
    }
    problem = fmt::format("cannot read meta/{}: {}", id, std::strerror(errno));
    return MetaRead::kBad;
  }
  // One byte more than a record may have, so an oversized file is refused
  // by the parser instead of read as a shorter one.
  text.resize(kMaxMetaBytes + 1);
  size_t len = 0;
  while (len < text.size()) {
    const ssize_t n = read(fd, text.data() + len, text.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  text.resize(len);
  std::string error;
  if (!parse_message_meta(text, meta, error)) {
    problem = fmt::format("meta/{} is malformed ({})", id, error);
    return MetaRead::kBad;
  }
  return MetaRead::kLoaded;
}

}  // namespace ringmail
