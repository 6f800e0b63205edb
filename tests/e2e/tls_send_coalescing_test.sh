#!/bin/bash
# tests/e2e/tls_send_coalescing_test.sh — after a STARTTLS handshake the
# engine's EHLO goes out in the same send as its TLS Finished (one send and
# one submission fewer per connection; docs/performance.md). Checked
# on the engine's RINGMAIL_TRACE transcript, which logs every TLS send in
# program order: per connection, between "TLS: ... handshake done" and the
# first reply over TLS there is exactly one send, and the EHLO was sealed
# before it. And the QUIT, pipelined behind the last message a connection
# may carry, leaves in the message's send. Also: every message delivered
# over TLS at level verify, the later connections resumed.
# MAKE_TEST_PKI (default: next to ringmail, tests/make_test_pki).
# Usage: bash tests/e2e/tls_send_coalescing_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

PKI=$WORK/pki
make_pki "$PKI"

THREADS=1 MAX_CONNECTIONS=1 MAX_MESSAGES_PER_CONNECTION=1 RELAY_HOST=localhost setup_case coalesce
config_set "$CONF" relay tls '"verify"'
printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$CONF"
start_sink "$PORT" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key"
put_messages "$SPOOL" m 3
RINGMAIL_TRACE=1 timeout 30 "$RINGMAIL" run --config "$CONF" --drain > "$WORK/run.log" 2> "$WORK/trace.log" ||
  fail "run failed: $(tail -5 "$WORK/run.log" "$WORK/trace.log")"
stop_sink
[ "$(stats_field messages_tls)" = 3 ] || fail "wanted 3 messages over TLS: $(cat "$WORK/sink-stats.json")"
[ "$(stats_field tls_resumed)" -ge 1 ] || fail "no resumed connection: $(cat "$WORK/sink-stats.json")"

# Per handshake: sends between "TLS:" and the first "S(tls):", and whether
# the EHLO was sealed before the first of them.
/usr/bin/python3 - "$WORK/trace.log" <<'PY' || fail "EHLO not coalesced with the TLS Finished (trace: $WORK/trace.log)"
import sys
handshakes = []
current = None
for line in open(sys.argv[1]):
    if "] TLS: " in line:
        current = {"sends": 0, "ehlo_first": False}
        handshakes.append(current)
    elif current is None:
        continue
    elif "] C(tls): \"EHLO" in line and current["sends"] == 0:
        current["ehlo_first"] = True
    elif "] send(tls): " in line:
        current["sends"] += 1
    elif "] S(tls): " in line:
        current = None
print(handshakes)
assert len(handshakes) == 3, handshakes
assert all(h["sends"] == 1 and h["ehlo_first"] for h in handshakes), handshakes
PY
pass "EHLO sealed behind the client Finished, one send, on all 3 connections"

# With one message per connection, the QUIT is sealed behind the message
# (pipelined, smtp_client's pipeline_quit) and leaves in the same send.
/usr/bin/python3 - "$WORK/trace.log" <<'PY' || fail "QUIT not sent with the last message (trace: $WORK/trace.log)"
import sys
together = 0
message_sealed = quit_sealed = False
for line in open(sys.argv[1]):
    if "] C(tls): " in line:
        if "MAIL FROM:" in line:
            message_sealed, quit_sealed = True, False
        if "QUIT\\r\\n" in line and message_sealed:
            quit_sealed = True
    elif "] send(tls): " in line and message_sealed:
        together += quit_sealed
        message_sealed = False
print("connections whose QUIT left with the message:", together)
assert together == 3, together
PY
pass "QUIT sealed behind the message and sent with it, on all 3 connections"
