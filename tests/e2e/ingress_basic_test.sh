#!/bin/bash
# tests/e2e/ingress_basic_test.sh — the SMTP listener ([[listen]]) of
# `ringmail run`, end to end, with Python's smtplib (a client nobody here
# wrote) and `ringmail sink` as the relay:
#   1. clear text, trusted client: 250 "queued as ID"; the spool file
#      (relay down, so it stays) carries the envelope and a Received: field;
#      once the sink is up it is delivered; the delivery log has an
#      "accepted" line; /metrics counts it;
#   2. STARTTLS (make_test_pki certificate, verified by the client) + AUTH
#      PLAIN from a users file (crypt SHA-512): AUTH is not offered in clear,
#      a wrong password is 535, the right one sends; the accepted line names
#      the user and the TLS version;
#   3. an untrusted client (bound to 127.0.0.2; trusted_networks =
#      ["127.0.0.1/32"]) is refused at RCPT with 554 and nothing is queued;
#      the refusal is logged and counted;
#   4. SIGTERM with a client connected: it gets "421 4.3.2", the daemon
#      exits 0;
#   5. `run --drain` with [[listen]] is refused with a sentence.
# MAKE_TEST_PKI (default: next to ringmail, tests/make_test_pki).
# Usage: bash tests/e2e/ingress_basic_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
MAKE_TEST_PKI=${MAKE_TEST_PKI:-$(dirname "$RINGMAIL")/tests/make_test_pki}
[ -x "$MAKE_TEST_PKI" ] || { echo "SKIP: make_test_pki not built ($MAKE_TEST_PKI)"; exit 77; }
$PY -c 'import ssl, smtplib, crypt' 2>/dev/null || { echo "SKIP: $PY lacks ssl/smtplib/crypt"; exit 77; }

PKI=$WORK/pki
mkdir -p "$PKI"
"$MAKE_TEST_PKI" "$PKI" p256 > /dev/null || fail "make_test_pki failed"
USERS=$WORK/users
$PY -W ignore -c 'import crypt, sys; print("alerts:" + crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_SHA512)))' \
  > "$USERS"
chmod 600 "$USERS"

# new_case NAME LISTEN_TOML: a spool, config and delivery log with one
# [[listen]] on a free port (LPORT), relaying to SINK_PORT; metrics on MPORT.
new_case() {
  setup_case "$1"
  SINK_PORT=$PORT
  LPORT=$(free_port)
  MPORT=$(free_port)
  DLOG=$WORK/$1/delivery.jsonl
  {
    printf '[log]\ndelivery = "%s"\n[metrics]\nlisten = "127.0.0.1:%s"\n\n' "$DLOG" "$MPORT"
    printf '[[listen]]\naddress = "127.0.0.1:%s"\n%s\n' "$LPORT" "$2"
  } >> "$CONF"
}

# daemon NAME: `ringmail run` in the background, waits for its listener line.
daemon() {
  start_daemon "$1"
  wait_for_line "$WORK/$1.err" "listening on 127.0.0.1:$LPORT" 10 || fail "$1: no listener: $(cat "$WORK/$1.err")"
}

stop_daemon() {
  kill -TERM "$DAEMON_PID"
  wait_exit "$DAEMON_PID" 15 || { kill_hard "$DAEMON_PID"; fail "the daemon did not stop on SIGTERM"; }
}

metric() {
  $PY - "http://127.0.0.1:$MPORT/metrics" "$1" <<'PY'
import sys, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
print(sum(float(l.rsplit(" ", 1)[1]) for l in page.splitlines() if l.startswith(sys.argv[2] + " ")))
PY
}

# --- 1: clear text, trusted client --------------------------------------------
new_case clear 'tls = "none"'
daemon clear  # the sink is not up yet: the message stays in the spool
ID=$($PY - "$LPORT" <<'PY' || fail "clear: smtplib send failed"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
code, _ = s.ehlo("client.example")
assert code == 250 and s.has_extn("pipelining") and s.has_extn("size") and s.has_extn("8bitmime"), s.esmtp_features
assert not s.has_extn("starttls") and not s.has_extn("auth"), s.esmtp_features
s.mail("alerts@example.com")
s.rcpt("ops@example.org")
code, text = s.data(b"Subject: ingress test\r\nMessage-ID: <ingress-1@example.com>\r\n\r\nhello over SMTP\r\n")
assert code == 250 and b"queued as" in text, (code, text)
print(text.split()[-1].decode())
s.quit()
PY
)
[ -n "$ID" ] || fail "clear: no queue id in the 250"
# It waits in deferred/ for its next attempt (1 s): copy it from there.
FILE=$WORK/clear/spool-file
wait_until 10 cp "$SPOOL/deferred/$ID" "$FILE" 2> /dev/null || fail "clear: $ID did not reach deferred/"
verify "the spool file has the envelope" line_with "$FILE" "X-Ringmail-From: <alerts@example.com>"
verify "the spool file has the recipient" line_with "$FILE" "X-Ringmail-To: <ops@example.org>"
verify "the spool file has a Received: field with the id" line_with "$FILE" "with ESMTP id $ID"
verify "the spool file has the body" line_with "$FILE" "hello over SMTP"
verify "nothing is left in incoming/tmp" eval "[ \"\$(count_in '$SPOOL' incoming/tmp)\" = 0 ]"
start_sink "$SINK_PORT" --maildir "$MAILDIR"
wait_until 15 eval "[ \"\$(maildir_files '$MAILDIR')\" = 1 ]" || fail "clear: not delivered to the sink"
verify "the sink got the body" eval "grep -rqF 'hello over SMTP' '$MAILDIR/new'"
verify "the accepted line" line_with "$DLOG" '"event":"accepted"' "\"id\":\"$ID\"" '"client":"127.0.0.1"' \
  '"tls":null' '"from":"alerts@example.com"' '"to":["ops@example.org"]'
verify "the delivered attempt" line_with "$DLOG" '"event":"attempt"' "\"id\":\"$ID\"" '"outcome":"delivered"'
verify "accepted messages counted" eval "[ \"\$(metric ringmail_ingress_messages_accepted_total)\" = 1.0 ]"
verify "commit batches counted" eval "[ \"\$(metric ringmail_ingress_commit_batches_total)\" != 0.0 ]"
stop_daemon
verify "the daemon exits 0 on SIGTERM" [ "$EXIT_RC" = 0 ]
verify "the summary counts the listener" line_with "$WORK/clear.err" "listeners:" "1 message(s) accepted"
stop_sink

# --- 2: STARTTLS + AUTH PLAIN --------------------------------------------------
new_case tls "tls = \"starttls\"
cert_file = \"$PKI/good.pem\"
key_file = \"$PKI/good.key\"
auth = \"required\"
users_file = \"$USERS\"
trusted_networks = []"
start_sink "$SINK_PORT" --maildir "$MAILDIR"
daemon tls
$PY - "$LPORT" "$PKI/ca.pem" <<'PY' || fail "tls: STARTTLS + AUTH dialogue ($(cat "$WORK/tls.err"))"
import smtplib, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
s.ehlo("client.example")
assert s.has_extn("starttls") and not s.has_extn("auth"), s.esmtp_features  # no AUTH in clear
code, _ = s.docmd("MAIL FROM:<alerts@example.com>")
assert code == 530, code  # TLS and AUTH first
s.starttls(context=ctx)
s.ehlo("client.example")
assert "PLAIN" in s.esmtp_features.get("auth", "") and not s.has_extn("starttls"), s.esmtp_features
try:
    s.login("alerts", "wrong")
    raise SystemExit("a wrong password was accepted")
except smtplib.SMTPAuthenticationError as e:
    assert e.smtp_code == 535, e
s.login("alerts", "s3cret")
s.sendmail("alerts@example.com", ["ops@example.org"], b"Subject: tls\r\n\r\nover TLS with AUTH\r\n")
s.quit()
PY
wait_until 15 eval "[ \"\$(maildir_files '$MAILDIR')\" = 1 ]" || fail "tls: not delivered to the sink"
verify "the accepted line names the user and TLS" line_with "$DLOG" '"event":"accepted"' '"auth_user":"alerts"' \
  '"tls":"TLSv1.3"'
verify "the failed AUTH is logged" line_with "$DLOG" '"event":"rejected"' '"reason":"auth_failed"'
verify "the password is in no log" eval "! grep -qF s3cret '$DLOG' '$WORK/tls.err'"
stop_daemon
stop_sink

# --- 3: an untrusted client is not relayed -------------------------------------
new_case relay 'trusted_networks = ["127.0.0.1/32"]'
daemon relay
$PY - "$LPORT" <<'PY' || fail "relay: the untrusted client was not refused ($(cat "$WORK/relay.err"))"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10, source_address=("127.0.0.2", 0))
s.ehlo("outside.example")
s.mail("spammer@example.net")
code, text = s.rcpt("victim@example.org")
assert code == 554 and b"Relay access denied" in text, (code, text)
code, _ = s.docmd("DATA")
assert code >= 500, code
s.quit()
PY
sleep 0.3
verify "nothing is queued for the untrusted client" eval "[ \"\$(spool_files '$SPOOL')\" = 0 ]"
verify "the refusal is logged" line_with "$DLOG" '"event":"rejected"' '"reason":"relay_denied"' '"client":"127.0.0.2"'
verify "the refusal is counted" \
  eval "[ \"\$(metric 'ringmail_ingress_refusals_total{reason=\"relay_denied\"}')\" = 1.0 ]"

# --- 4: SIGTERM while a client is connected ------------------------------------
$PY - "$LPORT" "$DAEMON_PID" <<'PY' || fail "sigterm: no 421 4.3.2 to the waiting client"
import os, signal, socket, sys
port, pid = int(sys.argv[1]), int(sys.argv[2])
c = socket.create_connection(("127.0.0.1", port), timeout=10)
f = c.makefile("rb")
assert f.readline().startswith(b"220")
c.sendall(b"EHLO client.example\r\n")
while not f.readline().startswith(b"250 "):
    pass
os.kill(pid, signal.SIGTERM)
line = f.readline()
assert line.startswith(b"421 4.3.2"), line
PY
wait_exit "$DAEMON_PID" 15 || { kill_hard "$DAEMON_PID"; fail "sigterm: the daemon did not stop"; }
verify "SIGTERM ends the daemon with 0" [ "$EXIT_RC" = 0 ]

# --- 5: --drain cannot serve listeners -----------------------------------------
RC=0
"$RINGMAIL" run --drain -c "$CONF" > "$WORK/drain.out" 2> "$WORK/drain.err" || RC=$?
verify "run --drain with [[listen]] exits 71" [ "$RC" = 71 ]
verify "and says why" line_with "$WORK/drain.err" "--drain" "[[listen]]"

verify_summary "SMTP listener: clear, STARTTLS+AUTH, relay refusal, SIGTERM, --drain"
