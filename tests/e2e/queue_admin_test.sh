#!/bin/bash
# tests/e2e/queue_admin_test.sh — the operator's verbs of `ringmail queue`
# against a running daemon and the sink (issue 9, "Queue administration"),
# with a one-hour retry schedule so nothing is retried on its own:
#   1. flush: a message deferred by the sink (451) goes out within seconds
#      of `queue --flush` once the sink accepts it (the engine logs
#      "SIGUSR2: flushing 1 deferred message(s)").
#   2. show: a failed message (the sink accepted one recipient and answered
#      550 to the other) with both recipient states, the reply, the headers
#      (Bcc included), control characters escaped; --json parses.
#   3. requeue of that failed message: sent again to the refused recipient
#      only; the accepted one never gets a second copy.
#   4. requeue of a held message with its record: sent to the recipients
#      not marked done only; a held message without a record is refused (65)
#      and stays in hold/.
#   5. delete ALL-FAILED: one line per message, file and meta gone.
#   6. A message in active/ is refused while the engine runs (75) and may be
#      deleted once it stopped; with no engine --flush exits 69 and points at
#      `run --drain`; --show of an unknown id exits 66.
#
# Usage: bash tests/e2e/queue_admin_test.sh /path/to/ringmail   (one ctest test)
# Loopback only; every wait is bounded; writes only in its temporary folder.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

# delivered PREFIX N [RCPT]: msgid_check without its line (for wait_until).
delivered() { msgid_check "$MAILDIR" "$@" > /dev/null; }
# no_line_with FILE TEXT...: no line of FILE has every TEXT.
no_line_with() { ! line_with "$@"; }

# in_state STATE N: exactly N message files in SPOOL/STATE.
in_state() { [ "$(count_in "$SPOOL" "$1")" = "$2" ]; }

# queue ARGS...: `ringmail queue -c $CONF ARGS`, stdout in $WORK/q.out,
# stderr in $WORK/q.err, status in QRC.
queue() {
  QRC=0
  "$RINGMAIL" queue -c "$CONF" "$@" > "$WORK/q.out" 2> "$WORK/q.err" || QRC=$?
}

# spool_message STATE ID MSGID RCPT...: writes a message file straight into
# SPOOL/STATE (the engine's own states, as a crash or an old engine leaves them).
spool_message() {
  "$PY" - "$SPOOL" "$@" <<'PY'
import os, sys
spool, state, name, msgid, rcpts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
with open(os.path.join(spool, state, name), "w") as f:
    f.write("X-Ringmail-From: <alerts@example.com>\n")
    f.write("".join("X-Ringmail-To: <%s>\n" % r for r in rcpts))
    f.write("From: alerts@example.com\nTo: %s\nSubject: %s\nMessage-Id: <%s@ringmail.test>\n\nbody\n"
            % (", ".join(rcpts), name, msgid))
PY
}

setup_case admin
config_set "$CONF" retry schedule '["1h"]'
mkdir -p "$SPOOL"
# Each fault answers once (ADDR=CODE:1): the sink accepts the recipient from
# then on, with no restart (a restarted sink would leave the engine's pooled
# connections dead, and the first retry would be lost on one of them).
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply fl@example.org=451:1 --rcpt-reply b@example.org=550:1
put_messages "$SPOOL" fl 1 fl@example.org
put_messages "$SPOOL" rq 1 a@example.org b@example.org
start_daemon admin
wait_until 20 in_state deferred 1 || fail "the 451 message was not deferred: $(cat "$WORK/admin.err")"
wait_until 20 in_state failed 1 || fail "the 550 message did not fail: $(cat "$WORK/admin.err")"
verify "the accepted recipient got the failed message once" msgid_check "$MAILDIR" rq 1 a@example.org

# --- 2. show -----------------------------------------------------------------
queue --show rq000000
verify "--show exits 0" test "$QRC" = 0
verify "--show: state" line_with "$WORK/q.out" "state:" "failed"
verify "--show: the accepted recipient is done" line_with "$WORK/q.out" "done" "<a@example.org>"
verify "--show: the refused one is failed with the reply" line_with "$WORK/q.out" "failed" "<b@example.org>" "550"
verify "--show: header section" line_with "$WORK/q.out" "Message-Id: <rq-0@ringmail.test>"
verify "--show: no body" no_line_with "$WORK/q.out" "body of rq000000"
queue --show rq000000 --json
verify "--show --json parses and has the marks" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
states = {r["address"]: r["state"] for r in d["recipients"]}
sys.exit(0 if d["state"] == "failed" and states == {"a@example.org": "done", "b@example.org": "failed"} else 1)
' "$WORK/q.out"
# Control characters and Bcc in a message that is only looked at.
"$PY" - "$SPOOL" <<'PY'
import os, sys
with open(os.path.join(sys.argv[1], "deferred", "esc000000"), "w") as f:
    f.write("X-Ringmail-To: <z@example.org>\nFrom: alerts@example.com\nBcc: hidden@example.org\n"
            "Subject: red \x1b[31malert\n\nbody\n")
PY
queue --show esc000000
verify "--show escapes control characters" line_with "$WORK/q.out" 'Subject: red \x1b[31malert'
verify "--show shows Bcc to the operator" line_with "$WORK/q.out" "Bcc: hidden@example.org"
queue --delete esc000000
verify "--delete of a deferred message" line_with "$WORK/q.out" "deleted esc000000 (deferred, 1 recipient pending)"

# --- 1. flush ----------------------------------------------------------------
verify "not retried on its own (the schedule says 1 h)" in_state deferred 1
queue --flush
verify "--flush exits 0 with an engine" test "$QRC" = 0
verify "--flush says it asked the engine" line_with "$WORK/q.out" "asked the engine (PID $DAEMON_PID)"
verify "flushed message delivered within 15 s (retry was 1 h away)" wait_until 15 delivered fl 1
verify "the engine logged the flush" line_with "$WORK/admin.err" "SIGUSR2: flushing 1 deferred message(s)"

# --- 3. requeue a failed message ---------------------------------------------
queue --requeue rq000000
verify "--requeue of a failed message exits 0" test "$QRC" = 0
verify "--requeue says what it did" \
  line_with "$WORK/q.out" "requeued rq000000 (failed -> deferred, due now, 1 recipient pending)"
verify "the refused recipient gets it after the requeue" wait_until 15 delivered rq 1 b@example.org
verify "the requeued message left the spool" wait_until 10 in_state deferred 0
verify "the accepted recipient did not get it twice" msgid_check "$MAILDIR" rq 1 a@example.org

# --- 4. requeue a held message ------------------------------------------------
spool_message hold hold000000 hold-0 a@example.org c@example.org
printf 'attempts 1\nfirst_attempt %s\ndone a@example.org\n' "$(date +%s)" > "$SPOOL/meta/hold000000"
spool_message hold bare000000 bare-0 a@example.org
queue --requeue hold000000
verify "--requeue releases a held message" line_with "$WORK/q.out" "released hold000000 (hold -> deferred"
verify "the held message reaches the recipient not yet done" \
  wait_until 15 delivered hold 1 c@example.org
verify "... and only that one (one copy in all)" msgid_check "$MAILDIR" hold 1
queue --requeue bare000000
verify "a held message without a record is refused (65)" test "$QRC" = 65
verify "... with the reason" line_with "$WORK/q.err" "every recipient again"
verify "... and stays in hold/" test -f "$SPOOL/hold/bare000000"

# --- 5. delete ALL-FAILED -------------------------------------------------------
spool_message failed del000000 del-0 d@example.org
printf 'attempts 3\nreason expired\n' > "$SPOOL/meta/del000000"
spool_message failed del000001 del-1 d@example.org
queue --delete ALL-FAILED
verify "--delete ALL-FAILED exits 0" test "$QRC" = 0
verify "--delete lists each message" line_with "$WORK/q.out" "deleted del000000 (failed, 1 recipient pending)"
verify "--delete lists each message (2)" line_with "$WORK/q.out" "deleted del000001 (failed, 1 recipient pending)"
verify "failed/ is empty" in_state failed 0
verify "their meta records are gone" test ! -e "$SPOOL/meta/del000000"

# In flight: a file in active/ while the engine runs is refused (75).
spool_message active act000000 act-0 e@example.org
queue --delete act000000
verify "--delete of an active message with an engine running exits 75" test "$QRC" = 75
verify "... says in flight" line_with "$WORK/q.err" "in flight"
queue --requeue act000000
verify "--requeue of an active message exits 75" test "$QRC" = 75
verify "... and leaves it there" test -f "$SPOOL/active/act000000"
queue --flush --json
verify "--flush --json names the engine" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["flushed"] is True and d["engine_pid"] == int(sys.argv[2]) else 1)
' "$WORK/q.out" "$DAEMON_PID"

# --- 6. no engine ---------------------------------------------------------------
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 20 || { kill_hard "$DAEMON_PID"; fail "daemon did not stop"; }
queue --flush
verify "--flush with no engine exits 69" test "$QRC" = 69
verify "... and points at run --drain" line_with "$WORK/q.err" "ringmail run --drain"
queue --show nosuch000
verify "--show of an unknown id exits 66" test "$QRC" = 66
queue --delete bare000000
verify "--delete of a held message with no engine" line_with "$WORK/q.out" "deleted bare000000 (hold, 1 recipient pending)"
queue --delete act000000
verify "--delete of an active message with no engine" line_with "$WORK/q.out" "deleted act000000 (active, 1 recipient pending)"

stop_sink
verify_summary "queue administration: flush, show, requeue (failed, held), delete"
