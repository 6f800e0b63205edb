// tests/fuzz/ingress_session_fuzz.cc — libFuzzer target for the listener's
// SMTP server machine (ingress/smtp_server_session.h): random client bytes,
// random host answers, random handshakes, stores, closes and timeouts.
//
// Input: byte 0 picks the listener (STARTTLS, tls=required, auth mode,
// plaintext AUTH, trusted client), byte 1 the read size, bytes 2..3 seed the
// host's answers; the rest is the client's byte stream, fed as the adapter
// does. Invariants, any broken one aborts:
//  - a message is stored (end_message) only right after CRLF.CRLF or at
//    the end of a "BDAT n LAST" chunk, and its body holds no bare LF or CR;
//  - AUTH is checked (check_credentials) only over TLS or with
//    allow_plaintext_auth, and never before STARTTLS with tls = required;
//  - an untrusted, unauthenticated client never gets a message begun, and
//    with auth = required never gets past MAIL (admit_message);
//  - host calls come in order (begin, append*, end | abort);
//  - every feed makes progress or says why; the output is whole CRLF lines.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingress/smtp_command.h"
#include "ingress/smtp_server_session.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace ringmail::ingress;

using ringmail_fuzz::check;

bool has_bare_line_end(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) return true;
    if (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n')) return true;
  }
  return false;
}

// ends_with_bdat_last: |taken| ends with the whole chunk of a "BDAT n LAST"
// command. The command may follow the bytes of an earlier chunk on the same
// "line", so every "BDAT " inside a line is tried.
bool ends_with_bdat_last(std::string_view taken) {
  for (size_t at = taken.rfind("\r\n"); at != std::string_view::npos && at > 0;
       at = taken.rfind("\r\n", at - 1)) {
    const size_t start = taken.rfind("\r\n", at - 1);
    const size_t line_begin = start == std::string_view::npos ? 0 : start + 2;
    for (size_t p = line_begin; p + 5 <= at; ++p) {
      const std::string_view command = taken.substr(p, at - p);
      uint64_t count = 0;
      bool last = false;
      if (starts_with_ignore_case(command, "BDAT ") && parse_bdat_args(command.substr(5), count, last) &&
          last && at + 2 + count == taken.size())
        return true;
    }
  }
  return false;
}

class FuzzHost : public SessionHost {
 public:
  AuthCheck check_credentials(std::string_view, std::string_view) override {
    check(session->tls_active() || settings->allow_plaintext_auth, "AUTH checked in clear");
    check(session->tls_active() || !settings->tls_required, "AUTH before STARTTLS with tls=required");
    return static_cast<AuthCheck>(next() % 3);
  }
  bool admit_message() override {
    check(trusted || !session->auth_user().empty() || settings->auth != ringmail::ListenAuth::kRequired,
          "MAIL accepted for an untrusted unauthenticated client");
    check(session->tls_active() || !settings->tls_required, "MAIL before STARTTLS with tls=required");
    return next() % 8 != 0;
  }
  bool begin_message(const TransactionInfo& info) override {
    check(!open, "begin while a message is open");
    check(trusted || !session->auth_user().empty(), "message begun for an untrusted unauthenticated client");
    check(info.recipients != nullptr && !info.recipients->empty(), "message without recipients");
    open = next() % 16 != 0;
    body.clear();
    return open;
  }
  bool append_body(const char* data, size_t size) override {
    check(open, "append outside a message");
    body.append(data, size);
    check(body.size() <= settings->max_message_bytes, "body over the limit reached the host");
    return next() % 64 != 0;
  }
  void end_message() override {
    check(open, "end outside a message");
    check(!has_bare_line_end(body), "body stored with a bare LF or CR");
    open = false;
    ended = true;
  }
  void abort_message() override {
    check(open, "abort outside a message");
    open = false;
  }
  void note(SessionEvent, std::string_view) override {}

  uint8_t next() {
    state = state * 1103515245u + 12345u;
    return static_cast<uint8_t>(state >> 16);
  }

  const SessionSettings* settings = nullptr;
  const ServerSession* session = nullptr;
  bool trusted = false;
  bool open = false;
  bool ended = false;
  std::string body;
  uint32_t state = 1;
};

void check_lines(std::string_view out) {
  check(out.size() <= kSessionOutputBytes, "output within its buffer");
  check(out.empty() || (out.size() >= 2 && out.substr(out.size() - 2) == "\r\n"), "output ends with CRLF");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  SessionSettings settings;
  settings.hostname = "mx.fuzz";
  settings.max_message_bytes = 512;
  settings.max_recipients = 4;
  settings.max_errors = 30;
  settings.starttls = data[0] & 1;
  settings.tls_required = settings.starttls && (data[0] & 2);
  settings.auth = static_cast<ringmail::ListenAuth>((data[0] >> 2) % 3);
  settings.allow_plaintext_auth = data[0] & 16;
  const bool trusted = data[0] & 32;
  const size_t read_size = 1 + data[1] % 64;
  FuzzHost host;
  host.state = data[2] | (data[3] << 8);
  host.settings = &settings;
  host.trusted = trusted;
  ServerSession session(&settings, &host);
  host.session = &session;
  const std::string_view input(reinterpret_cast<const char*>(data + 4), size - 4);

  session.start(ClientInfo{"192.0.2.9", trusted});
  if (data[0] & 64) session.tls_started(TlsFacts{"TLSv1.3", "TLS_AES_128_GCM_SHA256"});  // implicit TLS
  check_lines(session.output());
  session.consume_output(session.output().size());
  std::string taken;  // every byte the session consumed, in order
  bool closed = false;
  for (size_t at = 0; at < input.size() && !closed; at += read_size) {
    std::string_view read = input.substr(at, read_size);
    while (!read.empty() && !closed) {
      host.ended = false;
      const FeedResult r = session.feed(read.data(), read.size());
      check(r.consumed <= read.size(), "consumed within the input");
      const bool had_output = !session.output().empty();
      check_lines(session.output());
      taken.append(read.substr(0, r.consumed));
      read.remove_prefix(r.consumed);
      check(r.consumed > 0 || had_output || r.action != SessionAction::kContinue, "progress");
      check(host.ended == (r.action == SessionAction::kWaitStore), "kWaitStore exactly after end_message");
      if (host.ended) {
        check(taken.ends_with("\r\n.\r\n") || ends_with_bdat_last(taken), "stored without CRLF.CRLF or LAST");
      }
      session.consume_output(session.output().size());
      switch (r.action) {
        case SessionAction::kClose:
          closed = true;
          break;
        case SessionAction::kStartTls:
          check(read.empty(), "the rest of the read was discarded");
          read = {};
          if (host.next() % 8 == 0) {
            session.close();  // handshake failed
            closed = true;
          } else {
            session.tls_started(TlsFacts{"TLSv1.3", "TLS_AES_128_GCM_SHA256"});
            check(session.auth_user().empty(), "AUTH forgotten by STARTTLS");
          }
          break;
        case SessionAction::kWaitStore:
          if (host.next() % 16 == 0) {
            session.close();  // the peer went away while the store ran
            closed = true;
          } else {
            session.on_stored(host.next() % 4 != 0, "0000000001.1.0.1");
            check_lines(session.output());
            session.consume_output(session.output().size());
          }
          break;
        case SessionAction::kContinue:
          break;
      }
    }
    if (!closed && host.next() % 128 == 0) {
      session.timed_out();
      check_lines(session.output());
      check(!host.open, "timeout left a message open");
      closed = true;
    }
  }
  session.close();
  check(!host.open, "close left a message open");
  return 0;
}
