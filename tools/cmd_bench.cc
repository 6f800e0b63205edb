// tools/cmd_bench.cc — `ringmail bench`: the end-to-end benchmark. Generates
// a spool of synthetic alerts, starts `ringmail sink` as a child process on
// loopback, runs the engine in this process over the spool (one drain), and
// reports messages/s and CPU µs per message for the engine and the sink
// separately (getrusage of each process: the engine's figure includes its
// intake thread, its workers and the kernel's io-wq threads that run its
// renames and unlinks; the generator's time is excluded).
//
// Not for production spools: it creates and removes its own temporary spool.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "engine/engine.h"
#include "tools/commands.h"

namespace ringmail {
namespace {

double cpu_seconds_self() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double monotonic_seconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// generate_spool writes |count| alerts of about |size| bytes the way a
// producer must (incoming/tmp, then rename into incoming/new). No fsync:
// the benchmark measures delivery, not the producer's durability.
bool generate_spool(const std::string& root, uint64_t count, uint32_t size, std::string& error) {
  for (const char* dir : {"", "/incoming", "/incoming/tmp", "/incoming/new"}) {
    if (mkdir((root + dir).c_str(), 0700) != 0 && errno != EEXIST) {
      error = fmt::format("cannot create {}{}: {}", root, dir, std::strerror(errno));
      return false;
    }
  }
  std::string body;
  const std::string line(75, 'x');
  while (body.size() + 76 < size) body += line + "\n";
  const int tmp_fd = open((root + "/incoming/tmp").c_str(), O_RDONLY | O_DIRECTORY);
  const int new_fd = open((root + "/incoming/new").c_str(), O_RDONLY | O_DIRECTORY);
  std::string message;
  for (uint64_t i = 0; i < count; ++i) {
    message = fmt::format(
        "X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <ops@example.org>\n"
        "From: Monitoring <alerts@example.com>\nTo: ops@example.org\nSubject: [ALERT] host-{} disk usage "
        "above 90%\nMessage-Id: <bench-{}@ringmail.test>\n\n",
        i % 997, i);
    message += body.substr(0, size > message.size() ? size - message.size() : 0);
    char name[32];
    std::snprintf(name, sizeof(name), "b%010llu", static_cast<unsigned long long>(i));
    const int fd = openat(tmp_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
      error = fmt::format("cannot write {}/incoming/tmp/{}: {}", root, name, std::strerror(errno));
      return false;
    }
    close(fd);
    renameat(tmp_fd, name, new_fd, name);
  }
  close(tmp_fd);
  close(new_fd);
  return true;
}

struct SinkProcess {
  pid_t pid = -1;
  uint16_t port = 0;
};

// start_sink runs `ringmail sink` (this binary) on 127.0.0.1, an ephemeral
// port, and reads the port from its "listening on" line.
bool start_sink(const std::string& stats_file, uint32_t threads, SinkProcess& sink, std::string& error) {
  int out[2];
  if (pipe(out) != 0) {
    error = "pipe failed";
    return false;
  }
  sink.pid = fork();
  if (sink.pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    const std::string threads_arg = std::to_string(threads);
    execl("/proc/self/exe", "ringmail", "sink", "--listen", "127.0.0.1:0", "--report-interval-ms", "0",
          "--stats-file", stats_file.c_str(), "--threads", threads_arg.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* from_sink = fdopen(out[0], "r");
  char line[256];
  while (std::fgets(line, sizeof(line), from_sink) != nullptr) {
    const char* at = std::strstr(line, "listening on ");
    if (at == nullptr) continue;
    const char* colon = std::strrchr(at, ':');
    sink.port = static_cast<uint16_t>(std::atoi(colon + 1));
    break;
  }
  // Keep reading its stdout in the background would need a thread; the sink
  // prints only its final line after this, which fits in the pipe buffer.
  if (sink.port == 0) {
    error = "the sink did not start (no 'listening on' line)";
    return false;
  }
  return true;
}

bool read_sink_stats(const std::string& path, double& cpu_us_per_msg, uint64_t& messages) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string json = text.str();
  auto number_after = [&](const char* key) -> double {
    const size_t at = json.find(key);
    if (at == std::string::npos) return -1;
    return std::atof(json.c_str() + at + std::strlen(key));
  };
  messages = static_cast<uint64_t>(number_after("\"messages\":"));
  cpu_us_per_msg = number_after("\"cpu_us_per_msg\":");
  return cpu_us_per_msg >= 0;
}

}  // namespace

int cmd_bench(const BenchOptions& options) {
  std::string base = options.spool_base;
  if (base.empty()) base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  char root_template[512];
  std::snprintf(root_template, sizeof(root_template), "%s/ringmail-bench.XXXXXX", base.c_str());
  if (mkdtemp(root_template) == nullptr) {
    std::fprintf(stderr, "ringmail bench: cannot create a directory under %s: %s\n", base.c_str(),
                 std::strerror(errno));
    return 73;
  }
  const std::string root = root_template;
  const std::string spool = root + "/spool";
  std::string error;
  std::fprintf(stderr, "ringmail bench: generating %llu alerts of %u bytes in %s\n",
               static_cast<unsigned long long>(options.messages), options.size_bytes, spool.c_str());
  if (!generate_spool(spool, options.messages, options.size_bytes, error)) {
    std::fprintf(stderr, "ringmail bench: %s\n", error.c_str());
    std::filesystem::remove_all(root);
    return 74;
  }

  SinkProcess sink;
  const std::string stats_file = root + "/sink-stats.json";
  if (!start_sink(stats_file, options.sink_threads, sink, error)) {
    std::fprintf(stderr, "ringmail bench: %s\n", error.c_str());
    std::filesystem::remove_all(root);
    return 71;
  }

  Config config;
  config.spool = spool;
  config.engine.threads = options.threads;
  config.smtp.helo_name = "bench.ringmail.test";
  config.smtp.default_sender = "alerts@example.com";
  config.relay.host = "127.0.0.1";
  config.relay.port = sink.port;
  config.relay.max_connections = options.connections;
  config.relay.max_messages_per_connection = options.messages_per_connection;
  config.smtp.chunking = !options.no_chunking;

  const double cpu_before = cpu_seconds_self();
  const double wall_before = monotonic_seconds();
  EngineResult result;
  const bool ok = run_engine(config, /*drain=*/true, result, error);
  const double engine_cpu = cpu_seconds_self() - cpu_before;
  const double wall = monotonic_seconds() - wall_before;

  kill(sink.pid, SIGTERM);
  int status = 0;
  waitpid(sink.pid, &status, 0);
  double sink_cpu_us = -1;
  uint64_t sink_messages = 0;
  read_sink_stats(stats_file, sink_cpu_us, sink_messages);
  std::filesystem::remove_all(root);
  if (!ok) {
    std::fprintf(stderr, "ringmail bench: %s\n", error.c_str());
    return 71;
  }

  const uint64_t delivered = result.totals.delivered;
  const double rate = wall > 0 ? static_cast<double>(delivered) / wall : 0;
  const double engine_us = delivered > 0 ? engine_cpu * 1e6 / static_cast<double>(delivered) : 0;
  fmt::print("\n{:<10} {:>9} {:>7} {:>6} {:>12} {:>16} {:>14}\n", "tls", "messages", "size", "conns", "msg/s",
             "engine cpu us/msg", "sink cpu us/msg");
  fmt::print("{:<10} {:>9} {:>7} {:>6} {:>12.0f} {:>16.1f} {:>14.1f}\n", "none", delivered,
             options.size_bytes, options.connections, rate, engine_us, sink_cpu_us);
  fmt::print(
      "{{\"tls\":\"none\",\"chunking\":{},\"messages\":{},\"size_bytes\":{},\"connections\":{},\"threads\":{}"
      ",\"spool\":\"{}\","
      "\"seconds\":{:.3f},\"msgs_per_s\":{:.0f},\"engine_cpu_us_per_msg\":{:.2f},\"sink_cpu_us_per_msg\":{:."
      "2f},"
      "\"sink_messages\":{},\"deferred\":{},\"failed\":{}}}\n",
      !options.no_chunking, delivered, options.size_bytes, options.connections, result.threads, base, wall,
      rate, engine_us, sink_cpu_us, sink_messages, result.totals.deferred, result.totals.failed);
  if (delivered != options.messages || sink_messages != options.messages) {
    std::fprintf(stderr, "ringmail bench: expected %llu deliveries, engine reports %llu, sink counted %llu\n",
                 static_cast<unsigned long long>(options.messages),
                 static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(sink_messages));
    return 70;
  }
  return 0;
}

}  // namespace ringmail
