#!/bin/bash
# tests/e2e/auth_test.sh — the real binary logs in to the relay with AUTH
# (relay.username + relay.password_file) against `ringmail sink --auth
# USER:PASSWORD`, which requires AUTH before MAIL and counts AUTH exchanges
# over TLS and in clear. Cases:
#   1. right password, STARTTLS, relay.tls left out (the default with
#      credentials is verify): delivered; the sink counts AUTH over TLS and
#      none in clear; the RINGMAIL_TRACE transcript shows "AUTH PLAIN ****"
#      and never the password nor its base64 forms;
#   2. wrong password: 535, deferred; the 535 explanation is in the run
#      output and in `ringmail queue`;
#   3. no TLS (sink without --tls-cert, relay.tls = "may"): AUTH is not
#      attempted in clear (the sink counts none, the trace shows no AUTH
#      line), nothing is delivered, deferred with the reason;
#   4. allow_plaintext_auth = true, same sink: AUTH in clear, delivered;
#   5. a password file with mode 644: the start is refused, the sentence
#      says "chmod 600 FILE", the messages stay in the spool.
# Usage: bash tests/e2e/auth_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

PKI=$WORK/pki
make_pki "$PKI"

USER_NAME=alerts
PASSWORD='S3cret-pass-91'
# The forms the password must never take in a transcript or in clear.
B64_PASSWORD=$(printf '%s' "$PASSWORD" | base64)
B64_PLAIN=$(printf '\0%s\0%s' "$USER_NAME" "$PASSWORD" | base64)
MSGS=5

# auth_case NAME PASSWORD_IN_FILE: a config for the sink on a fresh port
# with credentials (relay.tls not set), the test CA as the trust store and
# MSGS messages queued; sets DIR, CONF, PORT and PWFILE.
auth_case() {
  DIR=$WORK/$1
  mkdir -p "$DIR"
  PORT=$(free_port)
  CONF=$DIR/ringmail.toml
  PWFILE=$DIR/relay.password
  printf '%s\n' "$2" > "$PWFILE"
  chmod 600 "$PWFILE"
  RELAY_HOST=localhost write_config "$CONF" "$DIR/spool" "$PORT"
  config_set "$CONF" relay username "\"$USER_NAME\""
  config_set "$CONF" relay password_file "\"$PWFILE\""
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$CONF"
  put_messages "$DIR/spool" a "$MSGS"
}

# run_drain: one pass over the spool with the byte transcript on; output
# (stderr with the trace) in $DIR/run.log.
run_drain() {
  RINGMAIL_TRACE=1 timeout 60 "$RINGMAIL" run --config "$CONF" --drain > "$DIR/run.log" 2>&1 || true
}

# no_secrets FILE: the password and its base64 forms are nowhere in FILE.
no_secrets() {
  local what
  for what in "$PASSWORD" "$B64_PASSWORD" "$B64_PLAIN"; do
    if grep -qF -- "$what" "$1"; then fail "$1 shows a credential ($what)"; fi
  done
}

# 1. Right password over STARTTLS, at the default level (verify).
auth_case right "$PASSWORD"
start_sink "$PORT" --auth "$USER_NAME:$PASSWORD" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key"
run_drain
stop_sink
grep -q "relay TLS: level verify" "$DIR/run.log" || fail "credentials without relay.tls: level is not verify: $(head -3 "$DIR/run.log")"
grep -qF "relay AUTH: as $USER_NAME (PLAIN or LOGIN), over TLS only" "$DIR/run.log" || fail "no AUTH line at start-up"
[ "$(stats_field messages)" = "$MSGS" ] || fail "right password: $(stats_field messages) of $MSGS delivered: $(tail -5 "$DIR/run.log")"
[ "$(stats_field messages_tls)" = "$MSGS" ] || fail "right password: not every message over TLS"
[ "$(stats_field auth_tls)" -ge 1 ] || fail "right password: the sink counted no AUTH over TLS"
[ "$(stats_field auth_clear)" = 0 ] || fail "right password: AUTH in clear"
[ "$(stats_field auth_failed)" = 0 ] || fail "right password: an AUTH failed"
[ "$(count_in "$DIR/spool" deferred)" = 0 ] || fail "right password: messages deferred"
grep -qF 'C(tls): "AUTH PLAIN ****\r\n"' "$DIR/run.log" || fail "the trace lacks the masked AUTH line: $(grep -m3 AUTH "$DIR/run.log")"
no_secrets "$DIR/run.log"
pass "right password: $MSGS delivered over TLS, $(stats_field auth_tls) AUTH over TLS, none in clear, trace masked"

# 2. Wrong password: 535, deferred, explained in the run output and in `ringmail queue`.
auth_case wrong "not-the-password"
start_sink "$PORT" --auth "$USER_NAME:$PASSWORD" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key"
run_drain
stop_sink
[ "$(stats_field messages)" = 0 ] || fail "wrong password: messages delivered"
[ "$(stats_field auth_failed)" -ge 1 ] || fail "wrong password: the sink saw no failed AUTH"
[ "$(count_in "$DIR/spool" deferred)" = "$MSGS" ] || fail "wrong password: $(count_in "$DIR/spool" deferred) of $MSGS deferred"
EXPLAINED='refused the login (AUTH PLAIN): 535 5.7.8 Error: authentication failed: authentication failure; the relay rejected the user name or password: check relay.username and relay.password_file; for AWS SES these are SMTP credentials (the SMTP user name, not an IAM user name)'
grep -qF -- "deferred until" "$DIR/run.log" && grep -qF -- "$EXPLAINED" "$DIR/run.log" ||
  fail "wrong password: the run output lacks the explanation: $(grep -m2 deferred "$DIR/run.log")"
"$RINGMAIL" queue -c "$CONF" > "$DIR/queue.out" 2>&1 || fail "ringmail queue failed: $(cat "$DIR/queue.out")"
grep -qF -- "$EXPLAINED" "$DIR/queue.out" || fail "wrong password: ringmail queue lacks the explanation: $(cat "$DIR/queue.out")"
no_secrets "$DIR/run.log"
grep -qF "not-the-password" "$DIR/run.log" && fail "wrong password: the trace shows the password"
pass "wrong password: deferred with the 535 explanation in the run output and in ringmail queue"

# 3. No TLS at may: no AUTH in clear, nothing delivered, deferred with the reason.
auth_case notls "$PASSWORD"
config_set "$CONF" relay tls '"may"'
start_sink "$PORT" --auth "$USER_NAME:$PASSWORD"
run_drain
stop_sink
[ "$(stats_field auth_clear)" = 0 ] || fail "no TLS: the sink counted $(stats_field auth_clear) AUTH in clear"
[ "$(stats_field auth_tls)" = 0 ] || fail "no TLS: AUTH over TLS without TLS?"
[ "$(stats_field messages)" = 0 ] || fail "no TLS: messages delivered"
[ "$(count_in "$DIR/spool" deferred)" = "$MSGS" ] || fail "no TLS: $(count_in "$DIR/spool" deferred) of $MSGS deferred"
grep -q '^\[conn [0-9]*\] C: "AUTH' "$DIR/run.log" && fail "no TLS: the trace shows an AUTH command sent"
grep -q '^\[conn [0-9]*\] C: "MAIL' "$DIR/run.log" && fail "no TLS: a MAIL command was sent"
grep -qF 'the session is in clear (it does not offer STARTTLS) and relay.username is set; nothing was sent, and the messages wait for the next attempt; ringmail sends credentials only over TLS' "$DIR/run.log" ||
  fail "no TLS: the run output lacks the reason: $(grep -m2 deferred "$DIR/run.log")"
no_secrets "$DIR/run.log"
pass "no TLS at may: no AUTH in clear, $MSGS deferred with the reason"

# 4. allow_plaintext_auth = true: AUTH in clear, delivered.
auth_case plaintext "$PASSWORD"
config_set "$CONF" relay tls '"may"'
config_set "$CONF" relay allow_plaintext_auth true
start_sink "$PORT" --auth "$USER_NAME:$PASSWORD"
run_drain
stop_sink
[ "$(stats_field messages)" = "$MSGS" ] || fail "allow_plaintext_auth: $(stats_field messages) of $MSGS delivered: $(tail -5 "$DIR/run.log")"
[ "$(stats_field auth_clear)" -ge 1 ] || fail "allow_plaintext_auth: no AUTH in clear counted"
[ "$(stats_field auth_failed)" = 0 ] || fail "allow_plaintext_auth: an AUTH failed"
grep -qF 'C: "AUTH PLAIN ****\r\n"' "$DIR/run.log" || fail "allow_plaintext_auth: the trace lacks the masked AUTH line"
no_secrets "$DIR/run.log"
pass "allow_plaintext_auth: $MSGS delivered after $(stats_field auth_clear) AUTH in clear"

# 5. A password file others may read: refused at start, nothing moved.
auth_case mode644 "$PASSWORD"
chmod 644 "$PWFILE"
status=0
timeout 30 "$RINGMAIL" run --config "$CONF" --drain > "$DIR/run.log" 2>&1 || status=$?
[ "$status" != 0 ] || fail "mode 644: ringmail run started"
grep -qF "chmod 600 $PWFILE" "$DIR/run.log" || fail "mode 644: no 'chmod 600 $PWFILE' in: $(cat "$DIR/run.log")"
[ "$(spool_files "$DIR/spool")" = "$MSGS" ] || fail "mode 644: the spool changed"
[ "$(count_in "$DIR/spool" incoming/new)" = "$MSGS" ] || fail "mode 644: messages left incoming/new"
no_secrets "$DIR/run.log"
pass "password file mode 644: refused at start (exit $status) with 'chmod 600', spool untouched"
