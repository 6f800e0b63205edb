// metrics/metrics_page.cc — see metrics_page.h.
#include "metrics/metrics_page.h"

#include "metrics/exposition.h"

namespace ringmail {
namespace {

// render_ingress_metrics: the SMTP listener's families ([[listen]]), only
// when the engine has listeners.
void render_ingress_metrics(const MetricsSnapshot& c, ExpositionWriter& w) {
  w.family("ringmail_ingress_connections_total", "counter",
           "Connections to the SMTP listeners: served, or refused at accept (421: pool or per-IP limit).");
  w.sample("ringmail_ingress_connections_total", {{"result", "served"}},
           static_cast<double>(c.ingress_connections));
  w.sample("ringmail_ingress_connections_total", {{"result", "refused"}},
           static_cast<double>(c.ingress_connections_refused));
  w.family("ringmail_ingress_messages_accepted_total", "counter",
           "Messages the listeners stored durably in incoming/new (the client got 250).");
  w.sample("ringmail_ingress_messages_accepted_total", {}, static_cast<double>(c.ingress_messages_accepted));
  w.family("ringmail_ingress_bytes_accepted_total", "counter", "Bytes of the messages accepted.");
  w.sample("ringmail_ingress_bytes_accepted_total", {}, static_cast<double>(c.ingress_bytes_accepted));
  w.family("ringmail_ingress_store_failures_total", "counter",
           "Messages the commit thread could not store (the client got 451).");
  w.sample("ringmail_ingress_store_failures_total", {}, static_cast<double>(c.ingress_store_failures));
  w.family("ringmail_ingress_tls_handshakes_total", "counter", "Server TLS handshakes, completed or failed.");
  w.sample("ringmail_ingress_tls_handshakes_total", {{"result", "ok"}},
           static_cast<double>(c.ingress_tls_handshakes));
  w.sample("ringmail_ingress_tls_handshakes_total", {{"result", "failed"}},
           static_cast<double>(c.ingress_tls_failures));
  w.family("ringmail_ingress_timeouts_total", "counter",
           "Listener sessions ended by a command, data or session timeout.");
  w.sample("ringmail_ingress_timeouts_total", {}, static_cast<double>(c.ingress_timeouts));
  w.family("ringmail_ingress_refusals_total", "counter",
           "What the listeners refused or cut off, by reason (relay_denied, auth_failed, ...).");
  for (size_t i = 0; i < kIngressEventCount; ++i) {
    w.sample("ringmail_ingress_refusals_total", {{"reason", ingress_event_name(i)}},
             static_cast<double>(c.ingress_events[i]));
  }
  w.family("ringmail_ingress_commit_batches_total", "counter",
           "Group commits of the commit thread (each makes a batch of accepted messages durable).");
  w.sample("ringmail_ingress_commit_batches_total", {}, static_cast<double>(c.commit_batches));
  w.family("ringmail_ingress_commit_syncs_total", "counter",
           "fsync/fdatasync calls the commit thread made (divide by messages: syncs per message).");
  w.sample("ringmail_ingress_commit_syncs_total", {}, static_cast<double>(c.commit_sync_calls));
}

}  // namespace

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
  if (c.listening) render_ingress_metrics(c, w);
}

}  // namespace ringmail
