// tests/fuzz/sink_session_fuzz.cc — libFuzzer target for the sink's SMTP
// server machine (tools/sink/sink_session.h) with STARTTLS and AUTH on: the
// parts that read untrusted client text (command lines, AUTH responses and
// their base64, DATA and BDAT bodies).
//
// The input is a client's byte stream. Its first byte picks the read sizes;
// reads are fed as the server does (the unconsumed rest again after the
// output is taken); on kStartTls the rest of the read is dropped and
// tls_started() called, as after a handshake. Invariants, any broken one
// aborts: every feed makes progress or has output to send; the output is
// whole CRLF-terminated lines; a message is accepted only after a
// successful AUTH; a message counted over TLS only once TLS is on; AUTH
// counted by the right channel. ASan/UBSan check the buffers.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingress/sasl_decode.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/sink/sink_session.h"

namespace {

using ringmail::sink::FeedResult;
using ringmail::sink::SessionAction;
using ringmail::sink::SessionConfig;
using ringmail::sink::SmtpServerSession;

using ringmail_fuzz::check;

const SessionConfig& config() {
  static const SessionConfig c = [] {
    SessionConfig s;
    s.hostname = "sink.fuzz";
    s.starttls = true;
    s.auth_user = "alerts";
    s.auth_password = "s3cret";
    s.max_message_bytes = 1 << 16;
    s.max_recipients = 8;
    return s;
  }();
  return c;
}

void check_lines(std::string_view out) {
  check(out.empty() || (out.size() >= 2 && out.substr(out.size() - 2) == "\r\n"), "output ends with CRLF");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t read_size = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  // The pure pieces on the raw input, too.
  char decoded[ringmail::sink::kMaxAuthDecodedBytes];
  size_t decoded_size = 0;
  if (ringmail::ingress::base64_decode(input.substr(0, 1000), decoded, sizeof(decoded), decoded_size)) {
    check(decoded_size <= sizeof(decoded), "decoded size within capacity");
    ringmail::ingress::PlainCredentials credentials;
    (void)ringmail::ingress::parse_plain(std::string_view(decoded, decoded_size), credentials);
  }

  SmtpServerSession session(&config(), nullptr);
  uint64_t queue_id = 1;
  session.start(nullptr, &queue_id);
  check_lines(session.output());
  session.consume_output(session.output().size());
  bool closed = false;
  for (size_t at = 0; at < input.size() && !closed; at += read_size) {
    std::string_view read = input.substr(at, read_size);
    while (!read.empty() && !closed) {
      const bool tls_before = session.tls_active();
      const bool auth_before = session.authenticated();
      const FeedResult r = session.feed(read.data(), read.size());
      check(r.consumed <= read.size(), "consumed within the input");
      read.remove_prefix(r.consumed);
      const std::string_view out = session.output();
      check(r.consumed > 0 || !out.empty() || r.action != SessionAction::kContinue, "progress");
      check_lines(out);
      check(r.messages_tls <= r.messages_accepted, "TLS messages within messages");
      check(r.messages_tls == 0 || tls_before, "a message counted over TLS only over TLS");
      check(r.messages_accepted == 0 || auth_before || session.authenticated(), "no message without AUTH");
      check((tls_before ? r.auth_clear : r.auth_tls) == 0, "AUTH counted on the right channel");
      check(r.auth_failed <= r.auth_tls + r.auth_clear, "failures within exchanges");
      session.consume_output(out.size());
      if (r.action == SessionAction::kClose) closed = true;
      if (r.action == SessionAction::kStartTls) {
        check(read.empty(), "the rest of the read was discarded");
        session.tls_started();
        check(!session.authenticated(), "AUTH forgotten by STARTTLS");
      }
    }
  }
  session.close();
  return 0;
}
