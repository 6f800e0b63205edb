#!/bin/bash
# tests/e2e/ingress_postfix_client_test.sh — Debian's Postfix as a client of
# ringmail's listener (issue 10): a private Postfix (tests/e2e/postfix_lib.sh)
# with relayhost = [127.0.0.1]:LISTENER relays through ringmail, which
# delivers to the sink. The listener: STARTTLS, auth = "required", no
# trusted network. Postfix's SMTP client: TLS required with the test CA and
# the certificate's name checked (smtp_tls_security_level = verify, match
# localhost), Cyrus SASL client AUTH with the users file's credentials.
# A message given to Postfix's sendmail arrives at the sink once, with
# ringmail's Received: header on top (from Postfix's HELO, with ESMTPSA, TLS
# facts), then Postfix's own, then the message (headers and body read back
# with the python email package). Postfix logged the relay with status=sent
# and ringmail's "250 2.0.0 Ok: queued as" reply.
# Usage: bash tests/e2e/ingress_postfix_client_test.sh /path/to/ringmail
# SKIP (77) when Postfix is not installed or the test is not root.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/postfix_lib.sh"
source "$E2E_DIR/ingress_lib.sh"
postfix_require
ingress_pki
USER_NAME=postfix-relay
PASSWORD='Pf-Pa55-w0rd'

ingress_case postfix
ingress_users "$DIR/users" "$USER_NAME" "$PASSWORD"
ingress_listen 'tls="starttls"' "cert_file=\"$PKI/good.pem\"" "key_file=\"$PKI/good.key\"" 'auth="required"' \
  "users_file=\"$DIR/users\"" 'trusted_networks=[]'
ingress_start

PF=$WORK/postfix
postfix_init "$PF" "$LPORT"
install -m 644 "$PKI/ca.pem" "$PF/conf/ca.pem"
postfix_set "$PF" \
  "smtp_tls_security_level = verify" \
  "smtp_tls_CAfile = $PF/conf/ca.pem" \
  "smtp_tls_policy_maps = static:{verify match=localhost}" \
  "smtp_tls_loglevel = 1" \
  "smtp_sasl_auth_enable = yes" \
  "smtp_sasl_password_maps = static:$USER_NAME:$PASSWORD" \
  "smtp_sasl_security_options = noanonymous" \
  "smtp_sasl_tls_security_options = noanonymous" \
  "smtp_helo_name = postfix.ringmail.test"
t0=$(date +%s%N)
postfix_start "$PF"
pass "private Postfix $(postconf -c "$PF/conf" -h mail_version) started in $((($(date +%s%N) - t0) / 1000000)) ms"

MSG=$DIR/message.eml
"$INGRESS_PY" "$E2E_DIR/ingress_smtp.py" make "$MSG" "postfix-client@ingress.ringmail.test" "relayed by Postfix"
t0=$(date +%s%N)
# -i: the message has a line holding only "." (sendmail would end the input there).
timeout 20 /usr/sbin/sendmail -C "$PF/conf" -i -f alerts@example.com ops@example.org < "$MSG" ||
  fail "Postfix's sendmail failed"
verify "the message went through Postfix and ringmail to the sink" ingress_wait 1 20
echo "  sendmail to sink: $((($(date +%s%N) - t0) / 1000000)) ms"

verify "the message arrived intact with ringmail's Received: header on top" \
  "$INGRESS_PY" - "$E2E_DIR" "$MAILDIR" "$INGRESS_HOST" "$MSG" <<'PY'
import email, email.policy, sys
sys.path.insert(0, sys.argv[1])
from ingress_smtp import expect, expect_received, done, sample, sink_files, split_received
files = sink_files(sys.argv[2])
expect("exactly one message in the sink", len(files) == 1, len(files))
path, sender, rcpts, content = files[0]
expect("envelope from and to", (sender, rcpts) == ("alerts@example.com", ["ops@example.org"]), (sender, rcpts))
received, rest = split_received(content)
expect_received(received, "postfix.ringmail.test", sys.argv[3], "ESMTPSA")
got = email.message_from_bytes(rest, policy=email.policy.default)
want = email.message_from_bytes(sample(open(sys.argv[4], "rb").read()), policy=email.policy.default)
expect("Postfix's own Received: header next", "(Postfix" in str(got.get_all("Received", [""])[0]),
       got.get_all("Received"))
for h in ("From", "To", "Subject", "Date", "Message-ID"):
    expect("header %s unchanged" % h, str(got[h]) == str(want[h]), (got[h], want[h]))
expect("body unchanged", got.get_content() == want.get_content())
done()
PY
verify "Postfix logged status=sent with ringmail's queue id" \
  eval "grep -q 'relay=127.0.0.1\[127.0.0.1\]:$LPORT.*status=sent (250 2.0.0 Ok: queued as' '$PF/maillog'"
verify "Postfix logged a Verified TLS connection" eval "grep -q 'Verified TLS connection established to 127.0.0.1' '$PF/maillog'"
verify "the delivery log's accepted line names the user" line_with "$DLOG" '"accepted"' "\"$USER_NAME\""
postfix_stop_all
ingress_stop
if [ "$VERIFY_FAILS" != 0 ]; then
  echo "--- Postfix log (last 20 lines)"
  tail -20 "$PF/maillog"
fi
verify_summary ingress_postfix_client_test
