// engine/mail_precheck.cc — see mail_precheck.h. Pure; texts are formatted
// with snprintf into the caller's buffers (no allocation on the worker).
#include "engine/mail_precheck.h"

#include <cstdio>

namespace ringmail {
namespace {

// kQuotedAddressBytes bounds an address quoted in a reason.
constexpr int kQuotedAddressBytes = 300;

int quoted_length(std::string_view address) {
  return static_cast<int>(address.size() < kQuotedAddressBytes ? address.size() : kQuotedAddressBytes);
}

size_t written(int n, size_t out_cap) {
  if (n < 0) return 0;
  return static_cast<size_t>(n) < out_cap ? static_cast<size_t>(n) : out_cap - 1;
}

}  // namespace

std::optional<Precheck> message_precheck(const EhloCapabilities& caps, const MessageNeeds& needs) {
  if (caps.size && caps.size_limit > 0 && needs.size_bytes > caps.size_limit) return Precheck::kSizeOverLimit;
  if (needs.sender_utf8 && !caps.smtputf8) return Precheck::kSenderNeedsSmtputf8;
  if (needs.eight_bit && !caps.eight_bit_mime) return Precheck::kEightBitNotOffered;
  return std::nullopt;
}

std::optional<Precheck> recipient_precheck(const EhloCapabilities& caps, std::string_view address) {
  if (!caps.smtputf8 && !is_ascii(address)) return Precheck::kRecipientNeedsSmtputf8;
  return std::nullopt;
}

size_t precheck_reason(Precheck check, const EhloCapabilities& caps, const MessageNeeds& needs,
                       std::string_view address, char* out, size_t out_cap) {
  if (out_cap == 0) return 0;
  int n = 0;
  switch (check) {
    case Precheck::kSizeOverLimit:
      n = std::snprintf(out, out_cap,
                        "message is %llu bytes; the relay accepts at most %llu (SIZE); raise the relay's "
                        "message size limit or send a smaller message",
                        static_cast<unsigned long long>(needs.size_bytes),
                        static_cast<unsigned long long>(caps.size_limit));
      break;
    case Precheck::kSenderNeedsSmtputf8:
      n = std::snprintf(out, out_cap,
                        "the relay does not offer SMTPUTF8 and the sender address <%.*s> is not ASCII (RFC "
                        "6531 3.2); use an ASCII sender or a relay that offers SMTPUTF8",
                        quoted_length(address), address.data());
      break;
    case Precheck::kRecipientNeedsSmtputf8:
      n = std::snprintf(
          out, out_cap,
          "the relay does not offer SMTPUTF8 and the address <%.*s> is not ASCII (RFC 6531 3.2); "
          "use an ASCII address or a relay that offers SMTPUTF8",
          quoted_length(address), address.data());
      break;
    case Precheck::kEightBitNotOffered:
      n = std::snprintf(out, out_cap,
                        "message has 8-bit data and the relay does not offer 8BITMIME (RFC 6152); encode the "
                        "message as 7-bit MIME (quoted-printable or base64) or use a relay that offers "
                        "8BITMIME");
      break;
    case Precheck::kEightBitWhileStreaming:
      n = std::snprintf(out, out_cap,
                        "message has 8-bit data and the relay does not offer 8BITMIME (RFC 6152; found past "
                        "the first 64 KiB, while sending); encode the message as 7-bit MIME "
                        "(quoted-printable or base64) or use a relay that offers 8BITMIME");
      break;
  }
  return written(n, out_cap);
}

size_t mail_params(const EhloCapabilities& caps, const MessageNeeds& needs, char* out, size_t out_cap) {
  size_t len = 0;
  auto add = [&](int n) { len += written(n, out_cap - len); };
  if (caps.size && needs.size_bytes > 0) {
    add(std::snprintf(out + len, out_cap - len, " SIZE=%llu",
                      static_cast<unsigned long long>(needs.size_bytes)));
  }
  if (caps.eight_bit_mime && (needs.eight_bit || needs.rest_unknown)) {
    add(std::snprintf(out + len, out_cap - len, " BODY=8BITMIME"));
  }
  // Non-ASCII only in the header section, and no SMTPUTF8: sent without it
  // (docs/spool.md, "Line length, 8-bit and SMTPUTF8").
  if (caps.smtputf8 && (needs.sender_utf8 || needs.recipient_utf8 || needs.header_8bit)) {
    add(std::snprintf(out + len, out_cap - len, " SMTPUTF8"));
  }
  return len;
}

}  // namespace ringmail
