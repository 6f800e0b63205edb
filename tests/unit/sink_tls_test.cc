// tests/unit/sink_tls_test.cc — the sink's STARTTLS and AUTH as the session
// machine sees them (tools/sink/sink_session.h): every dialogue fed whole,
// split in two at every byte, and in chunks of every size; bytes pipelined
// after STARTTLS discarded; the RFC 3207 reset; AUTH PLAIN and LOGIN, right
// and wrong, cancelled, undecodable; MAIL before AUTH; counts by channel.
// Also the pure base64 and PLAIN parsing (ingress/sasl_decode.h, shared with the listener), and one
// loopback run of the real server with STARTTLS against a TlsSession client.
//
// Bounded: no test takes more than a second; the loopback test uses port 0
// and a receive timeout.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ingress/sasl_decode.h"
#include "tests/support/test_pki.h"
#include "tls/tls_client_context.h"
#include "tls/tls_server_context.h"
#include "tls/tls_session.h"
#include "tools/sink/sink_server.h"
#include "tools/sink/sink_session.h"

namespace ringmail::sink {
using ingress::base64_decode;
using ingress::parse_plain;
using ingress::PlainCredentials;
namespace {

// TlsDriver plays the server loop around the machine, with the handshake
// reduced to a call: on kStartTls it "sends" the 220, drops the rest of the
// current read (as sink_server.cc does) and calls tls_started(). The client
// script is given as reads; each read is fed split as the test asks.
struct TlsDriver {
  explicit TlsDriver(SessionConfig c) : config(std::move(c)), session(&config, nullptr) {
    session.start(nullptr, &queue_id);
    take_output();
  }
  // read feeds one client read (in pieces of |chunk| bytes).
  void read(std::string_view bytes, size_t chunk) {
    std::string pending;
    for (size_t i = 0; i < bytes.size() && !closed; i += chunk) {
      pending.append(bytes.substr(i, chunk));
      while (!pending.empty() && !closed) {
        const FeedResult r = session.feed(pending.data(), pending.size());
        pending.erase(0, r.consumed);
        messages += r.messages_accepted;
        messages_tls += r.messages_tls;
        auth_tls += r.auth_tls;
        auth_clear += r.auth_clear;
        auth_failed += r.auth_failed;
        discarded += r.discarded_after_starttls;
        take_output();
        if (r.action == SessionAction::kClose) closed = true;
        if (r.action == SessionAction::kStartTls) starttls_seen = true;
        if (r.consumed == 0 && r.action == SessionAction::kContinue) {
          ADD_FAILURE() << "no progress";
          return;
        }
      }
    }
    if (starttls_seen && !session.tls_active()) {
      // End of this read: the server runs the handshake now.
      EXPECT_EQ(session.state(), SmtpServerSession::State::kStartTls);
      session.tls_started();
      transcript += "[TLS]\r\n";
    }
  }
  void take_output() {
    transcript.append(session.output());
    session.consume_output(session.output().size());
  }

  SessionConfig config;
  uint64_t queue_id = 1;
  SmtpServerSession session;
  std::string transcript;
  uint64_t messages = 0, messages_tls = 0, auth_tls = 0, auth_clear = 0, auth_failed = 0;
  size_t discarded = 0;
  bool starttls_seen = false;
  bool closed = false;
};

SessionConfig tls_config(bool auth) {
  SessionConfig config;
  config.hostname = "sink.test";
  config.starttls = true;
  if (auth) {
    config.auth_user = "alerts";
    config.auth_password = "s3cret";
  }
  return config;
}

// The EHLO replies in clear (STARTTLS offered) and over TLS (not offered).
const char kEhloClear[] =
    "250-sink.test\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-CHUNKING\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n";
const char kEhloTls[] =
    "250-sink.test\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250-CHUNKING\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n";
const char kGreeting[] = "220 sink.test ESMTP ringmail-sink\r\n";

// A dialogue: the client's reads (the first ends with STARTTLS), the
// expected transcript and counts.
struct Dialogue {
  const char* name;
  std::vector<std::string> reads;
  std::string replies;
  uint64_t messages_tls;
  uint64_t auth_tls;
  uint64_t auth_clear;
  uint64_t auth_failed;
  size_t discarded;
};

std::vector<Dialogue> dialogues() {
  const std::string mail =
      "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n";
  const std::string mail_replies =
      "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
      "250 2.0.0 Ok: queued as 1\r\n221 2.0.0 Bye\r\n";
  const std::string before =
      std::string(kGreeting) + kEhloClear + "220 2.0.0 Ready to start TLS\r\n[TLS]\r\n";
  return {
      {"STARTTLS, AUTH PLAIN with initial response, message",
       {"EHLO c\r\nSTARTTLS\r\n", "EHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\n" + mail},
       before + kEhloTls + "235 2.7.0 Authentication successful\r\n" + mail_replies,
       1,
       1,
       0,
       0,
       0},
      {"AUTH PLAIN after 334, LOGIN-style wrong first",
       {"EHLO c\r\nSTARTTLS\r\n",
        "EHLO c\r\nMAIL FROM:<a@b>\r\nAUTH PLAIN\r\nAGFsZXJ0cwB3cm9uZw==\r\nAUTH PLAIN\r\n"
        "AGFsZXJ0cwBzM2NyZXQ=\r\n" +
            mail},
       before + kEhloTls +
           "530 5.7.0 Authentication required\r\n334 \r\n"
           "535 5.7.8 Error: authentication failed: authentication failure\r\n334 \r\n"
           "235 2.7.0 Authentication successful\r\n" +
           mail_replies,
       1,
       2,
       0,
       1,
       0},
      {"AUTH LOGIN in two steps",
       {"EHLO c\r\nSTARTTLS\r\n", "EHLO c\r\nAUTH LOGIN\r\nYWxlcnRz\r\nczNjcmV0\r\n" + mail},
       before + kEhloTls + "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n" +
           mail_replies,
       1,
       1,
       0,
       0,
       0},
      {"AUTH LOGIN with the user as initial response, cancel, then again",
       {"EHLO c\r\nSTARTTLS\r\n",
        "EHLO c\r\nAUTH LOGIN YWxlcnRz\r\n*\r\nAUTH login YWxlcnRz\r\nczNjcmV0\r\n" + mail},
       before + kEhloTls + "334 UGFzc3dvcmQ6\r\n501 5.7.0 Authentication aborted\r\n334 UGFzc3dvcmQ6\r\n" +
           "235 2.7.0 Authentication successful\r\n" + mail_replies,
       1,
       1,
       0,
       0,
       0},
      {"bytes pipelined after STARTTLS are discarded, TLS state is fresh",
       {"EHLO c\r\nSTARTTLS\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nMAIL FROM:<a@b>\r\n",
        "MAIL FROM:<a@b>\r\nEHLO c\r\nMAIL FROM:<a@b>\r\nQUIT\r\n"},
       before + "503 5.5.1 Error: send HELO/EHLO first\r\n" + kEhloTls +
           "530 5.7.0 Authentication required\r\n221 2.0.0 Bye\r\n",
       0,
       0,
       0,
       0,
       50},
      {"AUTH in clear (counted), then STARTTLS forgets it",
       {"EHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nSTARTTLS\r\n", "EHLO c\r\nMAIL FROM:<a@b>\r\nQUIT\r\n"},
       std::string(kGreeting) + kEhloClear + "235 2.7.0 Authentication successful\r\n" +
           "220 2.0.0 Ready to start TLS\r\n[TLS]\r\n" + kEhloTls + "530 5.7.0 Authentication required\r\n" +
           "221 2.0.0 Bye\r\n",
       0,
       0,
       1,
       0,
       0},
      {"sequence errors: STARTTLS with an argument, in a transaction, twice; AUTH before EHLO; bad base64",
       {"AUTH PLAIN x\r\nSTARTTLS now\r\nEHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nMAIL FROM:<a@b>\r\n"
        "STARTTLS\r\nRSET\r\nSTARTTLS\r\n",
        "EHLO c\r\nSTARTTLS\r\nAUTH LOGIN !!!!\r\nAUTH PLAIN !!\r\nAUTH CRAM-MD5\r\nAUTH\r\nQUIT\r\n"},
       std::string(kGreeting) + "503 5.5.1 Error: send HELO/EHLO first\r\n501 5.5.4 Syntax: STARTTLS\r\n" +
           kEhloClear + "235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n" +
           "503 5.5.1 Error: MAIL transaction in progress\r\n250 2.0.0 Ok\r\n" +
           "220 2.0.0 Ready to start TLS\r\n[TLS]\r\n" + kEhloTls +
           "554 5.5.1 Error: TLS already active\r\n" + "501 5.5.2 Error: cannot decode the response\r\n" +
           "535 5.7.8 Error: authentication failed: authentication failure\r\n" +
           "504 5.5.4 Unrecognized authentication type\r\n501 5.5.4 Syntax: AUTH mechanism\r\n221 2.0.0 "
           "Bye\r\n",
       0,
       1,
       1,
       1,
       0},
  };
}

void check(const TlsDriver& d, const Dialogue& c, const std::string& label) {
  EXPECT_EQ(d.transcript, c.replies) << label;
  EXPECT_EQ(d.messages_tls, c.messages_tls) << label;
  EXPECT_EQ(d.messages, c.messages_tls) << label;
  EXPECT_EQ(d.auth_tls, c.auth_tls) << label;
  EXPECT_EQ(d.auth_clear, c.auth_clear) << label;
  EXPECT_EQ(d.auth_failed, c.auth_failed) << label;
  // Bytes after STARTTLS are discarded whatever the split; only the count of
  // those in the same read as STARTTLS is fixed.
  EXPECT_EQ(d.discarded, c.discarded) << label;
}

TEST(SinkTlsSession, DialoguesWhole) {
  for (const Dialogue& c : dialogues()) {
    TlsDriver d(tls_config(true));
    for (const std::string& r : c.reads) d.read(r, r.size());
    check(d, c, c.name);
  }
}

TEST(SinkTlsSession, DialoguesSplitInChunksOfEverySize) {
  for (const Dialogue& c : dialogues()) {
    size_t longest = 0;
    for (const std::string& r : c.reads) longest = std::max(longest, r.size());
    for (size_t chunk = 1; chunk <= longest; ++chunk) {
      TlsDriver d(tls_config(true));
      for (const std::string& r : c.reads) d.read(r, chunk);
      check(d, c, std::string(c.name) + " chunk " + std::to_string(chunk));
    }
  }
}

TEST(SinkTlsSession, DialoguesSplitInTwoAtEveryByte) {
  for (const Dialogue& c : dialogues()) {
    for (size_t which = 0; which < c.reads.size(); ++which) {
      for (size_t split = 1; split < c.reads[which].size(); ++split) {
        TlsDriver d(tls_config(true));
        for (size_t k = 0; k < c.reads.size(); ++k) {
          const std::string& r = c.reads[k];
          if (k != which) {
            d.read(r, r.size());
            continue;
          }
          // Two reads of one burst. A split after a pipelined STARTTLS
          // would make the tail a read of its own, which the real server
          // takes as TLS bytes: that case is not this dialogue, skip it.
          d.read(std::string_view(r).substr(0, split), split);
          if (c.discarded > 0 && r.find("STARTTLS\r\n") + 10 <= split) break;
          d.read(std::string_view(r).substr(split), r.size());
        }
        if (c.discarded > 0 && c.reads[which].find("STARTTLS\r\n") + 10 <= split) continue;
        check(d, c,
              std::string(c.name) + " read " + std::to_string(which) + " split " + std::to_string(split));
      }
    }
  }
}

TEST(SinkTlsSession, WithoutAuthMailNeedsNoAuthAndAuthIsUnknown) {
  TlsDriver d(tls_config(false));
  d.read("EHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nSTARTTLS\r\n", 100);
  d.read("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\n", 100);
  EXPECT_NE(d.transcript.find("502 5.5.2 Error: command not recognized"), std::string::npos) << d.transcript;
  EXPECT_EQ(d.transcript.find("AUTH PLAIN LOGIN"), std::string::npos);
  EXPECT_EQ(d.messages_tls, 1u);
  EXPECT_EQ(d.auth_clear, 0u);
}

TEST(SinkTlsSession, StartTlsNotOfferedIsUnknown) {
  SessionConfig config;
  config.hostname = "sink.test";
  TlsDriver d(config);
  d.read("EHLO c\r\nSTARTTLS\r\nQUIT\r\n", 100);
  EXPECT_EQ(d.transcript.find("STARTTLS"), std::string::npos);
  EXPECT_NE(d.transcript.find("502 5.5.2 Error: command not recognized\r\n221"), std::string::npos);
  EXPECT_FALSE(d.starttls_seen);
}

TEST(SinkTlsSession, ImplicitTlsKeepsTheGreeting) {
  SessionConfig config = tls_config(false);
  config.starttls = false;
  SmtpServerSession session(&config, nullptr);
  uint64_t id = 1;
  session.start(nullptr, &id);
  session.tls_started();
  EXPECT_EQ(session.output(), kGreeting);
  EXPECT_TRUE(session.tls_active());
}

TEST(SinkAuth, Base64Decode) {
  struct Case {
    const char* in;
    bool ok;
    std::string out;
  };
  const Case cases[] = {
      {"", true, ""},
      {"YQ==", true, "a"},
      {"YWI=", true, "ab"},
      {"YWJj", true, "abc"},
      {"AGFsZXJ0cwBzM2NyZXQ=", true, std::string("\0alerts\0s3cret", 14)},
      {"+/+/", true, "\xfb\xff\xbf"},
      {"YQ=", false, ""},       // not a multiple of 4
      {"Y===", false, ""},      // too much padding
      {"YQ==YQ==", false, ""},  // padding inside
      {"YW J", false, ""},      // space
      {"YWJ-", false, ""},      // URL alphabet
      {"=YWJ", false, ""},
  };
  for (const Case& c : cases) {
    char out[64];
    size_t size = 0;
    const bool ok = base64_decode(c.in, out, sizeof(out), size);
    EXPECT_EQ(ok, c.ok) << c.in;
    if (ok && c.ok) {
      EXPECT_EQ(std::string(out, size), c.out) << c.in;
    }
  }
  char small[2];
  size_t size = 0;
  EXPECT_FALSE(base64_decode("YWJj", small, sizeof(small), size));  // would overflow
  EXPECT_TRUE(base64_decode("YWI=", small, sizeof(small), size));
}

TEST(SinkAuth, ParsePlain) {
  PlainCredentials c;
  ASSERT_TRUE(parse_plain(std::string_view("\0u\0p", 4), c));
  EXPECT_EQ(c.authzid, "");
  EXPECT_EQ(c.user, "u");
  EXPECT_EQ(c.password, "p");
  ASSERT_TRUE(parse_plain(std::string_view("z\0u\0", 4), c));
  EXPECT_EQ(c.authzid, "z");
  EXPECT_EQ(c.password, "");
  EXPECT_FALSE(parse_plain(std::string_view("\0\0p", 3), c));     // no user
  EXPECT_FALSE(parse_plain(std::string_view("u\0p", 3), c));      // one NUL
  EXPECT_FALSE(parse_plain(std::string_view("\0u\0p\0", 5), c));  // three
  EXPECT_FALSE(parse_plain("", c));
}

// One real STARTTLS connection through the io_uring server, with the
// library's own client session: the handshake, EHLO and a message over TLS.
TEST(SinkTlsServer, StartTlsOverLoopback) {
  const test::TestPki& pki = test::shared_test_pki(test::KeyKind::kEcdsaP256);
  std::string error;
  TlsServerOptions server_options;
  auto server_ctx = TlsServerContext::create_in_memory(pki.good.cert.get(), nullptr, pki.good.key.get(),
                                                       server_options, error);
  ASSERT_TRUE(server_ctx) << error;
  TlsPolicy policy;
  policy.level = TlsLevel::kEncrypt;
  auto client_ctx = TlsClientContext::create(policy, error);
  ASSERT_TRUE(client_ctx) << error;

  SinkServerConfig config;
  config.listen = "127.0.0.1:0";
  config.max_connections_per_thread = 4;
  config.tls = server_ctx.get();
  config.session.hostname = "sink.test";
  config.session.starttls = true;
  SinkServer server(config, nullptr);
  if (!server.start(error)) GTEST_SKIP() << "no io_uring here: " << error;

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const ListenAddress& address = server.bound_address();
  ASSERT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.size), 0);
  std::string clear;
  auto read_clear_until = [&](std::string_view end) {
    char buf[4096];
    while (clear.find(end) == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return false;
      clear.append(buf, static_cast<size_t>(n));
    }
    return true;
  };
  ASSERT_TRUE(read_clear_until("\r\n"));
  const std::string hello = "EHLO c\r\nSTARTTLS\r\n";
  ASSERT_EQ(::send(fd, hello.data(), hello.size(), 0), static_cast<ssize_t>(hello.size()));
  ASSERT_TRUE(read_clear_until("220 2.0.0 Ready to start TLS\r\n")) << clear;

  TlsSession tls;
  ASSERT_TRUE(tls.start_client(*client_ctx, tls_peer_names(policy, "localhost"), nullptr));
  auto flush = [&]() {
    const auto out = tls.pending_ciphertext();
    if (!out.empty()) {
      ASSERT_EQ(::send(fd, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
      tls.consume_ciphertext(out.size());
    }
  };
  auto receive = [&]() {
    uint8_t buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    size_t fed = 0;
    while (fed < static_cast<size_t>(n)) fed += tls.feed_ciphertext(buf + fed, static_cast<size_t>(n) - fed);
    return true;
  };
  TlsStep step;
  while ((step = tls.handshake()) == TlsStep::kWantMore) {
    flush();
    ASSERT_TRUE(receive()) << "server closed during the handshake";
  }
  ASSERT_EQ(step, TlsStep::kDone) << tls.error();
  flush();
  const std::string mail =
      "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n";
  size_t written = 0;
  ASSERT_EQ(tls.write_plaintext(mail.data(), mail.size(), written), TlsIo::kOk);
  ASSERT_EQ(written, mail.size());
  flush();
  std::string plain;
  while (plain.find("221 2.0.0 Bye\r\n") == std::string::npos) {
    char buf[4096];
    size_t read = 0;
    const TlsIo io = tls.read_plaintext(buf, sizeof(buf), read);
    if (io == TlsIo::kOk) {
      plain.append(buf, read);
      continue;
    }
    ASSERT_EQ(io, TlsIo::kWantMore) << plain;
    ASSERT_TRUE(receive()) << plain;
  }
  EXPECT_EQ(plain.find("STARTTLS"), std::string::npos) << plain;
  EXPECT_NE(plain.find("250 2.0.0 Ok: queued as"), std::string::npos) << plain;
  ::close(fd);
  server.stop();
  const SinkTotals totals = server.totals();
  EXPECT_EQ(totals.messages, 1u);
  EXPECT_EQ(totals.messages_tls, 1u);
  EXPECT_EQ(totals.tls_handshakes, 1u);
}

}  // namespace
}  // namespace ringmail::sink
