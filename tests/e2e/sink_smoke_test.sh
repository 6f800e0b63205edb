#!/bin/bash
# tests/e2e/sink_smoke_test.sh — boots `ringmail sink` on a free loopback
# port and sends it mail with Python's smtplib (/usr/bin/python3, standard
# library only): 3 messages counted by --exit-after, the Maildir copies and
# the stats JSON checked; then a RCPT fault and a stop by SIGTERM.
#
# Usage: bash tests/e2e/sink_smoke_test.sh /path/to/ringmail
# Touches nothing outside its temporary folder; every wait is bounded.
set -euo pipefail

RINGMAIL=${1:?usage: sink_smoke_test.sh /path/to/ringmail}
PYTHON=/usr/bin/python3
WORK=$(mktemp -d)
SINK_PID=""

cleanup() {
  if [ -n "$SINK_PID" ] && kill -0 "$SINK_PID" 2>/dev/null; then kill "$SINK_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$WORK"/*.out "$WORK"/*.err; do [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}

# start_sink NAME ARGS...: starts the sink, waits for "listening on", sets PORT.
start_sink() {
  local name=$1
  shift
  "$RINGMAIL" sink --listen 127.0.0.1:0 --report-interval-ms 0 "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SINK_PID=$!
  for _ in $(seq 100); do
    if grep -q '^sink: listening on ' "$WORK/$name.out" 2>/dev/null; then
      PORT=$(sed -n 's/^sink: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/$name.out")
      [ -n "$PORT" ] && [ "$PORT" != 0 ] || fail "bad listening line: $(cat "$WORK/$name.out")"
      return 0
    fi
    kill -0 "$SINK_PID" 2>/dev/null || fail "sink exited at start"
    sleep 0.1
  done
  fail "sink did not print 'listening on' within 10 s"
}

# wait_sink: waits up to 10 s for the sink to exit; fails unless status 0.
wait_sink() {
  for _ in $(seq 100); do
    kill -0 "$SINK_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$SINK_PID" 2>/dev/null && fail "sink still running after 10 s"
  local status=0
  wait "$SINK_PID" || status=$?
  SINK_PID=""
  [ "$status" = 0 ] || fail "sink exited with status $status"
}

# --- 1: three messages, --exit-after 3, Maildir and stats ---------------------
start_sink run1 --exit-after 3 --maildir "$WORK/maildir" --stats-file "$WORK/stats.json"
"$PYTHON" - "$PORT" <<'PY' || fail "smtplib client failed"
import smtplib, sys
port = int(sys.argv[1])
body = ("From: alice@example.org\r\nTo: bob@example.net\r\nSubject: alert {n}\r\n\r\n"
        "line one\r\n.leading dot\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=10)
code, ehlo = s.ehlo("client.test")
assert code == 250 and b"PIPELINING" in ehlo and b"ENHANCEDSTATUSCODES" in ehlo, ehlo
for n in range(3):
    refused = s.sendmail("alice@example.org", ["bob@example.net", "carol@example.net"],
                         body.format(n=n).encode())
    assert refused == {}, refused
try:
    s.quit()
except (smtplib.SMTPException, OSError):
    pass  # the sink may already be stopping after the third message
PY
wait_sink
grep -q '^sink: accepted 3 messages (6 recipients) in [0-9.]* s, [0-9]* msg/s, cpu [0-9.]* us/msg$' \
  "$WORK/run1.out" || fail "final line: $(tail -1 "$WORK/run1.out")"
"$PYTHON" - "$WORK/stats.json" <<'PY' || fail "stats file: $(cat "$WORK/stats.json")"
import json, sys
stats = json.load(open(sys.argv[1]))
assert stats["messages"] == 3 and stats["recipients"] == 6 and stats["connections"] == 1, stats
assert stats["seconds"] >= 0 and stats["cpu_us_per_msg"] >= 0, stats
PY
count=$(find "$WORK/maildir/new" -type f | wc -l)
[ "$count" = 3 ] || fail "expected 3 files in maildir/new, found $count"
[ -z "$(ls -A "$WORK/maildir/tmp")" ] || fail "maildir/tmp is not empty"
for f in "$WORK"/maildir/new/*; do
  head -1 "$f" | grep -q $'^X-Sink-Envelope: from=<alice@example.org> to=<bob@example.net>,<carol@example.net>\r$' \
    || fail "envelope header in $f: $(head -1 "$f")"
  grep -q $'^\\.leading dot\r$' "$f" || fail "dot-unstuffed line missing in $f"
done

# --- 2: a RCPT fault, then SIGTERM ---------------------------------------------
start_sink run2 --rcpt-reply bad@example.net=550:1
"$PYTHON" - "$PORT" <<'PY' || fail "smtplib client (fault run) failed"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
refused = s.sendmail("a@example.org", ["bad@example.net", "good@example.net"], b"Subject: x\r\n\r\nhi\r\n")
assert list(refused) == ["bad@example.net"] and refused["bad@example.net"][0] == 550, refused
assert b"5.1.1" in refused["bad@example.net"][1], refused
refused = s.sendmail("a@example.org", ["bad@example.net"], b"Subject: x\r\n\r\nhi\r\n")
assert refused == {}, refused  # the fault's count (1) is used up
s.quit()
PY
kill -TERM "$SINK_PID"
wait_sink
grep -q '^sink: accepted 2 messages (2 recipients) in ' "$WORK/run2.out" \
  || fail "final line after SIGTERM: $(tail -1 "$WORK/run2.out")"

echo "PASS: sink smoke test"
