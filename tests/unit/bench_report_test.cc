// tests/unit/bench_report_test.cc — unit tests for the pieces of `ringmail
// bench` (tools/bench/): parsing the axes, the interleaved run order, the
// summary (medians, and ratios to `none` taken from the same run number),
// the table, JSON and SVG carrying every level, the engine config each run
// uses (loaded by the real config loader), and reading the children's
// reports. tests/e2e/bench_test.sh runs the whole command.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "tools/bench/bench_child.h"
#include "tools/bench/bench_json.h"
#include "tools/bench/bench_plan.h"
#include "tools/bench/bench_results.h"
#include "tools/bench/bench_run.h"
#include "tools/bench/bench_svg.h"
#include "tools/bench/bench_table.h"

namespace ringmail::bench {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

BenchPlan two_level_plan() {
  BenchPlan plan;
  std::string error;
  EXPECT_TRUE(parse_levels("none,verify", plan.levels, error));
  plan.sizes = {2048};
  plan.per_connection = {100};
  plan.runs = 3;
  plan.messages = 1000;
  return plan;
}

// run_with makes a run of |plan| with a rate and engine CPU per message.
RunResult run_with(size_t level, uint32_t run, double msgs_per_s, double engine_us) {
  RunResult r;
  r.spec = RunSpec{level, 0, 0, 0, run};
  r.messages = 1000;
  r.seconds = 1000 / msgs_per_s;
  r.engine_cpu_s = engine_us * 1000 / 1e6;
  r.sink_cpu_s = 0.005;
  r.engine_peak_rss = 10 << 20;
  r.sink.messages = 1000;
  r.sink.bytes_in = 2'100'000;
  r.sink.bytes_out = 50'000;
  if (level == 1) {
    r.sink.tls_handshakes = 10;
    r.sink.tls_resumed = 8;
    r.sink.messages_tls = 1000;
    r.engine_peak_rss += 16 * 40 * 1024;  // 40 KiB per connection more than none
  }
  return r;
}

// A report where the ratio of the medians differs from the median of the
// same-run ratios: none 100, 200, 300 msg/s; verify 90, 100, 330.
BenchReport sample_report() {
  BenchReport report;
  report.plan = two_level_plan();
  report.machine.cpus = 2;
  report.machine.workers = 2;
  report.machine.kernel = "6.1";
  report.machine.spool_base = "/dev/shm";
  report.machine.spool_fs = SpoolFilesystem{"tmpfs", true};
  report.floor.full = {300, 180};
  report.floor.resumed = {100, 110};
  report.floor.records = {{2048, 1.0, 1.5}};
  report.floor.cipher = "TLS_AES_128_GCM_SHA256";
  const std::vector<RunResult> runs = {
      run_with(0, 0, 100, 20), run_with(1, 0, 90, 30),  run_with(0, 1, 200, 20),
      run_with(1, 1, 100, 22), run_with(0, 2, 300, 20), run_with(1, 2, 330, 25),
  };
  report.groups = summarize(report.plan, runs, report.floor, 2);
  return report;
}

TEST(BenchPlan, ParsesTheAxes) {
  std::vector<LevelSpec> levels;
  std::string error;
  ASSERT_TRUE(parse_levels(kDefaultLevels, levels, error));
  ASSERT_EQ(levels.size(), 6u);
  EXPECT_EQ(levels[5].name, "implicit");
  EXPECT_TRUE(levels[5].implicit_tls);
  EXPECT_EQ(levels[5].level, TlsLevel::kVerify);
  EXPECT_FALSE(levels[0].uses_tls());
  EXPECT_FALSE(parse_levels("none,strict", levels, error));
  EXPECT_NE(error.find("unknown TLS level 'strict'"), std::string::npos) << error;
  EXPECT_FALSE(parse_levels("verify,verify", levels, error));
  EXPECT_FALSE(parse_levels("", levels, error));

  std::vector<uint32_t> sizes;
  ASSERT_TRUE(parse_sizes("1k,10k,100k,2048", sizes, error));
  EXPECT_EQ(sizes, (std::vector<uint32_t>{1024, 10240, 102400, 2048}));
  for (const char* bad : {"", "0", "1x", "k", "100", "17m", "1k,"}) {
    EXPECT_FALSE(parse_sizes(bad, sizes, error)) << bad;
  }
  std::vector<uint32_t> per_connection;
  ASSERT_TRUE(parse_per_connection("1,10,100", per_connection, error));
  EXPECT_EQ(per_connection, (std::vector<uint32_t>{1, 10, 100}));
  for (const char* bad : {"0", "-1", "1000001", "a", "1,,2"}) {
    EXPECT_FALSE(parse_per_connection(bad, per_connection, error)) << bad;
  }
  std::vector<bool> resumption;
  ASSERT_TRUE(parse_resumption("on,off", resumption, error));
  EXPECT_EQ(resumption, (std::vector<bool>{true, false}));
  for (const char* bad : {"", "yes", "on,on", "off,"}) {
    EXPECT_FALSE(parse_resumption(bad, resumption, error)) << bad;
  }
  EXPECT_EQ(size_label(2048), "2 KiB");
  EXPECT_EQ(size_label(1000), "1000 B");
  EXPECT_EQ(size_label(1 << 20), "1 MiB");
}

TEST(BenchPlan, RunsAreInterleaved) {
  BenchPlan plan = two_level_plan();
  plan.per_connection = {1, 100};
  plan.runs = 2;
  const std::vector<RunSpec> runs = interleaved_runs(plan);
  ASSERT_EQ(runs.size(), 8u);
  // Run number outermost, levels innermost: none and verify of one run
  // number and configuration are neighbours in time.
  const std::vector<std::tuple<uint32_t, size_t, size_t>> want = {{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1},
                                                                  {1, 0, 0}, {1, 0, 1}, {1, 1, 0}, {1, 1, 1}};
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(std::make_tuple(runs[i].run, runs[i].per_connection, runs[i].level), want[i]) << i;
  }
}

TEST(BenchResults, SpreadIsMedianMinMax) {
  const Spread odd = spread_of({3, 1, 2});
  EXPECT_EQ(odd.median, 2);
  EXPECT_EQ(odd.min, 1);
  EXPECT_EQ(odd.max, 3);
  EXPECT_EQ(spread_of({4, 1, 2, 3}).median, 2.5);
  EXPECT_EQ(spread_of({}).median, 0);
}

TEST(BenchResults, RatiosComeFromTheSameRun) {
  const BenchReport report = sample_report();
  ASSERT_EQ(report.groups.size(), 1u);
  const LevelSummary& none = report.groups[0].levels[0];
  const LevelSummary& verify = report.groups[0].levels[1];
  EXPECT_DOUBLE_EQ(none.msgs_per_s.median, 200);
  EXPECT_DOUBLE_EQ(verify.msgs_per_s.median, 100);
  // Per run: 90/100, 100/200, 330/300 -> median 0.9 (the ratio of the
  // medians would be 0.5).
  ASSERT_EQ(verify.ratios.size(), 3u);
  EXPECT_NEAR(verify.ratios[1].throughput, 0.5, 1e-9);
  ASSERT_TRUE(verify.throughput_ratio.has_value());
  EXPECT_NEAR(verify.throughput_ratio->median, 0.9, 1e-9);
  EXPECT_NEAR(verify.throughput_ratio->max, 1.1, 1e-9);
  // Engine CPU: 30/20, 22/20, 25/20 -> median 1.25.
  EXPECT_NEAR(verify.engine_cpu_ratio->median, 1.25, 1e-9);
  EXPECT_NEAR(*verify.tls_kib_per_connection, 40, 1e-9);
  EXPECT_NEAR(none.throughput_ratio->median, 1.0, 1e-9);
  EXPECT_FALSE(none.tls_kib_per_connection.has_value());
  EXPECT_DOUBLE_EQ(verify.handshakes_full, 2);
  EXPECT_DOUBLE_EQ(verify.handshakes_resumed, 8);
  EXPECT_DOUBLE_EQ(verify.wire_bytes_per_msg, 2150);
  // Floor: resumed handshake shared by 100 messages plus the record.
  EXPECT_NEAR(verify.floor_engine_us, 100.0 / 100 + 1.0, 1e-9);
  EXPECT_NEAR(verify.floor_sink_us, 110.0 / 100 + 1.5, 1e-9);
  EXPECT_EQ(none.floor_engine_us, 0);
}

TEST(BenchResults, NoRatiosWithoutNone) {
  BenchPlan plan = two_level_plan();
  std::string error;
  ASSERT_TRUE(parse_levels("verify", plan.levels, error));
  const std::vector<RunResult> runs = {run_with(0, 0, 100, 30)};
  const auto groups = summarize(plan, runs, CryptoFloor{}, 2);
  EXPECT_FALSE(groups[0].levels[0].throughput_ratio.has_value());
  EXPECT_NE(format_json(BenchReport{plan, {}, {}, groups, {}, 0}).find("\"throughput_ratio_to_none\":null"),
            std::string::npos);
}

TEST(BenchResults, ResumptionGainComesFromTheSameRun) {
  BenchPlan plan = two_level_plan();
  plan.resumption = {true, false};
  plan.runs = 2;
  const std::vector<RunSpec> order = interleaved_runs(plan);
  ASSERT_EQ(order.size(), 8u);
  EXPECT_EQ(order[1].resumption, 0u);
  EXPECT_EQ(order[2].resumption, 1u);  // run 1 of "off" right after run 1 of "on"
  EXPECT_EQ(order[4].run, 1u);
  std::vector<RunResult> runs;
  // verify with resumption: 4000 then 2000 msg/s; without: 1000 then 2000.
  const double verify_rates[2][2] = {{4000, 2000}, {1000, 2000}};
  for (uint32_t run = 0; run < 2; ++run) {
    for (size_t resumption = 0; resumption < 2; ++resumption) {
      for (size_t level = 0; level < 2; ++level) {
        RunResult r = run_with(level, run, level == 0 ? 10000 : verify_rates[resumption][run],
                               level == 0 ? 20 : (resumption == 0 ? 100 : 300));
        r.spec.resumption = resumption;
        runs.push_back(r);
      }
    }
  }
  const auto groups = summarize(plan, runs, CryptoFloor{}, 2);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_TRUE(groups[0].resumption);
  EXPECT_FALSE(groups[1].resumption);
  const auto gains = resumption_gains(groups);
  ASSERT_EQ(gains.size(), 1u);  // verify only: none has no TLS to resume
  EXPECT_EQ(gains[0].level, "verify");
  // Per run 4000/1000 and 2000/2000: median 2.5 (medians' ratio would be 1.0).
  EXPECT_NEAR(gains[0].throughput.median, 2.5, 1e-9);
  EXPECT_NEAR(gains[0].engine_cpu.median, 3.0, 1e-9);
  BenchReport report{plan, {}, {}, groups, gains, 0};
  EXPECT_NE(format_tables(report).find("verify    100 per connection, 2 KiB: msg/s ×2.50"), std::string::npos)
      << format_tables(report);
  EXPECT_NE(format_json(report).find("\"throughput_on_over_off\":{\"median\":2.500"), std::string::npos);
}

TEST(BenchOutputs, EveryLevelInTableJsonAndSvg) {
  BenchReport report = sample_report();
  const std::string table = format_tables(report);
  EXPECT_NE(table.find("\nnone "), std::string::npos) << table;
  EXPECT_NE(table.find("\nverify "), std::string::npos) << table;
  EXPECT_NE(table.find("0.90"), std::string::npos) << table;  // the same-run ratio
  EXPECT_NE(format_header(report).find("/dev/shm on tmpfs (in memory)"), std::string::npos);

  const std::string json = format_json(report);
  EXPECT_EQ(count(json, "\"level\":\"none\""), 1u);
  EXPECT_EQ(count(json, "\"level\":\"verify\""), 1u);
  EXPECT_EQ(count(json, "\"run\":"), 6u);
  EXPECT_NE(json.find("\"throughput_ratio_to_none\":{\"median\":0.900"), std::string::npos) << json;
  EXPECT_NE(json.find("\"spool_fs\":\"tmpfs\""), std::string::npos);

  const std::string svg = format_svg(report);
  EXPECT_EQ(count(svg, "class=\"series\""), 2u);
  EXPECT_EQ(count(svg, "class=\"bar\""), 2u);
  EXPECT_NE(svg.find("data-level=\"verify\""), std::string::npos);
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
}

TEST(BenchOutputs, SvgDrawsOneLinePerLevelAcrossPerConnection) {
  BenchReport report = sample_report();
  report.plan.per_connection = {1, 100};
  std::vector<RunResult> runs;
  for (size_t pc = 0; pc < 2; ++pc) {
    for (size_t level = 0; level < 2; ++level) {
      RunResult r = run_with(level, 0, pc == 0 ? 3000 : 50000, 25);
      r.spec.per_connection = pc;
      runs.push_back(r);
    }
  }
  report.plan.runs = 1;
  report.groups = summarize(report.plan, runs, report.floor, 2);
  const std::string svg = format_svg(report);
  EXPECT_EQ(count(svg, "class=\"series\""), 2u);
  EXPECT_EQ(count(svg, "<polyline"), 3u);  // two levels and the crypto ceiling
  EXPECT_EQ(count(svg, "<circle"), 4u);
}

TEST(BenchOutputs, Numbers) {
  EXPECT_EQ(with_commas(1234567.4), "1,234,567");
  EXPECT_EQ(with_commas(999), "999");
  EXPECT_EQ(with_commas(0), "0");
  EXPECT_EQ(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
}

TEST(BenchRun, EngineConfigLoads) {
  char templ[] = "/tmp/ringmail-bench-test-XXXXXX";
  ASSERT_NE(::mkdtemp(templ), nullptr);
  const std::string dir = templ;
  RunEnvironment env;
  env.spool = dir + "/spool";
  env.ca_file = dir + "/ca.pem";
  std::string error;
  ASSERT_TRUE(test::write_text_file(env.ca_file, "not read by the loader\n", error));
  BenchPlan plan = two_level_plan();
  ASSERT_TRUE(parse_levels("none,implicit", plan.levels, error));
  plan.resumption = {false};
  plan.chunking = false;
  ASSERT_TRUE(test::write_text_file(dir + "/e.toml",
                                    engine_config_toml(plan, env, RunSpec{1, 0, 0, 0, 2}, 2525), error));
  Config config;
  ASSERT_TRUE(load_config(dir + "/e.toml", config, error)) << error;
  EXPECT_EQ(config.spool, env.spool);
  EXPECT_EQ(config.relay.host, "localhost");
  EXPECT_EQ(config.relay.port, 2525);
  EXPECT_EQ(config.relay.tls, TlsLevel::kVerify);
  EXPECT_TRUE(config.relay.implicit_tls);
  EXPECT_EQ(config.relay.max_messages_per_connection, 100u);
  EXPECT_EQ(config.tls.ca_file, env.ca_file);
  EXPECT_EQ(config.tls.ca_dir, "");
  EXPECT_FALSE(config.tls.session_resumption);
  EXPECT_FALSE(config.smtp.chunking);
  std::filesystem::remove_all(dir);
}

TEST(BenchChild, ReadsTheChildrensReports) {
  EngineReport report;
  ASSERT_TRUE(
      parse_engine_report("ringmail: 2 worker(s)\nringmail: delivered 990, partial 1, deferred 7, failed 2 "
                          "in 0.250 s (3960 msg/s); "
                          "recipients: delivered 991, deferred 7, failed 3\n",
                          report));
  EXPECT_EQ(report.delivered, 990u);
  EXPECT_EQ(report.deferred, 7u);
  EXPECT_EQ(report.failed, 3u);
  EXPECT_DOUBLE_EQ(report.seconds, 0.25);
  EXPECT_FALSE(parse_engine_report("ringmail: cannot start\n", report));

  SinkStats stats;
  std::string error;
  ASSERT_TRUE(parse_sink_stats(
      "{\"messages\":1000,\"recipients\":1000,\"seconds\":0.5,\"cpu_us_per_msg\":4.0,\"connections\":10,"
      "\"tls_handshakes\":10,\"tls_resumed\":9,\"tls_failed\":0,\"messages_tls\":1000,\"messages_clear\":0,"
      "\"bytes_in\":2100000,\"bytes_out\":30000}",
      stats, error))
      << error;
  EXPECT_EQ(stats.messages, 1000u);
  EXPECT_EQ(stats.tls_resumed, 9u);
  EXPECT_EQ(stats.bytes_out, 30000u);
  EXPECT_FALSE(parse_sink_stats("{\"messages\":1}", stats, error));
  EXPECT_EQ(last_lines("a\n\nb\nc\n", 2), "b; c");
}

}  // namespace
}  // namespace ringmail::bench
