// tests/unit/destination_test.cc — engine/destination: the [relay] and
// [tls] keys mapped into the relay's TlsPolicy, the TLS context built (or
// not) at start-up with its error sentence, and a worker's DestinationState
// ("TLS failed here" for an hour, the ticket cache).
#include "engine/destination.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "engine/delivery_policy.h"

namespace ringmail {
namespace {

Config relay_config(TlsLevel level, bool implicit_tls = false) {
  Config config;
  config.relay.host = "relay.example.org";
  config.relay.port = 587;
  config.relay.tls = level;
  config.relay.implicit_tls = implicit_tls;
  return config;
}

TEST(Destination, PolicyFromConfig) {
  Config config = relay_config(TlsLevel::kSecure);
  config.tls.ca_file = "/etc/ringmail/ca.pem";
  config.tls.ca_dir = "";
  config.tls.min_version = kTls13;
  config.tls.client_cert = "/c.pem";
  config.tls.client_key = "/k.pem";
  config.tls.session_resumption = false;
  const TlsPolicy policy = relay_tls_policy(config);
  EXPECT_EQ(policy.level, TlsLevel::kSecure);
  EXPECT_FALSE(policy.implicit_tls);
  EXPECT_EQ(policy.ca_file, "/etc/ringmail/ca.pem");
  EXPECT_EQ(policy.ca_dir, "");
  EXPECT_EQ(policy.min_version, kTls13);
  EXPECT_EQ(policy.max_version, kTls13);
  EXPECT_EQ(policy.ciphers, kTlsDefaultCiphers);  // "" in the config: the built-in list
  EXPECT_EQ(policy.client_cert, "/c.pem");
  EXPECT_EQ(policy.client_key, "/k.pem");
  EXPECT_FALSE(policy.session_resumption);
  EXPECT_EQ(policy.next_hop_domain, "relay.example.org");
  const TlsPeerNames names = tls_peer_names(policy, "relay.example.org");
  EXPECT_EQ(names.sni, "relay.example.org");
  EXPECT_EQ(names.verify_name, "relay.example.org");
}

TEST(Destination, ImplicitTlsAtMayIsEncrypt) {
  const TlsPolicy policy = relay_tls_policy(relay_config(TlsLevel::kMay, true));
  EXPECT_EQ(policy.level, TlsLevel::kEncrypt);
  EXPECT_TRUE(policy.implicit_tls);
}

TEST(Destination, LevelNoneBuildsNoContext) {
  const Config config = relay_config(TlsLevel::kNone);
  RelayResolver resolver(config.relay);
  Destination destination;
  std::string error;
  ASSERT_TRUE(build_relay_destination(config, resolver, destination, error)) << error;
  EXPECT_FALSE(destination.uses_tls());
  EXPECT_EQ(destination.name, "relay.example.org");
  DestinationState state(destination);
  EXPECT_EQ(state.tickets(), nullptr);
}

TEST(Destination, UnreadableTrustStoreIsASentence) {
  Config config = relay_config(TlsLevel::kVerify);
  config.tls.ca_file = "/nonexistent/ca.pem";
  config.tls.ca_dir = "";
  RelayResolver resolver(config.relay);
  Destination destination;
  std::string error;
  EXPECT_FALSE(build_relay_destination(config, resolver, destination, error));
  EXPECT_NE(error.find("relay.tls = \"verify\" needs a TLS context"), std::string::npos) << error;
  EXPECT_NE(error.find("/nonexistent/ca.pem"), std::string::npos) << error;
}

TEST(Destination, MayWithoutASystemStoreStillStarts) {
  // The default ca_dir may be missing on a machine without ca-certificates;
  // may and encrypt do not need it.
  Config config = relay_config(TlsLevel::kMay);
  const TlsPolicy policy = relay_tls_policy(config);
  if (::access(std::string(kTlsSystemCaDir).c_str(), R_OK | X_OK) == 0) {
    EXPECT_EQ(policy.ca_dir, kTlsSystemCaDir);
  } else {
    EXPECT_EQ(policy.ca_dir, "");
  }
  RelayResolver resolver(config.relay);
  Destination destination;
  std::string error;
  ASSERT_TRUE(build_relay_destination(config, resolver, destination, error)) << error;
  EXPECT_TRUE(destination.uses_tls());
  DestinationState state(destination);
  ASSERT_NE(state.tickets(), nullptr);
  EXPECT_EQ(state.tickets()->capacity(), policy.session_cache_size);
}

TEST(Destination, TlsBrokenIsRememberedForAnHour) {
  const Config config = relay_config(TlsLevel::kNone);
  RelayResolver resolver(config.relay);
  Destination destination;
  std::string error;
  ASSERT_TRUE(build_relay_destination(config, resolver, destination, error)) << error;
  DestinationState state(destination);
  const uint64_t t0 = 1'000'000'000'000ull;
  EXPECT_TRUE(state.starttls_allowed(t0));
  state.note_tls_broken(t0);
  EXPECT_FALSE(state.starttls_allowed(t0));
  EXPECT_FALSE(state.starttls_allowed(t0 + (kTlsBrokenRememberS - 1) * 1'000'000'000ull));
  EXPECT_TRUE(state.starttls_allowed(t0 + kTlsBrokenRememberS * 1'000'000'000ull));
  state.note_good_address(3);
  EXPECT_EQ(state.preferred_address(), 3u);
}

}  // namespace
}  // namespace ringmail
