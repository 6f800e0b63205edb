#!/bin/bash
# tests/e2e/interop_postfix_test.sh — the real ringmail binary delivers over
# TLS to Debian's Postfix smtpd (a server nobody here wrote), a private
# instance (tests/e2e/postfix_lib.sh) that relays what it accepts to a
# `ringmail sink --maildir`. Its listeners:
#   starttls  STARTTLS offered (smtpd_tls_security_level = may)
#   smtps     implicit TLS (smtpd_tls_wrappermode = yes)
#   tls12     STARTTLS, TLS 1.2 only (smtpd_tls_protocols)
#   rsa       STARTTLS with an RSA-2048 certificate (the others: ECDSA P-256)
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
# An RSA-2048 certificate is used as the P-256 ones are.
# A trust store without the test CA defers at verify with the verdict's
# words. AUTH: the right password (PLAIN; LOGIN only; over implicit TLS),
# a wrong one (deferred, 535 explained), credentials with TLS off
# (deferred, nothing sent), allow_plaintext_auth. Then
# `ringmail test-send` through the same Postfix (STARTTLS + AUTH, implicit
# TLS + AUTH, a wrong password): exit status, transcript, password masked.
#
# Usage: bash tests/e2e/interop_postfix_test.sh /path/to/ringmail
# SKIP (77) when Postfix is not installed or not root; CI installs postfix,
# sasl2-bin and libsasl2-modules (tools/install_deps.sh). Bounded waits;
# loopback only.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/postfix_lib.sh"
source "$E2E_DIR/interop_lib.sh"
postfix_require
interop_pki
interop_auth_setup alice 'Interop-Pa55 w0rd'

SINK_PORT=$(free_port)
MAILDIR=$WORK/maildir
start_sink "$SINK_PORT" --maildir "$MAILDIR"

PF=$WORK/postfix
declare -A LISTEN
for name in starttls smtps tls12 rsa auth auth-login smtps-auth auth-clear; do LISTEN[$name]=$(free_port); done
SASL_ONLY=(-o smtpd_sasl_auth_enable=yes -o smtpd_relay_restrictions=permit_sasl_authenticated,reject)
postfix_init "$PF" "$SINK_PORT"
postfix_tls "$PF" "$PKI/good.pem" "$PKI/good.key"
postfix_sasl "$PF" "$AUTH_USER" "$AUTH_PASSWORD"
postfix_listener "$PF" "${LISTEN[starttls]}"
postfix_listener "$PF" "${LISTEN[smtps]}" -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
postfix_listener "$PF" "${LISTEN[tls12]}" -o 'smtpd_tls_protocols=>=TLSv1.2,<=TLSv1.2'
postfix_listener "$PF" "${LISTEN[rsa]}" -o "smtpd_tls_chain_files=$PKI_RSA/good.key,$PKI_RSA/good.pem"
postfix_listener "$PF" "${LISTEN[auth]}" -o smtpd_tls_auth_only=yes "${SASL_ONLY[@]}"
postfix_listener "$PF" "${LISTEN[auth-login]}" -o smtpd_tls_auth_only=yes -o smtpd_sasl_path=smtpd-login "${SASL_ONLY[@]}"
postfix_listener "$PF" "${LISTEN[smtps-auth]}" -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt \
  "${SASL_ONLY[@]}"
postfix_listener "$PF" "${LISTEN[auth-clear]}" -o smtpd_tls_security_level=none "${SASL_ONLY[@]}"
t0=$(date +%s%N)
postfix_start "$PF"
pass "private Postfix $(postconf -c "$PF/conf" -h mail_version) started in $((($(date +%s%N) - t0) / 1000000)) ms"

# postfix_received DIR PREFIX WORD: the INTEROP_CHECK of interop_case.
# Postfix relays to the sink right after its 250: wait (bounded) for the
# three messages, then check them and Postfix's Received: header.
postfix_received() {
  local prefix=$2  # read by the eval inside wait_until
  wait_until 10 eval '[ "$(grep -lsF "Message-Id: <$prefix-" "$MAILDIR"/new/* | wc -l)" -ge 3 ]' || true
  /usr/bin/python3 "$E2E_DIR/interop_messages.py" check "$MAILDIR" "$1/samples" "$prefix" --received-with "$3"
}
INTEROP_CHECK=postfix_received
INTEROP_MAILDIR=$MAILDIR

# pf NAME LISTENER LEVEL WANT EXPECT [KEY=VALUE]...: interop_case against
# one of the listeners above (the smtps* ones with relay.implicit_tls).
pf() {
  local implicit=false
  case $2 in smtps*) implicit=true ;; esac
  interop_case "$1" "${LISTEN[$2]}" "$implicit" "${@:3}"
}

# The control: no TLS, and the checks see the message in clear.
pf "none, STARTTLS offered: in clear (control)" starttls none clear ESMTP
interop_expect "the tap's STARTTLS check refuses the control's clear bytes" \
  eval '! /usr/bin/python3 "$E2E_DIR/interop_tap.py" check "$INTEROP_DIR/tap" starttls > /dev/null'
# STARTTLS and implicit TLS (wrappermode) at every level that uses TLS.
for level in may encrypt verify secure; do
  pf "STARTTLS, $level" starttls "$level" tls ESMTPS
done
for level in may encrypt verify secure; do
  pf "implicit TLS (wrappermode), $level" smtps "$level" tls ESMTPS
done
# TLS 1.2 only on the server side: ringmail's ECDHE + AEAD list meets Postfix's.
pf "STARTTLS, TLS 1.2 only, verify" tls12 verify tls ESMTPS
interop_expect "the TLS 1.2 case used TLS 1.2 with ECDHE" grep -qF "using TLSv1.2 ECDHE-" "$INTEROP_DIR/check.out"
# An RSA-2048 server certificate (the others are ECDSA P-256).
CA_FILE=$PKI_RSA/ca.pem pf "STARTTLS, RSA-2048 certificate, verify" rsa verify tls ESMTPS
# A trust store without the test CA: verify defers and says why; encrypt goes on.
CA_FILE=$PKI/unknown_ca.pem pf "STARTTLS, verify, CA not trusted: deferred" starttls verify deferred \
  "is not in the trust store"
CA_FILE=$PKI/unknown_ca.pem pf "implicit TLS, verify, CA not trusted: deferred" smtps verify deferred \
  "is not in the trust store"
CA_FILE=$PKI/unknown_ca.pem pf "STARTTLS, encrypt, CA not trusted: TLS (not checked)" starttls encrypt tls ESMTPS

# AUTH (Cyrus SASL in Postfix).
CREDS=("username=\"$AUTH_USER\"" "password_file=\"$WORK/password\"")
pf "AUTH over STARTTLS, verify" auth verify tls ESMTPSA "${CREDS[@]}"
interop_expect "Postfix logged the SASL login of $AUTH_USER" grep -q "sasl_username=$AUTH_USER@ringmail.test" "$PF/maillog"
pf "AUTH LOGIN (the only mechanism offered), encrypt" auth-login encrypt tls ESMTPSA "${CREDS[@]}"
interop_expect "Postfix logged an AUTH LOGIN" grep -q "sasl_method=LOGIN, sasl_username=$AUTH_USER@" "$PF/maillog"
pf "AUTH over implicit TLS (the SES 465 shape), verify" smtps-auth verify tls ESMTPSA "${CREDS[@]}"
printf '%s' "wrong-$AUTH_PASSWORD" > "$WORK/wrong-password"
chmod 600 "$WORK/wrong-password"
pf "AUTH with a wrong password: deferred, 535 explained" auth verify deferred \
  "the relay rejected the user name or password" "username=\"$AUTH_USER\"" "password_file=\"$WORK/wrong-password\""
interop_expect "the output quotes Postfix's 535" grep -qF "535 5.7.8" "$INTEROP_DIR/run.log"
pf "credentials with relay.tls = none: deferred, nothing sent" auth-clear none deferred \
  "ringmail sends credentials only over TLS" "${CREDS[@]}"
pf "allow_plaintext_auth: AUTH in clear where allowed" auth-clear none clear ESMTPA "${CREDS[@]}" \
  "allow_plaintext_auth=true"

# `ringmail test-send` (the "test action") through the same Postfix.
# test_send NAME LISTENER LEVEL IMPLICIT PASSWORD_FILE WANT_RC TO WORDS...:
# one test message to <TO> logging in as AUTH_USER; expects exit WANT_RC,
# each WORDS in the transcript, and never the password in any encoding.
test_send() {
  local name=$1 listener=$2 level=$3 implicit=$4 password_file=$5 want_rc=$6 to=$7 rc=0 dir words
  shift 7
  INTEROP_N=$((INTEROP_N + 1))
  dir=$WORK/case$INTEROP_N
  mkdir -p "$dir"
  INTEROP_DIR=$dir
  RELAY_HOST=localhost write_config "$dir/ringmail.toml" "$dir/spool" "${LISTEN[$listener]}"
  config_set "$dir/ringmail.toml" relay tls "\"$level\""
  config_set "$dir/ringmail.toml" relay implicit_tls "$implicit"
  config_set "$dir/ringmail.toml" relay username "\"$AUTH_USER\""
  config_set "$dir/ringmail.toml" relay password_file "\"$password_file\""
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$dir/ringmail.toml"
  timeout 30 "$RINGMAIL" test-send --config "$dir/ringmail.toml" --to "$to" > "$dir/out.txt" 2>&1 || rc=$?
  local why=""
  [ "$rc" = "$want_rc" ] || why="exit $rc, wanted $want_rc"
  for words in "$@"; do grep -qF -- "$words" "$dir/out.txt" || why="$why; the transcript lacks \"$words\""; done
  for words in "$AUTH_PASSWORD" "$(printf '%s' "$AUTH_PASSWORD" | base64 -w0)" \
    "$(printf '\0%s\0%s' "$AUTH_USER" "$AUTH_PASSWORD" | base64 -w0)"; do
    ! grep -qF -- "$words" "$dir/out.txt" || why="$why; the transcript shows the password"
  done
  if [ -z "$why" ]; then pass "test-send: $name (exit $rc)"; else
    echo "FAIL: test-send: $name: ${why#; }"
    cat "$dir/out.txt"
    INTEROP_FAILED=1
  fi
}
# postfix_got TO WORD: the test message to <TO> reached the sink through
# Postfix, whose Received: header says "with WORD".
postfix_has() {
  local f
  for f in "$MAILDIR"/new/*; do
    grep -qF "to=<$1>" "$f" 2>/dev/null && grep -qE "with $2 id" "$f" && grep -qF "Subject: ringmail test message" "$f" \
      && return 0
  done
  return 1
}
postfix_got() { wait_until 10 postfix_has "$@"; }
test_send "STARTTLS + AUTH, verify" auth verify false "$WORK/password" 0 ts1@example.org \
  "C: STARTTLS" "TLS: verdict:   trusted" "C: AUTH PLAIN ****" "S: 235" "result: 250"
interop_expect "test-send's message went through Postfix with ESMTPSA" postfix_got ts1@example.org ESMTPSA
test_send "implicit TLS + AUTH, verify" smtps-auth verify true "$WORK/password" 0 ts2@example.org \
  "implicit TLS" "TLS: verdict:   trusted" "S: 235" "result: 250"
interop_expect "test-send's implicit TLS message went through Postfix" postfix_got ts2@example.org ESMTPSA
test_send "a wrong password: 535 explained" auth verify false "$WORK/wrong-password" 1 ts3@example.org \
  "535 5.7.8" "the relay rejected the user name or password"

if ! interop_summary interop_postfix_test; then
  echo "--- Postfix log (last 30 lines)"
  tail -30 "$PF/maillog"
  exit 1
fi
