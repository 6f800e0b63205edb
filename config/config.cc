// config/config.cc — loads and validates ringmail's TOML configuration.
//
// Who calls it: every subcommand in tools/, once at start-up, before any
// worker thread exists. It reads one file (at most kMaxConfigBytes), parses
// it with toml++ and checks every key against the table below.
// What it must never do: let an exception escape (toml++ throws
// toml::parse_error; it is caught and turned into an error sentence), accept
// a key it does not know, or touch |out| when loading fails.
// Diagnostics: one sentence "FILE:LINE: ..." naming the key by its full
// dotted name; when the file has several problems the one on the earliest
// line is reported.
#include "config/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "config/socket_address.h"

namespace ringmail {
namespace {

// kMaxConfigBytes bounds the file we read; a config is a few hundred bytes,
// so anything bigger is a mistake (wrong path), reported as an error.
constexpr size_t kMaxConfigBytes = 1 << 20;
// kMaxRetrySteps bounds retry.schedule.
constexpr int64_t kMaxRetrySteps = 64;
// kMaxDurationS caps every configured duration at 365 days so that adding it
// to any clock's time_point cannot overflow.
constexpr int64_t kMaxDurationS = 365LL * 24 * 3600;
// kMaxTimeoutMs caps the SMTP timeouts at one hour.
constexpr int64_t kMaxTimeoutMs = 3'600'000;
constexpr int64_t kMaxThreads = 1024;

// Value is one key's value once the loader has checked its TOML type and,
// for integers, its range; only the member of the key's KeyType is set.
struct Value {
  int64_t integer = 0;
  bool boolean = false;
  std::string text;
  std::chrono::seconds duration{0};
  std::vector<std::chrono::seconds> durations;
  std::vector<std::string> texts;
};

// kSize is a byte count written as an integer or a string "10M", "512K",
// "1G" (binary units); it lands in Value::integer. kStringList lands in
// Value::texts.
enum class KeyType { kInteger, kBoolean, kString, kDuration, kDurationList, kSize, kStringList };

// KeyTypeName is the type as docs/config.md's "type" column spells it.
std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kInteger:
      return "integer";
    case KeyType::kBoolean:
      return "boolean";
    case KeyType::kString:
      return "string";
    case KeyType::kDuration:
      return "duration";
    case KeyType::kDurationList:
      return "array of durations";
    case KeyType::kSize:
      return "size";
    case KeyType::kStringList:
      return "array of strings";
  }
  return "?";
}

// KeySpec is one row of kKeys: everything the loader knows about a key.
// |check| (optional) returns "" when the value is acceptable, else the
// error sentence; |set| stores an accepted value into the Config.
struct KeySpec {
  std::string_view name;  // full dotted name, "relay.port"; the table is the part before the dot
  KeyType type;
  int64_t min = 0;  // integers: the accepted range, inclusive
  int64_t max = 0;
  bool spaces = true;              // strings: spaces allowed (control characters never are)
  const char* required = nullptr;  // required keys: what the key is, with an example
  std::string (*check)(const Value& value) = nullptr;
  void (*set)(const Value& value, Config& config) = nullptr;
  // set_listen instead of set: a key of each [[listen]] table (table name
  // "listen"), stored into that table's ListenConfig; |required| then means
  // required in every [[listen]] table.
  void (*set_listen)(const Value& value, ListenConfig& listen) = nullptr;
};

std::string CheckSpool(const Value& value) {
  if (value.text.empty()) return "'spool' must not be empty";
  if (value.text.front() != '/') {
    return "'spool' must be an absolute path, got '" + value.text +
           "'; ringmail runs as a daemon with / as its working directory, so write the full path, "
           "e.g. spool = \"/var/spool/ringmail\"";
  }
  return {};
}

std::string CheckInboxCapacity(const Value& value) {
  if ((value.integer & (value.integer - 1)) == 0) return {};
  return "'engine.inbox_capacity' must be a power of two (64, 128, ... 1048576), got " +
         std::to_string(value.integer);
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// CheckRelayHost refuses an empty host and a port written into the host
// ("127.0.0.1:25", "[::1]:25", "mx.example.org:587"); a bare IPv6 address
// ("::1") has several colons and is fine.
std::string CheckRelayHost(const Value& value) {
  const std::string& host = value.text;
  if (host.empty()) return "'relay.host' must not be empty";
  std::string_view name;
  std::string_view port;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string::npos || close + 1 == host.size()) return {};
    if (host[close + 1] != ':') return {};
    name = std::string_view(host).substr(0, close + 1);
    port = std::string_view(host).substr(close + 2);
  } else {
    const size_t colon = host.find(':');
    if (colon == std::string::npos || host.find(':', colon + 1) != std::string::npos) return {};
    name = std::string_view(host).substr(0, colon);
    port = std::string_view(host).substr(colon + 1);
  }
  std::string sentence = "'relay.host' must not include a port, got \"" + host +
                         "\"; put the port in 'relay.port': host = \"" + std::string(name) + "\"";
  if (AllDigits(port)) sentence += " and port = " + std::string(port);
  return sentence;
}

std::string CheckTlsLevel(const Value& value) {
  const std::string& level = value.text;
  if (level == "none" || level == "may" || level == "encrypt" || level == "verify" || level == "secure")
    return {};
  return "unknown TLS level relay.tls = \"" + level +
         "\"; the levels are none, may, encrypt, verify and secure (docs/tls.md says what each one does)";
}

TlsLevel ParseTlsLevel(const std::string& text) {
  if (text == "none") return TlsLevel::kNone;
  if (text == "encrypt") return TlsLevel::kEncrypt;
  if (text == "verify") return TlsLevel::kVerify;
  if (text == "secure") return TlsLevel::kSecure;
  return TlsLevel::kMay;
}

// CheckTlsVersion accepts "1.2" and "1.3" (BoringSSL speaks nothing newer;
// older versions are not offered to operators).
std::string CheckTlsVersion(const char* key, const Value& value) {
  if (value.text == "1.2" || value.text == "1.3") return {};
  return std::string("'") + key + "' must be \"1.2\" or \"1.3\", got \"" + value.text + "\"";
}

uint16_t TlsVersionOf(const std::string& text) { return text == "1.3" ? 0x0304 : 0x0303; }

// CheckReadableFile: |path| is an absolute path to a regular file this
// process can read (checked at load so a typo is found before the daemon
// runs; the file is read at start-up).
std::string CheckReadableFile(const char* key, const std::string& path, const char* what) {
  if (path.empty()) return {};
  if (path.front() != '/') {
    return std::string("'") + key + "' must be an absolute path, got '" + path +
           "'; write the full path to " + what;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::string("'") + key + "' names " + path + ", which cannot be used: " + std::strerror(errno) +
           "; put " + what + " there or correct the path";
  }
  if (S_ISDIR(st.st_mode)) {
    return std::string("'") + key + "' names " + path + ", which is a directory; name " + what +
           " itself (a directory of certificates goes in 'tls.ca_dir')";
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return std::string("'") + key + "' names " + path +
           ", which this user cannot read: " + std::strerror(errno) +
           "; make it readable by the user ringmail runs as";
  }
  return {};
}

std::string CheckReadableDir(const char* key, const std::string& path) {
  if (path.empty()) return {};
  if (path.front() != '/') {
    return std::string("'") + key + "' must be an absolute path, got '" + path + "'; write the full path";
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::string("'") + key + "' names " + path + ", which cannot be used: " + std::strerror(errno) +
           "; create it with the trusted certificates, or set " + key + " = \"\" and use 'tls.ca_file'";
  }
  if (!S_ISDIR(st.st_mode)) {
    return std::string("'") + key + "' names " + path +
           ", which is not a directory; a single PEM file of certificates goes in 'tls.ca_file'";
  }
  if (::access(path.c_str(), R_OK | X_OK) != 0) {
    return std::string("'") + key + "' names " + path +
           ", which this user cannot read: " + std::strerror(errno) +
           "; make it readable by the user ringmail runs as";
  }
  return {};
}

std::string CheckCiphers(const Value& value) {
  if (!value.text.empty()) return {};
  return "'tls.ciphers' must not be empty; leave the key out for the built-in list (ECDHE with AES-GCM or "
         "ChaCha20-Poly1305)";
}

// CheckLogPath: "" (off), "-" (stdout) or an absolute path.
std::string CheckLogPath(const Value& value) {
  const std::string& path = value.text;
  if (path.empty() || path == "-" || path.front() == '/') return {};
  return "'log.delivery' must be an absolute path, \"-\" for stdout or \"\" for none, got '" + path +
         "'; e.g. delivery = \"/var/log/ringmail/delivery.jsonl\"";
}

std::string CheckSyslogSocket(const Value& value) {
  if (!value.text.empty() && value.text.front() == '/') return {};
  return "'log.syslog_socket' must be an absolute path to a datagram socket, got '" + value.text +
         "'; the local syslog listens on \"/dev/log\"";
}

// The facilities syslog(3) knows by name (log/delivery_log.cc maps them).
std::string CheckSyslogFacility(const Value& value) {
  static const char* const kNames[] = {"kern",   "user",   "mail",   "daemon",   "auth",   "syslog", "lpr",
                                       "news",   "uucp",   "cron",   "authpriv", "ftp",    "local0", "local1",
                                       "local2", "local3", "local4", "local5",   "local6", "local7"};
  for (const char* name : kNames) {
    if (value.text == name) return {};
  }
  return "unknown syslog facility log.syslog_facility = \"" + value.text +
         "\"; use mail (the default), daemon, user or local0..local7";
}

// CheckMetricsListen: "" (off) or ADDRESS:PORT with a numeric port (the
// address itself is checked when the engine binds it, metrics/http_request.h).
std::string CheckMetricsListen(const Value& value) {
  const std::string& text = value.text;
  if (text.empty()) return {};
  const size_t colon = text.rfind(':');
  bool port_ok =
      colon != std::string::npos && colon > 0 && colon + 1 < text.size() && text.size() - colon <= 6;
  for (size_t i = colon + 1; port_ok && i < text.size(); ++i) port_ok = text[i] >= '0' && text[i] <= '9';
  if (port_ok && std::stoul(text.substr(colon + 1)) - 1 < 65535) return {};
  return "'metrics.listen' must be ADDRESS:PORT, got '" + text +
         "'; e.g. listen = \"127.0.0.1:9464\" or \"[::1]:9464\"";
}

std::string CheckRingCapacity(const Value& value) {
  if ((value.integer & (value.integer - 1)) == 0) return {};
  return "'log.ring_capacity' must be a power of two (2, 4, ... 65536), got " + std::to_string(value.integer);
}

// CheckUsername: the AUTH user name (at most 255 bytes: engine/smtp_auth.h).
std::string CheckUsername(const Value& value) {
  if (value.text.empty()) return "'relay.username' must not be empty; leave it out for a relay without AUTH";
  if (value.text.size() > 255) return "'relay.username' must be at most 255 bytes";
  return {};
}

// CheckPasswordFile: an absolute path. The file itself is read (and its
// mode checked) by the engine at start-up, not here: `ringmail inject` and
// `ringmail queue` load this file too, as users who must not read it.
std::string CheckPasswordFile(const Value& value) {
  if (!value.text.empty() && value.text.front() == '/') return {};
  return "'relay.password_file' must be an absolute path, got '" + value.text +
         "'; write the full path to the file that holds the relay password, e.g. "
         "password_file = \"/etc/ringmail/relay.password\"";
}

template <typename T>
T As(const Value& value) {
  return static_cast<T>(value.integer);
}

// CheckSenderCopy wants one bare address: text '@' text, no <>, comma or
// quote (it goes into RCPT TO as it is).
std::string CheckSenderCopy(const Value& value) {
  const std::string& a = value.text;
  const size_t at = a.rfind('@');
  const bool ok = at != std::string::npos && at > 0 && at + 1 < a.size() && a.size() <= 254 &&
                  a.find_first_of("<>,\"") == std::string::npos;
  if (ok) return {};
  return "'bounce.sender_copy' must be one address such as \"postmaster@example.org\" (no <>), got \"" + a +
         "\"";
}

// The [[listen]] keys (config/listen_config.h). Their cross-key rules
// (certificate for TLS, users_file for AUTH, no AUTH in clear, distinct
// addresses) are in Loader::CheckListens.
constexpr int64_t kMinMessageSize = 1024;
constexpr int64_t kMaxMessageSize = int64_t{1} << 30;
constexpr int64_t kMaxSessionTimeoutMs = 24LL * 3'600'000;

std::string CheckListenAddress(const Value& value) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string problem;
  if (parse_socket_address(value.text, addr, len, problem)) return {};
  return "'listen.address' = \"" + value.text + "\" cannot be listened on: " + problem;
}

// kListenTlsNames and kListenAuthNames: the spellings, in enum order.
constexpr const char* kListenTlsNames[] = {"none", "starttls", "implicit", "required"};
constexpr const char* kListenAuthNames[] = {"none", "optional", "required"};

// NameIndex is the position of |text| in |names|, or -1.
template <size_t N>
int NameIndex(const char* const (&names)[N], const std::string& text) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) return static_cast<int>(i);
  }
  return -1;
}

std::string CheckListenTls(const Value& value) {
  const std::string& t = value.text;
  if (NameIndex(kListenTlsNames, t) >= 0) return {};
  return "unknown listen.tls = \"" + t +
         "\"; use \"none\", \"starttls\" (offered), \"required\" (STARTTLS before MAIL) or \"implicit\" (TLS "
         "from the first byte, SMTPS)";
}

std::string CheckListenAuth(const Value& value) {
  const std::string& a = value.text;
  if (NameIndex(kListenAuthNames, a) >= 0) return {};
  return "unknown listen.auth = \"" + a + "\"; use \"none\", \"optional\" or \"required\"";
}

// CheckUsersFile: an absolute path. Like relay.password_file, the file is
// read (and its mode checked) when the engine starts, not here.
std::string CheckUsersFile(const Value& value) {
  if (!value.text.empty() && value.text.front() == '/') return {};
  return "'listen.users_file' must be an absolute path, got '" + value.text +
         "'; write the full path to the file of user:hash lines, e.g. users_file = \"/etc/ringmail/users\"";
}

std::string CheckTrustedNetworks(const Value& value) {
  for (size_t i = 0; i < value.texts.size(); ++i) {
    Cidr cidr;
    std::string problem;
    if (!parse_cidr(value.texts[i], cidr, problem)) {
      return "'listen.trusted_networks[" + std::to_string(i) + "]' = \"" + value.texts[i] + "\": " + problem;
    }
  }
  return {};
}

// kKeys is every key the loader accepts, once each: its name, type, range
// and where it goes. The list of known names (for "did you mean"), the
// tables ([engine], [smtp], ...), the required-key check and config_keys()
// all derive from it; docs/config.md is checked against it by
// tests/unit/config_test.cc. Adding a key is one row here plus its row in
// docs/config.md (and its field in config.h).
const KeySpec kKeys[] = {
    {.name = "spool",
     .type = KeyType::kString,
     .required = "the spool directory, e.g. spool = \"/var/spool/ringmail\"",
     .check = CheckSpool,
     .set = [](const Value& v, Config& c) { c.spool = v.text; }},
    {.name = "engine.threads",
     .type = KeyType::kInteger,
     .min = 0,
     .max = kMaxThreads,
     .set = [](const Value& v, Config& c) { c.engine.threads = As<uint32_t>(v); }},
    {.name = "engine.pin_threads",
     .type = KeyType::kBoolean,
     .set = [](const Value& v, Config& c) { c.engine.pin_threads = v.boolean; }},
    {.name = "engine.inbox_capacity",
     .type = KeyType::kInteger,
     .min = 64,
     .max = 1 << 20,
     .check = CheckInboxCapacity,
     .set = [](const Value& v, Config& c) { c.engine.inbox_capacity = As<uint32_t>(v); }},
    {.name = "engine.shutdown_timeout_ms",
     .type = KeyType::kInteger,
     .min = 0,
     .max = kMaxTimeoutMs,
     .set = [](const Value& v, Config& c) { c.engine.shutdown_timeout_ms = As<uint32_t>(v); }},
    {.name = "smtp.helo_name",
     .type = KeyType::kString,
     .spaces = false,
     .set = [](const Value& v, Config& c) { c.smtp.helo_name = v.text; }},
    {.name = "smtp.default_sender",
     .type = KeyType::kString,
     .spaces = false,
     .set = [](const Value& v, Config& c) { c.smtp.default_sender = v.text; }},
    {.name = "smtp.connect_timeout_ms",
     .type = KeyType::kInteger,
     .min = 1,
     .max = kMaxTimeoutMs,
     .set = [](const Value& v, Config& c) { c.smtp.connect_timeout_ms = As<uint32_t>(v); }},
    {.name = "smtp.reply_timeout_ms",
     .type = KeyType::kInteger,
     .min = 1,
     .max = kMaxTimeoutMs,
     .set = [](const Value& v, Config& c) { c.smtp.reply_timeout_ms = As<uint32_t>(v); }},
    {.name = "smtp.data_timeout_ms",
     .type = KeyType::kInteger,
     .min = 1,
     .max = kMaxTimeoutMs,
     .set = [](const Value& v, Config& c) { c.smtp.data_timeout_ms = As<uint32_t>(v); }},
    {.name = "smtp.chunking",
     .type = KeyType::kBoolean,
     .set = [](const Value& v, Config& c) { c.smtp.chunking = v.boolean; }},
    {.name = "relay.host",
     .type = KeyType::kString,
     .spaces = false,
     .required = "the smarthost to deliver to, e.g. [relay] host = \"127.0.0.1\"",
     .check = CheckRelayHost,
     .set = [](const Value& v, Config& c) { c.relay.host = v.text; }},
    {.name = "relay.port",
     .type = KeyType::kInteger,
     .min = 1,
     .max = 65535,
     .set = [](const Value& v, Config& c) { c.relay.port = As<uint16_t>(v); }},
    {.name = "relay.tls",
     .type = KeyType::kString,
     .check = CheckTlsLevel,
     .set = [](const Value& v, Config& c) { c.relay.tls = ParseTlsLevel(v.text); }},
    {.name = "relay.implicit_tls",
     .type = KeyType::kBoolean,
     .set = [](const Value& v, Config& c) { c.relay.implicit_tls = v.boolean; }},
    {.name = "relay.max_connections",
     .type = KeyType::kInteger,
     .min = 1,
     .max = 1'000,
     .set = [](const Value& v, Config& c) { c.relay.max_connections = As<uint32_t>(v); }},
    {.name = "relay.max_messages_per_connection",
     .type = KeyType::kInteger,
     .min = 1,
     .max = 1'000'000,
     .set = [](const Value& v, Config& c) { c.relay.max_messages_per_connection = As<uint32_t>(v); }},
    {.name = "relay.username",
     .type = KeyType::kString,
     .check = CheckUsername,
     .set = [](const Value& v, Config& c) { c.relay.username = v.text; }},
    {.name = "relay.password_file",
     .type = KeyType::kString,
     .check = CheckPasswordFile,
     .set = [](const Value& v, Config& c) { c.relay.password_file = v.text; }},
    {.name = "relay.allow_plaintext_auth",
     .type = KeyType::kBoolean,
     .set = [](const Value& v, Config& c) { c.relay.allow_plaintext_auth = v.boolean; }},
    {.name = "tls.ca_file",
     .type = KeyType::kString,
     .check =
         [](const Value& v) {
           return CheckReadableFile("tls.ca_file", v.text, "the PEM file of trusted certificates");
         },
     .set = [](const Value& v, Config& c) { c.tls.ca_file = v.text; }},
    {.name = "tls.ca_dir",
     .type = KeyType::kString,
     .check = [](const Value& v) { return CheckReadableDir("tls.ca_dir", v.text); },
     .set = [](const Value& v, Config& c) { c.tls.ca_dir = v.text; }},
    {.name = "tls.min_version",
     .type = KeyType::kString,
     .check = [](const Value& v) { return CheckTlsVersion("tls.min_version", v); },
     .set = [](const Value& v, Config& c) { c.tls.min_version = TlsVersionOf(v.text); }},
    {.name = "tls.max_version",
     .type = KeyType::kString,
     .check = [](const Value& v) { return CheckTlsVersion("tls.max_version", v); },
     .set = [](const Value& v, Config& c) { c.tls.max_version = TlsVersionOf(v.text); }},
    {.name = "tls.ciphers",
     .type = KeyType::kString,
     .spaces = false,
     .check = CheckCiphers,
     .set = [](const Value& v, Config& c) { c.tls.ciphers = v.text; }},
    {.name = "tls.client_cert",
     .type = KeyType::kString,
     .check =
         [](const Value& v) {
           return CheckReadableFile("tls.client_cert", v.text, "the client certificate (PEM)");
         },
     .set = [](const Value& v, Config& c) { c.tls.client_cert = v.text; }},
    {.name = "tls.client_key",
     .type = KeyType::kString,
     .check =
         [](const Value& v) {
           return CheckReadableFile("tls.client_key", v.text, "the client private key (PEM)");
         },
     .set = [](const Value& v, Config& c) { c.tls.client_key = v.text; }},
    {.name = "tls.session_resumption",
     .type = KeyType::kBoolean,
     .set = [](const Value& v, Config& c) { c.tls.session_resumption = v.boolean; }},
    {.name = "retry.schedule",
     .type = KeyType::kDurationList,
     .min = 1,
     .max = kMaxRetrySteps,
     .set = [](const Value& v, Config& c) { c.retry.schedule = v.durations; }},
    {.name = "retry.max_age",
     .type = KeyType::kDuration,
     .set = [](const Value& v, Config& c) { c.retry.max_age = v.duration; }},
    {.name = "bounce.enabled",
     .type = KeyType::kBoolean,
     .set = [](const Value& v, Config& c) { c.bounce.enabled = v.boolean; }},
    {.name = "bounce.notify_delay",
     .type = KeyType::kDuration,
     .set = [](const Value& v, Config& c) { c.bounce.notify_delay = v.duration; }},
    {.name = "bounce.sender_copy",
     .type = KeyType::kString,
     .spaces = false,
     .check = CheckSenderCopy,
     .set = [](const Value& v, Config& c) { c.bounce.sender_copy = v.text; }},
    {.name = "log.delivery",
     .type = KeyType::kString,
     .check = CheckLogPath,
     .set = [](const Value& v, Config& c) { c.log.delivery = v.text; }},
    {.name = "log.syslog",
     .type = KeyType::kBoolean,
     .set = [](const Value& v, Config& c) { c.log.syslog = v.boolean; }},
    {.name = "log.syslog_socket",
     .type = KeyType::kString,
     .check = CheckSyslogSocket,
     .set = [](const Value& v, Config& c) { c.log.syslog_socket = v.text; }},
    {.name = "log.syslog_facility",
     .type = KeyType::kString,
     .check = CheckSyslogFacility,
     .set = [](const Value& v, Config& c) { c.log.syslog_facility = v.text; }},
    {.name = "log.ring_capacity",
     .type = KeyType::kInteger,
     .min = 2,
     .max = 65'536,
     .check = CheckRingCapacity,
     .set = [](const Value& v, Config& c) { c.log.ring_capacity = As<uint32_t>(v); }},
    {.name = "metrics.listen",
     .type = KeyType::kString,
     .check = CheckMetricsListen,
     .set = [](const Value& v, Config& c) { c.metrics.listen = v.text; }},
    {.name = "listen.address",
     .type = KeyType::kString,
     .spaces = false,
     .required = "the address to listen on, e.g. address = \"127.0.0.1:2525\" or \"[::1]:2525\"",
     .check = CheckListenAddress,
     .set_listen = [](const Value& v, ListenConfig& l) { l.address = v.text; }},
    {.name = "listen.tls",
     .type = KeyType::kString,
     .check = CheckListenTls,
     .set_listen =
         [](const Value& v, ListenConfig& l) {
           l.tls = static_cast<ListenTls>(NameIndex(kListenTlsNames, v.text));
         }},
    {.name = "listen.cert_file",
     .type = KeyType::kString,
     .check =
         [](const Value& v) {
           return CheckReadableFile("listen.cert_file", v.text, "the certificate chain (PEM)");
         },
     .set_listen = [](const Value& v, ListenConfig& l) { l.cert_file = v.text; }},
    {.name = "listen.key_file",
     .type = KeyType::kString,
     .check =
         [](const Value& v) { return CheckReadableFile("listen.key_file", v.text, "the private key (PEM)"); },
     .set_listen = [](const Value& v, ListenConfig& l) { l.key_file = v.text; }},
    {.name = "listen.auth",
     .type = KeyType::kString,
     .check = CheckListenAuth,
     .set_listen =
         [](const Value& v, ListenConfig& l) {
           l.auth = static_cast<ListenAuth>(NameIndex(kListenAuthNames, v.text));
         }},
    {.name = "listen.users_file",
     .type = KeyType::kString,
     .check = CheckUsersFile,
     .set_listen = [](const Value& v, ListenConfig& l) { l.users_file = v.text; }},
    {.name = "listen.trusted_networks",
     .type = KeyType::kStringList,
     .min = 0,
     .max = 1024,
     .check = CheckTrustedNetworks,
     .set_listen = [](const Value& v, ListenConfig& l) { l.trusted_networks = v.texts; }},
    {.name = "listen.max_message_size",
     .type = KeyType::kSize,
     .min = kMinMessageSize,
     .max = kMaxMessageSize,
     .set_listen = [](const Value& v, ListenConfig& l) { l.max_message_size = As<uint64_t>(v); }},
    {.name = "listen.max_connections",
     .type = KeyType::kInteger,
     .min = 1,
     .max = 1'000'000,
     .set_listen = [](const Value& v, ListenConfig& l) { l.max_connections = As<uint32_t>(v); }},
    {.name = "listen.max_recipients",
     .type = KeyType::kInteger,
     .min = 1,
     .max = 100'000,
     .set_listen = [](const Value& v, ListenConfig& l) { l.max_recipients = As<uint32_t>(v); }},
    {.name = "listen.allow_plaintext_auth",
     .type = KeyType::kBoolean,
     .set_listen = [](const Value& v, ListenConfig& l) { l.allow_plaintext_auth = v.boolean; }},
    {.name = "listen.hostname",
     .type = KeyType::kString,
     .spaces = false,
     .set_listen = [](const Value& v, ListenConfig& l) { l.hostname = v.text; }},
    {.name = "listen.max_connections_per_ip",
     .type = KeyType::kInteger,
     .min = 1,
     .max = 1'000'000,
     .set_listen = [](const Value& v, ListenConfig& l) { l.max_connections_per_ip = As<uint32_t>(v); }},
    {.name = "listen.max_messages_per_minute_per_ip",
     .type = KeyType::kInteger,
     .min = 0,
     .max = 100'000'000,
     .set_listen = [](const Value& v,
                      ListenConfig& l) { l.max_messages_per_minute_per_ip = As<uint32_t>(v); }},
    {.name = "listen.max_auth_failures_per_minute_per_ip",
     .type = KeyType::kInteger,
     .min = 1,
     .max = 10'000,
     .set_listen = [](const Value& v,
                      ListenConfig& l) { l.max_auth_failures_per_minute_per_ip = As<uint32_t>(v); }},
    {.name = "listen.max_errors",
     .type = KeyType::kInteger,
     .min = 1,
     .max = 10'000,
     .set_listen = [](const Value& v, ListenConfig& l) { l.max_errors = As<uint32_t>(v); }},
    {.name = "listen.command_timeout_ms",
     .type = KeyType::kInteger,
     .min = 1,
     .max = kMaxTimeoutMs,
     .set_listen = [](const Value& v, ListenConfig& l) { l.command_timeout_ms = As<uint32_t>(v); }},
    {.name = "listen.data_timeout_ms",
     .type = KeyType::kInteger,
     .min = 1,
     .max = kMaxTimeoutMs,
     .set_listen = [](const Value& v, ListenConfig& l) { l.data_timeout_ms = As<uint32_t>(v); }},
    {.name = "listen.session_timeout_ms",
     .type = KeyType::kInteger,
     .min = 1,
     .max = kMaxSessionTimeoutMs,
     .set_listen = [](const Value& v, ListenConfig& l) { l.session_timeout_ms = As<uint32_t>(v); }},
};

// kListenTable is the array of tables [[listen]]; its keys are the kKeys
// rows with set_listen.
constexpr std::string_view kListenTable = "listen";

std::string_view TableOf(std::string_view name) {
  const size_t dot = name.find('.');
  return dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
}

const KeySpec* FindKey(std::string_view name) {
  for (const KeySpec& spec : kKeys) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

bool IsTable(std::string_view name) {
  for (const KeySpec& spec : kKeys) {
    if (TableOf(spec.name) == name) return true;
  }
  return false;
}

// KnownNames is every key and every table, each table just before its first
// key (the order decides ties between equally close suggestions).
const std::vector<std::string_view>& KnownNames() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const KeySpec& spec : kKeys) {
      const std::string_view table = TableOf(spec.name);
      if (!table.empty() && std::find(out.begin(), out.end(), table) == out.end()) out.push_back(table);
      out.push_back(spec.name);
    }
    return out;
  }();
  return names;
}

// EditDistance is the optimal-string-alignment distance (insert, delete,
// substitute, swap two neighbours: each costs 1). Inputs are key names
// (short); longer inputs are not compared.
size_t EditDistance(std::string_view a, std::string_view b) {
  constexpr size_t kMax = 64;
  if (a.size() > kMax || b.size() > kMax) return kMax;
  size_t d[kMax + 1][kMax + 1];
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string_view LeafName(std::string_view dotted) {
  size_t dot = dotted.rfind('.');
  return dot == std::string_view::npos ? dotted : dotted.substr(dot + 1);
}

// Suggest returns the known key at the same depth closest to |name|
// (distance <= 2), else a known key in another table with the same last
// component, else "".
std::string_view Suggest(std::string_view name) {
  const std::vector<std::string_view>& known_names = KnownNames();
  std::string_view best;
  size_t best_distance = 3;
  auto depth = [](std::string_view s) { return std::count(s.begin(), s.end(), '.'); };
  for (std::string_view known : known_names) {
    if (depth(known) != depth(name)) continue;  // a key never suggests a table
    size_t distance = EditDistance(name, known);
    if (distance < best_distance) {
      best = known;
      best_distance = distance;
    }
  }
  if (!best.empty()) return best;
  for (std::string_view known : known_names) {
    if (known.find('.') != std::string_view::npos && LeafName(known) == LeafName(name)) {
      return known;
    }
  }
  return {};
}

const char* TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

uint32_t LineOf(const toml::source_region& region) { return region.begin.line == 0 ? 1 : region.begin.line; }

// ListenEntry is one [[listen]] table while it is loaded.
struct ListenEntry {
  ListenConfig config;
  uint32_t line = 1;                                             // of [[listen]]
  std::vector<std::pair<std::string_view, uint32_t>> key_lines;  // key -> its line
  bool Has(std::string_view name) const {
    return std::any_of(key_lines.begin(), key_lines.end(), [&](const auto& kl) { return kl.first == name; });
  }
  uint32_t Line(std::string_view name) const {
    for (const auto& [key, key_line] : key_lines) {
      if (key == name) return key_line;
    }
    return line;
  }
};

// ParseSize parses "123", "10M", "512k", "1G" into bytes.
bool ParseSize(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  int64_t unit = 1;
  std::string_view digits = text;
  switch (text.back()) {
    case 'K':
    case 'k':
      unit = int64_t{1} << 10;
      break;
    case 'M':
    case 'm':
      unit = int64_t{1} << 20;
      break;
    case 'G':
    case 'g':
      unit = int64_t{1} << 30;
      break;
    default:
      break;
  }
  if (unit != 1) digits.remove_suffix(1);
  if (!AllDigits(digits) || digits.size() > 12) return false;
  out = std::stoll(std::string(digits)) * unit;
  return true;
}

// SizeText writes a byte count the way sizes are written in the file.
std::string SizeText(int64_t bytes) {
  if (bytes % (int64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + "G";
  if (bytes % (int64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "M";
  if (bytes % (int64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + "K";
  return std::to_string(bytes);
}

// Loader validates one parsed document into |config| by walking kKeys.
// Errors are collected as the one with the smallest line number (ties: the
// first found), so the report does not depend on toml++'s (alphabetical)
// table order. A missing required key is reported only when nothing else
// is wrong: a misspelt table ("[realy]") is the cause, the missing
// relay.host only its consequence.
class Loader {
 public:
  Loader(const std::string& path, Config& config) : path_(path), config_(config) {}

  void Load(const toml::table& root) {
    for (const auto& [key, node] : root) {
      const std::string name(key.str());
      if (name == kListenTable) {
        LoadListens(node);
      } else if (const KeySpec* spec = FindKey(name)) {
        LoadValue(*spec, node);
      } else if (IsTable(name)) {
        const toml::table* table = node.as_table();
        if (table == nullptr) {
          Fail(LineOf(node.source()), "'" + name + "' must be a table, got " + TypeName(node));
          continue;
        }
        table_lines_.emplace_back(name, LineOf(table->source()));
        for (const auto& [sub_key, sub_node] : *table) {
          const std::string full = name + "." + std::string(sub_key.str());
          if (const KeySpec* sub_spec = FindKey(full)) {
            LoadValue(*sub_spec, sub_node);
          } else {
            Unknown(full, sub_key, sub_node);
          }
        }
      } else {
        Unknown(name, key, node);
      }
    }
    if (failed_) return;
    for (const KeySpec& spec : kKeys) {
      if (spec.required == nullptr || spec.set_listen != nullptr || Seen(spec)) continue;
      Fail(TableLine(TableOf(spec.name)),
           "missing required key '" + std::string(spec.name) + "' (" + spec.required + ")");
    }
    if (!failed_) CrossCheck();
    if (!failed_) CheckListens();
  }

  // CrossCheck: rules between keys, reported at the later key's line.
  void CrossCheck() {
    const TlsConfig& tls = config_.tls;
    if (tls.min_version > tls.max_version) {
      Fail(
          KeyLine("tls.min_version"),
          "'tls.min_version' (1.3) is above 'tls.max_version' (1.2); raise max_version or lower min_version");
      return;
    }
    if (tls.client_cert.empty() != tls.client_key.empty()) {
      const bool has_cert = !tls.client_cert.empty();
      Fail(KeyLine(has_cert ? "tls.client_cert" : "tls.client_key"),
           has_cert ? "'tls.client_cert' is set but 'tls.client_key' is not; mutual TLS needs both: add "
                      "client_key = \"/path/to/key.pem\" or remove client_cert"
                    : "'tls.client_key' is set but 'tls.client_cert' is not; mutual TLS needs both: add "
                      "client_cert = \"/path/to/cert.pem\" or remove client_key");
      return;
    }
    RelayConfig& relay = config_.relay;
    if (relay.username.empty() != relay.password_file.empty()) {
      const bool has_user = !relay.username.empty();
      Fail(KeyLine(has_user ? "relay.username" : "relay.password_file"),
           has_user ? "'relay.username' is set but 'relay.password_file' is not; AUTH needs both: add "
                      "password_file = \"/etc/ringmail/relay.password\" (a file only ringmail can read) or "
                      "remove username"
                    : "'relay.password_file' is set but 'relay.username' is not; AUTH needs both: add "
                      "username = \"...\" or remove password_file");
      return;
    }
    if (!SeenName("relay.tls")) relay.tls = default_relay_tls_level(!relay.username.empty());
    if (config_.relay.implicit_tls && config_.relay.tls == TlsLevel::kNone) {
      Fail(KeyLine("relay.implicit_tls"),
           "'relay.implicit_tls' = true needs TLS, but relay.tls = \"none\"; set tls = \"encrypt\" (or "
           "verify/secure), or implicit_tls = false");
    }
  }

  uint32_t KeyLine(std::string_view name) const {
    for (const auto& [key, line] : key_lines_) {
      if (key == name) return line;
    }
    return 1;
  }

  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }

 private:
  void Fail(uint32_t line, const std::string& sentence) {
    if (failed_ && line >= error_line_) return;
    failed_ = true;
    error_line_ = line;
    error_ = path_ + ":" + std::to_string(line) + ": " + sentence;
  }

  void Unknown(const std::string& name, const toml::key& key, const toml::node& node) {
    std::string what = node.is_table() ? "unknown table '" : "unknown key '";
    std::string sentence = what + name + "'";
    std::string_view suggestion = Suggest(name);
    if (!suggestion.empty()) sentence += " (did you mean '" + std::string(suggestion) + "'?)";
    Fail(LineOf(key.source()), sentence);
  }

  bool Seen(const KeySpec& spec) const { return std::find(seen_.begin(), seen_.end(), &spec) != seen_.end(); }
  bool SeenName(std::string_view name) const {
    const KeySpec* spec = FindKey(name);
    return spec != nullptr && Seen(*spec);
  }

  // TableLine is the line of [table], or 1 when the file has none.
  uint32_t TableLine(std::string_view table) const {
    for (const auto& [name, line] : table_lines_) {
      if (name == table) return line;
    }
    return 1;
  }

  // LoadValue checks |node| against |spec| and, when it passes, stores it.
  // With |listen| it loads a key of that [[listen]] table.
  void LoadValue(const KeySpec& spec, const toml::node& node, ListenEntry* listen = nullptr) {
    if (listen != nullptr) {
      listen->key_lines.emplace_back(spec.name, LineOf(node.source()));
    } else {
      seen_.push_back(&spec);
      key_lines_.emplace_back(spec.name, LineOf(node.source()));
    }
    const std::string name(spec.name);
    Value value;
    bool ok = false;
    switch (spec.type) {
      case KeyType::kInteger:
        ok = GetInt(name, node, spec.min, spec.max, value.integer);
        break;
      case KeyType::kBoolean:
        ok = GetBool(name, node, value.boolean);
        break;
      case KeyType::kString:
        ok = GetString(name, node, value.text, spec.spaces);
        break;
      case KeyType::kDuration:
        ok = GetDuration(name, node, value.duration);
        break;
      case KeyType::kDurationList:
        ok = GetDurationList(spec, node, value.durations);
        break;
      case KeyType::kSize:
        ok = GetSize(name, node, spec.min, spec.max, value.integer);
        break;
      case KeyType::kStringList:
        ok = GetStringList(spec, node, value.texts);
        break;
    }
    if (!ok) return;
    if (spec.check != nullptr) {
      const std::string problem = spec.check(value);
      if (!problem.empty()) {
        Fail(LineOf(node.source()), problem);
        return;
      }
    }
    if (listen != nullptr) {
      spec.set_listen(value, listen->config);
    } else {
      spec.set(value, config_);
    }
  }

  bool GetInt(const std::string& name, const toml::node& node, int64_t min, int64_t max, int64_t& out) {
    const toml::value<int64_t>* value = node.as_integer();
    if (value == nullptr) {
      Fail(LineOf(node.source()), "'" + name + "' must be an integer, got " + TypeName(node));
      return false;
    }
    int64_t v = value->get();
    if (v < min || v > max) {
      Fail(LineOf(node.source()), "'" + name + "' must be between " + std::to_string(min) + " and " +
                                      std::to_string(max) + ", got " + std::to_string(v));
      return false;
    }
    out = v;
    return true;
  }

  bool GetBool(const std::string& name, const toml::node& node, bool& out) {
    const toml::value<bool>* value = node.as_boolean();
    if (value == nullptr) {
      Fail(LineOf(node.source()), "'" + name + "' must be a boolean (true or false), got " + TypeName(node));
      return false;
    }
    out = value->get();
    return true;
  }

  // GetString reads a string; control characters are always refused (these
  // values end up in file paths and SMTP commands), spaces when asked.
  bool GetString(const std::string& name, const toml::node& node, std::string& out, bool allow_spaces) {
    const toml::value<std::string>* value = node.as_string();
    if (value == nullptr) {
      Fail(LineOf(node.source()), "'" + name + "' must be a string, got " + TypeName(node));
      return false;
    }
    for (unsigned char c : value->get()) {
      if (c < 0x20 || c == 0x7f || (!allow_spaces && c == ' ')) {
        Fail(LineOf(node.source()),
             "'" + name + "' must not contain " + (c == ' ' ? "spaces" : "control characters"));
        return false;
      }
    }
    out = value->get();
    return true;
  }

  bool GetDuration(const std::string& name, const toml::node& node, std::chrono::seconds& out) {
    const toml::value<std::string>* value = node.as_string();
    std::chrono::seconds parsed{0};
    if (value == nullptr || !parse_duration(value->get(), parsed)) {
      std::string got = value == nullptr ? std::string(TypeName(node)) : "\"" + value->get() + "\"";
      Fail(LineOf(node.source()), "'" + name +
                                      "' must be a duration string such as \"30s\", \"5m\", "
                                      "\"1h\" or \"2d\" (a whole number and one unit s, m, h or d), got " +
                                      got);
      return false;
    }
    if (parsed.count() <= 0 || parsed.count() > kMaxDurationS) {
      Fail(LineOf(node.source()),
           "'" + name + "' must be more than 0s and at most 365d, got \"" + value->get() + "\"");
      return false;
    }
    out = parsed;
    return true;
  }

  // GetDurationList reads an array of spec.min..spec.max durations; an
  // entry's error names it as "retry.schedule[1]" with the entry's line.
  bool GetDurationList(const KeySpec& spec, const toml::node& node, std::vector<std::chrono::seconds>& out) {
    const std::string name(spec.name);
    const toml::array* array = node.as_array();
    const uint32_t line = LineOf(node.source());
    if (array == nullptr) {
      Fail(line, "'" + name + "' must be an array of durations such as [\"1m\", \"5m\", \"1h\"], got " +
                     TypeName(node));
      return false;
    }
    const auto size = static_cast<int64_t>(array->size());
    if (size < spec.min || size > spec.max) {
      Fail(line, "'" + name + "' must hold " + std::to_string(spec.min) + " to " + std::to_string(spec.max) +
                     " durations, got " + std::to_string(size));
      return false;
    }
    out.clear();
    for (size_t i = 0; i < array->size(); ++i) {
      std::chrono::seconds step{0};
      if (!GetDuration(name + "[" + std::to_string(i) + "]", *array->get(i), step)) return false;
      out.push_back(step);
    }
    return true;
  }

  // GetSize reads a byte count: an integer, or a string of digits with an
  // optional unit K, M or G (1024, 1024², 1024³; either case).
  bool GetSize(const std::string& name, const toml::node& node, int64_t min, int64_t max, int64_t& out) {
    const uint32_t line = LineOf(node.source());
    int64_t bytes = -1;
    std::string got;
    if (const toml::value<int64_t>* number = node.as_integer()) {
      bytes = number->get();
      got = std::to_string(bytes);
    } else if (const toml::value<std::string>* text = node.as_string()) {
      got = "\"" + text->get() + "\"";
      if (!ParseSize(text->get(), bytes)) {
        Fail(line, "'" + name +
                       "' must be a size such as \"10M\", \"512K\", \"1G\" or a number of bytes, got " + got);
        return false;
      }
    } else {
      Fail(line, "'" + name +
                     "' must be a size such as \"10M\", \"512K\", \"1G\" or a number of bytes, got " +
                     TypeName(node));
      return false;
    }
    if (bytes < min || bytes > max) {
      Fail(line,
           "'" + name + "' must be between " + SizeText(min) + " and " + SizeText(max) + ", got " + got);
      return false;
    }
    out = bytes;
    return true;
  }

  // GetStringList reads an array of spec.min..spec.max strings, each free of
  // spaces and control characters; an entry's error names it as
  // "listen.trusted_networks[1]".
  bool GetStringList(const KeySpec& spec, const toml::node& node, std::vector<std::string>& out) {
    const std::string name(spec.name);
    const toml::array* array = node.as_array();
    const uint32_t line = LineOf(node.source());
    if (array == nullptr) {
      Fail(line, "'" + name + "' must be an array of strings, got " + TypeName(node));
      return false;
    }
    const auto size = static_cast<int64_t>(array->size());
    if (size < spec.min || size > spec.max) {
      Fail(line, "'" + name + "' must hold " + std::to_string(spec.min) + " to " + std::to_string(spec.max) +
                     " entries, got " + std::to_string(size));
      return false;
    }
    out.clear();
    for (size_t i = 0; i < array->size(); ++i) {
      std::string item;
      if (!GetString(name + "[" + std::to_string(i) + "]", *array->get(i), item, false)) return false;
      out.push_back(std::move(item));
    }
    return true;
  }

  // LoadListens reads the [[listen]] tables, each into config_.listen.
  void LoadListens(const toml::node& node) {
    const toml::array* array = node.as_array();
    if (array == nullptr || !array->is_array_of_tables()) {
      Fail(LineOf(node.source()),
           std::string("'listen' must be an array of tables, each written [[listen]] "
                       "followed by its keys (address = ..., tls = ...), got ") +
               (array == nullptr ? TypeName(node) : "an array that is not all tables"));
      return;
    }
    for (const toml::node& element : *array) {
      const toml::table& table = *element.as_table();
      ListenEntry& entry = listens_.emplace_back();
      entry.line = LineOf(table.source());
      for (const auto& [sub_key, sub_node] : table) {
        const std::string full = std::string(kListenTable) + "." + std::string(sub_key.str());
        const KeySpec* spec = FindKey(full);
        if (spec != nullptr && spec->set_listen != nullptr) {
          LoadValue(*spec, sub_node, &entry);
        } else {
          Unknown(full, sub_key, sub_node);
        }
      }
    }
  }

  // CheckListens applies the rules between keys of each [[listen]] table
  // and between the tables, and fills in the defaults that depend on
  // other keys (tls from cert_file, hostname from smtp.helo_name).
  void CheckListens() {
    for (size_t i = 0; i < listens_.size() && !failed_; ++i) {
      ListenEntry& entry = listens_[i];
      ListenConfig& l = entry.config;
      for (const KeySpec& spec : kKeys) {
        if (spec.set_listen == nullptr || spec.required == nullptr || entry.Has(spec.name)) continue;
        Fail(entry.line, "this [[listen]] table lacks required key '" + std::string(spec.name) + "' (" +
                             spec.required + ")");
        return;
      }
      if (!entry.Has("listen.tls")) l.tls = l.cert_file.empty() ? ListenTls::kNone : ListenTls::kStartTls;
      if (l.cert_file.empty() != l.key_file.empty()) {
        const bool has_cert = !l.cert_file.empty();
        Fail(entry.Line(has_cert ? "listen.cert_file" : "listen.key_file"),
             has_cert
                 ? "'listen.cert_file' is set but 'listen.key_file' is not; a TLS listener needs both: add "
                   "key_file = \"/path/to/key.pem\" or remove cert_file"
                 : "'listen.key_file' is set but 'listen.cert_file' is not; a TLS listener needs both: add "
                   "cert_file = \"/path/to/cert.pem\" or remove key_file");
        return;
      }
      if (l.tls != ListenTls::kNone && l.cert_file.empty()) {
        Fail(entry.Line("listen.tls"),
             "listen.tls = \"" + std::string(listen_tls_name(l.tls)) +
                 "\" needs a certificate: add cert_file = \"/path/to/cert.pem\" and "
                 "key_file = \"/path/to/key.pem\" to this [[listen]] table");
        return;
      }
      if (l.auth != ListenAuth::kNone && l.users_file.empty()) {
        Fail(entry.Line("listen.auth"),
             "listen.auth = \"" + std::string(listen_auth_name(l.auth)) +
                 "\" needs 'listen.users_file', the file of user:hash lines AUTH checks (make one with "
                 "`ringmail hash-password`), e.g. users_file = \"/etc/ringmail/users\"");
        return;
      }
      if (l.auth != ListenAuth::kNone && l.tls == ListenTls::kNone && !l.allow_plaintext_auth) {
        Fail(
            entry.Line("listen.auth"),
            "listen.auth = \"" + std::string(listen_auth_name(l.auth)) +
                "\" on a listener without TLS would take passwords in clear text, so AUTH would never be "
                "offered; set tls = \"starttls\" (or \"required\"/\"implicit\") with cert_file and key_file, "
                "or allow_plaintext_auth = true if the network to this listener is trusted");
        return;
      }
      if (l.auth == ListenAuth::kNone && l.trusted_networks.empty()) {
        Fail(entry.Line("listen.trusted_networks"),
             "'listen.trusted_networks' is empty and listen.auth = \"none\": no client could send mail "
             "through this listener; name the networks that may send, or set auth = \"required\"");
        return;
      }
      sockaddr_storage address{};
      socklen_t length = 0;
      std::string problem;
      parse_socket_address(l.address, address, length, problem);  // checked when loaded
      for (size_t j = 0; j < i; ++j) {
        sockaddr_storage other{};
        socklen_t other_length = 0;
        parse_socket_address(listens_[j].config.address, other, other_length, problem);
        if (length == other_length && std::memcmp(&address, &other, length) == 0) {
          Fail(entry.Line("listen.address"),
               "'listen.address' = \"" + l.address +
                   "\" is already the address of the [[listen]] table at line " +
                   std::to_string(listens_[j].line) + "; each listener needs an address of its own");
          return;
        }
      }
    }
    for (ListenEntry& entry : listens_) config_.listen.push_back(std::move(entry.config));
  }

  const std::string& path_;
  Config& config_;
  std::vector<const KeySpec*> seen_;                              // keys present in the file
  std::vector<std::pair<std::string, uint32_t>> table_lines_;     // [table] -> its line
  std::vector<std::pair<std::string_view, uint32_t>> key_lines_;  // key -> its line
  std::vector<ListenEntry> listens_;                              // the [[listen]] tables, in order
  bool failed_ = false;
  uint32_t error_line_ = 0;
  std::string error_;
};

// ReadFile reads at most kMaxConfigBytes of |path| into |out|.
bool ReadFile(const std::string& path, std::string& out, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot read config file " + path + ": " + std::strerror(errno);
    return false;
  }
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "cannot read config file " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxConfigBytes) {
      error = "cannot read config file " + path + ": larger than 1 MiB; is this the right file?";
      ::close(fd);
      return false;
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

bool parse_duration(const std::string& text, std::chrono::seconds& out) {
  if (text.size() < 2) return false;
  int64_t unit_s = 0;
  switch (text.back()) {
    case 's':
      unit_s = 1;
      break;
    case 'm':
      unit_s = 60;
      break;
    case 'h':
      unit_s = 3600;
      break;
    case 'd':
      unit_s = 86400;
      break;
    default:
      return false;
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t value = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return false;
    if (value > (kMax - (c - '0')) / 10) return false;
    value = value * 10 + (c - '0');
  }
  if (value > kMax / unit_s) return false;
  out = std::chrono::seconds(value * unit_s);
  return true;
}

std::vector<ConfigKeyInfo> config_keys() {
  std::vector<ConfigKeyInfo> out;
  for (const KeySpec& spec : kKeys) {
    out.push_back({spec.name, KeyTypeName(spec.type), spec.type == KeyType::kInteger ? spec.min : 0,
                   spec.type == KeyType::kInteger ? spec.max : 0, spec.required != nullptr});
  }
  return out;
}

const char* listen_tls_name(ListenTls tls) { return kListenTlsNames[static_cast<int>(tls)]; }

const char* listen_auth_name(ListenAuth auth) { return kListenAuthNames[static_cast<int>(auth)]; }

const char* tls_level_name(TlsLevel level) {
  switch (level) {
    case TlsLevel::kNone:
      return "none";
    case TlsLevel::kMay:
      return "may";
    case TlsLevel::kEncrypt:
      return "encrypt";
    case TlsLevel::kVerify:
      return "verify";
    case TlsLevel::kSecure:
      return "secure";
  }
  return "unknown";
}

bool load_config(const std::string& path, Config& out, std::string& error) {
  try {
    std::string text;
    if (!ReadFile(path, text, error)) return false;
    toml::table root;
    try {
      root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
      error = path + ":" + std::to_string(LineOf(e.source())) +
              ": TOML syntax error: " + std::string(e.description());
      return false;
    }
    Config config;
    config.path = path;
    Loader loader(path, config);
    loader.Load(root);
    if (loader.failed()) {
      error = loader.error();
      return false;
    }
    if (config.smtp.helo_name.empty()) config.smtp.helo_name = HostName();
    for (ListenConfig& listen : config.listen) {
      if (listen.hostname.empty()) listen.hostname = config.smtp.helo_name;
    }
    out = std::move(config);
    return true;
  } catch (const std::exception& e) {
    // Only std::bad_alloc is expected here; never let it escape.
    error = "cannot load config file " + path + ": " + e.what();
    return false;
  }
}

}  // namespace ringmail
