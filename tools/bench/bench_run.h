// tools/bench/bench_run.h — one run of `ringmail bench`: a fresh spool of N
// alerts, a fresh `ringmail sink` (STARTTLS, or implicit TLS for the
// "implicit" level, with the bench's certificate), one `ringmail run
// --drain` over the spool with a config for the level, then the sink is
// stopped and its stats read. Each process is new per run, so its CPU time,
// peak memory and TLS counters are that run's alone.
//
// A run in which any message fails to arrive (the sink's count is not N, the
// engine reports a deferral or a failure, or exits non-zero), or in which a
// TLS level's messages did not all cross over TLS (or `none`'s did), is a
// failed run: execute_run says why in one sentence and the bench reports no
// rate for it.
//
// Who uses it: tools/cmd_bench.cc. Writes only under RunEnvironment's
// folders; stops only the children it started.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "tools/bench/bench_plan.h"
#include "tools/bench/bench_results.h"

namespace ringmail::bench {

struct RunEnvironment {
  std::string exe;        // the ringmail binary (this one)
  std::string work_dir;   // config, logs and stats files
  std::string spool;      // the spool folder, made and removed per run
  std::string ca_file;    // the CA the engine trusts (tls.ca_file)
  std::string cert_file;  // the sink's certificate and key
  std::string key_file;
};

// engine_config_toml is the `ringmail run` config of one run: the spool, the
// relay at localhost:|port| (so verify and secure check the name
// "localhost", which the certificate carries), the level, the per-connection
// limit, resumption, and short SMTP timeouts (a stuck run fails in seconds,
// not the default minutes).
std::string engine_config_toml(const BenchPlan& plan, const RunEnvironment& env, const RunSpec& spec,
                               uint16_t port);

// execute_run performs one run. |tick| (may be empty) is called every few
// tens of milliseconds while the engine runs. True with |out| filled, or
// false with |failure| (a sentence naming the run and what went wrong).
bool execute_run(const BenchPlan& plan, const RunEnvironment& env, const RunSpec& spec,
                 const std::function<void()>& tick, RunResult& out, std::string& failure);

// describe_run: "verify, 100 per connection, 2 KiB, run 2".
std::string describe_run(const BenchPlan& plan, const RunSpec& spec);

}  // namespace ringmail::bench
