#!/bin/bash
# tests/e2e/sink_tls_test.sh — `ringmail sink` with TLS and AUTH, driven by
# clients nobody here wrote (/usr/bin/python3's smtplib and ssl, on OpenSSL)
# and by `ringmail check-tls`, with PEMs from tests/tools/make_test_pki:
#   - STARTTLS + AUTH + a message, counted as over TLS; no STARTTLS offered
#     after TLS; MAIL before AUTH is 530; a wrong password is 535; AUTH in
#     clear works but is counted as auth_clear;
#   - bytes pipelined after STARTTLS in the same write are discarded (the
#     handshake still works and nothing was answered in clear);
#   - a second connection resumes the TLS session (tls_resumed);
#   - implicit TLS (smtplib.SMTP_SSL);
#   - a message in clear when the client ignores STARTTLS (messages_clear);
#   - check-tls --starttls and --implicit say "trusted" with the test CA;
#     --tls-max-version 1.1 and a CBC-only --tls-ciphers make check-tls fail;
#   - the stats JSON fields.
# MAKE_TEST_PKI (default: next to ringmail, tests/make_test_pki).
# Usage: bash tests/e2e/sink_tls_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
$PY -c 'import ssl, smtplib' 2>/dev/null || { echo "SKIP: $PY has no ssl module"; exit 77; }

PKI=$WORK/pki
make_pki "$PKI"
TLS_FLAGS=(--tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key")

# fresh_sink PORT ARGS...: start_sink without the last run's log, whose
# "listening on" line would otherwise satisfy the wait before the new sink
# has truncated it.
SINK_RUN=0
fresh_sink() {
  SINK_RUN=$((SINK_RUN + 1))
  [ -f "$WORK/sink.log" ] && mv "$WORK/sink.log" "$WORK/sink.$SINK_RUN.log"  # kept for KEEP_WORK=1
  rm -f "$WORK/sink-stats.json"
  start_sink "$@"
}

# expect_stats PY_EXPR: asserts a Python expression over `s` (the stats JSON).
expect_stats() {
  $PY - "$WORK/sink-stats.json" "$1" <<'PY' || fail "stats: wanted $1, got $(cat "$WORK/sink-stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert eval(sys.argv[2]), s
PY
}

# --- 1: STARTTLS + AUTH ----------------------------------------------------------
PORT=$(free_port)
fresh_sink "$PORT" "${TLS_FLAGS[@]}" --auth alerts:s3cret --threads 2  # one SSL_CTX: resumption on either thread
$PY - "$PORT" "$PKI/ca.pem" <<'PY' || fail "STARTTLS + AUTH dialogue (log: $(cat "$WORK/sink.log"))"
import smtplib, socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
msg = b"Subject: tls\r\n\r\nover TLS\r\n"

# In clear: STARTTLS and AUTH offered; MAIL before AUTH is 530; AUTH in clear works.
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
code, ehlo = s.ehlo("client.test")
assert code == 250 and b"STARTTLS" in ehlo and b"AUTH PLAIN LOGIN" in ehlo, ehlo
code, text = s.mail("a@example.org")
assert code == 530 and b"5.7.0 Authentication required" in text, (code, text)
s.login("alerts", "s3cret")  # counted as auth_clear
s.quit()

# STARTTLS, wrong password (535), right password, one message over TLS.
s = smtplib.SMTP("localhost", port, timeout=10)
s.starttls(context=ctx)
code, ehlo = s.ehlo("client.test")
assert code == 250 and b"STARTTLS" not in ehlo and b"AUTH PLAIN LOGIN" in ehlo, ehlo
code, text = s.mail("a@example.org")
assert code == 530, (code, text)
s.rset()
try:
    s.login("alerts", "wrong")
    raise SystemExit("wrong password accepted")
except smtplib.SMTPAuthenticationError as e:
    assert e.smtp_code == 535 and b"5.7.8" in e.smtp_error, e
s.login("alerts", "s3cret")
assert s.sendmail("a@example.org", ["b@example.net"], msg) == {}
s.quit()

# Pipelined bytes after STARTTLS in the same write are discarded: no reply in
# clear to them (the handshake would then fail), and MAIL was not taken.
raw = socket.create_connection(("127.0.0.1", port), timeout=10)
f = raw.makefile("rb")
assert f.readline().startswith(b"220 ")
raw.sendall(b"EHLO x\r\nSTARTTLS\r\nAUTH PLAIN AGFsZXJ0cwBzM2NyZXQ=\r\nMAIL FROM:<evil@x>\r\n")
while True:
    line = f.readline()
    if line.startswith(b"250 "):
        break
assert f.readline().startswith(b"220 2.0.0"), "no 220 to STARTTLS"
tls = ctx.wrap_socket(raw, server_hostname="localhost")
tf = tls.makefile("rb")
tls.sendall(b"EHLO x\r\n")
while not tf.readline().startswith(b"250 "):
    pass
tls.sendall(b"MAIL FROM:<a@example.org>\r\n")
line = tf.readline()
assert line.startswith(b"530"), line  # the injected AUTH was not taken
tls.sendall(b"QUIT\r\n")
tf.readline()
tls.close()

# Resumption: the second connection offers the first one's session.
def starttls_connection(session):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = raw.makefile("rb")
    f.readline()
    raw.sendall(b"EHLO x\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    raw.sendall(b"STARTTLS\r\n")
    assert f.readline().startswith(b"220 ")
    tls = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    tf = tls.makefile("rb")
    tls.sendall(b"EHLO x\r\n")
    while not tf.readline().startswith(b"250 "):
        pass
    tls.sendall(b"QUIT\r\n")
    tf.readline()
    result = (tls.session, tls.session_reused)
    tls.close()
    return result

first, reused = starttls_connection(None)
assert not reused
_, reused = starttls_connection(first)
assert reused, "the second connection was not resumed"
PY
stop_sink
expect_stats 's["messages"] == 1 and s["messages_tls"] == 1 and s["messages_clear"] == 0'
# smtplib's login() tries PLAIN, then LOGIN, with the wrong password: 2 failures.
expect_stats 's["auth_clear"] == 1 and s["auth_tls"] == 3 and s["auth_failed"] == 2'
expect_stats 's["tls_handshakes"] == 4 and s["tls_resumed"] == 1 and s["tls_failed"] == 0'
grep -q "^sink: tls: 4 handshakes (1 resumed, 0 failed), 1 messages over TLS, 0 in clear; auth: 3 over TLS, 1 in clear, 2 failed$" \
  "$WORK/sink.log" || fail "tls line: $(cat "$WORK/sink.log")"
pass "STARTTLS + AUTH, 530, 535, AUTH in clear counted, pipelined bytes discarded, resumption"

# --- 2: implicit TLS ---------------------------------------------------------------
PORT=$(free_port)
fresh_sink "$PORT" "${TLS_FLAGS[@]}" --implicit-tls --auth alerts:s3cret
$PY - "$PORT" "$PKI/ca.pem" <<'PY' || fail "implicit TLS (log: $(cat "$WORK/sink.log"))"
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP_SSL("localhost", int(sys.argv[1]), context=ctx, timeout=10)
code, ehlo = s.ehlo("client.test")
assert code == 250 and b"STARTTLS" not in ehlo and b"AUTH PLAIN LOGIN" in ehlo, ehlo
s.login("alerts", "s3cret")
assert s.sendmail("a@example.org", ["b@example.net", "c@example.net"], b"Subject: x\r\n\r\nhi\r\n") == {}
s.quit()
PY
"$RINGMAIL" check-tls "127.0.0.1:$PORT" --implicit --ca "$PKI/ca.pem" --name localhost --timeout-ms 5000 \
  > "$WORK/check.txt" 2>&1 || fail "check-tls --implicit: $(cat "$WORK/check.txt")"
grep -q "^verdict:   trusted" "$WORK/check.txt" || fail "check-tls --implicit verdict: $(cat "$WORK/check.txt")"
stop_sink
expect_stats 's["messages"] == 1 and s["recipients"] == 2 and s["messages_tls"] == 1'
expect_stats 's["tls_handshakes"] == 2 and s["auth_tls"] == 1 and s["auth_clear"] == 0 and s["auth_failed"] == 0'
pass "implicit TLS (SMTP_SSL), check-tls --implicit trusted"

# --- 3: STARTTLS offered but not used; check-tls --starttls ------------------------
PORT=$(free_port)
fresh_sink "$PORT" "${TLS_FLAGS[@]}"
$PY - "$PORT" <<'PY' || fail "message in clear"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
assert s.sendmail("a@example.org", ["b@example.net"], b"Subject: x\r\n\r\nhi\r\n") == {}
s.quit()
PY
"$RINGMAIL" check-tls "127.0.0.1:$PORT" --starttls --ca "$PKI/ca.pem" --name localhost --timeout-ms 5000 \
  > "$WORK/check.txt" 2>&1 || fail "check-tls --starttls: $(cat "$WORK/check.txt")"
grep -q "^verdict:   trusted" "$WORK/check.txt" || fail "check-tls --starttls verdict: $(cat "$WORK/check.txt")"
stop_sink
expect_stats 's["messages"] == 1 and s["messages_clear"] == 1 and s["messages_tls"] == 0'
expect_stats 's["tls_handshakes"] == 1 and s["auth_tls"] == 0 and s["auth_clear"] == 0'
pass "message in clear counted; check-tls --starttls trusted"

# --- 4: old protocols only: a modern client refuses ------------------------------
PORT=$(free_port)
fresh_sink "$PORT" "${TLS_FLAGS[@]}" --tls-min-version 1.0 --tls-max-version 1.1
rc=0
"$RINGMAIL" check-tls "127.0.0.1:$PORT" --starttls --ca "$PKI/ca.pem" --name localhost --timeout-ms 5000 \
  > "$WORK/check.txt" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "check-tls against a TLS 1.0/1.1 sink: exit $rc: $(cat "$WORK/check.txt")"
grep -q "no TLS version in common" "$WORK/check.txt" || fail "version words: $(cat "$WORK/check.txt")"
stop_sink
expect_stats 's["tls_failed"] == 1 and s["tls_handshakes"] == 0'
pass "--tls-max-version 1.1: check-tls refuses (no TLS version in common)"

PORT=$(free_port)
fresh_sink "$PORT" "${TLS_FLAGS[@]}" --tls-max-version 1.2 --tls-ciphers ECDHE-ECDSA-AES128-SHA
rc=0
"$RINGMAIL" check-tls "127.0.0.1:$PORT" --starttls --ca "$PKI/ca.pem" --name localhost --timeout-ms 5000 \
  > "$WORK/check.txt" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "check-tls against a CBC-only sink: exit $rc: $(cat "$WORK/check.txt")"
grep -q "no cipher in common" "$WORK/check.txt" || fail "cipher words: $(cat "$WORK/check.txt")"
stop_sink
expect_stats 's["tls_failed"] == 1'
pass "--tls-ciphers CBC only: check-tls refuses (no cipher in common)"

# --- 5: flag errors ------------------------------------------------------------------
rc=0
"$RINGMAIL" sink --listen 127.0.0.1:0 --implicit-tls > "$WORK/flags.txt" 2>&1 || rc=$?
[ "$rc" = 64 ] && grep -q "need --tls-cert" "$WORK/flags.txt" || fail "--implicit-tls alone: exit $rc $(cat "$WORK/flags.txt")"
rc=0
"$RINGMAIL" sink --listen 127.0.0.1:0 "${TLS_FLAGS[@]}" --tls-min-version 2.0 > "$WORK/flags.txt" 2>&1 || rc=$?
[ "$rc" = 64 ] || fail "--tls-min-version 2.0: exit $rc $(cat "$WORK/flags.txt")"
rc=0
"$RINGMAIL" sink --listen 127.0.0.1:0 --auth nocolon > "$WORK/flags.txt" 2>&1 || rc=$?
[ "$rc" = 64 ] || fail "--auth nocolon: exit $rc $(cat "$WORK/flags.txt")"
rc=0
"$RINGMAIL" sink --listen 127.0.0.1:0 "${TLS_FLAGS[@]}" --tls-ciphers NOPE-CIPHER > "$WORK/flags.txt" 2>&1 || rc=$?
[ "$rc" = 64 ] || fail "--tls-ciphers NOPE-CIPHER: exit $rc $(cat "$WORK/flags.txt")"
rc=0
"$RINGMAIL" sink --listen 127.0.0.1:0 --tls-cert "$WORK/none.pem" --tls-key "$PKI/good.key" > "$WORK/flags.txt" 2>&1 || rc=$?
[ "$rc" = 64 ] && grep -q "none.pem" "$WORK/flags.txt" || fail "missing cert: exit $rc $(cat "$WORK/flags.txt")"
pass "flag errors"

echo "PASS: sink TLS test"
