// tools/sink/sink_faults.h — fault injection for `ringmail sink`: which RCPT
// addresses get an error reply (and how many times), and how many messages
// are cut in the middle of DATA (or of their BDAT chunk bytes).
//
// Who uses it: tools/cmd_sink.cc parses the flags into one SinkFaults at
// start-up; every server thread's SmtpServerSession asks it per RCPT and per
// DATA. Shared by all threads: the counters are atomics, the rule table is
// fixed after start-up. It never does I/O and never allocates after parsing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringmail::sink {

// RcptFault is one --rcpt-reply rule: answer RCPT TO:<address> with |code|.
struct RcptFault {
  std::string address;  // lower-cased, without angle brackets
  int code = 0;         // 400..599, not 421
  // remaining is how many more times the rule fires; -1 = forever. Shared by
  // all threads (decremented with compare-and-swap, never below 0).
  std::unique_ptr<std::atomic<int64_t>> remaining;
};

class SinkFaults {
 public:
  SinkFaults() = default;
  SinkFaults(const SinkFaults&) = delete;
  SinkFaults& operator=(const SinkFaults&) = delete;

  // add_rcpt_reply parses "ADDR=CODE[:COUNT]" (ADDR may be in <>; CODE a
  // 4xx or 5xx other than 421; COUNT >= 1, absent = forever) and adds the
  // rule. A later rule for the same address is never consulted. Returns
  // false with |error| set to a sentence on a malformed spec. Call only
  // before the server threads start.
  bool add_rcpt_reply(std::string_view spec, std::string& error);

  // set_drop_during_data makes the first |messages| DATA or BDAT
  // transactions (over all threads) end with the connection closed after
  // some body (chunk) bytes, without a reply.
  void set_drop_during_data(uint64_t messages) { drop_remaining_.store(messages, std::memory_order_relaxed); }

  // rcpt_reply_code returns the fault reply code for |address| (compared
  // case-insensitively, angle brackets excluded) and uses up one of the
  // rule's counts, or 0 when no rule matches or its count is used up.
  int rcpt_reply_code(std::string_view address) const;

  // take_drop_during_data returns true if the message now entering DATA
  // (or its first BDAT) is to be cut (and uses up one of the
  // --drop-during-data count).
  bool take_drop_during_data() const;

  bool empty() const { return rcpt_faults_.empty() && drop_remaining_.load(std::memory_order_relaxed) == 0; }

 private:
  std::vector<RcptFault> rcpt_faults_;
  mutable std::atomic<uint64_t> drop_remaining_{0};
};

// rcpt_fault_reply_text writes the reply line for a fault |code| on
// |address| into |out| (capacity |out_bytes|, CRLF included) and returns its
// length, e.g. "550 5.1.1 <a@b>: Recipient address rejected: User unknown".
// The address is cut at 256 bytes so a reply always fits in 400 bytes.
size_t rcpt_fault_reply_text(int code, std::string_view address, char* out, size_t out_bytes);

}  // namespace ringmail::sink
