// tests/unit/listen_config_test.cc — the [[listen]] tables of the config
// file (config/config.cc, config/listen_config.h) and the address and CIDR
// parsers they are checked with (config/socket_address.h).
//
// Writes small TOML files (and empty stand-in certificate files) into a
// private mkdtemp() folder under /tmp, which it removes; checks the loaded
// ListenConfig and every error sentence, with its line.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config/socket_address.h"

namespace ringmail {
namespace {

class ListenConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/ringmail-listen-test-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    std::ofstream(dir_ + "/cert.pem") << "x";
    std::ofstream(dir_ + "/key.pem") << "x";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Text is a valid head (spool, relay as a dotted key, a comment: 3 lines,
  // no table open) followed by |listen|, with DIR replaced by the test's folder.
  std::string Text(std::string listen) const {
    for (size_t at; (at = listen.find("DIR")) != std::string::npos;) listen.replace(at, 3, dir_);
    return "spool = \"/var/spool/ringmail\"\nrelay.host = \"127.0.0.1\"\n# listeners\n" + listen;
  }

  std::string Write(const std::string& listen) const {
    const std::string path = dir_ + "/ringmail.toml";
    std::ofstream(path, std::ios::trunc) << Text(listen);
    return path;
  }

  Config Load(const std::string& listen) {
    Config config;
    std::string error;
    EXPECT_TRUE(load_config(Write(listen), config, error)) << error;
    return config;
  }

  // LoadError returns the sentence with the folder removed ("ringmail.toml:5: ...").
  std::string LoadError(const std::string& listen) {
    Config config;
    std::string error;
    EXPECT_FALSE(load_config(Write(listen), config, error)) << listen;
    EXPECT_TRUE(config.listen.empty());
    if (error.rfind(dir_ + "/", 0) == 0) error.erase(0, dir_.size() + 1);
    for (size_t at; (at = error.find(dir_)) != std::string::npos;) error.replace(at, dir_.size(), "DIR");
    return error;
  }

  std::string dir_;
};

TEST_F(ListenConfigTest, NoListenTablesMeansNoListeners) { EXPECT_TRUE(Load("").listen.empty()); }

TEST_F(ListenConfigTest, DefaultsOfAMinimalTable) {
  const Config config = Load("[smtp]\nhelo_name = \"mx.example.org\"\n[[listen]]\naddress = \"127.0.0.1:2525\"\n");
  ASSERT_EQ(config.listen.size(), 1u);
  const ListenConfig& l = config.listen[0];
  ListenConfig expected;
  expected.address = "127.0.0.1:2525";
  expected.hostname = "mx.example.org";  // from smtp.helo_name
  EXPECT_EQ(l, expected);
  EXPECT_EQ(l.tls, ListenTls::kNone);
  EXPECT_EQ(l.max_message_size, 10u << 20);
  EXPECT_EQ(l.trusted_networks, (std::vector<std::string>{"127.0.0.0/8", "::1/128"}));
}

TEST_F(ListenConfigTest, EveryKeyOfSeveralTables) {
  const Config config = Load(
      "[[listen]]\n"
      "address = \"127.0.0.1:2525\"\n"
      "tls = \"required\"\n"
      "cert_file = \"DIR/cert.pem\"\n"
      "key_file = \"DIR/key.pem\"\n"
      "auth = \"required\"\n"
      "users_file = \"/etc/ringmail/users\"\n"
      "trusted_networks = [\"10.0.0.0/8\", \"fd00::/8\", \"192.0.2.7\"]\n"
      "max_message_size = \"512K\"\n"
      "max_connections = 50\n"
      "max_recipients = 20\n"
      "allow_plaintext_auth = true\n"
      "hostname = \"in.example.org\"\n"
      "max_connections_per_ip = 7\n"
      "max_messages_per_minute_per_ip = 600\n"
      "max_auth_failures_per_minute_per_ip = 3\n"
      "max_errors = 9\n"
      "command_timeout_ms = 1000\n"
      "data_timeout_ms = 2000\n"
      "session_timeout_ms = 3000\n"
      "[[listen]]\n"
      "address = \"[::1]:465\"\n"
      "tls = \"implicit\"\n"
      "cert_file = \"DIR/cert.pem\"\n"
      "key_file = \"DIR/key.pem\"\n"
      "max_message_size = 1048576\n"
      "[[listen]]\n"
      "address = \"0.0.0.0:587\"\n"
      "cert_file = \"DIR/cert.pem\"\n"
      "key_file = \"DIR/key.pem\"\n"
      "auth = \"optional\"\n"
      "users_file = \"/etc/ringmail/users\"\n"
      "trusted_networks = []\n"
      "max_message_size = \"1G\"\n");
  ASSERT_EQ(config.listen.size(), 3u);
  const ListenConfig& a = config.listen[0];
  EXPECT_EQ(a.address, "127.0.0.1:2525");
  EXPECT_EQ(a.tls, ListenTls::kRequired);
  EXPECT_EQ(a.cert_file, dir_ + "/cert.pem");
  EXPECT_EQ(a.key_file, dir_ + "/key.pem");
  EXPECT_EQ(a.auth, ListenAuth::kRequired);
  EXPECT_EQ(a.users_file, "/etc/ringmail/users");
  EXPECT_EQ(a.trusted_networks, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8", "192.0.2.7"}));
  EXPECT_EQ(a.max_message_size, 512u * 1024);
  EXPECT_EQ(a.max_connections, 50u);
  EXPECT_EQ(a.max_recipients, 20u);
  EXPECT_TRUE(a.allow_plaintext_auth);
  EXPECT_EQ(a.hostname, "in.example.org");
  EXPECT_EQ(a.max_connections_per_ip, 7u);
  EXPECT_EQ(a.max_messages_per_minute_per_ip, 600u);
  EXPECT_EQ(a.max_auth_failures_per_minute_per_ip, 3u);
  EXPECT_EQ(a.max_errors, 9u);
  EXPECT_EQ(a.command_timeout_ms, 1000u);
  EXPECT_EQ(a.data_timeout_ms, 2000u);
  EXPECT_EQ(a.session_timeout_ms, 3000u);
  EXPECT_EQ(config.listen[1].tls, ListenTls::kImplicit);
  EXPECT_EQ(config.listen[1].max_message_size, 1u << 20);
  EXPECT_EQ(config.listen[2].tls, ListenTls::kStartTls);  // default with a certificate
  EXPECT_EQ(config.listen[2].auth, ListenAuth::kOptional);
  EXPECT_TRUE(config.listen[2].trusted_networks.empty());
  EXPECT_EQ(config.listen[2].max_message_size, 1u << 30);
}

TEST_F(ListenConfigTest, SizesInEveryUnit) {
  const struct {
    const char* text;
    uint64_t bytes;
  } cases[] = {{"\"10M\"", 10u << 20}, {"\"10m\"", 10u << 20}, {"\"512K\"", 512u << 10},
               {"\"1g\"", 1u << 30},   {"\"2048\"", 2048},     {"4096", 4096}};
  for (const auto& c : cases) {
    const Config config =
        Load(std::string("[[listen]]\naddress = \"127.0.0.1:25\"\nmax_message_size = ") + c.text + "\n");
    ASSERT_EQ(config.listen.size(), 1u) << c.text;
    EXPECT_EQ(config.listen[0].max_message_size, c.bytes) << c.text;
  }
}

// Each refused file and its exact sentence (line 4 is the first line after
// the 3-line head, i.e. the [[listen]] line).
TEST_F(ListenConfigTest, ErrorSentences) {
  const struct {
    const char* listen;
    const char* error;
  } cases[] = {
      {"[listen]\naddress = \"127.0.0.1:25\"\n",
       "ringmail.toml:4: 'listen' must be an array of tables, each written [[listen]] followed by its keys "
       "(address = ..., tls = ...), got a table"},
      {"listen = [\"127.0.0.1:25\"]\n",
       "ringmail.toml:4: 'listen' must be an array of tables, each written [[listen]] followed by its keys "
       "(address = ..., tls = ...), got an array that is not all tables"},
      {"[[listen]]\ntls = \"none\"\n",
       "ringmail.toml:4: this [[listen]] table lacks required key 'listen.address' (the address to listen "
       "on, e.g. address = \"127.0.0.1:2525\" or \"[::1]:2525\")"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nadress = \"x\"\n",
       "ringmail.toml:6: unknown key 'listen.adress' (did you mean 'listen.address'?)"},
      {"[[listen]]\naddress = \"127.0.0.1\"\n",
       "ringmail.toml:5: 'listen.address' = \"127.0.0.1\" cannot be listened on: it must be ADDRESS:PORT, "
       "e.g. \"127.0.0.1:2525\" or \"[::1]:2525\""},
      {"[[listen]]\naddress = \"::1:25\"\n",
       "ringmail.toml:5: 'listen.address' = \"::1:25\" cannot be listened on: an IPv6 address goes in "
       "brackets, e.g. \"[::1]:2525\""},
      {"[[listen]]\naddress = \"[::1]25\"\n",
       "ringmail.toml:5: 'listen.address' = \"[::1]25\" cannot be listened on: an IPv6 address goes in "
       "brackets followed by :PORT, e.g. \"[::1]:2525\""},
      {"[[listen]]\naddress = \"127.0.0.1:0\"\n",
       "ringmail.toml:5: 'listen.address' = \"127.0.0.1:0\" cannot be listened on: the port must be a number "
       "from 1 to 65535"},
      {"[[listen]]\naddress = \"mx.example.org:25\"\n",
       "ringmail.toml:5: 'listen.address' = \"mx.example.org:25\" cannot be listened on: 'mx.example.org' is "
       "not an IPv4 address (host names are not resolved here)"},
      {"[[listen]]\naddress = \"[1.2.3.4]:25\"\n",
       "ringmail.toml:5: 'listen.address' = \"[1.2.3.4]:25\" cannot be listened on: '1.2.3.4' is not an IPv6 "
       "address"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntls = \"yes\"\n",
       "ringmail.toml:6: unknown listen.tls = \"yes\"; use \"none\", \"starttls\" (offered), \"required\" "
       "(STARTTLS before MAIL) or \"implicit\" (TLS from the first byte, SMTPS)"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nauth = \"plain\"\n",
       "ringmail.toml:6: unknown listen.auth = \"plain\"; use \"none\", \"optional\" or \"required\""},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntls = \"starttls\"\n",
       "ringmail.toml:6: listen.tls = \"starttls\" needs a certificate: add cert_file = \"/path/to/cert.pem\" "
       "and key_file = \"/path/to/key.pem\" to this [[listen]] table"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntls = \"implicit\"\n",
       "ringmail.toml:6: listen.tls = \"implicit\" needs a certificate: add cert_file = \"/path/to/cert.pem\" "
       "and key_file = \"/path/to/key.pem\" to this [[listen]] table"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ncert_file = \"DIR/cert.pem\"\n",
       "ringmail.toml:6: 'listen.cert_file' is set but 'listen.key_file' is not; a TLS listener needs both: "
       "add key_file = \"/path/to/key.pem\" or remove cert_file"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nkey_file = \"DIR/key.pem\"\n",
       "ringmail.toml:6: 'listen.key_file' is set but 'listen.cert_file' is not; a TLS listener needs both: "
       "add cert_file = \"/path/to/cert.pem\" or remove key_file"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ncert_file = \"DIR/missing.pem\"\n",
       "ringmail.toml:6: 'listen.cert_file' names DIR/missing.pem, which cannot be used: No such file or "
       "directory; put the certificate chain (PEM) there or correct the path"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nkey_file = \"key.pem\"\n",
       "ringmail.toml:6: 'listen.key_file' must be an absolute path, got 'key.pem'; write the full path to "
       "the private key (PEM)"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntls = \"starttls\"\ncert_file = \"DIR/cert.pem\"\n"
       "key_file = \"DIR/key.pem\"\nauth = \"required\"\n",
       "ringmail.toml:9: listen.auth = \"required\" needs 'listen.users_file', the file of user:hash lines "
       "AUTH checks (make one with `ringmail hash-password`), e.g. users_file = \"/etc/ringmail/users\""},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nauth = \"optional\"\nusers_file = \"/etc/ringmail/users\"\n",
       "ringmail.toml:6: listen.auth = \"optional\" on a listener without TLS would take passwords in clear "
       "text, so AUTH would never be offered; set tls = \"starttls\" (or \"required\"/\"implicit\") with "
       "cert_file and key_file, or allow_plaintext_auth = true if the network to this listener is trusted"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nusers_file = \"users\"\n",
       "ringmail.toml:6: 'listen.users_file' must be an absolute path, got 'users'; write the full path to "
       "the file of user:hash lines, e.g. users_file = \"/etc/ringmail/users\""},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntrusted_networks = [\"10.0.0.0/8\", \"10.0.0.1/8\"]\n",
       "ringmail.toml:6: 'listen.trusted_networks[1]' = \"10.0.0.1/8\": '10.0.0.1/8' has bits set past its "
       "/8 prefix; write the network's first address (e.g. \"10.0.0.0/8\") or a longer prefix"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntrusted_networks = [\"10.0.0.0/33\"]\n",
       "ringmail.toml:6: 'listen.trusted_networks[0]' = \"10.0.0.0/33\": the prefix length after '/' must be "
       "a number from 0 to 32"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntrusted_networks = [\"localnet\"]\n",
       "ringmail.toml:6: 'listen.trusted_networks[0]' = \"localnet\": 'localnet' is not an IPv4 or IPv6 "
       "address (write a network as \"10.0.0.0/8\" or \"fd00::/8\")"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntrusted_networks = \"10.0.0.0/8\"\n",
       "ringmail.toml:6: 'listen.trusted_networks' must be an array of strings, got a string"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntrusted_networks = [10]\n",
       "ringmail.toml:6: 'listen.trusted_networks[0]' must be a string, got an integer"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\ntrusted_networks = []\n",
       "ringmail.toml:6: 'listen.trusted_networks' is empty and listen.auth = \"none\": no client could send "
       "mail through this listener; name the networks that may send, or set auth = \"required\""},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nmax_message_size = \"10 MB\"\n",
       "ringmail.toml:6: 'listen.max_message_size' must be a size such as \"10M\", \"512K\", \"1G\" or a "
       "number of bytes, got \"10 MB\""},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nmax_message_size = 1.5\n",
       "ringmail.toml:6: 'listen.max_message_size' must be a size such as \"10M\", \"512K\", \"1G\" or a "
       "number of bytes, got a float"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nmax_message_size = \"2G\"\n",
       "ringmail.toml:6: 'listen.max_message_size' must be between 1K and 1G, got \"2G\""},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nmax_message_size = 100\n",
       "ringmail.toml:6: 'listen.max_message_size' must be between 1K and 1G, got 100"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nmax_connections = 0\n",
       "ringmail.toml:6: 'listen.max_connections' must be between 1 and 1000000, got 0"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nhostname = \"a b\"\n",
       "ringmail.toml:6: 'listen.hostname' must not contain spaces"},
      {"[[listen]]\naddress = \"127.0.0.1:25\"\nallow_plaintext_auth = \"yes\"\n",
       "ringmail.toml:6: 'listen.allow_plaintext_auth' must be a boolean (true or false), got a string"},
      {"[[listen]]\naddress = \"127.0.0.1:2525\"\n[[listen]]\naddress = \"localhost:2525\"\n",
       "ringmail.toml:7: 'listen.address' = \"localhost:2525\" is already the address of the [[listen]] "
       "table at line 4; each listener needs an address of its own"},
      {"[[listen]]\naddress = \"[::1]:2525\"\n[[listen]]\naddress = \"[0:0::1]:2525\"\n",
       "ringmail.toml:7: 'listen.address' = \"[0:0::1]:2525\" is already the address of the [[listen]] "
       "table at line 4; each listener needs an address of its own"},
  };
  for (const auto& c : cases) EXPECT_EQ(LoadError(c.listen), c.error) << c.listen;
}

// The earliest problem is reported, whichever table it is in.
TEST_F(ListenConfigTest, EarliestProblemWins) {
  EXPECT_EQ(LoadError("[[listen]]\naddress = \"127.0.0.1:25\"\nmax_errors = 0\n[[listen]]\nport = 1\n"),
            "ringmail.toml:6: 'listen.max_errors' must be between 1 and 10000, got 0");
}

TEST(SocketAddress, ParsesListenAddresses) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string problem;
  ASSERT_TRUE(parse_socket_address("127.0.0.1:2525", addr, len, problem)) << problem;
  EXPECT_EQ(addr.ss_family, AF_INET);
  EXPECT_EQ(len, sizeof(sockaddr_in));
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port), 2525);
  ASSERT_TRUE(parse_socket_address("[::]:587", addr, len, problem)) << problem;
  EXPECT_EQ(addr.ss_family, AF_INET6);
  EXPECT_EQ(len, sizeof(sockaddr_in6));
  EXPECT_EQ(ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port), 587);
  for (const char* bad : {"", ":25", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:2a", "[::1]", "[::1]:",
                          "1.2.3:25", "127.0.0.1:-1", "[::1:25"}) {
    EXPECT_FALSE(parse_socket_address(bad, addr, len, problem)) << bad;
  }
}

TEST(Cidr, ClearsNothingAndKeepsThePrefix) {
  Cidr cidr;
  std::string problem;
  ASSERT_TRUE(parse_cidr("192.168.0.0/16", cidr, problem)) << problem;
  EXPECT_EQ(cidr.family, AF_INET);
  EXPECT_EQ(cidr.prefix_bits, 16);
  EXPECT_EQ(cidr.bytes[0], 192);
  ASSERT_TRUE(parse_cidr("2001:db8::/32", cidr, problem)) << problem;
  EXPECT_EQ(cidr.family, AF_INET6);
  EXPECT_EQ(cidr.prefix_bits, 32);
  ASSERT_TRUE(parse_cidr("::1", cidr, problem)) << problem;
  EXPECT_EQ(cidr.prefix_bits, 128);
  ASSERT_TRUE(parse_cidr("0.0.0.0/0", cidr, problem)) << problem;
  EXPECT_EQ(cidr.prefix_bits, 0);
  ASSERT_TRUE(parse_cidr("10.128.0.0/9", cidr, problem)) << problem;
  EXPECT_FALSE(parse_cidr("10.192.0.0/9", cidr, problem));
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/8/8", "::1/129", "10.0.0.0/-1"}) {
    EXPECT_FALSE(parse_cidr(bad, cidr, problem)) << bad;
  }
}

}  // namespace
}  // namespace ringmail
