// tests/unit/metrics_exposition_test.cc — the text exposition format
// (metrics/exposition.h) and the /metrics page (metrics/metrics_page.h):
// escaping, number formatting, histogram lines, every family present.
#include <gtest/gtest.h>

#include <string>

#include "metrics/core_metrics.h"
#include "metrics/exposition.h"
#include "metrics/metrics_page.h"

namespace ringmail {
namespace {

TEST(Exposition, EscapesLabelValues) {
  const struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"plain", "plain"},
      {"a\"b", "a\\\"b"},
      {"back\\slash", "back\\\\slash"},
      {"line\nfeed", "line\\nfeed"},
      {"\\\"\n", "\\\\\\\"\\n"},
      {"", ""},
      {"tab\tstays", "tab\tstays"},
  };
  for (const auto& c : cases) {
    std::string out;
    append_label_value(c.in, out);
    EXPECT_EQ(out, c.out) << c.in;
  }
}

TEST(Exposition, FormatsNumbers) {
  const struct {
    double in;
    const char* out;
  } cases[] = {{0, "0"},       {42, "42"}, {1e15, "1000000000000000"}, {0.005, "0.005"},    {2.5, "2.5"},
               {3600, "3600"}, {-1, "-1"}, {1.0 / 0.0, "+Inf"},        {-1.0 / 0.0, "-Inf"}};
  for (const auto& c : cases) {
    std::string out;
    append_number(c.in, out);
    EXPECT_EQ(out, c.out) << c.in;
  }
  std::string nan;
  append_number(0.0 / 0.0, nan);
  EXPECT_EQ(nan, "NaN");
}

TEST(Exposition, WritesFamilyAndSamples) {
  std::string out;
  ExpositionWriter w(out);
  w.family("ringmail_x_total", "counter", "Help with a \\ and a\nnewline.");
  w.sample("ringmail_x_total", {{"destination", "relay\"1"}, {"outcome", "delivered"}}, 7);
  w.sample("ringmail_y", {}, 1.5);
  EXPECT_EQ(out,
            "# HELP ringmail_x_total Help with a \\\\ and a\\nnewline.\n"
            "# TYPE ringmail_x_total counter\n"
            "ringmail_x_total{destination=\"relay\\\"1\",outcome=\"delivered\"} 7\n"
            "ringmail_y 1.5\n");
}

TEST(Exposition, HistogramIsCumulativeWithInfSumAndCount) {
  std::string out;
  ExpositionWriter w(out);
  const double bounds[] = {0.1, 1, 10};
  const uint64_t counts[] = {2, 0, 3, 1};  // per bucket; the last is +Inf
  w.histogram("lat_seconds", "Latency.", bounds, counts, 12.25);
  EXPECT_EQ(out,
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.1\"} 2\n"
            "lat_seconds_bucket{le=\"1\"} 2\n"
            "lat_seconds_bucket{le=\"10\"} 5\n"
            "lat_seconds_bucket{le=\"+Inf\"} 6\n"
            "lat_seconds_sum 12.25\n"
            "lat_seconds_count 6\n");
}

TEST(CoreMetrics, LatencyBucketIndexUsesUpperBounds) {
  EXPECT_EQ(latency_bucket_index(0), 0u);
  EXPECT_EQ(latency_bucket_index(5'000), 0u);  // le="0.005" includes 0.005
  EXPECT_EQ(latency_bucket_index(5'001), 1u);
  EXPECT_EQ(latency_bucket_index(1'000'000), 7u);  // le="1"
  EXPECT_EQ(latency_bucket_index(3'600'000'000), kLatencyBucketsS.size() - 1);
  EXPECT_EQ(latency_bucket_index(3'600'000'001), kLatencyBucketsS.size());  // +Inf
}

TEST(CoreMetrics, SnapshotSumsCores) {
  EngineMetrics metrics(3);
  metrics.core(0).count_message(MessageOutcome::kDelivered);
  metrics.core(2).count_message(MessageOutcome::kDelivered);
  metrics.core(1).count_recipients(RecipientOutcome::kFailed, 4);
  metrics.core(1).observe_latency(20'000);
  metrics.core(2).observe_latency(2'000'000);
  CoreMetrics::add(metrics.core(0).tls_handshakes_resumed);
  const MetricsSnapshot s = metrics.snapshot();
  EXPECT_EQ(s.messages[static_cast<size_t>(MessageOutcome::kDelivered)], 2u);
  EXPECT_EQ(s.recipients[static_cast<size_t>(RecipientOutcome::kFailed)], 4u);
  EXPECT_EQ(s.latency_sum_us, 2'020'000u);
  EXPECT_EQ(s.latency_buckets[latency_bucket_index(20'000)], 1u);
  EXPECT_EQ(s.tls_handshakes_resumed, 1u);
}

TEST(MetricsPage, RendersEveryFamilyWithLabels) {
  EngineMetrics metrics(1);
  metrics.core(0).count_message(MessageOutcome::kPartial);
  metrics.core(0).count_connect_failure(ConnectFailure::kRefused);
  metrics.core(0).count_tls_failure(TlsFailure::kNameMismatch);
  CoreMetrics::add(metrics.core(0).bounces, 2);
  SpoolGauges spool;
  spool.counts[static_cast<size_t>(SpoolState::kDeferred)] = 3;
  spool.has_oldest = true;
  spool.oldest_mtime_ms = 1'000'000;
  std::string out;
  render_metrics(metrics.snapshot(), MetricsLabels{"relay.example", "verify"}, spool, 1'090'500, out);
  for (const char* line : {
           "ringmail_messages_total{destination=\"relay.example\",tls_level=\"verify\",outcome=\"partial\"} "
           "1\n",
           "ringmail_messages_total{destination=\"relay.example\",tls_level=\"verify\",outcome=\"expired\"} "
           "0\n",
           "ringmail_recipients_total{destination=\"relay.example\",tls_level=\"verify\",outcome="
           "\"delivered\"} 0\n",
           "ringmail_tls_handshakes_total{destination=\"relay.example\",kind=\"resumed\"} 0\n",
           "ringmail_tls_failures_total{destination=\"relay.example\",reason=\"name_mismatch\"} 1\n",
           "ringmail_connections_opened_total{destination=\"relay.example\"} 0\n",
           "ringmail_bounces_total{destination=\"relay.example\"} 2\n",
           "ringmail_connections_failed_total{destination=\"relay.example\",reason=\"refused\"} 1\n",
           "ringmail_delivery_latency_seconds_bucket{le=\"+Inf\"} 0\n",
           "ringmail_delivery_latency_seconds_count 0\n",
           "ringmail_queue_messages{state=\"deferred\"} 3\n",
           "ringmail_queue_messages{state=\"hold\"} 0\n",
           "ringmail_queue_oldest_message_age_seconds 90.5\n",
           "# TYPE ringmail_queue_messages gauge\n",
       }) {
    EXPECT_NE(out.find(line), std::string::npos) << line << "\nin:\n" << out;
  }
}

}  // namespace
}  // namespace ringmail
