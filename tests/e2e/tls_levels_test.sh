#!/bin/bash
# tests/e2e/tls_levels_test.sh — the real binary delivers to a TLS SMTP
# server nobody here wrote (tests/e2e/tls_levels_server.py, Python's ssl on
# OpenSSL) at each relay.tls level, with certificates from
# tests/tools/make_test_pki. For each case: the outcome (delivered over TLS,
# delivered in clear, or deferred with the right words in the engine's
# log), and at encrypt, verify and secure that no MAIL command and no
# message byte reached the server in clear (the server logs, per message,
# whether it came over TLS). Also: close_notify on QUIT, the `may` fallback
# to clear text on a new connection after a failed handshake, and session
# resumption on the second and third connection.
# Usage: bash tests/e2e/tls_levels_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
$PY -c 'import ssl' 2>/dev/null || { echo "SKIP: $PY has no ssl module"; exit 77; }

PKI=$WORK/pki
make_pki "$PKI"
FAILED=0
N=0

# run_case NAME CERT MODE LEVEL IMPLICIT WANT WORDS [MSGS]
#   WANT: tls (delivered, every message over TLS), clear (delivered, in
#   clear), deferred (nothing delivered, nothing in clear, WORDS in the log).
run_case() {
  local name=$1 cert=$2 mode=$3 level=$4 implicit=$5 want=$6 words=$7 msgs=${8:-3}
  N=$((N + 1))
  local dir=$WORK/case$N port
  mkdir -p "$dir"
  port=$(free_port)
  : > "$dir/server.out"
  $PY "$E2E_DIR/tls_levels_server.py" "$port" "$PKI/$cert.pem" "$PKI/$cert.key" "$mode" "$dir/server.log" \
    ${CLIENT_CA:-} > "$dir/server.out" 2>&1 &
  local server=$!
  PIDS+=("$server")
  wait_until 10 grep -q ready "$dir/server.out" || fail "$name: test server did not start"
  RELAY_HOST=localhost write_config "$dir/ringmail.toml" "$dir/spool" "$port"
  config_set "$dir/ringmail.toml" relay tls "\"$level\""
  config_set "$dir/ringmail.toml" relay implicit_tls "$implicit"
  [ -n "${EXTRA_RELAY:-}" ] && config_set "$dir/ringmail.toml" relay $EXTRA_RELAY
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$dir/ringmail.toml"
  [ -n "${EXTRA_TLS:-}" ] && printf '%s\n' "$EXTRA_TLS" >> "$dir/ringmail.toml"
  put_messages "$dir/spool" m "$msgs"
  timeout 30 "$RINGMAIL" run --config "$dir/ringmail.toml" --drain > "$dir/run.log" 2>&1 || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  forget_pid "$server"
  touch "$dir/server.log"
  local delivered tls_msgs clear_msgs clear_mail clear_bytes
  delivered=$(grep -c '^msg ' "$dir/server.log" || true)
  tls_msgs=$(grep -c '^msg tls=1' "$dir/server.log" || true)
  clear_msgs=$(grep -c '^msg tls=0' "$dir/server.log" || true)
  clear_mail=$(grep -c '^mail tls=0' "$dir/server.log" || true)
  clear_bytes=$(grep -c '^clear-bytes' "$dir/server.log" || true)
  local ok=1 why=""
  case $want in
    tls)
      [ "$delivered" = "$msgs" ] && [ "$tls_msgs" = "$msgs" ] || { ok=0; why="wanted $msgs over TLS, got $tls_msgs of $delivered"; }
      [ "$clear_mail$clear_bytes" = 00 ] || { ok=0; why="$why; bytes in clear"; }
      ;;
    clear)
      [ "$delivered" = "$msgs" ] && [ "$clear_msgs" = "$msgs" ] || { ok=0; why="wanted $msgs in clear, got $clear_msgs of $delivered"; }
      ;;
    deferred)
      [ "$delivered" = 0 ] || { ok=0; why="$delivered delivered"; }
      [ "$clear_mail$clear_bytes" = 00 ] || { ok=0; why="$why; a MAIL or message bytes in clear"; }
      [ "$(count_in "$dir/spool" deferred)" = "$msgs" ] || { ok=0; why="$why; $(count_in "$dir/spool" deferred) deferred"; }
      ;;
  esac
  if [ -n "$words" ] && ! grep -qF -- "$words" "$dir/run.log"; then ok=0; why="$why; the log lacks \"$words\""; fi
  if [ "$ok" = 1 ]; then
    pass "$name"
  else
    echo "FAIL: $name: $why"; sed -n 1,20p "$dir/run.log"; cat "$dir/server.log"; FAILED=1
  fi
  LAST_DIR=$dir
}

# STARTTLS not offered.
run_case "none, no STARTTLS: clear" good nostarttls none false clear ""
run_case "may, no STARTTLS: clear" good nostarttls may false clear ""
for level in encrypt verify secure; do
  run_case "$level, no STARTTLS: deferred" good nostarttls $level false deferred \
    "does not offer STARTTLS: its EHLO reply has no STARTTLS; relay.tls = \"$level\" requires TLS, so nothing was sent"
done
# A good certificate.
run_case "none, STARTTLS offered: clear, never asked" good starttls none false clear ""
for level in may encrypt verify secure; do
  run_case "$level, good certificate: TLS" good starttls $level false tls ""
done
grep -q close_notify "$LAST_DIR/server.log" || { echo "FAIL: no close_notify before the close"; FAILED=1; }
# Bad certificates: not checked at may and encrypt; deferred at verify and secure.
for cert in wrong_name self_signed unknown_issuer expired; do
  run_case "may, $cert: TLS" $cert starttls may false tls ""
  run_case "encrypt, $cert: TLS" $cert starttls encrypt false tls ""
done
for level in verify secure; do
  run_case "$level, wrong_name: deferred" wrong_name starttls $level false deferred \
    "name mismatch: the certificate is for DNS:wrong.example, but the name wanted is localhost"
  run_case "$level, self_signed: deferred" self_signed starttls $level false deferred "it is self-signed"
  run_case "$level, unknown_issuer: deferred" unknown_issuer starttls $level false deferred "is not in the trust store"
  run_case "$level, expired: deferred" expired starttls $level false deferred "it expired on"
done
# STARTTLS refused; a handshake that fails.
run_case "may, STARTTLS refused: clear on the same connection" good refuse may false clear ""
run_case "encrypt, STARTTLS refused: deferred" good refuse encrypt false deferred \
  "refused STARTTLS: it answered 454 4.7.0 TLS not available now"
run_case "may, handshake fails: clear on a new connection" good garbage may false clear \
  "relay.tls = \"may\": delivering in clear on a new connection, and not trying TLS there again for 3600 s"
run_case "encrypt, handshake fails: deferred" good garbage encrypt false deferred "failed the TLS handshake"
# A handshake the server never answers: a TLS failure after the reply
# timeout (5 s here), so may goes on in clear.
run_case "may, handshake stalls: clear on a new connection" good silent may false clear \
  "failed: no TLS handshake reply within 5000 ms; relay.tls = \"may\": delivering in clear on a new connection" 1
# Bytes after the 220 to STARTTLS (CVE-2011-0411 class): the connection
# fails at every level; never a fallback to clear text.
for level in may verify; do
  run_case "$level, bytes injected after the 220: deferred" good inject $level false deferred "CVE-2011-0411"
done
# Implicit TLS (SMTPS) on an arbitrary port.
for level in may encrypt verify secure; do
  run_case "implicit, $level, good certificate: TLS" good implicit $level true tls ""
done
run_case "implicit, verify, wrong_name: deferred" wrong_name implicit verify true deferred "name mismatch"
run_case "implicit, encrypt, against a STARTTLS port: deferred" good starttls encrypt true deferred \
  "failed the TLS handshake"
# Mutual TLS: a server that requires a client certificate from the test CA.
CLIENT_CA=$PKI/ca.pem EXTRA_TLS="client_cert = \"$PKI/good.pem\"
client_key = \"$PKI/good.key\"" run_case "verify, client certificate required and sent: TLS" good starttls verify false tls ""
grep -q "^client-cert localhost" "$LAST_DIR/server.log" || { echo "FAIL: the server saw no client certificate"; FAILED=1; }
CLIENT_CA=$PKI/ca.pem run_case "verify, client certificate required, none configured: deferred" good starttls verify \
  false deferred "failed the TLS handshake: the server refused ringmail's client certificate"
# Resumption: one connection at a time, one message each; the second and
# third resume the first one's session.
THREADS=1 MAX_CONNECTIONS=1 MAX_MESSAGES_PER_CONNECTION=1 \
  run_case "verify, 3 connections in turn: TLS" good starttls verify false tls ""
resumed=$(grep -c '^conn tls=1 resumed=1' "$LAST_DIR/server.log" || true)
if [ "$resumed" -ge 1 ]; then pass "resumption: $resumed of 3 connections resumed"; else
  echo "FAIL: no connection resumed"; cat "$LAST_DIR/server.log"; FAILED=1
fi

# The project's own sink with STARTTLS (ringmail sink --tls-cert): 200
# messages at verify over two workers, five messages per connection; the
# sink counts every message as received over TLS, and later connections
# resume.
SINK_CASE=$WORK/sink-case
mkdir -p "$SINK_CASE"
SINK_PORT=$(free_port)
start_sink "$SINK_PORT" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key"
RELAY_HOST=localhost MAX_MESSAGES_PER_CONNECTION=5 write_config "$SINK_CASE/ringmail.toml" "$SINK_CASE/spool" "$SINK_PORT"
config_set "$SINK_CASE/ringmail.toml" relay tls '"verify"'
printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$SINK_CASE/ringmail.toml"
put_messages "$SINK_CASE/spool" s 200
timeout 60 "$RINGMAIL" run --config "$SINK_CASE/ringmail.toml" --drain > "$SINK_CASE/run.log" 2>&1 || true
stop_sink
if [ "$(stats_field messages)" = 200 ] && [ "$(stats_field messages_tls)" = 200 ] && [ "$(stats_field tls_resumed)" -ge 1 ]; then
  pass "ringmail sink, verify: 200 of 200 over TLS, $(stats_field tls_resumed) of $(stats_field tls_handshakes) handshakes resumed"
else
  echo "FAIL: ringmail sink, verify: messages $(stats_field messages), over TLS $(stats_field messages_tls), resumed $(stats_field tls_resumed)"
  tail -5 "$SINK_CASE/run.log"; FAILED=1
fi

[ "$FAILED" = 0 ] || fail "some TLS level cases failed"
pass "tls levels: $N cases"
