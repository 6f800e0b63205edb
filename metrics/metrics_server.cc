// metrics/metrics_server.cc — see metrics_server.h.
#include "metrics/metrics_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "metrics/http_request.h"

namespace ringmail {
namespace {

int64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// write_all sends |data| within |timeout_ms| in all; false on error or timeout.
bool write_all(int fd, std::string_view data, int timeout_ms) {
  const int64_t deadline = monotonic_ms() + timeout_ms;
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const int64_t left = deadline - monotonic_ms();
    if (left <= 0) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  }
  return true;
}

void answer(int fd, const char* status, std::string_view extra_headers, std::string_view body,
            bool send_body = true) {
  std::string head = "HTTP/1.1 ";
  head += status;
  head += "\r\n";
  head += extra_headers;
  head += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (write_all(fd, head, MetricsServer::kWriteTimeoutMs) && send_body) {
    write_all(fd, body, MetricsServer::kWriteTimeoutMs);
  }
}

}  // namespace

MetricsServer::~MetricsServer() { stop(); }

bool MetricsServer::open(std::string_view listen, std::string& error) {
  sockaddr_storage addr;
  socklen_t len = 0;
  if (!parse_listen_address(listen, addr, len, error)) return false;
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("metrics: cannot create a socket: ") + std::strerror(errno);
    return false;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 16) != 0) {
    error = "metrics: cannot listen on " + std::string(listen) + ": " + std::strerror(errno) +
            " (another process on that port? change [metrics] listen)";
    ::close(fd);
    return false;
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    error = std::string("metrics: eventfd: ") + std::strerror(errno);
    ::close(fd);
    return false;
  }
  listen_fd_ = fd;
  return true;
}

void MetricsServer::start(Render render) {
  render_ = std::move(render);
  thread_ = std::thread([this] { loop(); });
}

void MetricsServer::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  listen_fd_ = stop_fd_ = -1;
}

void MetricsServer::loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) continue;  // the client left already, or out of fds: try the next
    serve_client(client);
    ::close(client);
  }
}

void MetricsServer::serve_client(int fd) {
  char buffer[kMaxRequestHeadBytes];
  size_t used = 0;
  const int64_t deadline = monotonic_ms() + kReadTimeoutMs;
  RequestHead head;
  for (;;) {
    const HeadStatus status = parse_request_head(std::string_view(buffer, used), head);
    if (status == HeadStatus::kComplete) break;
    if (status == HeadStatus::kBad) {
      answer(fd, "400 Bad Request", "", "");
      return;
    }
    if (used == sizeof(buffer)) {
      answer(fd, "431 Request Header Fields Too Large", "", "");
      return;
    }
    const int64_t left = deadline - monotonic_ms();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      answer(fd, "408 Request Timeout", "", "");
      return;
    }
    const ssize_t n = ::recv(fd, buffer + used, sizeof(buffer) - used, 0);
    if (n == 0) return;  // the client gave up
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return;
    }
    used += static_cast<size_t>(n);
  }
  switch (route_request(head)) {
    case MetricsRoute::kNotFound:
      answer(fd, "404 Not Found", "Content-Type: text/plain; charset=utf-8\r\n",
             "only /metrics is served here\n");
      return;
    case MetricsRoute::kMethodNotAllowed:
      answer(fd, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", "");
      return;
    case MetricsRoute::kMetrics:
      break;
  }
  body_.clear();
  render_(body_);
  answer(fd, "200 OK", "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", body_,
         head.method == "GET");
}

}  // namespace ringmail
