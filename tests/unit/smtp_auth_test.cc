// tests/unit/smtp_auth_test.cc — the pieces of AUTH to a relay outside the
// protocol machine: base64 (RFC 4648 vectors, and every byte value
// round-tripped through the sink's strict decoder), the prepared AUTH
// lines, the transcript mask, the password file (modes, newline, errors)
// and the credentials a Destination gets at start-up.
#include "engine/smtp_auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "config/password_file.h"
#include "engine/destination.h"
#include "ingress/sasl_decode.h"

namespace ringmail {
namespace {

std::string encode(std::string_view data) {
  std::string out(base64_encoded_size(data.size()), '?');
  EXPECT_EQ(base64_encode(data, out.data(), out.size()), out.size());
  return out;
}

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(encode(""), "");
  EXPECT_EQ(encode("f"), "Zg==");
  EXPECT_EQ(encode("fo"), "Zm8=");
  EXPECT_EQ(encode("foo"), "Zm9v");
  EXPECT_EQ(encode("foob"), "Zm9vYg==");
  EXPECT_EQ(encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(encode("Username:"), "VXNlcm5hbWU6");
}

TEST(Base64, EveryByteRoundTripsThroughTheSinksDecoder) {
  std::string data;
  for (int i = 0; i < 256; ++i) data += static_cast<char>(i);
  for (size_t n = 0; n <= data.size(); n += 1) {
    const std::string text = encode(std::string_view(data).substr(0, n));
    char decoded[256];
    size_t size = 0;
    ASSERT_TRUE(ingress::base64_decode(text, decoded, sizeof(decoded), size)) << n;
    ASSERT_EQ(std::string(decoded, size), data.substr(0, n));
  }
}

TEST(Base64, RefusesASmallBuffer) {
  char out[7];
  EXPECT_EQ(base64_encode("abcdef", out, sizeof(out)), 0u);  // needs 8
}

TEST(SmtpCredentials, PreparedLines) {
  SmtpCredentials credentials;
  std::string error;
  ASSERT_TRUE(make_smtp_credentials("user", "secret-pass", false, credentials, error)) << error;
  EXPECT_TRUE(credentials.configured());
  EXPECT_FALSE(credentials.allow_plaintext_auth);
  EXPECT_EQ(credentials.auth_plain_line, "AUTH PLAIN AHVzZXIAc2VjcmV0LXBhc3M=\r\n");
  EXPECT_EQ(credentials.login_username_line, "dXNlcg==\r\n");
  EXPECT_EQ(credentials.login_password_line, "c2VjcmV0LXBhc3M=\r\n");
  // The sink (the server side of the e2e tests) reads the PLAIN response back.
  const std::string_view response = std::string_view(credentials.auth_plain_line).substr(11, 24);
  char decoded[64];
  size_t size = 0;
  ASSERT_TRUE(ingress::base64_decode(response, decoded, sizeof(decoded), size));
  ingress::PlainCredentials plain;
  ASSERT_TRUE(ingress::parse_plain(std::string_view(decoded, size), plain));
  EXPECT_EQ(plain.authzid, "");
  EXPECT_EQ(plain.user, "user");
  EXPECT_EQ(plain.password, "secret-pass");
}

TEST(SmtpCredentials, LongestCredentialsFit) {
  SmtpCredentials credentials;
  std::string error;
  const std::string longest(kMaxCredentialBytes, 'x');
  ASSERT_TRUE(make_smtp_credentials(longest, longest, true, credentials, error)) << error;
  EXPECT_EQ(credentials.auth_plain_line.size(),
            std::string("AUTH PLAIN \r\n").size() + base64_encoded_size(2 * kMaxCredentialBytes + 2));
}

TEST(SmtpCredentials, RefusesWhatAuthCannotCarry) {
  struct Case {
    std::string user, password, words;
  };
  const Case cases[] = {
      {"", "hunter2", "the user name (relay.username) is empty"},
      {"u", "", "the password (relay.password_file) is empty"},
      {"u", std::string("hunter\0002", 8),
       "the password (relay.password_file) contains a NUL, CR or LF byte"},
      {"u", "hunter\r2", "contains a NUL, CR or LF byte"},
      {"u\n", "hunter2", "the user name (relay.username) contains a NUL, CR or LF byte"},
      {"u", std::string(kMaxCredentialBytes + 1, 'Q'), "is longer than 255 bytes"},
  };
  for (const Case& c : cases) {
    SmtpCredentials credentials;
    std::string error;
    EXPECT_FALSE(make_smtp_credentials(c.user, c.password, false, credentials, error));
    EXPECT_NE(error.find(c.words), std::string::npos) << error;
    EXPECT_EQ(error.find(c.password.empty() ? "\x01" : c.password), std::string::npos)
        << "password in: " << error;
  }
}

TEST(MaskCredentialLines, HidesEverySecret) {
  EXPECT_EQ(mask_credential_lines("AUTH PLAIN AHVzZXIAc2VjcmV0LXBhc3M=\r\n"), "AUTH PLAIN ****\r\n");
  EXPECT_EQ(mask_credential_lines("dXNlcg==\r\n"), "****\r\n");
  EXPECT_EQ(mask_credential_lines("dXNlcg==\r\nc2VjcmV0LXBhc3M=\r\n"), "****\r\n****\r\n");
  EXPECT_EQ(mask_credential_lines("AUTH LOGIN\r\n"), "AUTH LOGIN\r\n");
  EXPECT_EQ(mask_credential_lines("AUTH PLAIN AHVz"), "AUTH PLAIN ****");  // a partial send
  EXPECT_EQ(mask_credential_lines(""), "");
}

// --- The password file -------------------------------------------------------

class PasswordFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/ringmail-password-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/relay.password";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  void write(const std::string& text, mode_t mode) {
    FILE* file = std::fopen(path_.c_str(), "w");
    ASSERT_NE(file, nullptr);
    std::fwrite(text.data(), 1, text.size(), file);
    std::fclose(file);
    ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
  }
  std::string dir_, path_;
};

TEST_F(PasswordFile, OneTrailingNewlineIsRemoved) {
  struct Case {
    const char* text;
    const char* password;
  };
  const Case cases[] = {{"secret", "secret"},       {"secret\n", "secret"},     {"secret\r\n", "secret"},
                        {"secret\n\n", "secret\n"}, {"sec ret \n", "sec ret "}, {"secret\r", "secret\r"}};
  for (const Case& c : cases) {
    write(c.text, 0600);
    std::string password, error;
    ASSERT_TRUE(read_password_file(path_, password, error)) << error;
    EXPECT_EQ(password, c.password) << c.text;
  }
}

TEST_F(PasswordFile, OwnerOnlyModesAreAccepted) {
  for (mode_t mode : {0600, 0400}) {
    write("secret\n", mode);
    std::string password, error;
    EXPECT_TRUE(read_password_file(path_, password, error)) << error;
  }
}

TEST_F(PasswordFile, ReadableByOthersIsRefusedWithChmod600) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0610}) {
    write("secret\n", mode);
    std::string password, error;
    EXPECT_FALSE(read_password_file(path_, password, error)) << std::oct << mode;
    EXPECT_NE(error.find("chmod 600 " + path_), std::string::npos) << error;
    EXPECT_NE(error.find("relay.password_file"), std::string::npos) << error;
    EXPECT_EQ(error.find("secret"), std::string::npos) << error;
    EXPECT_EQ(password, "");
  }
}

TEST_F(PasswordFile, MissingFileNamesThePath) {
  std::string password, error;
  EXPECT_FALSE(read_password_file(path_, password, error));
  EXPECT_EQ(error, "relay.password_file " + path_ +
                       " cannot be read: No such file or directory; create it with the relay password on one "
                       "line (chmod 600 " +
                       path_ + ")");
}

TEST_F(PasswordFile, DirectoryAndHugeFileAreRefused) {
  std::string password, error;
  EXPECT_FALSE(read_password_file(dir_, password, error));
  EXPECT_NE(error.find("is not a regular file"), std::string::npos) << error;
  write(std::string(kMaxPasswordFileBytes + 1, 'x'), 0600);
  EXPECT_FALSE(read_password_file(path_, password, error));
  EXPECT_NE(error.find("is larger than 4096 bytes"), std::string::npos) << error;
}

// --- The Destination reads it at start-up ------------------------------------

TEST_F(PasswordFile, DestinationGetsTheCredentials) {
  Config config;
  config.relay.host = "relay.example.org";
  config.relay.tls = TlsLevel::kNone;
  config.relay.username = "AKIAEXAMPLE";
  config.relay.password_file = path_;
  config.relay.allow_plaintext_auth = true;
  RelayResolver resolver(config.relay);
  write("secret-pass\n", 0600);
  Destination destination;
  std::string error;
  ASSERT_TRUE(build_relay_destination(config, resolver, destination, error)) << error;
  EXPECT_TRUE(destination.credentials.configured());
  EXPECT_EQ(destination.credentials.username, "AKIAEXAMPLE");
  EXPECT_TRUE(destination.credentials.allow_plaintext_auth);
  EXPECT_EQ(destination.credentials.login_password_line, "c2VjcmV0LXBhc3M=\r\n");

  write("secret-pass\n", 0644);
  Destination refused;
  EXPECT_FALSE(build_relay_destination(config, resolver, refused, error));
  EXPECT_NE(error.find("chmod 600 " + path_), std::string::npos) << error;

  write("\n", 0600);
  EXPECT_FALSE(build_relay_destination(config, resolver, refused, error));
  EXPECT_EQ(error, "relay credentials cannot be used: the password (relay.password_file) is empty");
}

TEST(Destination, NoUsernameNoCredentials) {
  Config config;
  config.relay.host = "relay.example.org";
  config.relay.tls = TlsLevel::kNone;
  RelayResolver resolver(config.relay);
  Destination destination;
  std::string error;
  ASSERT_TRUE(build_relay_destination(config, resolver, destination, error)) << error;
  EXPECT_FALSE(destination.credentials.configured());
}

}  // namespace
}  // namespace ringmail
