// tools/bench/bench_run.cc — see bench_run.h.
#include "tools/bench/bench_run.h"

#include <fmt/format.h>

#include <filesystem>

#include "tools/bench/bench_spool.h"

namespace ringmail::bench {

namespace {

// run_time_limit_s: generous (a run at 1 message per connection without
// resumption on a busy machine does ~1,000 msg/s), but finite.
double run_time_limit_s(uint64_t messages) { return 60.0 + static_cast<double>(messages) / 200.0; }

// check_delivery says why a finished run does not count, or "" if it does.
std::string check_delivery(const BenchPlan& plan, const LevelSpec& level, const ChildExit& engine,
                           bool engine_report_found, const EngineReport& report, const SinkStats& sink) {
  const uint64_t n = plan.messages;
  if (!engine_report_found) return fmt::format("the engine printed no result ({})", engine.describe());
  const std::string engine_words = fmt::format("the engine reports {} delivered, {} deferred, {} failed",
                                               report.delivered, report.deferred, report.failed);
  if (sink.messages != n) {
    return fmt::format("the sink received {} of {} messages; {}", sink.messages, n, engine_words);
  }
  if (report.delivered != n || report.deferred != 0 || report.failed != 0) {
    return fmt::format("not every message was delivered: {} of {}", engine_words, n);
  }
  if (!engine.ok())
    return fmt::format("the engine ended with {} after delivering everything", engine.describe());
  if (level.uses_tls() && sink.messages_tls != n) {
    return fmt::format("only {} of {} messages crossed over TLS at level {}", sink.messages_tls, n,
                       level.name);
  }
  if (!level.uses_tls() && sink.messages_tls != 0) {
    return fmt::format("{} messages crossed over TLS at level none", sink.messages_tls);
  }
  return "";
}

}  // namespace

std::string describe_run(const BenchPlan& plan, const RunSpec& spec) {
  return fmt::format("{}, {} per connection, {}{}, run {}", plan.levels[spec.level].name,
                     plan.per_connection[spec.per_connection], size_label(plan.sizes[spec.size]),
                     plan.resumption[spec.resumption] ? "" : ", resumption off", spec.run + 1);
}

std::string engine_config_toml(const BenchPlan& plan, const RunEnvironment& env, const RunSpec& spec,
                               uint16_t port) {
  const LevelSpec& level = plan.levels[spec.level];
  return fmt::format(
      "# ringmail bench: {}\n"
      "spool = \"{}\"\n"
      "[engine]\nthreads = {}\n"
      "[smtp]\nhelo_name = \"bench.ringmail.test\"\ndefault_sender = \"alerts@example.com\"\n"
      "chunking = {}\nconnect_timeout_ms = 5000\nreply_timeout_ms = 10000\ndata_timeout_ms = 10000\n"
      "[relay]\nhost = \"localhost\"\nport = {}\ntls = \"{}\"\nimplicit_tls = {}\n"
      "max_connections = {}\nmax_messages_per_connection = {}\n"
      "[tls]\nca_file = \"{}\"\nca_dir = \"\"\nsession_resumption = {}\n"
      // A refused message must show as lost, not be answered by a bounce
      // that the sink then counts.
      "[bounce]\nenabled = false\n",
      describe_run(plan, spec), env.spool, plan.threads, plan.chunking, port, tls_level_name(level.level),
      level.implicit_tls, plan.connections, plan.per_connection[spec.per_connection], env.ca_file,
      static_cast<bool>(plan.resumption[spec.resumption]));
}

bool execute_run(const BenchPlan& plan, const RunEnvironment& env, const RunSpec& spec,
                 const std::function<void()>& tick, RunResult& out, std::string& failure) {
  const LevelSpec& level = plan.levels[spec.level];
  const std::string what = describe_run(plan, spec);
  std::error_code ignored;
  std::filesystem::remove_all(env.spool, ignored);
  std::string error;
  if (!generate_spool(env.spool, plan.messages, plan.sizes[spec.size], error)) {
    failure = fmt::format("{}: {}", what, error);
    return false;
  }

  SinkLaunch launch;
  launch.exe = env.exe;
  launch.stats_file = env.work_dir + "/sink-stats.json";
  launch.log_prefix = env.work_dir + "/sink";
  launch.threads = plan.sink_threads;
  launch.cert_file = env.cert_file;
  launch.key_file = env.key_file;
  launch.implicit_tls = level.implicit_tls;
  launch.extra = plan.sink_options;
  std::filesystem::remove(launch.stats_file, ignored);
  SinkProcess sink;
  if (!start_sink(launch, sink, error)) {
    failure = fmt::format("{}: {}", what, error);
    return false;
  }

  const std::string config_path = env.work_dir + "/engine.toml";
  const std::string engine_out = env.work_dir + "/engine.out";
  const std::string engine_err = env.work_dir + "/engine.err";
  ChildExit engine;
  pid_t engine_pid = -1;
  bool started =
      test::write_text_file(config_path, engine_config_toml(plan, env, spec, sink.port), error) &&
      spawn_child({env.exe, "run", "-c", config_path, "--drain"}, engine_out, engine_err, engine_pid, error);
  if (started) wait_child(engine_pid, run_time_limit_s(plan.messages), 20, tick, engine);
  ChildExit sink_exit;
  stop_sink(sink, sink_exit);
  if (!started) {
    failure = fmt::format("{}: {}", what, error);
    return false;
  }

  EngineReport report;
  const bool report_found = parse_engine_report(read_text_file(engine_out), report);
  SinkStats stats;
  if (!parse_sink_stats(read_text_file(launch.stats_file), stats, error)) {
    failure = fmt::format("{}: the sink left no statistics ({}; {}): {}", what, sink_exit.describe(), error,
                          last_lines(read_text_file(launch.log_prefix + ".err"), 3));
    return false;
  }
  const std::string why = check_delivery(plan, level, engine, report_found, report, stats);
  if (!why.empty()) {
    const std::string engine_words = last_lines(read_text_file(engine_err), 3);
    failure =
        fmt::format("{}: {}{}{}", what, why, engine_words.empty() ? "" : "; the engine said: ", engine_words);
    return false;
  }
  out = RunResult{};
  out.spec = spec;
  out.messages = stats.messages;
  out.seconds = report.seconds;
  out.engine_cpu_s = engine.cpu_seconds();
  out.sink_cpu_s = sink_exit.cpu_seconds();
  out.engine_peak_rss = engine.peak_rss;
  out.sink = stats;
  std::filesystem::remove_all(env.spool, ignored);
  return true;
}

}  // namespace ringmail::bench
