// tools/cmd_bench.cc — `ringmail bench`: the throughput cost of strict TLS,
// measured on this machine. Generates a CA and a server certificate for the
// sink, measures the crypto floor in memory, then for every configuration
// (sizes × messages per connection) and TLS level runs a fresh spool through
// a fresh `ringmail sink` and a `ringmail run --drain` child (runs
// interleaved, --runs times each), and prints a table per configuration;
// --json and --svg write the same figures for machines and for people.
//
// The pieces are in tools/bench/ (plan, runner, floor, table, JSON, SVG,
// progress). A run in which any message fails to arrive stops the bench
// with the reason and exit status 70: no rate is reported for it.
//
// Not for production spools: everything lives in a temporary folder under
// --spool-base, removed at the end.
#include <fmt/format.h>
#include <signal.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "queue/monotonic_clock.h"
#include "tools/bench/bench_json.h"
#include "tools/bench/bench_progress.h"
#include "tools/bench/bench_run.h"
#include "tools/bench/bench_svg.h"
#include "tools/bench/bench_table.h"
#include "tools/commands.h"

namespace ringmail {
namespace {

constexpr int kExitUsage = 64;
constexpr int kExitSoftware = 70;  // a run failed: no rate reported
constexpr int kExitCantCreate = 73;
constexpr int kExitIoError = 74;

std::atomic<bool> g_interrupted{false};

void on_interrupt(int) { g_interrupted.store(true); }

bool make_plan(const BenchOptions& options, bench::BenchPlan& plan, std::string& error) {
  const std::string levels =
      !options.tls.empty() ? options.tls
                           : (!options.levels.empty() ? options.levels : std::string(bench::kDefaultLevels));
  if (!bench::parse_levels(levels, plan.levels, error) ||
      !bench::parse_sizes(options.sizes, plan.sizes, error) ||
      !bench::parse_per_connection(options.per_connection, plan.per_connection, error) ||
      !bench::parse_resumption(options.resumption, plan.resumption, error)) {
    return false;
  }
  if (!test::parse_key_kind(options.cert, plan.cert)) {
    error = "--cert must be p256 or rsa2048";
    return false;
  }
  if (options.messages == 0 || options.runs == 0) {
    error = "--messages and --runs must be at least 1";
    return false;
  }
  plan.runs = options.runs;
  plan.messages = options.messages;
  plan.connections = options.connections;
  plan.threads = options.threads;
  plan.sink_threads = options.sink_threads;
  plan.chunking = !options.no_chunking;
  plan.sink_options = options.sink_options;
  return true;
}

bench::BenchMachine describe_machine(const BenchOptions& options, const std::string& base) {
  bench::BenchMachine machine;
  machine.cpus = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  machine.workers = options.threads > 0 ? options.threads : machine.cpus;
  utsname name{};
  if (uname(&name) == 0) machine.kernel = name.release;
  machine.spool_base = base;
  machine.spool_fs = bench::spool_filesystem(base);
  return machine;
}

// prepare makes the work folder: the CA and the sink's certificate, and the
// spool path. False with |error|.
bool prepare(const std::string& root, const test::ServerChain& chain, bench::RunEnvironment& env,
             std::string& error) {
  char exe[PATH_MAX] = {};
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    error = fmt::format("cannot find this program (/proc/self/exe): {}", std::strerror(errno));
    return false;
  }
  env.exe = std::string(exe, static_cast<size_t>(n));
  env.work_dir = root;
  env.spool = root + "/spool";
  env.ca_file = root + "/ca.pem";
  env.cert_file = root + "/server.pem";
  env.key_file = root + "/server.key";
  return chain.write_files(root, error);
}

bool write_output(const std::string& path, const std::string& text, const char* what) {
  std::string error;
  if (path.empty() || test::write_text_file(path, text, error)) return true;
  std::fprintf(stderr, "ringmail bench: cannot write the %s: %s\n", what, error.c_str());
  return false;
}

int run_bench(const bench::BenchPlan& plan, const BenchOptions& options, const std::string& root,
              const std::string& base) {
  const double started = monotonic_s();
  bench::BenchReport report;
  report.plan = plan;
  report.machine = describe_machine(options, base);
  const test::ServerChain chain = test::make_server_chain(plan.cert);
  bench::RunEnvironment env;
  std::string error;
  if (!prepare(root, chain, env, error) ||
      !bench::measure_crypto_floor(chain, env.ca_file, plan.sizes, report.floor, error)) {
    std::fprintf(stderr, "ringmail bench: %s\n", error.c_str());
    return kExitCantCreate;
  }
  fmt::print("{}", bench::format_header(report));
  std::fflush(stdout);

  // From here a signal ends the bench after the run in progress (whose
  // children get SIGINT from the terminal too), so the folder is removed.
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const std::vector<bench::RunSpec> specs = bench::interleaved_runs(plan);
  bench::Progress progress(stdout, isatty(STDOUT_FILENO) == 1, specs.size());
  std::vector<bench::RunResult> results;
  for (size_t i = 0; i < specs.size(); ++i) {
    progress.start_run(i, bench::describe_run(plan, specs[i]));
    bench::RunResult result;
    std::string failure;
    const bool ok = bench::execute_run(
        plan, env, specs[i], [&] { progress.tick(); }, result, failure);
    if (g_interrupted.load()) {
      progress.clear();
      std::fprintf(stderr, "ringmail bench: interrupted; no results\n");
      return 130;
    }
    if (!ok) {
      progress.clear();
      std::fprintf(
          stderr,
          "ringmail bench: FAILED: %s.\nringmail bench: a run that loses or defers messages has no rate; "
          "nothing is reported. The sink's and the engine's logs were in %s.\n",
          failure.c_str(), root.c_str());
      return kExitSoftware;
    }
    progress.finish_run(result);
    results.push_back(result);
  }
  progress.clear();
  report.groups = bench::summarize(plan, results, report.floor, report.machine.cpus);
  report.resumption_gains = bench::resumption_gains(report.groups);
  report.seconds = monotonic_s() - started;
  fmt::print("{}", bench::format_tables(report));
  fmt::print("bench took {:.1f} s\n", report.seconds);
  std::fflush(stdout);
  const bool written = write_output(options.json_file, bench::format_json(report), "JSON file") &&
                       write_output(options.svg_file, bench::format_svg(report), "SVG file");
  return written ? 0 : kExitIoError;
}

}  // namespace

CLI::App* add_bench_command(CLI::App& app, BenchOptions& options) {
  auto* cmd = app.add_subcommand(
      "bench",
      "The throughput cost of strict TLS on this machine: deliver generated alerts to the bundled sink on "
      "loopback under each TLS level; msg/s, CPU µs per message (engine and sink), handshakes, bytes, "
      "memory, "
      "and the ratio to TLS off");
  cmd->add_option(
      "--levels", options.levels,
      "TLS levels, comma-separated: none, may, encrypt, verify, secure, implicit (implicit TLS at "
      "verify); default all six");
  auto* tls = cmd->add_option("--tls", options.tls, "One TLS level (shorthand for --levels LEVEL)");
  tls->excludes(cmd->get_option("--levels"));
  cmd->add_option("--messages,-n", options.messages, "Alerts delivered per run")->capture_default_str();
  cmd->add_option("--runs", options.runs, "Runs per level and configuration (interleaved)")
      ->capture_default_str();
  cmd->add_option("--size", options.sizes, "Alert size: 1k, 10k, 100k or bytes; several comma-separated")
      ->capture_default_str();
  cmd->add_option("--per-connection,--messages-per-connection", options.per_connection,
                  "relay.max_messages_per_connection; several comma-separated, e.g. 1,10,100")
      ->capture_default_str();
  cmd->add_option("--resumption", options.resumption,
                  "TLS session resumption (tls.session_resumption): on, off, or on,off to compare")
      ->capture_default_str();
  cmd->add_option("--cert", options.cert, "The sink's certificate key: p256 or rsa2048")
      ->check(CLI::IsMember({"p256", "rsa2048"}))
      ->capture_default_str();
  cmd->add_option("--connections", options.connections, "relay.max_connections")->capture_default_str();
  cmd->add_option("--threads", options.threads, "Engine workers (0 = one per CPU)")->capture_default_str();
  cmd->add_option("--sink-threads", options.sink_threads, "Sink threads")->capture_default_str();
  cmd->add_flag("--no-chunking", options.no_chunking,
                "Deliver with DATA instead of BDAT (smtp.chunking = false)");
  cmd->add_option("--spool-base", options.spool_base,
                  "Folder for the temporary spool (default /dev/shm, i.e. tmpfs; give a disk path to include "
                  "your file system's cost)");
  cmd->add_option("--json", options.json_file, "Also write the results as JSON to this file");
  cmd->add_option("--svg", options.svg_file, "Also draw the results as an SVG chart into this file");
  cmd->add_option("--sink-option", options.sink_options,
                  "Pass a flag to the sink, e.g. --sink-option=--delay-ms=1 (fault injection for tests)");
  cmd->footer(
      "Exit status: 0 done; 64 usage; 70 a run lost, deferred or failed a message (the reason is printed; no "
      "rate is reported); 73 the work folder or certificates cannot be made; 74 --json/--svg cannot be "
      "written; 130 interrupted.");
  return cmd;
}

int cmd_bench(const BenchOptions& options) {
  bench::BenchPlan plan;
  std::string error;
  if (!make_plan(options, plan, error)) {
    std::fprintf(stderr, "ringmail bench: %s\n", error.c_str());
    return kExitUsage;
  }
  std::string base = options.spool_base;
  if (base.empty()) base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  std::string root_template = base + "/ringmail-bench.XXXXXX";
  if (mkdtemp(root_template.data()) == nullptr) {
    std::fprintf(stderr,
                 "ringmail bench: cannot create a folder under %s: %s; give --spool-base a writable folder\n",
                 base.c_str(), std::strerror(errno));
    return kExitCantCreate;
  }
  const int status = run_bench(plan, options, root_template, base);
  // Kept after a failed run, so its logs can be read.
  if (status != kExitSoftware) {
    std::error_code ignored;
    std::filesystem::remove_all(root_template, ignored);
  }
  return status;
}

}  // namespace ringmail
