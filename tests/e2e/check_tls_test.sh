#!/bin/bash
# tests/e2e/check_tls_test.sh — `ringmail check-tls` against a TLS SMTP
# server nobody here wrote (tests/e2e/tls_smtp_server.py, Python's ssl on
# OpenSSL), with certificates from tests/tools/make_test_pki:
#   - each bad certificate (wrong name, expired, not yet valid, self-signed,
#     unknown issuer) gives its verdict words and exit code; a good one
#     exits 0; over STARTTLS and over implicit TLS;
#   - --save-chain writes the chain as PEM named after the CN, and pointing
#     --ca-dir at it makes the same server trusted (exit 0);
#   - no STARTTLS offered, bytes injected after the 220 to STARTTLS, and
#     implicit TLS against a STARTTLS port each fail with their sentence.
# MAKE_TEST_PKI (set by tests/CMakeLists.txt) is the make_test_pki binary.
# Usage: bash tests/e2e/check_tls_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
$PY -c 'import ssl' 2>/dev/null || { echo "SKIP: $PY has no ssl module"; exit 77; }

PKI=$WORK/pki
make_pki "$PKI"
FAILED=0

# start_server CERT MODE: starts tls_smtp_server.py on a free port, sets PORT
# and SERVER_PID, waits until it listens.
start_server() {
  PORT=$(free_port)
  $PY "$E2E_DIR/tls_smtp_server.py" "$PORT" "$PKI/$1.pem" "$PKI/$1.key" "$2" > "$WORK/server.$PORT.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_until 10 grep -q ready "$WORK/server.$PORT.log" || fail "test server did not start ($1 $2)"
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  forget_pid "$SERVER_PID"
}

# check NAME WANT_RC WORDS ARGS...: runs check-tls ARGS, expects exit WANT_RC
# and WORDS (a fixed string) in its output.
check() {
  local name=$1 want_rc=$2 words=$3 rc=0
  shift 3
  "$RINGMAIL" check-tls "$@" --timeout-ms "${TIMEOUT_MS:-5000}" > "$WORK/out.txt" 2>&1 || rc=$?
  if [ "$rc" != "$want_rc" ]; then
    echo "FAIL: $name: exit $rc, wanted $want_rc"; cat "$WORK/out.txt"; FAILED=1; return
  fi
  if ! grep -qF -- "$words" "$WORK/out.txt"; then
    echo "FAIL: $name: output lacks \"$words\""; cat "$WORK/out.txt"; FAILED=1; return
  fi
  pass "$name (exit $rc)"
}

for mode in starttls implicit; do
  flag=--$mode
  start_server good $mode
  check "$mode good" 0 "verdict:   trusted: the certificate CN=localhost" 127.0.0.1:$PORT $flag --ca "$PKI/ca.pem" --name localhost
  grep -qF "protocol:  TLSv1.3" "$WORK/out.txt" || { echo "FAIL: no protocol line"; FAILED=1; }
  grep -qF "names:   DNS:localhost, IP:127.0.0.1, IP:::1" "$WORK/out.txt" || { echo "FAIL: no SAN line"; FAILED=1; }
  grep -qF "key:     ECDSA P-256" "$WORK/out.txt" || { echo "FAIL: no key line"; FAILED=1; }
  check "$mode good by IP" 0 "name:      matches 127.0.0.1" 127.0.0.1:$PORT $flag --ca "$PKI/ca.pem"
  check "$mode good, system store" 1 "is not in the trust store (ca_dir /etc/ssl/certs)" 127.0.0.1:$PORT $flag --name localhost
  stop_server

  start_server wrong_name $mode
  check "$mode wrong_name" 2 "name mismatch: the certificate is for DNS:wrong.example, but the name wanted is localhost" \
    127.0.0.1:$PORT $flag --ca "$PKI/ca.pem" --name localhost
  stop_server

  start_server expired $mode
  check "$mode expired" 1 "it expired on" 127.0.0.1:$PORT $flag --ca "$PKI/ca.pem" --name localhost
  stop_server

  start_server not_yet_valid $mode
  check "$mode not_yet_valid" 1 "it is not valid before" 127.0.0.1:$PORT $flag --ca "$PKI/ca.pem" --name localhost
  stop_server

  start_server self_signed $mode
  check "$mode self_signed" 1 "it is self-signed" 127.0.0.1:$PORT $flag --ca "$PKI/ca.pem" --name localhost
  stop_server

  start_server unknown_issuer $mode
  check "$mode unknown_issuer" 1 "its issuer CN=ringmail unknown CA,O=ringmail tests is not in the trust store" \
    127.0.0.1:$PORT $flag --ca "$PKI/ca.pem" --name localhost --save-chain "$WORK/chain-$mode"
  [ -f "$WORK/chain-$mode/localhost.pem" ] || { echo "FAIL: --save-chain wrote no localhost.pem"; ls -l "$WORK/chain-$mode"; FAILED=1; }
  grep -q -- "-----BEGIN CERTIFICATE-----" "$WORK/chain-$mode/localhost.pem" || { echo "FAIL: saved file is not PEM"; FAILED=1; }
  check "$mode unknown_issuer pinned via --ca-dir" 0 "verdict:   trusted" 127.0.0.1:$PORT $flag --ca-dir "$WORK/chain-$mode" --name localhost
  stop_server
done

# RSA-2048 certificates (the key line says so).
make_pki "$WORK/pki-rsa" rsa2048
PORT=$(free_port)
$PY "$E2E_DIR/tls_smtp_server.py" "$PORT" "$WORK/pki-rsa/good.pem" "$WORK/pki-rsa/good.key" starttls > "$WORK/server.$PORT.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_until 10 grep -q ready "$WORK/server.$PORT.log" || fail "RSA test server did not start"
check "starttls good RSA-2048" 0 "key:     RSA 2048 bits" 127.0.0.1:$PORT --ca "$WORK/pki-rsa/ca.pem" --name localhost
check "RSA server, P-256 CA only" 1 "not in the trust store" 127.0.0.1:$PORT --ca "$PKI/ca.pem" --name localhost
stop_server

check "bad target" 64 "is not HOST[:PORT]" "[::1"

start_server good nostarttls
check "no STARTTLS offered" 4 "does not offer STARTTLS" 127.0.0.1:$PORT --ca "$PKI/ca.pem"
stop_server

start_server good inject
check "bytes injected after 220" 4 "CVE-2011-0411" 127.0.0.1:$PORT --ca "$PKI/ca.pem"
stop_server

start_server good starttls
check "implicit TLS against a STARTTLS port" 3 "did not answer with TLS" 127.0.0.1:$PORT --implicit --ca "$PKI/ca.pem"
stop_server

start_server good implicit
TIMEOUT_MS=500 check "STARTTLS against an implicit TLS port" 5 "if this port expects implicit TLS, use --implicit" \
  127.0.0.1:$PORT --starttls --ca "$PKI/ca.pem"
stop_server

PORT=$(free_port)
check "nothing listening" 5 "could not connect to 127.0.0.1:$PORT" 127.0.0.1:$PORT --ca "$PKI/ca.pem"

[ "$FAILED" = 0 ] || exit 1
echo "check_tls_test: all passed"
