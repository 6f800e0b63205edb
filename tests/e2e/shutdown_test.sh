#!/bin/bash
# tests/e2e/shutdown_test.sh — how the delivery daemon stops, end to end with
# the real binary:
#   (a) SIGTERM while 3 messages wait on a relay that accepts TCP and never
#       greets (broken_server.py no_greeting), with
#       [engine] shutdown_timeout_ms = 2000 and a 30 s reply timeout: exit 0
#       after the shutdown timeout (>= 1.9 s, < 6 s), not after the reply
#       timeout; the 3 messages are abandoned: still in active/ (not
#       deferred, not failed), stderr says "abandon"; the next
#       `run --drain` (relay now a working sink) recovers them from active/
#       and delivers each exactly once.
#   (b) SIGTERM then a second SIGTERM, and (c) SIGTERM then SIGINT, with
#       shutdown_timeout_ms = 20000: the second signal ends the daemon
#       within 1.5 s; the messages stay in active/.
#   (d) SIGHUP: the daemon logs a line with "SIGHUP" and keeps running;
#       messages queued after it are delivered, each once; SIGTERM still
#       stops it with exit 0.
#
# Usage: bash tests/e2e/shutdown_test.sh /path/to/ringmail   (one ctest test)
# Loopback only; touches nothing outside its temporary folder; every wait is
# bounded (about 30 s in all when the engine behaves).
source "$(dirname "$0")/lib.sh"

# stop_broken_server: SIGTERM to the current broken_server.py, reaped.
stop_broken_server() {
  kill -TERM "$BROKEN_PID" 2>/dev/null || true
  wait "$BROKEN_PID" 2>/dev/null || true
  forget_pid "$BROKEN_PID"
}

# stuck_in_flight N: N messages claimed (in active/, incoming/new empty) and
# at least one connection open at the silent relay.
stuck_in_flight() {
  [ "$(count_in "$SPOOL" active)" = "$1" ] && [ "$(count_in "$SPOOL" incoming/new)" = 0 ] \
    && grep -q "connected'" "$WORK/broken-$PORT.log" 2>/dev/null
}

# only_in_active N: the spool holds N message files, all in active/.
only_in_active() {
  [ "$(count_in "$SPOOL" active)" = "$1" ] && [ "$(spool_files "$SPOOL")" = "$1" ] \
    && [ "$(count_in "$SPOOL" hold)" = 0 ]
}

# silent_relay_case NAME SHUTDOWN_MS: a case with 3 messages held by a relay
# that never greets; returns with the daemon running (DAEMON_PID).
silent_relay_case() {
  setup_case "$1"
  config_set "$CONF" engine shutdown_timeout_ms "$2"
  config_set "$CONF" smtp reply_timeout_ms 30000  # the greeting waits this long
  start_broken_server "$PORT" no_greeting --idle-s 120
  put_messages "$SPOOL" "$1" 3
  start_daemon "$1"
  wait_until 10 stuck_in_flight 3 \
    || fail "$1: the 3 messages are not in flight at the silent relay: active $(count_in "$SPOOL" active), incoming $(count_in "$SPOOL" incoming/new); $(cat "$WORK/$1.err")"
}

# --- (a) SIGTERM, relay never greets, shutdown_timeout_ms = 2000 --------------
silent_relay_case term 2000
kill -TERM "$DAEMON_PID"
if wait_exit "$DAEMON_PID" 10; then
  echo "(a) daemon ended ${EXIT_MS} ms after SIGTERM, status $EXIT_RC"
  verify "(a) exit status 0 after SIGTERM (got $EXIT_RC)" [ "$EXIT_RC" = 0 ]
  verify "(a) exit within 6 s of SIGTERM (shutdown_timeout_ms 2000; took ${EXIT_MS} ms)" [ "$EXIT_MS" -lt 6000 ]
  verify "(a) in-flight deliveries got their 2 s before being abandoned (took ${EXIT_MS} ms, want >= 1900)" \
    [ "$EXIT_MS" -ge 1900 ]
else
  verify "(a) daemon still running 10 s after SIGTERM (shutdown_timeout_ms 2000; reply timeout 30 s)" false
  kill_hard "$DAEMON_PID"
fi
verify "(a) the 3 messages are still in active/ (active $(count_in "$SPOOL" active), deferred $(count_in "$SPOOL" deferred), failed $(count_in "$SPOOL" failed), hold $(count_in "$SPOOL" hold))" \
  only_in_active 3
verify "(a) stderr mentions abandoning them: $(grep -i abandon "$WORK/term.err" | head -2 | tr '\n' ' ')" \
  grep -qi abandon "$WORK/term.err"
stop_broken_server
# The next start recovers them from active/ (now with a working relay).
SINK_PORT=$(free_port)
config_set "$CONF" relay port "$SINK_PORT"
start_sink "$SINK_PORT" --maildir "$MAILDIR"
rc=0
timeout -k 5 30 "$RINGMAIL" run --drain -c "$CONF" > "$WORK/term.drain.out" 2> "$WORK/term.drain.err" || rc=$?
stop_sink
verify "(a) next run --drain exits 0 (got $rc): $(tail -3 "$WORK/term.drain.err" | tr '\n' ' ')" [ "$rc" = 0 ]
verify "(a) it recovers the 3 abandoned messages from active/" \
  grep -q "recovering 3 message(s) left in active/" "$WORK/term.drain.err"
out=$(msgid_check "$MAILDIR" term 3) || true
verify "(a) each abandoned message delivered exactly once after recovery ($out)" msgid_check "$MAILDIR" term 3
verify "(a) spool empty after the drain" [ "$(spool_files "$SPOOL")" = 0 ]

# --- (b), (c) a second signal ends the shutdown at once ----------------------
for second in TERM INT; do
  name=second-$second
  silent_relay_case "$name" 20000
  kill -TERM "$DAEMON_PID"
  # Two signals sent back to back can merge into one pending signal: wait
  # (bounded) until the daemon says it took the first.
  wait_for_line "$WORK/$name.err" 'received\|SIGTERM\|Terminated' 3 \
    || echo "note: ($name) no line about the first SIGTERM within 3 s; sending SIG$second anyway"
  kill -0 "$DAEMON_PID" 2>/dev/null || echo "note: ($name) daemon already gone before the second signal"
  kill "-$second" "$DAEMON_PID" 2>/dev/null || true
  if wait_exit "$DAEMON_PID" 10; then
    echo "($name) daemon ended ${EXIT_MS} ms after the second signal, status $EXIT_RC"
    verify "($name) SIGTERM then SIG$second: exit within 1.5 s of the second signal (shutdown_timeout_ms 20000; took ${EXIT_MS} ms)" \
      [ "$EXIT_MS" -lt 1500 ]
  else
    verify "($name) SIGTERM then SIG$second: daemon still running 10 s after the second signal" false
    kill_hard "$DAEMON_PID"
  fi
  verify "($name) the 3 messages are still in active/ (active $(count_in "$SPOOL" active), all states $(spool_files "$SPOOL"))" \
    only_in_active 3
  stop_broken_server
done

# --- (d) SIGHUP: logged, not fatal -------------------------------------------
setup_case hup
start_sink "$PORT" --maildir "$MAILDIR"
start_daemon hup
put_messages "$SPOOL" before 20
wait_until 20 msgid_check "$MAILDIR" before 20 > /dev/null \
  || fail "(d) the 20 messages queued before SIGHUP were not delivered: $(msgid_check "$MAILDIR" before 20)"
kill -HUP "$DAEMON_PID"
if wait_for_line "$WORK/hup.err" SIGHUP 5; then
  verify "(d) SIGHUP logged on stderr: $(grep SIGHUP "$WORK/hup.err" | head -1)" true
else
  verify "(d) no line with 'SIGHUP' on stderr within 5 s" false
fi
if kill -0 "$DAEMON_PID" 2>/dev/null; then
  put_messages "$SPOOL" after 30
  wait_until 20 msgid_check "$MAILDIR" after 30 > /dev/null || true
  verify "(d) daemon still running after SIGHUP and the messages queued after it" kill -0 "$DAEMON_PID"
  out=$(msgid_check "$MAILDIR" after 30) || true
  verify "(d) messages queued after SIGHUP delivered, each once ($out)" msgid_check "$MAILDIR" after 30
  kill -TERM "$DAEMON_PID"
  if wait_exit "$DAEMON_PID" 10; then
    verify "(d) SIGTERM after SIGHUP: exit 0 (got $EXIT_RC)" [ "$EXIT_RC" = 0 ]
  else
    verify "(d) daemon still running 10 s after SIGTERM" false
    kill_hard "$DAEMON_PID"
  fi
else
  EXIT_RC=
  wait_exit "$DAEMON_PID" 1 || true
  verify "(d) daemon died on SIGHUP (exit status ${EXIT_RC:-?}); stderr: $(tail -2 "$WORK/hup.err" | tr '\n' ' ')" false
fi
out=$(msgid_check "$MAILDIR" before 20) || true
verify "(d) the 20 messages queued before SIGHUP delivered once ($out)" msgid_check "$MAILDIR" before 20
verify "(d) spool empty at the end (left: $(spool_files "$SPOOL"))" [ "$(spool_files "$SPOOL")" = 0 ]
stop_sink

verify_summary shutdown_test
