#!/bin/bash
# tests/e2e/ingress_security_test.sh — ringmail's listener is no open relay
# and keeps abusive clients in check (issue 10). Clients bind a second
# loopback address (127.0.0.2 and up: Linux routes all of 127.0.0.0/8 to
# lo) to be someone other than the trusted 127.0.0.1. Listeners:
#   relay     tls none, auth none, trusted_networks = ["127.0.0.1/32"]:
#             from 127.0.0.2 RCPT gets "554 5.7.1 ... Relay access denied",
#             DATA is refused, nothing reaches the spool or the sink, the
#             refusal is logged (daemon output or delivery log) and counted
#             (/metrics); 127.0.0.1 (the control) is accepted and delivered
#   relayauth the same with auth = "required": MAIL from 127.0.0.2 gets 530
#   auth      STARTTLS, auth = "required", no trusted network, at most 3
#             AUTH failures per minute per IP: in clear AUTH is neither
#             offered nor accepted and MAIL gets 530; over TLS the right
#             password (PLAIN; LOGIN with the exact challenges Go's net/smtp
#             checks) is 235 and the message is delivered, a wrong one 535
#             and MAIL stays refused; the 4th failure from one IP in a minute
#             is throttled (4xx, even with the right password) while another
#             IP still logs in
#   limits    max_connections_per_ip = 3: the 4th connection from one IP
#             gets 421 and is closed, another IP still gets 220, and a
#             closed connection frees its place; max_messages_per_minute_per_ip
#             = 2: the third MAIL in the minute gets 451 4.7.1
# Usage: bash tests/e2e/ingress_security_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/ingress_lib.sh"
ingress_pki
USER_NAME=alerts
PASSWORD='Sec-Pa55-w0rd'

ingress_case security
ingress_users "$DIR/users" "$USER_NAME" "$PASSWORD"
ingress_listen 'tls="none"' 'trusted_networks=["127.0.0.1/32"]'
RELAY=$LPORT
ingress_listen 'tls="starttls"' "cert_file=\"$PKI/good.pem\"" "key_file=\"$PKI/good.key\"" 'auth="required"' \
  "users_file=\"$DIR/users\"" 'trusted_networks=["127.0.0.1/32"]'
RELAYAUTH=$LPORT
ingress_listen 'tls="starttls"' "cert_file=\"$PKI/good.pem\"" "key_file=\"$PKI/good.key\"" 'auth="required"' \
  "users_file=\"$DIR/users\"" 'trusted_networks=[]' 'max_auth_failures_per_minute_per_ip=3'
AUTH=$LPORT
ingress_listen 'tls="none"' 'max_connections_per_ip=3' 'max_messages_per_minute_per_ip=2'
LIMITS=$LPORT
ingress_start

verify "protocol checks (relay, AUTH, limits)" "$INGRESS_PY" - "$E2E_DIR" "$RELAY" "$RELAYAUTH" "$AUTH" "$LIMITS" \
  "$PKI/ca.pem" "$USER_NAME" "$PASSWORD" <<'PY'
import base64, sys, time
sys.path.insert(0, sys.argv[1])
from ingress_smtp import Client, data_block, expect, done, message, try_reply
relay, relayauth, auth, limits = map(int, sys.argv[2:6])
ca, user, password = sys.argv[6:9]


def session(port, source=None, tls=False):
    c = Client(port, source=source, ca=ca)
    code, text = c.reply()
    assert code == 220, text
    features = c.ehlo()
    if tls:
        c.starttls()
        features = c.ehlo()
    return c, features


def clear_of_minute_edge():
    """The per-IP limits count in windows of whole minutes of the daemon's
    CLOCK_MONOTONIC: a check that straddled a window edge would see its
    count reset. Within 5 s of an edge, wait for the next window."""
    into = time.clock_gettime(time.CLOCK_MONOTONIC) % 60
    if into > 55:
        time.sleep(60.2 - into)


def send_message(c, msgid, rcpt="ops@example.org"):
    """MAIL, RCPT, DATA, body: the list of reply codes."""
    codes = [c.cmd("MAIL FROM:<alerts@example.com>")[0]]
    codes.append(c.cmd("RCPT TO:<%s>" % rcpt)[0])
    code, _ = c.cmd("DATA")
    codes.append(code)
    if code == 354:
        c.send(data_block(message(msgid)))
        codes.append(c.reply()[0])
    return codes


# --- open relay ------------------------------------------------------------
c, _ = session(relay, source="127.0.0.2")
expect("relay: MAIL from an untrusted client is answered 250 (the refusal comes at RCPT)",
       c.cmd("MAIL FROM:<spammer@example.net>")[0] == 250)
code, text = c.cmd("RCPT TO:<victim@example.org>")
expect("relay: RCPT from 127.0.0.2 gets 554 5.7.1 Relay access denied",
       code == 554 and "5.7.1" in text and "Relay access denied" in text, text)
code, text = c.cmd("DATA")
expect("relay: DATA without an accepted recipient is refused (5xx)", 500 <= code < 600, text)
if code == 354:
    c.send(data_block(message("relayed@security.ringmail.test")))
    c.reply()
c.cmd("QUIT")
c.close()
c, _ = session(relay)
expect("relay: the control from 127.0.0.1 is accepted",
       send_message(c, "control@security.ringmail.test") == [250, 250, 354, 250])
c.close()
c, _ = session(relayauth, source="127.0.0.2", tls=True)
code, text = c.cmd("MAIL FROM:<spammer@example.net>")
expect("relayauth: MAIL from 127.0.0.2 without AUTH gets 530 5.7.0 Authentication required",
       code == 530 and "5.7.0" in text, text)
c.close()

# --- AUTH ---------------------------------------------------------------------
c, features = session(auth)
expect("auth: AUTH is not offered in clear", not any(f.startswith("AUTH") for f in features), features)
expect("auth: STARTTLS is offered", "STARTTLS" in features, features)
code, text = c.auth_plain(user, password)
expect("auth: AUTH PLAIN in clear is refused (5xx), never 235", 500 <= code < 600, text)
code, text = c.cmd("MAIL FROM:<alerts@example.com>")
expect("auth: MAIL in clear gets 530", code == 530, text)
c.close()

c, features = session(auth, tls=True)
expect("auth: AUTH PLAIN LOGIN offered over TLS", "AUTH PLAIN LOGIN" in features, features)
code, text = c.cmd("MAIL FROM:<alerts@example.com>")
expect("auth: MAIL before AUTH gets 530 5.7.0", code == 530 and "5.7.0" in text, text)
code, text = c.auth_plain(user, password)
expect("auth: the right password (PLAIN) gets 235", code == 235, text)
expect("auth: after AUTH the message is accepted",
       send_message(c, "authed@security.ringmail.test") == [250, 250, 354, 250])
c.close()

c, _ = session(auth, tls=True)
code, text = c.cmd("AUTH LOGIN")
expect("auth: LOGIN's first challenge is exactly 334 VXNlcm5hbWU6", text == "334 VXNlcm5hbWU6", text)
code, text = c.cmd(base64.b64encode(user.encode()).decode())
expect("auth: LOGIN's second challenge is exactly 334 UGFzc3dvcmQ6", text == "334 UGFzc3dvcmQ6", text)
code, text = c.cmd(base64.b64encode(password.encode()).decode())
expect("auth: the right password (LOGIN) gets 235", code == 235, text)
c.close()

c, _ = session(auth, tls=True)
code, text = c.auth_plain(user, "wrong-" + password)
expect("auth: a wrong password gets 535 5.7.8", code == 535 and "5.7.8" in text, text)
code, text = c.auth_plain("nobody", password)
expect("auth: an unknown user gets 535", code == 535, text)
code, text = c.cmd("MAIL FROM:<alerts@example.com>")
expect("auth: MAIL after failed AUTHs still gets 530", code == 530, text)
c.close()

# Rate limit on failures, per IP: 127.0.0.3 fails 3 times, then is throttled.
clear_of_minute_edge()
c, _ = session(auth, source="127.0.0.3", tls=True)
codes = [c.auth_plain(user, "wrong-%d" % i)[0] for i in range(3)]
expect("auth: three wrong passwords from 127.0.0.3 get 535 each", codes == [535] * 3, codes)
if c.closed(0.3):
    code, text = 0, "closed after 3 failures"
else:
    try:
        code, text = c.auth_plain(user, password)
    except OSError as e:
        code, text = 0, "cut: %s" % e
expect("auth: the 4th attempt within the minute is throttled (4xx or cut), not 235",
       code != 235 and (code == 0 or 400 <= code < 500), text)
c.close()
c, _ = session(auth, source="127.0.0.3", tls=True)
code, text = c.auth_plain(user, password)
expect("auth: a new connection from 127.0.0.3 is still throttled (not 235)", code != 235, text)
c.close()
c, _ = session(auth, source="127.0.0.4", tls=True)
code, text = c.auth_plain(user, password)
expect("auth: another IP (127.0.0.4) still logs in (235)", code == 235, text)
c.close()

# --- per-IP limits --------------------------------------------------------------
held = []
for i in range(3):
    h = Client(limits, source="127.0.0.6")
    held.append(h)
    expect("limits: connection %d from 127.0.0.6 greeted 220" % (i + 1), h.reply()[0] == 220)
extra = Client(limits, source="127.0.0.6")
code, text = try_reply(extra)
expect("limits: the 4th connection from 127.0.0.6 gets 421", code == 421, text)
expect("limits: ... and is closed", extra.closed(5))
other = Client(limits, source="127.0.0.7")
code, text = other.reply()
expect("limits: 127.0.0.7 meanwhile gets 220", code == 220, text)
other.close()
held.pop().close()
deadline, code = time.time() + 3, 0
while time.time() < deadline:
    again = Client(limits, source="127.0.0.6")
    code, text = try_reply(again)
    again.close()
    if code == 220:
        break
    time.sleep(0.1)
expect("limits: after one closes, 127.0.0.6 is greeted again", code == 220, text)
for h in held:
    h.close()

clear_of_minute_edge()
c, _ = session(limits, source="127.0.0.8")
ok = [send_message(c, "rate-%d@security.ringmail.test" % i) for i in range(2)]
expect("limits: two messages in the minute from 127.0.0.8 accepted", ok == [[250, 250, 354, 250]] * 2, ok)
code, text = c.cmd("MAIL FROM:<alerts@example.com>")
expect("limits: the third MAIL in the minute gets 451 4.7.1", code == 451 and "4.7.1" in text, text)
c.close()
done()
PY

# Delivered: the control, the authenticated message and the two rate-limited ones.
verify "the 4 accepted messages reached the sink" ingress_wait 4 15
verify "no message to the relay victim anywhere in the sink" eval "! grep -rqs 'victim@example.org' '$MAILDIR/new'"
verify "nothing left in the spool" ingress_spool_empty
verify "the relay refusal is in the delivery log with the client's address" \
  line_with "$DLOG" '"rejected"' '"127.0.0.2"' relay_denied
verify "the refused connection is in the delivery log" line_with "$DLOG" '"rejected"' '"127.0.0.6"'
ingress_metrics "$DIR/metrics.txt"
verify "/metrics counts the relay refusal" ingress_counted "$DIR/metrics.txt" 'reason="relay_denied"'
verify "/metrics counts AUTH required" ingress_counted "$DIR/metrics.txt" 'reason="auth_required"'
verify "/metrics counts the failed AUTHs" ingress_counted "$DIR/metrics.txt" 'reason="auth_failed"'
verify "/metrics counts the throttled AUTH" ingress_counted "$DIR/metrics.txt" 'reason="auth_throttled"'
verify "/metrics counts AUTH refused in clear" ingress_counted "$DIR/metrics.txt" 'reason="auth_in_clear_refused"'
verify "/metrics counts the message rate limit" ingress_counted "$DIR/metrics.txt" 'reason="rate_limited"'
verify "/metrics counts the connection refused at the per-IP limit" \
  ingress_counted "$DIR/metrics.txt" 'ringmail_ingress_connections_total{result="refused"}'
verify "/metrics counts accepted messages" ingress_counted "$DIR/metrics.txt" ringmail_ingress_messages_accepted_total
ingress_stop
verify_summary ingress_security_test
