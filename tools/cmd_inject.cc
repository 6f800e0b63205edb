// tools/cmd_inject.cc — `ringmail inject [-f SENDER] [-t] [RCPT...]`: queue
// one message read from a file descriptor, like `sendmail -f S RCPT...` and
// `sendmail -t`, so existing alert tools can call it unchanged.
//
// It writes incoming/tmp/ID (an explicit X-Ringmail- envelope preamble,
// then the message as given, minus its Bcc fields with -t), fsyncs, renames
// it into incoming/new/ID and fsyncs that directory; prints nothing on
// success. It streams the message (only the first kMaxHeadBytes are held,
// to find the envelope) and it validates the file exactly as the engine
// will parse it, so a queued file is never rejected later as malformed.
// It never touches a message other than its own and never deletes anything
// but its own temporary file.
// Diagnostics: one sentence on stderr; input it echoes (addresses) is
// escaped and shortened (tools/operator_text.h). It writes the envelope
// itself, so its hints never ask for X-Ringmail- lines, which it refuses.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "queue/envelope.h"
#include "queue/spool_layout.h"
#include "queue/write_all.h"
#include "tools/commands.h"
#include "tools/operator_text.h"

namespace ringmail {
namespace {

// Exit statuses (sysexits.h).
constexpr int kInjectExitOk = 0;
constexpr int kInjectExitUsage = 64;      // EX_USAGE: no recipients
constexpr int kInjectExitDataErr = 65;    // EX_DATAERR: bad address or message
constexpr int kInjectExitCantCreat = 73;  // EX_CANTCREAT: cannot create the spool file
constexpr int kInjectExitIoErr = 74;      // EX_IOERR: read, write, fsync or rename failed
constexpr size_t kInjectCopyChunkBytes = 65536;
constexpr mode_t kMessageFileMode = 0640;

int complain(int status, const std::string& sentence) {
  std::fprintf(stderr, "ringmail inject: %s\n", sentence.c_str());
  return status;
}

// read_up_to reads from |fd| until |buf| has |limit| bytes or EOF. Returns
// false with errno on a read error; |eof| says whether EOF was seen.
bool read_up_to(int fd, size_t limit, std::string& buf, bool& eof) {
  eof = false;
  const size_t start = buf.size();
  buf.resize(start + limit);
  size_t got = 0;
  while (got < limit) {
    const ssize_t n = ::read(fd, buf.data() + start + got, limit - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      buf.resize(start + got);
      return false;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    got += static_cast<size_t>(n);
  }
  buf.resize(start + got);
  return true;
}

bool starts_with_preamble(std::string_view head) {
  constexpr std::string_view kPrefix = "x-ringmail-";
  if (head.size() < kPrefix.size()) return false;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    char c = head[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kPrefix[i]) return false;
  }
  return true;
}

void add_unique(std::vector<std::string>& rcpts, std::string_view address) {
  for (const std::string& have : rcpts) {
    if (same_address(have, address)) return;
  }
  rcpts.emplace_back(address);
}

// strip_ranges copies |head| without the bytes in |skip| (sorted, disjoint).
std::string strip_ranges(std::string_view head, const Envelope& envelope) {
  std::string out;
  out.reserve(head.size());
  size_t pos = 0;
  for (uint32_t i = 0; i < envelope.skip_count; ++i) {
    const ByteRange& r = envelope.skip[i];
    if (r.begin > pos) out.append(head.substr(pos, r.begin - pos));
    pos = r.end;
  }
  if (pos < head.size()) out.append(head.substr(pos));
  return out;
}

// header_section_ends says whether the header section of |head| ends (an
// empty line, or the end of the file when |whole|), as parse_envelope
// decides it: -t and the From header need the whole header section.
bool header_section_ends(std::string_view head, bool whole) {
  size_t pos = 0;
  while (pos < head.size()) {
    const size_t lf = head.find('\n', pos);
    if (lf == std::string_view::npos) break;
    const size_t end = lf > pos && head[lf - 1] == '\r' ? lf - 1 : lf;
    if (end == pos) return true;
    pos = lf + 1;
  }
  return whole;
}

const char* spool_hint(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return "free disk space or inodes on the spool's file system and try again";
    case EACCES:
    case EPERM:
      return "run as the user that owns the spool";
    case EROFS:
      return "the spool's file system is read-only";
    default:
      return "check the spool directory and its file system";
  }
}

// SpoolFile writes one message into incoming/tmp and publishes it; it
// removes its temporary file on any failure before the rename.
class SpoolFile {
 public:
  explicit SpoolFile(const SpoolDirs& dirs) : dirs_(dirs) { make_message_id(id_); }
  ~SpoolFile() {
    if (fd_ >= 0) ::close(fd_);
    if (created_ && !published_) ::unlinkat(dirs_.incoming_tmp_fd, id_, 0);
  }
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  // create makes the file with mode 0640 whatever the umask: in a packaged
  // spool the directory's setgid group (ringmail-inject) owns it and the
  // engine, a member, reads it through the group (docs/operations.md).
  bool create() {
    fd_ = ::openat(dirs_.incoming_tmp_fd, id_, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kMessageFileMode);
    created_ = fd_ >= 0;
    return created_ && ::fchmod(fd_, kMessageFileMode) == 0;
  }
  bool write(std::string_view data) { return write_all(fd_, data.data(), data.size()) == 0; }
  // publish fsyncs and closes the file, renames it into incoming/new and
  // fsyncs that directory. |step| names the step that failed.
  bool publish(const char** step) {
    *step = "fsync";
    if (::fsync(fd_) != 0) return false;
    *step = "close";
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return false;
    *step = "rename into incoming/new";
    if (::renameat(dirs_.incoming_tmp_fd, id_, dirs_.incoming_new_fd, id_) != 0) return false;
    published_ = true;
    *step = "fsync incoming/new";
    return ::fsync(dirs_.incoming_new_fd) == 0;
  }
  const char* id() const { return id_; }
  bool published() const { return published_; }
  std::string tmp_path() const { return dirs_.root + "/incoming/tmp/" + id_; }

 private:
  const SpoolDirs& dirs_;
  char id_[kMessageIdMax];
  int fd_ = -1;
  bool created_ = false;
  bool published_ = false;
};

}  // namespace

int cmd_inject(const Config& config, const InjectOptions& options) {
  // 1. The first kMaxHeadBytes of the message (the envelope is found there).
  std::string head;
  bool eof = false;
  if (!read_up_to(options.input_fd, kMaxHeadBytes, head, eof)) {
    return complain(kInjectExitIoErr,
                    std::string("cannot read the message from standard input: ") + std::strerror(errno));
  }
  std::string pending;  // bytes read past the head while probing for EOF
  if (!eof && !read_up_to(options.input_fd, kInjectCopyChunkBytes, pending, eof)) {
    return complain(kInjectExitIoErr,
                    std::string("cannot read the message from standard input: ") + std::strerror(errno));
  }
  const bool whole = pending.empty();
  if (head.empty()) return complain(kInjectExitDataErr, "the message on standard input is empty");
  if (head[0] == ' ' || head[0] == '\t') {
    return complain(kInjectExitDataErr,
                    "the message starts with a blank (a header continuation line without a "
                    "header); the first line must be a header field such as 'Subject: ...'");
  }
  if (starts_with_preamble(head)) {
    return complain(kInjectExitDataErr,
                    "the message starts with an X-Ringmail- envelope line; inject writes the "
                    "envelope itself: remove those lines and give the addresses as arguments or "
                    "with -f and -t");
  }

  // 2. Sender: -f (-f '' and -f '<>' are the null sender, as in sendmail),
  // else smtp.default_sender, else (below) the From header.
  std::string why;
  std::string sender;
  bool sender_known = false;
  const bool from_flag = options.sender_given || !options.sender.empty();
  if (from_flag || !config.smtp.default_sender.empty()) {
    const std::string& given = from_flag ? options.sender : config.smtp.default_sender;
    sender = strip_angle_brackets(given);
    sender_known = true;
    if (!sender.empty() && !check_address(sender, why)) {
      return complain(kInjectExitDataErr,
                      "sender address '" + escape_for_operator(given) + "' " + why +
                          (from_flag ? " (given with -f)" : " (smtp.default_sender in the config)"));
    }
  }

  // 3. Recipients: the arguments, plus To/Cc/Bcc with -t.
  std::vector<std::string> rcpts;
  for (const std::string& arg : options.recipients) {
    const std::string_view address = strip_angle_brackets(arg);
    if (!check_address(address, why)) {
      return complain(kInjectExitDataErr, "recipient address '" + escape_for_operator(arg) + "' " + why +
                                              " (command line); give one address per argument");
    }
    add_unique(rcpts, address);
  }
  auto envelope = std::make_unique<Envelope>();
  std::string error;
  std::string body_head = head;
  if ((options.extract_recipients || !sender_known) && !header_section_ends(head, whole)) {
    return complain(kInjectExitDataErr,
                    "the header section does not end within the first " + std::to_string(kMaxHeadBytes) +
                        " bytes, so " +
                        (options.extract_recipients ? "-t cannot take the recipients from it"
                                                    : "the sender cannot be taken from its From header") +
                        "; shorten the headers, or give " +
                        (options.extract_recipients ? "the recipients as arguments instead of using -t"
                                                    : "the sender with -f") +
                        (options.extract_recipients && !sender_known ? " and the sender with -f" : ""));
  }
  if (options.extract_recipients) {
    EnvelopeParseOptions parse_options;
    parse_options.allow_no_recipients = true;
    if (parse_envelope(head, whole, sender_known ? std::string_view(sender.empty() ? "<>" : sender) : "",
                       parse_options, *envelope, error) != EnvelopeParse::kOk) {
      return complain(kInjectExitDataErr, "cannot take the recipients from the headers: " + error);
    }
    for (uint32_t i = 0; i < envelope->recipient_count; ++i) add_unique(rcpts, envelope->recipients[i]);
    if (!sender_known) {
      sender = envelope->sender;
      sender_known = true;
    }
    body_head = strip_ranges(head, *envelope);
  }
  if (rcpts.empty()) {
    return complain(kInjectExitUsage,
                    options.extract_recipients
                        ? "no recipients: the To/Cc/Bcc headers hold no address and none was given "
                          "as an argument"
                        : "no recipients: give the addresses as arguments, or use -t to take them "
                          "from the To/Cc/Bcc headers");
  }
  if (rcpts.size() > kMaxRecipients) {
    return complain(kInjectExitDataErr,
                    "more than " + std::to_string(kMaxRecipients) + " recipients; split the message");
  }
  if (!sender_known) {  // the From header, found as the engine would find it
    std::string probe = "X-Ringmail-To: <" + rcpts.front() + ">\n" + head;
    if (parse_envelope(std::string_view(probe).substr(0, std::min(probe.size(), kMaxHeadBytes)),
                       whole && probe.size() <= kMaxHeadBytes, "", *envelope, error) != EnvelopeParse::kOk) {
      return complain(kInjectExitDataErr, error + "; give the sender with -f");
    }
    sender = envelope->sender;
  }

  // 4. The file's start exactly as the engine will read it; parse it as the
  // engine will, so nothing malformed is ever queued.
  std::string preamble;
  if (!write_envelope_preamble(sender, rcpts, preamble)) {
    return complain(kInjectExitDataErr, "cannot write the envelope for these addresses");
  }
  if (preamble.size() >= kMaxHeadBytes) {
    return complain(kInjectExitDataErr, "the envelope (" + std::to_string(rcpts.size()) +
                                            " recipients) does not fit in " + std::to_string(kMaxHeadBytes) +
                                            " bytes; split the message");
  }
  const std::string file_head = preamble + body_head;
  if (parse_envelope(std::string_view(file_head).substr(0, std::min(file_head.size(), kMaxHeadBytes)),
                     whole && file_head.size() <= kMaxHeadBytes, config.smtp.default_sender, *envelope,
                     error) != EnvelopeParse::kOk) {
    return complain(kInjectExitDataErr, "the message cannot be queued: " + error);
  }

  // 5. Write incoming/tmp/ID, stream the rest, fsync, rename into incoming/new.
  SpoolDirs dirs;
  if (!open_spool_incoming(config.spool, /*create=*/true, dirs, error)) {
    return complain(kInjectExitCantCreat, error);
  }
  SpoolFile file(dirs);
  if (!file.create()) {
    return complain(kInjectExitCantCreat, "cannot create " + file.tmp_path() + ": " + std::strerror(errno) +
                                              "; " + spool_hint(errno));
  }
  auto write_failed = [&](int err) {
    return complain(kInjectExitIoErr, "cannot write " + file.tmp_path() + ": " + std::strerror(err) + "; " +
                                          spool_hint(err) + " (nothing was queued)");
  };
  if (!file.write(file_head) || !file.write(pending)) return write_failed(errno);
  std::string chunk;
  while (!eof) {
    chunk.clear();
    if (!read_up_to(options.input_fd, kInjectCopyChunkBytes, chunk, eof)) {
      return complain(kInjectExitIoErr, std::string("cannot read the message from standard input: ") +
                                            std::strerror(errno) + " (nothing was queued)");
    }
    if (!file.write(chunk)) return write_failed(errno);
  }
  const char* step = "";
  if (!file.publish(&step)) {
    if (file.published()) {
      return complain(kInjectExitIoErr,
                      std::string("queued as ") + file.id() + ", but the fsync of incoming/new failed: " +
                          std::strerror(errno) + "; a crash now could lose it; " + spool_hint(errno));
    }
    return complain(kInjectExitIoErr, std::string("cannot ") + step + " " + file.tmp_path() + ": " +
                                          std::strerror(errno) + "; " + spool_hint(errno));
  }
  return kInjectExitOk;
}

}  // namespace ringmail
