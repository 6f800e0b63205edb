// tools/bench/bench_child.cc — see bench_child.h.
#include "tools/bench/bench_child.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "queue/monotonic_clock.h"

extern char** environ;

namespace ringmail::bench {

namespace {

void sleep_ms(uint32_t ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1'000'000L};
  nanosleep(&ts, nullptr);
}

// number_after returns the number following |key| in |json|, or -1.
double number_after(const std::string& json, const char* key) {
  const size_t at = json.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(json.c_str() + at + std::strlen(key), nullptr);
}

}  // namespace

double ChildExit::cpu_seconds() const {
  auto seconds = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string ChildExit::describe() const {
  if (timed_out) return "stopped at the bench's time limit";
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return "ended oddly";
}

bool ChildExit::ok() const { return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

bool spawn_child(const std::vector<std::string>& argv, const std::string& stdout_path,
                 const std::string& stderr_path, pid_t& pid, std::string& error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO,
                                   stdout_path.empty() ? "/dev/null" : stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO,
                                   stderr_path.empty() ? "/dev/null" : stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    error = fmt::format("cannot start {}: {}", argv[0], std::strerror(rc));
    return false;
  }
  return true;
}

uint64_t read_vm_hwm(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

void wait_child(pid_t pid, double timeout_s, uint32_t poll_ms, const std::function<void()>& tick,
                ChildExit& out) {
  const double deadline = monotonic_s() + timeout_s;
  bool term_sent = false;
  for (;;) {
    const uint64_t hwm = read_vm_hwm(pid);
    if (hwm > out.peak_rss) out.peak_rss = hwm;
    const pid_t done = wait4(pid, &out.status, WNOHANG, &out.usage);
    if (done == pid || (done < 0 && errno != EINTR)) return;
    if (tick) tick();
    const double now = monotonic_s();
    if (now > deadline && !term_sent) {
      out.timed_out = true;
      kill(pid, SIGTERM);
      term_sent = true;
    } else if (now > deadline + 5) {
      kill(pid, SIGKILL);
    }
    sleep_ms(poll_ms);
  }
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string last_lines(const std::string& text, size_t count) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // A live status line ends in \r...; keep what follows the last \r.
    const size_t cr = line.find_last_of('\r', line.size() >= 2 ? line.size() - 2 : 0);
    if (cr != std::string::npos && cr + 1 < line.size()) line = line.substr(cr + 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  std::string joined;
  for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i) {
    if (!joined.empty()) joined += "; ";
    joined += lines[i];
  }
  return joined;
}

bool start_sink(const SinkLaunch& launch, SinkProcess& sink, std::string& error) {
  std::vector<std::string> argv = {
      launch.exe, "sink",         "--listen",        "127.0.0.1:0", "--report-interval-ms",
      "0",        "--stats-file", launch.stats_file, "--threads",   std::to_string(launch.threads)};
  if (!launch.cert_file.empty()) {
    argv.insert(argv.end(), {"--tls-cert", launch.cert_file, "--tls-key", launch.key_file});
    if (launch.implicit_tls) argv.push_back("--implicit-tls");
  }
  argv.insert(argv.end(), launch.extra.begin(), launch.extra.end());
  const std::string out_path = launch.log_prefix + ".out";
  const std::string err_path = launch.log_prefix + ".err";
  if (!spawn_child(argv, out_path, err_path, sink.pid, error)) return false;
  const double deadline = monotonic_s() + 10;
  while (monotonic_s() < deadline) {
    const std::string out = read_text_file(out_path);
    const size_t at = out.find("listening on ");
    const size_t end = at == std::string::npos ? at : out.find('\n', at);
    if (end != std::string::npos) {
      const size_t colon = out.rfind(':', end);
      sink.port = static_cast<uint16_t>(std::atoi(out.c_str() + colon + 1));
      if (sink.port != 0) return true;
    }
    int status = 0;
    if (waitpid(sink.pid, &status, WNOHANG) == sink.pid) {
      sink.pid = -1;
      error = fmt::format("the sink did not start: {}", last_lines(read_text_file(err_path), 3));
      return false;
    }
    sleep_ms(2);
  }
  ChildExit ignored;
  stop_sink(sink, ignored);
  error = "the sink did not start within 10 s (no 'listening on' line)";
  return false;
}

void stop_sink(SinkProcess& sink, ChildExit& out) {
  if (sink.pid <= 0) return;
  kill(sink.pid, SIGTERM);
  wait_child(sink.pid, 10, 5, {}, out);
  sink.pid = -1;
}

bool parse_sink_stats(const std::string& json, SinkStats& out, std::string& error) {
  struct Field {
    const char* key;
    uint64_t* value;
  };
  const Field fields[] = {
      {"\"messages\":", &out.messages},
      {"\"connections\":", &out.connections},
      {"\"tls_handshakes\":", &out.tls_handshakes},
      {"\"tls_resumed\":", &out.tls_resumed},
      {"\"tls_failed\":", &out.tls_failed},
      {"\"messages_tls\":", &out.messages_tls},
      {"\"bytes_in\":", &out.bytes_in},
      {"\"bytes_out\":", &out.bytes_out},
  };
  for (const Field& field : fields) {
    const double value = number_after(json, field.key);
    if (value < 0) {
      error = fmt::format("the sink's stats have no {} field", field.key);
      return false;
    }
    *field.value = static_cast<uint64_t>(value);
  }
  return true;
}

bool parse_engine_report(const std::string& text, EngineReport& out) {
  const size_t at = text.rfind("ringmail: delivered ");
  if (at == std::string::npos) return false;
  unsigned long long delivered = 0, partial = 0, deferred = 0, failed = 0;
  double seconds = 0;
  if (std::sscanf(text.c_str() + at,
                  "ringmail: delivered %llu, partial %llu, deferred %llu, failed %llu in %lf s", &delivered,
                  &partial, &deferred, &failed, &seconds) != 5) {
    return false;
  }
  // A partial message (some recipients refused) did not fully arrive: for
  // the bench it is a failure like any other.
  out = EngineReport{delivered, deferred, failed + partial, seconds};
  return true;
}

}  // namespace ringmail::bench
