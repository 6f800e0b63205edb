// metrics/core_metrics.h — the counters one delivery core keeps for
// Prometheus (docs/metrics.md), and the names of what they count.
//
// Who writes it: only its own worker thread (engine/metrics_hooks.h), with
// relaxed load+store pairs: one writer, so no read-modify-write instruction
// and no lock. Who reads it: the metrics thread (metrics/metrics_server.h),
// with relaxed loads, summing every core at each scrape. Each core's block is
// cache-line aligned so two cores never write the same line.
//
// Never allocates, never blocks; safe to update on a worker per message.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringmail {

// MessageOutcome: what one attempt made of a message. expired: failed at
// retry.max_age with none of its recipients delivered; partial: failed, but
// delivered to some recipients (whether by a 5xx or max_age).
enum class MessageOutcome : uint8_t { kDelivered, kDeferred, kFailed, kExpired, kPartial };
inline constexpr size_t kMessageOutcomeCount = 5;
// RecipientOutcome: what one attempt made of a recipient (the delivery log's
// outcome field).
enum class RecipientOutcome : uint8_t { kDelivered, kDeferred, kFailed, kExpired };
inline constexpr size_t kRecipientOutcomeCount = 4;
// TlsFailure: why a connection did not get the TLS it asked for.
enum class TlsFailure : uint8_t {
  kNotOffered,            // the EHLO reply had no STARTTLS
  kRefused,               // STARTTLS answered with something other than 220
  kHandshakeFailed,       // the handshake broke (protocol, alert, timeout, cut)
  kCertificateUntrusted,  // (verify, secure) the chain does not lead to the trust store
  kNameMismatch,          // (verify, secure) trusted chain, but not for the relay's name
  kCertificateExpired,    // (verify, secure) expired or not yet valid
};
inline constexpr size_t kTlsFailureCount = 6;
// ConnectFailure: why a connection to the relay could not be opened.
enum class ConnectFailure : uint8_t {
  kRefused,  // ECONNREFUSED
  kTimeout,  // smtp.connect_timeout_ms passed
  kDns,      // the relay's name does not resolve (yet): nothing to connect to
  kOther,    // unreachable network or host, no socket, ...
};
inline constexpr size_t kConnectFailureCount = 4;

// kIngressEventCount: the SMTP listener's refusals and protocol events
// (ingress::SessionEvent, in its order; engine/ingress_connection.cc
// checks the count). Metrics stay free of ingress/, so the names are here.
inline constexpr size_t kIngressEventCount = 14;
// ingress_event_name: "relay_denied", "auth_failed", ... (the label value,
// also the delivery log's "rejected" reason); "?" out of range.
const char* ingress_event_name(size_t event);

const char* message_outcome_name(MessageOutcome outcome);
const char* recipient_outcome_name(RecipientOutcome outcome);
const char* tls_failure_name(TlsFailure failure);
const char* connect_failure_name(ConnectFailure failure);

// kLatencyBucketsS: upper bounds (seconds) of the delivery latency
// histogram, queueing to the final 250. A last, implicit bucket is +Inf.
inline constexpr std::array<double, 17> kLatencyBucketsS = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800, 3600};
inline constexpr size_t kLatencyBucketCount = kLatencyBucketsS.size() + 1;  // + Inf

// latency_bucket_index: the first bucket whose bound is >= |latency_us|.
size_t latency_bucket_index(uint64_t latency_us);

struct alignas(64) CoreMetrics {
  using Counter = std::atomic<uint64_t>;

  // add: the one writer's increment (relaxed load + store: the metrics
  // thread may read any value it has seen, never a torn one).
  static void add(Counter& counter, uint64_t n = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static uint64_t read(const Counter& counter) { return counter.load(std::memory_order_relaxed); }

  void count_message(MessageOutcome outcome) { add(messages[static_cast<size_t>(outcome)]); }
  void count_recipients(RecipientOutcome outcome, uint64_t n) {
    if (n > 0) add(recipients[static_cast<size_t>(outcome)], n);
  }
  void count_tls_failure(TlsFailure failure) { add(tls_failures[static_cast<size_t>(failure)]); }
  void count_connect_failure(ConnectFailure failure) {
    add(connections_failed[static_cast<size_t>(failure)]);
  }
  void count_ingress_event(size_t event) {
    if (event < kIngressEventCount) add(ingress_events[event]);
  }
  // observe_latency records one delivered message's time from queueing to
  // its final 250.
  void observe_latency(uint64_t latency_us) {
    add(latency_buckets[latency_bucket_index(latency_us)]);
    add(latency_sum_us, latency_us);
  }

  std::array<Counter, kMessageOutcomeCount> messages{};
  std::array<Counter, kRecipientOutcomeCount> recipients{};
  Counter tls_handshakes_full{0};
  Counter tls_handshakes_resumed{0};
  std::array<Counter, kTlsFailureCount> tls_failures{};
  Counter connections_opened{0};
  std::array<Counter, kConnectFailureCount> connections_failed{};
  Counter bounces{0};                                          // bounces (DSN) queued into incoming/new
  std::array<Counter, kLatencyBucketCount> latency_buckets{};  // not cumulative; summed at scrape
  Counter latency_sum_us{0};
  // The SMTP listener ([[listen]], docs/ingress.md).
  Counter ingress_connections{0};          // accepted and served
  Counter ingress_connections_refused{0};  // answered 421 at accept (pool or per-IP limit)
  Counter ingress_messages_accepted{0};    // stored durably, 250 sent
  Counter ingress_bytes_accepted{0};
  Counter ingress_store_failures{0};  // the commit thread could not store: 451
  Counter ingress_tls_handshakes{0};
  Counter ingress_tls_failures{0};
  Counter ingress_timeouts{0};
  std::array<Counter, kIngressEventCount> ingress_events{};
};

// MetricsSnapshot is every core's counters summed (plain numbers, on the
// metrics thread).
struct MetricsSnapshot {
  std::array<uint64_t, kMessageOutcomeCount> messages{};
  std::array<uint64_t, kRecipientOutcomeCount> recipients{};
  uint64_t tls_handshakes_full = 0;
  uint64_t tls_handshakes_resumed = 0;
  std::array<uint64_t, kTlsFailureCount> tls_failures{};
  uint64_t connections_opened = 0;
  std::array<uint64_t, kConnectFailureCount> connections_failed{};
  uint64_t bounces = 0;
  std::array<uint64_t, kLatencyBucketCount> latency_buckets{};
  uint64_t latency_sum_us = 0;
  uint64_t ingress_connections = 0;
  uint64_t ingress_connections_refused = 0;
  uint64_t ingress_messages_accepted = 0;
  uint64_t ingress_bytes_accepted = 0;
  uint64_t ingress_store_failures = 0;
  uint64_t ingress_tls_handshakes = 0;
  uint64_t ingress_tls_failures = 0;
  uint64_t ingress_timeouts = 0;
  std::array<uint64_t, kIngressEventCount> ingress_events{};
  // The commit thread's counts (SpoolCommitter::stats(), filled by the engine).
  uint64_t commit_batches = 0;
  uint64_t commit_sync_calls = 0;
  bool listening = false;  // the engine has [[listen]]: the ingress families are shown

  // add_core adds |core|'s counters (relaxed loads).
  void add_core(const CoreMetrics& core);
};

// EngineMetrics holds one CoreMetrics per worker, allocated once at start.
class EngineMetrics {
 public:
  explicit EngineMetrics(uint32_t cores) : cores_(new CoreMetrics[cores]), count_(cores) {}
  CoreMetrics& core(uint32_t i) { return cores_[i]; }
  // snapshot sums every core (metrics thread).
  MetricsSnapshot snapshot() const {
    MetricsSnapshot out;
    for (uint32_t i = 0; i < count_; ++i) out.add_core(cores_[i]);
    return out;
  }

 private:
  std::unique_ptr<CoreMetrics[]> cores_;
  uint32_t count_;
};

}  // namespace ringmail
