#!/bin/bash
# tests/e2e/test_send_test.sh — `ringmail test-send` (the seed's "Test
# Action") with the real binary against `ringmail sink`, with certificates
# from tests/tools/make_test_pki:
#   - relay.tls = none: delivered in clear, exit 0, the transcript shows the
#     commands and summarises the content, the sink got 1 message;
#   - verify over STARTTLS with the good certificate: the TLS facts
#     (protocol, cipher, group, SNI, chain, verdict), exit 0, 1 message over TLS;
#   - verify against each bad certificate (wrong name, self-signed, unknown
#     issuer, expired): exit 3, the verdict in words, no MAIL sent;
#   - implicit TLS; encrypt against a relay without STARTTLS (exit 3);
#   - a 550 and a 451 to RCPT (exit 1 and 2, explained);
#   - AUTH against `sink --auth`: the right password (AUTH PLAIN ****, neither
#     the password nor its base64 anywhere), a wrong one (535 explained,
#     exit 1), and credentials with no TLS (nothing sent, exit 3);
#   - against tls_levels_server.py (OpenSSL): level may with a handshake
#     that fails (a second connection in clear, as delivery does); encrypt
#     with STARTTLS refused (exit 3);
#   - STARTTLS against an implicit TLS port: no greeting (exit 4, explained);
#   - nothing listening (exit 4, explained); a bad --to (64); a config
#     whose trust store is missing (78).
# MAKE_TEST_PKI (set by tests/CMakeLists.txt) is the make_test_pki binary.
# Usage: bash tests/e2e/test_send_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"


PKI=$WORK/pki
make_pki "$PKI"
N=0

# new_case LEVEL [RELAY_HOST]: a config relaying to a free port at LEVEL,
# trusting the test CA only; sets CONF, PORT, OUT.
new_case() {
  N=$((N + 1))
  mkdir -p "$WORK/case$N"
  CONF=$WORK/case$N/ringmail.toml
  OUT=$WORK/case$N/out.txt
  PORT=$(free_port)
  RELAY_HOST=${2:-127.0.0.1} write_config "$CONF" "$WORK/case$N/spool" "$PORT"
  config_set "$CONF" relay tls "\"$1\""
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$CONF"
}

# test_send WANT_RC ARGS...: runs test-send with the case's config; checks
# the exit status (the output is in $OUT).
test_send() {
  local want=$1 rc=0
  shift
  timeout 30 "$RINGMAIL" test-send --config "$CONF" "$@" > "$OUT" 2>&1 || rc=$?
  verify "case $N: exit $want (got $rc)" [ "$rc" = "$want" ]
  [ "$rc" = "$want" ] || cat "$OUT"
}

has() { line_with "$OUT" "$@"; }
lacks() { ! grep -qF -- "$1" "$OUT"; }

# --- relay.tls = none: in clear --------------------------------------------------
new_case none
start_sink "$PORT" --maildir "$WORK/case$N/maildir"
test_send 0 --to ops@example.org
stop_sink
verify "none: greeting, EHLO, MAIL, RCPT shown" has "C: EHLO e2e.ringmail.test"
verify "none: MAIL FROM the default sender" has "C: MAIL FROM:<alerts@example.com>"
verify "none: RCPT TO" has "C: RCPT TO:<ops@example.org>"
verify "none: content summarised" has "C: (message content:" "not shown)"
verify "none: content not dumped" lacks "If you can read it"
verify "none: no TLS block" lacks "TLS:"
verify "none: final line explains the 250" has "result: 250" "accepted: the relay took the test message for <ops@example.org>"
verify "none: the sink got 1 message, in clear" [ "$(stats_field messages)/$(stats_field messages_clear)" = 1/1 ]
verify "none: the message is the test alert" grep -rqF "Subject: ringmail test message" "$WORK/case$N/maildir/new"

# --- verify over STARTTLS, good certificate ---------------------------------------
new_case verify localhost
start_sink "$PORT" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key"
test_send 0 --to ops@example.org --from me@example.net
stop_sink
verify "verify: STARTTLS sent" has "C: STARTTLS"
verify "verify: protocol" has "TLS: protocol:  TLSv1."
verify "verify: cipher" has "TLS: cipher:    TLS_"
verify "verify: group" has "TLS: group:     "
verify "verify: SNI" has "TLS: sni:       localhost"
verify "verify: subject" has "TLS:   0 subject: CN=localhost"
verify "verify: issuer" has "TLS:     issuer:  CN=ringmail test CA"
verify "verify: verdict in words" has "TLS: verdict:   trusted"
verify "verify: --from used" has "C: MAIL FROM:<me@example.net>"
verify "verify: 1 message over TLS" [ "$(stats_field messages)/$(stats_field messages_tls)" = 1/1 ]

# --- verify, each bad certificate: refused, nothing sent ------------------------
for bad in "wrong_name|name mismatch: the certificate is for DNS:wrong.example" \
  "self_signed|it is self-signed" "unknown_issuer|is not in the trust store" "expired|it expired on"; do
  cert=${bad%%|*}
  words=${bad#*|}
  new_case verify
  start_sink "$PORT" --tls-cert "$PKI/$cert.pem" --tls-key "$PKI/$cert.key"
  test_send 3 --to ops@example.org
  stop_sink
  verify "verify $cert: handshake failed" has "TLS: handshake failed"
  verify "verify $cert: verdict in words" has "TLS: verdict:" "$words"
  verify "verify $cert: final line says why" has "result: not sent" "relay.tls = \"verify\" requires TLS"
  verify "verify $cert: no MAIL sent" lacks "C: MAIL"
  verify "verify $cert: the sink got nothing" [ "$(stats_field messages)" = 0 ]
done

# --- implicit TLS -------------------------------------------------------------------
new_case verify
config_set "$CONF" relay implicit_tls true
start_sink "$PORT" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key" --implicit-tls
test_send 0 --to ops@example.org
stop_sink
verify "implicit: TLS first" has "implicit TLS: the handshake comes first"
verify "implicit: no STARTTLS" lacks "C: STARTTLS"
verify "implicit: TLS facts" has "TLS: verdict:   trusted"
verify "implicit: 1 message over TLS" [ "$(stats_field messages_tls)" = 1 ]

# --- encrypt against a relay without STARTTLS -------------------------------------
new_case encrypt
start_sink "$PORT"
test_send 3 --to ops@example.org
stop_sink
verify "encrypt, no STARTTLS: explained" has "result: not sent" "does not offer STARTTLS"
verify "encrypt, no STARTTLS: no MAIL sent" lacks "C: MAIL"

# --- the relay refuses the recipient: for good, and for now ----------------------
new_case none
start_sink "$PORT" --rcpt-reply bad@example.org=550 --rcpt-reply later@example.org=451
test_send 1 --to bad@example.org
verify "550: rejected, explained" has "result: 550" "rejected for good"
test_send 2 --to later@example.org
verify "451: deferred, explained" has "result: 451" "deferred"
stop_sink
verify "550/451: nothing accepted" [ "$(stats_field messages)" = 0 ]

# --- AUTH: the right password, a wrong one, and none over clear text -------------
# login_case LEVEL PASSWORD: a case whose relay logs in as "alerts".
login_case() {
  new_case "$1" localhost
  printf '%s\n' "$2" > "$WORK/case$N/password"
  chmod 600 "$WORK/case$N/password"
  config_set "$CONF" relay username '"alerts"'
  config_set "$CONF" relay password_file "\"$WORK/case$N/password\""
}
# The secret in every form it travels: PLAIN's base64("\0alerts\0s3cret"),
# LOGIN's base64("s3cret"), and itself.
no_secret() { lacks "s3cret" && lacks "AGFsZXJ0cwBzM2NyZXQ=" && lacks "czNjcmV0"; }
login_case verify s3cret
start_sink "$PORT" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key" --auth alerts:s3cret
test_send 0 --to ops@example.org
stop_sink
verify "auth: AUTH PLAIN masked" has "C: AUTH PLAIN ****"
verify "auth: accepted" has "S: 235"
verify "auth: no password, no base64 of it" no_secret
verify "auth: logged in over TLS, 1 message" [ "$(stats_field auth_tls)/$(stats_field messages)" = 1/1 ]

login_case verify wrong-password
start_sink "$PORT" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key" --auth alerts:s3cret
test_send 1 --to ops@example.org
stop_sink
verify "auth, wrong password: 535 explained" has "result:" "535" "the relay rejected the user name or password"
verify "auth, wrong password: no MAIL sent" lacks "C: MAIL"
verify "auth, wrong password: nothing accepted" [ "$(stats_field messages)" = 0 ]

login_case may s3cret
start_sink "$PORT" --auth alerts:s3cret
test_send 3 --to ops@example.org
stop_sink
verify "auth, no TLS: explained" has "result: not sent" "ringmail sends credentials only over TLS"
verify "auth, no TLS: no AUTH sent" lacks "C: AUTH"
verify "auth, no TLS: nothing in clear" [ "$(stats_field auth_clear)/$(stats_field messages)" = 0/0 ]

# --- servers nobody here wrote (tls_levels_server.py, OpenSSL): at may a
# handshake that fails is followed by a connection in clear, as delivery
# does; at encrypt a refused STARTTLS sends nothing ----------------------------
# py_server MODE: starts tls_levels_server.py with the good certificate on $PORT.
py_server() {
  : > "$WORK/case$N/server.out"
  /usr/bin/python3 "$E2E_DIR/tls_levels_server.py" "$PORT" "$PKI/good.pem" "$PKI/good.key" "$1" \
    "$WORK/case$N/server.log" > "$WORK/case$N/server.out" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_until 10 grep -q ready "$WORK/case$N/server.out" || fail "tls_levels_server.py $1 did not start"
}
stop_py_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  forget_pid "$SERVER_PID"
  touch "$WORK/case$N/server.log"
}
if /usr/bin/python3 -c 'import ssl' 2>/dev/null; then
  new_case may
  py_server garbage
  test_send 0 --to ops@example.org
  stop_py_server
  verify "may, handshake fails: says it goes on in clear" has "--- " "relay.tls = \"may\": delivering in clear on a new connection"
  verify "may, handshake fails: delivered in clear" grep -q "^msg tls=0" "$WORK/case$N/server.log"

  new_case encrypt
  py_server refuse
  test_send 3 --to ops@example.org
  stop_py_server
  verify "encrypt, STARTTLS refused: explained" has "result: not sent" "refused STARTTLS: it answered 454"
  verify "encrypt, STARTTLS refused: no MAIL sent" lacks "C: MAIL"
else
  echo "SKIP: cases against tls_levels_server.py (/usr/bin/python3 has no ssl)"
fi

# --- STARTTLS configured, the port speaks implicit TLS: no greeting ----------------
new_case encrypt
config_set "$CONF" smtp reply_timeout_ms 500
start_sink "$PORT" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key" --implicit-tls
test_send 4 --to ops@example.org
stop_sink
verify "no greeting: explained" has "result: not sent" "timeout waiting for the greeting" "relay.implicit_tls = true"

# --- nothing listening; a bad address; a missing trust store ---------------------
new_case none
test_send 4 --to ops@example.org
verify "refused: explained" has "connect to 127.0.0.1[127.0.0.1]:$PORT: Connection refused" "check relay.host and relay.port"
test_send 64 --to "not an address"
verify "bad --to: explained" has "--to \"not an address\" is not an address"
new_case verify
sed -i "s|^ca_file = .*|ca_file = \"$WORK/no-such-ca.pem\"|" "$CONF"
test_send 78 --to ops@example.org
verify "missing ca_file: names it" has "no-such-ca.pem"

verify_summary "test_send_test"
