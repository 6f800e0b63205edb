#!/bin/bash
# tests/e2e/faults_test.sh — relay faults end to end, with the real
# `ringmail run --drain` against `ringmail sink` fault flags. Three cases,
# each with its own spool, sink and Maildir:
#   (a) a permanent 550 for one of three recipients: the other two get the
#       message once, it lands in failed/ with per-recipient marks, `ringmail
#       queue` lists it; 50 ordinary messages go through beside it.
#   (b) a 451 for one recipient, once: the first drain defers (exit 75) with
#       the other recipient marked done; the second delivers to the deferred
#       recipient only (exactly one envelope per recipient).
#   (c) the connection cut in the middle of DATA, once, among 100 messages:
#       the cut message (and its pipelined neighbour, if any) is deferred and
#       delivered by the next drain; each
#       Message-Id reaches the Maildir exactly once.
#
# Usage: bash tests/e2e/faults_test.sh /path/to/ringmail   (one ctest test)
# Touches nothing outside its temporary folder (lib.sh); every wait is
# bounded; it never edits the shared helpers lib.sh / make_spool.py.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

SOFT_FAILS=0

# soft_fail records a failed check but lets the other cases run; the script
# still exits non-zero at the end.
soft_fail() {
  echo "FAIL: $*" >&2
  SOFT_FAILS=$((SOFT_FAILS + 1))
}

# run_drain CONF: one `run --drain` pass (bounded), output in $WORK/drain.out
# and $WORK/drain.err; sets DRAIN_RC.
run_drain() {
  DRAIN_RC=0
  RINGMAIL_TRACE=0 timeout 60 "$RINGMAIL" run --drain -c "$1" > "$WORK/drain.out" 2> "$WORK/drain.err" || DRAIN_RC=$?
  [ "$DRAIN_RC" != 124 ] || fail "run --drain did not finish within 60 s: $(tail -5 "$WORK/drain.err")"
}

# write_message SPOOL ID MESSAGE_ID RCPT... queues one message the way a
# producer does (incoming/tmp, then rename into incoming/new).
write_message() {
  local spool=$1 id=$2 msgid=$3
  shift 3
  mkdir -p "$spool/incoming/tmp" "$spool/incoming/new"
  {
    echo "X-Ringmail-From: <alerts@example.com>"
    local r
    for r in "$@"; do echo "X-Ringmail-To: <$r>"; done
    echo "From: alerts@example.com"
    echo "To: $(IFS=,; echo "$*")"
    echo "Subject: fault test $id"
    echo "Message-Id: <$msgid>"
    echo
    echo "body of $id"
    echo ".dot line"
  } > "$spool/incoming/tmp/$id"
  mv "$spool/incoming/tmp/$id" "$spool/incoming/new/$id"
}

# maildir_check MAILDIR ARGS... — inspects the sink's Maildir (new/):
#   ids N       every <alert-0..N-1@ringmail.test> exactly once; prints counts
#   rcpt ADDR   prints how many envelopes list <ADDR>
#   env MSGID   prints the X-Sink-Envelope line(s) of the message(s) with that id
maildir_check() {
  "$PY" - "$@" <<'PY'
import os, re, sys
maildir, mode = sys.argv[1], sys.argv[2]
files = [os.path.join(maildir, "new", f) for f in os.listdir(os.path.join(maildir, "new"))]
envs, ids = [], []
for path in files:
    with open(path, "rb") as f:
        head = f.read(4096).decode("latin-1")
    envs.append(head.split("\r\n", 1)[0])
    m = re.search(r"^Message-Id: <([^>]*)>", head, re.M | re.I)
    ids.append(m.group(1) if m else "")
if mode == "ids":
    n = int(sys.argv[3])
    count = {}
    for i in ids:
        count[i] = count.get(i, 0) + 1
    want = ["alert-%d@ringmail.test" % k for k in range(n)]
    missing = [w for w in want if w not in count]
    dups = sum(c - 1 for c in count.values() if c > 1)
    print("files %d unique %d missing %d duplicates %d" % (len(files), len(count), len(missing), dups))
    sys.exit(0 if not missing and dups == 0 else 1)
elif mode == "rcpt":
    addr = "<%s>" % sys.argv[3]
    print(sum(1 for e in envs if addr in e.split(" to=", 1)[-1].split(",")))
elif mode == "env":
    for e, i in zip(envs, ids):
        if i == sys.argv[3]:
            print(e)
PY
}


# --- (a) 550 for one of three recipients, 50 ordinary messages beside it ----
setup_case a
make_spool "$SPOOL" 50 600
write_message "$SPOOL" multi0001 multi@ringmail.test good1@example.org bad@example.org good2@example.org
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply bad@example.org=550
run_drain "$CONF"
[ "$DRAIN_RC" = 0 ] || fail "(a) drain exit $DRAIN_RC, want 0 (a failed message is not deferred): $(cat "$WORK/drain.err")"
[ -f "$SPOOL/failed/multi0001" ] || fail "(a) multi0001 not in failed/: $(find "$SPOOL" -type f | head)"
[ "$(spool_files "$SPOOL")" = 1 ] || fail "(a) spool holds $(spool_files "$SPOOL") files, want 1 (failed/multi0001)"
meta=$SPOOL/meta/multi0001
[ -f "$meta" ] || fail "(a) meta/multi0001 missing"
grep -qx 'done good1@example.org' "$meta" || fail "(a) meta lacks 'done good1@example.org': $(cat "$meta")"
grep -qx 'done good2@example.org' "$meta" || fail "(a) meta lacks 'done good2@example.org': $(cat "$meta")"
grep -q '^failed bad@example.org 550 5\.1\.1 .*User unknown' "$meta" \
  || fail "(a) meta lacks 'failed bad@example.org 550 ...': $(cat "$meta")"
# The reason should say why: the refusal text, as meta's `reason` promises
# ("why a message in failed/ failed"); `ringmail queue` shows only this.
grep -q '^reason 1 recipient(s) refused: ' "$meta" || fail "(a) meta reason: $(cat "$meta")"
grep -q '^reason .*550 5\.1\.1' "$meta" \
  || soft_fail "(a) meta reason does not carry the 550 text: '$(grep '^reason' "$meta")'"
env_line=$(maildir_check "$MAILDIR" env multi@ringmail.test)
[ "$env_line" = $'X-Sink-Envelope: from=<alerts@example.com> to=<good1@example.org>,<good2@example.org>' ] \
  || fail "(a) envelope of multi in the Maildir: '$env_line'"
out=$(maildir_check "$MAILDIR" ids 50) || fail "(a) the 50 ordinary messages: $out"
# 50 + multi0001 + the bounce (DSN) for bad@ to the sender, delivered by
# the same drain (tests/e2e/bounce_test.sh checks the bounce itself).
[ "$(find "$MAILDIR/new" -type f | wc -l)" = 52 ] || fail "(a) Maildir holds $(find "$MAILDIR/new" -type f | wc -l) files, want 52"
grep -q 'from=<> to=<alerts@example.com>' "$MAILDIR"/new/* || fail "(a) no bounce to the sender in the Maildir"
grep -q '^ringmail: delivered 51, partial 1, deferred 0, failed 0 in .*; recipients: delivered 53, deferred 0, failed 1$' "$WORK/drain.out" \
  || fail "(a) summary line: $(cat "$WORK/drain.out")"
queue_out=$("$RINGMAIL" queue -c "$CONF") || fail "(a) ringmail queue failed"
grep -q 'multi0001' <<< "$queue_out" || fail "(a) ringmail queue does not list multi0001: $queue_out"
grep -q 'multi0001.*550' <<< "$queue_out" || soft_fail "(a) ringmail queue does not show the 550 for multi0001: $queue_out"
"$RINGMAIL" queue -c "$CONF" --json | "$PY" -c 'import json,sys; json.load(sys.stdin)' \
  || fail "(a) ringmail queue --json is not valid JSON"
stop_sink
forget_pid "$SINK_PID"
if [ "$SOFT_FAILS" = 0 ]; then
  pass "(a) 550 for one of three recipients: two delivered once, failed/ with marks, queue lists it; 50 others delivered"
else
  echo "FAIL: (a) the checks above failed; the other checks of (a) held" >&2
fi

# --- (b) 451 once for one recipient: deferred, then only that one retried ---
setup_case b
write_message "$SPOOL" grey0001 grey@ringmail.test other@example.org slow@example.org
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply slow@example.org=451:1
run_drain "$CONF"
[ "$DRAIN_RC" = 75 ] || fail "(b) first drain exit $DRAIN_RC, want 75 (deferred): $(cat "$WORK/drain.err")"
[ -f "$SPOOL/deferred/grey0001" ] || fail "(b) grey0001 not in deferred/: $(find "$SPOOL" -type f)"
meta=$SPOOL/meta/grey0001
grep -qx 'attempts 1' "$meta" || fail "(b) meta lacks 'attempts 1': $(cat "$meta")"
grep -q '^last_reply 451 ' "$meta" || fail "(b) meta lacks 'last_reply 451 ...': $(cat "$meta")"
grep -qx 'done other@example.org' "$meta" || fail "(b) meta lacks 'done other@example.org': $(cat "$meta")"
grep -Eq '^(done|failed) slow@example.org' "$meta" && fail "(b) meta marks slow@example.org (it must stay pending): $(cat "$meta")"
grep -q '^next_attempt [0-9]' "$meta" || fail "(b) meta lacks next_attempt: $(cat "$meta")"
[ "$(maildir_check "$MAILDIR" rcpt other@example.org)" = 1 ] || fail "(b) other@ did not get the first copy"
[ "$(maildir_check "$MAILDIR" rcpt slow@example.org)" = 0 ] || fail "(b) slow@ got a copy despite the 451"
queue_out=$("$RINGMAIL" queue -c "$CONF") || fail "(b) ringmail queue failed"
grep -q 'grey0001' <<< "$queue_out" && grep -q '451' <<< "$queue_out" \
  || fail "(b) ringmail queue does not show grey0001 with its 451: $queue_out"
sleep 1.2  # the retry schedule is ["1s"]
run_drain "$CONF"
[ "$DRAIN_RC" = 0 ] || fail "(b) second drain exit $DRAIN_RC, want 0: $(cat "$WORK/drain.err" "$WORK/drain.out"); meta: $(cat "$meta")"
[ "$(spool_files "$SPOOL")" = 0 ] || fail "(b) spool not empty after the retry: $(find "$SPOOL" -type f)"
[ -z "$(ls -A "$SPOOL/meta")" ] || fail "(b) meta/ not empty after delivery: $(ls -A "$SPOOL/meta")"
n_other=$(maildir_check "$MAILDIR" rcpt other@example.org)
n_slow=$(maildir_check "$MAILDIR" rcpt slow@example.org)
[ "$n_other" = 1 ] || fail "(b) other@example.org got $n_other copies, want exactly 1 (done recipients are never re-sent)"
[ "$n_slow" = 1 ] || fail "(b) slow@example.org got $n_slow copies, want exactly 1"
stop_sink
forget_pid "$SINK_PID"
pass "(b) 451 once: deferred with attempts 1 / last_reply 451 / done mark, retry sends to slow@ only (1 copy each)"

# --- (c) connection cut in mid-DATA, once, among 100 messages ----------------
setup_case c
make_spool "$SPOOL" 100 600
start_sink "$PORT" --maildir "$MAILDIR" --drop-during-data 1
run_drain "$CONF"
[ "$DRAIN_RC" = 75 ] || fail "(c) first drain exit $DRAIN_RC, want 75 (the cut message is deferred): $(cat "$WORK/drain.err")"
deferred=$(count_in "$SPOOL" deferred)
delivered1=$(find "$MAILDIR/new" -type f | wc -l)
echo "(c) first drain: $(cat "$WORK/drain.out"); deferred/ holds $deferred; Maildir $delivered1"
for f in "$SPOOL"/deferred/*; do
  [ -e "$f" ] || continue
  id=$(basename "$f")
  echo "(c)   deferred $id: $(grep '^last_reply' "$SPOOL/meta/$id")"
  # The cut shows as EOF or as a reset (the sink closes with unread input).
  grep -Eq '^last_reply (lost connection with .* while waiting for a reply|(receive from|send to) .* failed: )' \
    "$SPOOL/meta/$id" || fail "(c) $id deferred for another reason than the cut connection"
done
# One cut connection defers the message being transferred and the ones
# pipelined on the same connection (with BDAT up to four transactions are
# in flight per connection, SmtpConnection::kMaxMessagesInFlight): never
# answered, so deferred, not lost. So 1 to 4.
[ "$deferred" -ge 1 ] && [ "$deferred" -le 4 ] \
  || fail "(c) $deferred messages deferred after one cut connection, want 1 (the cut one) to 4 (with its pipelined neighbours)"
[ "$((deferred + delivered1))" = 100 ] || fail "(c) delivered $delivered1 + deferred $deferred != 100"
run_drain "$CONF"
[ "$DRAIN_RC" = 0 ] || fail "(c) second drain exit $DRAIN_RC, want 0: $(cat "$WORK/drain.err")"
[ "$(spool_files "$SPOOL")" = 0 ] || fail "(c) spool not empty after the second drain"
out=$(maildir_check "$MAILDIR" ids 100) || fail "(c) Maildir after two drains: $out"
echo "(c) $out"
stop_sink
forget_pid "$SINK_PID"
pass "(c) cut mid-DATA: $deferred deferred (cut one + pipelined neighbour), then delivered; all 100 Message-Ids exactly once"

[ "$SOFT_FAILS" = 0 ] || fail "$SOFT_FAILS check(s) failed above"
