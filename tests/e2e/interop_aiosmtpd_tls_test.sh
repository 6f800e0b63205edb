#!/bin/bash
# tests/e2e/interop_aiosmtpd_tls_test.sh — the real ringmail binary over
# TLS to Debian's python3-aiosmtpd (a server nobody here wrote; run by
# aiosmtpd_server.py with its tls_context, require_starttls and, for the
# AUTH server, an authenticator with auth_required and auth_require_tls).
# Each case goes through the wire tap of interop_lib.sh (interop_tap.py)
# and checks: delivered over TLS as aiosmtpd saw it (session.ssl: version
# and cipher, logged per message in envelopes.jsonl; the user that logged
# in), the three messages intact (interop_messages.py), and nothing in clear
# after STARTTLS, no message line and no password on the wire.
#   - STARTTLS required by the server: may, encrypt, verify, secure deliver
#     over TLS; `none` is refused by aiosmtpd ("530 Must issue a STARTTLS
#     command first", the Alertmanager complaint): deferred with that reply
#     explained, no message line on the wire;
#   - AUTH: the right password delivers with aiosmtpd's session
#     authenticated as that user, over TLS; a wrong one is deferred with
#     aiosmtpd's 535 explained.
# Usage: bash tests/e2e/interop_aiosmtpd_tls_test.sh /path/to/ringmail
# SKIP (77) without python3-aiosmtpd; CI installs it. Loopback only.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/interop_lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "SKIP: python3-aiosmtpd is not installed"; exit 77; }
interop_pki
interop_auth_setup alice 'aio-Pa55 w0rd'

# start_aiosmtpd NAME ARGS...: aiosmtpd_server.py on a free port writing
# into $WORK/NAME; sets AIO_PORT.
start_aiosmtpd() {
  local name=$1
  shift
  AIO_PORT=$(free_port)
  "$PY" "$E2E_DIR/aiosmtpd_server.py" "$AIO_PORT" "$WORK/$name" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key" \
    "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  wait_for_line "$WORK/$name.log" "listening on" 20 || fail "aiosmtpd did not start: $(cat "$WORK/$name.log")"
}

# aiosmtpd_received DIR PREFIX EXPECT: the INTEROP_CHECK of interop_case.
# EXPECT is "tls" or "tls+auth=USER": the three messages intact, and each
# came over TLS (and with USER logged in) as aiosmtpd's session saw it.
aiosmtpd_received() {
  "$PY" "$E2E_DIR/interop_messages.py" check "$INTEROP_MAILDIR" "$1/samples" "$2" || return 1
  "$PY" - "$INTEROP_MAILDIR" "$2" "$3" <<'PY'
import json, os, re, sys
directory, prefix, expect = sys.argv[1:]
want_user = expect.split("auth=", 1)[1] if "auth=" in expect else None
rows = {r["name"]: r for r in map(json.loads, open(os.path.join(directory, "envelopes.jsonl"))) if "name" in r}
facts = set()
for name in os.listdir(os.path.join(directory, "new")):
    head = open(os.path.join(directory, "new", name), "rb").read(4096)
    if not re.search(rb"^Message-Id: <%s-\d+@" % prefix.encode(), head, re.M):
        continue
    row = rows[name]
    if not row["tls"] or row["auth"] != want_user:
        print("FAIL: %s: aiosmtpd saw tls=%s auth=%s, wanted TLS and auth=%s" % (name, row["tls"], row["auth"], want_user))
        sys.exit(1)
    facts.add(row["tls"])
print("aiosmtpd session: %s%s" % (", ".join(sorted(facts)), ", authenticated as %s" % want_user if want_user else ""))
PY
}
INTEROP_CHECK=aiosmtpd_received

# STARTTLS offered and required by the server.
start_aiosmtpd starttls
INTEROP_MAILDIR=$WORK/starttls
for level in may encrypt verify secure; do
  interop_case "STARTTLS, $level" "$AIO_PORT" false "$level" tls tls
done
interop_case "none against a server that requires STARTTLS: deferred, 530 explained" "$AIO_PORT" false none deferred \
  "530 Must issue a STARTTLS command first; the relay wants TLS before this command"

# AUTH required by the server (only offered after STARTTLS).
start_aiosmtpd auth --auth "$AUTH_USER:$AUTH_PASSWORD"
INTEROP_MAILDIR=$WORK/auth
CREDS=("username=\"$AUTH_USER\"" "password_file=\"$WORK/password\"")
interop_case "AUTH, verify" "$AIO_PORT" false verify tls "tls+auth=$AUTH_USER" "${CREDS[@]}"
interop_case "AUTH, encrypt" "$AIO_PORT" false encrypt tls "tls+auth=$AUTH_USER" "${CREDS[@]}"
printf '%s' "wrong-$AUTH_PASSWORD" > "$WORK/wrong-password"
chmod 600 "$WORK/wrong-password"
interop_case "AUTH with a wrong password: deferred, 535 explained" "$AIO_PORT" false verify deferred \
  "the relay rejected the user name or password" "username=\"$AUTH_USER\"" "password_file=\"$WORK/wrong-password\""
interop_expect "the output quotes aiosmtpd's 535" grep -qF "535 5.7.8" "$INTEROP_DIR/run.log"
interop_expect "aiosmtpd saw every AUTH over TLS, and the wrong password refused" "$PY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if "auth_attempt" in l]
assert rows and all(r["tls"] for r in rows), rows
assert any(not r["ok"] for r in rows) and any(r["ok"] for r in rows), rows' "$WORK/auth/envelopes.jsonl"
interop_summary interop_aiosmtpd_tls_test
