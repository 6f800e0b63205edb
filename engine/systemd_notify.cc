// engine/systemd_notify.cc — see systemd_notify.h.
#include "engine/systemd_notify.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace ringmail {

bool parse_notify_socket(std::string_view value, NotifyAddress& out, std::string& error) {
  out = NotifyAddress{};
  if (value.empty()) {
    error = "NOTIFY_SOCKET is empty";
    return false;
  }
  const bool abstract = value.front() == '@';
  if (!abstract && value.front() != '/') {
    error = "NOTIFY_SOCKET=" + std::string(value) +
            " is neither an absolute path nor an abstract socket name (@name); ringmail speaks only AF_UNIX "
            "notify sockets";
    return false;
  }
  // A path needs its terminating NUL inside sun_path; an abstract name
  // does not (its length is given by the address length).
  const size_t room = sizeof(out.addr.sun_path) - (abstract ? 0 : 1);
  if (value.size() > room || value.size() < 2) {
    error = "NOTIFY_SOCKET=" + std::string(value) + " is not a usable socket name (1.." +
            std::to_string(room - 1) + " characters after the first)";
    return false;
  }
  out.addr.sun_family = AF_UNIX;
  std::memcpy(out.addr.sun_path, value.data(), value.size());
  if (abstract) out.addr.sun_path[0] = '\0';
  out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + value.size());
  return true;
}

std::string notify_status_line(std::string_view text) {
  std::string line = "STATUS=";
  line.reserve(line.size() + text.size());
  for (char c : text) line += c == '\n' || c == '\r' ? ' ' : c;
  return line;
}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

bool SystemdNotifier::open_from_environment(std::string& error) {
  const char* value = std::getenv("NOTIFY_SOCKET");
  if (value == nullptr || value[0] == '\0') return true;
  return open(value, error);
}

bool SystemdNotifier::open(std::string_view address, std::string& error) {
  NotifyAddress parsed;
  if (!parse_notify_socket(address, parsed, error)) return false;
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("cannot create a socket for NOTIFY_SOCKET: ") + std::strerror(errno);
    return false;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  address_ = parsed;
  return true;
}

bool SystemdNotifier::send(std::string_view message) {
  if (fd_ < 0) return true;
  for (;;) {
    const ssize_t n = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr*>(&address_.addr), address_.length);
    if (n >= 0) return true;
    if (errno != EINTR) return false;
  }
}

}  // namespace ringmail
