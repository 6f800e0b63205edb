// metrics/metrics_page.h — the /metrics page: every ringmail metric
// (docs/metrics.md lists them) rendered from the cores' summed counters and
// the spool gauges, in the text exposition format.
//
// Who calls it: the metrics server's thread, once per scrape. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/core_metrics.h"
#include "metrics/spool_gauges.h"

namespace ringmail {

// MetricsLabels: the constant labels of the delivery counters. Today there
// is one destination, the relay (relay.host), delivered under one TLS
// policy (relay.tls, effective level).
struct MetricsLabels {
  std::string destination;
  std::string tls_level;
};

// render_metrics appends the page to |out|. |now_ms| (unix ms) dates the
// oldest message's age.
void render_metrics(const MetricsSnapshot& counters, const MetricsLabels& labels, const SpoolGauges& spool,
                    int64_t now_ms, std::string& out);

}  // namespace ringmail
