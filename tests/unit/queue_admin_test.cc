// tests/unit/queue_admin_test.cc — the operator's verbs of `ringmail queue`
// (queue/queue_admin.h): the requeue rewrites of a meta record (pure,
// table-driven), then requeue, delete, show and the engine probe on a
// temporary spool.
#include "queue/queue_admin.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "queue/message_meta.h"
#include "queue/meta_file.h"
#include "queue/spool_layout.h"
#include "queue/spool_lock.h"

namespace ringmail {
namespace {

namespace fs = std::filesystem;

std::string format(const MessageMeta& meta) {
  std::string buf(kMaxMetaBytes, '\0');
  buf.resize(format_message_meta(meta, buf.data(), buf.size()));
  return buf;
}

TEST(QueueAdminMetaTest, RequeueFailedKeepsDoneDropsFailed) {
  struct Case {
    const char* name;
    std::string before;
    std::string after;
  };
  const Case cases[] = {
      {"failed and done",
       "attempts 3\nfirst_attempt 100\nnext_attempt 200\nlast_reply 451 later\nreason expired after 5d\n"
       "done a@x.org\nfailed b@x.org 550 no such user\ndone c@x.org\n",
       "attempts 0\nfirst_attempt 0\nnext_attempt 0\nlast_reply 451 later\ndone a@x.org\ndone c@x.org\n"},
      {"only failed",
       "attempts 1\nfirst_attempt 100\nreason every recipient refused\nfailed b@x.org 550 no\n",
       "attempts 0\nfirst_attempt 0\nnext_attempt 0\n"},
      {"no marks", "attempts 9\nfirst_attempt 5\nreason malformed\n",
       "attempts 0\nfirst_attempt 0\nnext_attempt 0\n"},
      {"empty record", "", "attempts 0\nfirst_attempt 0\nnext_attempt 0\n"},
  };
  for (const Case& c : cases) {
    auto meta = std::make_unique<MessageMeta>();
    std::string error;
    ASSERT_TRUE(parse_message_meta(c.before, *meta, error)) << c.name << ": " << error;
    requeue_failed_meta(*meta);
    EXPECT_EQ(format(*meta), c.after) << c.name;
    EXPECT_EQ(meta->attempts, 0u) << c.name;
    EXPECT_EQ(meta->first_attempt, 0) << c.name;
    EXPECT_EQ(meta->next_attempt, 0) << c.name;
    EXPECT_TRUE(meta->reason.empty()) << c.name;
  }
}

TEST(QueueAdminMetaTest, RequeueDeferredOnlyMakesItDue) {
  auto meta = std::make_unique<MessageMeta>();
  std::string error;
  const std::string text =
      "attempts 2\nfirst_attempt 100\nnext_attempt 9999999999\nlast_reply 451 greylisted\ndone a@x.org\n"
      "failed b@x.org 550 no\n";
  ASSERT_TRUE(parse_message_meta(text, *meta, error)) << error;
  requeue_deferred_meta(*meta);
  EXPECT_EQ(format(*meta),
            "attempts 2\nfirst_attempt 100\nnext_attempt 0\nlast_reply 451 greylisted\ndone a@x.org\nfailed "
            "b@x.org 550 no\n");
}

class QueueAdminSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringmail-queue-admin-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    ASSERT_NE(made, nullptr);
    dir_ = made;
    std::string error;
    ASSERT_TRUE(open_spool(dir_ + "/spool", /*create=*/true, dirs_, error)) << error;
  }
  void TearDown() override {
    dirs_.close_all();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& rel) const { return dir_ + "/spool/" + rel; }
  void write(const std::string& rel, const std::string& content) const {
    std::ofstream(path(rel), std::ios::binary) << content;
  }
  std::string read(const std::string& rel) const {
    std::ifstream in(path(rel), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  bool exists(const std::string& rel) const { return fs::exists(fs::symlink_status(path(rel))); }
  static std::string message() {
    return "X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <a@x.org>\nX-Ringmail-To: <b@x.org>\n"
           "From: alerts@example.com\nTo: a@x.org\nBcc: secret@x.org\nSubject: disk \x1b[31mfull\n\nbody\n";
  }

  std::string dir_;
  SpoolDirs dirs_;
};

TEST_F(QueueAdminSpoolTest, FindsMessagesInEveryState) {
  write("deferred/d1", message());
  write("hold/h1", message());
  write("incoming/new/n1", message());
  SpoolState state;
  ASSERT_TRUE(find_message(dirs_, "d1", state));
  EXPECT_EQ(state, SpoolState::kDeferred);
  ASSERT_TRUE(find_message(dirs_, "h1", state));
  EXPECT_EQ(state, SpoolState::kHold);
  ASSERT_TRUE(find_message(dirs_, "n1", state));
  EXPECT_EQ(state, SpoolState::kIncoming);
  EXPECT_FALSE(find_message(dirs_, "nope", state));
}

TEST_F(QueueAdminSpoolTest, RequeueFailedMovesToDeferredAndKeepsDone) {
  write("failed/f1", message());
  write("meta/f1", "attempts 4\nfirst_attempt 100\nreason expired\ndone a@x.org\nfailed b@x.org 550 no\n");
  const AdminResult r = requeue_message(dirs_, "f1", SpoolState::kFailed, "");
  EXPECT_EQ(r.outcome, AdminOutcome::kDone) << r.text;
  EXPECT_EQ(r.pending, 1);
  EXPECT_EQ(r.text, "requeued f1 (failed -> deferred, due now, 1 recipient pending)");
  EXPECT_FALSE(exists("failed/f1"));
  EXPECT_TRUE(exists("deferred/f1"));
  EXPECT_EQ(read("meta/f1"), "attempts 0\nfirst_attempt 0\nnext_attempt 0\ndone a@x.org\n");
}

TEST_F(QueueAdminSpoolTest, RequeueDeferredRewritesNextAttempt) {
  write("deferred/d1", message());
  write("meta/d1", "attempts 1\nfirst_attempt 100\nnext_attempt 9999999999\ndone b@x.org\n");
  const AdminResult r = requeue_message(dirs_, "d1", SpoolState::kDeferred, "");
  EXPECT_EQ(r.outcome, AdminOutcome::kDone) << r.text;
  EXPECT_EQ(r.text, "requeued d1 (deferred, due now, 1 recipient pending)");
  EXPECT_TRUE(exists("deferred/d1"));
  EXPECT_FALSE(exists("hold/d1"));
  EXPECT_EQ(read("meta/d1"), "attempts 1\nfirst_attempt 100\nnext_attempt 0\ndone b@x.org\n");
}

TEST_F(QueueAdminSpoolTest, RequeueHeldNeedsItsRecord) {
  write("hold/h1", message());
  AdminResult r = requeue_message(dirs_, "h1", SpoolState::kHold, "");
  EXPECT_EQ(r.outcome, AdminOutcome::kRefused);
  EXPECT_NE(r.text.find("every recipient again"), std::string::npos) << r.text;
  EXPECT_TRUE(exists("hold/h1"));

  write("meta/h1", "attempts 1\nfirst_attempt 100\nnext_attempt 200\ndone a@x.org\n");
  r = requeue_message(dirs_, "h1", SpoolState::kHold, "");
  EXPECT_EQ(r.outcome, AdminOutcome::kDone) << r.text;
  EXPECT_EQ(r.text, "released h1 (hold -> deferred, due now, 1 recipient pending)");
  EXPECT_TRUE(exists("deferred/h1"));
  EXPECT_EQ(read("meta/h1"), "attempts 1\nfirst_attempt 100\nnext_attempt 0\ndone a@x.org\n");
}

TEST_F(QueueAdminSpoolTest, RequeueRefusesInFlightAndBadRecords) {
  write("active/a1", message());
  EXPECT_EQ(requeue_message(dirs_, "a1", SpoolState::kActive, "").outcome, AdminOutcome::kInFlight);
  write("failed/f2", message());
  write("meta/f2", "colour blue\n");
  const AdminResult r = requeue_message(dirs_, "f2", SpoolState::kFailed, "");
  EXPECT_EQ(r.outcome, AdminOutcome::kRefused);
  EXPECT_TRUE(exists("failed/f2"));
  ASSERT_EQ(::mkfifo(path("failed/fifo").c_str(), 0600), 0);
  EXPECT_EQ(requeue_message(dirs_, "fifo", SpoolState::kFailed, "").outcome, AdminOutcome::kRefused);
}

TEST_F(QueueAdminSpoolTest, DeleteRemovesFileAndMeta) {
  write("deferred/d1", message());
  write("meta/d1", "attempts 1\n");
  const AdminResult r = delete_message(dirs_, "d1", SpoolState::kDeferred, /*engine_running=*/true, "");
  EXPECT_EQ(r.outcome, AdminOutcome::kDone);
  EXPECT_EQ(r.text, "deleted d1 (deferred, 2 recipients pending)");
  EXPECT_FALSE(exists("deferred/d1"));
  EXPECT_FALSE(exists("meta/d1"));
}

TEST_F(QueueAdminSpoolTest, DeleteInFlightOnlyWithoutEngine) {
  write("incoming/new/n1", message());
  write("active/a1", message());
  EXPECT_EQ(delete_message(dirs_, "n1", SpoolState::kIncoming, true, "").outcome, AdminOutcome::kInFlight);
  EXPECT_EQ(delete_message(dirs_, "a1", SpoolState::kActive, true, "").outcome, AdminOutcome::kInFlight);
  EXPECT_TRUE(exists("incoming/new/n1"));
  EXPECT_TRUE(exists("active/a1"));
  EXPECT_EQ(delete_message(dirs_, "n1", SpoolState::kIncoming, false, "").outcome, AdminOutcome::kDone);
  EXPECT_EQ(delete_message(dirs_, "a1", SpoolState::kActive, false, "").outcome, AdminOutcome::kDone);
  EXPECT_FALSE(exists("incoming/new/n1"));
  EXPECT_FALSE(exists("active/a1"));
}

TEST_F(QueueAdminSpoolTest, ListsValidIdsSorted) {
  write("failed/b", message());
  write("failed/a", message());
  write("failed/.tmp", message());
  std::vector<std::string> ids;
  std::string error;
  ASSERT_TRUE(list_messages(dirs_, SpoolState::kFailed, ids, error)) << error;
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));
}

TEST_F(QueueAdminSpoolTest, ShowsEnvelopeMarksAndHeaders) {
  write("deferred/d1", message());
  write("meta/d1",
        "attempts 2\nfirst_attempt 100\nnext_attempt 200\nlast_reply 451 later\n"
        "failed b@x.org 550 no such user\n");
  MessageDetails d;
  std::string error;
  ASSERT_TRUE(load_message_details(dirs_, "d1", SpoolState::kDeferred, "", d, error)) << error;
  EXPECT_TRUE(d.has_meta);
  EXPECT_EQ(d.sender, "alerts@example.com");
  ASSERT_EQ(d.recipients.size(), 2u);
  EXPECT_EQ(d.recipients[0].state, RecipientDetail::State::kPending);
  EXPECT_EQ(d.recipients[1].state, RecipientDetail::State::kFailed);
  EXPECT_EQ(d.recipients[1].reply, "550 no such user");
  EXPECT_EQ(d.attempts, 2u);
  EXPECT_EQ(d.last_reply, "451 later");
  // The header section without the preamble, Bcc included, body excluded.
  EXPECT_EQ(d.headers,
            "From: alerts@example.com\nTo: a@x.org\nBcc: secret@x.org\nSubject: disk \x1b[31mfull\n");
  EXPECT_TRUE(d.problem.empty()) << d.problem;
}

TEST_F(QueueAdminSpoolTest, ProbesTheEngineLock) {
  long pid = -1;
  std::string error;
  EXPECT_EQ(probe_engine(dirs_, pid, error), EngineState::kNotRunning);  // no lock file
  EXPECT_FALSE(exists("ringmail.lock"));                                 // and none created
  {
    SpoolLock lock;
    ASSERT_TRUE(lock.acquire(dirs_.root_fd, dirs_.root, error)) << error;
    EXPECT_EQ(probe_engine(dirs_, pid, error), EngineState::kRunning);
    EXPECT_EQ(pid, static_cast<long>(::getpid()));
  }
  EXPECT_EQ(probe_engine(dirs_, pid, error), EngineState::kNotRunning);
  // The probe released its lock: an engine can take it.
  SpoolLock lock;
  EXPECT_TRUE(lock.acquire(dirs_.root_fd, dirs_.root, error)) << error;
}

}  // namespace
}  // namespace ringmail
