// tests/unit/config_test.cc — unit tests for config/config.{h,cc}.
//
// Writes small TOML files into a private mkdtemp() folder under /tmp and
// checks load_config's result and its exact error sentences (file, line,
// key), plus parse_duration's accepted and refused forms. Never touches
// anything outside its temporary folder, which it removes.
#include "config/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace ringmail {
namespace {

using std::chrono::seconds;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/ringmail-config-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Write stores |text| as DIR/ringmail.toml and returns its path.
  std::string Write(const std::string& text) {
    std::string path = dir_ + "/ringmail.toml";
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }

  // LoadError loads |text| and returns the error with the directory removed
  // ("ringmail.toml:7: ..."); fails the test if loading succeeds.
  std::string LoadError(const std::string& text) {
    std::string path = Write(text);
    Config config;
    config.spool = "untouched";
    std::string error;
    EXPECT_FALSE(load_config(path, config, error)) << text;
    EXPECT_EQ(config.spool, "untouched") << "out must not change on failure";
    if (error.rfind(dir_ + "/", 0) == 0) error.erase(0, dir_.size() + 1);
    return error;
  }

  std::string dir_;
};

constexpr const char* kMinimal =
    "spool = \"/var/spool/ringmail\"\n"
    "[relay]\n"
    "host = \"127.0.0.1\"\n";

TEST_F(ConfigTest, FullValidFile) {
  std::string path = Write(
      "# every key\n"
      "spool = \"/var/spool/ringmail\"\n"
      "[engine]\n"
      "threads = 4\n"
      "pin_threads = false\n"
      "inbox_capacity = 1024\n"
      "[smtp]\n"
      "helo_name = \"mta.example.org\"\n"
      "default_sender = \"alerts@example.org\"\n"
      "connect_timeout_ms = 5000\n"
      "reply_timeout_ms = 6000\n"
      "data_timeout_ms = 7000\n"
      "[relay]\n"
      "host = \"[::1]\"\n"
      "port = 2525\n"
      "tls = \"none\"\n"
      "max_connections = 8\n"
      "max_messages_per_connection = 50\n"
      "[retry]\n"
      "schedule = [\"30s\", \"5m\", \"1h\", \"2d\"]\n"
      "max_age = \"3d\"\n");
  Config config;
  std::string error;
  ASSERT_TRUE(load_config(path, config, error)) << error;
  EXPECT_EQ(config.path, path);
  EXPECT_EQ(config.spool, "/var/spool/ringmail");
  EXPECT_EQ(config.engine.threads, 4u);
  EXPECT_FALSE(config.engine.pin_threads);
  EXPECT_EQ(config.engine.inbox_capacity, 1024u);
  EXPECT_EQ(config.smtp.helo_name, "mta.example.org");
  EXPECT_EQ(config.smtp.default_sender, "alerts@example.org");
  EXPECT_EQ(config.smtp.connect_timeout_ms, 5000u);
  EXPECT_EQ(config.smtp.reply_timeout_ms, 6000u);
  EXPECT_EQ(config.smtp.data_timeout_ms, 7000u);
  EXPECT_EQ(config.relay.host, "[::1]");
  EXPECT_EQ(config.relay.port, 2525);
  EXPECT_EQ(config.relay.tls, TlsLevel::kNone);
  EXPECT_EQ(config.relay.max_connections, 8u);
  EXPECT_EQ(config.relay.max_messages_per_connection, 50u);
  EXPECT_EQ(config.retry.schedule,
            (std::vector<seconds>{seconds(30), seconds(300), seconds(3600), seconds(172800)}));
  EXPECT_EQ(config.retry.max_age, seconds(3 * 86400));
}

TEST_F(ConfigTest, Defaults) {
  std::string path = Write(kMinimal);
  Config config;
  std::string error;
  ASSERT_TRUE(load_config(path, config, error)) << error;
  Config defaults;
  EXPECT_EQ(config.engine.threads, defaults.engine.threads);
  EXPECT_EQ(config.engine.pin_threads, defaults.engine.pin_threads);
  EXPECT_EQ(config.engine.inbox_capacity, defaults.engine.inbox_capacity);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(config.smtp.helo_name, host[0] != '\0' ? std::string(host) : "localhost");
  EXPECT_EQ(config.smtp.default_sender, "");
  EXPECT_EQ(config.smtp.connect_timeout_ms, 30'000u);
  EXPECT_EQ(config.smtp.reply_timeout_ms, 300'000u);
  EXPECT_EQ(config.smtp.data_timeout_ms, 600'000u);
  EXPECT_EQ(config.relay.port, 25);
  EXPECT_EQ(config.relay.tls, TlsLevel::kMay);
  EXPECT_FALSE(config.relay.implicit_tls);
  EXPECT_EQ(config.tls.ca_file, "");
  EXPECT_EQ(config.tls.ca_dir, "/etc/ssl/certs");
  EXPECT_EQ(config.tls.min_version, 0x0303);
  EXPECT_EQ(config.tls.max_version, 0x0304);
  EXPECT_EQ(config.tls.ciphers, "");
  EXPECT_TRUE(config.tls.session_resumption);
  EXPECT_EQ(config.relay.max_connections, 16u);
  EXPECT_EQ(config.relay.max_messages_per_connection, 1000u);
  EXPECT_EQ(config.retry.schedule, defaults.retry.schedule);
  EXPECT_EQ(config.retry.max_age, seconds(5 * 86400));
}

TEST_F(ConfigTest, MissingFile) {
  Config config;
  std::string error;
  std::string path = dir_ + "/absent.toml";
  EXPECT_FALSE(load_config(path, config, error));
  EXPECT_EQ(error, "cannot read config file " + path + ": No such file or directory");
}

TEST_F(ConfigTest, DirectoryIsNotAFile) {
  Config config;
  std::string error;
  EXPECT_FALSE(load_config(dir_, config, error));
  EXPECT_EQ(error, "cannot read config file " + dir_ + ": Is a directory");
}

struct ErrorCase {
  const char* name;
  const char* toml;
  const char* error;
};

// Each case is a whole file and the exact error it must give.
const ErrorCase kErrorCases[] = {
    {"typo_suggestion", "spool = \"/s\"\n[relay]\nhost = \"h\"\n\n\n\nprot = 25\n",
     "ringmail.toml:7: unknown key 'relay.prot' (did you mean 'relay.port'?)"},
    {"unknown_key_no_suggestion", "spool = \"/s\"\n[relay]\nhost = \"h\"\ncolour = \"blue\"\n",
     "ringmail.toml:4: unknown key 'relay.colour'"},
    {"key_in_wrong_table", "spool = \"/s\"\n[smtp]\nhost = \"h\"\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: unknown key 'smtp.host' (did you mean 'relay.host'?)"},
    {"unknown_top_level_key", "spol = \"/s\"\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:1: unknown key 'spol' (did you mean 'spool'?)"},
    {"unknown_table", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[rety]\nmax_age = \"1d\"\n",
     "ringmail.toml:4: unknown table 'rety' (did you mean 'retry'?)"},
    {"unknown_subtable", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[relay.extra]\nx = 1\n",
     "ringmail.toml:4: unknown table 'relay.extra'"},
    {"table_not_a_table", "spool = \"/s\"\nengine = 4\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:2: 'engine' must be a table, got an integer"},
    {"wrong_type_port", "spool = \"/s\"\n[relay]\nhost = \"h\"\nport = \"25\"\n",
     "ringmail.toml:4: 'relay.port' must be an integer, got a string"},
    {"wrong_type_float", "spool = \"/s\"\n[relay]\nhost = \"h\"\nport = 25.0\n",
     "ringmail.toml:4: 'relay.port' must be an integer, got a float"},
    {"wrong_type_bool", "spool = \"/s\"\n[engine]\npin_threads = 1\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: 'engine.pin_threads' must be a boolean (true or false), got an integer"},
    {"wrong_type_string", "spool = 5\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:1: 'spool' must be a string, got an integer"},
    {"port_zero", "spool = \"/s\"\n[relay]\nhost = \"h\"\nport = 0\n",
     "ringmail.toml:4: 'relay.port' must be between 1 and 65535, got 0"},
    {"port_too_big", "spool = \"/s\"\n[relay]\nhost = \"h\"\nport = 65536\n",
     "ringmail.toml:4: 'relay.port' must be between 1 and 65535, got 65536"},
    {"max_connections_range", "spool = \"/s\"\n[relay]\nhost = \"h\"\nmax_connections = 1001\n",
     "ringmail.toml:4: 'relay.max_connections' must be between 1 and 1000, got 1001"},
    {"max_messages_range", "spool = \"/s\"\n[relay]\nhost = \"h\"\nmax_messages_per_connection = 0\n",
     "ringmail.toml:4: 'relay.max_messages_per_connection' must be between 1 and 1000000, got 0"},
    {"inbox_not_power_of_two", "spool = \"/s\"\n[engine]\ninbox_capacity = 1000\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: 'engine.inbox_capacity' must be a power of two (64, 128, ... 1048576), got 1000"},
    {"inbox_too_small", "spool = \"/s\"\n[engine]\ninbox_capacity = 32\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: 'engine.inbox_capacity' must be between 64 and 1048576, got 32"},
    {"inbox_too_big", "spool = \"/s\"\n[engine]\ninbox_capacity = 2097152\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: 'engine.inbox_capacity' must be between 64 and 1048576, got 2097152"},
    {"negative_threads", "spool = \"/s\"\n[engine]\nthreads = -1\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: 'engine.threads' must be between 0 and 1024, got -1"},
    {"timeout_zero", "spool = \"/s\"\n[smtp]\nreply_timeout_ms = 0\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: 'smtp.reply_timeout_ms' must be between 1 and 3600000, got 0"},
    {"helo_with_space", "spool = \"/s\"\n[smtp]\nhelo_name = \"a b\"\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: 'smtp.helo_name' must not contain spaces"},
    {"sender_with_crlf",
     "spool = \"/s\"\n[smtp]\ndefault_sender = \"a@b\\r\\nRCPT TO:<x>\"\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:3: 'smtp.default_sender' must not contain control characters"},
    {"missing_spool", "[relay]\nhost = \"h\"\n",
     "ringmail.toml:1: missing required key 'spool' (the spool directory, e.g. spool = "
     "\"/var/spool/ringmail\")"},
    {"empty_spool", "\nspool = \"\"\n[relay]\nhost = \"h\"\n", "ringmail.toml:2: 'spool' must not be empty"},
    {"missing_relay_host_in_table", "spool = \"/s\"\n\n[relay]\nport = 25\n",
     "ringmail.toml:3: missing required key 'relay.host' (the smarthost to deliver to, e.g. "
     "[relay] host = \"127.0.0.1\")"},
    {"missing_relay_table", "spool = \"/s\"\n",
     "ringmail.toml:1: missing required key 'relay.host' (the smarthost to deliver to, e.g. "
     "[relay] host = \"127.0.0.1\")"},
    {"empty_relay_host", "spool = \"/s\"\n[relay]\nhost = \"\"\n",
     "ringmail.toml:3: 'relay.host' must not be empty"},
    {"tls_unknown", "spool = \"/s\"\n[relay]\nhost = \"h\"\ntls = \"strict\"\n",
     "ringmail.toml:4: unknown TLS level relay.tls = \"strict\"; the levels are none, may, "
     "encrypt, verify and secure (docs/tls.md says what each one does)"},
    {"tls_ca_file_missing",
     "spool = \"/s\"\n[relay]\nhost = \"h\"\n[tls]\nca_file = \"/nonexistent/ca.pem\"\n",
     "ringmail.toml:5: 'tls.ca_file' names /nonexistent/ca.pem, which cannot be used: No such file or "
     "directory; put the PEM file of trusted certificates there or correct the path"},
    {"tls_ca_file_relative", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[tls]\nca_file = \"ca.pem\"\n",
     "ringmail.toml:5: 'tls.ca_file' must be an absolute path, got 'ca.pem'; write the full path to the PEM "
     "file of trusted certificates"},
    {"tls_ca_file_is_dir", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[tls]\nca_file = \"/tmp\"\n",
     "ringmail.toml:5: 'tls.ca_file' names /tmp, which is a directory; name the PEM file of trusted "
     "certificates itself (a directory of certificates goes in 'tls.ca_dir')"},
    {"tls_ca_dir_missing", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[tls]\nca_dir = \"/nonexistent\"\n",
     "ringmail.toml:5: 'tls.ca_dir' names /nonexistent, which cannot be used: No such file or directory; "
     "create it with the trusted certificates, or set tls.ca_dir = \"\" and use 'tls.ca_file'"},
    {"tls_client_key_missing",
     "spool = \"/s\"\n[relay]\nhost = \"h\"\n[tls]\nclient_key = \"/nonexistent/k.pem\"\n",
     "ringmail.toml:5: 'tls.client_key' names /nonexistent/k.pem, which cannot be used: No such file or "
     "directory; put the client private key (PEM) there or correct the path"},
    {"tls_version", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[tls]\nmin_version = \"1.1\"\n",
     "ringmail.toml:5: 'tls.min_version' must be \"1.2\" or \"1.3\", got \"1.1\""},
    {"tls_versions_reversed",
     "spool = \"/s\"\n[relay]\nhost = \"h\"\n[tls]\nmax_version = \"1.2\"\nmin_version = \"1.3\"\n",
     "ringmail.toml:6: 'tls.min_version' (1.3) is above 'tls.max_version' (1.2); raise max_version or lower "
     "min_version"},
    {"tls_ciphers_empty", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[tls]\nciphers = \"\"\n",
     "ringmail.toml:5: 'tls.ciphers' must not be empty; leave the key out for the built-in list (ECDHE with "
     "AES-GCM or ChaCha20-Poly1305)"},
    {"implicit_tls_none", "spool = \"/s\"\n[relay]\nhost = \"h\"\ntls = \"none\"\nimplicit_tls = true\n",
     "ringmail.toml:5: 'relay.implicit_tls' = true needs TLS, but relay.tls = \"none\"; set tls = "
     "\"encrypt\" (or verify/secure), or implicit_tls = false"},
    {"schedule_empty", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[retry]\nschedule = []\n",
     "ringmail.toml:5: 'retry.schedule' must hold 1 to 64 durations, got 0"},
    {"schedule_not_array", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[retry]\nschedule = \"5m\"\n",
     "ringmail.toml:5: 'retry.schedule' must be an array of durations such as [\"1m\", \"5m\", "
     "\"1h\"], got a string"},
    {"schedule_bad_entry_line",
     "spool = \"/s\"\n[relay]\nhost = \"h\"\n[retry]\nschedule = [\n  \"1m\",\n  \"5x\",\n]\n",
     "ringmail.toml:7: 'retry.schedule[1]' must be a duration string such as \"30s\", \"5m\", "
     "\"1h\" or \"2d\" (a whole number and one unit s, m, h or d), got \"5x\""},
    {"schedule_zero_entry", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[retry]\nschedule = [\"0s\"]\n",
     "ringmail.toml:5: 'retry.schedule[0]' must be more than 0s and at most 365d, got \"0s\""},
    {"schedule_integer_entry", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[retry]\nschedule = [60]\n",
     "ringmail.toml:5: 'retry.schedule[0]' must be a duration string such as \"30s\", \"5m\", "
     "\"1h\" or \"2d\" (a whole number and one unit s, m, h or d), got an integer"},
    {"max_age_bad", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[retry]\nmax_age = \"1.5h\"\n",
     "ringmail.toml:5: 'retry.max_age' must be a duration string such as \"30s\", \"5m\", "
     "\"1h\" or \"2d\" (a whole number and one unit s, m, h or d), got \"1.5h\""},
    {"max_age_too_long", "spool = \"/s\"\n[relay]\nhost = \"h\"\n[retry]\nmax_age = \"366d\"\n",
     "ringmail.toml:5: 'retry.max_age' must be more than 0s and at most 365d, got \"366d\""},
    {"earliest_line_wins", "spool = \"/s\"\n[relay]\nhost = \"h\"\nport = 0\n[engine]\nthreads = -1\n",
     "ringmail.toml:4: 'relay.port' must be between 1 and 65535, got 0"},
    {"misspelt_relay_table", "spool = \"/s\"\n[realy]\nhost = \"h\"\n",
     "ringmail.toml:2: unknown table 'realy' (did you mean 'relay'?)"},
    {"misspelt_table_before_other_errors", "[realy]\nhost = \"h\"\n",
     "ringmail.toml:1: unknown table 'realy' (did you mean 'relay'?)"},
    {"host_with_port", "spool = \"/s\"\n[relay]\nhost = \"127.0.0.1:25\"\n",
     "ringmail.toml:3: 'relay.host' must not include a port, got \"127.0.0.1:25\"; put the port in "
     "'relay.port': host = \"127.0.0.1\" and port = 25"},
    {"name_with_port", "spool = \"/s\"\n[relay]\nhost = \"mx.example.org:587\"\n",
     "ringmail.toml:3: 'relay.host' must not include a port, got \"mx.example.org:587\"; put the port "
     "in 'relay.port': host = \"mx.example.org\" and port = 587"},
    {"bracketed_v6_with_port", "spool = \"/s\"\n[relay]\nhost = \"[::1]:25\"\n",
     "ringmail.toml:3: 'relay.host' must not include a port, got \"[::1]:25\"; put the port in "
     "'relay.port': host = \"[::1]\" and port = 25"},
    {"host_with_service_name", "spool = \"/s\"\n[relay]\nhost = \"mx:smtp\"\n",
     "ringmail.toml:3: 'relay.host' must not include a port, got \"mx:smtp\"; put the port in "
     "'relay.port': host = \"mx\""},
    {"relative_spool", "spool = \"spool/x\"\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:1: 'spool' must be an absolute path, got 'spool/x'; ringmail runs as a daemon with / "
     "as its working directory, so write the full path, e.g. spool = \"/var/spool/ringmail\""},
    {"dot_relative_spool", "spool = \"./spool\"\n[relay]\nhost = \"h\"\n",
     "ringmail.toml:1: 'spool' must be an absolute path, got './spool'; ringmail runs as a daemon with / "
     "as its working directory, so write the full path, e.g. spool = \"/var/spool/ringmail\""},
    {"username_without_password_file", "spool = \"/s\"\n[relay]\nhost = \"h\"\nusername = \"u\"\n",
     "ringmail.toml:4: 'relay.username' is set but 'relay.password_file' is not; AUTH needs both: add "
     "password_file = \"/etc/ringmail/relay.password\" (a file only ringmail can read) or remove username"},
    {"password_file_without_username",
     "spool = \"/s\"\n[relay]\nhost = \"h\"\npassword_file = \"/etc/ringmail/relay.password\"\n",
     "ringmail.toml:4: 'relay.password_file' is set but 'relay.username' is not; AUTH needs both: add "
     "username = \"...\" or remove password_file"},
    {"password_file_relative",
     "spool = \"/s\"\n[relay]\nhost = \"h\"\nusername = \"u\"\npassword_file = \"relay.password\"\n",
     "ringmail.toml:5: 'relay.password_file' must be an absolute path, got 'relay.password'; write the full "
     "path to the file that holds the relay password, e.g. password_file = \"/etc/ringmail/relay.password\""},
    {"username_empty", "spool = \"/s\"\n[relay]\nhost = \"h\"\nusername = \"\"\n",
     "ringmail.toml:4: 'relay.username' must not be empty; leave it out for a relay without AUTH"},
    {"allow_plaintext_auth_not_bool",
     "spool = \"/s\"\n[relay]\nhost = \"h\"\nallow_plaintext_auth = \"yes\"\n",
     "ringmail.toml:4: 'relay.allow_plaintext_auth' must be a boolean (true or false), got a string"},
    {"earliest_line_wins_across_alphabet", "spool = \"/s\"\n[relay]\nhost = \"h\"\nzzz = 1\naaa = 1\n",
     "ringmail.toml:4: unknown key 'relay.zzz'"},
};

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(ConfigErrorTest, ExactMessage) { EXPECT_EQ(LoadError(GetParam().toml), GetParam().error); }

INSTANTIATE_TEST_SUITE_P(Config, ConfigErrorTest, ::testing::ValuesIn(kErrorCases),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

TEST_F(ConfigTest, TlsKeys) {
  const std::string ca = dir_ + "/ca.pem";  // its contents are read at start-up, not at load
  std::ofstream(ca) << "x\n";
  std::string path = Write(
      "spool = \"/s\"\n[relay]\nhost = \"relay.example.org\"\nport = 465\n"
      "tls = \"secure\"\nimplicit_tls = true\n[tls]\nca_file = \"" +
      ca +
      "\"\nca_dir = \"\"\nmin_version = \"1.3\"\nciphers = \"ECDHE-RSA-AES128-GCM-SHA256\"\n"
      "client_cert = \"" +
      ca + "\"\nclient_key = \"" + ca + "\"\nsession_resumption = false\n");
  Config config;
  std::string error;
  ASSERT_TRUE(load_config(path, config, error)) << error;
  EXPECT_EQ(config.relay.tls, TlsLevel::kSecure);
  EXPECT_TRUE(config.relay.implicit_tls);
  EXPECT_EQ(config.tls.ca_file, ca);
  EXPECT_EQ(config.tls.ca_dir, "");
  EXPECT_EQ(config.tls.min_version, 0x0304);
  EXPECT_EQ(config.tls.ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
  EXPECT_EQ(config.tls.client_cert, ca);
  EXPECT_EQ(config.tls.client_key, ca);
  EXPECT_FALSE(config.tls.session_resumption);
  for (const char* level : {"none", "may", "encrypt", "verify", "secure"}) {
    path = Write(std::string("spool = \"/s\"\n[relay]\nhost = \"h\"\ntls = \"") + level + "\"\n");
    ASSERT_TRUE(load_config(path, config, error)) << level << ": " << error;
    EXPECT_STREQ(tls_level_name(config.relay.tls), level);
  }
}

// The [log] keys (docs/delivery-log.md) and their errors.
TEST_F(ConfigTest, LogKeys) {
  Config config;
  std::string error;
  ASSERT_TRUE(load_config(Write(kMinimal), config, error)) << error;
  EXPECT_EQ(config.log.delivery, "");
  EXPECT_FALSE(config.log.syslog);
  EXPECT_EQ(config.log.syslog_socket, "/dev/log");
  EXPECT_EQ(config.log.syslog_facility, "mail");
  EXPECT_EQ(config.log.ring_capacity, 1024u);
  ASSERT_TRUE(load_config(
      Write(std::string(kMinimal) + "[log]\ndelivery = \"/var/log/ringmail/delivery.jsonl\"\nsyslog = true\n"
                                    "syslog_socket = \"/run/test.sock\"\nsyslog_facility = \"local3\"\n"
                                    "ring_capacity = 2\n"),
      config, error))
      << error;
  EXPECT_EQ(config.log.delivery, "/var/log/ringmail/delivery.jsonl");
  EXPECT_TRUE(config.log.syslog);
  EXPECT_EQ(config.log.syslog_socket, "/run/test.sock");
  EXPECT_EQ(config.log.syslog_facility, "local3");
  EXPECT_EQ(config.log.ring_capacity, 2u);
  ASSERT_TRUE(load_config(Write(std::string(kMinimal) + "[log]\ndelivery = \"-\"\n"), config, error))
      << error;
  EXPECT_EQ(config.log.delivery, "-");
  EXPECT_EQ(
      LoadError(std::string(kMinimal) + "[log]\ndelivery = \"delivery.jsonl\"\n"),
      "ringmail.toml:5: 'log.delivery' must be an absolute path, \"-\" for stdout or \"\" for none, got "
      "'delivery.jsonl'; e.g. delivery = \"/var/log/ringmail/delivery.jsonl\"");
  EXPECT_EQ(
      LoadError(std::string(kMinimal) + "[log]\nsyslog_facility = \"mial\"\n"),
      "ringmail.toml:5: unknown syslog facility log.syslog_facility = \"mial\"; use mail (the default), "
      "daemon, user or local0..local7");
  EXPECT_EQ(LoadError(std::string(kMinimal) + "[log]\nring_capacity = 1000\n"),
            "ringmail.toml:5: 'log.ring_capacity' must be a power of two (2, 4, ... 65536), got 1000");
}

// The AUTH keys. The password file is not read at load (the engine reads
// it at start-up; `inject` and `queue` load the config as other users).
TEST_F(ConfigTest, AuthKeysAndTheDefaultLevel) {
  const std::string base =
      "spool = \"/s\"\n[relay]\nhost = \"email-smtp.eu-west-1.amazonaws.com\"\nport = 587\n";
  const std::string login = "username = \"AKIAEXAMPLE\"\npassword_file = \"/nonexistent/relay.password\"\n";
  Config config;
  std::string error;
  // Credentials and no relay.tls: verify.
  ASSERT_TRUE(load_config(Write(base + login), config, error)) << error;
  EXPECT_EQ(config.relay.username, "AKIAEXAMPLE");
  EXPECT_EQ(config.relay.password_file, "/nonexistent/relay.password");
  EXPECT_FALSE(config.relay.allow_plaintext_auth);
  EXPECT_EQ(config.relay.tls, TlsLevel::kVerify);
  // An explicit level is kept, whatever it is.
  for (const char* level : {"none", "may", "encrypt", "secure"}) {
    ASSERT_TRUE(load_config(Write(base + login + "tls = \"" + level + "\"\nallow_plaintext_auth = true\n"),
                            config, error))
        << error;
    EXPECT_STREQ(tls_level_name(config.relay.tls), level);
    EXPECT_TRUE(config.relay.allow_plaintext_auth);
  }
  // No credentials: may, as before.
  ASSERT_TRUE(load_config(Write(base), config, error)) << error;
  EXPECT_EQ(config.relay.tls, TlsLevel::kMay);
  EXPECT_EQ(config.relay.username, "");
  EXPECT_EQ(default_relay_tls_level(true), TlsLevel::kVerify);
  EXPECT_EQ(default_relay_tls_level(false), TlsLevel::kMay);
}

TEST_F(ConfigTest, RelayHostForms) {
  // A bare IPv6 address has several colons and is not a host:port.
  for (const char* host : {"::1", "2001:db8::25", "[::1]", "[192.0.2.1]", "localhost", "192.0.2.1"}) {
    std::string path = Write(std::string("spool = \"/s\"\n[relay]\nhost = \"") + host + "\"\n");
    Config config;
    std::string error;
    EXPECT_TRUE(load_config(path, config, error)) << host << ": " << error;
    EXPECT_EQ(config.relay.host, host);
  }
}

TEST_F(ConfigTest, ExampleFileLoads) {
  Config config;
  std::string error;
  EXPECT_TRUE(load_config(RINGMAIL_SOURCE_DIR "/examples/ringmail.toml", config, error)) << error;
}

// DocRow is one row of the "Keys" table in docs/config.md.
struct DocRow {
  std::string name;
  std::string type;
  std::string range;
};

std::vector<DocRow> DocKeyRows() {
  std::ifstream in(RINGMAIL_SOURCE_DIR "/docs/config.md");
  EXPECT_TRUE(in) << "cannot read " RINGMAIL_SOURCE_DIR "/docs/config.md";
  std::vector<DocRow> rows;
  bool in_keys = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) in_keys = line == "## Keys";
    if (!in_keys || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    size_t pos = 1;
    for (size_t bar; (bar = line.find('|', pos)) != std::string::npos; pos = bar + 1) {
      std::string cell = line.substr(pos, bar - pos);
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      cells.push_back(cell);
    }
    EXPECT_GE(cells.size(), 4u) << line;
    if (cells.size() < 4) continue;
    rows.push_back({cells[0].substr(1, cells[0].size() - 2), cells[1], cells[3]});
  }
  return rows;
}

// docs/config.md documents exactly the keys of the loader's table, with the
// same type and (for integers) the same range.
TEST(ConfigDocs, EveryKeyIsDocumentedAndNoOther) {
  const std::vector<DocRow> rows = DocKeyRows();
  const std::vector<ConfigKeyInfo> keys = config_keys();
  ASSERT_FALSE(keys.empty());
  for (const ConfigKeyInfo& key : keys) {
    auto row = std::find_if(rows.begin(), rows.end(), [&](const DocRow& r) { return r.name == key.name; });
    ASSERT_NE(row, rows.end()) << "docs/config.md has no row for '" << key.name << "'";
    EXPECT_EQ(row->type, key.type) << key.name;
    if (key.type == "integer") {
      const std::string range = std::to_string(key.min) + ".." + std::to_string(key.max);
      EXPECT_NE(row->range.find(range), std::string::npos) << key.name << ": range column lacks " << range;
    }
  }
  for (const DocRow& row : rows) {
    EXPECT_TRUE(
        std::any_of(keys.begin(), keys.end(), [&](const ConfigKeyInfo& k) { return k.name == row.name; }))
        << "docs/config.md documents '" << row.name << "', which the loader does not know";
  }
  EXPECT_EQ(rows.size(), keys.size());
}

TEST_F(ConfigTest, SyntaxErrorNamesTheLine) {
  std::string error = LoadError("spool = \"/s\"\n[relay]\nhost = \"h\nport = 25\n");
  EXPECT_EQ(error.rfind("ringmail.toml:3: TOML syntax error: ", 0), 0u) << error;
  error = LoadError("spool = \"/s\"\n[relay]\nhost = \"h\"\nport = 25\nport = 26\n");
  EXPECT_EQ(error.rfind("ringmail.toml:5: TOML syntax error: ", 0), 0u) << error;
}

TEST(ConfigDuration, Table) {
  struct Case {
    const char* text;
    bool ok;
    int64_t seconds;
  };
  const Case cases[] = {
      {"30s", true, 30},
      {"5m", true, 300},
      {"1h", true, 3600},
      {"2d", true, 172800},
      {"0s", true, 0},
      {"9223372036854775807s", true, INT64_MAX},
      {"", false, 0},
      {"5", false, 0},
      {"5x", false, 0},
      {"-5s", false, 0},
      {"+5s", false, 0},
      {"1.5h", false, 0},
      {"s", false, 0},
      {" 5s", false, 0},
      {"5 s", false, 0},
      {"5S", false, 0},
      {"5ms", false, 0},
      {"1h30m", false, 0},
      {"9223372036854775808s", false, 0},   // one past INT64_MAX
      {"99999999999999999999s", false, 0},  // overflows while reading digits
      {"106751991167301d", false, 0},       // overflows when scaled to seconds
  };
  for (const Case& c : cases) {
    seconds out(-7);
    EXPECT_EQ(parse_duration(c.text, out), c.ok) << "'" << c.text << "'";
    if (c.ok) {
      EXPECT_EQ(out.count(), c.seconds) << c.text;
    } else {
      EXPECT_EQ(out.count(), -7) << "out must not change: " << c.text;
    }
  }
}

TEST(ConfigTlsLevel, Names) {
  EXPECT_STREQ(tls_level_name(TlsLevel::kNone), "none");
  EXPECT_STREQ(tls_level_name(TlsLevel::kMay), "may");
  EXPECT_STREQ(tls_level_name(TlsLevel::kEncrypt), "encrypt");
  EXPECT_STREQ(tls_level_name(TlsLevel::kVerify), "verify");
  EXPECT_STREQ(tls_level_name(TlsLevel::kSecure), "secure");
}

}  // namespace
}  // namespace ringmail
