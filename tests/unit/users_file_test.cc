// tests/unit/users_file_test.cc — ingress/users_file: loading "user:hash"
// files (modes, bad lines), verifying passwords against yescrypt and
// SHA-512-crypt hashes made here with crypt_gensalt_rn, the dummy check for
// unknown users, the cache of good pairs (proven by crypt_calls()), and
// make_password_hash (what `ringmail hash-password` prints).
// Files live in a private mkdtemp() folder, removed afterwards.
#include "ingress/users_file.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace ringmail::ingress {
namespace {

// Hash hashes |password| with |prefix| ("$y$", "$6$") at |count| (low for
// speed; 0 = the default cost).
std::string Hash(const char* prefix, unsigned long count, const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, count, nullptr, 0, setting, sizeof(setting)), nullptr);
  crypt_data data{};
  const char* hash = crypt_rn(password.c_str(), setting, &data, sizeof(data));
  EXPECT_NE(hash, nullptr);
  return hash;
}

class UsersFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/ringmail-users-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    path_ = dir_ + "/users";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& text, mode_t mode = 0600) {
    std::filesystem::remove(path_);
    std::ofstream(path_) << text;
    ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
  }

  std::unique_ptr<UsersFile> Load(const std::string& text) {
    Write(text);
    std::string error;
    std::unique_ptr<UsersFile> file = UsersFile::load(path_, error);
    EXPECT_NE(file, nullptr) << error;
    return file;
  }

  std::string LoadError(const std::string& text, mode_t mode = 0600) {
    Write(text, mode);
    std::string error;
    EXPECT_EQ(UsersFile::load(path_, error), nullptr) << text;
    return error;
  }

  std::string dir_, path_;
};

TEST_F(UsersFileTest, YescryptAndSha512Verify) {
  const std::string text = "# accounts\n\nalertmanager:" + Hash("$y$", 1, "s3cret") + "\r\n  # indented comment\n" +
                           "zabbix:" + Hash("$6$", 1000, "pässword") + "\n";
  std::unique_ptr<UsersFile> file = Load(text);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->users(), 2u);
  EXPECT_TRUE(file->verify("alertmanager", "s3cret"));
  EXPECT_TRUE(file->verify("zabbix", "pässword"));
  EXPECT_FALSE(file->verify("alertmanager", "s3cret "));
  EXPECT_FALSE(file->verify("alertmanager", "S3cret"));
  EXPECT_FALSE(file->verify("alertmanager", ""));
  EXPECT_FALSE(file->verify("zabbix", "s3cret"));
  EXPECT_FALSE(file->verify("Zabbix", "pässword"));
  EXPECT_FALSE(file->verify("alertmanager", std::string("s3cret\0x", 8)));
}

TEST_F(UsersFileTest, DefaultCostHashFromMakePasswordHash) {
  std::string hash, error;
  ASSERT_TRUE(make_password_hash("correct horse", hash, error)) << error;
  EXPECT_EQ(hash.rfind("$y$", 0), 0u) << hash;
  std::string again;
  ASSERT_TRUE(make_password_hash("correct horse", again, error)) << error;
  EXPECT_NE(hash, again);  // a fresh salt each time
  std::unique_ptr<UsersFile> file = Load("ops:" + hash + "\n");
  ASSERT_NE(file, nullptr);
  EXPECT_TRUE(file->verify("ops", "correct horse"));
  EXPECT_FALSE(file->verify("ops", "correct horse!"));
  for (const std::string& bad : {std::string(), std::string("a\nb"), std::string("a\rb"), std::string("a\0b", 3)}) {
    EXPECT_FALSE(make_password_hash(bad, hash, error));
  }
  EXPECT_FALSE(make_password_hash("", hash, error));
  EXPECT_EQ(error, "the password is empty");
}

// An unknown user costs one crypt, like a known one; a known pair that
// verified once costs none after (the cache), a wrong password always one.
TEST_F(UsersFileTest, UnknownUsersCostACryptAndGoodPairsAreCached) {
  std::unique_ptr<UsersFile> file = Load("a:" + Hash("$y$", 1, "pw-a") + "\nb:" + Hash("$6$", 1000, "pw-b") + "\n");
  ASSERT_NE(file, nullptr);
  EXPECT_FALSE(file->verify("nobody", "pw-a"));
  EXPECT_EQ(file->crypt_calls(), 1u);
  EXPECT_TRUE(file->verify("a", "pw-a"));
  EXPECT_EQ(file->crypt_calls(), 2u);
  EXPECT_TRUE(file->verify("a", "pw-a"));
  EXPECT_TRUE(file->verify("a", "pw-a"));
  EXPECT_EQ(file->crypt_calls(), 2u);
  EXPECT_FALSE(file->verify("a", "pw-b"));
  EXPECT_FALSE(file->verify("b", "pw-a"));  // a's good pair does not open b
  EXPECT_EQ(file->crypt_calls(), 4u);
  EXPECT_FALSE(file->verify("a", "pw-"));  // the user/password split is part of the key
  EXPECT_FALSE(file->verify("ap", "w-a"));
  EXPECT_EQ(file->crypt_calls(), 6u);
}

TEST_F(UsersFileTest, EmptyFileVerifiesNobody) {
  std::unique_ptr<UsersFile> file = Load("# nobody yet\n");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->users(), 0u);
  EXPECT_FALSE(file->verify("a", "b"));
}

TEST_F(UsersFileTest, BadLinesNameTheLine) {
  const std::string good = Hash("$y$", 1, "x");
  const std::string where = "listen.users_file " + path_ + ":";
  const struct {
    std::string text;
    std::string error;
  } cases[] = {
      {"# c\nalice\n", where + "2: a line must be user:hash (no ':' found)"},
      {":" + good + "\n", where + "1: the user name before ':' is empty"},
      {"al ice:" + good + "\n", where + "1: the user name contains a space or a control character"},
      {std::string(256, 'u') + ":" + good + "\n", where + "1: the user name is longer than 255 bytes"},
      {"alice:$zz$not-a-method\n",
       where + "1: the text after ':' is not a crypt(3) hash such as \"$y$...\" (yescrypt) or \"$6$...\" "
               "(SHA-512); make one with `ringmail hash-password`"},
      {"alice:\n",
       where + "1: the text after ':' is not a crypt(3) hash such as \"$y$...\" (yescrypt) or \"$6$...\" "
               "(SHA-512); make one with `ringmail hash-password`"},
      {"alice:" + Hash("$1$", 0, "x") + "\n",
       where + "1: the hash uses a legacy method (DES, MD5 or similar) that is too weak; make a new one with "
               "`ringmail hash-password`"},
      {"alice:" + good + "\nbob:" + good + "\nalice:" + good + "\n",
       where + "3: user 'alice' is listed twice; keep one line per user"},
  };
  for (const auto& c : cases) {
    const std::string error = LoadError(c.text);
    EXPECT_EQ(error, c.error) << c.text;
    EXPECT_EQ(error.find(good), std::string::npos) << "a hash in the sentence: " << error;
  }
}

TEST_F(UsersFileTest, ModesAndMissingFile) {
  const std::string line = "alice:" + Hash("$y$", 1, "x") + "\n";
  for (mode_t mode : {0640, 0604, 0644, 0660}) {
    const std::string error = LoadError(line, mode);
    EXPECT_NE(error.find("chmod 600 " + path_), std::string::npos) << std::oct << mode << ": " << error;
    EXPECT_NE(error.find("listen.users_file"), std::string::npos) << error;
    EXPECT_EQ(error.find("$y$"), std::string::npos) << error;
  }
  Write(line, 0400);
  std::string error;
  EXPECT_NE(UsersFile::load(path_, error), nullptr) << error;
  std::filesystem::remove(path_);
  EXPECT_EQ(UsersFile::load(path_, error), nullptr);
  EXPECT_EQ(error, "listen.users_file " + path_ +
                       " cannot be read: No such file or directory; create it with user:hash lines (hashes from "
                       "`ringmail hash-password`) (chmod 600 " +
                       path_ + ")");
  EXPECT_EQ(UsersFile::load(dir_, error), nullptr);
  EXPECT_NE(error.find("is not a regular file"), std::string::npos) << error;
}

TEST_F(UsersFileTest, ConcurrentVerifyFromThreads) {
  std::unique_ptr<UsersFile> file =
      Load("a:" + Hash("$y$", 1, "pw-a") + "\nb:" + Hash("$6$", 1000, "pw-b") + "\n");
  ASSERT_NE(file, nullptr);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const bool good = (i + t) % 2 == 0;
        if (file->verify(t % 2 ? "a" : "b", good ? (t % 2 ? "pw-a" : "pw-b") : "nope") != good) wrong++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace ringmail::ingress
