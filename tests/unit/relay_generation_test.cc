// tests/unit/relay_generation_test.cc — engine/relay_generation: which keys
// a SIGHUP reload applies and which need a restart, how max_connections is
// split over the workers' fixed pools, and a generation built from a config
// (and refused with the reason when its password file is readable by others),
// and the board read by a worker while the engine publishes.
#include "engine/relay_generation.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

namespace ringmail {
namespace {

Config base() {
  Config config;
  config.spool = "/var/spool/ringmail";
  config.relay.host = "127.0.0.1";
  config.relay.port = 2525;
  config.relay.tls = TlsLevel::kNone;
  return config;
}

TEST(RestartKeysChanged, RelayTlsAndSmtpTimeoutsApplyWithoutRestart) {
  const Config running = base();
  Config loaded = running;
  loaded.relay.port = 2526;
  loaded.relay.max_connections = 4;
  loaded.relay.max_messages_per_connection = 10;
  loaded.relay.tls = TlsLevel::kVerify;
  loaded.relay.username = "alerts";
  loaded.tls.ca_file = "/etc/ssl/other.pem";
  loaded.smtp.connect_timeout_ms = 1000;
  loaded.smtp.reply_timeout_ms = 1000;
  loaded.smtp.data_timeout_ms = 1000;
  loaded.smtp.chunking = false;
  EXPECT_TRUE(restart_keys_changed(running, loaded).empty());
}

TEST(RestartKeysChanged, NamesEachPartThatNeedsARestart) {
  const Config running = base();
  Config loaded = running;
  loaded.spool = "/srv/spool";
  loaded.engine.threads = 3;
  loaded.smtp.helo_name = "other";
  loaded.smtp.default_sender = "a@b";
  loaded.retry.max_age = std::chrono::seconds(60);
  loaded.bounce.enabled = false;
  loaded.log.delivery = "-";
  loaded.metrics.listen = "127.0.0.1:9464";
  loaded.listen.emplace_back().address = "127.0.0.1:2525";
  EXPECT_EQ(restart_keys_changed(running, loaded),
            (std::vector<std::string>{"spool", "[engine]", "smtp.helo_name", "smtp.default_sender", "[retry]",
                                      "[bounce]", "[log]", "[metrics]", "[[listen]]"}));
  Config schedule_only = running;
  schedule_only.retry.schedule = {std::chrono::seconds(1)};
  EXPECT_EQ(restart_keys_changed(running, schedule_only), std::vector<std::string>{"[retry]"});
}

TEST(ConnectionShares, SplitsOverWorkersWithinTheirPools) {
  EXPECT_EQ(connection_shares(8, {4, 4}), (std::vector<uint32_t>{4, 4}));
  EXPECT_EQ(connection_shares(3, {4, 4}), (std::vector<uint32_t>{2, 1}));
  // Above the pools: capped (a restart grows them).
  EXPECT_EQ(connection_shares(20, {4, 4}), (std::vector<uint32_t>{4, 4}));
  // Below one per worker: each keeps one, or its messages would wait for ever.
  EXPECT_EQ(connection_shares(1, {2, 2, 2}), (std::vector<uint32_t>{1, 1, 1}));
}

TEST(BuildRelayGeneration, BuildsAndRefusesAReadablePasswordFile) {
  Config config = base();
  config.relay.max_connections = 3;
  std::shared_ptr<const RelayGeneration> generation;
  std::string error;
  ASSERT_TRUE(build_relay_generation(config, 2, {2, 2}, generation, error)) << error;
  EXPECT_EQ(generation->number, 2u);
  EXPECT_EQ(generation->worker_connections, (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(generation->destination.resolver, &generation->resolver);
  EXPECT_TRUE(generation->resolver.ready());
  EXPECT_EQ(generation->resolver.target().port, 2525);

  char path[] = "/tmp/ringmail-reload-pw-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "secret\n", 7), 7);
  close(fd);
  chmod(path, 0644);
  config.relay.username = "alerts";
  config.relay.password_file = path;
  config.relay.allow_plaintext_auth = true;
  std::shared_ptr<const RelayGeneration> refused;
  EXPECT_FALSE(build_relay_generation(config, 3, {2, 2}, refused, error));
  EXPECT_EQ(refused, nullptr);
  EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
  unlink(path);
}

// A worker that sees the number move and then takes current() gets that
// generation or a newer one, never an older one (TSan stage: *Concurrent*).
TEST(ReloadBoard, ConcurrentPublishAndTake) {
  Config config = base();
  std::shared_ptr<const RelayGeneration> first;
  std::string error;
  ASSERT_TRUE(build_relay_generation(config, 1, {1}, first, error)) << error;
  ReloadBoard board(first);
  constexpr uint64_t kLast = 50;
  std::thread reader([&] {
    uint64_t seen = 1;
    while (seen < kLast) {
      const uint64_t number = board.number();
      if (number == seen) continue;
      const std::shared_ptr<const RelayGeneration> taken = board.current();
      ASSERT_GE(taken->number, number);
      ASSERT_EQ(taken->config.relay.port, taken->number);
      seen = taken->number;
    }
  });
  for (uint64_t n = 2; n <= kLast; ++n) {
    config.relay.port = static_cast<uint16_t>(n);
    std::shared_ptr<const RelayGeneration> next;
    ASSERT_TRUE(build_relay_generation(config, n, {1}, next, error)) << error;
    board.publish(std::move(next));
  }
  reader.join();
  EXPECT_EQ(board.current()->number, kLast);
}

}  // namespace
}  // namespace ringmail
