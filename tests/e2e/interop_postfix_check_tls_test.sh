#!/bin/bash
# tests/e2e/interop_postfix_check_tls_test.sh — `ringmail check-tls`
# against Debian's Postfix smtpd (a private instance, tests/e2e/
# postfix_lib.sh) with certificates from tests/tools/make_test_pki, over
# STARTTLS and over implicit TLS (smtpd_tls_wrappermode):
#   - trusted with the test CA (--ca): exit 0, the protocol, the chain's
#     names and key, "verdict: trusted";
#   - the system store only (no --ca): exit 1, "not in the trust store";
#   - --save-chain DIR writes the chain as PEM named after the CN, and
#     --ca-dir DIR then trusts the same server (exit 0);
#   - a certificate for another name: exit 2, "name mismatch";
#   - a listener capped at TLS 1.2: "TLSv1.2" with an ECDHE cipher;
#   - an RSA-2048 certificate: trusted with its CA, not with the P-256 one;
#   - the wrong mode for the port (implicit against STARTTLS, STARTTLS
#     against wrappermode) fails with its hint.
# Usage: bash tests/e2e/interop_postfix_check_tls_test.sh /path/to/ringmail
# SKIP (77) when Postfix is not installed or not root. Loopback only.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/postfix_lib.sh"
source "$E2E_DIR/interop_lib.sh"
postfix_require
interop_pki

SINK_PORT=$(free_port)
P_STARTTLS=$(free_port)
P_SMTPS=$(free_port)
P_WRONG=$(free_port)
P_TLS12=$(free_port)
P_RSA=$(free_port)
PF=$WORK/postfix
postfix_init "$PF" "$SINK_PORT"
postfix_tls "$PF" "$PKI/good.pem" "$PKI/good.key"
postfix_listener "$PF" "$P_STARTTLS"
postfix_listener "$PF" "$P_SMTPS" -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
postfix_listener "$PF" "$P_WRONG" -o "smtpd_tls_chain_files=$PKI/wrong_name.key,$PKI/wrong_name.pem"
postfix_listener "$PF" "$P_TLS12" -o 'smtpd_tls_protocols=>=TLSv1.2,<=TLSv1.2'
postfix_listener "$PF" "$P_RSA" -o "smtpd_tls_chain_files=$PKI_RSA/good.key,$PKI_RSA/good.pem"
postfix_start "$PF"

# check NAME WANT_RC ARGS... -- WORDS...: runs check-tls ARGS, expects exit
# WANT_RC and each WORDS (fixed strings) in its output.
check() {
  local name=$1 want_rc=$2 rc=0 args=() words
  shift 2
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  "$RINGMAIL" check-tls "${args[@]}" --timeout-ms "${TIMEOUT_MS:-5000}" > "$WORK/out.txt" 2>&1 || rc=$?
  [ "$rc" = "$want_rc" ] || { verify "$name: exit $rc, wanted $want_rc" false; cat "$WORK/out.txt"; return; }
  for words in "$@"; do
    grep -qF -- "$words" "$WORK/out.txt" || { verify "$name: output has \"$words\"" false; cat "$WORK/out.txt"; return; }
  done
  verify "$name (exit $rc)" true
}

for mode in starttls implicit; do
  port=$P_STARTTLS
  [ "$mode" = implicit ] && port=$P_SMTPS
  check "$mode, test CA: trusted" 0 "localhost:$port" --$mode --ca "$PKI/ca.pem" -- \
    "protocol:  TLSv1.3" "names:   DNS:localhost, IP:127.0.0.1, IP:::1" "key:     ECDSA P-256" \
    "verdict:   trusted: the certificate CN=localhost"
  check "$mode, system store: untrusted, chain saved" 1 "localhost:$port" --$mode --save-chain "$WORK/chain-$mode" -- \
    "is not in the trust store (ca_dir /etc/ssl/certs)"
  verify "$mode: --save-chain wrote localhost.pem as PEM" grep -q -- "-----BEGIN CERTIFICATE-----" "$WORK/chain-$mode/localhost.pem"
  check "$mode, --ca-dir with the saved chain: trusted" 0 "localhost:$port" --$mode --ca-dir "$WORK/chain-$mode" -- \
    "verdict:   trusted"
done
check "starttls, certificate for another name" 2 "localhost:$P_WRONG" --ca "$PKI/ca.pem" -- \
  "name mismatch: the certificate is for DNS:wrong.example, but the name wanted is localhost"
check "starttls, Postfix capped at TLS 1.2" 0 "localhost:$P_TLS12" --ca "$PKI/ca.pem" -- \
  "protocol:  TLSv1.2" "cipher:    TLS_ECDHE_ECDSA_WITH_AES_" "verdict:   trusted"
check "starttls, RSA-2048 certificate" 0 "localhost:$P_RSA" --ca "$PKI_RSA/ca.pem" -- \
  "key:     RSA 2048 bits" "verdict:   trusted"
check "starttls, RSA-2048 certificate, P-256 CA only" 1 "localhost:$P_RSA" --ca "$PKI/ca.pem" -- \
  "not in the trust store"
check "implicit TLS against Postfix's STARTTLS port" 3 "localhost:$P_STARTTLS" --implicit --ca "$PKI/ca.pem" -- \
  "did not answer with TLS"
TIMEOUT_MS=500 check "STARTTLS against Postfix's wrappermode port" 5 "localhost:$P_SMTPS" --starttls --ca "$PKI/ca.pem" -- \
  "if this port expects implicit TLS, use --implicit"
verify_summary "interop_postfix_check_tls_test"
