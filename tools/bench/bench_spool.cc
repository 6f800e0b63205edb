// tools/bench/bench_spool.cc — see bench_spool.h.
#include "tools/bench/bench_spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringmail::bench {

bool generate_spool(const std::string& root, uint64_t count, uint32_t size, std::string& error) {
  for (const char* dir : {"", "/incoming", "/incoming/tmp", "/incoming/new"}) {
    if (mkdir((root + dir).c_str(), 0700) != 0 && errno != EEXIST) {
      error = fmt::format("cannot create {}{}: {}", root, dir, std::strerror(errno));
      return false;
    }
  }
  // The body: lines of 75 characters (a realistic alert is text), cut to
  // make each whole message |size| bytes.
  std::string filler;
  while (filler.size() < size) filler += std::string(75, 'x') + "\n";
  const int tmp_fd = open((root + "/incoming/tmp").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const int new_fd = open((root + "/incoming/new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bool ok = tmp_fd >= 0 && new_fd >= 0;
  if (!ok) error = fmt::format("cannot open {}/incoming: {}", root, std::strerror(errno));
  std::string message;
  for (uint64_t i = 0; ok && i < count; ++i) {
    message = fmt::format(
        "X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <ops@example.org>\n"
        "From: Monitoring <alerts@example.com>\nTo: ops@example.org\nSubject: [ALERT] host-{} disk usage "
        "above 90%\nMessage-Id: <bench-{}@ringmail.test>\n\n",
        i % 997, i);
    if (message.size() < size) message.append(filler, 0, size - message.size());
    char name[32];
    std::snprintf(name, sizeof(name), "b%010llu", static_cast<unsigned long long>(i));
    const int fd = openat(tmp_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const bool written =
        fd >= 0 && write(fd, message.data(), message.size()) == static_cast<ssize_t>(message.size());
    if (fd >= 0) close(fd);
    if (!written || renameat(tmp_fd, name, new_fd, name) != 0) {
      error = fmt::format("cannot write {}/incoming/new/{}: {}", root, name, std::strerror(errno));
      ok = false;
    }
  }
  if (tmp_fd >= 0) close(tmp_fd);
  if (new_fd >= 0) close(new_fd);
  return ok;
}

std::string SpoolFilesystem::describe() const {
  return fmt::format("{} ({})", type, in_memory ? "in memory" : "a disk");
}

SpoolFilesystem spool_filesystem(const std::string& path) {
  SpoolFilesystem fs;
  struct statfs info {};
  if (statfs(path.c_str(), &info) != 0) {
    fs.type = "?";
    return fs;
  }
  // Magic numbers from linux/magic.h (not every libc exposes them all).
  switch (static_cast<unsigned long>(info.f_type)) {
    case 0x01021994:
      fs.type = "tmpfs";
      fs.in_memory = true;
      break;
    case 0x858458f6:
      fs.type = "ramfs";
      fs.in_memory = true;
      break;
    case 0xEF53:
      fs.type = "ext4";
      break;
    case 0x58465342:
      fs.type = "xfs";
      break;
    case 0x9123683E:
      fs.type = "btrfs";
      break;
    case 0x794c7630:
      fs.type = "overlay";
      break;
    case 0x2FC12FC1:
      fs.type = "zfs";
      break;
    case 0x6969:
      fs.type = "nfs";
      break;
    default:
      fs.type = fmt::format("0x{:x}", static_cast<unsigned long>(info.f_type));
      break;
  }
  return fs;
}

}  // namespace ringmail::bench
