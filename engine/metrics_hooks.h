// engine/metrics_hooks.h — the engine's side of the Prometheus metrics: what
// a finished attempt, a connection failure or a TLS shortfall counts as, on
// the worker's own CoreMetrics (metrics/core_metrics.h).
//
// Who calls it: Worker::finish (engine/message_finish.cc) once per attempt,
// SmtpConnection on connects, handshakes and TLS shortfalls, Worker::schedule
// when the relay's name does not resolve. Worker thread only; no allocation,
// no lock, no system call beyond one clock read per delivered message.
#pragma once

#include <cstdint>

#include "engine/delivery_policy.h"
#include "engine/work_item.h"
#include "metrics/core_metrics.h"

namespace ringmail {

class TlsRecordLayer;

// AttemptTally: what one attempt made of a message (Worker::finish's counts).
struct AttemptTally {
  OutcomeKind kind = OutcomeKind::kDelivered;
  bool partial = false;    // failed, but delivered to some recipients
  uint32_t delivered = 0;  // recipients, this attempt
  uint32_t deferred = 0;   // still to be tried
  uint32_t failed = 0;     // refused
  uint32_t expired = 0;    // given up at retry.max_age
  int64_t queued_ms = 0;   // unix ms the message was queued (0: unknown)
};

// message_outcome_of: the message counter an attempt goes to.
MessageOutcome message_outcome_of(const AttemptTally& tally);

// count_attempt counts the message, its recipients and, when delivered,
// its latency since queueing.
void count_attempt(CoreMetrics& metrics, const AttemptTally& tally);

// connect_failure_of maps a failed connect's result (-errno; -ECANCELED is
// the connect timeout: SmtpConnection cancels it at its deadline) to its reason.
ConnectFailure connect_failure_of(int res);

// tls_failure_of names a TLS shortfall; at |level| verify or secure, a
// failed handshake whose certificate was refused is named by the verdict
// |tls| holds (null or reset: a plain handshake failure).
TlsFailure tls_failure_of(TlsShortfall what, TlsLevel level, const TlsRecordLayer* tls);

}  // namespace ringmail
