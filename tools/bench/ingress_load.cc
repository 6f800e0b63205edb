// tools/bench/ingress_load.cc — see ingress_load.h. One epoll loop over
// non-blocking loopback connections; each connection is a small state
// machine driven by the replies it expects, in order (PIPELINING).
#include "tools/bench/ingress_load.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>

#include "queue/monotonic_clock.h"

namespace ringmail::bench {

namespace {

// Expect is the reply a connection waits for next, in the order the
// commands were sent.
enum class Expect { kGreeting, kEhlo, kMail, kRcpt, kData, kFinal, kQuit };

const char* expect_name(Expect e) {
  switch (e) {
    case Expect::kGreeting:
      return "greeting";
    case Expect::kEhlo:
      return "EHLO";
    case Expect::kMail:
      return "MAIL";
    case Expect::kRcpt:
      return "RCPT";
    case Expect::kData:
      return "DATA";
    case Expect::kFinal:
      return "end of data";
    case Expect::kQuit:
      return "QUIT";
  }
  return "?";
}

// kIdDigits: the message counter's width inside the Message-Id, fixed so
// every alert of a connection has the same size and is patched in place.
constexpr int kIdDigits = 10;

struct Connection {
  int fd = -1;
  uint32_t index = 0;
  bool connected = false;
  bool chunking = false;  // the server listed CHUNKING
  uint64_t started = 0;   // messages whose commands were sent
  std::deque<Expect> expect;
  std::string in;          // bytes received, not yet a whole reply
  std::string reply_text;  // the current (multi-line) reply's lines
  std::string out;         // bytes to send
  size_t out_sent = 0;
  bool want_write = false;   // EPOLLOUT is armed
  std::string alert;         // this connection's message, its counter patched per message
  size_t id_counter_at = 0;  // where the counter digits are in |alert|
  double final_sent_at = 0;  // when the body went out (latency of the final reply)
};

class LoadRun {
 public:
  LoadRun(const LoadOptions& options, LoadResult& out) : options_(options), out_(out) {}
  ~LoadRun() {
    for (auto& c : conns_) {
      if (c->fd >= 0) ::close(c->fd);
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  bool run(std::string& error) {
    if (!parse_address(error)) return false;
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) {
      error = fmt::format("epoll_create1: {}", std::strerror(errno));
      return false;
    }
    start_ = monotonic_s();
    last_final_ = start_;
    for (uint32_t i = 0; i < options_.clients; ++i) {
      if (!open_connection(i, error)) return false;
    }
    const double deadline = start_ + options_.time_limit_s;
    epoll_event events[256];
    while (open_ > 0) {
      if (monotonic_s() >= deadline) {
        out_.timed_out = true;
        break;
      }
      const int n = ::epoll_wait(epoll_fd_, events, 256, 100);
      if (n < 0 && errno != EINTR) {
        error = fmt::format("epoll_wait: {}", std::strerror(errno));
        return false;
      }
      for (int i = 0; i < n; ++i) handle_event(*conns_[events[i].data.u32], events[i].events);
    }
    out_.seconds = last_final_ - start_;
    summarize_latency();
    return true;
  }

 private:
  bool parse_address(std::string& error) {
    addr_ = {};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&addr_);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr_);
    if (::inet_pton(AF_INET, options_.host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(options_.port);
      addr_len_ = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, options_.host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(options_.port);
      addr_len_ = sizeof(sockaddr_in6);
    } else {
      error = fmt::format("'{}' is not an IPv4 or IPv6 address", options_.host);
      return false;
    }
    return true;
  }

  bool open_connection(uint32_t index, std::string& error) {
    auto c = std::make_unique<Connection>();
    c->index = index;
    c->fd = ::socket(addr_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
      error = fmt::format("socket: {}", std::strerror(errno));
      return false;
    }
    const int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(c->fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0 && errno != EINPROGRESS) {
      error = fmt::format("connect to {}:{}: {}", options_.host, options_.port, std::strerror(errno));
      ::close(c->fd);
      return false;
    }
    const std::string id = fmt::format("<load-{:06}-{:0{}}@ringmail.test>", index, 0, kIdDigits);
    c->alert = make_alert(options_.message_bytes, id, options_.mail_from, options_.rcpt_to);
    c->id_counter_at = c->alert.find(id) + std::strlen("<load-000000-");
    c->expect.push_back(Expect::kGreeting);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;  // EPOLLOUT: the connect's completion
    ev.data.u32 = index;
    c->want_write = true;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
      error = fmt::format("epoll_ctl: {}", std::strerror(errno));
      ::close(c->fd);
      return false;
    }
    conns_.push_back(std::move(c));
    ++open_;
    return true;
  }

  void handle_event(Connection& c, uint32_t events) {
    if (c.fd < 0) return;
    if (!c.connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0)
        return fail(c, fmt::format("connect to {}:{}: {}", options_.host, options_.port, std::strerror(err)));
      c.connected = true;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_replies(c);
    if (c.fd >= 0) flush(c);
  }

  void read_replies(Connection& c) {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof(buf)) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      const std::string why = n == 0 ? "the server closed the connection" : std::strerror(errno);
      if (!c.expect.empty())
        return fail(c, fmt::format("waiting for the {} reply: {}", expect_name(c.expect.front()), why));
      return close_connection(c);
    }
    size_t start = 0;
    for (;;) {
      const size_t eol = c.in.find('\n', start);
      if (eol == std::string::npos) break;
      const std::string_view line(c.in.data() + start, eol - start);
      start = eol + 1;
      if (line.size() < 3) return fail(c, fmt::format("malformed reply line '{}'", line));
      c.reply_text.append(line).append("\n");
      if (line.size() > 3 && line[3] == '-') continue;  // more lines follow
      const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
      on_reply(c, code);
      c.reply_text.clear();
      if (c.fd < 0) return;
    }
    c.in.erase(0, start);
  }

  void on_reply(Connection& c, int code) {
    if (c.expect.empty()) return fail(c, fmt::format("unexpected reply: {}", trimmed(c.reply_text)));
    const Expect what = c.expect.front();
    c.expect.pop_front();
    switch (what) {
      case Expect::kGreeting:
        if (code != 220) return fail(c, fmt::format("greeting: {}", trimmed(c.reply_text)));
        c.out += fmt::format("EHLO {}\r\n", options_.helo);
        c.expect.push_back(Expect::kEhlo);
        return;
      case Expect::kEhlo:
        if (code != 250) return fail(c, fmt::format("EHLO: {}", trimmed(c.reply_text)));
        c.chunking = c.reply_text.find("CHUNKING") != std::string::npos;
        if (c.reply_text.find("PIPELINING") == std::string::npos) {
          return fail(c, "the server does not offer PIPELINING");
        }
        if (options_.bdat && !c.chunking)
          return fail(c, "the server does not offer CHUNKING (needed for BDAT)");
        return next_message(c);
      case Expect::kMail:
      case Expect::kRcpt:
        if (code != 250) return fail(c, fmt::format("{}: {}", expect_name(what), trimmed(c.reply_text)));
        return;
      case Expect::kData:
        if (code != 354) return fail(c, fmt::format("DATA: {}", trimmed(c.reply_text)));
        c.out.append(c.alert).append(".\r\n");
        c.final_sent_at = monotonic_s();
        c.expect.push_back(Expect::kFinal);
        return;
      case Expect::kFinal: {
        const double now = monotonic_s();
        last_final_ = now;
        if (code == 250) {
          ++out_.accepted;
          latencies_us_.push_back(static_cast<float>((now - c.final_sent_at) * 1e6));
        } else {
          ++out_.refused;
          note_error(fmt::format("end of data: {}", trimmed(c.reply_text)));
        }
        return next_message(c);
      }
      case Expect::kQuit:
        ++out_.connections_done;
        return close_connection(c);
    }
  }

  // next_message sends the next message's commands (or QUIT after the last).
  void next_message(Connection& c) {
    if (c.started == options_.messages_per_client) {
      c.out += "QUIT\r\n";
      c.expect.push_back(Expect::kQuit);
      return;
    }
    char digits[kIdDigits + 1];
    std::snprintf(digits, sizeof(digits), "%0*llu", kIdDigits, static_cast<unsigned long long>(c.started));
    std::memcpy(c.alert.data() + c.id_counter_at, digits, kIdDigits);
    ++c.started;
    c.out += fmt::format("MAIL FROM:<{}> SIZE={}\r\nRCPT TO:<{}>\r\n", options_.mail_from, c.alert.size(),
                         options_.rcpt_to);
    c.expect.push_back(Expect::kMail);
    c.expect.push_back(Expect::kRcpt);
    if (options_.bdat) {
      c.out += fmt::format("BDAT {} LAST\r\n", c.alert.size());
      c.out += c.alert;
      c.final_sent_at = monotonic_s();
      c.expect.push_back(Expect::kFinal);
    } else {
      c.out += "DATA\r\n";
      c.expect.push_back(Expect::kData);
    }
  }

  void flush(Connection& c) {
    while (c.out_sent < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return fail(c, fmt::format("send: {}", std::strerror(errno)));
    }
    if (c.out_sent == c.out.size()) {
      c.out.clear();
      c.out_sent = 0;
    }
    const bool want_write = c.out_sent < c.out.size() || !c.connected;
    if (want_write != c.want_write) {
      epoll_event ev{};
      ev.events = EPOLLIN | (want_write ? EPOLLOUT : 0u);
      ev.data.u32 = c.index;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_write = want_write;
    }
  }

  static std::string trimmed(const std::string& text) {
    std::string out = text;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    std::replace(out.begin(), out.end(), '\n', ' ');
    out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
    return out;
  }

  void note_error(const std::string& what) {
    if (out_.first_error.empty()) out_.first_error = what;
  }

  void fail(Connection& c, const std::string& what) {
    note_error(fmt::format("connection {}: {}", c.index, what));
    close_connection(c);
  }

  void close_connection(Connection& c) {
    if (c.fd < 0) return;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c.fd = -1;
    --open_;
  }

  void summarize_latency() {
    if (latencies_us_.empty()) return;
    std::sort(latencies_us_.begin(), latencies_us_.end());
    auto at = [&](double q) {
      return static_cast<double>(latencies_us_[static_cast<size_t>(q * (latencies_us_.size() - 1))]);
    };
    out_.latency_p50_us = at(0.5);
    out_.latency_p99_us = at(0.99);
    out_.latency_max_us = latencies_us_.back();
  }

  const LoadOptions& options_;
  LoadResult& out_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> conns_;
  uint32_t open_ = 0;
  double start_ = 0, last_final_ = 0;
  std::vector<float> latencies_us_;
};

}  // namespace

std::string make_alert(uint32_t bytes, const std::string& message_id, const std::string& from,
                       const std::string& to) {
  std::string out = fmt::format(
      "From: <{}>\r\nTo: <{}>\r\nSubject: ringmail bench-ingress alert\r\nMessage-Id: {}\r\n"
      "Date: Tue, 01 Dec 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
      from, to, message_id);
  size_t left = bytes > out.size() ? bytes - out.size() : 0;
  size_t letter = 0;
  while (left >= 2) {
    size_t line = std::min<size_t>(78, left);
    if (left - line == 1) --line;  // never leave a single byte that cannot be a line
    for (size_t i = 0; i + 2 < line; ++i) out.push_back(static_cast<char>('a' + letter++ % 26));
    out += "\r\n";
    left -= line;
  }
  return out;
}

bool run_ingress_load(const LoadOptions& options, LoadResult& out, std::string& error) {
  out = LoadResult{};
  if (options.clients == 0) {
    error = "--clients must be at least 1";
    return false;
  }
  LoadRun run(options, out);
  return run.run(error);
}

}  // namespace ringmail::bench
