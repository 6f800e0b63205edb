// tests/fuzz/smtp_client_fuzz.cc — libFuzzer target for the SMTP client
// protocol machine as a whole (engine/smtp_client.h): random server bytes,
// split at random points, with one or two messages offered.
//
// Input: bytes 0 and 1 pick the set-up. Byte 0: one or two messages (the
// second one large enough to be streamed through body reads), smtp.chunking
// on or off, max_messages_per_connection 1 or 100, the TLS level none or
// may (bit 16, when byte 1 names none), an identity record layer whose
// handshake succeeds or fails. Byte 1: the TLS level (bits 0-2: 0 = byte
// 0's, then none, may, encrypt, verify, secure), implicit TLS (bit 3),
// credentials (bits 4-5: none, TLS only, allow_plaintext_auth), STARTTLS
// not allowed on the connection (bit 6, as after a failed handshake at
// may). The rest is a list of steps, each a length byte then that many
// server bytes; length bytes 0xF0..0xFF are events instead (the peer
// closes, a timeout, a send error, a body read that lands late, a TLS
// failure). Between steps the harness acts as the worker does: flushes
// the output, answers reads, offers messages, asks for QUIT when idle.
//
// Invariants (any break aborts): no crash or sanitizer report; the
// message bodies (which carry a marker) never go out before the server
// said 354 or advertised CHUNKING; at encrypt, verify and secure no MAIL
// and no body byte is written before TLS; with credentials, no MAIL before
// a successful AUTH, and the credentials (the password, its base64 and the
// PLAIN response) never written in clear unless allow_plaintext_auth, and
// never shown by the transcript mask; every message is handed back at
// most once, and all of them before the connection closes (also after a
// QUIT pipelined behind the last message); output and receive buffer stay
// within their bounds.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/delivery_policy.h"
#include "engine/message_slot.h"
#include "engine/smtp_auth.h"
#include "engine/smtp_client.h"
#include "queue/envelope.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using ringmail::ClientState;
using ringmail::MessageSlot;
using ringmail::SmtpClient;

constexpr char kMarker[] = "BODYMARK";
// The login, and the forms it must never take in clear or in a transcript.
constexpr char kPassword[] = "fuzz-secret";
constexpr char kPasswordB64[] = "ZnV6ei1zZWNyZXQ=";
constexpr char kPlainB64[] = "AHVzZXIAZnV6ei1zZWNyZXQ=";  // "\0user\0fuzz-secret"
constexpr char kUserB64[] = "dXNlcg==";

using ringmail_fuzz::check;

bool contains_nocase(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    size_t j = 0;
    while (j < needle.size() && (haystack[i + j] | 0x20) == (needle[j] | 0x20)) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

class Harness : public ringmail::SmtpClientHost {
 public:
  Harness(uint8_t setup, uint8_t setup2) : client_(&config_, this) {
    using ringmail::TlsLevel;
    config_.helo_name = "fuzz.test";
    config_.chunking = (setup & 2) != 0;
    config_.max_messages_per_connection = (setup & 4) ? 1 : 100;
    static constexpr TlsLevel kLevels[] = {TlsLevel::kNone,    TlsLevel::kNone,   TlsLevel::kMay,
                                           TlsLevel::kEncrypt, TlsLevel::kVerify, TlsLevel::kSecure,
                                           TlsLevel::kMay,     TlsLevel::kMay};
    const TlsLevel level =
        (setup2 & 7) == 0 ? ((setup & 16) != 0 ? TlsLevel::kMay : TlsLevel::kNone) : kLevels[setup2 & 7];
    // As the worker configures it: implicit TLS needs a level, and at may
    // it is encrypt (effective_tls_level).
    config_.implicit_tls = (setup2 & 8) != 0 && level != TlsLevel::kNone;
    config_.tls_level = ringmail::effective_tls_level(level, config_.implicit_tls);
    tls_fails_ = (setup & 32) != 0;
    starttls_allowed_ = (setup2 & 64) == 0;
    const uint8_t login = (setup2 >> 4) & 3;
    if (login != 0) {
      allow_plaintext_ = login == 2;
      std::string error;
      check(ringmail::make_smtp_credentials("user", kPassword, allow_plaintext_, credentials_, error),
            "test credentials");
      config_.credentials = &credentials_;
    }
    std::string small =
        "X-Ringmail-From: <s@x.test>\nX-Ringmail-To: <a@y.test>\nX-Ringmail-To: <b@y.test>\n"
        "Subject: s\n\nBODYMARK one\n.dot\n";
    std::string large =
        "X-Ringmail-From: <s@x.test>\nX-Ringmail-To: <c@y.test>\nSubject: l\n\nBODYMARK two\n";
    while (large.size() < 70'000)
      large += "0123456789012345678901234567890123456789012345678901234567890123456789\n";
    texts_.push_back(small);
    if (setup & 1) texts_.push_back((setup & 8) ? large : small);
    for (size_t i = 0; i < texts_.size(); ++i) {
      slots_.push_back(std::make_unique<MessageSlot>(nullptr, static_cast<uint32_t>(i)));
      load(*slots_.back(), texts_[i]);
      done_.push_back(false);
    }
  }

  void run(const uint8_t* data, size_t size) {
    client_.start(2, 0, starttls_allowed_);
    settle();
    size_t i = 0;
    while (i < size) {
      const uint8_t step = data[i++];
      if (step >= 0xF0) {
        event(step);
      } else {
        const size_t n = std::min<size_t>(step, size - i);
        feed(reinterpret_cast<const char*>(data + i), n);
        i += n;
      }
      settle();
    }
  }

  // SmtpClientHost.
  void connect(uint32_t) override { connect_asked_ = true; }
  void close() override { close_asked_ = true; }
  void read_body(MessageSlot* slot, uint64_t offset) override {
    check(slot->client == &client_, "read asked for a message the machine carries");
    read_slot_ = slot;
    read_offset_ = offset;
  }
  void start_tls() override {
    check(config_.tls_level != ringmail::TlsLevel::kNone, "TLS asked for only when configured");
    tls_asked_ = true;
  }
  void transaction_done(MessageSlot* slot) override {
    check(!done_[slot->index], "a message handed back once");
    check(slot->client == nullptr, "handed back: no longer the machine's");
    done_[slot->index] = true;
    if (read_slot_ == slot) read_slot_ = nullptr;
  }

 private:
  static void load(MessageSlot& slot, const std::string& text) {
    slot.reset();
    const size_t n = std::min(text.size(), MessageSlot::kHeadBytes);
    std::memcpy(slot.head.get(), text.data(), n);
    slot.head_len = static_cast<uint32_t>(n);
    slot.whole_file = n < MessageSlot::kHeadBytes;
    if (slot.whole_file) slot.file_end = n;
    slot.ref.size_bytes = text.size();
    std::string error;
    const auto parse = ringmail::parse_envelope(std::string_view(slot.head.get(), slot.head_len),
                                                slot.whole_file, "", slot.envelope, error);
    check(parse == ringmail::EnvelopeParse::kOk, "test message parses");
    slot.attempt_pending = slot.envelope.recipient_count;
    for (uint32_t i = 0; i < slot.envelope.recipient_count; ++i)
      slot.rcpt_state[i] = ringmail::RcptState::kPending;
  }

  void feed(const char* bytes, size_t n) {
    const ClientState state = client_.state();
    if (state == ClientState::kIdle || state == ClientState::kConnecting || state == ClientState::kClosing)
      return;
    server_.append(bytes, n);
    // What the server has said so far: a line starting "354", "CHUNKING".
    for (size_t i = 0; i < n; ++i) {
      const bool line_start = server_.size() - n + i == 0 || server_[server_.size() - n + i - 1] == '\n';
      if (line_start && std::string_view(bytes + i, n - i).substr(0, 3) == "354") said_354_ = true;
    }
    if (contains_nocase(server_, "CHUNKING")) said_chunking_ = true;
    while (n > 0 && client_.in_room() > 0 && client_.state() != ClientState::kIdle &&
           client_.state() != ClientState::kClosing) {
      const size_t taken = client_.feed(bytes, n);
      bytes += taken;
      n -= taken;
      if (taken == 0) break;
    }
  }

  void event(uint8_t step) {
    switch (step & 7) {
      case 0:
        client_.on_peer_closed();
        break;
      case 1:
        client_.on_receive_failed(true, "");
        break;
      case 2:
        client_.on_send_failed(false, "Connection reset by peer");
        break;
      case 3:
        late_reads_ = !late_reads_;
        break;
      case 4:
        // A TLS alert (in kEhloAfterTls: a refused client certificate).
        client_.on_tls_failed("alert");
        break;
      default:
        client_.on_receive_failed(false, "Connection reset by peer");
        break;
    }
  }

  void settle() {
    for (int guard = 0; guard < 10'000; ++guard) {
      if (tls_asked_) {
        // The record layer is the identity here; its handshake ends at once.
        tls_asked_ = false;
        if (tls_fails_) {
          client_.on_tls_failed("alert");
        } else {
          client_.on_tls_ready();
        }
        continue;
      }
      if (close_asked_) {
        close_asked_ = false;
        check(!client_.carries_messages(), "a closing connection has handed back every message");
        client_.on_closed();
        if (++connections_ < 3 && next_ < slots_.size()) client_.start(2, 0, starttls_allowed_);
        continue;
      }
      if (connect_asked_) {
        connect_asked_ = false;
        if (connects_++ == 0) {
          client_.on_connect_failed("relay[192.0.2.1]:25", "Connection refused");
        } else {
          client_.on_connected("relay[192.0.2.2]:25");
        }
        continue;
      }
      const std::string_view out = client_.output();
      check(out.size() <= SmtpClient::kOutBytes, "output within its buffer");
      if (!out.empty()) {
        check_output(out);
        client_.on_sent(out.size());
        continue;
      }
      if (read_slot_ != nullptr && !late_reads_) {
        MessageSlot* slot = read_slot_;
        read_slot_ = nullptr;
        const std::string& text = texts_[slot->index];
        check(read_offset_ <= text.size(), "read within the file");
        const size_t n = std::min<size_t>(MessageSlot::kStreamBytes, text.size() - read_offset_);
        std::memcpy(slot->stream.get(), text.data() + read_offset_, n);
        slot->stream_offset = read_offset_;
        slot->stream_len = static_cast<uint32_t>(n);
        if (n < MessageSlot::kStreamBytes) {
          slot->eof_seen = true;
          slot->file_end = read_offset_ + n;
        }
        client_.on_body_chunk(slot);
        continue;
      }
      if (next_ < slots_.size() && client_.can_take_message()) {
        client_.take_message(slots_[next_++].get());
        continue;
      }
      if (client_.state() == ClientState::kReady && !client_.carries_messages() &&
          (next_ == slots_.size() || client_.exhausted())) {
        client_.quit();
        continue;
      }
      return;
    }
    check(false, "the machine keeps asking for work");
  }

  // check_output holds the bytes about to be written to the invariants.
  void check_output(std::string_view out) {
    const size_t from = wire_.size() >= sizeof(kMarker) ? wire_.size() - sizeof(kMarker) : 0;
    wire_.append(out);
    const bool marker = wire_.find(kMarker, from) != std::string::npos;
    if (marker) check(said_354_ || said_chunking_, "no body before a 354 or CHUNKING");
    const bool mail = out.find("MAIL FROM:") != std::string_view::npos;
    if (mail || marker) {
      const bool tls_required =
          config_.tls_level != ringmail::TlsLevel::kNone && config_.tls_level != ringmail::TlsLevel::kMay;
      check(!tls_required || client_.tls_active(), "no MAIL or body in clear when TLS is required");
      check(!credentials_.configured() || client_.authenticated(), "no MAIL or body before AUTH succeeded");
    }
    const size_t secret = client_.output_credential_bytes();
    check(secret <= out.size(), "credential bytes within the output");
    const std::string masked =
        ringmail::mask_credential_lines(out.substr(0, secret)) + std::string(out.substr(secret));
    if (credentials_.configured() && !client_.tls_active() && !allow_plaintext_) {
      check(out.find("AUTH ") == std::string_view::npos, "no AUTH command in clear unless allowed");
    }
    for (const char* form : {kPassword, kPasswordB64, kPlainB64, kUserB64}) {
      check(masked.find(form) == std::string::npos, "the transcript never shows a credential");
      if (!client_.tls_active() && !allow_plaintext_) {
        check(out.find(form) == std::string_view::npos, "credentials never in clear unless allowed");
      }
    }
  }

  ringmail::SmtpClientConfig config_;
  ringmail::SmtpCredentials credentials_;
  bool allow_plaintext_ = false;
  bool starttls_allowed_ = true;
  SmtpClient client_;
  std::vector<std::string> texts_;
  std::vector<std::unique_ptr<MessageSlot>> slots_;
  std::vector<bool> done_;
  size_t next_ = 0;
  std::string server_;
  std::string wire_;
  bool said_354_ = false;
  bool said_chunking_ = false;
  bool connect_asked_ = false;
  bool close_asked_ = false;
  bool tls_asked_ = false;
  bool tls_fails_ = false;
  bool late_reads_ = false;
  MessageSlot* read_slot_ = nullptr;
  uint64_t read_offset_ = 0;
  uint32_t connects_ = 0;
  uint32_t connections_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Harness harness(data[0], data[1]);
  harness.run(data + 2, size - 2);
  return 0;
}
