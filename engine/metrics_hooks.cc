// engine/metrics_hooks.cc — see metrics_hooks.h.
#include "engine/metrics_hooks.h"

#include <cerrno>

#include "engine/attempt_log.h"
#include "engine/tls_record_layer.h"

namespace ringmail {

MessageOutcome message_outcome_of(const AttemptTally& tally) {
  switch (tally.kind) {
    case OutcomeKind::kDelivered:
      return MessageOutcome::kDelivered;
    case OutcomeKind::kDeferred:
      return MessageOutcome::kDeferred;
    default:
      break;
  }
  if (tally.partial) return MessageOutcome::kPartial;
  return tally.expired > 0 ? MessageOutcome::kExpired : MessageOutcome::kFailed;
}

void count_attempt(CoreMetrics& metrics, const AttemptTally& tally) {
  metrics.count_message(message_outcome_of(tally));
  metrics.count_recipients(RecipientOutcome::kDelivered, tally.delivered);
  metrics.count_recipients(RecipientOutcome::kDeferred, tally.deferred);
  metrics.count_recipients(RecipientOutcome::kFailed, tally.failed);
  metrics.count_recipients(RecipientOutcome::kExpired, tally.expired);
  if (tally.kind == OutcomeKind::kDelivered && tally.queued_ms > 0) {
    const int64_t latency_ms = unix_now_ms() - tally.queued_ms;
    metrics.observe_latency(latency_ms > 0 ? static_cast<uint64_t>(latency_ms) * 1000 : 0);
  }
}

ConnectFailure connect_failure_of(int res) {
  switch (-res) {
    case ECONNREFUSED:
      return ConnectFailure::kRefused;
    case ECANCELED:
    case ETIMEDOUT:
      return ConnectFailure::kTimeout;
    default:
      return ConnectFailure::kOther;
  }
}

TlsFailure tls_failure_of(TlsShortfall what, TlsLevel level, const TlsRecordLayer* tls) {
  switch (what) {
    case TlsShortfall::kNotOffered:
      return TlsFailure::kNotOffered;
    case TlsShortfall::kRefused:
      return TlsFailure::kRefused;
    case TlsShortfall::kHandshakeFailed:
      break;
  }
  const bool checks_certificates = level == TlsLevel::kVerify || level == TlsLevel::kSecure;
  if (!checks_certificates || tls == nullptr || !tls->started()) return TlsFailure::kHandshakeFailed;
  const TlsVerdict& verdict = tls->session().verdict();
  if (!verdict.checked || verdict.trusted()) return TlsFailure::kHandshakeFailed;
  if ((verdict.problems & (kCertExpired | kCertNotYetValid)) != 0) return TlsFailure::kCertificateExpired;
  if (verdict.chain_trusted && !verdict.name_matches) return TlsFailure::kNameMismatch;
  return TlsFailure::kCertificateUntrusted;
}

}  // namespace ringmail
