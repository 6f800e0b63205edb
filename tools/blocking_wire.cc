// tools/blocking_wire.cc — see blocking_wire.h.
#include "tools/blocking_wire.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringmail {
namespace {

// wait_for polls |fd| for |events| up to |timeout_ms|: kOk when ready.
WireStatus wait_for(int fd, short events, uint32_t timeout_ms, std::string& error) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(timeout_ms));
    if (ready == 1) return WireStatus::kOk;
    if (ready == 0) {
      error = "no answer within " + std::to_string(timeout_ms) + " ms";
      return WireStatus::kTimedOut;
    }
    if (errno == EINTR) continue;
    error = std::strerror(errno);
    return WireStatus::kFailed;
  }
}

}  // namespace

WireStatus BlockingWire::connect_address(const sockaddr* address, socklen_t length, uint32_t timeout_ms,
                                         std::string& error) {
  close();
  const int fd = ::socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("cannot create a socket: ") + std::strerror(errno);
    return WireStatus::kFailed;
  }
  WireStatus status = WireStatus::kOk;
  if (::connect(fd, address, length) != 0) {
    if (errno != EINPROGRESS) {
      error = std::strerror(errno);
      status = WireStatus::kFailed;
    } else {
      status = wait_for(fd, POLLOUT, timeout_ms, error);
      int so_error = 0;
      socklen_t len = sizeof so_error;
      if (status == WireStatus::kOk && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0 &&
          so_error != 0) {
        error = std::strerror(so_error);
        status = WireStatus::kFailed;
      }
    }
  }
  if (status != WireStatus::kOk) {
    ::close(fd);
    return status;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = fd;
  return WireStatus::kOk;
}

WireStatus BlockingWire::connect_host(const std::string& host, uint16_t port, uint32_t timeout_ms,
                                      std::string& peer, bool& resolved, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port_text = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &list);
  resolved = rc == 0;
  if (!resolved) {
    error = ::gai_strerror(rc);
    return WireStatus::kFailed;
  }
  WireStatus status = WireStatus::kFailed;
  error = "no address";
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    char text[NI_MAXHOST] = "?";
    ::getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST);
    std::string why;
    status = connect_address(ai->ai_addr, ai->ai_addrlen, timeout_ms, why);
    if (status == WireStatus::kOk) {
      peer = text;
      break;
    }
    error = std::string(text) + ": " + why;
  }
  ::freeaddrinfo(list);
  return status;
}

WireStatus BlockingWire::send_all(const void* data, size_t size, uint32_t timeout_ms, std::string& error) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd_, bytes, size, MSG_NOSIGNAL);
    if (n > 0) {
      bytes += n;
      size -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      const WireStatus status = wait_for(fd_, POLLOUT, timeout_ms, error);
      if (status != WireStatus::kOk) return status;
      continue;
    }
    error = std::strerror(errno);
    return WireStatus::kFailed;
  }
  return WireStatus::kOk;
}

WireStatus BlockingWire::recv_some(void* buffer, size_t capacity, uint32_t timeout_ms, size_t& got,
                                   std::string& error) {
  got = 0;
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, capacity, 0);
    if (n >= 0) {
      got = static_cast<size_t>(n);
      return WireStatus::kOk;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      const WireStatus status = wait_for(fd_, POLLIN, timeout_ms, error);
      if (status != WireStatus::kOk) return status;
      continue;
    }
    error = std::strerror(errno);
    return WireStatus::kFailed;
  }
}

void BlockingWire::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace ringmail
