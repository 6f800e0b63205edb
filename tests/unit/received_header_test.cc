// tests/unit/received_header_test.cc — the Received: field the listener
// writes (ingress/received_header.h): its exact text with and without TLS,
// one or many recipients, IPv4 and IPv6 clients, a hostile HELO name, and
// the RFC 5322 date in UTC.
#include "ingress/received_header.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringmail::ingress {
namespace {

TEST(ReceivedHeader, TlsOneRecipient) {
  const std::vector<std::string> rcpts = {"ops@example.org"};
  TransactionInfo info;
  info.helo = "alertmanager.test";
  info.recipients = &rcpts;
  info.protocol = "ESMTPSA";
  const TlsFacts tls{"TLSv1.3", "TLS_AES_256_GCM_SHA384"};
  std::string out = "kept";
  format_received_header(info, "192.0.2.7", &tls, "mx.test", "0001796096412000000.77.0.1", 1796096412, out);
  EXPECT_EQ(out,
            "keptReceived: from alertmanager.test ([192.0.2.7])\r\n"
            "\tby mx.test (ringmail) with ESMTPSA id 0001796096412000000.77.0.1\r\n"
            "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
            "\tfor <ops@example.org>; Tue, 01 Dec 2026 03:40:12 +0000\r\n");
}

TEST(ReceivedHeader, ClearManyRecipientsIpv6) {
  const std::vector<std::string> rcpts = {"a@example.org", "b@example.org"};
  TransactionInfo info;
  info.helo = "[IPv6:::1]";
  info.recipients = &rcpts;
  info.protocol = "ESMTP";
  std::string out;
  format_received_header(info, "::1", nullptr, "mx.test", "ID", 0, out);
  EXPECT_EQ(out,
            "Received: from [IPv6:::1] ([IPv6:::1])\r\n"
            "\tby mx.test (ringmail) with ESMTP id ID\r\n"
            "\t; Thu, 01 Jan 1970 00:00:00 +0000\r\n");
}

TEST(ReceivedHeader, HostileHeloCannotBreakTheField) {
  const std::vector<std::string> rcpts = {"a@example.org"};
  TransactionInfo info;
  const std::string helo = "evil (by x); for <y>\t" + std::string(400, 'h');
  info.helo = helo;
  info.recipients = &rcpts;
  info.protocol = "SMTP";
  std::string out;
  format_received_header(info, "192.0.2.1", nullptr, "mx.test", "ID", 86400 * 365, out);
  const std::string first = out.substr(0, out.find("\r\n"));
  EXPECT_EQ(first.substr(0, 40), "Received: from evil??by?x???for??y??hhhh");
  EXPECT_EQ(first.size(), std::string("Received: from ").size() + 255 + std::string(" ([192.0.2.1])").size());
  EXPECT_EQ(out.find_first_of("()", 15), first.size() - 13);  // only our own parentheses
  EXPECT_NE(out.find("; Fri, 01 Jan 1971 00:00:00 +0000\r\n"), std::string::npos);
}

}  // namespace
}  // namespace ringmail::ingress
