#!/bin/bash
# tests/e2e/crash_recovery_test.sh — kill -9 of the delivery daemon in the
# middle of a 20,000-message run, twice, then `ringmail run --drain`:
# every Message-Id reaches the sink's Maildir at least once, the spool ends
# empty (active/ recovered, no stray meta files), and duplicates stay within
# the in-flight bound. Duplicates can only come from messages whose final
# 250 arrived but whose unlink had not happened at the kill; those are at
# most the messages held in worker slots:
#   bound = 4 × relay.max_connections + 4 × threads
# (each worker has 4 message slots per connection — BDAT pipelines up to 4
# transactions — plus 4 loading slots)
# (two message slots per connection + four loading slots per worker). The
# test measures the at-risk set directly after each kill (Message-Ids in the
# Maildir whose spool file is still in active/) and checks that
#   at-risk ≤ bound after each kill, every duplicate is in an at-risk set,
#   and duplicates ≤ the sum of the at-risk sets.
#
# Usage: bash tests/e2e/crash_recovery_test.sh /path/to/ringmail  (one ctest test)
# Touches nothing outside its temporary folder; bounded waits; about 30-90 s.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

TOTAL=20000
THREADS=${THREADS:-2}
MAX_CONNECTIONS=${MAX_CONNECTIONS:-8}
BOUND=$((4 * MAX_CONNECTIONS + 4 * THREADS))
export THREADS MAX_CONNECTIONS

SPOOL=$WORK/spool
MAILDIR=$WORK/maildir
CONF=$WORK/ringmail.toml
PORT=$(free_port)
write_config "$CONF" "$SPOOL" "$PORT"

# maildir_count prints the number of messages the sink has accepted so far.
maildir_count() {
  local n
  n=$(ls -f "$MAILDIR/new" 2>/dev/null | wc -l)
  echo $((n > 2 ? n - 2 : 0))
}

# crash_check MODE ARGS... — Message-Id bookkeeping (Python, stdlib only):
#   risk OUTFILE      after a kill: the ids both in the Maildir and still in
#                     active/ (sent, accepted, not yet unlinked) → OUTFILE; prints the count
#   final N RISK...   every alert-0..N-1 present at least once; every
#                     duplicate listed in a RISK file; prints the counts
crash_check() {
  "$PY" - "$MAILDIR" "$SPOOL" "$@" <<'PY'
import os, re, sys
maildir, spool, mode = sys.argv[1], sys.argv[2], sys.argv[3]
pat = re.compile(rb"^Message-Id: <alert-(\d+)@ringmail\.test>", re.M | re.I)
count = {}
new = os.path.join(maildir, "new")
for name in os.listdir(new):
    with open(os.path.join(new, name), "rb") as f:
        m = pat.search(f.read(4096))
    if m:
        n = int(m.group(1))
        count[n] = count.get(n, 0) + 1
if mode == "risk":
    active = {int(name[3:]) for name in os.listdir(os.path.join(spool, "active")) if name.startswith("e2e")}
    risk = sorted(n for n in count if n in active)
    with open(sys.argv[4], "w") as f:
        f.write("".join("%d\n" % n for n in risk))
    print(len(risk))
elif mode == "final":
    total = int(sys.argv[4])
    risk = set()
    for path in sys.argv[5:]:
        risk |= {int(line) for line in open(path) if line.strip()}
    missing = [n for n in range(total) if n not in count]
    dup_ids = [n for n, c in count.items() if c > 1]
    dups = sum(count[n] - 1 for n in dup_ids)
    outside = [n for n in dup_ids if n not in risk]
    print("unique %d missing %d duplicates %d (ids %d) at-risk %d dup-outside-at-risk %d"
          % (len(count), len(missing), dups, len(dup_ids), len(risk), len(outside)))
    if missing:
        print("missing e.g. %s" % missing[:10])
    if outside:
        print("duplicated but not at risk e.g. %s" % outside[:10])
    sys.exit(0 if not missing and not outside and dups <= len(risk) else 1)
PY
}

# run_and_kill AT_LEAST ROUND: starts the daemon, waits (bounded) until the
# Maildir holds AT_LEAST messages, kills the daemon with SIGKILL, records the
# at-risk set in $WORK/risk.ROUND and checks it against the bound.
run_and_kill() {
  local at_least=$1 round=$2 pid n i risk
  "$RINGMAIL" run -c "$CONF" > "$WORK/run$round.out" 2> "$WORK/run$round.err" &
  pid=$!
  PIDS+=("$pid")
  for ((i = 0; i < 1200; i++)); do  # 60 s
    n=$(maildir_count)
    [ "$n" -ge "$at_least" ] && break
    kill -0 "$pid" 2>/dev/null || fail "round $round: daemon exited early: $(cat "$WORK/run$round.err")"
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || fail "round $round: daemon was not running at the kill"
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
  [ "$n" -ge "$at_least" ] || fail "round $round: only $n messages reached the sink within 60 s"
  sleep 0.3  # the sink finishes what was already in its socket buffers
  n=$(maildir_count)
  [ "$n" -lt "$TOTAL" ] || fail "round $round: the daemon delivered all $TOTAL before the kill; nothing was tested"
  risk=$(crash_check risk "$WORK/risk.$round")
  echo "round $round: killed at $n accepted; active/ $(count_in "$SPOOL" active), incoming/new" \
    "$(count_in "$SPOOL" incoming/new), at-risk (accepted, not yet unlinked) $risk, bound $BOUND"
  [ "$risk" -le "$BOUND" ] || fail "round $round: $risk messages accepted but still in active/ > bound $BOUND"
  [ "$(spool_files "$SPOOL")" -gt 0 ] || fail "round $round: spool empty after the kill"
}

start=$SECONDS
make_spool "$SPOOL" "$TOTAL" 600
start_sink "$PORT" --maildir "$MAILDIR"

run_and_kill 5000 1
grep -q 'recovering' "$WORK/run1.err" && fail "round 1 claims recovery on a fresh spool"
run_and_kill 12000 2
grep -q "recovering [0-9]* message(s) left in active/" "$WORK/run2.err" \
  || fail "round 2 did not recover active/: $(cat "$WORK/run2.err")"

rc=0
timeout 120 "$RINGMAIL" run --drain -c "$CONF" > "$WORK/drain.out" 2> "$WORK/drain.err" || rc=$?
[ "$rc" = 0 ] || fail "drain after the kills exit $rc, want 0: $(tail -5 "$WORK/drain.err")"
echo "drain: $(cat "$WORK/drain.out")"
[ "$(spool_files "$SPOOL")" = 0 ] || fail "spool not empty after the drain: $(find "$SPOOL" -type f | head)"
[ -z "$(ls -A "$SPOOL/meta")" ] || fail "meta/ not empty after the drain: $(ls -A "$SPOOL/meta" | head)"
[ -z "$(ls -A "$SPOOL/incoming/tmp")" ] || fail "incoming/tmp not empty"

stop_sink
forget_pid "$SINK_PID"
out=$(crash_check final "$TOTAL" "$WORK/risk.1" "$WORK/risk.2") || fail "after two kills and a drain: $out"
echo "$out"
dups=$(sed -n 's/.*duplicates \([0-9]*\) .*/\1/p' <<< "$out")
[ "$dups" -le $((2 * BOUND)) ] || fail "$dups duplicates > 2 kills × bound $BOUND"
echo "duplicates: $dups (bound per kill $BOUND = 4 × max_connections $MAX_CONNECTIONS + 4 × threads $THREADS)"
pass "kill -9 twice during 20000 messages, then drain: all delivered, spool empty, $dups duplicate(s) ≤ at-risk ≤ bound, in $((SECONDS - start)) s"
