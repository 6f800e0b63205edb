// tests/unit/ingress_listener_test.cc — the listener's pure pieces on the
// engine side: the delivery log's "accepted" and "rejected" lines (and the
// JSON array they use), the metric names of the session's events, the
// address formatting and the split of max_connections over workers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "engine/ingress_setup.h"
#include "ingress/smtp_server_session.h"
#include "log/ingress_event.h"
#include "log/json_line.h"
#include "metrics/core_metrics.h"

namespace ringmail {
namespace {

std::string accepted_line(const AcceptedEvent& event) {
  char buf[1600];
  return std::string(buf, format_accepted_json(event, buf, sizeof(buf)));
}

TEST(IngressLog, AcceptedLineHasEveryField) {
  const std::vector<std::string> rcpts = {"ops@example.org", "oncall@example.org"};
  AcceptedEvent e;
  e.time_ms = 1'764'550'000'123;
  e.id = "1764550000123456.42.0.7";
  e.listener = "127.0.0.1:2525";
  e.client = "192.0.2.9";
  e.tls_version = "TLSv1.3";
  e.tls_cipher = "TLS_AES_128_GCM_SHA256";
  e.auth_user = "alerts";
  e.sender = "alerts@example.com";
  e.recipients = &rcpts;
  e.size_bytes = 2048;
  EXPECT_EQ(
      accepted_line(e),
      "{\"time\":\"2025-12-01T00:46:40.123Z\",\"event\":\"accepted\",\"id\":\"1764550000123456.42.0.7\","
      "\"listener\":\"127.0.0.1:2525\",\"client\":\"192.0.2.9\",\"tls\":\"TLSv1.3\","
      "\"tls_cipher\":\"TLS_AES_128_GCM_SHA256\",\"auth_user\":\"alerts\",\"from\":\"alerts@example.com\","
      "\"size\":2048,\"recipients\":2,\"to\":[\"ops@example.org\",\"oncall@example.org\"]}\n");
}

TEST(IngressLog, AcceptedLineInClearWithoutAuth) {
  const std::vector<std::string> rcpts = {"a\"b@example.org"};
  AcceptedEvent e;
  e.id = "x";
  e.recipients = &rcpts;
  const std::string line = accepted_line(e);
  EXPECT_NE(line.find("\"tls\":null,\"tls_cipher\":null,\"auth_user\":null,\"from\":\"\""),
            std::string::npos);
  EXPECT_NE(line.find("\"to\":[\"a\\\"b@example.org\"]"), std::string::npos) << line;
}

TEST(IngressLog, ManyRecipientsAreCutWholeAndMarked) {
  std::vector<std::string> rcpts;
  for (int i = 0; i < 1000; ++i) rcpts.push_back("recipient" + std::to_string(i) + "@example.org");
  AcceptedEvent e;
  e.id = "x";
  e.recipients = &rcpts;
  const std::string line = accepted_line(e);
  EXPECT_LE(line.size(), 1600u);
  EXPECT_NE(line.find("\"recipients\":1000"), std::string::npos);
  EXPECT_NE(line.find("\"recipient0@example.org\""), std::string::npos);
  EXPECT_EQ(line.find("\"recipient999@example.org\""), std::string::npos);
  EXPECT_NE(line.find("@example.org\"],\"truncated\":true}\n"), std::string::npos) << line;
}

TEST(IngressLog, RejectedLine) {
  RejectedEvent e;
  e.time_ms = 0;
  e.listener = "[::1]:25";
  e.client = "::1";
  e.reason = "relay_denied";
  e.detail = "<victim@example.org>";
  char buf[1600];
  const std::string line(buf, format_rejected_json(e, buf, sizeof(buf)));
  EXPECT_EQ(line,
            "{\"time\":\"1970-01-01T00:00:00.000Z\",\"event\":\"rejected\",\"listener\":\"[::1]:25\","
            "\"client\":\"::1\",\"reason\":\"relay_denied\",\"detail\":\"<victim@example.org>\"}\n");
}

TEST(IngressMetrics, EventNamesFollowTheSessionEnum) {
  // The metric label is the session's own name with '_' for '-'.
  for (size_t i = 0; i < kIngressEventCount; ++i) {
    std::string expected = ingress::session_event_name(static_cast<ingress::SessionEvent>(i));
    for (char& c : expected) c = c == '-' ? '_' : c;
    EXPECT_EQ(ingress_event_name(i), expected) << i;
  }
  EXPECT_STREQ(ingress_event_name(kIngressEventCount), "?");
}

TEST(IngressSetup, SocketAddressesAreWrittenAsConfigured) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(2525);
  inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
  EXPECT_EQ(format_socket_address(reinterpret_cast<sockaddr*>(&v4)), "127.0.0.1:2525");
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(587);
  inet_pton(AF_INET6, "::1", &v6.sin6_addr);
  EXPECT_EQ(format_socket_address(reinterpret_cast<sockaddr*>(&v6)), "[::1]:587");
}

TEST(IngressSetup, ConnectionsAreSplitOverWorkers) {
  EXPECT_EQ(split_connections(10, 3), (std::vector<uint32_t>{4, 3, 3}));
  EXPECT_EQ(split_connections(1, 2), (std::vector<uint32_t>{1, 0}));
  EXPECT_EQ(split_connections(1000, 1), (std::vector<uint32_t>{1000}));
}

}  // namespace
}  // namespace ringmail
