// tests/unit/metrics_server_test.cc — the /metrics endpoint's HTTP pieces
// (metrics/http_request.h) at every byte split, its listen addresses, the
// real server on a loopback port, and the spool gauges on a real spool.
#include "metrics/metrics_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "metrics/http_request.h"
#include "metrics/spool_gauges.h"

namespace ringmail {
namespace {

TEST(HttpRequest, ParsesAtEveryByteSplit) {
  const std::string request = "GET /metrics?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n";
  for (size_t cut = 0; cut < request.size(); ++cut) {
    RequestHead head;
    EXPECT_EQ(parse_request_head(std::string_view(request).substr(0, cut), head), HeadStatus::kIncomplete)
        << cut;
  }
  RequestHead head;
  ASSERT_EQ(parse_request_head(request, head), HeadStatus::kComplete);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.path, "/metrics");
  EXPECT_EQ(route_request(head), MetricsRoute::kMetrics);
}

TEST(HttpRequest, RoutesAndRefuses) {
  const struct {
    const char* request;
    HeadStatus status;
    MetricsRoute route;
  } cases[] = {
      {"GET /metrics HTTP/1.0\n\n", HeadStatus::kComplete, MetricsRoute::kMetrics},
      {"HEAD /metrics HTTP/1.1\r\n\r\n", HeadStatus::kComplete, MetricsRoute::kMetrics},
      {"POST /metrics HTTP/1.1\r\n\r\n", HeadStatus::kComplete, MetricsRoute::kMethodNotAllowed},
      {"GET / HTTP/1.1\r\n\r\n", HeadStatus::kComplete, MetricsRoute::kNotFound},
      {"GET /metricsx HTTP/1.1\r\n\r\n", HeadStatus::kComplete, MetricsRoute::kNotFound},
      {"GET /metrics\r\n\r\n", HeadStatus::kBad, MetricsRoute::kNotFound},
      {"GET  HTTP/1.1\r\n\r\n", HeadStatus::kBad, MetricsRoute::kNotFound},
      {"\r\n\r\n", HeadStatus::kBad, MetricsRoute::kNotFound},
      {"GET /metrics SMTP/1.1\r\n\r\n", HeadStatus::kBad, MetricsRoute::kNotFound},
  };
  for (const auto& c : cases) {
    RequestHead head;
    const HeadStatus status = parse_request_head(c.request, head);
    EXPECT_EQ(status, c.status) << c.request;
    if (status == HeadStatus::kComplete) {
      EXPECT_EQ(route_request(head), c.route) << c.request;
    }
  }
}

TEST(HttpRequest, ListenAddresses) {
  sockaddr_storage addr;
  socklen_t len;
  std::string error;
  ASSERT_TRUE(parse_listen_address("127.0.0.1:9464", addr, len, error)) << error;
  EXPECT_EQ(addr.ss_family, AF_INET);
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port), 9464);
  ASSERT_TRUE(parse_listen_address("[::1]:9464", addr, len, error)) << error;
  EXPECT_EQ(addr.ss_family, AF_INET6);
  EXPECT_EQ(len, sizeof(sockaddr_in6));
  ASSERT_TRUE(parse_listen_address("localhost:1", addr, len, error)) << error;
  EXPECT_EQ(addr.ss_family, AF_INET);
  for (const char* bad : {"", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:9x",
                          "::1]:9464", "[::1]9464", "host.example:9464", ":9464"}) {
    error.clear();
    EXPECT_FALSE(parse_listen_address(bad, addr, len, error)) << bad;
    EXPECT_NE(error.find("metrics.listen"), std::string::npos) << bad;
  }
}

// ask sends |request| to 127.0.0.1:|port| and returns all the answer.
std::string ask(uint16_t port, const std::string& request, bool close_write = true) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  if (!request.empty()) (void)!write(fd, request.data(), request.size());
  if (close_write) shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  return answer;
}

TEST(MetricsServer, ServesMetricsAndRefusesTheRest) {
  MetricsServer server;
  std::string error;
  ASSERT_TRUE(server.open("127.0.0.1:0", error)) << error;
  ASSERT_NE(server.port(), 0);
  server.start([](std::string& out) { out += "ringmail_up 1\n"; });
  const std::string ok = ask(server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("Content-Length: 14\r\n"), std::string::npos) << ok;
  EXPECT_NE(ok.find("Connection: close\r\n\r\nringmail_up 1\n"), std::string::npos) << ok;
  const std::string head = ask(server.port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(head.find("ringmail_up"), std::string::npos) << head;
  EXPECT_EQ(ask(server.port(), "GET /other HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404 ", 0), 0u);
  const std::string post = ask(server.port(), "POST /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(post.rfind("HTTP/1.1 405 ", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(ask(server.port(), "nonsense\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  const std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(kMaxRequestHeadBytes, 'a');
  EXPECT_EQ(ask(server.port(), huge, false).rfind("HTTP/1.1 431 ", 0), 0u);
  // A client that closes without a whole request gets nothing and does not
  // stop the server.
  EXPECT_EQ(ask(server.port(), "GET /met"), "");
  EXPECT_EQ(ask(server.port(), "GET /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK", 0), 0u);
  server.stop();
}

TEST(MetricsServer, SlowClientTimesOut) {
  MetricsServer server;
  std::string error;
  ASSERT_TRUE(server.open("[::1]:0", error)) << error;
  server.start([](std::string& out) { out += "x 1\n"; });
  const int fd = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(server.port());
  addr.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  (void)!write(fd, "GET /metrics", 12);  // and never the rest
  std::string answer;
  char buf[512];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 408 ", 0), 0u) << answer;
  server.stop();
}

TEST(MetricsServer, BusyPortIsASentence) {
  MetricsServer first, second;
  std::string error;
  ASSERT_TRUE(first.open("127.0.0.1:0", error)) << error;
  EXPECT_FALSE(second.open("127.0.0.1:" + std::to_string(first.port()), error));
  EXPECT_NE(error.find("cannot listen on 127.0.0.1:"), std::string::npos) << error;
}

TEST(SpoolGauges, CountsStatesAndFindsTheOldest) {
  char tmpl[] = "/tmp/ringmail-gauges-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = std::string(tmpl) + "/spool";
  SpoolDirs dirs;
  std::string error;
  ASSERT_TRUE(open_spool(root, true, dirs, error)) << error;
  auto touch = [&](const char* dir, const char* name, time_t mtime) {
    const std::string path = root + "/" + dir + "/" + name;
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    const timespec times[2] = {{mtime, 0}, {mtime, 0}};
    futimens(fd, times);
    ::close(fd);
  };
  touch("incoming/new", "1700000000000003.1.1", 1'700'000'300);
  touch("incoming/new", ".tmp-not-a-message", 1'600'000'000);
  touch("incoming/tmp", "1600000000000000.1.1", 1'600'000'000);  // not a message yet
  touch("deferred", "1700000000000001.1.1", 1'700'000'100);
  touch("deferred", "1700000000000002.1.1", 1'700'000'200);
  touch("failed", "1700000000000004.1.1", 1'700'000'400);
  SpoolGauges gauges;
  scan_spool_gauges(dirs, gauges);
  EXPECT_EQ(gauges.counts[static_cast<size_t>(SpoolState::kIncoming)], 1u);
  EXPECT_EQ(gauges.counts[static_cast<size_t>(SpoolState::kActive)], 0u);
  EXPECT_EQ(gauges.counts[static_cast<size_t>(SpoolState::kDeferred)], 2u);
  EXPECT_EQ(gauges.counts[static_cast<size_t>(SpoolState::kFailed)], 1u);
  EXPECT_EQ(gauges.counts[static_cast<size_t>(SpoolState::kHold)], 0u);
  ASSERT_TRUE(gauges.has_oldest);
  EXPECT_EQ(gauges.oldest_mtime_ms, 1'700'000'100'000);

  // The cache keeps a scan for kMinScanIntervalNs, then scans again.
  SpoolGaugeCache cache(dirs);
  EXPECT_EQ(cache.get(1'000).counts[static_cast<size_t>(SpoolState::kDeferred)], 2u);
  touch("deferred", "1700000000000005.1.1", 1'700'000'500);
  EXPECT_EQ(cache.get(2'000).counts[static_cast<size_t>(SpoolState::kDeferred)], 2u);
  EXPECT_EQ(cache.get(1'000 + SpoolGaugeCache::kMinScanIntervalNs)
                .counts[static_cast<size_t>(SpoolState::kDeferred)],
            3u);
  dirs.close_all();
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace ringmail
