// tools/sink/sink_faults.cc — parsing and matching of the sink's fault rules.
// See sink_faults.h. Pure logic; never does I/O.
#include "tools/sink/sink_faults.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ringmail::sink {
namespace {

constexpr size_t kMaxEchoedAddressBytes = 256;

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string_view strip_brackets(std::string_view address) {
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    return address.substr(1, address.size() - 2);
  }
  return address;
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

bool SinkFaults::add_rcpt_reply(std::string_view spec, std::string& error) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string_view::npos || eq == 0) {
    error = "--rcpt-reply '" + std::string(spec) +
            "' is not ADDR=CODE[:COUNT]; write e.g. --rcpt-reply bad@example.org=550:3";
    return false;
  }
  std::string_view address = strip_brackets(spec.substr(0, eq));
  std::string_view rest = spec.substr(eq + 1);
  std::string_view code_text = rest;
  std::string_view count_text;
  if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
    code_text = rest.substr(0, colon);
    count_text = rest.substr(colon + 1);
  }
  int code = 0;
  if (!parse_number(code_text, code) || code < 400 || code > 599 || code == 421) {
    error = "--rcpt-reply '" + std::string(spec) +
            "': the code must be a 4xx or 5xx reply code other than 421 (e.g. 451 or 550)";
    return false;
  }
  int64_t count = -1;
  if (!count_text.empty() || rest.find(':') != std::string_view::npos) {
    if (!parse_number(count_text, count) || count < 1) {
      error = "--rcpt-reply '" + std::string(spec) +
              "': COUNT must be a whole number >= 1 (leave it out to fault forever)";
      return false;
    }
  }
  if (address.empty()) {
    error = "--rcpt-reply '" + std::string(spec) + "': the address is empty";
    return false;
  }
  RcptFault fault;
  fault.address.reserve(address.size());
  for (char c : address) fault.address.push_back(ascii_lower(c));
  fault.code = code;
  fault.remaining = std::make_unique<std::atomic<int64_t>>(count);
  rcpt_faults_.push_back(std::move(fault));
  return true;
}

int SinkFaults::rcpt_reply_code(std::string_view address) const {
  address = strip_brackets(address);
  for (const RcptFault& fault : rcpt_faults_) {
    if (!equals_ignore_case(fault.address, address)) continue;
    int64_t left = fault.remaining->load(std::memory_order_relaxed);
    while (true) {
      if (left < 0) return fault.code;  // forever
      if (left == 0) return 0;          // used up: accept normally
      if (fault.remaining->compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
        return fault.code;
      }
    }
  }
  return 0;
}

bool SinkFaults::take_drop_during_data() const {
  uint64_t left = drop_remaining_.load(std::memory_order_relaxed);
  while (left > 0) {
    if (drop_remaining_.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

size_t rcpt_fault_reply_text(int code, std::string_view address, char* out, size_t out_bytes) {
  address = strip_brackets(address).substr(0, kMaxEchoedAddressBytes);
  const char* enhanced;
  const char* text;
  if (code == 550) {
    enhanced = "5.1.1";
    text = "Recipient address rejected: User unknown";
  } else if (code == 452) {
    enhanced = "4.5.3";
    text = "Too many recipients";
  } else if (code == 552) {
    enhanced = "5.2.2";
    text = "Mailbox full";
  } else if (code >= 500) {
    enhanced = "5.7.1";
    text = "Recipient address rejected: Access denied";
  } else {
    enhanced = "4.3.0";
    text = "Temporary failure, try again";
  }
  // "CODE ENH <ADDR>: TEXT\r\n"
  char code_text[4];
  std::to_chars(code_text, code_text + 3, code);
  code_text[3] = '\0';
  size_t n = 0;
  auto put = [&](std::string_view s) {
    const size_t take = std::min(s.size(), out_bytes - n);
    std::memcpy(out + n, s.data(), take);
    n += take;
  };
  put(std::string_view(code_text, 3));
  put(" ");
  put(enhanced);
  put(" <");
  put(address);
  put(">: ");
  put(text);
  put("\r\n");
  return n;
}

}  // namespace ringmail::sink
