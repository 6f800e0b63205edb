#!/bin/bash
# tests/e2e/delivery_log_test.sh — the delivery log end to end, with the real
# `ringmail run` against `ringmail sink` and its fault options:
#   (a) one spool, four drains into four sinks: a 550 for one of two
#       recipients (a partial message), a 451 once for another (deferred, then
#       delivered at attempt 2), a connection cut in mid-DATA (deferred, then
#       delivered), and a TLS delivery at level verify (the test PKI). Every
#       line of the log is JSON (python's json module), every attempt line
#       has every field, one attempt line per recipient attempt with the
#       right outcome, code, enhanced status, attempt number and TLS facts;
#       queued/deferred/failed lines for the messages; the summary shows the
#       partial message and the recipients; the 550 is bounced (a "bounced"
#       line naming the bounce, whose delivery is logged); the TLS delivery logs in with
#       AUTH ("auth": true) and its password is nowhere in the log. The syslog copy (`[log] syslog`,
#       a datagram socket bound by python in place of /dev/log) has one
#       Postfix-shaped line per attempt line.
#   (b) `ringmail queue --delete` appends its "deleted" line to the same file.
#   (c) SIGUSR1 under a running daemon with a 2-line ring: rename the log,
#       send USR1, the lines after it go to the new file, none lost.
#
# Usage: bash tests/e2e/delivery_log_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

PKI=$WORK/pki
make_pki "$PKI"

LOG=$WORK/log/delivery.jsonl
SYSLOG_SOCK=$WORK/syslog.sock
SYSLOG_OUT=$WORK/syslog.txt
mkdir -p "$WORK/log"

# A syslog stand-in: binds the datagram socket, writes each datagram as one
# line (as received: the engine never sends a newline inside one).
"$PY" - "$SYSLOG_SOCK" "$SYSLOG_OUT" <<'PY' &
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "wb", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
PY
PIDS+=($!)
wait_until 10 test -S "$SYSLOG_SOCK" || fail "the syslog stand-in did not bind $SYSLOG_SOCK"

setup_case a
# add_log_config CONF: the [log] table of this test.
add_log_config() {
  printf '[log]\ndelivery = "%s"\nsyslog = true\nsyslog_socket = "%s"\n' "$LOG" "$SYSLOG_SOCK" >> "$1"
}
add_log_config "$CONF"

# new_port: a fresh port for the next sink (never reuse the last one: it may
# still be in TIME_WAIT, or taken meanwhile).
new_port() {
  PORT=$(free_port)
  config_set "$CONF" relay port "$PORT"
}

run_drain() {
  DRAIN_RC=0
  timeout 60 "$RINGMAIL" run --drain -c "$CONF" > "$WORK/drain.out" 2> "$WORK/drain.err" || DRAIN_RC=$?
  [ "$DRAIN_RC" != 124 ] || fail "run --drain did not finish within 60 s: $(tail -5 "$WORK/drain.err")"
}

# 1. 550 and 451: partial (m0), deferred then delivered (s0), three plain.
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply bad@example.org=550 --rcpt-reply slow@example.org=451:1
put_messages "$SPOOL" partial 1 good@example.org bad@example.org
put_messages "$SPOOL" slow 1 good@example.org slow@example.org
put_messages "$SPOOL" plain 3 ops@example.org
run_drain
cp "$WORK/drain.out" "$WORK/drain1.out"
verify "drain 1 exits 75 (one message deferred)" test "$DRAIN_RC" = 75
verify "summary: the 550 message is partial, recipients counted, its bounce delivered" \
  grep -q '^ringmail: delivered 4, partial 1, deferred 1, failed 0 in .*; recipients: delivered 6, deferred 1, failed 1$' \
  "$WORK/drain1.out"
verify "stderr reports the log" grep -q "delivery log: .* line(s) written to $LOG and syslog" "$WORK/drain.err"
sleep 1.1  # the 1 s retry schedule
run_drain
verify "drain 2 exits 0" test "$DRAIN_RC" = 0
stop_sink

# 2. A connection cut in mid-DATA, once: deferred, delivered by the next drain.
new_port
start_sink "$PORT" --maildir "$MAILDIR" --drop-during-data 1
put_messages "$SPOOL" cut 4 ops@example.org
run_drain
verify "drain 3 (cut) exits 75" test "$DRAIN_RC" = 75
sleep 1.1
run_drain
verify "drain 4 exits 0" test "$DRAIN_RC" = 0
stop_sink

# 3. TLS at level verify into the sink with the test PKI's good certificate,
# with AUTH (the password must never reach the log).
SECRET="dlog-Secret-$$"
new_port
start_sink "$PORT" --maildir "$MAILDIR" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key" \
  --auth "alerts:$SECRET"
printf '%s\n' "$SECRET" > "$WORK/relay.password"
chmod 600 "$WORK/relay.password"
config_set "$CONF" relay tls '"verify"'
config_set "$CONF" relay host '"localhost"'
config_set "$CONF" relay username '"alerts"'
config_set "$CONF" relay password_file "\"$WORK/relay.password\""
printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$CONF"
put_messages "$SPOOL" tls 2 ops@example.org
run_drain
verify "drain 5 (TLS) exits 0" test "$DRAIN_RC" = 0
stop_sink

# (b) queue --delete of the partial message (in failed/) logs "deleted".
"$RINGMAIL" queue -c "$CONF" --delete partial000000 > "$WORK/delete.out" 2> "$WORK/delete.err" \
  || fail "queue --delete: $(cat "$WORK/delete.err")"

verify "no password in the log" test "$(grep -c -e "$SECRET" -e "$(printf '%s' "$SECRET" | base64)" "$LOG")" = 0
wait_until 5 grep -q 'tls000001' "$SYSLOG_OUT" || true
cp "$SYSLOG_OUT" "$WORK/syslog-a.txt"
verify "the log and its syslog copy are right" "$PY" - "$LOG" "$WORK/syslog-a.txt" <<'PY'
import json, re, sys
log_path, syslog_path = sys.argv[1], sys.argv[2]
raw = open(log_path, "rb").read()
assert raw.endswith(b"\n"), "the log does not end with a newline"
events = []
for n, line in enumerate(raw.split(b"\n")[:-1], 1):
    try:
        events.append(json.loads(line.decode("utf-8")))
    except Exception as e:
        sys.exit("line %d is not JSON (%s): %r" % (n, e, line))
attempt_keys = {"time", "event", "id", "message_id", "from", "to", "outcome", "attempt", "destination", "host",
                "address", "tls", "tls_cipher", "tls_verified", "tls_verdict", "auth", "queue_s", "duration_s",
                "code", "dsn", "reply"}
time_re = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
attempts = [e for e in events if e["event"] == "attempt"]
for e in events:
    assert time_re.match(e["time"]), e
bounces = [a for a in attempts if a["id"].endswith(".dsn")]
for a in attempts:
    assert set(a) == attempt_keys, ("fields", sorted(set(a) ^ attempt_keys), a)
    assert a["from"] == ("" if a in bounces else "alerts@example.com"), a
    assert a["destination"] in ("127.0.0.1", "localhost"), a
    assert a["auth"] is a["id"].startswith("tls"), a
    assert a["queue_s"] >= 0, a
def by(idp, to):
    return [a for a in attempts if a["id"].startswith(idp) and a["to"] == to]
def one(idp, to, outcome, attempt, code):
    got = by(idp, to)
    match = [a for a in got if a["outcome"] == outcome and a["attempt"] == attempt]
    assert len(match) == 1, ("want one %s attempt %d for %s %s" % (outcome, attempt, idp, to), got)
    a = match[0]
    assert a["code"] == code, a
    assert a["message_id"] == "<%s-0@ringmail.test>" % idp, a
    return a
a = one("partial", "bad@example.org", "failed", 1, 550)
assert a["dsn"] and a["dsn"].startswith("5."), a
assert a["reply"].startswith("550"), a
a = one("partial", "good@example.org", "delivered", 1, 250)
assert a["host"] and re.match(r"^127\.0\.0\.1:\d+$", a["address"]), a
assert a["duration_s"] is not None and a["duration_s"] >= 0, a
one("slow", "good@example.org", "delivered", 1, 250)
one("slow", "slow@example.org", "deferred", 1, 451)
one("slow", "slow@example.org", "delivered", 2, 250)
assert len(by("slow", "good@example.org")) == 1, "good@ of slow was sent again"
for i in range(3):
    got = by("plain%06d" % i, "ops@example.org")
    assert [x["outcome"] for x in got] == ["delivered"], got
cut = [a for a in attempts if a["id"].startswith("cut")]
deferred_cut = [a for a in cut if a["outcome"] == "deferred"]
assert 1 <= len(deferred_cut) <= 2, cut
for a in deferred_cut:
    assert a["code"] is None and a["attempt"] == 1, a
    later = [x for x in cut if x["id"] == a["id"] and x["outcome"] == "delivered"]
    assert len(later) == 1 and later[0]["attempt"] == 2, (a, later)
assert sorted(a["id"] for a in cut if a["outcome"] == "delivered") == ["cut%06d" % i for i in range(4)], cut
tls = [a for a in attempts if a["id"].startswith("tls")]
assert len(tls) == 2, tls
for a in tls:
    assert a["outcome"] == "delivered" and a["tls"] in ("TLSv1.3", "TLSv1.2") and a["tls_cipher"], a
    assert a["tls_verified"] is True and a["tls_verdict"] == "trusted", a
    assert a["host"] == "localhost", a
for a in attempts:
    if not a["id"].startswith("tls"):
        assert a["tls"] is None and a["tls_verified"] is False, a
# Message events.
kinds = {}
for e in events:
    if e["event"] != "attempt":
        kinds.setdefault(e["event"], []).append(e)
queued = sorted(e["id"] for e in kinds.get("queued", []))
assert len(queued) == 1 + 1 + 3 + 4 + 2 + 1 and len(set(queued)) == len(queued), queued  # + the bounce
# The 550 bounced: a "bounced" line names the bounce, whose own delivery is logged.
bounced = kinds.get("bounced", [])
assert len(bounced) == 1 and bounced[0]["id"] == "partial000000" and bounced[0]["from"] == "alerts@example.com", bounced
assert [(a["id"], a["to"], a["outcome"]) for a in bounces] == [(bounced[0]["bounce_id"], "alerts@example.com",
                                                                "delivered")], (bounced, bounces)
failed = kinds.get("failed", [])
assert len(failed) == 1 and failed[0]["id"] == "partial000000", failed
assert failed[0]["failed"] == 1 and failed[0]["delivered"] == 1 and "550" in failed[0]["reason"], failed
deferred = kinds.get("deferred", [])
assert any(e["id"] == "slow000000" and e["pending"] == 1 and "451" in e["reason"] for e in deferred), deferred
assert all(time_re.match(e["next_attempt"]) for e in deferred), deferred
deleted = kinds.get("deleted", [])
assert len(deleted) == 1 and deleted[0]["id"] == "partial000000" and deleted[0]["state"] == "failed", deleted
# The syslog copy: one Postfix-shaped line per attempt line.
sys_lines = [l for l in open(syslog_path, encoding="utf-8").read().split("\n") if l]
shape = re.compile(r"^<22>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ringmail\[\d+\]: (\S+): to=<([^>]*)>, "
                   r"relay=(none|\S+\[[0-9.]+\]:\d+), delay=[\d.]+, delays=[\d.]+/0/0/[\d.]+, "
                   r"dsn=\d\.\d{1,3}\.\d{1,3}, status=(sent|deferred|bounced) \((.*)\)$")
assert len(sys_lines) == len(attempts), ("syslog lines", len(sys_lines), "attempt lines", len(attempts))
status = {"delivered": "sent", "deferred": "deferred", "failed": "bounced", "expired": "bounced"}
want = sorted((a["id"], a["to"], status[a["outcome"]]) for a in attempts)
got = []
for l in sys_lines:
    m = shape.match(l)
    assert m, "not in Postfix's shape: %r" % l
    got.append((m.group(1), m.group(2), m.group(4)))
assert sorted(got) == want, (sorted(got), want)
print("%d lines, %d attempts, %d syslog lines" % (len(events), len(attempts), len(sys_lines)))
PY

# (c) SIGUSR1 under a running daemon, with a ring of 2 lines.
setup_case c
printf '[log]\ndelivery = "%s"\nring_capacity = 2\n' "$WORK/c/delivery.jsonl" >> "$CONF"
start_sink "$PORT" --maildir "$MAILDIR"
start_daemon daemon-c
put_messages "$SPOOL" before 200 ops@example.org
count_attempts() { grep -c '"event":"attempt"' "$1" 2>/dev/null || true; }
attempts_are() { [ "$(count_attempts "$1")" = "$2" ]; }
wait_until 30 attempts_are "$WORK/c/delivery.jsonl" 200 \
  || fail "(c) 200 attempt lines before the rotation: $(count_attempts "$WORK/c/delivery.jsonl")"
mv "$WORK/c/delivery.jsonl" "$WORK/c/delivery.jsonl.1"
kill -USR1 "$DAEMON_PID"
wait_for_line "$WORK/daemon-c.err" "SIGUSR1: delivery log .* reopened" 10 \
  || fail "(c) no reopen on SIGUSR1: $(tail -3 "$WORK/daemon-c.err")"
put_messages "$SPOOL" after 200 ops@example.org
wait_until 30 attempts_are "$WORK/c/delivery.jsonl" 200 \
  || fail "(c) 200 attempt lines after the rotation: $(count_attempts "$WORK/c/delivery.jsonl")"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 20 || fail "(c) the daemon did not stop"
verify "(c) the daemon exits 0" test "$EXIT_RC" = 0
verify "(c) old file: the 200 before, new file: the 200 after, each once" "$PY" - "$WORK/c/delivery.jsonl.1" \
  "$WORK/c/delivery.jsonl" <<'PY'
import json, sys
def attempts(path):
    return [json.loads(l) for l in open(path, encoding="utf-8") if '"event":"attempt"' in l]
old, new = attempts(sys.argv[1]), attempts(sys.argv[2])
assert sorted(a["id"] for a in old) == ["before%06d" % i for i in range(200)], len(old)
assert sorted(a["id"] for a in new) == ["after%06d" % i for i in range(200)], len(new)
assert all(a["outcome"] == "delivered" for a in old + new)
PY
verify "(c) stderr counts the waits for room" grep -q "cores waited for room [0-9]* time(s)" "$WORK/daemon-c.err"
stop_sink
verify_summary "delivery log"
