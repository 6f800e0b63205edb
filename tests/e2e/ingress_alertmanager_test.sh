#!/bin/bash
# tests/e2e/ingress_alertmanager_test.sh — Prometheus Alertmanager (Debian
# prometheus-alertmanager: Go's net/smtp, a client nobody here wrote) fires
# an alert at ringmail's listener, and ringmail relays it to the sink.
# Alertmanager is configured as an operator would: smtp_smarthost = the
# listener (STARTTLS, auth = "required", no trusted network, so the AUTH is
# what lets it relay), smtp_require_tls = true (its default: STARTTLS with
# the certificate checked against the test CA through tls_config.ca_file),
# smtp_auth_username/password (Go takes the first mechanism ringmail lists,
# PLAIN). The alert is pushed to Alertmanager's API (POST /api/v2/alerts on
# loopback) with group_wait 200 ms. Checks: the mail arrives at the sink
# once, from smtp_from to the receiver's address, with ringmail's Received:
# header (with ESMTPSA, TLS facts), a subject naming the alert and the
# alert's summary in the body; the delivery log's accepted line names the
# user; Alertmanager logged no notification error.
# Usage: bash tests/e2e/ingress_alertmanager_test.sh /path/to/ringmail
# SKIP (77) when prometheus-alertmanager is missing (tools/install_deps.sh).
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/ingress_lib.sh"
AM=/usr/bin/prometheus-alertmanager
[ -x "$AM" ] || { echo "SKIP: prometheus-alertmanager is not installed (tools/install_deps.sh)"; exit 77; }
ingress_pki
USER_NAME=alertmanager
PASSWORD='Am-Pa55-w0rd'

ingress_case alertmanager
ingress_users "$DIR/users" "$USER_NAME" "$PASSWORD"
ingress_listen 'tls="starttls"' "cert_file=\"$PKI/good.pem\"" "key_file=\"$PKI/good.key\"" 'auth="required"' \
  "users_file=\"$DIR/users\"" 'trusted_networks=[]'
ingress_start

AM_PORT=$(free_port)
cat > "$DIR/alertmanager.yml" <<EOF
global:
  smtp_smarthost: '127.0.0.1:$LPORT'
  smtp_from: 'alertmanager@example.com'
  smtp_hello: 'alertmanager.ringmail.test'
  smtp_auth_username: '$USER_NAME'
  smtp_auth_password: '$PASSWORD'
  smtp_require_tls: true
route:
  receiver: ops-mail
  group_by: ['alertname']
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: ops-mail
    email_configs:
      - to: 'ops@example.org'
        send_resolved: false
        tls_config:
          ca_file: '$PKI/ca.pem'
EOF
"$AM" --config.file="$DIR/alertmanager.yml" --storage.path="$DIR/am-data" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= --log.level=debug \
  > "$DIR/alertmanager.log" 2>&1 &
AM_PID=$!
PIDS+=("$AM_PID")
am_ready() {
  "$INGRESS_PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "http://127.0.0.1:$AM_PORT/-/ready" 2> /dev/null
}
wait_until 20 am_ready || fail "Alertmanager did not start: $(tail -5 "$DIR/alertmanager.log")"
pass "Alertmanager $("$AM" --version 2>&1 | awk 'NR == 1 {print $3}') ready on 127.0.0.1:$AM_PORT"

t0=$(date +%s%N)
"$INGRESS_PY" - "http://127.0.0.1:$AM_PORT/api/v2/alerts" <<'PY' || fail "could not push the alert"
import json, sys, urllib.request
alert = [{"labels": {"alertname": "IngressDiskFull", "severity": "critical", "instance": "db1.example.org"},
          "annotations": {"summary": "Disk full on db1.example.org (ingress e2e)"}}]
req = urllib.request.Request(sys.argv[1], data=json.dumps(alert).encode(), method="POST",
                             headers={"Content-Type": "application/json"})
print("POST /api/v2/alerts:", urllib.request.urlopen(req, timeout=5).status)
PY
verify "the alert reached the sink through ringmail" ingress_wait 1 20
echo "  alert pushed to mail in the sink: $((($(date +%s%N) - t0) / 1000000)) ms"

verify "the mail is the alert, intact" "$INGRESS_PY" - "$E2E_DIR" "$MAILDIR" "$INGRESS_HOST" <<'PY'
import email, email.policy, sys
sys.path.insert(0, sys.argv[1])
from ingress_smtp import expect, expect_received, done, sink_files, split_received
files = sink_files(sys.argv[2])
expect("exactly one message in the sink", len(files) == 1, len(files))
path, sender, rcpts, content = files[0]
expect("envelope from smtp_from", sender == "alertmanager@example.com", sender)
expect("envelope to the receiver", rcpts == ["ops@example.org"], rcpts)
received, rest = split_received(content)
expect_received(received, "alertmanager.ringmail.test", sys.argv[3], "ESMTPSA")
msg = email.message_from_bytes(rest, policy=email.policy.default)
expect("Subject names the alert", "IngressDiskFull" in str(msg["Subject"]), msg["Subject"])
expect("From: is smtp_from", "alertmanager@example.com" in str(msg["From"]), msg["From"])
expect("To: is the receiver", "ops@example.org" in str(msg["To"]), msg["To"])
texts = [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
expect("the body carries the alert's summary", any("Disk full on db1.example.org" in t for t in texts),
       [t[:200] for t in texts])
expect("the message parses without defects", not msg.defects and all(not p.defects for p in msg.walk()),
       msg.defects)
done()
PY
verify "the delivery log's accepted line names the user" line_with "$DLOG" '"accepted"' "\"$USER_NAME\""
verify "Alertmanager logged a successful notification" \
  eval "grep -q 'Notify success' '$DIR/alertmanager.log'"
verify "Alertmanager logged no notification error" \
  eval "! grep -q 'Notify for alerts failed' '$DIR/alertmanager.log'"
verify "the password is not in the daemon's output" eval "! grep -qF -- '$PASSWORD' '$DAEMON_ERR' '$DLOG'"
kill "$AM_PID" 2> /dev/null || true
wait_exit "$AM_PID" 10 || kill_hard "$AM_PID"
ingress_stop
verify_summary ingress_alertmanager_test
