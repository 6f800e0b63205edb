# tests/e2e/interop_lib.sh — one TLS interop case: the real ringmail binary
# delivers three messages (interop_messages.py) through a wire tap
# (interop_tap.py) to a server nobody here wrote, and the case checks the
# outcome, the content and what crossed the wire in clear. Sourced after
# tests/e2e/lib.sh by interop_postfix_test.sh and interop_aiosmtpd_tls_test.sh.
#
#   interop_pki                      PKI=$WORK/pki (ECDSA P-256) and PKI_RSA
#                                    (RSA-2048) from make_test_pki (or SKIP)
#   interop_auth_setup USER PASSWORD AUTH_USER/AUTH_PASSWORD, and the
#                                    password in $WORK/password (mode 600)
#   interop_case NAME PORT IMPLICIT LEVEL WANT EXPECT [KEY=VALUE]...
#   interop_expect WHAT COMMAND...   one more check on the last case
#   interop_summary NAME             exit 1 if a case failed
#
# interop_case: ringmail (relay "localhost", the test CA as tls.ca_file, or
# CA_FILE) connects to the tap, which forwards to 127.0.0.1:PORT. KEY=VALUE
# are more [relay] keys (TOML values: username="alice"). WANT:
#   tls       `run --drain` exits 0 and INTEROP_CHECK DIR PREFIX EXPECT (the
#             test's function: did the server get all three intact, over
#             TLS?) succeeds; the tap saw only EHLO/STARTTLS in clear, then
#             TLS records (all TLS records with IMPLICIT=true), and never a
#             message's secret line nor the password in any encoding;
#   clear     delivered in clear (the control cases): as tls, but the tap
#             must see the messages' secret lines, proof that it could;
#   deferred  `run --drain` exits 75, all three in deferred/, EXPECT (a
#             fixed string) in its output, none of them in
#             INTEROP_MAILDIR/new (where the server's messages end up), and
#             neither a secret line nor the password in clear.
# Each case prints one PASS/FAIL line with its time; its files stay in
# $WORK/caseN (KEEP_WORK=1 keeps them).
INTEROP_FAILED=0
INTEROP_N=0

interop_pki() {
  PKI=$WORK/pki
  PKI_RSA=$WORK/pki-rsa
  make_pki "$PKI"
  make_pki "$PKI_RSA" rsa2048
}

interop_auth_setup() {
  AUTH_USER=$1
  AUTH_PASSWORD=$2
  printf '%s' "$AUTH_PASSWORD" > "$WORK/password"
  chmod 600 "$WORK/password"
}

interop_case() {
  local name=$1 port=$2 implicit=$3 level=$4 want=$5 expect=$6
  shift 6
  INTEROP_N=$((INTEROP_N + 1))
  local dir=$WORK/case$INTEROP_N prefix=m$INTEROP_N mode=starttls rc=0 why="" kv t tap tap_port t0
  t0=$(date +%s%N)
  mkdir -p "$dir"
  [ "$implicit" = true ] && mode=implicit
  [ "$level" = none ] && mode=clear
  tap_port=$(free_port)
  /usr/bin/python3 "$E2E_DIR/interop_tap.py" listen "$tap_port" "$port" "$dir/tap" > "$dir/tap.out" 2>&1 &
  tap=$!
  PIDS+=("$tap")
  wait_for_line "$dir/tap.out" "listening on" 10 || fail "$name: the tap did not start: $(cat "$dir/tap.out")"
  RELAY_HOST=localhost write_config "$dir/ringmail.toml" "$dir/spool" "$tap_port"
  config_set "$dir/ringmail.toml" relay tls "\"$level\""
  config_set "$dir/ringmail.toml" relay implicit_tls "$implicit"
  for kv in "$@"; do config_set "$dir/ringmail.toml" relay "${kv%%=*}" "${kv#*=}"; done
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "${CA_FILE:-$PKI/ca.pem}" >> "$dir/ringmail.toml"
  /usr/bin/python3 "$E2E_DIR/interop_messages.py" write "$dir/spool" "$dir/samples" "$prefix" || fail "$name: cannot queue"
  timeout 30 "$RINGMAIL" run --config "$dir/ringmail.toml" --drain > "$dir/run.log" 2>&1 || rc=$?
  kill -TERM "$tap" 2>/dev/null || true
  wait "$tap" 2>/dev/null || true
  forget_pid "$tap"

  # What the tap looks for: the messages' secret lines (to be seen only in
  # the clear controls) and the password in every encoding AUTH uses.
  local texts=() flag=--secret
  [ "$want" = clear ] && flag=--visible
  for t in 0 1 2; do texts+=("$flag" "secret $prefix-$t"); done
  if [ "$want" != clear ] && [ -n "${AUTH_PASSWORD:-}" ]; then
    texts+=(--secret "$AUTH_PASSWORD" --secret "$(printf '%s' "$AUTH_PASSWORD" | base64 -w0)"
      --secret "$(printf '\0%s\0%s' "$AUTH_USER" "$AUTH_PASSWORD" | base64 -w0)")
  fi
  if [ "$want" = deferred ]; then
    [ "$rc" = 75 ] || why="run --drain exited $rc, not 75"
    [ "$(count_in "$dir/spool" deferred)" = 3 ] || why="$why; $(count_in "$dir/spool" deferred) of 3 deferred"
    grep -qF -- "$expect" "$dir/run.log" || why="$why; the output lacks \"$expect\""
    [ "$(grep -lsF "Message-Id: <$prefix-" "$INTEROP_MAILDIR"/new/* | wc -l)" = 0 ] || why="$why; a message was delivered"
    echo "$want" > "$dir/check.out"
  else
    [ "$rc" = 0 ] || why="run --drain exited $rc"
    "$INTEROP_CHECK" "$dir" "$prefix" "$expect" > "$dir/check.out" 2>&1 || why="$why; $(cat "$dir/check.out")"
  fi
  /usr/bin/python3 "$E2E_DIR/interop_tap.py" check "$dir/tap" "$mode" "${texts[@]}" > "$dir/tap.check" 2>&1 \
    || why="$why; $(cat "$dir/tap.check")"
  if [ -z "$why" ]; then
    pass "$name ($((($(date +%s%N) - t0) / 1000000)) ms): $(paste -sd" " "$dir/check.out"); $(cat "$dir/tap.check")"
  else
    echo "FAIL: $name: ${why#; }"
    sed -n 1,15p "$dir/run.log"
    INTEROP_FAILED=1
  fi
  INTEROP_DIR=$dir
}

# interop_expect DESCRIPTION COMMAND...: one more check on the last case.
interop_expect() {
  local what=$1
  shift
  if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; INTEROP_FAILED=1; fi
}

# interop_summary NAME
interop_summary() {
  if [ "$INTEROP_FAILED" != 0 ]; then
    echo "FAIL: $1"
    return 1
  fi
  echo "PASS: $1 ($INTEROP_N cases)"
}
