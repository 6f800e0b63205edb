// tests/unit/ingress_session_test.cc — the listener's SMTP server machine
// (ingress/smtp_server_session.h) driven by a scripted host. Every
// conversation is replayed whole, cut in two at every byte, fed in pieces of
// every small size and in random pieces; each replay must give the same
// replies and the same host calls. Covers relay control, AUTH, STARTTLS,
// the strict line ends (bare LF/CR, SMTP smuggling), the limits (line
// length, errors, recipients, SIZE, body size), BDAT, waiting for the store,
// close and timeout.
#include <gtest/gtest.h>
#include <malloc.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ingress/smtp_server_session.h"

namespace ringmail::ingress {
namespace {

// ScriptedHost answers as the test says and logs every call in order.
class ScriptedHost : public SessionHost {
 public:
  AuthCheck check_credentials(std::string_view user, std::string_view password) override {
    log += "auth " + std::string(user) + ":" + std::string(password) + "\n";
    if (throttle_auth) return AuthCheck::kThrottled;
    return user == "alerts" && password == "s3cret" ? AuthCheck::kOk : AuthCheck::kBad;
  }
  bool admit_message() override {
    log += "admit\n";
    return admit;
  }
  bool begin_message(const TransactionInfo& info) override {
    log += "begin helo=" + std::string(info.helo) + " from=<" + std::string(info.reverse_path) + "> to=";
    for (const std::string& r : *info.recipients) log += "<" + r + ">";
    log += " proto=" + std::string(info.protocol) + " user=" + std::string(info.auth_user) +
           (info.eight_bit_mime ? " 8bit" : "") + (info.smtputf8 ? " utf8" : "") + "\n";
    if (!info.recipients->empty()) first_recipient_data.push_back(info.recipients->front().data());
    body.clear();
    open = accept_begin;
    return accept_begin;
  }
  bool append_body(const char* data, size_t size) override {
    EXPECT_TRUE(open) << "append_body outside a message";
    body.append(data, size);
    max_body = std::max(max_body, body.size());
    return body.size() <= append_limit;
  }
  void end_message() override {
    EXPECT_TRUE(open);
    log += "end [" + body + "]\n";
    stored.push_back(body);
    open = false;
  }
  void abort_message() override {
    EXPECT_TRUE(open);
    log += "abort\n";
    open = false;
  }
  void note(SessionEvent event, std::string_view detail) override {
    log += std::string("note ") + session_event_name(event) + " " + std::string(detail) + "\n";
    events.push_back(event);
  }

  bool has(SessionEvent event) const {
    return std::find(events.begin(), events.end(), event) != events.end();
  }

  bool throttle_auth = false;
  bool admit = true;
  bool accept_begin = true;
  size_t append_limit = SIZE_MAX;
  bool open = false;
  std::string body;
  size_t max_body = 0;
  std::string log;
  std::vector<std::string> stored;
  std::vector<SessionEvent> events;
  std::vector<const char*> first_recipient_data;
};

// Driver plays the connection: feeds, keeps what was not consumed, "sends"
// the output, answers kWaitStore with on_stored(store_ok, "Q<n>") and
// kStartTls with tls_started() (the rest of that read is gone, as in the
// real adapter).
struct Driver {
  explicit Driver(SessionSettings s, bool trusted = true)
      : settings(std::move(s)), session(&settings, &host) {
    session.start(ClientInfo{"192.0.2.7", trusted});
    take_output();
  }
  void feed(std::string_view bytes) {
    if (closed || in_handshake) return;
    pending.append(bytes);
    while (!pending.empty() && !closed && !waiting) {
      const FeedResult r = session.feed(pending.data(), pending.size());
      pending.erase(0, r.consumed);
      const bool had_output = !session.output().empty();
      take_output();
      switch (r.action) {
        case SessionAction::kClose:
          closed = true;
          break;
        case SessionAction::kStartTls:
          EXPECT_TRUE(pending.empty());
          pending.clear();
          session.tls_started(TlsFacts{"TLSv1.3", "TLS_AES_256_GCM_SHA384"});
          in_handshake = true;  // the rest of this read came before the handshake
          break;
        case SessionAction::kWaitStore:
          if (hold_store) {
            waiting = true;
            break;
          }
          store();
          break;
        case SessionAction::kContinue:
          if (r.consumed == 0 && !had_output) {
            ADD_FAILURE() << "no progress";
            return;
          }
          break;
      }
    }
  }
  void store() {
    session.on_stored(store_ok, "Q" + std::to_string(++stored));
    waiting = false;
    take_output();
  }
  void take_output() {
    transcript.append(session.output());
    session.consume_output(session.output().size());
  }

  SessionSettings settings;
  ScriptedHost host;
  ServerSession session;
  std::string pending;
  std::string transcript;
  bool closed = false;
  bool store_ok = true;
  bool hold_store = false;
  bool waiting = false;
  bool in_handshake = false;  // set at kStartTls until the client's next read
  int stored = 0;
};

SessionSettings basic() {
  SessionSettings s;
  s.hostname = "mx.test";
  s.max_message_bytes = 1000;
  s.max_recipients = 3;
  return s;
}

SessionSettings with_tls_auth(ListenAuth auth = ListenAuth::kOptional) {
  SessionSettings s = basic();
  s.starttls = true;
  s.auth = auth;
  return s;
}

// A Conversation is what a client sends, in reads: the client waits for the
// server between reads (after STARTTLS), so pieces never cross them.
struct Conversation {
  SessionSettings settings;
  bool trusted = true;
  std::vector<std::string> reads;
};

struct Outcome {
  std::string transcript;
  std::string log;
  bool closed = false;
};

template <typename Split>
Outcome play(const Conversation& c, Split split) {
  Driver d(c.settings, c.trusted);
  for (size_t r = 0; r < c.reads.size(); ++r) {
    d.in_handshake = false;
    for (const std::string& piece : split(r, c.reads[r])) d.feed(piece);
  }
  return {d.transcript, d.host.log, d.closed};
}

// replay plays |c| whole and then in every way of cutting it; all must
// agree. Returns the whole-read outcome.
Outcome replay(const Conversation& c) {
  const Outcome whole = play(c, [](size_t, const std::string& s) { return std::vector<std::string>{s}; });
  auto same = [&](const Outcome& o, const std::string& how) {
    EXPECT_EQ(o.transcript, whole.transcript) << how;
    EXPECT_EQ(o.log, whole.log) << how;
    EXPECT_EQ(o.closed, whole.closed) << how;
  };
  for (size_t r = 0; r < c.reads.size(); ++r) {
    for (size_t cut = 1; cut < c.reads[r].size(); ++cut) {
      same(play(c,
                [&](size_t i, const std::string& s) {
                  if (i != r) return std::vector<std::string>{s};
                  return std::vector<std::string>{s.substr(0, cut), s.substr(cut)};
                }),
           "read " + std::to_string(r) + " cut at " + std::to_string(cut));
    }
  }
  for (size_t size = 1; size <= 9; ++size) {
    same(play(c,
              [&](size_t, const std::string& s) {
                std::vector<std::string> pieces;
                for (size_t i = 0; i < s.size(); i += size) pieces.push_back(s.substr(i, size));
                return pieces;
              }),
         "pieces of " + std::to_string(size));
  }
  std::mt19937 random(12345);
  for (int round = 0; round < 30; ++round) {
    same(play(c,
              [&](size_t, const std::string& s) {
                std::vector<std::string> pieces;
                for (size_t i = 0; i < s.size();) {
                  const size_t n = 1 + random() % 40;
                  pieces.push_back(s.substr(i, n));
                  i += n;
                }
                return pieces;
              }),
         "random round " + std::to_string(round));
  }
  return whole;
}

std::vector<std::string> lines(const std::string& transcript) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < transcript.size()) {
    size_t end = transcript.find("\r\n", start);
    if (end == std::string::npos) end = transcript.size();
    out.push_back(transcript.substr(start, end - start));
    start = end + 2;
  }
  return out;
}

const char kEhloPlain[] =
    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n250 CHUNKING\r\n";

TEST(IngressSession, PipelinedTransactionsDataAndBdat) {
  Conversation c{basic(),
                 true,
                 {"EHLO client.test\r\n"
                  "MAIL FROM:<alice@example.org> BODY=8BITMIME SIZE=100\r\n"
                  "RCPT TO:<bob@example.net>\r\n"
                  "RCPT TO:<carol@example.net>\r\n"
                  "DATA\r\n"
                  "Subject: hi\r\n\r\n..leading dot\r\nmid . dot\r\n.\r\n"
                  "MAIL FROM:<>\r\n"
                  "RCPT TO:<dave@example.net>\r\n"
                  "BDAT 7\r\nline\r\n.BDAT 7 LAST\r\n\r\nend\r\n"
                  "QUIT\r\n"}};
  const Outcome o = replay(c);
  EXPECT_EQ(o.transcript, std::string("220 mx.test ESMTP ringmail\r\n") + kEhloPlain +
                              "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
                              "354 End data with <CR><LF>.<CR><LF>\r\n"
                              "250 2.0.0 Ok: queued as Q1\r\n"
                              "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                              "250 2.0.0 7 octets received\r\n"
                              "250 2.0.0 Ok: queued as Q2\r\n"
                              "221 2.0.0 Bye\r\n");
  EXPECT_EQ(o.log,
            "admit\n"
            "begin helo=client.test from=<alice@example.org> to=<bob@example.net><carol@example.net> "
            "proto=ESMTP user= 8bit\n"
            "end [Subject: hi\r\n\r\n.leading dot\r\nmid . dot\r\n]\n"
            "admit\n"
            "begin helo=client.test from=<> to=<dave@example.net> proto=ESMTP user=\n"
            "end [line\r\n.\r\nend\r\n]\n");
  EXPECT_TRUE(o.closed);
}

TEST(IngressSession, EhloKeywordsFollowTlsAndAuth) {
  {  // No TLS, no AUTH configured.
    Driver d(basic());
    d.feed("EHLO c\r\n");
    EXPECT_EQ(d.transcript, std::string("220 mx.test ESMTP ringmail\r\n") + kEhloPlain);
  }
  {  // STARTTLS offered; AUTH not in clear; after TLS AUTH and no STARTTLS.
    Driver d(with_tls_auth());
    d.feed("EHLO c\r\n");
    EXPECT_NE(d.transcript.find("250-STARTTLS\r\n"), std::string::npos);
    EXPECT_EQ(d.transcript.find("AUTH"), std::string::npos);
    d.transcript.clear();
    d.feed("STARTTLS\r\n");
    d.in_handshake = false;  // the client's next read, after the handshake
    d.feed("EHLO c\r\n");
    EXPECT_EQ(d.transcript,
              "220 2.0.0 Ready to start TLS\r\n250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
              "250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
              "250 CHUNKING\r\n");
    EXPECT_TRUE(d.session.tls_active());
  }
  {  // allow_plaintext_auth: AUTH offered in clear.
    SessionSettings s = with_tls_auth();
    s.allow_plaintext_auth = true;
    Driver d(s);
    d.feed("EHLO c\r\n");
    EXPECT_NE(d.transcript.find("250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n"), std::string::npos);
  }
  {  // HELO: one line; protocol SMTP.
    Driver d(basic());
    d.feed("HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n");
    EXPECT_EQ(lines(d.transcript)[1], "250 mx.test");
    EXPECT_NE(d.host.log.find("proto=SMTP "), std::string::npos);
  }
}

TEST(IngressSession, RelayDeniedForUntrustedUnauthenticated) {
  // auth optional (and none): MAIL passes, every RCPT gets 554, nothing begins.
  for (ListenAuth auth : {ListenAuth::kNone, ListenAuth::kOptional}) {
    Conversation c{with_tls_auth(auth),
                   false,
                   {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<victim@elsewhere.test>\r\nDATA\r\n"
                    "BDAT 3 LAST\r\nabcQUIT\r\n"}};
    const Outcome o = replay(c);
    const auto l = lines(o.transcript);
    ASSERT_GE(l.size(), 5u);
    EXPECT_EQ(l[l.size() - 5], "250 2.1.0 Ok");
    EXPECT_EQ(l[l.size() - 4], "554 5.7.1 <victim@elsewhere.test>: Relay access denied");
    EXPECT_EQ(l[l.size() - 3], "554 5.5.1 Error: no valid recipients");
    EXPECT_EQ(l[l.size() - 2], "554 5.5.1 Error: no valid recipients");
    EXPECT_EQ(l[l.size() - 1], "221 2.0.0 Bye");
    EXPECT_EQ(o.log.find("begin"), std::string::npos);
    EXPECT_NE(o.log.find("note relay-denied victim@elsewhere.test"), std::string::npos);
  }
  // auth required: 530 at MAIL.
  Conversation c{with_tls_auth(ListenAuth::kRequired), false, {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n"}};
  const Outcome o = replay(c);
  EXPECT_NE(o.transcript.find("\r\n530 5.7.0 Authentication required\r\n221"), std::string::npos);
  EXPECT_NE(o.log.find("note auth-required"), std::string::npos);
  EXPECT_EQ(o.log.find("admit"), std::string::npos);
}

TEST(IngressSession, TrustedClientSendsWithoutAuth) {
  Conversation c{with_tls_auth(ListenAuth::kRequired),
                 true,
                 {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nhi\r\n.\r\n"}};
  const Outcome o = replay(c);
  EXPECT_NE(o.log.find("end [hi\r\n]"), std::string::npos);
  EXPECT_NE(o.transcript.find("250 2.0.0 Ok: queued as Q1\r\n"), std::string::npos);
}

TEST(IngressSession, AuthenticatedUntrustedClientSends) {
  // AUTH PLAIN with an initial response, over TLS: "\0alerts\0s3cret".
  Conversation c{with_tls_auth(ListenAuth::kRequired),
                 false,
                 {"EHLO c\r\nSTARTTLS\r\n",
                  "EHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nMAIL FROM:<a@b.test>\r\n"
                  "RCPT TO:<x@y.test>\r\nDATA\r\nhi\r\n.\r\n"}};
  const Outcome o = replay(c);
  EXPECT_NE(o.transcript.find("235 2.7.0 Authentication successful\r\n"), std::string::npos);
  EXPECT_NE(o.log.find("auth alerts:s3cret\n"), std::string::npos);
  EXPECT_NE(o.log.find("proto=ESMTPSA user=alerts\n"), std::string::npos);
  EXPECT_NE(o.log.find("end [hi\r\n]"), std::string::npos);
}

TEST(IngressSession, AuthPlainBadAndThrottled) {
  SessionSettings s = with_tls_auth();
  s.allow_plaintext_auth = true;
  // "\0alerts\0wrong", then a two-step PLAIN with the right one.
  Conversation bad{s,
                   false,
                   {"EHLO c\r\nAUTH PLAIN AGFsZXJ0cwB3cm9uZw==\r\nAUTH PLAIN\r\nAGFsZXJ0cwBzM2NyZXQ=\r\n"
                    "AUTH PLAIN\r\n"}};
  Outcome o = replay(bad);
  auto l = lines(o.transcript);
  ASSERT_GE(l.size(), 4u);
  EXPECT_EQ(l[l.size() - 4], "535 5.7.8 Error: authentication failed: authentication failure");
  EXPECT_EQ(l[l.size() - 3], "334 ");
  EXPECT_EQ(l[l.size() - 2], "235 2.7.0 Authentication successful");
  EXPECT_EQ(l[l.size() - 1], "503 5.5.1 Error: already authenticated");
  EXPECT_NE(o.log.find("note auth-failed"), std::string::npos);

  Driver d(s, false);
  d.host.throttle_auth = true;
  d.feed("EHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\n");
  EXPECT_EQ(lines(d.transcript).back(), "454 4.7.0 Temporary authentication failure");
  EXPECT_TRUE(d.host.has(SessionEvent::kAuthThrottled));
  EXPECT_EQ(d.session.auth_user(), "");
  // Undecodable, and cancelled.
  Driver e(s, false);
  e.feed("EHLO c\r\nAUTH PLAIN !!!!\r\nAUTH LOGIN\r\n!!!!\r\nAUTH PLAIN\r\n*\r\nAUTH CRAM-MD5\r\nAUTH\r\n");
  l = lines(e.transcript);
  EXPECT_EQ(std::vector<std::string>(l.end() - 7, l.end()),
            (std::vector<std::string>{
                "535 5.7.8 Error: authentication failed: authentication failure", "334 VXNlcm5hbWU6",
                "501 5.5.2 Cannot decode response", "334 ", "501 5.7.0 Authentication aborted",
                "504 5.5.4 Unrecognized authentication type", "501 5.5.4 Syntax: AUTH mechanism"}));
}

TEST(IngressSession, AuthLoginExactChallenges) {
  SessionSettings s = with_tls_auth(ListenAuth::kRequired);
  Conversation c{s,
                 false,
                 {"STARTTLS\r\n",
                  "EHLO c\r\nAUTH LOGIN\r\nYWxlcnRz\r\nd3Jvbmc=\r\nAUTH LOGIN YWxlcnRz\r\nczNjcmV0\r\n"
                  "MAIL FROM:<a@b.test>\r\n"}};
  const Outcome o = replay(c);
  const auto l = lines(o.transcript);
  ASSERT_GE(l.size(), 6u);
  EXPECT_EQ(l[l.size() - 6], "334 VXNlcm5hbWU6");
  EXPECT_EQ(l[l.size() - 5], "334 UGFzc3dvcmQ6");
  EXPECT_EQ(l[l.size() - 4], "535 5.7.8 Error: authentication failed: authentication failure");
  EXPECT_EQ(l[l.size() - 3], "334 UGFzc3dvcmQ6");
  EXPECT_EQ(l[l.size() - 2], "235 2.7.0 Authentication successful");
  EXPECT_EQ(l[l.size() - 1], "250 2.1.0 Ok");
  EXPECT_NE(o.log.find("auth alerts:wrong\nnote auth-failed \nauth alerts:s3cret\n"), std::string::npos);
}

TEST(IngressSession, AuthRefusedInClearUnlessAllowed) {
  Conversation c{with_tls_auth(), false, {"EHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nAUTH LOGIN\r\n"}};
  const Outcome o = replay(c);
  const auto l = lines(o.transcript);
  EXPECT_EQ(l[l.size() - 2], "503 5.5.1 Error: authentication not enabled");
  EXPECT_EQ(l[l.size() - 1], "503 5.5.1 Error: authentication not enabled");
  EXPECT_EQ(o.log.find("auth alerts"), std::string::npos);  // never checked
  EXPECT_NE(o.log.find("note auth-in-clear-refused"), std::string::npos);

  SessionSettings allowed = with_tls_auth();
  allowed.allow_plaintext_auth = true;
  Driver d(allowed, false);
  d.feed(
      "EHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nMAIL FROM:<a@b.test>\r\nRCPT "
      "TO:<x@y.test>\r\nDATA\r\n.\r\n");
  EXPECT_NE(d.host.log.find("proto=ESMTPA user=alerts"), std::string::npos);

  SessionSettings none = basic();  // auth = none: never
  Driver n(none, false);
  n.feed("EHLO c\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\n");
  EXPECT_EQ(lines(n.transcript).back(), "503 5.5.1 Error: authentication not enabled");
}

TEST(IngressSession, TlsRequiredRefusesMailBeforeStartTls) {
  SessionSettings s = with_tls_auth();
  s.tls_required = true;
  s.allow_plaintext_auth = true;  // still no AUTH before TLS
  Conversation c{s,
                 true,
                 {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nSTARTTLS\r\n",
                  "EHLO c\r\nMAIL FROM:<a@b.test>\r\n"}};
  const Outcome o = replay(c);
  const auto l = lines(o.transcript);
  EXPECT_EQ(o.transcript.find("AUTH PLAIN LOGIN\r\n250-ENHANCED"),
            o.transcript.rfind("AUTH PLAIN LOGIN\r\n250-ENHANCED"));
  EXPECT_NE(
      o.transcript.find("530 5.7.0 Must issue a STARTTLS command first\r\n530 5.7.0 Must issue a STARTTLS "
                        "command first\r\n220 2.0.0 Ready to start TLS\r\n"),
      std::string::npos);
  EXPECT_EQ(l.back(), "250 2.1.0 Ok");
  EXPECT_NE(o.log.find("note tls-required MAIL"), std::string::npos);
}

TEST(IngressSession, StartTlsDiscardsPipelinedBytes) {
  Conversation c{with_tls_auth(),
                 true,
                 {"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<a@b.test>\r\n",
                  "MAIL FROM:<a@b.test>\r\nEHLO c\r\nMAIL FROM:<a@b.test>\r\n"}};
  const Outcome o = replay(c);
  const auto l = lines(o.transcript);
  // After TLS: EHLO forgotten (503), then the real EHLO and MAIL.
  EXPECT_EQ(l[l.size() - 11], "220 2.0.0 Ready to start TLS");
  EXPECT_EQ(l[l.size() - 10], "503 5.5.1 Error: send HELO/EHLO first");
  EXPECT_EQ(l.back(), "250 2.1.0 Ok");
  EXPECT_EQ(o.log.find("evil"), std::string::npos);
  EXPECT_EQ(o.log.find("admit\nadmit"), std::string::npos);  // only one MAIL reached the host
}

// A conversation whose DATA must never end: the message is cut with 521.
void expect_refused_body(const std::string& body, const std::string& why) {
  Conversation c{basic(),
                 true,
                 {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n" + body +
                  "MAIL FROM:<smuggled@x.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nevil\r\n.\r\nQUIT\r\n"}};
  const Outcome o = replay(c);
  EXPECT_EQ(o.log.find("end ["), std::string::npos) << why;
  EXPECT_NE(o.log.find("note bare-newline"), std::string::npos) << why;
  EXPECT_NE(o.log.find("abort\n"), std::string::npos) << why;
  EXPECT_EQ(o.log.find("smuggled"), std::string::npos) << why;
  EXPECT_TRUE(o.closed) << why;
  const auto l = lines(o.transcript);
  EXPECT_TRUE(l.back() == "521 5.5.2 mx.test Error: bare <LF> received" ||
              l.back() == "521 5.5.2 mx.test Error: bare <CR> received")
      << why << ": " << l.back();
}

TEST(IngressSession, BareLineEndsAndSmugglingNeverEndData) {
  expect_refused_body("line\nmore\r\n.\r\n", "bare LF in a line");
  expect_refused_body("line\rmore\r\n.\r\n", "bare CR in a line");
  expect_refused_body("body\r\n.\n", "dot LF");
  expect_refused_body("body\n.\n", "\\n.\\n");
  expect_refused_body("body\r.\r", "\\r.\\r");
  expect_refused_body("body\n.\r\n", "\\n.\\r\\n");
  expect_refused_body("body\r\n.\r", "\\r\\n.\\r then MAIL");
  expect_refused_body("body\r\n.\rX\r\n.\r\n", "dot CR X");
  expect_refused_body("\n.\r\n", "bare LF first");
}

TEST(IngressSession, BareLineEndsInCommandsClose) {
  for (const char* input : {"EHLO c\n", "NOOP\rQUIT\r\n", "EHLO c\r\nMAIL FROM:<a@b>\n"}) {
    Conversation c{basic(), true, {input}};
    const Outcome o = replay(c);
    EXPECT_TRUE(o.closed) << input;
    EXPECT_EQ(lines(o.transcript).back().substr(0, 31), "521 5.5.2 mx.test Error: bare <") << input;
  }
}

TEST(IngressSession, LongLineSkippedWithBoundedMemory) {
  Driver d(basic());
  struct mallinfo2 before = mallinfo2();
  const std::string piece(64 * 1024, 'A');
  d.feed("NOOP ");
  for (int i = 0; i < 32; ++i) d.feed(piece);  // 2 MiB
  d.feed("\r\nNOOP\r\n");
  struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(d.transcript, "220 mx.test ESMTP ringmail\r\n500 5.5.0 Error: line too long\r\n250 2.0.0 Ok\r\n");
  EXPECT_TRUE(d.host.has(SessionEvent::kLineTooLong));
  // The driver's own buffer takes at most one piece; the session nothing.
  EXPECT_LT(after.uordblks, before.uordblks + 256 * 1024);
  // A line of exactly 1000 bytes with CRLF passes; 1001 does not.
  Driver e(basic());
  e.feed("NOOP " + std::string(1000 - 7, 'x') + "\r\nNOOP " + std::string(1000 - 6, 'x') + "\r\n");
  EXPECT_EQ(lines(e.transcript)[1], "250 2.0.0 Ok");
  EXPECT_EQ(lines(e.transcript)[2], "500 5.5.0 Error: line too long");
}

TEST(IngressSession, TooManyErrorsCloseWith421) {
  SessionSettings s = basic();
  s.max_errors = 3;
  Conversation c{s, true, {"XYZZY\r\nFOO\r\nRCPT TO:<a@b>\r\nNOOP\r\nNOOP\r\n"}};
  const Outcome o = replay(c);
  EXPECT_EQ(o.transcript,
            "220 mx.test ESMTP ringmail\r\n502 5.5.2 Error: command not recognized\r\n"
            "502 5.5.2 Error: command not recognized\r\n503 5.5.1 Error: need MAIL command\r\n"
            "421 4.7.0 mx.test Error: too many errors\r\n");
  EXPECT_TRUE(o.closed);
  EXPECT_NE(o.log.find("note too-many-errors"), std::string::npos);
  EXPECT_NE(o.log.find("note unknown-command XYZZY"), std::string::npos);
}

TEST(IngressSession, TenThousandRecipients) {
  SessionSettings s = basic();
  s.max_recipients = 1000;
  s.max_errors = 20;
  Driver d(s);
  std::string input = "EHLO c\r\nMAIL FROM:<a@b.test>\r\n";
  for (int i = 0; i < 10000; ++i) input += "RCPT TO:<r" + std::to_string(i) + "@x.test>\r\n";
  d.feed(input);
  const auto l = lines(d.transcript);
  // greeting + 7 EHLO lines + MAIL, then 1000 ok, 1000 free 452, 20 counted 452, then 421.
  ASSERT_EQ(l.size(), 9u + 1000 + 1000 + 20 + 1);
  EXPECT_EQ(l[9 + 999], "250 2.1.5 Ok");
  EXPECT_EQ(l[9 + 1000], "452 4.5.3 Error: too many recipients");
  EXPECT_EQ(l[9 + 2019], "452 4.5.3 Error: too many recipients");
  EXPECT_EQ(l.back(), "421 4.7.0 mx.test Error: too many errors");
  EXPECT_TRUE(d.closed);
  EXPECT_EQ(std::count(d.host.events.begin(), d.host.events.end(), SessionEvent::kTooManyRecipients), 1);
}

TEST(IngressSession, RecipientLimitAndStorageReused) {
  Driver d(basic());  // max_recipients 3
  const std::string rcpts =
      "RCPT TO:<first-recipient-long-enough@example.test>\r\nRCPT TO:<b@x.test>\r\nRCPT TO:<c@x.test>\r\n"
      "RCPT TO:<d@x.test>\r\n";
  d.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\n" + rcpts + "DATA\r\n.\r\nMAIL FROM:<a@b.test>\r\n" + rcpts +
         "DATA\r\n.\r\n");
  EXPECT_EQ(d.host.stored.size(), 2u);
  EXPECT_NE(d.transcript.find("250 2.1.5 Ok\r\n452 4.5.3 Error: too many recipients\r\n354"),
            std::string::npos);
  ASSERT_EQ(d.host.first_recipient_data.size(), 2u);
  // The second transaction's first address lives in the first one's buffer.
  EXPECT_EQ(d.host.first_recipient_data[0], d.host.first_recipient_data[1]);
}

TEST(IngressSession, SizeParameterAndSyntax) {
  Conversation c{
      basic(),
      true,
      {"EHLO c\r\nMAIL FROM:<a@b.test> SIZE=1001\r\nMAIL FROM:<a@b.test> SIZE=x\r\n"
       "MAIL FROM:<a@b.test> FOO=1\r\nMAIL FROM:<a@b.test> BODY=BINARYMIME\r\nMAIL FROM:<\xc3\xa9@b.test>\r\n"
       "MAIL FROM:<a@b.test> SIZE=1000 SMTPUTF8 AUTH=<>\r\nRCPT TO:<nodomain>\r\nRCPT TO:<a@b> "
       "NOTIFY=NEVER\r\n"
       "RCPT TO:<\xc3\xa9@b.test>\r\nVRFY x\r\nHELP\r\nRSET\r\nDATA\r\n"}};
  const Outcome o = replay(c);
  const auto l = lines(o.transcript);
  ASSERT_GE(l.size(), 13u);
  const std::vector<std::string> tail(l.end() - 13, l.end());
  EXPECT_EQ(tail,
            (std::vector<std::string>{
                "552 5.3.4 Message size exceeds fixed limit",
                "501 5.5.4 Bad message size syntax",
                "555 5.5.4 Unsupported option: FOO=1",
                "501 5.5.4 Bad BODY keyword syntax",
                "553 5.6.7 Must declare SMTPUTF8 to send unicode address",
                "250 2.1.0 Ok",
                "501 5.1.3 Bad recipient address syntax",
                "555 5.5.4 Unsupported option: NOTIFY=NEVER",
                "250 2.1.5 Ok",
                "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
                "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
                "250 2.0.0 Ok",
                "503 5.5.1 Error: need RCPT command",
            }))
      << o.transcript;
  EXPECT_NE(o.log.find("note message-too-big SIZE="), std::string::npos);
}

TEST(IngressSession, BodyTooBigIs552AndAborted) {
  Conversation c{basic(),
                 true,
                 {"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n" + std::string(998, 'x') +
                  "\r\n..\r\n.\r\nNOOP\r\n"}};
  // 998 + 2 = 1000 bytes fit; ".\r\n" (unstuffed) makes 1003.
  const Outcome o = replay(c);
  const auto l = lines(o.transcript);
  EXPECT_EQ(l[l.size() - 2], "552 5.3.4 Error: message file too big");
  EXPECT_EQ(l.back(), "250 2.0.0 Ok");
  EXPECT_NE(o.log.find("note message-too-big DATA\nabort\n"), std::string::npos);
  EXPECT_EQ(o.log.find("end ["), std::string::npos);
  // Exactly the limit is fine.
  Driver d(basic());
  d.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n" + std::string(998, 'x') +
         "\r\n.\r\n");
  ASSERT_EQ(d.host.stored.size(), 1u);
  EXPECT_EQ(d.host.stored[0].size(), 1000u);
  // The host never holds more than the limit (plus one read's worth).
  Driver big(basic());
  big.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n");
  for (int i = 0; i < 100; ++i) big.feed(std::string(998, 'y') + "\r\n");
  big.feed(".\r\n");
  EXPECT_LE(big.host.max_body, 2000u);
  EXPECT_EQ(lines(big.transcript).back(), "552 5.3.4 Error: message file too big");
}

TEST(IngressSession, Bdat) {
  Conversation c{basic(),
                 true,
                 {"EHLO c\r\nBDAT 3\r\nabcMAIL FROM:<a@b.test>\r\nBDAT 2\r\nxyRCPT TO:<x@y.test>\r\n"
                  "BDAT 3\r\nab\rBDAT 0\r\nBDAT 3 LAST\r\n\ncdRCPT TO:<z@y.test>\r\nDATA\r\n"
                  "MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nBDAT 600\r\n" +
                  std::string(598, 'q') + "\r\nDATA\r\nBDAT 600\r\n" + std::string(600, 'r') +
                  "BDAT 1 LAST\r\nsNOOP\r\nBDAT 0 LAST\r\nBDAT x\r\nNOOP\r\n"}};
  const Outcome o = replay(c);
  const auto l = lines(o.transcript);
  ASSERT_GT(l.size(), 8u);
  const std::vector<std::string> tail(l.begin() + 8, l.end());
  EXPECT_EQ(tail,
            (std::vector<std::string>{
                "503 5.5.1 Error: need RCPT command",  // BDAT before MAIL: its bytes read
                "250 2.1.0 Ok",
                "554 5.5.1 Error: no valid recipients",  // BDAT before RCPT
                "250 2.1.5 Ok",
                "250 2.0.0 3 octets received",  // ends in CR; the LF comes in the next chunk
                "250 2.0.0 0 octets received", "250 2.0.0 Ok: queued as Q1",
                "503 5.5.1 Error: need MAIL command", "503 5.5.1 Error: need RCPT command", "250 2.1.0 Ok",
                "250 2.1.5 Ok", "250 2.0.0 600 octets received", "503 5.5.1 Error: DATA after BDAT",
                "552 5.3.4 Error: message file too big",  // 1200 > 1000
                "552 5.3.4 Error: message file too big",  // sticks until LAST
                "250 2.0.0 Ok", "503 5.5.1 Error: need RCPT command",
                "501 5.5.4 Syntax: BDAT count [LAST]",  // count unknown: hang up
            }))
      << o.transcript;
  EXPECT_TRUE(o.closed);
  EXPECT_EQ(o.log,
            "admit\nbegin helo=c from=<a@b.test> to=<x@y.test> proto=ESMTP user=\nend [ab\r\ncd]\n"
            "admit\nbegin helo=c from=<a@b.test> to=<x@y.test> proto=ESMTP user=\n"
            "note message-too-big BDAT\nabort\n");
}

TEST(IngressSession, BdatBareLineEndsAndEmptyMessage) {
  const std::string head = "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\n";
  for (const std::string& chunks :
       {std::string("BDAT 4\r\nab\ncBDAT 1 LAST\r\nd"), std::string("BDAT 2\r\nabBDAT 2 LAST\r\nc\r"),
        std::string("BDAT 3\r\na\rxBDAT 0 LAST\r\n")}) {
    Conversation c{basic(), true, {head + chunks + "QUIT\r\n"}};
    const Outcome o = replay(c);
    EXPECT_TRUE(o.closed);
    EXPECT_EQ(o.log.find("end ["), std::string::npos) << chunks;
    EXPECT_NE(o.log.find("note bare-newline"), std::string::npos) << chunks;
    EXPECT_NE(o.log.find("abort"), std::string::npos) << chunks;
    EXPECT_EQ(lines(o.transcript).back().substr(0, 31), "521 5.5.2 mx.test Error: bare <") << chunks;
  }
  Conversation empty{basic(), true, {head + "BDAT 0 LAST\r\nQUIT\r\n"}};
  const Outcome o = replay(empty);
  EXPECT_NE(o.log.find("end []"), std::string::npos);
  EXPECT_NE(o.transcript.find("250 2.0.0 Ok: queued as Q1\r\n221 2.0.0 Bye\r\n"), std::string::npos);
}

TEST(IngressSession, WaitsForTheStoreBeforeTakingMoreInput) {
  Driver d(basic());
  d.hold_store = true;
  const std::string input =
      "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nhello\r\n.\r\nNOOP\r\nQUIT\r\n";
  const FeedResult first = d.session.feed(input.data(), input.size());
  // Not a byte past the end marker is taken while the store runs.
  EXPECT_EQ(first.action, SessionAction::kWaitStore);
  EXPECT_EQ(input.substr(first.consumed), "NOOP\r\nQUIT\r\n");
  EXPECT_EQ(d.session.state(), ServerSession::State::kWaitStore);
  const FeedResult again = d.session.feed(input.data() + first.consumed, input.size() - first.consumed);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_EQ(again.action, SessionAction::kWaitStore);
  d.take_output();
  EXPECT_EQ(lines(d.transcript).back(), "354 End data with <CR><LF>.<CR><LF>");
  d.session.on_stored(true, "0000001234.77.0.1");
  d.take_output();
  EXPECT_EQ(lines(d.transcript).back(), "250 2.0.0 Ok: queued as 0000001234.77.0.1");
  d.hold_store = false;
  d.feed(input.substr(first.consumed));
  EXPECT_EQ(lines(d.transcript).back(), "221 2.0.0 Bye");
  EXPECT_EQ(d.host.stored, std::vector<std::string>{"hello\r\n"});

  // A failed store: 451, and the next transaction works.
  Driver f(basic());
  f.store_ok = false;
  f.feed(
      "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nhello\r\n.\r\nMAIL "
      "FROM:<a@b.test>\r\n");
  const auto l = lines(f.transcript);
  EXPECT_EQ(l[l.size() - 2], "451 4.3.0 Error: queue file write error");
  EXPECT_EQ(l.back(), "250 2.1.0 Ok");
}

TEST(IngressSession, HostRefusals) {
  Driver a(basic());
  a.host.admit = false;
  a.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\n");
  EXPECT_EQ(lines(a.transcript).back(), "451 4.7.1 Error: too much mail, try again later");
  EXPECT_TRUE(a.host.has(SessionEvent::kRateLimited));

  Driver b(basic());
  b.host.accept_begin = false;
  b.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nRCPT TO:<x@y.test>\r\n");
  auto l = lines(b.transcript);
  EXPECT_EQ(l[l.size() - 2], "451 4.3.0 Error: queue file write error");
  EXPECT_EQ(l.back(), "503 5.5.1 Error: need MAIL command");  // the transaction was reset

  Driver c(basic());
  c.host.append_limit = 3;
  c.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nhello\r\n.\r\n");
  EXPECT_EQ(lines(c.transcript).back(), "451 4.3.0 Error: queue file write error");
  EXPECT_NE(c.host.log.find("abort"), std::string::npos);
  EXPECT_TRUE(c.host.stored.empty());
}

TEST(IngressSession, CloseAndTimeout) {
  {  // close() mid-DATA aborts the message.
    Driver d(basic());
    d.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\npart");
    EXPECT_EQ(d.session.timeout_kind(), SessionTimeout::kData);
    d.session.close();
    EXPECT_NE(d.host.log.find("note message-cut connection closed\nabort\n"), std::string::npos);
    EXPECT_EQ(d.session.state(), ServerSession::State::kIdle);
  }
  {  // close() mid-BDAT too.
    Driver d(basic());
    d.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nBDAT 10\r\npart");
    EXPECT_EQ(d.session.timeout_kind(), SessionTimeout::kData);
    d.session.close();
    EXPECT_NE(d.host.log.find("abort\n"), std::string::npos);
  }
  {  // close() while the store runs: the message is the host's, no abort.
    Driver d(basic());
    d.hold_store = true;
    d.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nx\r\n.\r\n");
    d.session.close();
    EXPECT_EQ(d.host.log.find("abort"), std::string::npos);
    d.session.on_stored(true, "late");  // ignored
    EXPECT_TRUE(d.session.output().empty());
  }
  {  // timed_out(): 421 4.4.2, closed, the open message aborted.
    Driver d(basic());
    EXPECT_EQ(d.session.timeout_kind(), SessionTimeout::kCommand);
    d.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\npart");
    d.session.timed_out();
    d.take_output();
    EXPECT_EQ(lines(d.transcript).back(), "421 4.4.2 mx.test Error: timeout exceeded");
    EXPECT_NE(d.host.log.find("note message-cut timeout\nabort\n"), std::string::npos);
    const FeedResult r = d.session.feed("NOOP\r\n", 6);
    EXPECT_EQ(r.action, SessionAction::kClose);
    EXPECT_TRUE(d.session.output().empty());
  }
}

TEST(IngressSession, OutputBackPressure) {
  Driver d(basic());
  std::string input = "EHLO c\r\n";
  for (int i = 0; i < 2000; ++i) input += "NOOP\r\n";
  const FeedResult r = d.session.feed(input.data(), input.size());
  EXPECT_LT(r.consumed, input.size());
  EXPECT_LE(d.session.output().size(), kSessionOutputBytes);
  d.take_output();
  d.feed(input.substr(r.consumed));
  EXPECT_EQ(lines(d.transcript).size(), 1u + 7 + 2000);
}

TEST(IngressSession, SettingsFromListenConfig) {
  ListenConfig listen;
  listen.tls = ListenTls::kRequired;
  listen.auth = ListenAuth::kRequired;
  listen.max_message_size = 5000;
  listen.max_recipients = 7;
  listen.max_errors = 9;
  listen.allow_plaintext_auth = true;
  SessionSettings s = make_session_settings(listen, "helo.example");
  EXPECT_EQ(s.hostname, "helo.example");
  EXPECT_EQ(s.max_message_bytes, 5000u);
  EXPECT_EQ(s.max_recipients, 7u);
  EXPECT_EQ(s.max_errors, 9u);
  EXPECT_TRUE(s.starttls && s.tls_required && s.allow_plaintext_auth);
  EXPECT_EQ(s.auth, ListenAuth::kRequired);
  listen.tls = ListenTls::kImplicit;
  listen.hostname = "mx.example";
  s = make_session_settings(listen, "helo.example");
  EXPECT_EQ(s.hostname, "mx.example");
  EXPECT_FALSE(s.starttls || s.tls_required);
  listen.tls = ListenTls::kStartTls;
  EXPECT_TRUE(make_session_settings(listen, "").starttls);
  listen.tls = ListenTls::kNone;
  EXPECT_FALSE(make_session_settings(listen, "").starttls);
}

}  // namespace
}  // namespace ringmail::ingress
