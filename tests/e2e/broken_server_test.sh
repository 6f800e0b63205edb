#!/bin/bash
# tests/e2e/broken_server_test.sh — a lying or broken relay gets a clear
# error and loses nothing. For each scenario of tests/e2e/broken_server.py
# (a scripted SMTP server, one real-world failure mode each) it queues a
# fresh spool (4 messages to 4 recipients, 2 to one recipient, one of them
# ~150 KB so the body streams), runs `ringmail run --drain` with short
# timeouts, and checks:
#   - the exit code: 75 where mail must be deferred, 0 where it must be
#     delivered; never a signal, never killed by the drain time limit
#     (DRAIN_TIMEOUT_S, 15 s: a good drain here takes 2 s at most);
#   - nothing lost: every message file is in deferred/ or was delivered to
#     every recipient (nothing in failed/, active/, incoming/new);
#   - meta/ID of each deferred message holds attempts 1 and a last_reply
#     sentence that names the problem (e.g. "greeted us with 554",
#     "malformed reply", "timeout", "lost connection");
#   - a recipient is marked done exactly when the server acknowledged it;
#   - for the deferral scenarios, a second drain against the well-behaved
#     `ok` scenario (after the 1 s retry delay) exits 0, empties the spool
#     and meta/, and every (Message-Id, recipient) reached a server exactly
#     once over both runs (the servers save only what they answered 250).
# Scenario names on the command line after the binary run only those.
#
# Usage: bash tests/e2e/broken_server_test.sh /path/to/ringmail [SCENARIO...]
# Everything lives in lib.sh's temporary folder; every wait is bounded; it
# never edits lib.sh, make_spool.py or anything outside its folder.
source "$(dirname "$0")/lib.sh"
shift

PY=/usr/bin/python3
FAILED=0
REPLY_TIMEOUT_MS=1000
DATA_TIMEOUT_MS=1500
SLOW_S=4  # slow_reply's delay: longer than both timeouts above
# A drain here needs at most a few seconds (the longest legitimate one waits
# for one data timeout); a hung engine is killed after this many seconds
# (SIGTERM, then SIGKILL 5 s later) so a hang costs the run less than 90 s.
DRAIN_TIMEOUT_S=${DRAIN_TIMEOUT_S:-15}
T0=$SECONDS

case_fail() { echo "FAIL: [$CASE] $*"; FAILED=1; }


# write_conf FILE SPOOL PORT: lib.sh's write_config has 5 s reply timeouts;
# these cases want the engine to give up on a silent server quickly.
write_conf() {
  cat > "$1" <<CONF
spool = "$2"
[engine]
threads = 2
[smtp]
helo_name = "e2e.ringmail.test"
connect_timeout_ms = 1000
reply_timeout_ms = $REPLY_TIMEOUT_MS
data_timeout_ms = $DATA_TIMEOUT_MS
[relay]
host = "127.0.0.1"
port = $3
max_connections = 4
[retry]
schedule = ["1s"]
max_age = "1h"
CONF
}

# write_message SPOOL ID MESSAGE_ID BODY_LINES RCPT... queues one message as
# a producer does (incoming/tmp, then rename into incoming/new).
write_message() {
  local spool=$1 id=$2 msgid=$3 lines=$4 r
  shift 4
  {
    echo "X-Ringmail-From: <alerts@example.com>"
    for r in "$@"; do echo "X-Ringmail-To: <$r>"; done
    echo "From: alerts@example.com"
    echo "To: $(IFS=,; echo "$*")"
    echo "Subject: broken server test $id"
    echo "Message-Id: <$msgid>"
    echo
    echo ".a line that needs dot-stuffing"
    for ((r = 0; r < lines; r++)); do echo "line $r of $id yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"; done
  } > "$spool/incoming/tmp/$id"
  mv "$spool/incoming/tmp/$id" "$spool/incoming/new/$id"
}

# queue_messages SPOOL: the fixed set verify() knows (see MESSAGES there).
queue_messages() {
  make_spool "$1" 4 3000 r1@example.org r2@example.org r3@example.org r4@example.org
  write_message "$1" one00 single-0@ringmail.test 10 r1@example.org
  write_message "$1" one01 single-1@ringmail.test 2000 r2@example.org  # ~150 KB: streamed
}

# start_server SCENARIO: broken_server.py on a fresh port; sets PORT, SERVER_PID.
start_server() {
  PORT=$(free_port)
  "$PY" "$E2E_DIR/broken_server.py" --port "$PORT" --scenario "$1" --log "$DIR/server-$1.log" \
    --save-dir "$DIR/saved" --slow-s "$SLOW_S" > "$DIR/server-$1.out" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_for_line "$DIR/server-$1.out" "listening on" 10 || fail "[$CASE] server $1 did not start: $(cat "$DIR/server-$1.out")"
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  forget_pid "$SERVER_PID"
}

# drain NAME: one bounded `run --drain` with the transcript on; sets RC, ELAPSED.
drain() {
  local start=$SECONDS
  RC=0
  RINGMAIL_TRACE=1 timeout -k 5 "$DRAIN_TIMEOUT_S" "$RINGMAIL" run --drain -c "$DIR/ringmail.toml" \
    > "$DIR/$1.out" 2> "$DIR/$1.err" || RC=$?
  ELAPSED=$((SECONDS - start))
}

# check_rc WANT NAME: the drain ended by itself with the wanted status.
check_rc() {
  local want=$1 name=$2
  if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
    case_fail "$name: ringmail hung (killed by timeout after $DRAIN_TIMEOUT_S s, SIGKILL 5 s later if SIGTERM did not end it); trace tail: $(tail -5 "$DIR/$name.err")"
  elif [ "$RC" -ge 128 ]; then
    case_fail "$name: ringmail died of signal $((RC - 128)); stderr tail: $(tail -5 "$DIR/$name.err")"
  elif [ "$RC" != "$want" ]; then
    case_fail "$name: exit $RC, want $want; summary: $(cat "$DIR/$name.out"); trace tail: $(tail -8 "$DIR/$name.err")"
  fi
  if grep -Eq 'AddressSanitizer|runtime error:|Assertion .* failed|terminate called' "$DIR/$name.err"; then
    case_fail "$name: the engine reported a crash: $(grep -E 'AddressSanitizer|runtime error:|Assertion|terminate' "$DIR/$name.err" | head -3)"
  fi
}

# verify SPOOL SAVED_DIR EXPECT PATTERN: inspects the spool and every message
# the servers acknowledged. EXPECT is all_deferred, all_delivered, rcpt_452
# (multi-recipient messages deferred with r1, r2 done; single ones delivered)
# or final (after the retry: spool and meta/ empty). PATTERN is an extended
# regex the last_reply of every deferred message must match. Prints one
# line per problem and exits 1 if there is any.
verify() {
  "$PY" - "$@" <<'PY'
import os, re, sys
spool, saved, expect, pattern = sys.argv[1:5]
R = ["r%d@example.org" % i for i in range(1, 5)]
MESSAGES = {"e2e%08d" % i: ("alert-%d@ringmail.test" % i, R) for i in range(4)}
MESSAGES["one00"] = ("single-0@ringmail.test", R[:1])
MESSAGES["one01"] = ("single-1@ringmail.test", R[1:2])
problems = []

# Which (Message-Id, recipient) pairs did a server acknowledge, how often?
got = {}
for name in sorted(os.listdir(saved)) if os.path.isdir(saved) else []:
    if not name.endswith(".eml"):
        continue
    with open(os.path.join(saved, name), "rb") as f:
        data = f.read().decode("latin-1")
    env = data.split("\r\n", 1)[0]
    m = re.match(r"X-Envelope: from=(\S*) to=(\S*)$", env)
    mid = re.search(r"^Message-Id: <([^>]*)>", data, re.M | re.I)
    if not m or not mid:
        problems.append("saved message %s has no envelope line or Message-Id" % name)
        continue
    for rcpt in m.group(2).split(","):
        key = (mid.group(1), rcpt.strip("<>"))
        got[key] = got.get(key, 0) + 1
for key, n in sorted(got.items()):
    if n > 1:
        problems.append("%s to %s acknowledged %d times (duplicate)" % (key[0], key[1], n))

def where(msg_id):
    found = [d for d in ("incoming/new", "active", "deferred", "failed")
             if os.path.exists(os.path.join(spool, d, msg_id))]
    if len(found) > 1:
        problems.append("%s is in several states: %s" % (msg_id, found))
    return found[0] if found else None

summary = {"deferred": 0, "delivered": 0}
for msg_id, (mid, rcpts) in sorted(MESSAGES.items()):
    state = where(msg_id)
    meta_path = os.path.join(spool, "meta", msg_id)
    meta = open(meta_path).read() if os.path.exists(meta_path) else None
    if state is None:
        summary["delivered"] += 1
        for r in rcpts:
            if got.get((mid, r), 0) != 1:
                problems.append("%s left the spool but %s got it %d times (lost)" % (msg_id, r, got.get((mid, r), 0)))
        if meta is not None:
            problems.append("%s delivered but meta/%s is still there" % (msg_id, msg_id))
        continue
    if state != "deferred":
        problems.append("%s is in %s/, want deferred/ or delivered; meta: %r" % (msg_id, state, meta))
        continue
    summary["deferred"] += 1
    if meta is None:
        problems.append("%s deferred without meta/%s" % (msg_id, msg_id))
        continue
    records = dict(line.split(" ", 1) for line in meta.splitlines() if " " in line and not line.startswith(("done ", "failed ")))
    done = {line[5:] for line in meta.splitlines() if line.startswith("done ")}
    failed = [line for line in meta.splitlines() if line.startswith("failed ")]
    last = records.get("last_reply", "")
    print("  %s deferred: last_reply %s" % (msg_id, last[:160]))
    if records.get("attempts") != "1":
        problems.append("%s: meta attempts %r, want 1" % (msg_id, records.get("attempts")))
    if not re.search(pattern, last):
        problems.append("%s: last_reply %r does not match /%s/" % (msg_id, last, pattern))
    if failed:
        problems.append("%s: recipients marked failed by a temporary problem: %s" % (msg_id, failed))
    for r in rcpts:
        n = got.get((mid, r), 0)
        if (r in done) != (n == 1):
            problems.append("%s: %s marked done=%s but acknowledged %d times" % (msg_id, r, r in done, n))

multi = [k for k, v in MESSAGES.items() if len(v[1]) > 1]
if expect == "all_deferred" and summary["deferred"] != len(MESSAGES):
    problems.append("%d of %d messages deferred, want all" % (summary["deferred"], len(MESSAGES)))
if expect in ("all_delivered", "final") and summary["delivered"] != len(MESSAGES):
    problems.append("%d of %d messages delivered, want all" % (summary["delivered"], len(MESSAGES)))
if expect == "rcpt_452":
    for msg_id in MESSAGES:
        state = where(msg_id)
        if msg_id in multi and state != "deferred":
            problems.append("%s (4 recipients) is %s, want deferred (r3, r4 got 452)" % (msg_id, state or "delivered"))
        if msg_id in multi and state == "deferred":
            done = {l[5:] for l in open(os.path.join(spool, "meta", msg_id)).read().splitlines() if l.startswith("done ")}
            if done != set(R[:2]):
                problems.append("%s done marks %s, want r1 and r2" % (msg_id, sorted(done)))
        if msg_id not in multi and state is not None:
            problems.append("%s (1 recipient) is %s, want delivered" % (msg_id, state))
if expect == "final":
    left = [os.path.join(d, f) for d in ("incoming/new", "active", "deferred", "failed", "meta")
            for f in (os.listdir(os.path.join(spool, d)) if os.path.isdir(os.path.join(spool, d)) else [])]
    if left:
        problems.append("spool not empty after the retry: %s" % left)
print("  deferred %d, delivered %d, acknowledged pairs %d" % (summary["deferred"], summary["delivered"], len(got)))
for p in problems:
    print("PROBLEM: " + p)
sys.exit(1 if problems else 0)
PY
}

# run_case SCENARIO WANT_RC EXPECT PATTERN RETRY
#   WANT_RC 0 or 75; EXPECT for verify(); PATTERN the last_reply regex;
#   RETRY yes: then a second drain against `ok` must deliver the rest.
run_case() {
  local scenario=$1 want=$2 expect=$3 pattern=$4 retry=$5 out start=$SECONDS fails_before=$FAILED
  CASE=$scenario
  DIR=$WORK/$scenario
  FAILED=0
  mkdir -p "$DIR/spool/incoming/tmp" "$DIR/spool/incoming/new" "$DIR/saved"
  queue_messages "$DIR/spool"
  start_server "$scenario"
  write_conf "$DIR/ringmail.toml" "$DIR/spool" "$PORT"
  drain run1
  stop_server
  check_rc "$want" run1
  # A silent server must cost a timeout, not a hang: bounded by a few rounds.
  [ "$ELAPSED" -le 12 ] || case_fail "run1 took $ELAPSED s (timeouts are ${REPLY_TIMEOUT_MS}/${DATA_TIMEOUT_MS} ms)"
  out=$(verify "$DIR/spool" "$DIR/saved" "$expect" "$pattern") || case_fail "after the first drain (exit $RC):"$'\n'"$out"
  echo "[$CASE] run1 exit $RC in ${ELAPSED}s: $(tr '\n' ' ' < "$DIR/run1.out")"
  [ "$FAILED" = 0 ] && echo "$out" | head -3
  if [ "$retry" = yes ]; then
    sleep 1.1  # the retry schedule is ["1s"]
    start_server ok
    write_conf "$DIR/ringmail.toml" "$DIR/spool" "$PORT"
    drain run2
    stop_server
    check_rc 0 run2
    out=$(verify "$DIR/spool" "$DIR/saved" final '.') || case_fail "after the retry against 'ok' (exit $RC):"$'\n'"$out"
    echo "[$CASE] run2 (ok) exit $RC in ${ELAPSED}s: $(tr '\n' ' ' < "$DIR/run2.out")"
  fi
  if [ "$FAILED" = 0 ]; then
    pass "[$CASE] $((SECONDS - start)) s"
  else
    echo "[$CASE] server transcript (last lines of $DIR/server-$scenario.log):"
    tail -12 "$DIR/server-$scenario.log" | cut -c1-200
    echo "[$CASE] RINGMAIL_TRACE excerpt (last lines of run1):"
    tail -15 "$DIR/run1.err" | cut -c1-300
  fi
  [ "$fails_before" = 0 ] || FAILED=1
}

# Scenario table: name, exit, expectation, last_reply pattern, retry?
ALL=(
  "ok|0|all_delivered|.|no"
  "greeting_554|75|all_deferred|greeted us with:? 554 5\.3\.2|yes"
  "greeting_garbage|75|all_deferred|malformed reply .*does not start with three digits|yes"
  "ehlo_then_close|75|all_deferred|lost connection|Connection reset by peer|Broken pipe|yes"
  "data_250|75|all_deferred|answered DATA with: 250|yes"
  "mismatched_multiline|75|all_deferred|malformed reply .*changes its code|yes"
  "reply_split_bytes|0|all_delivered|.|no"
  "unsolicited_reply|75|all_deferred|unexpected reply|answered DATA with: 250|yes"
  "close_after_dot|75|all_deferred|lost connection|Connection reset by peer|yes"
  "slow_reply|75|all_deferred|timeout waiting for the end-of-data reply|yes"
  "huge_reply|75|all_deferred|malformed reply .*too long|yes"
  "rcpt_452|75|rcpt_452|^452 4\.5\.3 Too many recipients|yes"
  "mail_421|75|all_deferred|answered MAIL FROM with: 421|yes"
  "dataend_421|75|all_deferred|answered end of data with: 421|yes"
)

ANY=0
for row in "${ALL[@]}"; do
  name=${row%%|*}
  if [ $# -gt 0 ]; then
    wanted=0
    for w in "$@"; do [ "$w" = "$name" ] && wanted=1; done
    [ "$wanted" = 1 ] || continue
  fi
  rest=${row#*|}
  want=${rest%%|*}; rest=${rest#*|}
  expect=${rest%%|*}; rest=${rest#*|}
  retry=${rest##*|}
  pattern=${rest%|*}  # the pattern may itself hold '|' alternatives
  run_case "$name" "$want" "$expect" "$pattern" "$retry"
  ANY=1
done
[ "$ANY" = 1 ] || fail "no scenario matched: $*"

echo "total $((SECONDS - T0)) s"
[ "$FAILED" = 0 ] || fail "some scenarios failed (see FAIL lines above)"
pass "every broken server got a clear error and nothing was lost"
