// ingress/command_line_reader.h — collects one SMTP command line (or AUTH
// response) from bytes fed in pieces of any size, up to and including its
// LF, in a fixed buffer. A line longer than the buffer is skipped to its LF
// without being kept, so a 2 MB line costs no memory; the caller answers it
// "500 5.5.0 Error: line too long".
//
// Who uses it: ingress/smtp_server_session (strict: it then requires CRLF)
// and tools/sink/sink_session (lenient). Header-only: the sink links only
// ringmail_tls. No allocation.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace ringmail::ingress {

template <size_t kMaxLineBytes>
class CommandLineReader {
 public:
  enum class Status {
    kPartial,  // all of the input taken, no LF yet: feed more
    kLine,     // line() is a whole line, its LF included
    kTooLong,  // a line over kMaxLineBytes ended here; it was dropped
  };

  // take reads |data| up to and including the first LF and returns the
  // bytes taken; |status| says what they made.
  size_t take(const char* data, size_t size, Status& status) {
    const char* lf = static_cast<const char*>(std::memchr(data, '\n', size));
    const size_t chunk = lf == nullptr ? size : static_cast<size_t>(lf - data) + 1;
    status = Status::kPartial;
    if (overlong_ || size_ + chunk > kMaxLineBytes) {
      overlong_ = lf == nullptr;
      size_ = 0;
      if (lf != nullptr) status = Status::kTooLong;
      return chunk;
    }
    std::memcpy(line_ + size_, data, chunk);
    size_ += chunk;
    if (lf != nullptr) {
      line_size_ = size_;
      size_ = 0;
      status = Status::kLine;
    }
    return chunk;
  }
  // line is the last whole line, valid until the next take() or reset().
  std::string_view line() const { return std::string_view(line_, line_size_); }
  // reset forgets a partial line (a new connection, a TLS start) and wipes
  // the buffer, which may have held a credential.
  void reset() {
    std::memset(line_, 0, sizeof(line_));
    size_ = 0;
    line_size_ = 0;
    overlong_ = false;
  }
  // wipe_line clears the last line (it held a credential).
  void wipe_line() { std::memset(line_, 0, line_size_); }

 private:
  size_t size_ = 0;       // bytes of the line being collected
  size_t line_size_ = 0;  // bytes of the last whole line
  bool overlong_ = false;
  char line_[kMaxLineBytes];
};

}  // namespace ringmail::ingress
