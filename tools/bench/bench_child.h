// tools/bench/bench_child.h — the processes of one benchmark run: `ringmail
// sink` and `ringmail run --drain`, each started from this binary as a
// child, so each run's CPU time (wait4's rusage) and peak memory are that
// process's own and nothing of the bench itself is counted.
//
// Who uses it: the bench runner (bench_run.h). The children write their
// output to files in the bench's work folder; nothing here reads a socket.
// Children are stopped by the pid recorded here, never by name.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ringmail::bench {

// ChildExit is how a child ended.
struct ChildExit {
  int status = 0;          // as from waitpid
  rusage usage{};          // its own CPU time (user + system), its threads included
  uint64_t peak_rss = 0;   // bytes: the highest VmHWM sampled while it ran (see wait_child)
  bool timed_out = false;  // wait_child stopped it at its deadline
  double cpu_seconds() const;
  // describe: "exit status 3", "killed by signal 9".
  std::string describe() const;
  bool ok() const;  // exited with status 0
};

// spawn_child starts |argv| (argv[0] is the program path) with stdout and
// stderr going to the given files (created or truncated; "" = /dev/null)
// and stdin from /dev/null. False with |error| on failure.
bool spawn_child(const std::vector<std::string>& argv, const std::string& stdout_path,
                 const std::string& stderr_path, pid_t& pid, std::string& error);

// wait_child waits for |pid| to end, calling |tick| (may be empty) every
// |poll_ms| and sampling the child's VmHWM (/proc/PID/status) each time.
// Why sampled: getrusage's ru_maxrss of a child counts the parent's memory
// at fork/exec too (the kernel keeps the larger), so it would report the
// bench's own size; VmHWM of the child's process image after exec does
// not. Past |timeout_s| it sends SIGTERM (then SIGKILL after 5 s) and sets
// timed_out.
void wait_child(pid_t pid, double timeout_s, uint32_t poll_ms, const std::function<void()>& tick,
                ChildExit& out);

// read_vm_hwm returns /proc/|pid|/status's VmHWM in bytes (0 when gone).
uint64_t read_vm_hwm(pid_t pid);

// read_text_file returns the file's contents ("" if unreadable).
std::string read_text_file(const std::string& path);

// last_lines returns the last |count| non-empty lines of |text|, joined
// with "; " (for error messages that quote a child's stderr).
std::string last_lines(const std::string& text, size_t count);

// SinkLaunch is how to start one sink.
struct SinkLaunch {
  std::string exe;         // this binary
  std::string stats_file;  // --stats-file
  std::string log_prefix;  // stdout to PREFIX.out, stderr to PREFIX.err
  uint32_t threads = 1;
  std::string cert_file;  // "" = no TLS offered
  std::string key_file;
  bool implicit_tls = false;
  std::vector<std::string> extra;  // more flags, passed as given
};

struct SinkProcess {
  pid_t pid = -1;
  uint16_t port = 0;
};

// start_sink starts `ringmail sink` on 127.0.0.1, an ephemeral port, and
// waits (up to 10 s) for its "listening on" line. False with |error|
// (quoting the sink's stderr) if it exits or never listens; the child is
// then reaped.
bool start_sink(const SinkLaunch& launch, SinkProcess& sink, std::string& error);

// stop_sink sends SIGTERM and reaps the sink, filling |out|.
void stop_sink(SinkProcess& sink, ChildExit& out);

// SinkStats is what the bench takes from the sink's --stats-file.
struct SinkStats {
  uint64_t messages = 0;
  uint64_t connections = 0;
  uint64_t tls_handshakes = 0;  // full and resumed
  uint64_t tls_resumed = 0;
  uint64_t tls_failed = 0;
  uint64_t messages_tls = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
};

// parse_sink_stats reads the sink's stats JSON (a flat object of numbers).
// False with |error| if a field is missing.
bool parse_sink_stats(const std::string& json, SinkStats& out, std::string& error);

// EngineReport is the engine's final line: "ringmail: delivered N,
// partial P, deferred D, failed F in S s (R msg/s); recipients: ...".
struct EngineReport {
  uint64_t delivered = 0;
  uint64_t deferred = 0;
  uint64_t failed = 0;  // failed and partial messages
  double seconds = 0;
};

// parse_engine_report finds that line in `ringmail run`'s stdout.
bool parse_engine_report(const std::string& text, EngineReport& out);

}  // namespace ringmail::bench
