// metrics/metrics_page.cc — see metrics_page.h.
#include "metrics/metrics_page.h"

#include "metrics/exposition.h"

namespace ringmail {

void render_metrics(const MetricsSnapshot& c, const MetricsLabels& labels, const SpoolGauges& spool,
                    int64_t now_ms, std::string& out) {
  ExpositionWriter w(out);
  const std::string_view dest = labels.destination;
  const std::string_view level = labels.tls_level;

  w.family("ringmail_messages_total", "counter",
           "Message attempts by outcome (expired: failed at retry.max_age; partial: failed but delivered to "
           "some recipients).");
  for (size_t i = 0; i < kMessageOutcomeCount; ++i) {
    w.sample("ringmail_messages_total",
             {{"destination", dest},
              {"tls_level", level},
              {"outcome", message_outcome_name(static_cast<MessageOutcome>(i))}},
             static_cast<double>(c.messages[i]));
  }
  w.family("ringmail_recipients_total", "counter", "Recipient attempts by outcome.");
  for (size_t i = 0; i < kRecipientOutcomeCount; ++i) {
    w.sample("ringmail_recipients_total",
             {{"destination", dest},
              {"tls_level", level},
              {"outcome", recipient_outcome_name(static_cast<RecipientOutcome>(i))}},
             static_cast<double>(c.recipients[i]));
  }
  w.family("ringmail_tls_handshakes_total", "counter",
           "TLS handshakes completed, full or resumed from a ticket.");
  w.sample("ringmail_tls_handshakes_total", {{"destination", dest}, {"kind", "full"}},
           static_cast<double>(c.tls_handshakes_full));
  w.sample("ringmail_tls_handshakes_total", {{"destination", dest}, {"kind", "resumed"}},
           static_cast<double>(c.tls_handshakes_resumed));
  w.family("ringmail_tls_failures_total", "counter",
           "Connections that did not get the TLS they asked for, by reason.");
  for (size_t i = 0; i < kTlsFailureCount; ++i) {
    w.sample("ringmail_tls_failures_total",
             {{"destination", dest}, {"reason", tls_failure_name(static_cast<TlsFailure>(i))}},
             static_cast<double>(c.tls_failures[i]));
  }
  w.family("ringmail_connections_opened_total", "counter", "TCP connections opened to the destination.");
  w.sample("ringmail_connections_opened_total", {{"destination", dest}},
           static_cast<double>(c.connections_opened));
  w.family("ringmail_connections_failed_total", "counter",
           "Connections that could not be opened, by reason.");
  for (size_t i = 0; i < kConnectFailureCount; ++i) {
    w.sample("ringmail_connections_failed_total",
             {{"destination", dest}, {"reason", connect_failure_name(static_cast<ConnectFailure>(i))}},
             static_cast<double>(c.connections_failed[i]));
  }
  w.family("ringmail_bounces_total", "counter", "Bounces (DSN) queued to senders of failed or delayed mail.");
  w.sample("ringmail_bounces_total", {{"destination", dest}}, static_cast<double>(c.bounces));
  w.histogram("ringmail_delivery_latency_seconds", "Time from queueing (the file's mtime) to the final 250.",
              kLatencyBucketsS, c.latency_buckets, static_cast<double>(c.latency_sum_us) / 1e6);

  w.family("ringmail_queue_messages", "gauge",
           "Messages in the spool per state (scanned at most every few seconds).");
  for (size_t s = 0; s < kSpoolStateCount; ++s) {
    w.sample("ringmail_queue_messages", {{"state", spool_state_name(static_cast<SpoolState>(s))}},
             static_cast<double>(spool.counts[s]));
  }
  w.family("ringmail_queue_oldest_message_age_seconds", "gauge",
           "Age of the oldest message in the spool, any state (0 when empty).");
  const double age_s = spool.has_oldest && now_ms > spool.oldest_mtime_ms
                           ? static_cast<double>(now_ms - spool.oldest_mtime_ms) / 1e3
                           : 0;
  w.sample("ringmail_queue_oldest_message_age_seconds", {}, age_s);
  w.family("ringmail_spool_scan_seconds", "gauge",
           "How long the last scan of the spool for the queue gauges took.");
  w.sample("ringmail_spool_scan_seconds", {}, static_cast<double>(spool.scan_ns) / 1e9);
}

}  // namespace ringmail
