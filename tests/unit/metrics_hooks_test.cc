// tests/unit/metrics_hooks_test.cc — what the engine counts an attempt, a
// connect failure and a TLS shortfall as (engine/metrics_hooks.h).
#include "engine/metrics_hooks.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "engine/attempt_log.h"

namespace ringmail {
namespace {

TEST(MetricsHooks, MessageOutcomes) {
  const struct {
    AttemptTally tally;
    MessageOutcome want;
  } cases[] = {
      {{.kind = OutcomeKind::kDelivered, .delivered = 2}, MessageOutcome::kDelivered},
      {{.kind = OutcomeKind::kDeferred, .delivered = 1, .deferred = 1}, MessageOutcome::kDeferred},
      {{.kind = OutcomeKind::kFailed, .failed = 2}, MessageOutcome::kFailed},
      {{.kind = OutcomeKind::kFailed, .expired = 2}, MessageOutcome::kExpired},
      {{.kind = OutcomeKind::kFailed, .partial = true, .delivered = 1, .failed = 1},
       MessageOutcome::kPartial},
      {{.kind = OutcomeKind::kFailed, .partial = true, .expired = 1}, MessageOutcome::kPartial},
  };
  for (const auto& c : cases) EXPECT_EQ(message_outcome_of(c.tally), c.want);
}

TEST(MetricsHooks, CountAttemptCountsRecipientsAndLatency) {
  CoreMetrics core;
  count_attempt(core, {.kind = OutcomeKind::kDeferred, .delivered = 1, .deferred = 2, .failed = 3});
  count_attempt(core, {.kind = OutcomeKind::kDelivered, .delivered = 2, .queued_ms = unix_now_ms() - 1500});
  MetricsSnapshot s;
  s.add_core(core);
  EXPECT_EQ(s.messages[static_cast<size_t>(MessageOutcome::kDeferred)], 1u);
  EXPECT_EQ(s.messages[static_cast<size_t>(MessageOutcome::kDelivered)], 1u);
  EXPECT_EQ(s.recipients[static_cast<size_t>(RecipientOutcome::kDelivered)], 3u);
  EXPECT_EQ(s.recipients[static_cast<size_t>(RecipientOutcome::kDeferred)], 2u);
  EXPECT_EQ(s.recipients[static_cast<size_t>(RecipientOutcome::kFailed)], 3u);
  EXPECT_EQ(s.latency_buckets[latency_bucket_index(2'000'000)], 1u);  // 1.5 s: the le="2.5" bucket
  EXPECT_GE(s.latency_sum_us, 1'500'000u);
  EXPECT_LT(s.latency_sum_us, 60'000'000u);
}

TEST(MetricsHooks, ConnectFailures) {
  EXPECT_EQ(connect_failure_of(-ECONNREFUSED), ConnectFailure::kRefused);
  EXPECT_EQ(connect_failure_of(-ECANCELED), ConnectFailure::kTimeout);
  EXPECT_EQ(connect_failure_of(-ETIMEDOUT), ConnectFailure::kTimeout);
  EXPECT_EQ(connect_failure_of(-ENETUNREACH), ConnectFailure::kOther);
}

TEST(MetricsHooks, TlsFailuresWithoutAVerdict) {
  EXPECT_EQ(tls_failure_of(TlsShortfall::kNotOffered, TlsLevel::kMay, nullptr), TlsFailure::kNotOffered);
  EXPECT_EQ(tls_failure_of(TlsShortfall::kRefused, TlsLevel::kEncrypt, nullptr), TlsFailure::kRefused);
  EXPECT_EQ(tls_failure_of(TlsShortfall::kHandshakeFailed, TlsLevel::kVerify, nullptr),
            TlsFailure::kHandshakeFailed);
}

}  // namespace
}  // namespace ringmail
