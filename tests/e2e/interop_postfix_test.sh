#!/bin/bash
# tests/e2e/interop_postfix_test.sh — the real ringmail binary delivers over
# TLS to Debian's Postfix smtpd (a server nobody here wrote), a private
# instance (tests/e2e/postfix_lib.sh) that relays what it accepts to a
# `ringmail sink --maildir`. Its listeners:
#   starttls  STARTTLS offered (smtpd_tls_security_level = may)
#   smtps     implicit TLS (smtpd_tls_wrappermode = yes)
#   tls12     STARTTLS, TLS 1.2 only (smtpd_tls_protocols)
#   auth      STARTTLS, smtpd_tls_auth_only, Cyrus SASL (sasldb: PLAIN,
#             LOGIN), relaying only for clients that logged in
#   auth-login the same offering LOGIN only; smtps-auth: implicit TLS + SASL
#   auth-clear SASL offered in clear (for allow_plaintext_auth)
# ringmail connects to "localhost" through a wire tap (interop_tap.py) that
# records every byte. For each case (levels may, encrypt, verify, secure):
#   - delivered over TLS: Postfix's own Received: header says "with ESMTPS"
#     (ESMTPSA after AUTH) and names the TLS version and cipher;
#   - content intact: each message (dot lines, 8-bit UTF-8, 100 KB) reaches
#     the sink once, byte for byte after Postfix's Received: header
#     (interop_messages.py);
#   - nothing in clear: the tap saw only EHLO and STARTTLS in clear, then
#     TLS records each way (all TLS records for implicit TLS), and neither a
#     message's secret line nor the password in any form;
#   - `none` is the control: the same checks see the message in clear.
# A trust store without the test CA defers at verify with the verdict's
# words. AUTH cases run when the binary knows relay.username (else they are
# reported as SKIPPED with the reason): right password (PLAIN; LOGIN only;
# over implicit TLS), wrong password (deferred, 535 explained), credentials
# with TLS off (deferred, nothing sent), allow_plaintext_auth.
#
# Usage: bash tests/e2e/interop_postfix_test.sh /path/to/ringmail
# SKIP (77) when Postfix is not installed or not root; CI installs postfix
# and sasl2-bin (tools/install_deps.sh). Bounded waits; loopback only.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/postfix_lib.sh"
postfix_require

PY=/usr/bin/python3
MAKE_TEST_PKI=${MAKE_TEST_PKI:-$(dirname "$RINGMAIL")/tests/make_test_pki}
[ -x "$MAKE_TEST_PKI" ] || { echo "SKIP: make_test_pki not built ($MAKE_TEST_PKI)"; exit 77; }
PKI=$WORK/pki
mkdir -p "$PKI"
"$MAKE_TEST_PKI" "$PKI" p256 > /dev/null || fail "make_test_pki failed"

AUTH_USER=alice
AUTH_PASSWORD='Interop-Pa55 w0rd'
SINK_PORT=$(free_port)
MAILDIR=$WORK/maildir
start_sink "$SINK_PORT" --maildir "$MAILDIR"

PF=$WORK/postfix
declare -A LISTEN
for name in starttls smtps tls12 auth auth-login smtps-auth auth-clear; do LISTEN[$name]=$(free_port); done
SASL_ONLY=(-o smtpd_sasl_auth_enable=yes -o smtpd_relay_restrictions=permit_sasl_authenticated,reject)
postfix_init "$PF" "$SINK_PORT"
postfix_tls "$PF" "$PKI/good.pem" "$PKI/good.key"
postfix_sasl "$PF" "$AUTH_USER" "$AUTH_PASSWORD"
postfix_listener "$PF" "${LISTEN[starttls]}"
postfix_listener "$PF" "${LISTEN[smtps]}" -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
postfix_listener "$PF" "${LISTEN[tls12]}" -o 'smtpd_tls_protocols=>=TLSv1.2,<=TLSv1.2'
postfix_listener "$PF" "${LISTEN[auth]}" -o smtpd_tls_auth_only=yes "${SASL_ONLY[@]}"
postfix_listener "$PF" "${LISTEN[auth-login]}" -o smtpd_tls_auth_only=yes -o smtpd_sasl_path=smtpd-login "${SASL_ONLY[@]}"
postfix_listener "$PF" "${LISTEN[smtps-auth]}" -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt \
  "${SASL_ONLY[@]}"
postfix_listener "$PF" "${LISTEN[auth-clear]}" -o smtpd_tls_security_level=none "${SASL_ONLY[@]}"
t0=$(date +%s%N)
postfix_start "$PF"
pass "private Postfix $(postconf -c "$PF/conf" -h mail_version) started in $((($(date +%s%N) - t0) / 1000000)) ms"

# AUTH needs a ringmail that knows relay.username (the AUTH work); probe it.
printf '%s' "$AUTH_PASSWORD" > "$WORK/password"
chmod 600 "$WORK/password"
AUTH_SKIP=""
RELAY_HOST=localhost write_config "$WORK/probe.toml" "$WORK/probe-spool" 9
config_set "$WORK/probe.toml" relay username "\"$AUTH_USER\""
config_set "$WORK/probe.toml" relay password_file "\"$WORK/password\""
timeout 20 "$RINGMAIL" run --config "$WORK/probe.toml" --drain > "$WORK/probe.log" 2>&1 || true
if grep -qE "unknown key 'relay\.(username|password_file)'" "$WORK/probe.log"; then
  AUTH_SKIP="this ringmail has no AUTH yet (unknown key 'relay.username')"
fi

FAILED=0
N=0
SKIPPED=0
# run_case NAME LISTENER LEVEL WANT WORDS [KEY=VALUE]...
#   WANT: ESMTPS / ESMTPSA (delivered over TLS, nothing in clear), ESMTP /
#   ESMTPA (delivered in clear: the control cases), deferred (nothing
#   delivered, nothing in clear, WORDS in the engine's output).
#   KEY=VALUE: more [relay] keys. The implicit TLS listeners (smtps*) get
#   relay.implicit_tls = true. CA_FILE replaces the test CA as tls.ca_file.
run_case() {
  local name=$1 listener=$2 level=$3 want=$4 words=$5
  shift 5
  N=$((N + 1))
  local dir=$WORK/case$N prefix=pf$N tap_port implicit=false mode=starttls rc=0 ok=1 why="" kv t0
  t0=$(date +%s%N)
  mkdir -p "$dir"
  case $listener in smtps*) implicit=true mode=implicit ;; esac
  [ "$level" = none ] && mode=clear
  tap_port=$(free_port)
  $PY "$E2E_DIR/interop_tap.py" listen "$tap_port" "${LISTEN[$listener]}" "$dir/tap" > "$dir/tap.out" 2>&1 &
  local tap=$!
  PIDS+=("$tap")
  wait_for_line "$dir/tap.out" "listening on" 10 || fail "$name: the tap did not start: $(cat "$dir/tap.out")"
  RELAY_HOST=localhost write_config "$dir/ringmail.toml" "$dir/spool" "$tap_port"
  config_set "$dir/ringmail.toml" relay tls "\"$level\""
  config_set "$dir/ringmail.toml" relay implicit_tls "$implicit"
  for kv in "$@"; do config_set "$dir/ringmail.toml" relay "${kv%%=*}" "${kv#*=}"; done
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "${CA_FILE:-$PKI/ca.pem}" >> "$dir/ringmail.toml"
  $PY "$E2E_DIR/interop_messages.py" write "$dir/spool" "$dir/samples" "$prefix" || fail "$name: cannot queue"
  timeout 30 "$RINGMAIL" run --config "$dir/ringmail.toml" --drain > "$dir/run.log" 2>&1 || rc=$?
  kill -TERM "$tap" 2>/dev/null || true
  wait "$tap" 2>/dev/null || true
  forget_pid "$tap"

  # What the tap must never see in clear: the messages' secret lines (seen
  # on purpose in the clear controls) and the password in every encoding.
  local messages=("secret $prefix-0" "secret $prefix-1" "secret $prefix-2") texts=() t
  case $want in
    ESMTP | ESMTPA) for t in "${messages[@]}"; do texts+=(--visible "$t"); done ;;
    *) for t in "${messages[@]}"; do texts+=(--secret "$t"); done ;;
  esac
  [ "$want" = ESMTPA ] || texts+=(--secret "$AUTH_PASSWORD"
    --secret "$(printf '\0%s\0%s' "$AUTH_USER" "$AUTH_PASSWORD" | base64 -w0)"
    --secret "$(printf '%s' "$AUTH_PASSWORD" | base64 -w0)")
  if [ "$want" = deferred ]; then
    [ "$rc" = 75 ] || { ok=0; why="run --drain exited $rc, not 75"; }
    [ "$(count_in "$dir/spool" deferred)" = 3 ] || { ok=0; why="$why; $(count_in "$dir/spool" deferred) of 3 deferred"; }
    grep -qF -- "$words" "$dir/run.log" || { ok=0; why="$why; the output lacks \"$words\""; }
    [ "$(grep -lsF "Message-Id: <$prefix-" "$MAILDIR"/new/* | wc -l)" = 0 ] || { ok=0; why="$why; a message was delivered"; }
    echo deferred > "$dir/check.out"
  else
    [ "$rc" = 0 ] || { ok=0; why="run --drain exited $rc"; }
    # Postfix relays to the sink right after its 250; wait for all three.
    wait_until 10 eval '[ "$(grep -lsF "Message-Id: <$prefix-" "$MAILDIR"/new/* | wc -l)" -ge 3 ]' || true
    $PY "$E2E_DIR/interop_messages.py" check "$MAILDIR" "$dir/samples" "$prefix" --received-with "$want" \
      > "$dir/check.out" 2>&1 || { ok=0; why="$why; $(cat "$dir/check.out")"; }
  fi
  $PY "$E2E_DIR/interop_tap.py" check "$dir/tap" "$mode" "${texts[@]}" > "$dir/tap.check" 2>&1 \
    || { ok=0; why="$why; $(cat "$dir/tap.check")"; }
  if [ "$ok" = 1 ]; then
    pass "$name ($((($(date +%s%N) - t0) / 1000000)) ms): $(cat "$dir/check.out"); $(cat "$dir/tap.check")"
  else
    echo "FAIL: $name: $why"
    sed -n 1,15p "$dir/run.log"
    FAILED=1
  fi
}

# auth_case ARGS...: run_case when this ringmail speaks AUTH, else SKIPPED.
auth_case() {
  if [ -n "$AUTH_SKIP" ]; then
    echo "SKIPPED: $1: $AUTH_SKIP"
    SKIPPED=$((SKIPPED + 1))
    return
  fi
  run_case "$@"
}

# The control: no TLS, and the checks see the message in clear.
run_case "none, STARTTLS offered: in clear (control)" starttls none ESMTP ""
# STARTTLS at every level that uses it.
for level in may encrypt verify secure; do
  run_case "STARTTLS, $level" starttls "$level" ESMTPS ""
done
# Implicit TLS (wrappermode) at every level.
for level in may encrypt verify secure; do
  run_case "implicit TLS (wrappermode), $level" smtps "$level" ESMTPS ""
done
# TLS 1.2 only on the server side: ringmail's ECDHE + AEAD list meets Postfix's.
run_case "STARTTLS, TLS 1.2 only, verify" tls12 verify ESMTPS ""
grep -qF "using TLSv1.2 ECDHE-" "$WORK/case$N/check.out" \
  || { echo "FAIL: the TLS 1.2 case did not use TLS 1.2 with ECDHE: $(cat "$WORK/case$N/check.out")"; FAILED=1; }
# A trust store without the test CA: verify defers and says why; encrypt goes on.
CA_FILE=$PKI/unknown_ca.pem run_case "STARTTLS, verify, CA not trusted: deferred" starttls verify deferred \
  "is not in the trust store"
CA_FILE=$PKI/unknown_ca.pem run_case "implicit TLS, verify, CA not trusted: deferred" smtps verify deferred \
  "is not in the trust store"
CA_FILE=$PKI/unknown_ca.pem run_case "STARTTLS, encrypt, CA not trusted: TLS (not checked)" starttls encrypt ESMTPS ""

# AUTH (Cyrus SASL in Postfix).
CREDS=("username=\"$AUTH_USER\"" "password_file=\"$WORK/password\"")
auth_case "AUTH over STARTTLS (PLAIN or LOGIN), verify" auth verify ESMTPSA "" "${CREDS[@]}"
grep -q "sasl_username=$AUTH_USER@ringmail.test" "$PF/maillog" \
  || [ -n "$AUTH_SKIP" ] || { echo "FAIL: Postfix logged no SASL login for $AUTH_USER"; FAILED=1; }
auth_case "AUTH LOGIN (the only mechanism offered), encrypt" auth-login encrypt ESMTPSA "" "${CREDS[@]}"
grep -q "sasl_method=LOGIN, sasl_username=$AUTH_USER@" "$PF/maillog" \
  || [ -n "$AUTH_SKIP" ] || { echo "FAIL: Postfix logged no AUTH LOGIN"; FAILED=1; }
auth_case "AUTH over implicit TLS (the SES 465 shape), verify" smtps-auth verify ESMTPSA "" "${CREDS[@]}"
printf '%s' "wrong-$AUTH_PASSWORD" > "$WORK/wrong-password"
chmod 600 "$WORK/wrong-password"
auth_case "AUTH with a wrong password: deferred, 535 explained" auth verify deferred \
  "the relay rejected the user name or password" "username=\"$AUTH_USER\"" "password_file=\"$WORK/wrong-password\""
grep -qF "535" "$WORK/case$N/run.log" || [ -n "$AUTH_SKIP" ] || { echo "FAIL: the 535 reply is not in the output"; FAILED=1; }
auth_case "credentials with relay.tls = none: deferred, nothing sent" auth-clear none deferred \
  "ringmail sends credentials only over TLS" "${CREDS[@]}"
auth_case "allow_plaintext_auth: AUTH in clear where allowed" auth-clear none ESMTPA "" "${CREDS[@]}" \
  "allow_plaintext_auth=true"

if [ "$FAILED" != 0 ]; then
  echo "--- Postfix log (last 30 lines)"
  tail -30 "$PF/maillog"
  exit 1
fi
echo "PASS: interop_postfix_test ($N cases${SKIPPED:+, $SKIPPED AUTH case(s) SKIPPED})"
