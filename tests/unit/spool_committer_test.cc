// tests/unit/spool_committer_test.cc — the SMTP listener's durable writer
// (ingress/spool_committer.h) against a real spool in a private /tmp folder:
// exact files in incoming/new and none left in incoming/tmp, group commit
// (requests waiting at a wake-up are one batch, bounded), acks routed to the
// submitting worker under two concurrent submitters, write failures (EFBIG,
// ENOSPC on a private tmpfs, a vanished directory) acked with the errno and
// no file, stop() draining, the id format, and a SIGKILL in the middle of
// committing that leaves every file in incoming/new complete and every
// acked id present.
#include "ingress/spool_committer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "queue/spool_layout.h"

namespace ringmail::ingress {
namespace {

namespace fs = std::filesystem;

// TempSpool is a spool (incoming/tmp and incoming/new) in a fresh /tmp
// folder, removed at the end.
class TempSpool {
 public:
  TempSpool() {
    char tmpl[] = "/tmp/ringmail-committer-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    EXPECT_NE(made, nullptr);
    base_ = made != nullptr ? made : "";
    std::string error;
    EXPECT_TRUE(open_spool_incoming(base_ + "/spool", /*create=*/true, dirs_, error)) << error;
  }
  ~TempSpool() {
    dirs_.close_all();
    std::error_code ec;
    if (!base_.empty()) fs::remove_all(base_, ec);
  }
  const std::string& base() const { return base_; }
  int tmp_fd() const { return dirs_.incoming_tmp_fd; }
  int new_fd() const { return dirs_.incoming_new_fd; }
  std::string new_path() const { return base_ + "/spool/incoming/new"; }
  std::string tmp_path() const { return base_ + "/spool/incoming/tmp"; }

 private:
  std::string base_;
  SpoolDirs dirs_;
};

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// content_for is the spool file the tests submit under |id|: a header naming
// it, then up to ~24 KB of lines whose length and letters depend on the id,
// so a truncated or mixed-up file never matches.
std::string content_for(std::string_view id) {
  size_t hash = std::hash<std::string_view>{}(id);
  std::string out = "X-Test-Id: " + std::string(id) + "\r\n\r\n";
  const size_t body = hash % 24000;
  for (size_t i = 0; i < body; ++i) {
    out.push_back(i % 78 == 77 ? '\n' : (i % 78 == 76 ? '\r' : static_cast<char>('a' + (hash + i * 7) % 26)));
  }
  return out;
}

uint64_t now_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// Message is one submitted request and the bytes it lends.
struct Message {
  std::string id;
  std::string content;
};

CommitRequest request_for(const Message& m, uint64_t token) {
  CommitRequest r;
  r.token = token;
  r.data = m.content.data();
  r.size = m.content.size();
  std::snprintf(r.id, sizeof(r.id), "%s", m.id.c_str());
  return r;
}

// make_messages makes |count| messages with ingress ids of |worker|.
std::vector<Message> make_messages(size_t count, uint32_t worker) {
  std::vector<Message> out;
  for (size_t i = 0; i < count; ++i) {
    char id[64];
    format_ingress_id(id, now_us(), worker, i);
    out.push_back({id, content_for(id)});
  }
  return out;
}

// wait_ack pops one ack of |worker|, sleeping on its Doorbell by the
// protocol in queue/doorbell.h; false after 20 s without one.
bool wait_ack(SpoolCommitter& committer, uint32_t worker, Doorbell& bell, CommitAck& ack) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (committer.pop_ack(worker, ack)) return true;
    bell.prepare_to_sleep();
    if (committer.acks_waiting(worker)) {
      bell.cancel_sleep();
      continue;
    }
    pollfd pfd{bell.fd(), POLLIN, 0};
    ::poll(&pfd, 1, 200);
    bell.drain();
    bell.woke();
  }
  return false;
}

// expect_files_exact checks that incoming/new holds exactly |messages|, each
// with its exact content, and that incoming/tmp is empty.
void expect_files_exact(const TempSpool& spool, const std::vector<Message>& messages) {
  std::vector<std::string> want;
  for (const Message& m : messages) {
    want.push_back(m.id);
    EXPECT_EQ(read_file(spool.new_path() + "/" + m.id), m.content) << m.id;
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(names_in(spool.new_path()), want);
  EXPECT_TRUE(names_in(spool.tmp_path()).empty());
}

class SpoolCommitterTest : public ::testing::TestWithParam<DataSync> {};

INSTANTIATE_TEST_SUITE_P(BothDataSyncs, SpoolCommitterTest,
                         ::testing::Values(DataSync::kSyncfs, DataSync::kFdatasync), [](const auto& info) {
                           return info.param == DataSync::kSyncfs ? "syncfs" : "fdatasync";
                         });

TEST_P(SpoolCommitterTest, WritesExactFilesIntoIncomingNew) {
  TempSpool spool;
  Doorbell bell;
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  SpoolCommitter committer(spool.tmp_fd(), spool.new_fd(), 1, {&bell}, 64, GetParam());
  ASSERT_TRUE(committer.start(error)) << error;
  std::vector<Message> messages = make_messages(20, 0);
  messages[3].content.clear();               // an empty file is still a file
  messages[5].content.assign(3 << 20, 'x');  // several write() calls' worth
  for (size_t i = 0; i < messages.size(); ++i) {
    ASSERT_TRUE(committer.submit(0, request_for(messages[i], 1000 + i)));
  }
  std::set<uint64_t> tokens;
  for (size_t i = 0; i < messages.size(); ++i) {
    CommitAck ack;
    ASSERT_TRUE(wait_ack(committer, 0, bell, ack));
    EXPECT_TRUE(ack.ok) << std::strerror(ack.error);
    EXPECT_EQ(ack.error, 0);
    tokens.insert(ack.token);
  }
  EXPECT_EQ(tokens.size(), messages.size());
  EXPECT_EQ(*tokens.begin(), 1000u);
  EXPECT_EQ(*tokens.rbegin(), 1019u);
  EXPECT_EQ(committer.in_flight(0), 0u);
  committer.stop();
  expect_files_exact(spool, messages);
  struct stat st {};
  ASSERT_EQ(::stat((spool.new_path() + "/" + messages[0].id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0640, 0u);  // at most 0640 (umask may take more)
  const CommitStats stats = committer.stats();
  EXPECT_EQ(stats.messages, 20u);
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_GE(stats.batches, 1u);
}

TEST_P(SpoolCommitterTest, RequestsWaitingAtWakeUpAreOneBatchWithFewSyncs) {
  TempSpool spool;
  Doorbell bell;
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  SpoolCommitter committer(spool.tmp_fd(), spool.new_fd(), 1, {&bell}, 64, GetParam());
  const std::vector<Message> messages = make_messages(10, 0);
  // Submitted before the thread runs: all ten wait at its first wake-up.
  for (size_t i = 0; i < messages.size(); ++i) ASSERT_TRUE(committer.submit(0, request_for(messages[i], i)));
  ASSERT_TRUE(committer.start(error)) << error;
  for (size_t i = 0; i < messages.size(); ++i) {
    CommitAck ack;
    ASSERT_TRUE(wait_ack(committer, 0, bell, ack));
    EXPECT_TRUE(ack.ok);
    EXPECT_EQ(ack.token, i);  // one worker's acks come in its submission order
  }
  const CommitStats stats = committer.stats();
  EXPECT_EQ(stats.batches, 1u);
  EXPECT_EQ(stats.messages, 10u);
  // One data sync for the batch (syncfs) or one per file, plus one fsync of
  // incoming/new.
  EXPECT_EQ(stats.sync_calls, GetParam() == DataSync::kSyncfs ? 2u : 11u);
  committer.stop();
  expect_files_exact(spool, messages);
}

TEST(SpoolCommitterBatchTest, BatchIsBoundedAndLanesShareIt) {
  TempSpool spool;
  Doorbell bells[2];
  std::string error;
  for (Doorbell& b : bells) ASSERT_TRUE(b.open(error)) << error;
  SpoolCommitter committer(spool.tmp_fd(), spool.new_fd(), 2, {&bells[0], &bells[1]}, 512, DataSync::kSyncfs);
  const std::vector<Message> first = make_messages(200, 0);
  const std::vector<Message> second = make_messages(200, 1);
  for (size_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(committer.submit(0, request_for(first[i], i)));
    ASSERT_TRUE(committer.submit(1, request_for(second[i], i)));
  }
  ASSERT_TRUE(committer.start(error)) << error;
  for (uint32_t w = 0; w < 2; ++w) {
    for (size_t i = 0; i < 200; ++i) {
      CommitAck ack;
      ASSERT_TRUE(wait_ack(committer, w, bells[w], ack));
      EXPECT_EQ(ack.token, i);
    }
  }
  committer.stop();
  // 400 waiting: a batch of kMaxBatch (256, 128 from each worker), then 144.
  EXPECT_EQ(committer.stats().batches, 2u);
  std::vector<Message> all = first;
  all.insert(all.end(), second.begin(), second.end());
  expect_files_exact(spool, all);
}

TEST(SpoolCommitterBatchTest, FullRingIsBackPressure) {
  TempSpool spool;
  Doorbell bell;
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  SpoolCommitter committer(spool.tmp_fd(), spool.new_fd(), 1, {&bell}, 4);
  const std::vector<Message> messages = make_messages(5, 0);
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(committer.submit(0, request_for(messages[i], i)));
  EXPECT_FALSE(committer.submit(0, request_for(messages[4], 4)));
  ASSERT_TRUE(committer.start(error)) << error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (committer.stats().messages < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Acked but not popped still counts: the ack ring can never overflow.
  EXPECT_FALSE(committer.submit(0, request_for(messages[4], 4)));
  CommitAck ack;
  ASSERT_TRUE(wait_ack(committer, 0, bell, ack));
  EXPECT_TRUE(committer.submit(0, request_for(messages[4], 4)));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(wait_ack(committer, 0, bell, ack));
  committer.stop();
  expect_files_exact(spool, messages);
}

// Two worker threads submit at once, each keeping up to 32 in flight: every
// ack goes to the worker that submitted it, each exactly once, and batches
// hold more than one message on average (group commit happens).
TEST(SpoolCommitterBatchTest, ConcurrentSubmittersGetTheirOwnAcks) {
  TempSpool spool;
  constexpr uint32_t kWorkers = 2;
  constexpr size_t kPerWorker = 400;
  Doorbell bells[kWorkers];
  std::string error;
  for (Doorbell& b : bells) ASSERT_TRUE(b.open(error)) << error;
  SpoolCommitter committer(spool.tmp_fd(), spool.new_fd(), kWorkers, {&bells[0], &bells[1]}, 64);
  ASSERT_TRUE(committer.start(error)) << error;
  std::vector<Message> messages[kWorkers];
  for (uint32_t w = 0; w < kWorkers; ++w) messages[w] = make_messages(kPerWorker, w);
  std::vector<std::string> failures[kWorkers];
  auto worker = [&](uint32_t w) {
    std::vector<int> acked(kPerWorker, 0);
    size_t next = 0, done = 0;
    while (done < kPerWorker) {
      while (next < kPerWorker && committer.in_flight(w) < 32) {
        if (!committer.submit(w, request_for(messages[w][next], (uint64_t{w} << 32) | next))) break;
        ++next;
      }
      CommitAck ack;
      if (!wait_ack(committer, w, bells[w], ack)) {
        failures[w].push_back("no ack within 20 s");
        return;
      }
      if (ack.token >> 32 != w) failures[w].push_back("ack of another worker: " + std::to_string(ack.token));
      if (!ack.ok) failures[w].push_back("failed ack: " + std::string(std::strerror(ack.error)));
      ++acked[ack.token & 0xffffffffu];
      ++done;
    }
    for (size_t i = 0; i < kPerWorker; ++i) {
      if (acked[i] == 1) continue;
      failures[w].push_back("token " + std::to_string(i) + " acked " + std::to_string(acked[i]));
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  committer.stop();
  for (uint32_t w = 0; w < kWorkers; ++w) EXPECT_TRUE(failures[w].empty()) << failures[w].front();
  const CommitStats stats = committer.stats();
  EXPECT_EQ(stats.messages, kWorkers * kPerWorker);
  EXPECT_GT(stats.messages, stats.batches) << "no batch held more than one message";
  std::vector<Message> all = messages[0];
  all.insert(all.end(), messages[1].begin(), messages[1].end());
  expect_files_exact(spool, all);
}

// stop() right after a burst of submits: every request is committed and
// acked before the thread ends; later submits are refused.
TEST(SpoolCommitterBatchTest, StopDrainsTheCommitThread) {
  TempSpool spool;
  Doorbell bell;
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  SpoolCommitter committer(spool.tmp_fd(), spool.new_fd(), 1, {&bell}, 128);
  ASSERT_TRUE(committer.start(error)) << error;
  const std::vector<Message> messages = make_messages(101, 0);
  for (size_t i = 0; i < 100; ++i) ASSERT_TRUE(committer.submit(0, request_for(messages[i], i)));
  committer.stop();
  for (size_t i = 0; i < 100; ++i) {
    CommitAck ack;
    ASSERT_TRUE(committer.pop_ack(0, ack)) << i;
    EXPECT_TRUE(ack.ok);
    EXPECT_EQ(ack.token, i);
  }
  EXPECT_FALSE(committer.submit(0, request_for(messages[100], 100)));
  expect_files_exact(spool, std::vector<Message>(messages.begin(), messages.begin() + 100));
}

// A file that cannot be written whole (RLIMIT_FSIZE makes write() stop
// short, then fail with EFBIG) is acked ok = false with the errno, leaves
// no temporary file, and does not spoil its batch-mates.
TEST(SpoolCommitterFailureTest, ShortWriteThenErrorAcksFailureAndLeavesNoFile) {
  TempSpool spool;
  Doorbell bell;
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  SpoolCommitter committer(spool.tmp_fd(), spool.new_fd(), 1, {&bell}, 8);
  std::vector<Message> messages = make_messages(3, 0);
  messages[0].content.assign(1000, 'a');
  messages[1].content.assign(200000, 'b');  // over the limit below
  messages[2].content.assign(2000, 'c');
  for (size_t i = 0; i < 3; ++i) ASSERT_TRUE(committer.submit(0, request_for(messages[i], i)));
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit limit = old_limit;
  limit.rlim_cur = 65536;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  struct sigaction ignore {};
  struct sigaction old_action {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGXFSZ, &ignore, &old_action);
  ASSERT_TRUE(committer.start(error)) << error;
  CommitAck acks[3];
  for (CommitAck& ack : acks) ASSERT_TRUE(wait_ack(committer, 0, bell, ack));
  committer.stop();
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::sigaction(SIGXFSZ, &old_action, nullptr);
  EXPECT_TRUE(acks[0].ok);
  EXPECT_FALSE(acks[1].ok);
  EXPECT_EQ(acks[1].error, EFBIG);
  EXPECT_TRUE(acks[2].ok);
  EXPECT_EQ(committer.stats().failed, 1u);
  EXPECT_EQ(committer.stats().messages, 2u);
  expect_files_exact(spool, {messages[0], messages[2]});
}

// incoming/tmp removed under the committer (an unwritable directory): the
// open fails, the ack says why, nothing reaches incoming/new.
TEST(SpoolCommitterFailureTest, UnwritableDirectoryAcksFailure) {
  TempSpool spool;
  const std::string gone = spool.base() + "/gone";
  ASSERT_EQ(::mkdir(gone.c_str(), 0700), 0);
  const int gone_fd = ::open(gone.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(gone_fd, 0);
  ASSERT_EQ(::rmdir(gone.c_str()), 0);
  Doorbell bell;
  std::string error;
  ASSERT_TRUE(bell.open(error)) << error;
  SpoolCommitter committer(gone_fd, spool.new_fd(), 1, {&bell}, 8);
  ASSERT_TRUE(committer.start(error)) << error;
  const std::vector<Message> messages = make_messages(2, 0);
  for (size_t i = 0; i < 2; ++i) ASSERT_TRUE(committer.submit(0, request_for(messages[i], i)));
  for (int i = 0; i < 2; ++i) {
    CommitAck ack;
    ASSERT_TRUE(wait_ack(committer, 0, bell, ack));
    EXPECT_FALSE(ack.ok);
    EXPECT_EQ(ack.error, ENOENT);
  }
  committer.stop();
  ::close(gone_fd);
  EXPECT_TRUE(names_in(spool.new_path()).empty());
  EXPECT_EQ(committer.stats().failed, 2u);
  EXPECT_EQ(committer.stats().sync_calls, 0u);
}

// A real ENOSPC: a child process in its own mount namespace puts the spool
// on a 256 KiB tmpfs and commits files until the space runs out. Skips
// unless root with unshare/mount (as CI runs).
TEST(SpoolCommitterFailureTest, NoSpaceAcksFailureAndLeavesNoFile) {
  TempSpool spool;
  const std::string mnt = spool.base() + "/small";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0700), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Exit codes: 0 pass, 77 cannot set up, 10+ the failing check.
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(77);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) ::_exit(77);
    SpoolDirs dirs;
    std::string err;
    if (!open_spool_incoming(mnt + "/spool", true, dirs, err)) ::_exit(10);
    Doorbell bell;
    if (!bell.open(err)) ::_exit(11);
    SpoolCommitter committer(dirs.incoming_tmp_fd, dirs.incoming_new_fd, 1, {&bell}, 16);
    std::vector<Message> messages = make_messages(8, 0);
    for (Message& m : messages) m.content.assign(60000, 'z');  // 4 fit in 256 KiB, 8 do not
    for (size_t i = 0; i < messages.size(); ++i) {
      if (!committer.submit(0, request_for(messages[i], i))) ::_exit(12);
    }
    if (!committer.start(err)) ::_exit(13);
    size_t ok = 0, nospace = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
      CommitAck ack;
      if (!wait_ack(committer, 0, bell, ack)) ::_exit(14);
      if (ack.ok) ++ok;
      if (!ack.ok && ack.error == ENOSPC) ++nospace;
    }
    committer.stop();
    if (ok == 0 || nospace == 0 || ok + nospace != messages.size()) ::_exit(15);
    if (names_in(mnt + "/spool/incoming/tmp").size() != 0) ::_exit(16);
    if (names_in(mnt + "/spool/incoming/new").size() != ok) ::_exit(17);
    for (const std::string& name : names_in(mnt + "/spool/incoming/new")) {
      if (read_file(mnt + "/spool/incoming/new/" + name) != std::string(60000, 'z')) ::_exit(18);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "needs root with unshare(CLONE_NEWNS) and tmpfs";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failing check in the child (see the test's exit codes)";
}

TEST(IngressIdTest, IdsAreValidUniqueAndSortByTime) {
  std::vector<std::string> ids;
  const uint64_t start = 1'712'345'678'901'234;
  for (uint64_t t = 0; t < 50; ++t) {
    for (uint32_t w = 0; w < 3; ++w) {
      for (uint64_t c = 0; c < 12; c += 11) {  // counters of different widths
        char id[64];
        format_ingress_id(id, start + t, w, c + t);
        ids.emplace_back(id);
      }
    }
  }
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  for (const std::string& id : ids) EXPECT_TRUE(is_valid_message_id(id)) << id;
  // Generated in time order: sorting keeps each time's ids before the next.
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i + 1 < sorted.size(); ++i) {
    EXPECT_LE(sorted[i].substr(0, 16), sorted[i + 1].substr(0, 16));
  }
  EXPECT_EQ(sorted.front().substr(0, 16), "1712345678901234");
  char id[64];
  format_ingress_id(id, 1, 4294967295u, UINT64_MAX);
  EXPECT_EQ(std::string(id),
            "0000000000000001." + std::to_string(::getpid()) + ".4294967295.18446744073709551615");
  EXPECT_TRUE(is_valid_message_id(id));
}

// crash_child commits messages in a loop, keeping up to 64 in flight, and
// writes each acked id with "\n" to |out_fd|; it never returns (the parent
// kills it).
[[noreturn]] void crash_child(const std::string& root, int out_fd) {
  SpoolDirs dirs;
  std::string error;
  if (!open_spool_incoming(root, false, dirs, error)) ::_exit(10);
  Doorbell bell;
  if (!bell.open(error)) ::_exit(11);
  SpoolCommitter committer(dirs.incoming_tmp_fd, dirs.incoming_new_fd, 1, {&bell}, 64);
  if (!committer.start(error)) ::_exit(12);
  std::vector<Message> slots(64);
  std::vector<uint64_t> free_slots;
  for (uint64_t i = 0; i < slots.size(); ++i) free_slots.push_back(i);
  uint64_t counter = 0;
  for (;;) {
    while (!free_slots.empty()) {
      const uint64_t slot = free_slots.back();
      char id[64];
      format_ingress_id(id, now_us(), 0, counter++);
      slots[slot] = {id, content_for(id)};
      if (!committer.submit(0, request_for(slots[slot], slot))) ::_exit(13);
      free_slots.pop_back();
    }
    CommitAck ack;
    if (!wait_ack(committer, 0, bell, ack) || !ack.ok) ::_exit(14);
    const std::string line = slots[ack.token].id + "\n";
    if (::write(out_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(15);
    free_slots.push_back(ack.token);
  }
}

// SIGKILL while committing in a loop: afterwards every file in incoming/new
// is complete (exact content) and every id acked before the kill is there.
// A dead process's half-written listener files go at start-up; a live
// process's and producers' files (other name shapes) stay.
TEST(StaleIngressFilesTest, OnlyDeadProcessesListenerFilesAreRemoved) {
  TempSpool spool;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);  // |child| is now a pid no process has
  const std::string dead = std::to_string(child);
  const std::string self = std::to_string(::getpid());
  const std::vector<std::string> names = {
      "1764561600000000." + dead + ".0.7",  // a dead run's listener: removed
      "1764561600000000." + self + ".1.8",  // this process's: kept
      "1764561600000000." + dead + ".9",    // `ringmail inject`'s shape: kept
      "1764561600000000." + dead + ".0.7x", "alert.tmp"};
  for (const std::string& name : names) {
    std::ofstream(spool.tmp_path() + "/" + name) << "partial";
  }
  EXPECT_EQ(remove_stale_ingress_files(spool.tmp_fd()), 1u);
  std::vector<std::string> kept(names.begin() + 1, names.end());
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(names_in(spool.tmp_path()), kept);
}

TEST(SpoolCommitterCrashTest, KillDuringCommitLosesNothingAcked) {
  TempSpool spool;
  const std::string root = spool.base() + "/spool";
  for (int round = 0; round < 3; ++round) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(pipe_fds[0]);
      crash_child(root, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);
    // Read acked ids until a few hundred (more each round) or 5 s, then kill.
    std::string acked_text;
    size_t lines = 0;
    const size_t kill_after = 100 + 100 * round;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    char buf[4096];
    while (lines < kill_after && std::chrono::steady_clock::now() < deadline) {
      pollfd pfd{pipe_fds[0], POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0) continue;
      const ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      acked_text.append(buf, static_cast<size_t>(n));
      lines = static_cast<size_t>(std::count(acked_text.begin(), acked_text.end(), '\n'));
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child exited with " << WEXITSTATUS(status);
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buf, sizeof(buf))) > 0) acked_text.append(buf, static_cast<size_t>(n));
    ::close(pipe_fds[0]);

    const std::vector<std::string> present = names_in(spool.new_path());
    const std::set<std::string> present_set(present.begin(), present.end());
    std::istringstream acked(acked_text);
    std::string id;
    size_t acked_count = 0;
    while (std::getline(acked, id)) {
      ++acked_count;
      EXPECT_TRUE(present_set.count(id)) << "acked before the kill but missing: " << id;
    }
    EXPECT_GT(acked_count, 0u);
    for (const std::string& name : present) {
      EXPECT_EQ(read_file(spool.new_path() + "/" + name), content_for(name)) << "incomplete file " << name;
    }
  }
}

}  // namespace
}  // namespace ringmail::ingress
