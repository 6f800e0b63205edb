// ingress/reply_buffer.h — the fixed reply buffer of an SMTP server session:
// replies are appended, the connection sends from the front and drops what
// it sent. No allocation; a reply that does not fit is cut (an assertion in
// debug builds: callers keep enough room before each command).
//
// Who uses it: ingress/smtp_server_session (the listener) and
// tools/sink/sink_session (the test sink). Header-only: the sink links only
// ringmail_tls.
#pragma once

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringmail::ingress {

template <size_t kBytes>
class ReplyBuffer {
 public:
  std::string_view view() const { return std::string_view(bytes_, size_); }
  size_t free_bytes() const { return kBytes - size_; }
  void clear() { size_ = 0; }

  // put appends |text| (2 bytes are always kept for a line's CRLF).
  void put(std::string_view text) {
    const size_t room = kBytes - 2 > size_ ? kBytes - 2 - size_ : 0;
    assert(text.size() <= room);
    const size_t take = std::min(text.size(), room);
    std::memcpy(bytes_ + size_, text.data(), take);
    size_ += take;
  }
  // put_number appends |n| in decimal.
  void put_number(uint64_t n) {
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
    (void)ec;
    put(std::string_view(digits, static_cast<size_t>(end - digits)));
  }
  // line appends |text| and CRLF.
  void line(std::string_view text) {
    put(text);
    bytes_[size_++] = '\r';  // put() always leaves 2 bytes
    bytes_[size_++] = '\n';
  }
  // consume drops the first |n| bytes (they were sent).
  void consume(size_t n) {
    assert(n <= size_);
    if (n >= size_) {
      size_ = 0;
      return;
    }
    std::memmove(bytes_, bytes_ + n, size_ - n);
    size_ -= n;
  }

 private:
  size_t size_ = 0;
  char bytes_[kBytes];
};

}  // namespace ringmail::ingress
