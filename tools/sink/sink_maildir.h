// tools/sink/sink_maildir.h — `ringmail sink --maildir DIR`: writes each
// accepted message into a Maildir (DIR/tmp/NAME, then renamed into
// DIR/new/NAME) so tests can compare what arrived with what was sent.
//
// Who uses it: tools/sink/sink_server.cc gives each connection slot one
// MaildirWriter as the session's observer. It is a test aid and uses plain
// blocking file I/O on the server thread (open, write, rename): fine for
// tests, not for benchmarks — benchmarks run the sink without --maildir.
// Each file starts with "X-Sink-Envelope: from=<...> to=<a>,<b>\r\n", then
// the message as received: after DATA with dot-stuffing removed, CRLF kept;
// after BDAT the chunk bytes concatenated verbatim.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tools/sink/sink_session.h"

namespace ringmail::sink {

// prepare_maildir creates DIR, DIR/tmp, DIR/new and DIR/cur as needed.
// Returns false with |error| set to a sentence when it cannot.
bool prepare_maildir(const std::string& dir, std::string& error);

class MaildirWriter final : public SessionObserver {
 public:
  // MaildirWriter writes into |dir| (prepared; must outlive the writer).
  explicit MaildirWriter(const std::string* dir);
  ~MaildirWriter() override;
  MaildirWriter(const MaildirWriter&) = delete;
  MaildirWriter& operator=(const MaildirWriter&) = delete;

  bool on_message_begin(std::string_view from, std::string_view to_list, uint64_t queue_id) override;
  void on_body(const char* data, size_t size) override;
  bool on_message_end(bool complete) override;

  // write_errors counts messages lost to a file error (each answered 451).
  uint64_t write_errors() const { return write_errors_; }

 private:
  static constexpr size_t kBufferBytes = 64 * 1024;  // body bytes per write()
  static constexpr size_t kPathBytes = 4096;

  bool flush();

  const std::string* dir_;
  int fd_ = -1;
  bool failed_ = false;  // a write failed: the message ends with 451
  uint64_t write_errors_ = 0;
  std::unique_ptr<char[]> buffer_;  // allocated on the first message
  size_t buffered_ = 0;
  char tmp_path_[kPathBytes];
  char new_path_[kPathBytes];
};

}  // namespace ringmail::sink
