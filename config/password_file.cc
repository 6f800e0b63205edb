// config/password_file.cc — see password_file.h. Blocking file I/O: the
// main thread at start-up only.
#include "config/password_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace ringmail {

bool read_private_file(const PrivateFile& file, const std::string& path, std::string& text,
                       std::string& error) {
  const std::string key = std::string(file.key) + " " + path;
  // O_NOFOLLOW is not used: a symbolic link to a 0600 file is a common
  // layout (secrets mounted elsewhere); fstat judges the file itself.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int saved = errno;
    error = key + " cannot be read: " + std::strerror(saved) +
            (saved == ENOENT   ? "; create it with " + std::string(file.holds) + " (chmod 600 " + path + ")"
             : saved == EACCES ? "; make it readable by the user ringmail runs as (and only by it: chmod 600)"
                               : std::string());
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = key + " is not a regular file; it must hold " + file.holds;
    ::close(fd);
    return false;
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%03o", static_cast<unsigned>(st.st_mode & 0777));
    error = key + " may be read by other users (mode " + mode + "); refusing to use " + file.secret +
            " others can read: chmod 600 " + path;
    ::close(fd);
    return false;
  }
  std::string read_text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = key + " cannot be read: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    read_text.append(buffer, static_cast<size_t>(n));
    if (read_text.size() > file.max_bytes) {
      error = key + " is larger than " + std::to_string(file.max_bytes) + " bytes; it must hold only " +
              file.holds;
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  text = std::move(read_text);
  return true;
}

bool read_password_file(const std::string& path, std::string& password, std::string& error) {
  static constexpr PrivateFile kFile = {"relay.password_file", "the relay password on one line", "a password",
                                        kMaxPasswordFileBytes};
  std::string text;
  if (!read_private_file(kFile, path, text, error)) return false;
  if (!text.empty() && text.back() == '\n') {
    text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
  }
  password = std::move(text);
  return true;
}

}  // namespace ringmail
