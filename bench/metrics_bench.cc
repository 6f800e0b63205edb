// bench/metrics_bench.cc — what the Prometheus counters cost a core per
// message (engine/metrics_hooks.h count_attempt: message, recipients,
// latency with its clock read) and what a scrape's rendering costs the
// metrics thread (metrics/metrics_page.h). docs/metrics.md quotes them.
#include <benchmark/benchmark.h>

#include <string>

#include "engine/attempt_log.h"
#include "engine/metrics_hooks.h"
#include "metrics/metrics_page.h"

namespace ringmail {
namespace {

void BM_CountDeliveredAttempt(benchmark::State& state) {
  EngineMetrics metrics(1);
  const AttemptTally tally{.kind = OutcomeKind::kDelivered, .delivered = 1, .queued_ms = unix_now_ms() - 250};
  for (auto _ : state) {
    count_attempt(metrics.core(0), tally);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_CountDeliveredAttempt);

void BM_RenderPage(benchmark::State& state) {
  EngineMetrics metrics(static_cast<uint32_t>(state.range(0)));
  SpoolGauges spool;
  const MetricsLabels labels{"relay.example.org", "verify"};
  std::string out;
  for (auto _ : state) {
    out.clear();
    render_metrics(metrics.snapshot(), labels, spool, unix_now_ms(), out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_RenderPage)->Arg(2)->Arg(64);

}  // namespace
}  // namespace ringmail
