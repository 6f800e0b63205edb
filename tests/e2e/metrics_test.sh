#!/bin/bash
# tests/e2e/metrics_test.sh — the Prometheus endpoint of a running daemon
# ([metrics] listen, docs/metrics.md), scraped with python3 urllib:
#   (a) deliveries to `ringmail sink` with refused recipients (550 for ever,
#       451 once): the message, recipient and latency counters equal what
#       the sink received and refused; the queue gauges drop to 0; other
#       paths get 404, other methods 405; `promtool check metrics` accepts
#       the page (SKIP of that check when promtool is absent).
#   (b) on [::1]: a relay port where nothing listens counts
#       connections_failed{reason="refused"} and a deferred message, and the
#       queue gauge shows it in deferred/.
#   (c) TLS at level verify against the sink (PEMs from make_test_pki; SKIP
#       without it): full and resumed handshakes add up to the connections,
#       then the sink restarted with a wrong-name, an expired and a
#       self-signed certificate gives name_mismatch, certificate_expired and
#       certificate_untrusted failures.
#   (d) a real Prometheus server (Debian's prometheus; SKIP without it)
#       scrapes the endpoint: up == 1 and the 5 ringmail_messages_total
#       series are in its store (about 5 s).
#
# Usage: bash tests/e2e/metrics_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

# scrape URL FILE: GET URL into FILE (fails on any HTTP error).
scrape() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    assert r.status == 200, r.status
    ctype = r.headers["Content-Type"]
    assert ctype == "text/plain; version=0.0.4; charset=utf-8", ctype
    open(sys.argv[2], "wb").write(r.read())
PY
}
# http_status METHOD URL: prints the HTTP status code.
http_status() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(urllib.request.Request(sys.argv[2], method=sys.argv[1]), timeout=5).status)
except urllib.error.HTTPError as e:
    print(e.code)
PY
}
# metric FILE SAMPLE: prints the value of one sample ("name{labels}" exactly as exposed).
metric() { awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print "absent" }' "$1"; }
# metric_is URL SAMPLE VALUE: a fresh scrape has SAMPLE = VALUE.
metric_is() {
  scrape "$1" "$WORK/poll.txt" 2>/dev/null && [ "$(metric "$WORK/poll.txt" "$2")" = "$3" ]
}
# metric_ge URL SAMPLE VALUE: a fresh scrape has SAMPLE >= VALUE.
metric_ge() {
  local v
  scrape "$1" "$WORK/poll.txt" 2>/dev/null && v=$(metric "$WORK/poll.txt" "$2") && [ "$v" != absent ] && [ "$v" -ge "$3" ]
}

# (a) deliveries, refusals and a retry.
setup_case deliver
MPORT=$(free_port)
config_set "$CONF" engine shutdown_timeout_ms 2000
printf '[metrics]\nlisten = "127.0.0.1:%s"\n' "$MPORT" >> "$CONF"
URL=http://127.0.0.1:$MPORT/metrics
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply hard@example.org=550 --rcpt-reply soft@example.org=451:2
put_messages "$SPOOL" ok 20 ok@example.org
put_messages "$SPOOL" hard 3 hard@example.org
put_messages "$SPOOL" part 2 ok2@example.org hard@example.org
put_messages "$SPOOL" soft 2 soft@example.org
start_daemon deliver
verify "(a) the daemon says where the metrics are" line_with "$WORK/deliver.err" "metrics on http://127.0.0.1:$MPORT/metrics"
L='destination="127.0.0.1",tls_level="may"'
# The 5 messages with a refused recipient are bounced to their sender: 5
# more deliveries (24 + 5).
verify "(a) every recipient is counted while the daemon runs (29 delivered: 24 + 5 bounces)" \
  wait_until 30 metric_is "$URL" "ringmail_recipients_total{$L,outcome=\"delivered\"}" 29
# queue_settled: one scrape shows nothing incoming, active or deferred (the
# gauges come from a spool scan up to 2 s old).
queue_settled() {
  scrape "$URL" "$WORK/a.txt" 2>/dev/null || return 1
  [ "$(metric "$WORK/a.txt" 'ringmail_queue_messages{state="incoming"}')" = 0 ] &&
    [ "$(metric "$WORK/a.txt" 'ringmail_queue_messages{state="active"}')" = 0 ] &&
    [ "$(metric "$WORK/a.txt" 'ringmail_queue_messages{state="deferred"}')" = 0 ]
}
verify "(a) the queue gauges drop to 0 incoming, active and deferred" wait_until 10 queue_settled
verify "(a) 404 for another path" [ "$(http_status GET "http://127.0.0.1:$MPORT/")" = 404 ]
verify "(a) 405 for another method" [ "$(http_status POST "$URL")" = 405 ]
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 10 || kill_hard "$DAEMON_PID"
verify "(a) the daemon exits 0 on SIGTERM (got ${EXIT_RC:-killed})" [ "${EXIT_RC:-1}" = 0 ]
stop_sink
sink_messages=$(stats_field messages)
sink_recipients=$(stats_field recipients)
m() { metric "$WORK/a.txt" "$1"; }
verify "(a) the sink got 29 messages (got $sink_messages)" [ "$sink_messages" = 29 ]
verify "(a) 5 bounces counted" [ "$(m 'ringmail_bounces_total{destination="127.0.0.1"}')" = 5 ]
verify "(a) delivered + partial messages = what the sink received" \
  [ $(($(m "ringmail_messages_total{$L,outcome=\"delivered\"}") + $(m "ringmail_messages_total{$L,outcome=\"partial\"}"))) = "$sink_messages" ]
verify "(a) delivered recipients = the sink's recipients ($sink_recipients)" \
  [ "$(m "ringmail_recipients_total{$L,outcome=\"delivered\"}")" = "$sink_recipients" ]
verify "(a) 27 messages delivered (20 + 2 after a 451 + 5 bounces)" [ "$(m "ringmail_messages_total{$L,outcome=\"delivered\"}")" = 27 ]
verify "(a) 2 partial messages" [ "$(m "ringmail_messages_total{$L,outcome=\"partial\"}")" = 2 ]
verify "(a) 3 failed messages" [ "$(m "ringmail_messages_total{$L,outcome=\"failed\"}")" = 3 ]
verify "(a) 2 deferred attempts" [ "$(m "ringmail_messages_total{$L,outcome=\"deferred\"}")" = 2 ]
verify "(a) no expired message" [ "$(m "ringmail_messages_total{$L,outcome=\"expired\"}")" = 0 ]
verify "(a) 5 refused recipients (3 + 2 in partial messages)" [ "$(m "ringmail_recipients_total{$L,outcome=\"failed\"}")" = 5 ]
verify "(a) 2 deferred recipients (the 451s)" [ "$(m "ringmail_recipients_total{$L,outcome=\"deferred\"}")" = 2 ]
verify "(a) the latency histogram counts the 27 delivered messages" \
  [ "$(m ringmail_delivery_latency_seconds_count)" = 27 ]
verify "(a) ... and its +Inf bucket equals its count" [ "$(m 'ringmail_delivery_latency_seconds_bucket{le="+Inf"}')" = 27 ]
opened=$(m 'ringmail_connections_opened_total{destination="127.0.0.1"}')
verify "(a) connections opened counted ($opened), none failed" \
  [ "$opened" -ge 1 -a "$(m 'ringmail_connections_failed_total{destination="127.0.0.1",reason="refused"}')" = 0 ]
verify "(a) no TLS handshake with a sink without TLS" [ "$(m 'ringmail_tls_handshakes_total{destination="127.0.0.1",kind="full"}')" = 0 ]
verify "(a) every connection counts STARTTLS not offered (level may)" \
  [ "$(m 'ringmail_tls_failures_total{destination="127.0.0.1",reason="not_offered"}')" = "$opened" ]
verify "(a) the 5 failed messages are in the failed gauge" [ "$(m 'ringmail_queue_messages{state="failed"}')" = 5 ]
verify "(a) the oldest message's age is given" \
  /usr/bin/python3 -c 'import sys; sys.exit(0 if 0 < float(sys.argv[1]) < 600 else 1)' "$(m ringmail_queue_oldest_message_age_seconds)"
if command -v promtool > /dev/null; then
  verify "(a) promtool check metrics accepts the page" bash -c "promtool check metrics < '$WORK/a.txt'"
else
  echo "SKIP: promtool not installed (Debian package prometheus); format not checked by promtool"
fi

# (b) a refused connection on an IPv6 endpoint.
if /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2> /dev/null; then
  setup_case refused
  MPORT=$(free_port)
  config_set "$CONF" engine shutdown_timeout_ms 2000
  config_set "$CONF" retry schedule '["1h"]'
  printf '[metrics]\nlisten = "[::1]:%s"\n' "$MPORT" >> "$CONF"
  URL="http://[::1]:$MPORT/metrics"
  put_messages "$SPOOL" nobody 1
  start_daemon refused
  verify "(b) a refused connect is counted" \
    wait_until 15 metric_is "$URL" 'ringmail_connections_failed_total{destination="127.0.0.1",reason="refused"}' 1
  verify "(b) the message is deferred and shown in the deferred gauge" \
    wait_until 10 metric_is "$URL" 'ringmail_queue_messages{state="deferred"}' 1
  verify "(b) its deferral is counted" [ "$(metric "$WORK/poll.txt" "ringmail_messages_total{$L,outcome=\"deferred\"}")" = 1 ]
  kill -TERM "$DAEMON_PID"
  wait_exit "$DAEMON_PID" 10 || kill_hard "$DAEMON_PID"
  verify "(b) the daemon exits 0 on SIGTERM" [ "${EXIT_RC:-1}" = 0 ]
else
  echo "SKIP: (b) no IPv6 loopback here"
fi

sink_up_or_gone() { line_with "$WORK/sink.log" "listening on" || ! kill -0 "$SINK_PID" 2> /dev/null; }
# restart_sink_on PORT ARGS...: start_sink on the port a sink just left
# (the daemon's relay port); the port may still be in use for a moment.
restart_sink_on() {
  local i
  for ((i = 0; i < 20; i++)); do
    "$RINGMAIL" sink --listen "127.0.0.1:$1" --report-interval-ms 0 "${@:2}" > "$WORK/sink.log" 2>&1 &
    SINK_PID=$!
    PIDS+=("$SINK_PID")
    # Listening, or exited (port still taken): whichever comes first.
    wait_until 5 sink_up_or_gone
    line_with "$WORK/sink.log" "listening on" && return 0
    stop_sink
    sleep 0.25
  done
  fail "sink did not start again on port $1: $(cat "$WORK/sink.log")"
}

# (c) TLS handshakes and certificate failures.
MAKE_TEST_PKI=${MAKE_TEST_PKI:-$(dirname "$RINGMAIL")/tests/make_test_pki}
if [ -x "$MAKE_TEST_PKI" ]; then
  PKI=$WORK/pki
  mkdir -p "$PKI"
  "$MAKE_TEST_PKI" "$PKI" p256 > /dev/null || fail "make_test_pki failed"
  setup_case tls
  MPORT=$(free_port)
  RELAY_HOST=localhost MAX_CONNECTIONS=1 MAX_MESSAGES_PER_CONNECTION=1 THREADS=1 write_config "$CONF" "$SPOOL" "$PORT"
  config_set "$CONF" engine shutdown_timeout_ms 2000
  config_set "$CONF" relay tls '"verify"'
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n[metrics]\nlisten = "127.0.0.1:%s"\n' "$PKI/ca.pem" "$MPORT" >> "$CONF"
  URL=http://127.0.0.1:$MPORT/metrics
  T='destination="localhost",tls_level="verify"'
  start_sink "$PORT" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key"
  put_messages "$SPOOL" tls 4
  start_daemon tls
  verify "(c) 4 messages delivered over TLS at level verify" \
    wait_until 20 metric_is "$URL" "ringmail_messages_total{$T,outcome=\"delivered\"}" 4
  full=$(metric "$WORK/poll.txt" 'ringmail_tls_handshakes_total{destination="localhost",kind="full"}')
  resumed=$(metric "$WORK/poll.txt" 'ringmail_tls_handshakes_total{destination="localhost",kind="resumed"}')
  opened=$(metric "$WORK/poll.txt" 'ringmail_connections_opened_total{destination="localhost"}')
  verify "(c) full ($full) + resumed ($resumed) handshakes = connections opened ($opened), at least one full" \
    [ "$((full + resumed))" = "$opened" -a "$full" -ge 1 ]
  for cert in wrong_name:name_mismatch expired:certificate_expired self_signed:certificate_untrusted; do
    stop_sink
    restart_sink_on "$PORT" --tls-cert "$PKI/${cert%%:*}.pem" --tls-key "$PKI/${cert%%:*}.key"
    put_messages "$SPOOL" "${cert%%:*}" 1
    verify "(c) a ${cert%%:*} certificate counts tls_failures{reason=\"${cert#*:}\"}" \
      wait_until 15 metric_ge "$URL" "ringmail_tls_failures_total{destination=\"localhost\",reason=\"${cert#*:}\"}" 1
  done
  kill -TERM "$DAEMON_PID"
  wait_exit "$DAEMON_PID" 10 || kill_hard "$DAEMON_PID"
  stop_sink
else
  echo "SKIP: (c) make_test_pki not built ($MAKE_TEST_PKI)"
fi

# (d) a real Prometheus scrapes the endpoint.
if command -v prometheus > /dev/null; then
  setup_case prom
  MPORT=$(free_port)
  PPORT=$(free_port)
  config_set "$CONF" engine shutdown_timeout_ms 2000
  printf '[metrics]\nlisten = "127.0.0.1:%s"\n' "$MPORT" >> "$CONF"
  printf 'global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ringmail\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' \
    "$MPORT" > "$WORK/prometheus.yml"
  start_daemon prom
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus-data" \
    --web.listen-address="127.0.0.1:$PPORT" > "$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  PIDS+=("$PROM_PID")
  # prom_query EXPR WANT: Prometheus's instant query EXPR has the value WANT.
  prom_query() {
    /usr/bin/python3 - "http://127.0.0.1:$PPORT/api/v1/query" "$1" "$2" <<'PY'
import json, sys, urllib.parse, urllib.request
try:
    url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})
    result = json.load(urllib.request.urlopen(url, timeout=2))["data"]["result"]
    sys.exit(0 if result and result[0]["value"][1] == sys.argv[3] else 1)
except Exception:
    sys.exit(1)
PY
  }
  verify "(d) Prometheus scrapes the endpoint (up == 1)" wait_until 30 prom_query 'up{job="ringmail"}' 1
  verify "(d) Prometheus stored the 5 message outcome series" wait_until 5 prom_query 'count(ringmail_messages_total)' 5
  kill -TERM "$PROM_PID"
  wait_exit "$PROM_PID" 10 || kill_hard "$PROM_PID"
  kill -TERM "$DAEMON_PID"
  wait_exit "$DAEMON_PID" 10 || kill_hard "$DAEMON_PID"
else
  echo "SKIP: (d) no prometheus server binary (Debian package prometheus)"
fi

verify_summary metrics_test
