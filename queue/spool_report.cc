// queue/spool_report.cc — scans the spool for `ringmail queue`. See
// spool_report.h.
//
// Streams each directory with readdir (one fstatat per message, for the
// oldest mtime); keeps only the |list_limit| smallest deferred and failed
// ids in bounded heaps, then reads meta and message heads for those alone.
// Read-only: never creates, moves or deletes a file.
#include "queue/spool_report.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <queue>

#include "queue/dir_stream.h"
#include "queue/dsn_id.h"
#include "queue/envelope.h"
#include "queue/message_meta.h"
#include "queue/spool_entry.h"

namespace ringmail {
namespace {

// read_prefix reads at most |limit| bytes of |name| in |dir_fd| into |out|.
// Sets |whole| when the file ended within |limit|. Returns false with errno
// set if the file cannot be opened or read.
bool read_prefix(int dir_fd, const char* name, size_t limit, std::string& out, bool& whole) {
  out.clear();
  whole = false;
  const int fd = ::openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  out.resize(limit);
  size_t got = 0;
  while (got < limit) {
    const ssize_t n = ::read(fd, out.data() + got, limit - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      errno = saved;
      return false;
    }
    if (n == 0) {
      whole = true;
      break;
    }
    got += static_cast<size_t>(n);
  }
  if (!whole) {  // exactly |limit| bytes read: is there more?
    char probe;
    ssize_t n;
    do {
      n = ::read(fd, &probe, 1);
    } while (n < 0 && errno == EINTR);
    whole = n == 0;
  }
  ::close(fd);
  out.resize(got);
  return true;
}

std::string dir_error(const SpoolDirs& dirs, const char* sub, int err) {
  return "cannot read spool directory " + dirs.root + "/" + sub + ": " + std::strerror(err) +
         "; run as the user that owns the spool";
}

// SmallestIds keeps the |limit| smallest ids seen (a bounded max-heap).
class SmallestIds {
 public:
  explicit SmallestIds(size_t limit) : limit_(limit) {}
  void add(std::string_view id) {
    ++seen_;
    if (limit_ == 0) return;
    if (heap_.size() < limit_) {
      heap_.emplace(id);
    } else if (id < heap_.top()) {
      heap_.pop();
      heap_.emplace(id);
    }
  }
  std::vector<std::string> sorted() {
    std::vector<std::string> ids;
    ids.reserve(heap_.size());
    while (!heap_.empty()) {
      ids.push_back(heap_.top());
      heap_.pop();
    }
    std::reverse(ids.begin(), ids.end());
    return ids;
  }
  uint64_t seen() const { return seen_; }

 private:
  size_t limit_;
  uint64_t seen_ = 0;
  std::priority_queue<std::string> heap_;
};

// invalid_name_reason says why |name| is not a message name, briefly.
std::string invalid_name_reason(std::string_view name) {
  std::string out = "not a valid message name";
  if (name.size() > kMessageIdMax - 1) {
    out += " (" + std::to_string(name.size()) + " characters; at most " + std::to_string(kMessageIdMax - 1) +
           ")";
  } else {
    out += " (a space, a control character or a byte outside ASCII)";
  }
  return out;
}

// StateScan is what scan_state collects for one state directory.
struct StateScan {
  SmallestIds* ids = nullptr;      // listed messages (deferred, failed, hold)
  SmallestIds* refused = nullptr;  // incoming/new: entries the engine will refuse
};

bool scan_state(const SpoolDirs& dirs, SpoolState state, const StateScan& scan, size_t list_limit,
                SpoolReport& out, struct timespec& oldest, std::string& error) {
  const int dir_fd = dirs.state_fd(state);
  if (dir_fd < 0) return true;  // not created yet: empty
  DirStream dir(dir_fd);
  if (!dir.ok()) {
    error = dir_error(dirs, spool_state_dir(state), errno);
    return false;
  }
  while (const dirent* entry = dir.next()) {
    const std::string_view name = entry->d_name;
    if (name.front() == '.') continue;  // a producer's temporary file (and . and ..)
    if (!is_valid_message_id(name)) {
      // The engine never takes it; nothing will ever move it.
      ++out.ignored;
      if (out.ignored_list.size() < list_limit) {
        out.ignored_list.push_back(
            {std::string(spool_state_dir(state)) + "/" + std::string(name), invalid_name_reason(name)});
      }
      continue;
    }
    struct stat st {};
    if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // moved away
    // As the engine sees it: in incoming/new an entry that is not a message
    // file will be moved to failed/ unread; in every other state an entry
    // under a message name is a message of that state, whatever its type.
    if (state == SpoolState::kIncoming && spool_entry_refusal(st) != nullptr) {
      ++out.refused;
      if (scan.refused != nullptr) scan.refused->add(name);
      continue;
    }
    ++out.counts[static_cast<size_t>(state)];
    if (is_dsn_id(name)) ++out.bounces;
    if (!out.has_oldest || st.st_mtim.tv_sec < oldest.tv_sec ||
        (st.st_mtim.tv_sec == oldest.tv_sec && st.st_mtim.tv_nsec < oldest.tv_nsec)) {
      out.has_oldest = true;
      oldest = st.st_mtim;
      out.oldest_id.assign(name);
      out.oldest_state = state;
      out.oldest_mtime = st.st_mtim.tv_sec;
    }
    if (scan.ids != nullptr) scan.ids->add(name);
  }
  if (errno != 0) {
    error = dir_error(dirs, spool_state_dir(state), errno);
    return false;
  }
  return true;
}

bool count_tmp(const SpoolDirs& dirs, SpoolReport& out, std::string& error) {
  if (dirs.incoming_tmp_fd < 0) return true;  // not created yet: empty
  DirStream dir(dirs.incoming_tmp_fd);
  if (!dir.ok()) {
    error = dir_error(dirs, "incoming/tmp", errno);
    return false;
  }
  while (dir.next() != nullptr) ++out.incoming_tmp;
  if (errno != 0) {
    error = dir_error(dirs, "incoming/tmp", errno);
    return false;
  }
  return true;
}

// refusal_of is spool_entry_refusal for |id| in |dir_fd| now (nullptr: a
// message file, or gone).
const char* refusal_of(int dir_fd, const std::string& id) {
  struct stat st {};
  if (::fstatat(dir_fd, id.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return nullptr;
  return spool_entry_refusal(st);
}

// load_meta reads and parses meta/ID. Returns false with |problem| set when
// it exists but cannot be used; a missing file is an empty record.
bool load_meta(const SpoolDirs& dirs, const std::string& id, std::string& text, MessageMeta& meta,
               std::string& problem) {
  bool whole = false;
  if (dirs.meta_fd < 0 || !read_prefix(dirs.meta_fd, id.c_str(), kMaxMetaBytes, text, whole)) {
    if (dirs.meta_fd < 0 || errno == ENOENT) {
      text.clear();
      return parse_message_meta(text, meta, problem);
    }
    problem = std::string("cannot read meta/") + id + ": " + std::strerror(errno);
    return false;
  }
  if (!whole) {
    problem = "meta/" + id + " is larger than " + std::to_string(kMaxMetaBytes) + " bytes";
    return false;
  }
  std::string error;
  if (!parse_message_meta(text, meta, error)) {
    problem = "meta/" + id + ": " + error;
    return false;
  }
  return true;
}

int64_t count_pending(const SpoolDirs& dirs, const std::string& id, std::string_view default_sender,
                      const MessageMeta& meta, Envelope& envelope, std::string& problem) {
  std::string head;
  bool whole = false;
  if (!read_prefix(dirs.deferred_fd, id.c_str(), kMaxHeadBytes, head, whole)) {
    problem = std::string("cannot read deferred/") + id + ": " + std::strerror(errno);
    return -1;
  }
  std::string error;
  if (parse_envelope(head, whole, default_sender, envelope, error) != EnvelopeParse::kOk) {
    problem = "malformed message: " + error;
    return -1;
  }
  int64_t pending = 0;
  for (uint32_t i = 0; i < envelope.recipient_count; ++i) {
    if (find_mark(meta, envelope.recipients[i]) == nullptr) ++pending;
  }
  return pending;
}

// sanitize copies |s| for a terminal: control characters become '?'.
std::string sanitize(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

// json_string appends |s| as a JSON string; bytes that are not valid UTF-8
// become U+FFFD.
void json_string(std::string_view s, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x80) {
      if (u == '"' || u == '\\') {
        out += '\\';
        out += static_cast<char>(u);
      } else if (u < 0x20 || u == 0x7f) {
        out += "\\u00";
        out += kHex[u >> 4];
        out += kHex[u & 15];
      } else {
        out += static_cast<char>(u);
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8: validate lead byte, length and continuation bytes.
    size_t len = 0;
    uint32_t min = 0;
    if (u >= 0xc2 && u <= 0xdf) {
      len = 2, min = 0x80;
    } else if (u >= 0xe0 && u <= 0xef) {
      len = 3, min = 0x800;
    } else if (u >= 0xf0 && u <= 0xf4) {
      len = 4, min = 0x10000;
    }
    bool valid = len != 0 && i + len <= s.size();
    uint32_t cp = valid ? (u & (0xff >> (len + 1))) : 0;
    for (size_t k = 1; valid && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) valid = false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (valid && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) valid = false;
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
}

std::string utc_time(int64_t unix_s) {
  const time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  if (::gmtime_r(&t, &tm) == nullptr) return "?";
  char buf[40];
  ::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string relative(int64_t when, int64_t now) {
  if (when > now) return "in " + format_duration(when - now);
  if (when == now) return "now";
  return "due, " + format_duration(now - when) + " ago";
}

void pad_right(std::string& out, std::string_view s, size_t width) {
  out += s;
  if (s.size() < width) out.append(width - s.size(), ' ');
}

void pad_left(std::string& out, std::string_view s, size_t width) {
  if (s.size() < width) out.append(width - s.size(), ' ');
  out += s;
}

}  // namespace

void append_json_string(std::string_view s, std::string& out) { json_string(s, out); }

std::string format_utc_time(int64_t unix_s) { return utc_time(unix_s); }

std::string format_duration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 86400) {
    return std::to_string(seconds / 3600) + "h " + std::to_string(seconds % 3600 / 60) + "m";
  }
  return std::to_string(seconds / 86400) + "d " + std::to_string(seconds % 86400 / 3600) + "h";
}

bool collect_spool_report(const SpoolDirs& dirs, std::string_view default_sender, size_t list_limit,
                          SpoolReport& out, std::string& error,
                          const std::vector<std::string>& missing_dirs) {
  out = SpoolReport{};
  out.root = dirs.root;
  out.missing_dirs = missing_dirs;
  struct timespec oldest {};
  SmallestIds deferred_ids(list_limit);
  SmallestIds failed_ids(list_limit);
  SmallestIds hold_ids(list_limit);
  SmallestIds refused_ids(list_limit);
  if (!count_tmp(dirs, out, error)) return false;
  const struct {
    SpoolState state;
    StateScan scan;
  } kScans[] = {
      {SpoolState::kIncoming, {nullptr, &refused_ids}},  {SpoolState::kActive, {}},
      {SpoolState::kDeferred, {&deferred_ids, nullptr}}, {SpoolState::kFailed, {&failed_ids, nullptr}},
      {SpoolState::kHold, {&hold_ids, nullptr}},
  };
  for (const auto& s : kScans) {
    if (!scan_state(dirs, s.state, s.scan, list_limit, out, oldest, error)) return false;
  }
  out.ignored_more = out.ignored - out.ignored_list.size();

  // The parse targets are large (kMaxRecipients entries): one of each, on
  // the heap, reused for every listed message.
  auto meta = std::make_unique<MessageMeta>();
  auto envelope = std::make_unique<Envelope>();
  std::string meta_text;
  for (const std::string& id : deferred_ids.sorted()) {
    DeferredEntry entry;
    entry.id = id;
    if (load_meta(dirs, id, meta_text, *meta, entry.problem)) {
      entry.attempts = meta->attempts;
      entry.next_attempt = meta->next_attempt;
      entry.last_reply.assign(meta->last_reply);
      // Never open what is not a message file (a FIFO would block).
      if (const char* refusal = refusal_of(dirs.deferred_fd, id)) {
        entry.problem = refusal;
      } else {
        entry.pending = count_pending(dirs, id, default_sender, *meta, *envelope, entry.problem);
      }
    }
    out.deferred.push_back(std::move(entry));
  }
  out.deferred_more = deferred_ids.seen() - out.deferred.size();
  // failed/ and hold/: the reason recorded in meta/ID; for an entry that is
  // not a message file, the refusal when meta has none.
  auto list_reasons = [&](SmallestIds& ids, SpoolState state, std::vector<FailedEntry>& list) {
    for (const std::string& id : ids.sorted()) {
      FailedEntry entry;
      entry.id = id;
      if (load_meta(dirs, id, meta_text, *meta, entry.problem)) {
        entry.reason.assign(meta->reason);
        if (entry.reason.empty() && state == SpoolState::kHold) entry.reason.assign(meta->last_reply);
        if (entry.reason.empty()) {
          if (const char* refusal = refusal_of(dirs.state_fd(state), id)) {
            entry.reason = refusal;
          } else {
            entry.problem = "no reason recorded";
          }
        }
      }
      list.push_back(std::move(entry));
    }
    return ids.seen() - list.size();
  };
  out.failed_more = list_reasons(failed_ids, SpoolState::kFailed, out.failed);
  out.hold_more = list_reasons(hold_ids, SpoolState::kHold, out.hold);
  for (const std::string& id : refused_ids.sorted()) {
    const char* refusal = refusal_of(dirs.incoming_new_fd, id);
    out.refused_list.push_back({id, refusal != nullptr ? refusal : "not a message file"});
  }
  out.refused_more = refused_ids.seen() - out.refused_list.size();
  return true;
}

namespace {

// id_width is the width of an ID column: its widest entry, at least "ID".
template <typename Entries, typename Field>
size_t id_width(const Entries& entries, Field field) {
  size_t width = 2;
  for (const auto& e : entries) width = std::max(width, sanitize(field(e)).size());
  return width;
}

void count_line(std::string& out, std::string_view label, uint64_t count, std::string_view note = {}) {
  out += "  ";
  pad_right(out, label, 16);
  pad_left(out, std::to_string(count), 10);
  if (!note.empty()) {
    out += "  ";
    out += note;
  }
  out += "\n";
}

// reason_table appends "title: N", a header and one "ID  REASON" line per
// entry, and "... and N more".
void reason_table(std::string& out, const std::string& title, const std::vector<FailedEntry>& entries,
                  uint64_t more) {
  out += "\n" + title + "\n  ";
  const size_t width = id_width(entries, [](const FailedEntry& e) -> const std::string& { return e.id; }) + 2;
  pad_right(out, "ID", width);
  out += "REASON\n";
  for (const FailedEntry& e : entries) {
    out += "  ";
    pad_right(out, sanitize(e.id), width);
    out += sanitize(e.reason.empty() ? "-" : e.reason);
    if (!e.problem.empty()) out += " [" + sanitize(e.problem) + "]";
    out += "\n";
  }
  if (more != 0) out += "  ... and " + std::to_string(more) + " more\n";
}

}  // namespace

void format_spool_report_text(const SpoolReport& report, int64_t now_unix, std::string& out) {
  constexpr SpoolState kStates[] = {SpoolState::kIncoming, SpoolState::kActive, SpoolState::kDeferred,
                                    SpoolState::kFailed, SpoolState::kHold};
  auto count = [&](SpoolState state) { return report.counts[static_cast<size_t>(state)]; };
  out += "spool " + report.root + "\n";
  if (!report.missing_dirs.empty()) {
    std::string names;
    for (const std::string& dir : report.missing_dirs) names += (names.empty() ? "" : ", ") + dir;
    out += "  not created yet (counted as empty; `ringmail run` creates them): " + sanitize(names) + "\n";
  }
  for (SpoolState state : kStates) {
    count_line(out, spool_state_name(state), count(state),
               state == SpoolState::kHold && count(state) != 0 ? kHoldHint : std::string_view());
  }
  count_line(
      out, "incoming/tmp", report.incoming_tmp,
      report.incoming_tmp == 0 ? "" : "(being written, or left by a producer that died before its rename)");
  if (report.refused != 0) {
    count_line(out, "will be refused", report.refused,
               "(in incoming/new but not message files; the engine moves them to failed/ unread)");
  }
  if (report.bounces != 0) {
    out += "bounces (DSN) queued: " + std::to_string(report.bounces) +
           " (counted above; ids ending in .dsn, sent by ringmail to senders of failed mail)\n";
  }
  if (report.ignored != 0) {
    count_line(out, "ignored", report.ignored, "(not valid message names; the engine never takes them)");
  }
  if (report.has_oldest) {
    out += "oldest: " + sanitize(report.oldest_id) + " (" + spool_state_name(report.oldest_state) +
           "), written " + utc_time(report.oldest_mtime) + ", " +
           format_duration(now_unix - report.oldest_mtime) + " old\n";
  } else {
    out += "oldest: none, the spool is empty\n";
  }

  if (!report.deferred.empty()) {
    out += "\ndeferred: " + std::to_string(count(SpoolState::kDeferred)) + "\n  ";
    const size_t width =
        id_width(report.deferred, [](const DeferredEntry& e) -> const std::string& { return e.id; });
    pad_right(out, "ID", width);
    out += " PENDING ATTEMPTS  ";
    pad_right(out, "NEXT ATTEMPT", 38);
    out += "LAST REPLY\n";
    for (const DeferredEntry& e : report.deferred) {
      out += "  ";
      pad_right(out, sanitize(e.id), width);
      pad_left(out, e.pending < 0 ? "?" : std::to_string(e.pending), 8);
      pad_left(out, std::to_string(e.attempts), 9);
      out += "  ";
      const std::string next =
          e.next_attempt == 0 ? std::string("as soon as possible")
                              : utc_time(e.next_attempt) + " (" + relative(e.next_attempt, now_unix) + ")";
      pad_right(out, next, 38);
      out += ' ';
      out += sanitize(e.last_reply.empty() ? "-" : e.last_reply);
      if (!e.problem.empty()) out += " [" + sanitize(e.problem) + "]";
      out += "\n";
    }
    if (report.deferred_more != 0) out += "  ... and " + std::to_string(report.deferred_more) + " more\n";
  }
  if (!report.failed.empty()) {
    reason_table(out, "failed: " + std::to_string(count(SpoolState::kFailed)), report.failed,
                 report.failed_more);
  }
  if (!report.hold.empty()) {
    reason_table(out,
                 "hold: " + std::to_string(count(SpoolState::kHold)) + " (" + std::string(kHoldHint) + ")",
                 report.hold, report.hold_more);
  }
  if (!report.refused_list.empty()) {
    out += "\nnot message files in incoming/new: " + std::to_string(report.refused) + "\n";
    const size_t width =
        id_width(report.refused_list, [](const RefusedEntry& e) -> const std::string& { return e.id; }) + 2;
    for (const RefusedEntry& e : report.refused_list) {
      out += "  ";
      pad_right(out, sanitize(e.id), width);
      out += "will be refused: " + sanitize(e.reason) + "\n";
    }
    if (report.refused_more != 0) out += "  ... and " + std::to_string(report.refused_more) + " more\n";
  }
  if (!report.ignored_list.empty()) {
    out += "\nnames the engine never takes: " + std::to_string(report.ignored) + "\n";
    const size_t width =
        id_width(report.ignored_list, [](const IgnoredEntry& e) -> const std::string& { return e.path; }) + 2;
    for (const IgnoredEntry& e : report.ignored_list) {
      out += "  ";
      pad_right(out, sanitize(e.path), width);
      out += "ignored: " + e.reason + "\n";
    }
    if (report.ignored_more != 0) out += "  ... and " + std::to_string(report.ignored_more) + " more\n";
  }
}

void format_spool_report_json(const SpoolReport& report, int64_t now_unix, std::string& out) {
  auto number = [&](const char* key, int64_t value, bool comma = true) {
    out += '"';
    out += key;
    out += "\":";
    out += std::to_string(value);
    if (comma) out += ',';
  };
  auto string = [&](const char* key, std::string_view value, bool comma = true) {
    out += '"';
    out += key;
    out += "\":";
    json_string(value, out);
    if (comma) out += ',';
  };
  auto count = [&](SpoolState state) {
    return static_cast<int64_t>(report.counts[static_cast<size_t>(state)]);
  };
  out += '{';
  string("spool", report.root);
  out += "\"counts\":{";
  number("incoming", count(SpoolState::kIncoming));
  number("active", count(SpoolState::kActive));
  number("deferred", count(SpoolState::kDeferred));
  number("failed", count(SpoolState::kFailed));
  number("incoming_tmp", static_cast<int64_t>(report.incoming_tmp));
  number("ignored", static_cast<int64_t>(report.ignored));
  number("hold", count(SpoolState::kHold));
  number("will_be_refused", static_cast<int64_t>(report.refused), false);
  out += "},";
  number("bounces", static_cast<int64_t>(report.bounces));
  out += "\"oldest\":";
  if (report.has_oldest) {
    out += '{';
    string("id", report.oldest_id);
    string("state", spool_state_name(report.oldest_state));
    number("mtime", report.oldest_mtime);
    number("age_s", std::max<int64_t>(0, now_unix - report.oldest_mtime), false);
    out += '}';
  } else {
    out += "null";
  }
  out += ",\"deferred\":[";
  for (size_t i = 0; i < report.deferred.size(); ++i) {
    const DeferredEntry& e = report.deferred[i];
    if (i != 0) out += ',';
    out += '{';
    string("id", e.id);
    if (e.pending < 0) {
      out += "\"pending\":null,";
    } else {
      number("pending", e.pending);
    }
    number("attempts", e.attempts);
    number("next_attempt", e.next_attempt);
    number("next_attempt_in_s", e.next_attempt == 0 ? 0 : std::max<int64_t>(0, e.next_attempt - now_unix));
    string("last_reply", e.last_reply);
    string("problem", e.problem, false);
    out += '}';
  }
  out += "],";
  number("deferred_more", static_cast<int64_t>(report.deferred_more));
  auto reasons = [&](const char* key, const std::vector<FailedEntry>& list) {
    out += '"';
    out += key;
    out += "\":[";
    for (size_t i = 0; i < list.size(); ++i) {
      if (i != 0) out += ',';
      out += '{';
      string("id", list[i].id);
      string("reason", list[i].reason);
      string("problem", list[i].problem, false);
      out += '}';
    }
    out += "],";
  };
  reasons("failed", report.failed);
  number("failed_more", static_cast<int64_t>(report.failed_more));
  reasons("hold", report.hold);
  number("hold_more", static_cast<int64_t>(report.hold_more));
  string("hold_hint", kHoldHint);
  out += "\"will_be_refused\":[";
  for (size_t i = 0; i < report.refused_list.size(); ++i) {
    if (i != 0) out += ',';
    out += '{';
    string("id", report.refused_list[i].id);
    string("reason", report.refused_list[i].reason, false);
    out += '}';
  }
  out += "],";
  number("will_be_refused_more", static_cast<int64_t>(report.refused_more));
  out += "\"ignored\":[";
  for (size_t i = 0; i < report.ignored_list.size(); ++i) {
    if (i != 0) out += ',';
    out += '{';
    string("path", report.ignored_list[i].path);
    string("reason", report.ignored_list[i].reason, false);
    out += '}';
  }
  out += "],";
  number("ignored_more", static_cast<int64_t>(report.ignored_more));
  out += "\"missing_dirs\":[";
  for (size_t i = 0; i < report.missing_dirs.size(); ++i) {
    if (i != 0) out += ',';
    json_string(report.missing_dirs[i], out);
  }
  out += "]}\n";
}

}  // namespace ringmail
