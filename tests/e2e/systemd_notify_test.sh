#!/bin/bash
# tests/e2e/systemd_notify_test.sh — `ringmail run` under systemd's notify
# protocol (engine/systemd_notify.h), and its live status line, end to end
# with the real binary; tests/e2e/notify_listener.py plays systemd's socket:
#   1. daemon, NOTIFY_SOCKET=@abstract: READY=1 (once) arrives after the
#      spool is locked (ringmail.lock holds the daemon's PID) and the workers
#      run; 20 messages queued after READY are delivered; a STATUS= line
#      reports "delivered 20"; SIGTERM: STOPPING=1 after READY, exit 0; the
#      stdout summary line is unchanged; stderr has no "\r" (not a terminal).
#   2. run --drain, NOTIFY_SOCKET=/path: READY=1 then STOPPING=1, exit 0.
#   3. a second engine on a locked spool: exit 71 and no READY=1.
#   4. NOTIFY_SOCKET unusable ("relative"): one warning, the drain works.
#   5. on a terminal (script(1) gives a pty) a "\r" live line is drawn;
#      with NOTIFY_SOCKET set it is not.
#
# Usage: bash tests/e2e/systemd_notify_test.sh /path/to/ringmail   (one ctest test)
# Touches nothing outside its temporary folder; every wait is bounded.
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
NOTIFY_OUT=$WORK/notify.txt

# start_listener NAME: notify_listener.py bound to NAME, datagrams in $NOTIFY_OUT.
start_listener() {
  : > "$NOTIFY_OUT"
  "$PY" "$E2E_DIR/notify_listener.py" --socket "$1" --out "$NOTIFY_OUT" --seconds 60 > "$WORK/listener.log" 2>&1 &
  LISTENER_PID=$!
  PIDS+=("$LISTENER_PID")
  wait_for_line "$WORK/listener.log" "listening on" 10 || fail "listener did not start: $(cat "$WORK/listener.log")"
}
stop_listener() {
  kill -TERM "$LISTENER_PID" 2>/dev/null || true
  wait "$LISTENER_PID" 2>/dev/null || true
  forget_pid "$LISTENER_PID"
}
# line_number TEXT: the first line of $NOTIFY_OUT that is TEXT (0 if none).
line_number() {
  grep -n -x -m1 -F "$1" "$NOTIFY_OUT" | cut -d: -f1 || echo 0
}

# 1. The daemon: READY=1 after the lock and the workers; STATUS=; STOPPING=1.
setup_case daemon
start_sink "$PORT" --maildir "$MAILDIR"
start_listener "@ringmail-e2e-notify-$$"
NOTIFY_SOCKET="@ringmail-e2e-notify-$$" "$RINGMAIL" run -c "$CONF" > "$WORK/daemon.out" 2> "$WORK/daemon.err" &
DAEMON_PID=$!
PIDS+=("$DAEMON_PID")
wait_for_line "$NOTIFY_OUT" '^READY=1$' 10 || fail "no READY=1 within 10 s: $(cat "$NOTIFY_OUT") / $(cat "$WORK/daemon.err")"
lock_pid=$(head -c 32 "$SPOOL/ringmail.lock" | tr -dc '0-9')
verify "at READY=1 the spool is locked by the daemon (lock file PID $lock_pid)" [ "$lock_pid" = "$DAEMON_PID" ]
verify "at READY=1 the workers are started (\"worker(s)\" logged)" grep -q "worker(s)" "$WORK/daemon.err"
verify "READY=1 carries STATUS=started: ..." grep -q '^STATUS=started: 2 worker(s), relay 127.0.0.1:' "$NOTIFY_OUT"
put_messages "$SPOOL" notify 20
wait_until 15 bash -c "[ \$(find '$MAILDIR/new' -type f 2>/dev/null | wc -l) -ge 20 ]" \
  || fail "the sink did not get 20 messages: $(cat "$WORK/daemon.err")"
verify "a STATUS= line reports the 20 deliveries" \
  wait_for_line "$NOTIFY_OUT" '^STATUS=idle: .*delivered 20, failed 0$' 10
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 15 || { kill_hard "$DAEMON_PID"; fail "daemon did not stop within 15 s"; }
verify "SIGTERM: exit 0 (got $EXIT_RC)" [ "$EXIT_RC" = 0 ]
stop_listener
ready_at=$(line_number READY=1)
stopping_at=$(line_number STOPPING=1)
verify "READY=1 sent once" [ "$(grep -c -x READY=1 "$NOTIFY_OUT")" = 1 ]
verify "STOPPING=1 (line $stopping_at) after READY=1 (line $ready_at)" [ "$stopping_at" -gt "$ready_at" ]
verify "the stdout summary line is unchanged" grep -q '^ringmail: delivered 20, partial 0, deferred 0, failed 0 in ' "$WORK/daemon.out"
verify "no live status line (\\r) when stderr is not a terminal" bash -c "! grep -q $'\r' '$WORK/daemon.err'"
verify "each of the 20 delivered once" msgid_check "$MAILDIR" notify 20
stop_sink

# 2. A drain with a path socket.
setup_case drain
start_sink "$PORT" --maildir "$MAILDIR"
start_listener "$WORK/notify.sock"
put_messages "$SPOOL" drain 3
rc=0
NOTIFY_SOCKET="$WORK/notify.sock" "$RINGMAIL" run --drain -c "$CONF" > "$WORK/drain.out" 2> "$WORK/drain.err" || rc=$?
verify "drain with NOTIFY_SOCKET=/path: exit 0 (got $rc)" [ "$rc" = 0 ]
verify "drain: READY=1 then STOPPING=1" wait_until 5 bash -c \
  "r=\$(grep -n -x -m1 READY=1 '$NOTIFY_OUT' | cut -d: -f1); s=\$(grep -n -x -m1 STOPPING=1 '$NOTIFY_OUT' | cut -d: -f1); [ -n \"\$r\" ] && [ -n \"\$s\" ] && [ \"\$s\" -gt \"\$r\" ]"

# 3. A second engine on a locked spool never says READY=1.
: > "$NOTIFY_OUT"
"$RINGMAIL" run -c "$CONF" > "$WORK/first.out" 2> "$WORK/first.err" &
FIRST_PID=$!
PIDS+=("$FIRST_PID")
wait_for_line "$WORK/first.err" "worker(s)" 10 || fail "first engine did not start: $(cat "$WORK/first.err")"
rc=0
NOTIFY_SOCKET="$WORK/notify.sock" "$RINGMAIL" run -c "$CONF" > "$WORK/second.out" 2> "$WORK/second.err" || rc=$?
verify "a second engine on the spool exits 71 (got $rc)" [ "$rc" = 71 ]
sleep 0.2
verify "... and sends no READY=1" bash -c "! grep -q -x READY=1 '$NOTIFY_OUT'"
kill -TERM "$FIRST_PID"
wait_exit "$FIRST_PID" 15 || kill_hard "$FIRST_PID"
stop_listener
stop_sink

# 4. An unusable NOTIFY_SOCKET is a warning, not a failure.
setup_case badsocket
start_sink "$PORT" --maildir "$MAILDIR"
put_messages "$SPOOL" bad 2
rc=0
NOTIFY_SOCKET=relative "$RINGMAIL" run --drain -c "$CONF" > "$WORK/bad.out" 2> "$WORK/bad.err" || rc=$?
verify "NOTIFY_SOCKET=relative: the drain still exits 0 (got $rc)" [ "$rc" = 0 ]
verify "... with one warning naming it" line_with "$WORK/bad.err" "NOTIFY_SOCKET=relative" "not notifying systemd"
stop_sink

# 5. The live line on a terminal (script(1) runs the daemon on a pty).
if command -v script > /dev/null; then
  setup_case tty
  start_sink "$PORT"
  script -q -e -c "timeout -s TERM 4 '$RINGMAIL' run -c '$CONF'" /dev/null > "$WORK/tty.out" 2>&1 < /dev/null || true
  verify "on a terminal a \\r live line is drawn" grep -q $'\ridle: 0 msg/s, in flight 0, deferred 0' "$WORK/tty.out"
  script -q -e -c "NOTIFY_SOCKET=@ringmail-e2e-none-$$ timeout -s TERM 4 '$RINGMAIL' run -c '$CONF'" /dev/null \
    > "$WORK/tty-systemd.out" 2>&1 < /dev/null || true
  verify "on a terminal under systemd (NOTIFY_SOCKET set) no live line" \
    bash -c "grep -q 'worker(s)' '$WORK/tty-systemd.out' && ! grep -q 'msg/s, in flight' '$WORK/tty-systemd.out'"
  stop_sink
else
  echo "SKIP: case 5 (no script(1))"
fi

verify_summary "systemd notify protocol and live status"
