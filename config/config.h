// config/config.h — ringmail's configuration, as loaded from one TOML file.
//
// Who uses it: every subcommand (tools/) loads a Config once at start-up and
// hands the parts down by const reference. Nothing here changes after load;
// `ringmail run` loads a new Config on SIGHUP (engine/relay_generation.h).
// Loading never aborts: a bad file yields an error sentence that names the
// key and the line (see load_config). The keys are one table in config.cc
// (kKeys); docs/config.md documents each of them, and a unit test fails
// when the two drift apart.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/listen_config.h"

namespace ringmail {

// TlsLevel is the STARTTLS policy for a destination (Postfix names;
// docs/tls.md says what each one does).
enum class TlsLevel { kNone, kMay, kEncrypt, kVerify, kSecure };

struct EngineConfig {
  // Worker threads; 0 = one per online CPU.
  uint32_t threads = 0;
  // Pin worker i to CPU i (modulo the allowed set).
  bool pin_threads = true;
  // Capacity of each core's inbox ring (messages); back-pressure beyond it.
  uint32_t inbox_capacity = 512;
  // After SIGTERM/SIGINT, in-flight deliveries get this long to finish;
  // then they are abandoned (they stay in active/ and are recovered at the
  // next start). Well under systemd's 90 s stop timeout.
  uint32_t shutdown_timeout_ms = 30'000;
  bool operator==(const EngineConfig&) const = default;
};

struct SmtpConfig {
  std::string helo_name;       // default: the host name
  std::string default_sender;  // envelope sender when a message names none
  uint32_t connect_timeout_ms = 30'000;
  uint32_t reply_timeout_ms = 300'000;  // each reply, greeting included
  uint32_t data_timeout_ms = 600'000;   // body send and the reply after "."
  // Use BDAT (RFC 3030) instead of DATA when the server offers CHUNKING and
  // PIPELINING and the message fits in one read (64 KiB): several whole
  // messages per write on one connection.
  bool chunking = true;
};

struct RelayConfig {
  std::string host;  // name, IPv4, IPv6 or [literal]
  uint16_t port = 25;
  // tls: the level. When the file does not set it: verify with
  // credentials (username), may without (default_relay_tls_level).
  TlsLevel tls = TlsLevel::kMay;
  // implicit_tls: TLS from the first byte ("SMTPS"), on any port.
  bool implicit_tls = false;
  uint32_t max_connections = 16;                // across all cores
  uint32_t max_messages_per_connection = 1000;  // then QUIT and reconnect
  // AUTH (PLAIN or LOGIN) to the relay: the user name, and the file that
  // holds the password (read once at start-up by the engine, never by
  // load_config: config/password_file.h). Both or neither.
  std::string username;
  std::string password_file;
  // allow_plaintext_auth: AUTH may be sent without TLS. Off: with
  // credentials and no TLS, nothing is sent and the messages are deferred.
  bool allow_plaintext_auth = false;
};

// default_relay_tls_level is relay.tls when the file does not set it:
// verify for a relay with credentials (a password must only go to the
// server it is meant for), may otherwise.
constexpr TlsLevel default_relay_tls_level(bool has_credentials) {
  return has_credentials ? TlsLevel::kVerify : TlsLevel::kMay;
}

// TlsConfig is the [tls] table: the trust store and protocol settings every
// TLS destination uses (mapped into a TlsPolicy per destination at start-up,
// engine/destination.cc). Files are checked at load (they exist and can be
// read); their contents are read once, at start-up, off the workers.
struct TlsConfig {
  std::string ca_file;                    // PEM file of trusted certificates; "" = none
  std::string ca_dir = "/etc/ssl/certs";  // every certificate file in it is trusted; "" = none
  uint16_t min_version = 0x0303;          // TLS 1.2 (wire value)
  uint16_t max_version = 0x0304;          // TLS 1.3
  std::string ciphers;                    // TLS 1.2 cipher list; "" = the built-in ECDHE+AEAD list
  std::string client_cert;                // PEM chain for mutual TLS; "" = none
  std::string client_key;                 // its private key (PEM)
  bool session_resumption = true;         // TLS session tickets, cached per destination per core
};

struct RetryConfig {
  // Delay before attempt n+1 after the n-th deferral: schedule[min(n-1, size-1)].
  std::vector<std::chrono::seconds> schedule = {std::chrono::seconds(60), std::chrono::seconds(300),
                                                std::chrono::seconds(900), std::chrono::seconds(3600)};
  // A message still deferred this long after it was queued fails.
  std::chrono::seconds max_age = std::chrono::seconds(5 * 24 * 3600);
  bool operator==(const RetryConfig&) const = default;
};

// BounceConfig is the [bounce] table: delivery status notifications
// (docs/bounces.md).
struct BounceConfig {
  bool enabled = true;  // send a DSN to the sender when recipients fail for good
  // notify_delay: a one-time "still being retried" DSN once a message has
  // been deferred this long (Postfix's delay_warning_time); 0 = off.
  std::chrono::seconds notify_delay{0};
  std::string sender_copy;  // an address that gets a copy of every bounce; "" = none
  bool operator==(const BounceConfig&) const = default;
};

// LogConfig is the [log] table: the delivery log (docs/delivery-log.md).
struct LogConfig {
  std::string delivery;                    // JSON lines file; "-" = stdout; "" = off
  bool syslog = false;                     // one Postfix-shaped line per attempt to syslog
  std::string syslog_socket = "/dev/log";  // the local syslog datagram socket
  std::string syslog_facility = "mail";
  uint32_t ring_capacity = 1024;  // lines between the cores and the logger thread (power of two)
  bool operator==(const LogConfig&) const = default;
};

// MetricsConfig is the [metrics] table: the Prometheus endpoint (docs/metrics.md).
struct MetricsConfig {
  std::string listen;  // "127.0.0.1:9464" or "[::1]:9464"; "" = off
  bool operator==(const MetricsConfig&) const = default;
};

struct Config {
  std::string path;   // the file it was loaded from ("" for defaults)
  std::string spool;  // spool root directory
  EngineConfig engine;
  SmtpConfig smtp;
  RelayConfig relay;
  TlsConfig tls;
  RetryConfig retry;
  BounceConfig bounce;
  LogConfig log;
  MetricsConfig metrics;
  // listen: the SMTP listeners, the [[listen]] tables in file order (none:
  // ringmail accepts no SMTP). hostname is filled in from smtp.helo_name
  // when the table leaves it out. Changing them needs a restart.
  std::vector<ListenConfig> listen;
};

// load_config reads and validates the TOML file at |path|. On success it
// fills |out| and returns true. On failure it returns false and sets |error|
// to a sentence naming the file, the key and the line, e.g.
// "ringmail.toml:7: unknown key 'relay.prot' (did you mean 'relay.port'?)".
bool load_config(const std::string& path, Config& out, std::string& error);

// parse_duration parses "30s", "5m", "1h", "2d" (also "250ms" rounded up to
// whole seconds is NOT accepted: durations here are whole seconds). Returns
// false on anything else.
bool parse_duration(const std::string& text, std::chrono::seconds& out);

// ConfigKeyInfo describes one key the loader accepts, as its table in
// config.cc defines it: the full dotted name ("relay.port"), the type as
// docs/config.md writes it ("integer", "boolean", "string", "duration",
// "array of durations", "size", "array of strings"), for integers the accepted range (min..max), and
// whether the key is required.
struct ConfigKeyInfo {
  std::string_view name;
  std::string_view type;
  int64_t min = 0;
  int64_t max = 0;
  bool required = false;
};

// config_keys lists every key the loader accepts, in table order.
std::vector<ConfigKeyInfo> config_keys();

// listen_tls_name gives the config spelling of |tls| ("none", "starttls", ...).
const char* listen_tls_name(ListenTls tls);
// listen_auth_name gives the config spelling of |auth| ("none", "optional", "required").
const char* listen_auth_name(ListenAuth auth);

// tls_level_name gives the config spelling of |level| ("none", "may", ...).
const char* tls_level_name(TlsLevel level);

}  // namespace ringmail
