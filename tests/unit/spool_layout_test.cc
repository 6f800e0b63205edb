// tests/unit/spool_layout_test.cc — spool directories and message ids
// (queue/spool_layout.h): creation with mode 0700 under a temporary root,
// the error sentences, fd ownership, id format, uniqueness across threads.
#include "queue/spool_layout.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ringmail {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ringmail-spool-layout-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    path_ = made != nullptr ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool fd_is_open(int fd) { return fd >= 0 && ::fcntl(fd, F_GETFD) != -1; }

TEST(SpoolLayoutTest, CreatesEveryDirectoryWithMode0700) {
  TempDir tmp;
  const std::string root = tmp.path() + "/spool";
  SpoolDirs dirs;
  std::string error;
  ASSERT_TRUE(open_spool(root, /*create=*/true, dirs, error)) << error;
  EXPECT_EQ(dirs.root, root);
  for (const char* sub :
       {"", "/incoming", "/incoming/tmp", "/incoming/new", "/active", "/deferred", "/failed", "/meta"}) {
    struct stat st {};
    ASSERT_EQ(::stat((root + sub).c_str(), &st), 0) << sub;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << sub;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << sub;
  }
  for (int fd : {dirs.root_fd, dirs.incoming_tmp_fd, dirs.incoming_new_fd, dirs.active_fd, dirs.deferred_fd,
                 dirs.failed_fd, dirs.meta_fd}) {
    EXPECT_TRUE(fd_is_open(fd));
  }
  EXPECT_EQ(dirs.state_fd(SpoolState::kIncoming), dirs.incoming_new_fd);
  EXPECT_EQ(dirs.state_fd(SpoolState::kDeferred), dirs.deferred_fd);
  // The fds are usable for *at() calls: a file made through active_fd shows up.
  const int fd = ::openat(dirs.active_fd, "m1", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_TRUE(std::filesystem::exists(root + "/active/m1"));

  // Reopening an existing spool without create works.
  SpoolDirs again;
  ASSERT_TRUE(open_spool(root, /*create=*/false, again, error)) << error;
}

// A producer (`ringmail inject`) opens only incoming/: in a packaged spool
// it may not enter active/, deferred/, ... (docs/operations.md). Here
// active/ is a file in the way: open_spool fails, open_spool_incoming does not.
TEST(SpoolLayoutTest, IncomingOnlyOpensAndCreatesIncomingDirectories) {
  TempDir tmp;
  const std::string root = tmp.path() + "/spool";
  ASSERT_EQ(::mkdir(root.c_str(), 0700), 0);
  const int fd = ::open((root + "/active").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  SpoolDirs dirs;
  std::string error;
  EXPECT_FALSE(open_spool(root, /*create=*/true, dirs, error));
  ASSERT_TRUE(open_spool_incoming(root, /*create=*/true, dirs, error)) << error;
  EXPECT_TRUE(fd_is_open(dirs.root_fd));
  EXPECT_TRUE(fd_is_open(dirs.incoming_tmp_fd));
  EXPECT_TRUE(fd_is_open(dirs.incoming_new_fd));
  for (int other : {dirs.active_fd, dirs.deferred_fd, dirs.failed_fd, dirs.hold_fd, dirs.meta_fd}) {
    EXPECT_EQ(other, -1);
  }
  EXPECT_TRUE(std::filesystem::is_directory(root + "/incoming/tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(root + "/incoming/new"));
  EXPECT_FALSE(std::filesystem::exists(root + "/deferred"));
}

TEST(SpoolLayoutTest, MissingSpoolWithoutCreateIsAnErrorSentence) {
  TempDir tmp;
  SpoolDirs dirs;
  std::string error;
  EXPECT_FALSE(open_spool(tmp.path() + "/nope", /*create=*/false, dirs, error));
  EXPECT_NE(error.find(tmp.path() + "/nope"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  EXPECT_NE(error.find("check `spool` in the config"), std::string::npos) << error;
  EXPECT_EQ(dirs.root_fd, -1);

  // A half-made spool names the missing subdirectory.
  ASSERT_EQ(::mkdir((tmp.path() + "/half").c_str(), 0700), 0);
  EXPECT_FALSE(open_spool(tmp.path() + "/half", /*create=*/false, dirs, error));
  EXPECT_NE(error.find("/half/incoming"), std::string::npos) << error;

  // A file in the way of a directory.
  const std::string blocked = tmp.path() + "/blocked";
  ASSERT_EQ(::mkdir(blocked.c_str(), 0700), 0);
  const int fd = ::open((blocked + "/active").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_FALSE(open_spool(blocked, /*create=*/true, dirs, error));
  EXPECT_NE(error.find("/blocked/active"), std::string::npos) << error;

  EXPECT_FALSE(open_spool("", /*create=*/true, dirs, error));
  EXPECT_NE(error.find("set `spool`"), std::string::npos) << error;
}

// `ringmail queue` reads spools that `ringmail run` has not completed yet.
TEST(SpoolLayoutTest, OpenForReadingToleratesMissingSubdirectories) {
  TempDir tmp;
  struct Case {
    const char* name;
    std::vector<std::string> made;  // subdirectories that exist
    std::vector<std::string> missing;
  };
  const Case table[] = {
      {"producer made incoming only",
       {"incoming", "incoming/tmp", "incoming/new"},
       {"active", "deferred", "failed", "hold", "meta"}},
      {"older version: no hold",
       {"incoming", "incoming/tmp", "incoming/new", "active", "deferred", "failed", "meta"},
       {"hold"}},
      {"bare root", {}, {"incoming/tmp", "incoming/new", "active", "deferred", "failed", "hold", "meta"}},
  };
  int n = 0;
  for (const Case& tc : table) {
    const std::string root = tmp.path() + "/s" + std::to_string(n++);
    ASSERT_EQ(::mkdir(root.c_str(), 0700), 0);
    for (const std::string& sub : tc.made) ASSERT_EQ(::mkdir((root + "/" + sub).c_str(), 0700), 0) << sub;
    SpoolDirs dirs;
    std::vector<std::string> missing;
    std::string error;
    ASSERT_TRUE(open_spool_for_reading(root, dirs, missing, error)) << tc.name << ": " << error;
    EXPECT_EQ(missing, tc.missing) << tc.name;
    EXPECT_EQ(dirs.hold_fd < 0, true) << tc.name;
    // Nothing was created.
    for (const std::string& sub : tc.missing) EXPECT_FALSE(std::filesystem::exists(root + "/" + sub)) << sub;
  }
  SpoolDirs dirs;
  std::vector<std::string> missing;
  std::string error;
  EXPECT_FALSE(open_spool_for_reading(tmp.path() + "/nope", dirs, missing, error));
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  const std::string blocked = tmp.path() + "/blocked";
  ASSERT_EQ(::mkdir(blocked.c_str(), 0700), 0);
  std::ofstream(blocked + "/active") << "x";  // a file where a directory belongs is still an error
  EXPECT_FALSE(open_spool_for_reading(blocked, dirs, missing, error));
  EXPECT_NE(error.find("/blocked/active"), std::string::npos) << error;
}

TEST(SpoolLayoutTest, MoveTransfersOwnershipAndDestructorCloses) {
  TempDir tmp;
  int root_fd = -1;
  {
    SpoolDirs dirs;
    std::string error;
    ASSERT_TRUE(open_spool(tmp.path(), /*create=*/true, dirs, error)) << error;
    SpoolDirs moved(std::move(dirs));
    EXPECT_EQ(dirs.root_fd, -1);  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(dirs.root.empty());
    root_fd = moved.root_fd;
    EXPECT_TRUE(fd_is_open(root_fd));
    SpoolDirs assigned;
    assigned = std::move(moved);
    EXPECT_EQ(assigned.root_fd, root_fd);
    EXPECT_EQ(moved.meta_fd, -1);  // NOLINT(bugprone-use-after-move)
  }
  EXPECT_FALSE(fd_is_open(root_fd));
}

TEST(SpoolLayoutTest, StateNames) {
  EXPECT_STREQ(spool_state_dir(SpoolState::kIncoming), "incoming/new");
  EXPECT_STREQ(spool_state_dir(SpoolState::kActive), "active");
  EXPECT_STREQ(spool_state_dir(SpoolState::kDeferred), "deferred");
  EXPECT_STREQ(spool_state_dir(SpoolState::kFailed), "failed");
  EXPECT_STREQ(spool_state_name(SpoolState::kIncoming), "incoming");
}

TEST(SpoolLayoutTest, MessageIdFormat) {
  char id[kMessageIdMax];
  make_message_id(id);
  const std::string s = id;
  ASSERT_TRUE(is_valid_message_id(s)) << s;
  const size_t dot1 = s.find('.');
  const size_t dot2 = s.find('.', dot1 + 1);
  ASSERT_EQ(dot1, 16u) << s;
  ASSERT_NE(dot2, std::string::npos) << s;
  EXPECT_EQ(s.substr(dot1 + 1, dot2 - dot1 - 1), std::to_string(::getpid()));
  // Sortable by creation time: a later id compares greater.
  ::usleep(2000);
  char later[kMessageIdMax];
  make_message_id(later);
  EXPECT_LT(s, std::string(later));
}

TEST(SpoolLayoutTest, MessageIdsAreUniqueAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      ids[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) {
        char id[kMessageIdMax];
        make_message_id(id);
        ids[t].emplace_back(id);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& list : ids) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST(SpoolLayoutTest, ValidMessageIds) {
  struct Case {
    std::string name;
    bool valid;
  };
  const Case table[] = {
      {"1712345678901234.4711.17", true},
      {"alert-2024-04-05_10:00:00,S=1234", true},
      {"x", true},
      {std::string(63, 'a'), true},
      {std::string(64, 'a'), false},
      {"", false},
      {".tmp-file", false},
      {"a/b", false},
      {"a b", false},
      {"tab\there", false},
      {"caf\xc3\xa9", false},
      {std::string("nul\0x", 5), false},
  };
  for (const Case& tc : table) EXPECT_EQ(is_valid_message_id(tc.name), tc.valid) << tc.name;
}

}  // namespace
}  // namespace ringmail
