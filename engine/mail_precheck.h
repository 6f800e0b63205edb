// engine/mail_precheck.h — what a message needs from the relay (SIZE,
// 8BITMIME, SMTPUTF8), checked against what the relay's EHLO offers before
// MAIL FROM is sent, and the MAIL FROM parameters that follow from both.
//
// Who calls it: engine/smtp_client.cc, once per message it takes. Pure
// functions of the parsed envelope, the bytes in memory and the EHLO
// capabilities: no I/O, no allocation (texts go into caller buffers). They
// only find facts; what each finding means (fail the recipient, fail the
// message) is engine/delivery_policy's decide_precheck.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/delivery_policy.h"
#include "engine/ehlo_capabilities.h"
#include "queue/envelope.h"

namespace ringmail {

// MessageNeeds is what one message asks of the relay.
struct MessageNeeds {
  uint64_t size_bytes = 0;      // the file size (an estimate, RFC 1870); 0 = unknown
  bool sender_utf8 = false;     // the sender address has a non-ASCII byte
  bool recipient_utf8 = false;  // some recipient address has one
  bool header_8bit = false;     // the header section has a byte >= 0x80
  bool eight_bit = false;       // the bytes in memory (header or body) have one
  bool rest_unknown = false;    // the file goes on past the bytes in memory
};

// message_needs reads |envelope| (parsed from |head|, the first bytes of
// the file; |whole_file|: that is all of it) and the file size
// |size_bytes| (0 = unknown). Recipient addresses count only where
// |pending(i)| is true (recipients settled in earlier attempts do not).
template <typename PendingFn>
MessageNeeds message_needs(const Envelope& envelope, std::string_view head, bool whole_file,
                           uint64_t size_bytes, PendingFn pending) {
  MessageNeeds needs;
  needs.size_bytes = size_bytes;
  needs.sender_utf8 = !is_ascii(envelope.sender);
  for (uint32_t i = 0; i < envelope.recipient_count; ++i) {
    if (pending(i) && !is_ascii(envelope.recipients[i])) needs.recipient_utf8 = true;
  }
  const size_t body_offset = std::min<size_t>(envelope.body_offset, head.size());
  const size_t header_end = std::min<size_t>(std::max<size_t>(envelope.header_end, body_offset), head.size());
  needs.header_8bit = !is_ascii(head.substr(body_offset, header_end - body_offset));
  needs.eight_bit = needs.header_8bit || !is_ascii(head.substr(header_end));
  needs.rest_unknown = !whole_file;
  return needs;
}

// message_precheck is the first thing about the whole message the relay
// cannot take, or nothing: over its announced SIZE (kSizeOverLimit), a
// non-ASCII sender without SMTPUTF8 (kSenderNeedsSmtputf8), known 8-bit data
// without 8BITMIME (kEightBitNotOffered).
std::optional<Precheck> message_precheck(const EhloCapabilities& caps, const MessageNeeds& needs);

// recipient_precheck: kRecipientNeedsSmtputf8 when |address| is not ASCII
// and the relay does not offer SMTPUTF8; else nothing.
std::optional<Precheck> recipient_precheck(const EhloCapabilities& caps, std::string_view address);

// precheck_reason writes the operator's sentence for |check| into
// out[0..out_cap) (NUL-terminated, cut to fit) and returns its length.
// |address| is the address concerned (sender or recipient), if any.
size_t precheck_reason(Precheck check, const EhloCapabilities& caps, const MessageNeeds& needs,
                       std::string_view address, char* out, size_t out_cap);

// kMaxMailParamsBytes bounds what mail_params writes.
constexpr size_t kMaxMailParamsBytes = 64;

// mail_params writes the MAIL FROM parameters for a message that passed
// message_precheck, each with its leading space, into out[0..out_cap)
// (out_cap >= kMaxMailParamsBytes) and returns their length:
//   " SIZE=<n>"       the relay offers SIZE and the size is known;
//   " BODY=8BITMIME"  the relay offers 8BITMIME and the data is 8-bit or
//                     not all known (declaring 7-bit data is harmless);
//   " SMTPUTF8"       the relay offers SMTPUTF8 and an address or the
//                     header section is not ASCII.
size_t mail_params(const EhloCapabilities& caps, const MessageNeeds& needs, char* out, size_t out_cap);

}  // namespace ringmail
