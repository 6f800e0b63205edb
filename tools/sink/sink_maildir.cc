// tools/sink/sink_maildir.cc — the Maildir writer of `ringmail sink`. See
// sink_maildir.h. Blocking file I/O on purpose (a test aid, see the header).
#include "tools/sink/sink_maildir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace ringmail::sink {
namespace {

bool make_dir(const std::string& path, std::string& error) {
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return true;
  error = fmt::format("cannot create the Maildir folder {}: {}; create it or choose another --maildir", path,
                      std::strerror(errno));
  return false;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

bool prepare_maildir(const std::string& dir, std::string& error) {
  if (dir.size() > 3500) {
    error = "the --maildir path is longer than 3500 bytes; choose a shorter one";
    return false;
  }
  return make_dir(dir, error) && make_dir(dir + "/tmp", error) && make_dir(dir + "/new", error) &&
         make_dir(dir + "/cur", error);
}

MaildirWriter::MaildirWriter(const std::string* dir) : dir_(dir) {
  tmp_path_[0] = '\0';
  new_path_[0] = '\0';
}

MaildirWriter::~MaildirWriter() {
  if (fd_ >= 0) on_message_end(false);
}

bool MaildirWriter::on_message_begin(std::string_view from, std::string_view to_list, uint64_t queue_id) {
  if (fd_ >= 0) on_message_end(false);
  if (!buffer_) buffer_ = std::make_unique<char[]>(kBufferBytes);
  // Unique within the Maildir: time, pid and the queue id (unique per run).
  const long long now_s = static_cast<long long>(std::time(nullptr));
  const int pid = static_cast<int>(::getpid());
  std::snprintf(tmp_path_, sizeof(tmp_path_), "%s/tmp/%lld.P%dQ%llX.ringmail-sink", dir_->c_str(), now_s, pid,
                static_cast<unsigned long long>(queue_id));
  std::snprintf(new_path_, sizeof(new_path_), "%s/new/%lld.P%dQ%llX.ringmail-sink", dir_->c_str(), now_s, pid,
                static_cast<unsigned long long>(queue_id));
  fd_ = ::open(tmp_path_, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    ++write_errors_;
    return false;
  }
  failed_ = false;
  buffered_ = 0;
  on_body("X-Sink-Envelope: from=<", 23);
  on_body(from.data(), from.size());
  on_body("> to=", 5);
  on_body(to_list.data(), to_list.size());
  on_body("\r\n", 2);
  return true;
}

void MaildirWriter::on_body(const char* data, size_t size) {
  if (fd_ < 0 || failed_) return;
  if (buffered_ + size > kBufferBytes) {
    if (!flush()) return;
    if (size > kBufferBytes) {
      failed_ = !write_all(fd_, data, size);
      return;
    }
  }
  std::memcpy(buffer_.get() + buffered_, data, size);
  buffered_ += size;
}

bool MaildirWriter::flush() {
  if (buffered_ > 0 && !write_all(fd_, buffer_.get(), buffered_)) failed_ = true;
  buffered_ = 0;
  return !failed_;
}

bool MaildirWriter::on_message_end(bool complete) {
  if (fd_ < 0) return false;
  bool ok = complete && flush();
  if (::close(fd_) != 0) ok = false;
  fd_ = -1;
  if (ok && ::rename(tmp_path_, new_path_) != 0) ok = false;
  if (!ok) {
    ::unlink(tmp_path_);
    if (complete) ++write_errors_;
  }
  return ok;
}

}  // namespace ringmail::sink
