// tests/fuzz/tls_client_fuzz.cc — libFuzzer target for TlsSession as a
// client (tls/tls_session.h) and the STARTTLS guard: the input is what an
// untrusted server sends after the ClientHello, fed in pieces whose sizes
// come from the first byte.
//
// Invariants (any break aborts): no crash or sanitizer report; the
// handshake never completes (the trust store is empty and the level is
// verify, so no input can be trusted, and a random server cannot forge a
// Finished); after a failure error() is a non-empty sentence and every
// later call fails too; bounded buffers hold (feed never accepts more than
// kMaxBufferedCiphertextIn pending); plaintext never comes out.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/fuzz/fuzz_check.h"
#include "tls/starttls_guard.h"
#include "tls/tls_client_context.h"
#include "tls/tls_session.h"

namespace {

using ringmail_fuzz::check;

const ringmail::TlsClientContext& context() {
  static std::unique_ptr<ringmail::TlsClientContext> ctx = [] {
    ringmail::TlsPolicy policy;
    policy.level = ringmail::TlsLevel::kVerify;
    policy.ca_dir = "";  // empty trust store: nothing can verify
    std::string error;
    auto made = ringmail::TlsClientContext::create(policy, error);
    check(made != nullptr, "client context");
    return made;
  }();
  return *ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The STARTTLS guard on the same bytes: a pure function of two numbers.
  std::string reason;
  auto verdict = ringmail::judge_starttls_reply(static_cast<uint16_t>(200 + data[0]), size - 1, reason);
  check((verdict == ringmail::StartTlsReplyVerdict::kStartHandshake) == reason.empty(), "guard reason");

  size_t chunk = 1 + data[0] % 64;
  if (data[0] >= 192) chunk = SIZE_MAX;
  data++;
  size--;

  ringmail::TlsSession session;
  check(session.start_client(
            context(), ringmail::tls_peer_names(ringmail::TlsLevel::kVerify, "mx.example", ""), nullptr),
        "start");
  check(session.handshake() == ringmail::TlsStep::kWantMore, "first step");
  check(!session.pending_ciphertext().empty(), "ClientHello");
  session.consume_ciphertext(session.pending_ciphertext().size());

  size_t offset = 0;
  bool failed = false;
  while (offset < size && !failed) {
    size_t n = size - offset < chunk ? size - offset : chunk;
    size_t accepted = session.feed_ciphertext(data + offset, n);
    check(accepted <= n, "accepted");
    offset += accepted;
    ringmail::TlsStep step = session.handshake();
    check(step != ringmail::TlsStep::kDone, "handshake done with an untrusted random server");
    session.consume_ciphertext(session.pending_ciphertext().size());
    if (step == ringmail::TlsStep::kFailed) failed = true;
    if (accepted == 0 && !failed) break;  // full and stuck: a real owner would read first
  }
  if (!failed) {
    session.feed_eof();
    failed = session.handshake() == ringmail::TlsStep::kFailed;
    check(failed, "EOF fails the handshake");
  }
  check(!session.error().empty(), "failure has a sentence");
  check(session.handshake() == ringmail::TlsStep::kFailed, "failure is final");
  char buf[64];
  size_t read = 0;
  check(session.read_plaintext(buf, sizeof buf, read) == ringmail::TlsIo::kFailed && read == 0,
        "no plaintext");
  return 0;
}
