// metrics/core_metrics.cc — see core_metrics.h.
#include "metrics/core_metrics.h"

namespace ringmail {

const char* message_outcome_name(MessageOutcome outcome) {
  switch (outcome) {
    case MessageOutcome::kDelivered:
      return "delivered";
    case MessageOutcome::kDeferred:
      return "deferred";
    case MessageOutcome::kFailed:
      return "failed";
    case MessageOutcome::kExpired:
      return "expired";
    case MessageOutcome::kPartial:
      return "partial";
  }
  return "unknown";
}

const char* recipient_outcome_name(RecipientOutcome outcome) {
  switch (outcome) {
    case RecipientOutcome::kDelivered:
      return "delivered";
    case RecipientOutcome::kDeferred:
      return "deferred";
    case RecipientOutcome::kFailed:
      return "failed";
    case RecipientOutcome::kExpired:
      return "expired";
  }
  return "unknown";
}

const char* tls_failure_name(TlsFailure failure) {
  switch (failure) {
    case TlsFailure::kNotOffered:
      return "not_offered";
    case TlsFailure::kRefused:
      return "refused";
    case TlsFailure::kHandshakeFailed:
      return "handshake_failed";
    case TlsFailure::kCertificateUntrusted:
      return "certificate_untrusted";
    case TlsFailure::kNameMismatch:
      return "name_mismatch";
    case TlsFailure::kCertificateExpired:
      return "certificate_expired";
  }
  return "unknown";
}

const char* connect_failure_name(ConnectFailure failure) {
  switch (failure) {
    case ConnectFailure::kRefused:
      return "refused";
    case ConnectFailure::kTimeout:
      return "timeout";
    case ConnectFailure::kDns:
      return "dns";
    case ConnectFailure::kOther:
      return "other";
  }
  return "unknown";
}

const char* ingress_event_name(size_t event) {
  static constexpr const char* kNames[kIngressEventCount] = {
      "relay_denied",          "auth_required", "tls_required",  "auth_failed",     "auth_throttled",
      "auth_in_clear_refused", "bare_newline",  "line_too_long", "message_too_big", "too_many_recipients",
      "too_many_errors",       "rate_limited",  "message_cut",   "unknown_command"};
  return event < kIngressEventCount ? kNames[event] : "?";
}

size_t latency_bucket_index(uint64_t latency_us) {
  const double seconds = static_cast<double>(latency_us) / 1e6;
  size_t i = 0;
  while (i < kLatencyBucketsS.size() && seconds > kLatencyBucketsS[i]) ++i;
  return i;
}

void MetricsSnapshot::add_core(const CoreMetrics& core) {
  for (size_t i = 0; i < messages.size(); ++i) messages[i] += CoreMetrics::read(core.messages[i]);
  for (size_t i = 0; i < recipients.size(); ++i) recipients[i] += CoreMetrics::read(core.recipients[i]);
  tls_handshakes_full += CoreMetrics::read(core.tls_handshakes_full);
  tls_handshakes_resumed += CoreMetrics::read(core.tls_handshakes_resumed);
  for (size_t i = 0; i < tls_failures.size(); ++i) tls_failures[i] += CoreMetrics::read(core.tls_failures[i]);
  connections_opened += CoreMetrics::read(core.connections_opened);
  for (size_t i = 0; i < connections_failed.size(); ++i)
    connections_failed[i] += CoreMetrics::read(core.connections_failed[i]);
  bounces += CoreMetrics::read(core.bounces);
  for (size_t i = 0; i < latency_buckets.size(); ++i)
    latency_buckets[i] += CoreMetrics::read(core.latency_buckets[i]);
  latency_sum_us += CoreMetrics::read(core.latency_sum_us);
  ingress_connections += CoreMetrics::read(core.ingress_connections);
  ingress_connections_refused += CoreMetrics::read(core.ingress_connections_refused);
  ingress_messages_accepted += CoreMetrics::read(core.ingress_messages_accepted);
  ingress_bytes_accepted += CoreMetrics::read(core.ingress_bytes_accepted);
  ingress_store_failures += CoreMetrics::read(core.ingress_store_failures);
  ingress_tls_handshakes += CoreMetrics::read(core.ingress_tls_handshakes);
  ingress_tls_failures += CoreMetrics::read(core.ingress_tls_failures);
  ingress_timeouts += CoreMetrics::read(core.ingress_timeouts);
  for (size_t i = 0; i < ingress_events.size(); ++i)
    ingress_events[i] += CoreMetrics::read(core.ingress_events[i]);
}

}  // namespace ringmail
