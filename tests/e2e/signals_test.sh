#!/bin/bash
# tests/e2e/signals_test.sh — stopping the delivery daemon with a signal,
# and the daemon noticing new mail, end to end with the real binary:
#   1. SIGTERM once the sink has 100 of 5,000 messages (slow sink:
#      --delay-ms 20): exit 0 within 10 s, the summary line printed, every
#      message either in the sink's Maildir or still queued (incoming/new,
#      active/, deferred/), never both, none lost; then `run --drain`
#      delivers the rest, each Message-Id exactly once (in-flight deliveries
#      finished: no duplicates).
#   2. The same with SIGINT once the sink has the first of 1,000 messages.
#   3. A message queued with `ringmail inject` while the daemon idles (after
#      a first injected message was delivered: start-up is over) is
#      delivered within 4 s (inotify; the safety rescan is every 5 s).
# The signals are sent when a condition holds (messages delivered), not
# after a fixed time, so a fast or a loaded machine does not change what is
# tested.
#
# Usage: bash tests/e2e/signals_test.sh /path/to/ringmail   (one ctest test)
# Touches nothing outside its temporary folder; every wait is bounded.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3



# sig_check MODE N — Message-Id bookkeeping over $MAILDIR and $SPOOL:
#   split  after a stop: delivered (Maildir) and left (spool states) are
#          disjoint and together hold alert-0..N-1, each delivered once
#   exact  every alert-0..N-1 exactly once in the Maildir, none left
# Prints "delivered D left L overlap O missing M duplicates X".
sig_check() {
  "$PY" - "$MAILDIR" "$SPOOL" "$@" <<'PY'
import os, re, sys
maildir, spool, mode, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pat = re.compile(rb"^Message-Id: <alert-(\d+)@ringmail\.test>", re.M | re.I)
count = {}
for name in os.listdir(os.path.join(maildir, "new")):
    with open(os.path.join(maildir, "new", name), "rb") as f:
        m = pat.search(f.read(4096))
    if m:
        n = int(m.group(1))
        count[n] = count.get(n, 0) + 1
left = set()
for state in ("incoming/new", "active", "deferred", "failed"):
    d = os.path.join(spool, state)
    if os.path.isdir(d):
        left |= {int(x[3:]) for x in os.listdir(d) if x.startswith("e2e")}
delivered = set(count)
overlap = delivered & left
missing = [n for n in range(total) if n not in delivered and n not in left]
dups = sum(c - 1 for c in count.values())
print("delivered %d left %d overlap %d missing %d duplicates %d"
      % (len(delivered), len(left), len(overlap), len(missing), dups))
ok = not overlap and not missing and dups == 0 and len(delivered) + len(left) == total
if mode == "exact":
    ok = ok and not left and len(delivered) == total
sys.exit(0 if ok else 1)
PY
}

# maildir_count prints how many messages the sink accepted so far.
maildir_count() {
  find "$MAILDIR/new" -type f 2>/dev/null | wc -l
}

# delivering_since PID MIN: the daemon PID runs and the sink holds >= MIN messages.
delivering_since() {
  kill -0 "$1" 2>/dev/null && [ "$(maildir_count)" -ge "$2" ]
}

# stop_case SIGNAL COUNT MIN: daemon over COUNT messages, SIGNAL once the
# sink holds MIN of them (bounded wait), then the checks above, then a drain.
stop_case() {
  local sig=$1 total=$2 min=$3 pid rc i t0 delivered_line n
  setup_case "$sig"
  make_spool "$SPOOL" "$total" 600
  start_sink "$PORT" --maildir "$MAILDIR" --delay-ms 20
  "$RINGMAIL" run -c "$CONF" > "$WORK/$sig.out" 2> "$WORK/$sig.err" &
  pid=$!
  PIDS+=("$pid")
  wait_until 30 delivering_since "$pid" "$min" \
    || fail "$sig: the sink did not get $min message(s) within 30 s (it has $(maildir_count)): $(cat "$WORK/$sig.err")"
  kill "-$sig" "$pid"
  t0=$SECONDS
  for ((i = 0; i < 200; i++)); do  # 10 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    fail "$sig: daemon still running 10 s after the signal: $(cat "$WORK/$sig.err")"
  fi
  rc=0
  wait "$pid" || rc=$?
  forget_pid "$pid"
  [ "$rc" = 0 ] || fail "$sig: daemon exit $rc after $sig, want 0: $(cat "$WORK/$sig.err")"
  grep -q "received: finishing in-flight deliveries" "$WORK/$sig.err" \
    || fail "$sig: no 'finishing in-flight deliveries' line: $(cat "$WORK/$sig.err")"
  delivered_line=$(grep '^ringmail: delivered [0-9]*, partial [0-9]*, deferred [0-9]*, failed [0-9]* in ' "$WORK/$sig.out") \
    || fail "$sig: no summary line on stdout: $(cat "$WORK/$sig.out")"
  # The sink writes a message to its Maildir before its final 250, and the
  # daemon has read every 250 it counts: nothing more can arrive now.
  n=$(maildir_count)
  out=$(sig_check split "$total") || fail "$sig: after the stop: $out"
  echo "$sig: stopped in $((SECONDS - t0)) s; $delivered_line; $out"
  [ "$(sed -n 's/^ringmail: delivered \([0-9]*\),.*/\1/p' <<< "$delivered_line")" = "$n" ] \
    || fail "$sig: summary says '$delivered_line' but the sink holds $n messages"
  [ "$n" -gt 0 ] || fail "$sig: nothing delivered before the signal; the test proves nothing"
  [ "$n" -lt "$total" ] || fail "$sig: everything delivered before the signal; the test proves nothing"
  [ "$(count_in "$SPOOL" deferred)" = 0 ] || fail "$sig: the stop deferred messages (in-flight ones must finish)"

  rc=0
  timeout 60 "$RINGMAIL" run --drain -c "$CONF" > "$WORK/$sig.drain.out" 2> "$WORK/$sig.drain.err" || rc=$?
  [ "$rc" = 0 ] || fail "$sig: drain after the stop exit $rc, want 0: $(cat "$WORK/$sig.drain.err")"
  out=$(sig_check exact "$total") || fail "$sig: after the drain: $out"
  [ "$(spool_files "$SPOOL")" = 0 ] || fail "$sig: spool not empty after the drain"
  stop_sink
forget_pid "$SINK_PID"
  pass "$sig after >= $min of $total messages delivered: exit 0, $n delivered + $((total - n)) left queued, drain delivers the rest, no duplicates"
}

stop_case TERM 5000 100
stop_case INT 1000 1

# --- 3: inotify: a message injected while the daemon runs -------------------
setup_case inotify
start_sink "$PORT" --maildir "$MAILDIR"
"$RINGMAIL" run -c "$CONF" > "$WORK/inotify.out" 2> "$WORK/inotify.err" &
pid=$!
PIDS+=("$pid")
wait_for_line "$WORK/inotify.err" "worker(s)" 10 || fail "inotify: daemon did not start: $(cat "$WORK/inotify.err")"
# inject_one N: queues <inject-N@ringmail.test> with `ringmail inject`.
inject_one() {
  printf 'From: alerts@example.com\nTo: ops@example.org\nSubject: injected %s\nMessage-Id: <inject-%s@ringmail.test>\n\nhello\n' "$1" "$1" \
    | "$RINGMAIL" inject -c "$CONF" ops@example.org || fail "inject $1 failed"
}
delivered_inject() { grep -rqs "^Message-Id: <inject-$1@ringmail.test>" "$MAILDIR/new"; }
# A first message, delivered however the daemon finds it (start-up scan,
# inotify or rescan): once it is in the Maildir, start-up is over.
inject_one 0
wait_until 15 delivered_inject 0 || fail "inotify: the first injected message was not delivered within 15 s"
# The second one must come through inotify: the safety rescan is 5 s away.
t0=$(date +%s%N)
inject_one 1
found=0
wait_until 4 delivered_inject 1 && found=1
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$found" = 1 ] || fail "inotify: the injected message was not delivered within 4 s (the rescan is every 5 s)"
kill -TERM "$pid"
for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "inotify: daemon still running 10 s after SIGTERM"
rc=0
wait "$pid" || rc=$?
forget_pid "$pid"
[ "$rc" = 0 ] || fail "inotify: daemon exit $rc after SIGTERM"
[ "$(spool_files "$SPOOL")" = 0 ] || fail "inotify: spool not empty"
stop_sink
forget_pid "$SINK_PID"
pass "daemon delivered a message queued by 'ringmail inject' while running in ${ms} ms (< 4 s, inotify)"
