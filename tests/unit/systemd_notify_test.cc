// tests/unit/systemd_notify_test.cc — the sd_notify protocol
// (engine/systemd_notify.h: $NOTIFY_SOCKET parsing, STATUS= lines, real
// datagrams to a path and to an abstract socket) and the live status of
// `ringmail run` (engine/run_status.h: text, when a terminal line is drawn,
// refresh once a second, STATUS= only when the text changes).
#include "engine/systemd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/run_status.h"

namespace ringmail {
namespace {

TEST(NotifySocket, ParsesAbsolutePath) {
  NotifyAddress a;
  std::string error;
  ASSERT_TRUE(parse_notify_socket("/run/systemd/notify", a, error)) << error;
  EXPECT_EQ(a.addr.sun_family, AF_UNIX);
  EXPECT_STREQ(a.addr.sun_path, "/run/systemd/notify");
  EXPECT_EQ(a.length, offsetof(sockaddr_un, sun_path) + 19);
}

TEST(NotifySocket, ParsesAbstractNameWithLeadingNul) {
  NotifyAddress a;
  std::string error;
  ASSERT_TRUE(parse_notify_socket("@ringmail/notify", a, error)) << error;
  EXPECT_EQ(a.addr.sun_path[0], '\0');
  EXPECT_EQ(std::string(a.addr.sun_path + 1, 15), "ringmail/notify");
  EXPECT_EQ(a.length, offsetof(sockaddr_un, sun_path) + 16);  // no trailing NUL counted
}

TEST(NotifySocket, RefusesWhatIsNotAnUnixSocketName) {
  const std::string too_long_path = "/" + std::string(sizeof(sockaddr_un{}.sun_path) - 1, 'x');
  const std::string longest_path = "/" + std::string(sizeof(sockaddr_un{}.sun_path) - 2, 'x');
  const std::string longest_abstract = "@" + std::string(sizeof(sockaddr_un{}.sun_path) - 1, 'x');
  for (const std::string& bad : {std::string(""), std::string("relative/notify"), std::string("vsock:2:1234"),
                                 std::string("@"), too_long_path, longest_abstract + "x"}) {
    NotifyAddress a;
    std::string error;
    EXPECT_FALSE(parse_notify_socket(bad, a, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  NotifyAddress a;
  std::string error;
  EXPECT_TRUE(parse_notify_socket(longest_path, a, error)) << error;
  EXPECT_TRUE(parse_notify_socket(longest_abstract, a, error)) << error;
}

TEST(NotifySocket, StatusLineIsOneLine) {
  EXPECT_EQ(notify_status_line("idle: 0 msg/s"), "STATUS=idle: 0 msg/s");
  EXPECT_EQ(notify_status_line("a\nREADY=1\r\nb"), "STATUS=a READY=1  b");
}

// Receiver is a bound AF_UNIX datagram socket, as systemd's notify socket.
class Receiver {
 public:
  explicit Receiver(bool abstract) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    name_ = abstract ? "@ringmail-notify-test-" + std::to_string(::getpid())
                     : "/tmp/ringmail-notify-test-" + std::to_string(::getpid());
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", name_.c_str());
    if (abstract) addr.sun_path[0] = '\0';
    if (!abstract) ::unlink(name_.c_str());
    const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~Receiver() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  const std::string& name() const { return name_; }
  std::string receive() {
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n < 0 ? "<nothing>" : std::string(buf, static_cast<size_t>(n));
  }
  bool empty() {
    char buf[16];
    return ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) < 0;
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
  std::string name_;
};

TEST(SystemdNotifier, SendsDatagramsToAPathAndToAnAbstractName) {
  for (bool abstract : {false, true}) {
    Receiver receiver(abstract);
    ASSERT_TRUE(receiver.bound()) << receiver.name();
    SystemdNotifier notifier;
    std::string error;
    ASSERT_TRUE(notifier.open(receiver.name(), error)) << error;
    ASSERT_TRUE(notifier.enabled());
    EXPECT_TRUE(notifier.ready("started: 2 worker(s)"));
    EXPECT_EQ(receiver.receive(), "READY=1\nSTATUS=started: 2 worker(s)");
    EXPECT_TRUE(notifier.status("idle"));
    EXPECT_EQ(receiver.receive(), "STATUS=idle");
    EXPECT_TRUE(notifier.stopping("stopping"));
    EXPECT_EQ(receiver.receive(), "STOPPING=1\nSTATUS=stopping");
  }
}

TEST(SystemdNotifier, DoesNothingWithoutNotifySocket) {
  const char* saved = std::getenv("NOTIFY_SOCKET");
  const std::string keep = saved != nullptr ? saved : "";
  ::unsetenv("NOTIFY_SOCKET");
  SystemdNotifier notifier;
  std::string error;
  EXPECT_TRUE(notifier.open_from_environment(error));
  EXPECT_FALSE(notifier.enabled());
  EXPECT_TRUE(notifier.ready("x"));  // nothing to do is not a failure
  ::setenv("NOTIFY_SOCKET", "relative", 1);
  EXPECT_FALSE(notifier.open_from_environment(error));
  EXPECT_NE(error.find("NOTIFY_SOCKET=relative"), std::string::npos) << error;
  EXPECT_FALSE(notifier.enabled());
  if (saved != nullptr) {
    ::setenv("NOTIFY_SOCKET", keep.c_str(), 1);
  } else {
    ::unsetenv("NOTIFY_SOCKET");
  }
}

TEST(RunStatus, Text) {
  RunCounters c;
  c.delivered = 120000;
  c.deferrals = 40;
  c.failed = 3;
  c.in_flight = 512;
  c.deferred_waiting = 37;
  EXPECT_EQ(format_run_status(c, 1520.4),
            "delivering: 1520 msg/s, in flight 512, deferred 37, delivered 120000, failed 3");
  c.in_flight = 0;
  EXPECT_EQ(format_run_status(c, 0), "idle: 0 msg/s, in flight 0, deferred 37, delivered 120000, failed 3");
}

TEST(RunStatus, LiveLineOnlyOnATerminalOutsideSystemd) {
  EXPECT_TRUE(live_status_wanted(true, nullptr, nullptr));
  EXPECT_TRUE(live_status_wanted(true, "", ""));
  EXPECT_FALSE(live_status_wanted(false, nullptr, nullptr));
  EXPECT_FALSE(live_status_wanted(true, "/run/systemd/notify", nullptr));
  EXPECT_FALSE(live_status_wanted(true, nullptr, "8:12345"));
}

TEST(RunStatus, RedrawsOncePerSecondWithTheRecentRate) {
  SystemdNotifier off;
  std::FILE* terminal = std::tmpfile();
  ASSERT_NE(terminal, nullptr);
  RunStatus status(off, terminal);
  EXPECT_TRUE(status.live_line());
  EXPECT_TRUE(status.wants_ticks());
  RunCounters c;
  c.in_flight = 4;
  c.delivered = 1000;
  const uint64_t s = 1'000'000'000ull;
  status.update(c, 10 * s);  // sets the clock only
  c.delivered = 1500;
  status.update(c, 10 * s + s / 2);  // under a second: nothing
  EXPECT_EQ(status.text(), "");
  c.delivered = 3000;
  c.deferrals = 100;
  status.update(c, 12 * s);  // 2100 ended in 2 s
  EXPECT_EQ(status.text(), "delivering: 1050 msg/s, in flight 4, deferred 0, delivered 3000, failed 0");
  c.in_flight = 0;
  status.update(c, 13 * s);
  EXPECT_EQ(status.text(), "idle: 0 msg/s, in flight 0, deferred 0, delivered 3000, failed 0");
  std::rewind(terminal);
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, terminal);
  std::fclose(terminal);
  const std::string drawn(buf, n);
  EXPECT_EQ(drawn.find('\n'), std::string::npos) << drawn;
  // The second, shorter line is padded with spaces over the first one's end.
  const std::string first = "\rdelivering: 1050 msg/s, in flight 4, deferred 0, delivered 3000, failed 0";
  const std::string second = "\ridle: 0 msg/s, in flight 0, deferred 0, delivered 3000, failed 0";
  EXPECT_EQ(drawn, first + second + std::string(first.size() - second.size(), ' '));
}

TEST(RunStatus, SendsStatusOnlyWhenTheTextChanges) {
  Receiver receiver(/*abstract=*/true);
  ASSERT_TRUE(receiver.bound());
  SystemdNotifier notifier;
  std::string error;
  ASSERT_TRUE(notifier.open(receiver.name(), error)) << error;
  RunStatus status(notifier, nullptr);
  EXPECT_FALSE(status.live_line());
  EXPECT_TRUE(status.wants_ticks());
  RunCounters c;
  c.deferred_waiting = 2;
  const uint64_t s = 1'000'000'000ull;
  status.update(c, 1 * s);
  status.update(c, 2 * s);
  EXPECT_EQ(receiver.receive(), "STATUS=idle: 0 msg/s, in flight 0, deferred 2, delivered 0, failed 0");
  status.update(c, 3 * s);  // same text: nothing sent
  EXPECT_TRUE(receiver.empty());
  c.delivered = 5;
  status.update(c, 4 * s);
  EXPECT_EQ(receiver.receive(), "STATUS=idle: 5 msg/s, in flight 0, deferred 2, delivered 5, failed 0");
}

TEST(RunStatus, QuietWithoutTerminalOrSystemd) {
  SystemdNotifier off;
  RunStatus status(off, nullptr);
  EXPECT_FALSE(status.wants_ticks());
  status.update(RunCounters{}, 1);
  status.update(RunCounters{}, 5'000'000'000ull);
  EXPECT_EQ(status.text(), "");
}

}  // namespace
}  // namespace ringmail
