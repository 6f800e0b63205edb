// tests/unit/spool_report_test.cc — `ringmail queue`'s scan of a spool
// (queue/spool_report.h) on a temporary spool, and `ringmail inject`
// end to end through cmd_inject (tools/commands.h, library
// ringmail_commands) with a pipe as its input.
#include "queue/spool_report.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "queue/envelope.h"
#include "queue/spool_layout.h"
#include "tools/commands.h"

namespace ringmail {
namespace {

namespace fs = std::filesystem;

class TempSpool {
 public:
  TempSpool() {
    char tmpl[] = "/tmp/ringmail-spool-report-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    dir_ = made != nullptr ? made : "";
    root_ = dir_ + "/spool";
  }
  ~TempSpool() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  const std::string& dir() const { return dir_; }
  const std::string& root() const { return root_; }

  void write(const std::string& rel, const std::string& content, int64_t mtime = 0) const {
    std::ofstream(root_ + "/" + rel, std::ios::binary) << content;
    if (mtime != 0) {
      struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
      EXPECT_EQ(::utimensat(AT_FDCWD, (root_ + "/" + rel).c_str(), times, 0), 0);
    }
  }

 private:
  std::string dir_;
  std::string root_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(path)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

constexpr int64_t kNow = 1'700'000'000;

// Fills a spool with known content; returns the open dirs.
void populate(const TempSpool& spool, SpoolDirs& dirs) {
  std::string error;
  ASSERT_TRUE(open_spool(spool.root(), true, dirs, error)) << error;
  const std::string msg3 =
      "X-Ringmail-From: <s@x.org>\nX-Ringmail-To: <a@y.org>\nX-Ringmail-To: <b@y.org>\n"
      "X-Ringmail-To: <c@y.org>\nSubject: s\n\nbody\n";
  spool.write("incoming/new/100.1.1", msg3, kNow - 10);
  spool.write("incoming/new/100.1.2", msg3, kNow - 10);
  spool.write("incoming/new/.producer-temp", "x");              // skipped silently
  spool.write("incoming/new/bad name", "x");                    // not a valid id: ignored
  fs::create_directory(spool.root() + "/incoming/new/subdir");  // the engine will refuse it
  spool.write("active/200.1.1", msg3, kNow - 20);
  spool.write("deferred/300.1.1", msg3, kNow - 30);
  spool.write("meta/300.1.1",
              "attempts 3\nfirst_attempt 1699990000\nnext_attempt 1700000240\n"
              "last_reply 451 4.7.1 \x1b[31mgreylisted\xff\n"
              "done a@y.org\nfailed b@y.org 550 5.1.1 unknown\n");
  spool.write("deferred/300.1.2", msg3, kNow - 30);
  spool.write("meta/300.1.2", "colour blue\n");
  spool.write("deferred/300.1.3", msg3, kNow - 30);  // no meta: never attempted
  spool.write("failed/400.1.1", msg3, 1000);         // the oldest
  spool.write("meta/400.1.1", "attempts 9\nreason expired after 5d: 451 try later\n");
  spool.write("failed/400.1.2", msg3, kNow - 40);
  spool.write("incoming/tmp/500.1.1", "partial");
  spool.write("incoming/tmp/500.1.2", "partial");
}

TEST(SpoolReportTest, CountsOldestAndListings) {
  TempSpool spool;
  SpoolDirs dirs;
  populate(spool, dirs);
  SpoolReport report;
  std::string error;
  ASSERT_TRUE(collect_spool_report(dirs, "", /*list_limit=*/2, report, error)) << error;
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kIncoming)], 2u);
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kActive)], 1u);
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kDeferred)], 3u);
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kFailed)], 2u);
  EXPECT_EQ(report.incoming_tmp, 2u);
  EXPECT_EQ(report.ignored, 1u);
  EXPECT_EQ(report.refused, 1u);
  ASSERT_TRUE(report.has_oldest);
  EXPECT_EQ(report.oldest_id, "400.1.1");
  EXPECT_EQ(report.oldest_state, SpoolState::kFailed);
  EXPECT_EQ(report.oldest_mtime, 1000);

  ASSERT_EQ(report.deferred.size(), 2u);
  EXPECT_EQ(report.deferred_more, 1u);
  const DeferredEntry& first = report.deferred[0];
  EXPECT_EQ(first.id, "300.1.1");
  EXPECT_EQ(first.pending, 1);  // a@ done, b@ failed, c@ pending
  EXPECT_EQ(first.attempts, 3u);
  EXPECT_EQ(first.next_attempt, 1700000240);
  EXPECT_EQ(first.last_reply, "451 4.7.1 \x1b[31mgreylisted\xff");
  EXPECT_TRUE(first.problem.empty()) << first.problem;
  const DeferredEntry& second = report.deferred[1];
  EXPECT_EQ(second.id, "300.1.2");
  EXPECT_NE(second.problem.find("unknown record 'colour'"), std::string::npos) << second.problem;

  ASSERT_EQ(report.failed.size(), 2u);
  EXPECT_EQ(report.failed_more, 0u);
  EXPECT_EQ(report.failed[0].reason, "expired after 5d: 451 try later");
  EXPECT_EQ(report.failed[1].problem, "no reason recorded");

  std::string text;
  format_spool_report_text(report, kNow, text);
  EXPECT_NE(text.find("spool " + spool.root()), std::string::npos) << text;
  EXPECT_NE(text.find("  deferred                 3"), std::string::npos) << text;
  EXPECT_NE(text.find("oldest: 400.1.1 (failed), written 1970-01-01 00:16:40 UTC"), std::string::npos)
      << text;
  EXPECT_NE(text.find("2023-11-14 22:17:20 UTC (in 4m)"), std::string::npos) << text;
  EXPECT_NE(text.find("451 4.7.1 ?[31mgreylisted"), std::string::npos) << text;  // ESC neutralised
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_NE(text.find("  ... and 1 more"), std::string::npos) << text;
  EXPECT_NE(text.find("expired after 5d: 451 try later"), std::string::npos) << text;

  std::string json;
  format_spool_report_json(report, kNow, json);
  EXPECT_NE(json.find("\"counts\":{\"incoming\":2,\"active\":1,\"deferred\":3,\"failed\":2,"
                      "\"incoming_tmp\":2,\"ignored\":1,\"hold\":0,\"will_be_refused\":1}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"last_reply\":\"451 4.7.1 \\u001b[31mgreylisted\\ufffd\""), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"next_attempt_in_s\":240"), std::string::npos) << json;
  EXPECT_NE(json.find("\"deferred_more\":1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"oldest\":{\"id\":\"400.1.1\",\"state\":\"failed\""), std::string::npos) << json;
}

// `ringmail queue` and the engine agree on what a message is
// (queue/spool_entry.h): in incoming/new an entry that is not a message file
// will be refused, elsewhere an entry under a message name is a message of
// its state; names the engine never takes are reported, not hidden.
TEST(SpoolReportTest, CountsWhatTheEngineCounts) {
  TempSpool spool;
  SpoolDirs dirs;
  std::string error;
  ASSERT_TRUE(open_spool(spool.root(), true, dirs, error)) << error;
  const std::string msg = "X-Ringmail-To: <a@y.org>\nFrom: s@x.org\n\nbody\n";
  spool.write("outside", msg);
  const std::string outside = spool.root() + "/outside";
  // incoming/new: one message, and what the engine will refuse.
  spool.write("incoming/new/500.1.1", msg);
  fs::create_symlink(outside, spool.root() + "/incoming/new/500.1.2");
  ASSERT_EQ(::mkfifo((spool.root() + "/incoming/new/500.1.3").c_str(), 0600), 0);
  fs::create_hard_link(outside, spool.root() + "/incoming/new/500.1.4");
  spool.write("incoming/new/" + std::string(64, '7'), msg);  // one character too long
  // failed/: where the engine moved such entries, with or without a reason.
  fs::create_symlink(outside, spool.root() + "/failed/600.1.1");
  spool.write("meta/600.1.1", "reason symbolic link refused\n");
  ASSERT_EQ(::mkfifo((spool.root() + "/failed/600.1.2").c_str(), 0600), 0);
  fs::create_directory(spool.root() + "/failed/600.1.3");
  // deferred/: a FIFO must be counted and never opened (it would block).
  ASSERT_EQ(::mkfifo((spool.root() + "/deferred/700.1.1").c_str(), 0600), 0);
  // hold/: a message whose outcome could not be recorded.
  spool.write("hold/800.1.1", msg);
  spool.write("meta/800.1.1", "attempts 1\nlast_reply 250 2.0.0 queued\n");

  SpoolReport report;
  ASSERT_TRUE(collect_spool_report(dirs, "", kReportListLimit, report, error)) << error;
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kIncoming)], 1u);
  EXPECT_EQ(report.refused, 3u);
  EXPECT_EQ(report.ignored, 1u);
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kFailed)], 3u);
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kDeferred)], 1u);
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kHold)], 1u);

  struct Want {
    std::string id;
    std::string reason;
  };
  const Want refused[] = {{"500.1.2", "symbolic link refused"},
                          {"500.1.3", "not a regular file (FIFO)"},
                          {"500.1.4", "hard link refused: a producer must write the file itself"}};
  ASSERT_EQ(report.refused_list.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(report.refused_list[i].id, refused[i].id);
    EXPECT_EQ(report.refused_list[i].reason, refused[i].reason);
  }
  const Want failed[] = {{"600.1.1", "symbolic link refused"},
                         {"600.1.2", "not a regular file (FIFO)"},
                         {"600.1.3", "not a regular file (directory)"}};
  ASSERT_EQ(report.failed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(report.failed[i].id, failed[i].id);
    EXPECT_EQ(report.failed[i].reason, failed[i].reason);
  }
  ASSERT_EQ(report.deferred.size(), 1u);
  EXPECT_EQ(report.deferred[0].pending, -1);
  EXPECT_EQ(report.deferred[0].problem, "not a regular file (FIFO)");
  ASSERT_EQ(report.hold.size(), 1u);
  EXPECT_EQ(report.hold[0].reason, "250 2.0.0 queued");
  ASSERT_EQ(report.ignored_list.size(), 1u);
  EXPECT_EQ(report.ignored_list[0].path, "incoming/new/" + std::string(64, '7'));
  EXPECT_EQ(report.ignored_list[0].reason, "not a valid message name (64 characters; at most 63)");

  std::string text;
  format_spool_report_text(report, kNow, text);
  for (const char* want :
       {"will be refused: symbolic link refused", "will be refused: not a regular file (FIFO)",
        "ignored: not a valid message name (64 characters; at most 63)",
        "held: outcome could not be recorded; release with `mv hold/ID deferred/`",
        "  failed                   3", "  hold                     1"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  std::string json;
  format_spool_report_json(report, kNow, json);
  for (const char* want :
       {"\"ignored\":1,\"hold\":1,\"will_be_refused\":3}",
        "\"will_be_refused\":[{\"id\":\"500.1.2\",\"reason\":\"symbolic link refused\"}",
        "\"hold\":[{\"id\":\"800.1.1\",\"reason\":\"250 2.0.0 queued\",\"problem\":\"\"}]",
        "\"failed\":[{\"id\":\"600.1.1\",\"reason\":\"symbolic link refused\",\"problem\":\"\"}",
        "\"ignored\":[{\"path\":\"incoming/new/7777", "\"missing_dirs\":[]"}) {
    EXPECT_NE(json.find(want), std::string::npos) << want << "\n" << json;
  }
}

// A producer made only incoming/ (no `ringmail run` yet): queue reports it.
TEST(SpoolReportTest, PartialSpoolCountsMissingDirectoriesAsEmpty) {
  TempSpool spool;
  fs::create_directories(spool.root() + "/incoming/new");
  fs::create_directories(spool.root() + "/incoming/tmp");
  spool.write("incoming/new/100.1.1", "X-Ringmail-To: <a@y.org>\nFrom: s@x.org\n\nb\n");
  SpoolDirs dirs;
  std::vector<std::string> missing;
  std::string error;
  ASSERT_TRUE(open_spool_for_reading(spool.root(), dirs, missing, error)) << error;
  SpoolReport report;
  ASSERT_TRUE(collect_spool_report(dirs, "", kReportListLimit, report, error, missing)) << error;
  EXPECT_EQ(report.counts[static_cast<size_t>(SpoolState::kIncoming)], 1u);
  EXPECT_EQ(report.missing_dirs, (std::vector<std::string>{"active", "deferred", "failed", "hold", "meta"}));
  std::string text, json;
  format_spool_report_text(report, kNow, text);
  format_spool_report_json(report, kNow, json);
  EXPECT_NE(text.find("not created yet (counted as empty; `ringmail run` creates them): active, deferred, "
                      "failed, hold, meta"),
            std::string::npos)
      << text;
  EXPECT_NE(json.find("\"missing_dirs\":[\"active\",\"deferred\",\"failed\",\"hold\",\"meta\"]"),
            std::string::npos)
      << json;
  EXPECT_FALSE(fs::exists(spool.root() + "/active"));  // nothing created
}

// Bounces the engine queued (ids ending in .dsn) are counted in every state.
TEST(SpoolReportTest, CountsQueuedBounces) {
  TempSpool spool;
  SpoolDirs dirs;
  std::string error;
  ASSERT_TRUE(open_spool(spool.root(), true, dirs, error)) << error;
  const std::string bounce = "X-Ringmail-From: <>\nX-Ringmail-To: <a@y.org>\nFrom: m@x.org\n\nb\n";
  spool.write("incoming/new/100.1.1.dsn", bounce);
  spool.write("deferred/101.1.1.dsn", bounce);
  spool.write("deferred/102.1.1", "X-Ringmail-To: <a@y.org>\nFrom: s@x.org\n\nb\n");
  SpoolReport report;
  ASSERT_TRUE(collect_spool_report(dirs, "", kReportListLimit, report, error)) << error;
  EXPECT_EQ(report.bounces, 2u);
  std::string text, json;
  format_spool_report_text(report, kNow, text);
  format_spool_report_json(report, kNow, json);
  EXPECT_NE(text.find("bounces (DSN) queued: 2 "), std::string::npos) << text;
  EXPECT_NE(json.find("},\"bounces\":2,\"oldest\":"), std::string::npos) << json;
}

// Columns widen to the longest id (ids up to 63 characters are valid).
TEST(SpoolReportTest, ColumnsFitLongIds) {
  TempSpool spool;
  SpoolDirs dirs;
  std::string error;
  ASSERT_TRUE(open_spool(spool.root(), true, dirs, error)) << error;
  const std::string long_id(63, 'a');
  spool.write("deferred/" + long_id, "X-Ringmail-To: <a@y.org>\nFrom: s@x.org\n\nb\n");
  spool.write("deferred/1.1.1", "X-Ringmail-To: <a@y.org>\nFrom: s@x.org\n\nb\n");
  spool.write("failed/" + long_id, "x");
  spool.write("meta/" + long_id, "reason gone\n");
  SpoolReport report;
  ASSERT_TRUE(collect_spool_report(dirs, "", kReportListLimit, report, error)) << error;
  std::string text;
  format_spool_report_text(report, kNow, text);
  std::istringstream lines(text);
  std::string header;
  std::vector<std::string> rows;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  ID ", 0) == 0 && line.find("PENDING") != std::string::npos) header = line;
    if (line.find("as soon as possible") != std::string::npos) rows.push_back(line);
  }
  ASSERT_FALSE(header.empty()) << text;
  ASSERT_EQ(rows.size(), 2u) << text;
  const size_t pending_end = header.find("PENDING") + std::string("PENDING").size() - 1;
  const size_t next_column = header.find("NEXT ATTEMPT");
  for (const std::string& row : rows) {
    EXPECT_EQ(row[pending_end], '1') << "\n" << header << "\n" << row;
    EXPECT_EQ(row.find("as soon as possible"), next_column) << "\n" << header << "\n" << row;
  }
  EXPECT_NE(text.find("  " + long_id + "  gone"), std::string::npos) << text;
}

TEST(SpoolReportTest, EmptySpool) {
  TempSpool spool;
  SpoolDirs dirs;
  std::string error;
  ASSERT_TRUE(open_spool(spool.root(), true, dirs, error)) << error;
  SpoolReport report;
  ASSERT_TRUE(collect_spool_report(dirs, "", kReportListLimit, report, error)) << error;
  EXPECT_FALSE(report.has_oldest);
  std::string text, json;
  format_spool_report_text(report, kNow, text);
  format_spool_report_json(report, kNow, json);
  EXPECT_NE(text.find("oldest: none"), std::string::npos) << text;
  EXPECT_NE(json.find("\"oldest\":null"), std::string::npos) << json;
  EXPECT_EQ(json.back(), '\n');
}

TEST(SpoolReportTest, ListingIsCappedAndOldestIdsFirst) {
  TempSpool spool;
  SpoolDirs dirs;
  std::string error;
  ASSERT_TRUE(open_spool(spool.root(), true, dirs, error)) << error;
  constexpr int kMessages = 250;
  for (int i = kMessages - 1; i >= 0; --i) {
    char id[32];
    std::snprintf(id, sizeof(id), "%016d.1.1", 1000 + i);
    spool.write(std::string("deferred/") + id, "X-Ringmail-To: a@y\nFrom: s@x\n\nb");
  }
  SpoolReport report;
  ASSERT_TRUE(collect_spool_report(dirs, "", kReportListLimit, report, error)) << error;
  ASSERT_EQ(report.deferred.size(), kReportListLimit);
  EXPECT_EQ(report.deferred_more, kMessages - kReportListLimit);
  EXPECT_EQ(report.deferred.front().id, "0000000000001000.1.1");
  EXPECT_EQ(report.deferred.back().id, "0000000000001099.1.1");
  EXPECT_EQ(report.deferred.front().pending, 1);
  std::string text;
  format_spool_report_text(report, kNow, text);
  EXPECT_NE(text.find("... and 150 more"), std::string::npos);
}

TEST(SpoolReportTest, FormatDuration) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59), "59s");
  EXPECT_EQ(format_duration(60), "1m");
  EXPECT_EQ(format_duration(3599), "59m");
  EXPECT_EQ(format_duration(3600 * 2 + 5 * 60), "2h 5m");
  EXPECT_EQ(format_duration(86400 * 3 + 3600 * 4 + 7), "3d 4h");
  EXPECT_EQ(format_duration(-5), "0s");
}

// --- ringmail inject, end to end ---------------------------------------------

struct InjectRun {
  int status = -1;
  std::string err;                  // what inject wrote to stderr
  std::vector<std::string> queued;  // contents of the files in incoming/new
  std::vector<mode_t> modes;        // their permission bits
  size_t tmp_left = 0;
};

InjectRun run_inject(const TempSpool& spool, const Config& config, InjectOptions options,
                     const std::string& message) {
  ::signal(SIGPIPE, SIG_IGN);  // cmd_inject may stop reading early on an error
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::thread writer([fd = fds[1], &message] {
    size_t off = 0;
    while (off < message.size()) {
      const ssize_t n = ::write(fd, message.data() + off, message.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  options.input_fd = fds[0];
  InjectRun run;
  // Capture stderr (the operator's sentence) in a file for the call.
  const std::string err_path = spool.dir() + "/inject.stderr";
  const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  EXPECT_GE(err_fd, 0);
  std::fflush(stderr);
  const int saved_stderr = ::dup(2);
  ::dup2(err_fd, 2);
  run.status = cmd_inject(config, options);
  std::fflush(stderr);
  ::dup2(saved_stderr, 2);
  ::close(saved_stderr);
  ::close(err_fd);
  run.err = read_file(err_path);
  ::close(fds[0]);
  writer.join();
  const std::string new_dir = spool.root() + "/incoming/new";
  if (fs::exists(new_dir)) {
    for (const std::string& name : list_dir(new_dir)) {
      EXPECT_TRUE(is_valid_message_id(name)) << name;
      run.queued.push_back(read_file(new_dir + "/" + name));
      struct stat st {};
      EXPECT_EQ(::stat((new_dir + "/" + name).c_str(), &st), 0);
      run.modes.push_back(st.st_mode & 07777);
      fs::remove(new_dir + "/" + name);
    }
    run.tmp_left = list_dir(spool.root() + "/incoming/tmp").size();
  }
  return run;
}

Config test_config(const TempSpool& spool) {
  Config config;
  config.spool = spool.root();
  config.smtp.default_sender = "alerts@x.org";
  return config;
}

TEST(InjectTest, ExtractRecipientsStripsBccAndWritesPreamble) {
  TempSpool spool;
  InjectOptions options;
  options.extract_recipients = true;
  const std::string message =
      "From: Alerts <a@x.org>\nTo: Bob <b@y.org>, c@y.org\nBcc: secret@y.org,\n  s2@y.org\n"
      "Subject: hi\n\nbody\nBcc: stays@y.org\n";
  const InjectRun run = run_inject(spool, test_config(spool), options, message);
  ASSERT_EQ(run.status, 0);
  ASSERT_EQ(run.queued.size(), 1u);
  EXPECT_EQ(run.tmp_left, 0u);
  EXPECT_EQ(run.queued[0],
            "X-Ringmail-From: <alerts@x.org>\nX-Ringmail-To: <b@y.org>\nX-Ringmail-To: <c@y.org>\n"
            "X-Ringmail-To: <secret@y.org>\nX-Ringmail-To: <s2@y.org>\n"
            "From: Alerts <a@x.org>\nTo: Bob <b@y.org>, c@y.org\nSubject: hi\n\nbody\nBcc: "
            "stays@y.org\n");
  // The engine's view of the file.
  auto env = std::make_unique<Envelope>();
  std::string error;
  ASSERT_EQ(parse_envelope(run.queued[0], true, "", *env, error), EnvelopeParse::kOk) << error;
  EXPECT_TRUE(env->from_preamble);
  EXPECT_EQ(env->recipient_count, 4u);
}

TEST(InjectTest, SenderFlagPositionalRecipientsAndLargeBodyStreamed) {
  TempSpool spool;
  InjectOptions options;
  options.sender = "ops@x.org";
  options.recipients = {"<one@y.org>", "two@y.org", "ONE@y.org", "one@Y.ORG"};
  std::string message = "Subject: big\r\nBcc: kept@y.org\r\n\r\n";
  for (int i = 0; message.size() < 300 * 1024; ++i) message += "line " + std::to_string(i) + "\r\n";
  const InjectRun run = run_inject(spool, test_config(spool), options, message);
  ASSERT_EQ(run.status, 0);
  ASSERT_EQ(run.queued.size(), 1u);
  EXPECT_EQ(run.queued[0],
            "X-Ringmail-From: <ops@x.org>\nX-Ringmail-To: <one@y.org>\nX-Ringmail-To: <two@y.org>\n"
            "X-Ringmail-To: <ONE@y.org>\n" +
                message);
}

TEST(InjectTest, PositionalPlusExtractedAreMergedAndDeduplicated) {
  TempSpool spool;
  InjectOptions options;
  options.extract_recipients = true;
  options.recipients = {"b@y.org", "extra@y.org"};
  const InjectRun run = run_inject(spool, test_config(spool), options, "From: a@x.org\nTo: b@Y.org\n\nbody");
  ASSERT_EQ(run.status, 0);
  ASSERT_EQ(run.queued.size(), 1u);
  EXPECT_EQ(run.queued[0],
            "X-Ringmail-From: <alerts@x.org>\nX-Ringmail-To: <b@y.org>\nX-Ringmail-To: <extra@y.org>\n"
            "From: a@x.org\nTo: b@Y.org\n\nbody");
}

TEST(InjectTest, NullSenderAndSenderFromHeader) {
  TempSpool spool;
  InjectOptions options;
  options.sender = "<>";
  options.recipients = {"b@y.org"};
  InjectRun run = run_inject(spool, test_config(spool), options, "Subject: dsn\n\nb");
  ASSERT_EQ(run.status, 0);
  ASSERT_EQ(run.queued.size(), 1u);
  EXPECT_EQ(run.queued[0].rfind("X-Ringmail-From: <>\n", 0), 0u) << run.queued[0];

  Config no_default = test_config(spool);
  no_default.smtp.default_sender.clear();
  options.sender.clear();
  run = run_inject(spool, no_default, options, "From: Me <me@x.org>\nSubject: s\n\nb");
  ASSERT_EQ(run.status, 0);
  ASSERT_EQ(run.queued.size(), 1u);
  EXPECT_EQ(run.queued[0].rfind("X-Ringmail-From: <me@x.org>\n", 0), 0u) << run.queued[0];

  run = run_inject(spool, no_default, options, "Subject: no from\n\nb");
  EXPECT_EQ(run.status, 65);
  EXPECT_TRUE(run.queued.empty());
}

struct InjectErrorCase {
  const char* name;
  bool extract;
  std::vector<std::string> recipients;
  const char* sender;
  std::string message;
  int status;
};

TEST(InjectTest, ErrorsQueueNothing) {
  const InjectErrorCase table[] = {
      {"no recipients", false, {}, "", "Subject: s\n\nb", 64},
      {"no recipients with -t", true, {}, "", "From: a@x\nSubject: s\n\nb", 64},
      {"bad positional address", false, {"a b@y.org"}, "", "Subject: s\n\nb", 65},
      {"address without @", false, {"root"}, "", "Subject: s\n\nb", 65},
      {"bad -f", false, {"b@y.org"}, "x y@z", "Subject: s\n\nb", 65},
      {"bad header address with -t", true, {}, "", "From: a@x\nTo: John Doe\n\nb", 65},
      {"empty message", false, {"b@y.org"}, "", "", 65},
      {"message with own preamble", false, {"b@y.org"}, "", "X-Ringmail-To: c@y\n\nb", 65},
      {"continuation line first", false, {"b@y.org"}, "", " folded\nSubject: s\n\nb", 65},
  };
  for (const InjectErrorCase& tc : table) {
    TempSpool spool;
    InjectOptions options;
    options.extract_recipients = tc.extract;
    options.recipients = tc.recipients;
    options.sender = tc.sender;
    const InjectRun run = run_inject(spool, test_config(spool), options, tc.message);
    EXPECT_EQ(run.status, tc.status) << tc.name;
    EXPECT_TRUE(run.queued.empty()) << tc.name;
    EXPECT_EQ(run.tmp_left, 0u) << tc.name;
  }
}

TEST(InjectTest, EmptySenderFlagIsTheNullSender) {
  TempSpool spool;
  InjectOptions options;
  options.sender = "";  // `ringmail inject -f ''`, as sendmail reads it
  options.sender_given = true;
  options.recipients = {"b@y.org"};
  const InjectRun run = run_inject(spool, test_config(spool), options, "Subject: dsn\n\nb");
  ASSERT_EQ(run.status, 0) << run.err;
  ASSERT_EQ(run.queued.size(), 1u);
  EXPECT_EQ(run.queued[0].rfind("X-Ringmail-From: <>\n", 0), 0u) << run.queued[0];
}

TEST(InjectTest, EchoedInputIsEscapedAndShortened) {
  struct Case {
    const char* name;
    std::vector<std::string> recipients;
    std::string sender;
    std::string want;  // must appear in stderr
  };
  const std::string huge(10 * 1024, 'x');
  const Case table[] = {
      {"CR LF in a recipient", {"a\r\nRCPT TO:<evil@y.org>"}, "", "'a\\r\\nRCPT TO:<evil@y.org>'"},
      {"escape sequence in a recipient", {"\x1b[31mred"}, "", "'\\x1b[31mred'"},
      {"10 KB recipient", {huge}, "", "…(10240 bytes)'"},
      {"CR LF in -f", {"b@y.org"}, "a b\r\n", "sender address 'a b\\r\\n'"},
  };
  for (const Case& tc : table) {
    TempSpool spool;
    InjectOptions options;
    options.recipients = tc.recipients;
    options.sender = tc.sender;
    const InjectRun run = run_inject(spool, test_config(spool), options, "Subject: s\n\nb");
    EXPECT_EQ(run.status, 65) << tc.name;
    EXPECT_NE(run.err.find(tc.want), std::string::npos) << tc.name << ": " << run.err;
    EXPECT_EQ(run.err.find('\r'), std::string::npos) << tc.name;
    EXPECT_EQ(run.err.find('\x1b'), std::string::npos) << tc.name;
    EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << tc.name << ": one line";
    EXPECT_LT(run.err.size(), 400u) << tc.name;
  }
}

// More than 64 KiB of headers: inject's hint must not send the operator to
// X-Ringmail- lines, which inject itself refuses.
TEST(InjectTest, LongHeaderHintsMatchWhatInjectAccepts) {
  std::string message = "Subject: long\n";
  while (message.size() < 70 * 1024) message += "X-Filler: " + std::string(70, 'f') + "\n";
  message += "To: b@y.org\n\nbody\n";
  struct Case {
    const char* name;
    bool extract;
    std::vector<std::string> recipients;
    bool default_sender;
    int status;
    const char* want;
  };
  const Case table[] = {
      {"-t", true, {}, true, 65, "give the recipients as arguments instead of using -t"},
      {"no sender", false, {"b@y.org"}, false, 65, "give the sender with -f"},
      {"arguments and a sender: no header needed", false, {"b@y.org"}, true, 0, ""},
  };
  for (const Case& tc : table) {
    TempSpool spool;
    Config config = test_config(spool);
    if (!tc.default_sender) config.smtp.default_sender.clear();
    InjectOptions options;
    options.extract_recipients = tc.extract;
    options.recipients = tc.recipients;
    const InjectRun run = run_inject(spool, config, options, message);
    EXPECT_EQ(run.status, tc.status) << tc.name << ": " << run.err;
    EXPECT_NE(run.err.find(tc.want), std::string::npos) << tc.name << ": " << run.err;
    EXPECT_EQ(run.err.find("X-Ringmail"), std::string::npos) << tc.name << ": " << run.err;
  }
}

// In a packaged spool (docs/operations.md) producers are members of the
// ringmail-inject group: they may enter only incoming/, and the engine reads
// their files through the group. So inject opens nothing else, and its file
// is mode 0640 whatever the umask.
TEST(InjectTest, NeedsOnlyIncomingAndWritesGroupReadableFiles) {
  TempSpool spool;
  fs::create_directories(spool.root());
  std::ofstream(spool.root() + "/active") << "in the way";  // open_spool would fail here
  InjectOptions options;
  options.recipients = {"b@y.org"};
  const mode_t old_umask = ::umask(077);
  const InjectRun run = run_inject(spool, test_config(spool), options, "Subject: s\n\nb\n");
  ::umask(old_umask);
  ASSERT_EQ(run.status, 0) << run.err;
  ASSERT_EQ(run.modes.size(), 1u);
  EXPECT_EQ(run.modes[0], 0640u);
  EXPECT_FALSE(fs::exists(spool.root() + "/deferred"));
}

TEST(InjectTest, UnwritableSpoolIsCantCreate) {
  TempSpool spool;
  std::ofstream(spool.dir() + "/file") << "x";
  Config config = test_config(spool);
  config.spool = spool.dir() + "/file/spool";  // under a regular file: ENOTDIR
  InjectOptions options;
  options.recipients = {"b@y.org"};
  const InjectRun run = run_inject(spool, config, options, "Subject: s\n\nb");
  EXPECT_EQ(run.status, 73);
}

}  // namespace
}  // namespace ringmail
