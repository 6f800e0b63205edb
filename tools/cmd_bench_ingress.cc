// tools/cmd_bench_ingress.cc — `ringmail bench-ingress`: how fast the SMTP
// listener (issue 10) accepts alerts durably while the engine relays them
// onward. Per run: a fresh spool under --spool-base (a disk by default,
// /var/tmp), a fresh `ringmail sink` (--exit-after N, so its end marks the
// last delivery), a `ringmail run` daemon with one [[listen]] (clear, the
// bench's 127.0.0.0/8 trusted) relaying to the sink, then the load client
// (tools/bench/ingress_load.h) sends --clients × --messages alerts. It
// prints each run and the median of --runs: accepted msg/s (last final 250),
// delivered msg/s (the sink's last message), sync calls per message (the
// engine's /metrics: ringmail_ingress_commit_syncs_total over
// ringmail_ingress_messages_accepted_total) and the engine's CPU µs per
// message (its rusage, accepting and relaying).
//
// --target HOST:PORT loads an SMTP server that is already running (the
// sink, Postfix, ...) instead: no engine, no sink, accepted msg/s only.
//
// Children are started from this binary (tools/bench/bench_child.h) and
// stopped by pid. A run that loses a message or sees an unexpected reply
// stops the bench with the reason and exit status 70: no rate is reported
// for it. Not for production spools: the work folder is removed at the end
// (kept after a failed run, for its logs).
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "queue/monotonic_clock.h"
#include "tls/testing/test_certificates.h"
#include "tools/bench/bench_child.h"
#include "tools/bench/bench_plan.h"
#include "tools/bench/bench_results.h"
#include "tools/bench/bench_spool.h"
#include "tools/bench/ingress_load.h"
#include "tools/commands.h"

namespace ringmail {
namespace {

constexpr int kExitUsage = 64;
constexpr int kExitSoftware = 70;  // a run failed: no rate reported
constexpr int kExitCantCreate = 73;

// RunFigures is what one run measured.
struct RunFigures {
  double accepted_rate = 0;       // msg/s: accepted / (first connect .. last final 250)
  double delivered_rate = 0;      // msg/s: messages / (first connect .. the sink's last message)
  double syncs_per_message = -1;  // -1: the engine did not say
  double engine_cpu_us = -1;      // per message; -1 without an engine
  double sink_cpu_us = -1;
  bench::LoadResult load;
};

// Setup is what every run shares.
struct Setup {
  std::string exe;
  std::string work_dir;
  std::string spool;
  bench::LoadOptions load;
};

// free_port asks the kernel for an unused loopback port (0 on failure). A
// race with another program taking it before the engine binds is possible
// and shows as the engine not starting.
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// connect_loopback opens a blocking TCP connection to 127.0.0.1:|port|; -1
// when nothing listens.
int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// http_get_metrics fetches http://127.0.0.1:|port|/metrics ("" on failure).
std::string http_get_metrics(uint16_t port) {
  const int fd = connect_loopback(port);
  if (fd < 0) return "";
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  std::string text;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[16384];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// metric_value is the value of the sample line that starts with |name| and
// a space (no labels) in a Prometheus text page; -1 if there is none.
double metric_value(const std::string& page, const std::string& name) {
  size_t at = 0;
  while ((at = page.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || page[at - 1] == '\n') return std::strtod(page.c_str() + at + name.size() + 1, nullptr);
    at += name.size();
  }
  return -1;
}

// engine_config is the daemon's config: the spool, the relay to the sink in
// clear, one clear listener that trusts loopback, /metrics on loopback.
std::string engine_config(const Setup& setup, uint32_t threads, uint16_t sink_port, uint16_t listen_port,
                          uint16_t metrics_port) {
  return fmt::format(
      "# ringmail bench-ingress\n"
      "spool = \"{}\"\n"
      "[engine]\nthreads = {}\n"
      "[smtp]\nhelo_name = \"bench.ringmail.test\"\ndefault_sender = \"alerts@example.com\"\n"
      "connect_timeout_ms = 5000\nreply_timeout_ms = 10000\ndata_timeout_ms = 10000\n"
      "[relay]\nhost = \"localhost\"\nport = {}\ntls = \"none\"\nmax_connections = 16\n"
      "max_messages_per_connection = 100000\n"
      // A refused message must show as lost, not as a bounce the sink counts.
      "[bounce]\nenabled = false\n"
      "[metrics]\nlisten = \"127.0.0.1:{}\"\n"
      "[[listen]]\naddress = \"127.0.0.1:{}\"\ntls = \"none\"\ntrusted_networks = [\"127.0.0.0/8\"]\n"
      "max_connections = {}\nmax_connections_per_ip = {}\nmax_message_size = \"1M\"\n",
      setup.spool, threads, sink_port, metrics_port, listen_port, setup.load.clients + 64,
      setup.load.clients + 64);
}

// wait_listening waits up to 15 s for the engine to accept connections on
// |port|. False with |error| if the engine ends first or never listens.
bool wait_listening(pid_t engine, uint16_t port, const std::string& err_path, std::string& error) {
  const double deadline = monotonic_s() + 15;
  while (monotonic_s() < deadline) {
    const int fd = connect_loopback(port);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    int status = 0;
    if (::waitpid(engine, &status, WNOHANG) == engine) {
      error = fmt::format("the engine ended before listening: {}",
                          bench::last_lines(bench::read_text_file(err_path), 3));
      return false;
    }
    ::usleep(5000);
  }
  error = "the engine did not listen within 15 s";
  return false;
}

// check_load says why a load run does not count ("" when it does).
std::string check_load(const bench::LoadOptions& options, const bench::LoadResult& load) {
  const uint64_t want = options.clients * options.messages_per_client;
  if (load.timed_out) {
    return fmt::format("the load did not finish within {:.0f} s ({} of {} accepted)", options.time_limit_s,
                       load.accepted, want);
  }
  if (load.accepted != want) {
    return fmt::format("{} of {} messages accepted{}{}", load.accepted, want,
                       load.first_error.empty() ? "" : "; first error: ", load.first_error);
  }
  return "";
}

// run_target loads an SMTP server that already runs.
bool run_target(const Setup& setup, RunFigures& out, std::string& failure) {
  std::string error;
  if (!bench::run_ingress_load(setup.load, out.load, error)) {
    failure = error;
    return false;
  }
  failure = check_load(setup.load, out.load);
  out.accepted_rate = out.load.rate();
  return failure.empty();
}

// run_engine is one full run: sink, engine with a listener, load, wait for
// every message at the sink, stop the engine.
bool run_engine(const Setup& setup, uint32_t threads, RunFigures& out, std::string& failure) {
  std::error_code ignored;
  std::filesystem::remove_all(setup.spool, ignored);
  const uint64_t total = setup.load.clients * setup.load.messages_per_client;
  bench::SinkLaunch launch;
  launch.exe = setup.exe;
  launch.stats_file = setup.work_dir + "/sink-stats.json";
  launch.log_prefix = setup.work_dir + "/sink";
  launch.extra = {"--exit-after", std::to_string(total)};
  std::filesystem::remove(launch.stats_file, ignored);
  bench::SinkProcess sink;
  std::string error;
  if (!bench::start_sink(launch, sink, error)) {
    failure = error;
    return false;
  }
  const uint16_t listen_port = free_port();
  const uint16_t metrics_port = free_port();
  const std::string config_path = setup.work_dir + "/engine.toml";
  const std::string engine_out = setup.work_dir + "/engine.out";
  const std::string engine_err = setup.work_dir + "/engine.err";
  pid_t engine = -1;
  bench::ChildExit sink_exit, engine_exit;
  auto stop_all = [&] {
    if (engine > 0) {
      ::kill(engine, SIGTERM);
      bench::wait_child(engine, 20, 5, {}, engine_exit);
      engine = -1;
    }
    bench::stop_sink(sink, sink_exit);
  };
  if (!test::write_text_file(config_path, engine_config(setup, threads, sink.port, listen_port, metrics_port),
                             error) ||
      !bench::spawn_child({setup.exe, "run", "-c", config_path}, engine_out, engine_err, engine, error) ||
      !wait_listening(engine, listen_port, engine_err, error)) {
    if (engine > 0 && ::waitpid(engine, nullptr, WNOHANG) == engine) engine = -1;
    stop_all();
    failure = error;
    return false;
  }

  bench::LoadOptions load = setup.load;
  load.port = listen_port;
  const double started = monotonic_s();
  if (!bench::run_ingress_load(load, out.load, error)) {
    stop_all();
    failure = error;
    return false;
  }
  failure = check_load(load, out.load);
  out.accepted_rate = out.load.rate();
  // The sink ends itself at its N-th message (--exit-after): that moment is
  // the last delivery.
  if (failure.empty()) {
    bench::wait_child(sink.pid, 30 + static_cast<double>(total) / 1000, 2, {}, sink_exit);
    const double delivered_at = monotonic_s();
    sink.pid = -1;
    if (sink_exit.timed_out) {
      failure = fmt::format("the sink did not receive all {} messages within the time limit", total);
    } else {
      out.delivered_rate = static_cast<double>(total) / (delivered_at - started);
    }
  }
  const std::string metrics = http_get_metrics(metrics_port);
  stop_all();
  if (!failure.empty()) return false;
  bench::SinkStats stats;
  if (!bench::parse_sink_stats(bench::read_text_file(launch.stats_file), stats, error) ||
      stats.messages != total) {
    failure = fmt::format("the sink counted {} of {} messages", stats.messages, total);
    return false;
  }
  const double syncs = metric_value(metrics, "ringmail_ingress_commit_syncs_total");
  const double accepted = metric_value(metrics, "ringmail_ingress_messages_accepted_total");
  if (syncs >= 0 && accepted > 0) out.syncs_per_message = syncs / accepted;
  out.engine_cpu_us = engine_exit.cpu_seconds() * 1e6 / static_cast<double>(total);
  out.sink_cpu_us = sink_exit.cpu_seconds() * 1e6 / static_cast<double>(total);
  return true;
}

std::string figures_line(const RunFigures& f, bool engine) {
  std::string line = fmt::format("accepted {:.0f} msg/s", f.accepted_rate);
  if (engine) {
    line += fmt::format(", delivered {:.0f} msg/s", f.delivered_rate);
    line += f.syncs_per_message >= 0 ? fmt::format(", {:.3f} syncs/msg", f.syncs_per_message)
                                     : std::string(", syncs/msg unknown (no /metrics figure)");
    line += fmt::format(", engine CPU {:.1f} µs/msg, sink CPU {:.1f} µs/msg", f.engine_cpu_us, f.sink_cpu_us);
  }
  line += fmt::format(", final reply p50 {:.2f} ms p99 {:.2f} ms", f.load.latency_p50_us / 1000,
                      f.load.latency_p99_us / 1000);
  return line;
}

void print_summary(const std::vector<RunFigures>& runs, bool engine) {
  auto column = [&](double RunFigures::*field) {
    std::vector<double> values;
    for (const RunFigures& f : runs) values.push_back(f.*field);
    return bench::spread_of(values).median;
  };
  fmt::print("median of {} run(s):\n", runs.size());
  fmt::print("  accepted msg/s        {:.0f}\n", column(&RunFigures::accepted_rate));
  if (!engine) return;
  fmt::print("  delivered msg/s       {:.0f}\n", column(&RunFigures::delivered_rate));
  const double syncs = column(&RunFigures::syncs_per_message);
  if (syncs >= 0) {
    fmt::print("  sync calls per msg    {:.3f}\n", syncs);
  } else {
    fmt::print(
        "  sync calls per msg    unknown (the engine's /metrics has no "
        "ringmail_ingress_commit_syncs_total)\n");
  }
  fmt::print("  engine CPU µs/msg     {:.1f}\n", column(&RunFigures::engine_cpu_us));
  fmt::print("  sink CPU µs/msg       {:.1f}\n", column(&RunFigures::sink_cpu_us));
}

bool parse_target(const std::string& target, bench::LoadOptions& load, std::string& error) {
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos || colon + 1 == target.size()) {
    error = fmt::format("--target '{}' is not HOST:PORT (an IP literal, [::1] for IPv6)", target);
    return false;
  }
  std::string host = target.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const long port = std::strtol(target.c_str() + colon + 1, nullptr, 10);
  if (port <= 0 || port > 65535) {
    error = fmt::format("--target '{}': the port must be 1..65535", target);
    return false;
  }
  load.host = host;
  load.port = static_cast<uint16_t>(port);
  return true;
}

int run_bench(const BenchIngressOptions& options, Setup& setup, const std::string& base) {
  const bool engine = options.target.empty();
  const uint32_t threads =
      options.threads > 0 ? options.threads : static_cast<uint32_t>(sysconf(_SC_NPROCESSORS_ONLN));
  fmt::print("ringmail bench-ingress: {} clients x {} messages of {} bytes ({}), {} run(s)\n",
             options.clients, options.messages, setup.load.message_bytes,
             options.bdat ? "BDAT" : "DATA, PIPELINING", options.runs);
  if (engine) {
    fmt::print("engine: {} worker(s) on {} CPU(s); spool under {}: {}\n", threads,
               sysconf(_SC_NPROCESSORS_ONLN), base, bench::spool_filesystem(base).describe());
  } else {
    fmt::print("target: {} (an SMTP server already running; no engine, no sink)\n", options.target);
  }
  std::fflush(stdout);
  std::vector<RunFigures> runs;
  for (uint32_t r = 0; r < options.runs; ++r) {
    RunFigures figures;
    std::string failure;
    const bool ok =
        engine ? run_engine(setup, threads, figures, failure) : run_target(setup, figures, failure);
    if (!ok) {
      std::fprintf(stderr,
                   "ringmail bench-ingress: FAILED: run %u: %s.\nringmail bench-ingress: a run that loses a "
                   "message has no rate; nothing is reported. Logs are in %s.\n",
                   r + 1, failure.c_str(), setup.work_dir.c_str());
      return kExitSoftware;
    }
    fmt::print("run {}: {}\n", r + 1, figures_line(figures, engine));
    std::fflush(stdout);
    runs.push_back(figures);
  }
  print_summary(runs, engine);
  return 0;
}

}  // namespace

CLI::App* add_bench_ingress_command(CLI::App& app, BenchIngressOptions& options) {
  auto* cmd =
      app.add_subcommand("bench-ingress",
                         "How fast the SMTP listener accepts alerts durably (fsync before 250) while "
                         "relaying them to the bundled "
                         "sink: accepted and delivered msg/s, sync calls and engine CPU µs per message");
  cmd->add_option("--clients", options.clients, "Concurrent SMTP connections")->capture_default_str();
  cmd->add_option("--messages,-n", options.messages, "Alerts per connection")->capture_default_str();
  cmd->add_option("--runs", options.runs, "Runs; the median is reported")->capture_default_str();
  cmd->add_option("--size", options.size, "Alert size: 1k, 2k, 10k or bytes")->capture_default_str();
  cmd->add_flag("--bdat", options.bdat, "Send with BDAT n LAST (CHUNKING) instead of DATA");
  cmd->add_option("--threads", options.threads, "Engine workers (0 = one per CPU)")->capture_default_str();
  cmd->add_option("--spool-base", options.spool_base,
                  "Folder for the temporary spool (default /var/tmp, a disk; /dev/shm for tmpfs)");
  cmd->add_option("--target", options.target,
                  "HOST:PORT of an SMTP server already running: load it alone (no engine, no sink)");
  cmd->add_option("--time-limit", options.time_limit_s, "Seconds each run's load may take")
      ->capture_default_str();
  cmd->footer(
      "Exit status: 0 done; 64 usage; 70 a run lost a message or got an unexpected reply (the reason is "
      "printed; no rate is reported); 73 the work folder cannot be made.");
  return cmd;
}

int cmd_bench_ingress(const BenchIngressOptions& options) {
  Setup setup;
  std::vector<uint32_t> sizes;
  std::string error;
  if (!bench::parse_sizes(options.size, sizes, error) || sizes.size() != 1) {
    std::fprintf(stderr, "ringmail bench-ingress: --size: %s\n",
                 error.empty() ? "give one size" : error.c_str());
    return kExitUsage;
  }
  if (options.clients == 0 || options.messages == 0 || options.runs == 0) {
    std::fprintf(stderr, "ringmail bench-ingress: --clients, --messages and --runs must be at least 1\n");
    return kExitUsage;
  }
  setup.load.clients = options.clients;
  setup.load.messages_per_client = options.messages;
  setup.load.message_bytes = sizes[0];
  setup.load.bdat = options.bdat;
  setup.load.time_limit_s = options.time_limit_s;
  if (!options.target.empty() && !parse_target(options.target, setup.load, error)) {
    std::fprintf(stderr, "ringmail bench-ingress: %s\n", error.c_str());
    return kExitUsage;
  }
  char exe[PATH_MAX] = {};
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    std::fprintf(stderr, "ringmail bench-ingress: cannot find this program (/proc/self/exe): %s\n",
                 std::strerror(errno));
    return kExitCantCreate;
  }
  setup.exe.assign(exe, static_cast<size_t>(n));
  const std::string base = options.spool_base.empty() ? "/var/tmp" : options.spool_base;
  std::string root = base + "/ringmail-bench-ingress.XXXXXX";
  if (mkdtemp(root.data()) == nullptr) {
    std::fprintf(stderr,
                 "ringmail bench-ingress: cannot create a folder under %s: %s; give --spool-base a writable "
                 "folder\n",
                 base.c_str(), std::strerror(errno));
    return kExitCantCreate;
  }
  setup.work_dir = root;
  setup.spool = root + "/spool";
  const int status = run_bench(options, setup, base);
  if (status != kExitSoftware) {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  return status;
}

}  // namespace ringmail
