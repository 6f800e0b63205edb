// engine/smtp_transcript.cc — see smtp_transcript.h.
#include "engine/smtp_transcript.h"

#include <fmt/format.h>
#include <strings.h>

#include "engine/smtp_auth.h"     // mask_credential_lines
#include "tls/tls_certificate.h"  // printable

namespace ringmail {
namespace {

std::string_view without_line_end(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

// starts_with_word: |line| begins with |word| (case-insensitive) followed
// by a space or its end.
bool starts_with_word(std::string_view line, std::string_view word) {
  return line.size() >= word.size() && ::strncasecmp(line.data(), word.data(), word.size()) == 0 &&
         (line.size() == word.size() || line[word.size()] == ' ');
}

// next_word splits the first space-separated word off |rest|.
std::string_view next_word(std::string_view& rest) {
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const size_t end = rest.find(' ');
  const std::string_view word = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return word;
}

}  // namespace

void SmtpTranscript::LineBuffer::add(char c, bool credential) {
  if (text.size() < kMaxLineChars) text.push_back(c);
  ++size;
  secret = secret || credential;
}

std::string SmtpTranscript::LineBuffer::shown() const {
  std::string line = printable(without_line_end(text));
  if (size > text.size()) line += fmt::format("… ({} bytes)", size);
  return line;
}

void SmtpTranscript::client_bytes(std::string_view bytes, size_t credential_bytes,
                                  std::vector<std::string>& out) {
  while (!bytes.empty()) {
    if (mode_ == ClientMode::kBdatChunk) {
      const size_t n = bytes.size() < bdat_left_ ? bytes.size() : static_cast<size_t>(bdat_left_);
      for (size_t i = 0; i < n; ++i) content_lines_ += bytes[i] == '\n';
      content_bytes_ += n;
      bdat_left_ -= n;
      bytes.remove_prefix(n);
      if (bdat_left_ == 0) end_content(out, true);
      continue;
    }
    const char c = bytes.front();
    bytes.remove_prefix(1);
    client_.add(c, credential_bytes > 0);
    if (credential_bytes > 0) --credential_bytes;
    if (c == '\n') client_line(out);
  }
}

void SmtpTranscript::server_bytes(std::string_view bytes, std::vector<std::string>& out) {
  for (const char c : bytes) {
    server_.add(c);
    if (c == '\n') server_line(out);
  }
}

void SmtpTranscript::finish(std::vector<std::string>& out) {
  if (client_.pending()) client_line(out);
  if (mode_ != ClientMode::kCommands) end_content(out, false);
  if (server_.pending()) server_line(out);
}

void SmtpTranscript::client_line(std::vector<std::string>& out) {
  const std::string_view line = without_line_end(client_.text);
  if (mode_ == ClientMode::kDataBody) {
    if (line == "." && client_.size <= 3) {
      end_content(out, true);
      out.push_back("C: .");
    } else {
      ++content_lines_;
      content_bytes_ += client_.size;
    }
    client_.clear();
    return;
  }
  if (client_.secret) {
    out.push_back("C: " + printable(without_line_end(mask_credential_lines(client_.text))));
  } else {
    out.push_back("C: " + client_.shown());
    if (starts_with_word(line, "BDAT")) {
      std::string_view rest = line;
      next_word(rest);
      const std::string_view size = next_word(rest);
      uint64_t n = 0;
      bool number = !size.empty() && size.size() <= 18;
      for (const char d : size) {
        number = number && d >= '0' && d <= '9';
        n = n * 10 + static_cast<uint64_t>(d - '0');
      }
      if (number && n > 0) {
        mode_ = ClientMode::kBdatChunk;
        bdat_left_ = n;
        content_bytes_ = content_lines_ = 0;
      }
    }
  }
  client_.clear();
}

void SmtpTranscript::server_line(std::vector<std::string>& out) {
  std::string shown = server_.shown();
  out.push_back("S: " + shown);
  const std::string_view line = without_line_end(server_.text);
  const bool coded = line.size() >= 3 && line[0] >= '0' && line[0] <= '9' && line[1] >= '0' &&
                     line[1] <= '9' && line[2] >= '0' && line[2] <= '9';
  const bool final_line = coded && (line.size() == 3 || line[3] != '-');
  const int code = coded ? (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0') : 0;
  server_.clear();
  if (!final_line) return;
  last_reply_code_ = code;
  last_reply_ = std::move(shown);
  if (last_reply_code_ == 354 && mode_ == ClientMode::kCommands) {
    mode_ = ClientMode::kDataBody;
    content_bytes_ = content_lines_ = 0;
  }
}

void SmtpTranscript::end_content(std::vector<std::string>& out, bool complete) {
  out.push_back(fmt::format("C: (message content: {} lines, {} bytes, not shown{})", content_lines_,
                            content_bytes_, complete ? "" : "; cut short"));
  mode_ = ClientMode::kCommands;
  bdat_left_ = 0;
  content_bytes_ = content_lines_ = 0;
}

}  // namespace ringmail
