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
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>

namespace ringmail {
namespace {

// kMaxConfigBytes bounds the file we read; a config is a few hundred bytes,
// so anything bigger is a mistake (wrong path), reported as an error.
constexpr size_t kMaxConfigBytes = 1 << 20;
// kMaxRetrySteps bounds retry.schedule.
constexpr size_t kMaxRetrySteps = 64;
// kMaxDurationS caps every configured duration at 365 days so that adding it
// to any clock's time_point cannot overflow.
constexpr int64_t kMaxDurationS = 365LL * 24 * 3600;
// kMaxTimeoutMs caps the SMTP timeouts at one hour.
constexpr int64_t kMaxTimeoutMs = 3'600'000;
constexpr int64_t kMaxThreads = 1024;

// kKnownKeys lists every key the loader accepts, by full dotted name; tables
// are listed too (for suggestions). Keep in step with docs/config.md.
constexpr std::array<std::string_view, 22> kKnownKeys = {
    "spool",
    "engine",
    "engine.threads",
    "engine.pin_threads",
    "engine.inbox_capacity",
    "engine.shutdown_timeout_ms",
    "smtp",
    "smtp.helo_name",
    "smtp.default_sender",
    "smtp.connect_timeout_ms",
    "smtp.reply_timeout_ms",
    "smtp.data_timeout_ms",
    "smtp.chunking",
    "relay",
    "relay.host",
    "relay.port",
    "relay.tls",
    "relay.max_connections",
    "relay.max_messages_per_connection",
    "retry",
    "retry.schedule",
    "retry.max_age",
};

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
  std::string_view best;
  size_t best_distance = 3;
  auto depth = [](std::string_view s) { return std::count(s.begin(), s.end(), '.'); };
  for (std::string_view known : kKnownKeys) {
    if (depth(known) != depth(name)) continue;  // a key never suggests a table
    size_t distance = EditDistance(name, known);
    if (distance < best_distance) {
      best = known;
      best_distance = distance;
    }
  }
  if (!best.empty()) return best;
  for (std::string_view known : kKnownKeys) {
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

// Loader validates one parsed document into |config|. Errors are collected
// as the one with the smallest line number (ties: the first found), so the
// report does not depend on toml++'s (alphabetical) table order.
class Loader {
 public:
  Loader(const std::string& path, Config& config) : path_(path), config_(config) {}

  void Load(const toml::table& root) {
    for (const auto& [key, node] : root) {
      std::string name(key.str());
      if (name == "spool") {
        spool_seen_ = true;
        if (GetString(name, node, config_.spool, /*allow_spaces=*/true) && config_.spool.empty()) {
          Fail(LineOf(node.source()), "'spool' must not be empty");
        }
      } else if (name == "engine" || name == "smtp" || name == "relay" || name == "retry") {
        const toml::table* table = node.as_table();
        if (table == nullptr) {
          Fail(LineOf(node.source()), "'" + name + "' must be a table, got " + TypeName(node));
          continue;
        }
        if (name == "relay") relay_line_ = LineOf(table->source());
        for (const auto& [sub_key, sub_node] : *table) {
          LoadKey(name + "." + std::string(sub_key.str()), sub_key, sub_node);
        }
      } else {
        Unknown(name, key, node);
      }
    }
    if (!spool_seen_) {
      Fail(1, "missing required key 'spool' (the spool directory, e.g. spool = \"/var/spool/ringmail\")");
    }
    if (!relay_host_seen_) {
      Fail(relay_line_,
           "missing required key 'relay.host' (the smarthost to deliver to, e.g. "
           "[relay] host = \"127.0.0.1\")");
    }
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

  void LoadKey(const std::string& name, const toml::key& key, const toml::node& node) {
    EngineConfig& engine = config_.engine;
    SmtpConfig& smtp = config_.smtp;
    RelayConfig& relay = config_.relay;
    if (name == "engine.threads") {
      GetInt(name, node, 0, kMaxThreads, engine.threads);
    } else if (name == "engine.pin_threads") {
      GetBool(name, node, engine.pin_threads);
    } else if (name == "engine.inbox_capacity") {
      if (GetInt(name, node, 64, 1 << 20, engine.inbox_capacity) &&
          (engine.inbox_capacity & (engine.inbox_capacity - 1)) != 0) {
        Fail(LineOf(node.source()), "'" + name + "' must be a power of two (64, 128, ... 1048576), got " +
                                        std::to_string(engine.inbox_capacity));
      }
    } else if (name == "engine.shutdown_timeout_ms") {
      GetInt(name, node, 0, kMaxTimeoutMs, engine.shutdown_timeout_ms);
    } else if (name == "smtp.helo_name") {
      GetString(name, node, smtp.helo_name, /*allow_spaces=*/false);
    } else if (name == "smtp.default_sender") {
      GetString(name, node, smtp.default_sender, /*allow_spaces=*/false);
    } else if (name == "smtp.connect_timeout_ms") {
      GetInt(name, node, 1, kMaxTimeoutMs, smtp.connect_timeout_ms);
    } else if (name == "smtp.reply_timeout_ms") {
      GetInt(name, node, 1, kMaxTimeoutMs, smtp.reply_timeout_ms);
    } else if (name == "smtp.data_timeout_ms") {
      GetInt(name, node, 1, kMaxTimeoutMs, smtp.data_timeout_ms);
    } else if (name == "smtp.chunking") {
      GetBool(name, node, smtp.chunking);
    } else if (name == "relay.host") {
      relay_host_seen_ = true;
      if (GetString(name, node, relay.host, /*allow_spaces=*/false) && relay.host.empty()) {
        Fail(LineOf(node.source()), "'relay.host' must not be empty");
      }
    } else if (name == "relay.port") {
      GetInt(name, node, 1, 65535, relay.port);
    } else if (name == "relay.tls") {
      LoadTls(node);
    } else if (name == "relay.max_connections") {
      GetInt(name, node, 1, 1'000, relay.max_connections);
    } else if (name == "relay.max_messages_per_connection") {
      GetInt(name, node, 1, 1'000'000, relay.max_messages_per_connection);
    } else if (name == "retry.schedule") {
      LoadSchedule(node);
    } else if (name == "retry.max_age") {
      GetDuration(name, node, config_.retry.max_age);
    } else {
      Unknown(name, key, node);
    }
  }

  template <typename T>
  bool GetInt(const std::string& name, const toml::node& node, int64_t min, int64_t max, T& out) {
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
    out = static_cast<T>(v);
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

  void LoadTls(const toml::node& node) {
    std::string level;
    if (!GetString("relay.tls", node, level, /*allow_spaces=*/true)) return;
    uint32_t line = LineOf(node.source());
    if (level == "none") {
      config_.relay.tls = TlsLevel::kNone;
    } else if (level == "may" || level == "encrypt" || level == "verify" || level == "secure") {
      Fail(line, "relay.tls = \"" + level +
                     "\" is not supported yet: this build delivers in clear only (tls = \"none\"); "
                     "TLS levels arrive with the TLS work");
    } else {
      Fail(line, "unknown TLS level relay.tls = \"" + level +
                     "\"; the levels are none, may, encrypt, verify and secure (this build accepts "
                     "only \"none\")");
    }
  }

  void LoadSchedule(const toml::node& node) {
    const toml::array* array = node.as_array();
    uint32_t line = LineOf(node.source());
    if (array == nullptr) {
      Fail(line, std::string("'retry.schedule' must be an array of durations such as [\"1m\", \"5m\", "
                             "\"1h\"], got ") +
                     TypeName(node));
      return;
    }
    if (array->empty() || array->size() > kMaxRetrySteps) {
      Fail(line, "'retry.schedule' must hold 1 to " + std::to_string(kMaxRetrySteps) + " durations, got " +
                     std::to_string(array->size()));
      return;
    }
    std::vector<std::chrono::seconds> schedule;
    for (size_t i = 0; i < array->size(); ++i) {
      std::chrono::seconds step{0};
      if (!GetDuration("retry.schedule[" + std::to_string(i) + "]", *array->get(i), step)) return;
      schedule.push_back(step);
    }
    config_.retry.schedule = std::move(schedule);
  }

  const std::string& path_;
  Config& config_;
  bool spool_seen_ = false;
  bool relay_host_seen_ = false;
  uint32_t relay_line_ = 1;  // line of [relay], 1 when the file has none
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
    out = std::move(config);
    return true;
  } catch (const std::exception& e) {
    // Only std::bad_alloc is expected here; never let it escape.
    error = "cannot load config file " + path + ": " + e.what();
    return false;
  }
}

}  // namespace ringmail
