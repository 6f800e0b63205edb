#!/bin/bash
# tests/e2e/protocol_variants_test.sh — the engine against servers and
# networks that behave differently, with the real binary and `ringmail sink`:
#   (0) baseline: a PIPELINING sink gets MAIL and RCPT in one send (so the
#       check in (b) can fail);
#   (a) sink --no-esmtp: EHLO answered 502, the engine says HELO and delivers;
#   (b) sink --no-pipelining: delivers, one command per send;
#   (c) relay host "localhost" resolving to ::1 then 127.0.0.1 while the sink
#       listens on 127.0.0.1 only: ::1 is refused, the engine moves on
#       (when /etc/hosts lacks "::1 localhost" or it does not resolve first,
#       the run happens in a private mount namespace (unshare -rm) whose
#       /etc/hosts says so; SKIP if that is impossible);
#   (d) relay down: `run --drain` exits 75, messages in deferred/, `ringmail
#       queue` shows "Connection refused"; with the sink up a second drain
#       delivers everything (exit 0) and empties the spool;
#   (e) max_messages_per_connection = 3, 50 messages: all delivered over at
#       least 17 connections (the sink's stats "connections").
#
# Usage: bash tests/e2e/protocol_variants_test.sh /path/to/ringmail
# Every wait is bounded; everything lives in the temporary folder.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
FAILED=0
part_fail() { echo "FAIL: $*"; FAILED=1; }

# new_case NAME: a fresh spool and config for one part; sets SPOOL CONF PORT.
new_case() {
  CASE=$1
  SPOOL=$WORK/$CASE/spool
  CONF=$WORK/$CASE/ringmail.toml
  PORT=$(free_port)
  mkdir -p "$WORK/$CASE"
  rm -f "$WORK/sink-stats.json"
  write_config "$CONF" "$SPOOL" "$PORT"
}

# drain [ENV...]: one `run --drain` with the transcript on; sets STATUS.
drain() {
  STATUS=0
  env RINGMAIL_TRACE=1 "$@" timeout -k 10 60 "$RINGMAIL" run --config "$CONF" --drain \
    > "$WORK/$CASE/run.out" 2> "$WORK/$CASE/run.err" || STATUS=$?
}

spool_empty() {
  [ "$(find "$SPOOL/incoming/new" "$SPOOL/active" "$SPOOL/deferred" "$SPOOL/failed" "$SPOOL/meta" \
        -type f 2>/dev/null | wc -l)" = 0 ]
}

# --- (0) baseline: PIPELINING ---------------------------------------------------------
new_case baseline
make_spool "$SPOOL" 20 1024 a@example.org b@example.org
start_sink "$PORT"
drain
stop_sink
if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 20 ] && grep -q 'C: "MAIL FROM:<[^"]*RCPT TO:<' "$WORK/$CASE/run.err"; then
  pass "(0) baseline: 20 delivered, MAIL and RCPT pipelined in one send"
else
  part_fail "(0) baseline: status $STATUS, sink $(sink_count), pipelined sends: $(grep -c 'MAIL FROM:<[^"]*RCPT TO' "$WORK/$CASE/run.err")"
fi

# --- (a) --no-esmtp: HELO fallback ----------------------------------------------------
new_case no_esmtp
make_spool "$SPOOL" 20 1024 a@example.org b@example.org
start_sink "$PORT" --no-esmtp
drain
stop_sink
if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 20 ] && spool_empty &&
   grep -q 'S: "502 ' "$WORK/$CASE/run.err" && grep -q 'C: "HELO e2e.ringmail.test\\r\\n"' "$WORK/$CASE/run.err"; then
  pass "(a) --no-esmtp: EHLO got 502, HELO sent, 20 of 20 delivered"
else
  part_fail "(a) --no-esmtp: status $STATUS, sink $(sink_count), HELO lines $(grep -c 'HELO' "$WORK/$CASE/run.err"); $(grep -v '^\[conn' "$WORK/$CASE/run.err" | tail -3)"
fi

# --- (b) --no-pipelining ----------------------------------------------------------------
new_case no_pipelining
make_spool "$SPOOL" 100 1024 a@example.org b@example.org c@example.org
start_sink "$PORT" --no-pipelining
drain
stop_sink
# Every client send holds one command, or one body (which ends with its ".").
multi=$(grep -E '^\[conn [0-9]+\] C: ' "$WORK/$CASE/run.err" | grep -cE '(MAIL FROM|RCPT TO|DATA|RSET|QUIT)[^"]*\\r\\n(MAIL FROM|RCPT TO|DATA|RSET|QUIT)' || true)
if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 100 ] && [ "$(stats_field recipients)" = 300 ] && spool_empty && [ "$multi" = 0 ]; then
  pass "(b) --no-pipelining: 100 of 100 delivered (300 recipients), one command per send"
else
  part_fail "(b) --no-pipelining: status $STATUS, sink $(sink_count), sends with several commands: $multi"
fi

# --- (c) localhost: ::1 refused, then 127.0.0.1 ------------------------------------------
new_case localhost
RELAY_HOST=localhost write_config "$CONF" "$SPOOL" "$PORT"
make_spool "$SPOOL" 30 1024 a@example.org
wrap=()
if grep -Eq '^[[:space:]]*::1[[:space:]]+(.*[[:space:]])?localhost([[:space:]]|$)' /etc/hosts &&
   getent ahosts localhost | head -1 | grep -q '^::1 '; then
  how="/etc/hosts has ::1 localhost, resolved first"
else
  printf '::1 localhost\n127.0.0.1 localhost\n' > "$WORK/hosts"
  if unshare -rm sh -c 'mount --bind "$1" /etc/hosts && getent ahosts localhost | head -1 | grep -q "^::1 "' _ "$WORK/hosts" 2>/dev/null; then
    wrap=(unshare -rm sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$WORK/hosts")
    how="/etc/hosts lacks ::1 localhost: ran in a mount namespace with ::1 first"
  else
    how=""
  fi
fi
if [ -z "$how" ]; then
  echo "SKIP: (c) localhost: /etc/hosts has no '::1 localhost' and a private mount namespace is not available"
else
  start_sink "$PORT"
  STATUS=0
  "${wrap[@]}" env RINGMAIL_TRACE=1 timeout -k 10 60 "$RINGMAIL" run --config "$CONF" --drain \
    > "$WORK/$CASE/run.out" 2> "$WORK/$CASE/run.err" || STATUS=$?
  stop_sink
  if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 30 ] && spool_empty &&
     grep -q 'relay localhost:[0-9]* (2 address(es))' "$WORK/$CASE/run.err"; then
    pass "(c) localhost (::1 refused, 127.0.0.1 used): 30 of 30 delivered ($how)"
  else
    part_fail "(c) localhost: status $STATUS, sink $(sink_count) ($how); $(grep -v '^\[conn' "$WORK/$CASE/run.err" | tail -3)"
  fi
fi

# --- (d) relay down, then up ---------------------------------------------------------------
new_case relay_down
make_spool "$SPOOL" 25 1024 a@example.org b@example.org
drain
deferred=$(count_in "$SPOOL" deferred)
"$RINGMAIL" queue -c "$CONF" > "$WORK/$CASE/queue.out" 2>&1 || true
if [ "$STATUS" = 75 ] && [ "$deferred" = 25 ] && grep -q 'Connection refused' "$WORK/$CASE/queue.out" &&
   [ "$(grep -l '^last_reply .*Connection refused' "$SPOOL"/meta/* | wc -l)" = 25 ]; then
  pass "(d) relay down: exit 75, 25 deferred, queue shows 'Connection refused'"
else
  part_fail "(d) relay down: status $STATUS (want 75), deferred $deferred; queue: $(head -20 "$WORK/$CASE/queue.out")"
fi
start_sink "$PORT"
drain
stop_sink
if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 25 ] && spool_empty; then
  pass "(d) relay up again: second drain exit 0, 25 of 25 delivered, spool empty"
else
  part_fail "(d) second drain: status $STATUS, sink $(sink_count), left $(spool_files "$SPOOL") + meta $(count_in "$SPOOL" meta)"
fi

# --- (e) max_messages_per_connection = 3 -----------------------------------------------------
new_case recycle
MAX_MESSAGES_PER_CONNECTION=3 write_config "$CONF" "$SPOOL" "$PORT"
grep -q '^max_messages_per_connection = 3$' "$CONF" || fail "config helper ignored MAX_MESSAGES_PER_CONNECTION"
make_spool "$SPOOL" 50 1024 a@example.org
start_sink "$PORT"
drain
stop_sink
connections=$(stats_field connections 2>/dev/null || echo 0)
mails_per_conn=$(grep -oE '^\[conn [0-9]+\] C: "MAIL FROM' "$WORK/$CASE/run.err" | wc -l)
if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 50 ] && spool_empty && [ "$connections" -ge 17 ]; then
  pass "(e) max_messages_per_connection = 3: 50 of 50 delivered over $connections connections"
else
  part_fail "(e) recycle: status $STATUS, sink $(sink_count), connections $connections (want >= 17), MAIL commands $mails_per_conn"
fi

[ "$FAILED" = 0 ] || { echo "FAIL: protocol_variants_test"; exit 1; }
echo "PASS: protocol_variants_test"
