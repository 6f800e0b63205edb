#!/bin/bash
# tests/e2e/ingress_clients_test.sh — SMTP clients nobody here wrote send to
# ringmail's listeners ([[listen]], issue 10), and every message reaches the
# `ringmail sink --maildir` behind it intact, with one Received: header that
# ringmail added (from/by/with/TLS facts checked, then the bytes after it
# compared with what was sent and read again with the python email package:
# tests/e2e/ingress_smtp.py check). One daemon, four listeners:
#   clear     tls = "none", the client on a trusted network, no AUTH
#   starttls  tls = "starttls", auth = "required", no trusted network
#   implicit  tls = "implicit" (SMTPS), auth = "required", no trusted network
#   plainauth tls = "none", auth = "required", allow_plaintext_auth = true
#   ipv6      tls = "none" on [::1] (trusted by the default trusted_networks)
# The users file (mode 600) holds a yescrypt hash from `ringmail
# hash-password` and a SHA-512-crypt one (msmtp over implicit TLS uses it).
# Clients:
#   - swaks over clear, STARTTLS (certificate checked against the test CA,
#     AUTH PLAIN), implicit TLS (AUTH LOGIN), and AUTH LOGIN in clear where
#     the listener allows it;
#   - msmtp (GnuTLS) over clear, STARTTLS and implicit TLS, with AUTH;
#   - Python smtplib over STARTTLS + AUTH, several messages on one
#     connection, each MAIL/RCPT/RCPT/DATA pipelined in one write;
#   - Python smtplib.sendmail over IPv6;
#   - Python, BDAT (smtplib has no BDAT helper: the commands by hand): three
#     messages in one write (MAIL, RCPT, BDAT n LAST, body each), and one
#     message in three chunks.
# Usage: bash tests/e2e/ingress_clients_test.sh /path/to/ringmail
# SKIP (77) only when swaks or msmtp is missing (tools/install_deps.sh).
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/ingress_lib.sh"
for tool in swaks msmtp; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool is not installed (tools/install_deps.sh)"; exit 77; }
done
ingress_pki
USER_NAME=alerts
PASSWORD='Ingress-Pa55 w0rd'
SPECS=()

ingress_case clients
OTHER_PASSWORD='Other-pa55'
ingress_users "$DIR/users" "$USER_NAME" "$PASSWORD" other "$OTHER_PASSWORD"
TLS_KEYS=("cert_file=\"$PKI/good.pem\"" "key_file=\"$PKI/good.key\"")
AUTH_KEYS=('auth="required"' "users_file=\"$DIR/users\"" 'trusted_networks=[]')
ingress_listen 'tls="none"'
CLEAR=$LPORT
ingress_listen 'tls="starttls"' "${TLS_KEYS[@]}" "${AUTH_KEYS[@]}"
STARTTLS=$LPORT
ingress_listen 'tls="implicit"' "${TLS_KEYS[@]}" "${AUTH_KEYS[@]}"
IMPLICIT=$LPORT
ingress_listen 'tls="none"' "${AUTH_KEYS[@]}" 'allow_plaintext_auth=true'
PLAINAUTH=$LPORT
ingress_listen "address=\"[::1]:$(free_port)\"" 'tls="none"'
IPV6=$LPORT
ingress_start

# sent NAME PROTOCOL TLS: a new message file $DIR/NAME.eml, recorded for the
# check (swaks adds CRLF before the closing dot: its files end without a newline).
sent() {
  MSG=$DIR/$1.eml
  NO_FINAL_NEWLINE=$([[ $1 == swaks* ]] && echo 1 || echo 0) \
    "$INGRESS_PY" "$E2E_DIR/ingress_smtp.py" make "$MSG" "$1@clients.ringmail.test" "ingress $1"
  SPECS+=("$MSG:$2:$3")
}

# client NAME COMMAND...: runs one client (bounded), output in $DIR/NAME.out.
client() {
  local name=$1 rc=0 t0 ms
  shift
  t0=$(date +%s%N)
  timeout 20 "$@" > "$DIR/$name.out" 2>&1 || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  verify "$name: exit 0 ($ms ms)" [ "$rc" = 0 ]
  [ "$rc" = 0 ] || tail -20 "$DIR/$name.out"
}

SWAKS=(swaks --from alerts@example.com --to ops@example.org --silent 1)
sent swaks-clear ESMTP clear
client swaks-clear "${SWAKS[@]}" --server "127.0.0.1:$CLEAR" --data "@$MSG"
sent swaks-starttls ESMTPSA tls
client swaks-starttls "${SWAKS[@]}" --server "127.0.0.1:$STARTTLS" --data "@$MSG" --tls --tls-verify \
  --tls-ca-path "$PKI/ca.pem" --auth PLAIN --auth-user "$USER_NAME" --auth-password "$PASSWORD"
sent swaks-implicit ESMTPSA tls
client swaks-implicit "${SWAKS[@]}" --server "127.0.0.1:$IMPLICIT" --data "@$MSG" --tls-on-connect --tls-verify \
  --tls-ca-path "$PKI/ca.pem" --auth LOGIN --auth-user "$USER_NAME" --auth-password "$PASSWORD"
sent swaks-plainauth ESMTPA clear
client swaks-plainauth "${SWAKS[@]}" --server "127.0.0.1:$PLAINAUTH" --data "@$MSG" \
  --auth LOGIN --auth-user "$USER_NAME" --auth-password "$PASSWORD"

# msmtp: no system or user configuration, the password from a file.
: > "$DIR/msmtprc"
chmod 600 "$DIR/msmtprc"
printf '%s' "$PASSWORD" > "$DIR/password"
MSMTP=(msmtp -C "$DIR/msmtprc" --host=127.0.0.1 --from=alerts@example.com)
MSMTP_AUTH=(--tls=on --tls-trust-file="$PKI/ca.pem" --auth=on --user="$USER_NAME" --passwordeval="cat $DIR/password")
sent msmtp-clear ESMTP clear
client msmtp-clear "${MSMTP[@]}" --port="$CLEAR" --tls=off --auth=off -- ops@example.org < "$MSG"
sent msmtp-starttls ESMTPSA tls
client msmtp-starttls "${MSMTP[@]}" --port="$STARTTLS" "${MSMTP_AUTH[@]}" --tls-starttls=on -- ops@example.org < "$MSG"
# The second user, whose line is a SHA-512-crypt hash.
printf '%s' "$OTHER_PASSWORD" > "$DIR/password-other"
sent msmtp-implicit ESMTPSA tls
client msmtp-implicit "${MSMTP[@]}" --port="$IMPLICIT" --tls=on --tls-trust-file="$PKI/ca.pem" --auth=on --user=other \
  --passwordeval="cat $DIR/password-other" --tls-starttls=off -- ops@example.org < "$MSG"

# Python smtplib: STARTTLS, AUTH, then 5 messages on one connection, each
# MAIL/RCPT/RCPT/DATA in one write (PIPELINING), the body dot-stuffed.
for i in 1 2 3 4 5; do sent "smtplib-pipelining-$i" ESMTPSA tls; done
client smtplib-pipelining "$INGRESS_PY" - "$E2E_DIR" "$STARTTLS" "$PKI/ca.pem" "$USER_NAME" "$PASSWORD" \
  "$DIR"/smtplib-pipelining-*.eml <<'PY'
import smtplib, ssl, sys
sys.path.insert(0, sys.argv[1])
import ingress_smtp
port, ca, user, password, files = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
s = smtplib.SMTP("127.0.0.1", port, local_hostname="smtplib.ringmail.test", timeout=10)
s.ehlo()
assert not s.has_extn("auth"), "AUTH offered in clear: %s" % s.esmtp_features
s.starttls(context=ssl.create_default_context(cafile=ca))
s.ehlo()
for ext in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "chunking", "auth"):
    assert s.has_extn(ext), "no %s after STARTTLS: %s" % (ext, s.esmtp_features)
assert "starttls" not in s.esmtp_features, "STARTTLS offered again over TLS"
assert "PLAIN" in s.esmtp_features["auth"].upper() and "LOGIN" in s.esmtp_features["auth"].upper()
s.login(user, password)
for f in files:
    data = ingress_smtp.sample(open(f, "rb").read())
    s.send(b"MAIL FROM:<alerts@example.com> SIZE=%d\r\nRCPT TO:<ops@example.org>\r\n"
           b"RCPT TO:<oncall@example.org>\r\nDATA\r\n" % len(data))
    replies = [s.getreply() for _ in range(4)]
    assert [r[0] for r in replies] == [250, 250, 250, 354], replies
    s.send(ingress_smtp.data_block(data))
    code, text = s.getreply()
    assert code == 250, (code, text)
    print("250 for", f, text.decode())
s.quit()
PY

# BDAT by hand on the clear listener: three whole messages in one write,
# then one message in three chunks (the last one "BDAT n LAST").
for i in 1 2 3 4; do sent "bdat-$i" ESMTP clear; done
client bdat "$INGRESS_PY" - "$E2E_DIR" "$CLEAR" "$DIR"/bdat-*.eml <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import ingress_smtp
c = ingress_smtp.Client(int(sys.argv[2]))
code, greeting = c.reply()
assert code == 220, greeting
features = c.ehlo()
assert "CHUNKING" in features and "PIPELINING" in features, features
bodies = [ingress_smtp.sample(open(f, "rb").read()) for f in sys.argv[3:]]
batch = b"".join(b"MAIL FROM:<alerts@example.com>\r\nRCPT TO:<ops@example.org>\r\nBDAT %d LAST\r\n%s" % (len(b), b)
                 for b in bodies[:3])
c.send(batch)
replies = [c.reply() for _ in range(9)]
assert [r[0] for r in replies] == [250] * 9, replies
last = bodies[3]
cut = [0, 100, 150, len(last)]
c.send(b"MAIL FROM:<alerts@example.com>\r\nRCPT TO:<ops@example.org>\r\n")
assert [c.reply()[0] for _ in range(2)] == [250, 250]
for i in range(3):
    chunk = last[cut[i]:cut[i + 1]]
    c.send(b"BDAT %d%s\r\n%s" % (len(chunk), b" LAST" if i == 2 else b"", chunk))
    code, text = c.reply()
    assert code == 250, (i, code, text)
print("BDAT: 4 messages accepted:", text)
assert c.cmd("QUIT")[0] == 221
PY

# smtplib.sendmail over IPv6 (a listener on [::1], trusted by default).
sent smtplib-ipv6 ESMTP clear
client smtplib-ipv6 "$INGRESS_PY" - "$E2E_DIR" "$IPV6" "$MSG" <<'PY'
import smtplib, sys
sys.path.insert(0, sys.argv[1])
import ingress_smtp
with smtplib.SMTP("::1", int(sys.argv[2]), local_hostname="smtplib.ringmail.test", timeout=10) as s:
    refused = s.sendmail("alerts@example.com", ["ops@example.org"], ingress_smtp.sample(open(sys.argv[3], "rb").read()))
    assert not refused, refused
PY

verify "every message reached the sink (${#SPECS[@]})" ingress_wait "${#SPECS[@]}" 20
verify "each one once, intact, after one Received: header from ringmail" \
  "$INGRESS_PY" "$E2E_DIR/ingress_smtp.py" check "$MAILDIR" "$INGRESS_HOST" "${SPECS[@]}"
verify "the pipelined messages went to both recipients" \
  line_with "$(grep -lF smtplib-pipelining-1@ "$MAILDIR"/new/* | head -1)" "to=<ops@example.org>,<oncall@example.org>"
verify "the delivery log has an accepted line naming the authenticated user" \
  line_with "$DLOG" '"accepted"' "\"$USER_NAME\""
verify "the delivery log has an accepted line with TLS facts" line_with "$DLOG" '"accepted"' 'TLSv1.'
verify "no password in the daemon's output or the delivery log" \
  eval "! grep -qF -- '$PASSWORD' '$DAEMON_ERR' '$DIR/daemon.out' '$DLOG'"
ingress_stop
verify "the spool is empty after delivery" ingress_spool_empty
verify_summary ingress_clients_test
