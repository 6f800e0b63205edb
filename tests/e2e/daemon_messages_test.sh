#!/bin/bash
# tests/e2e/daemon_messages_test.sh — what the engine tells the operator while
# it runs, and that it keeps running when the relay's name does not resolve:
#   (a) relay.host does not resolve at start (DNS down at boot): `run
#       --drain` does not exit 71; it defers the message with the reason
#       (exit 75), and the reason is in meta/ID and on stderr.
#   (b) a daemon prints one line per deferred message ("ID deferred until
#       ... 451 ...") and per failed message ("ID failed: ... 550 ...")
#       while it runs, not only a summary at exit.
#   (c) a deferred message whose file an operator removed from deferred/ is
#       reported when it falls due ("is gone"), not dropped in silence.
#
# Usage: bash tests/e2e/daemon_messages_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

# (a) DNS down at boot.
setup_case dns
RELAY_HOST=no-such-relay.invalid write_config "$CONF" "$SPOOL" "$PORT"
put_messages "$SPOOL" dns 1
rc=0
timeout 30 "$RINGMAIL" run --drain -c "$CONF" > "$WORK/dns.out" 2> "$WORK/dns.err" || rc=$?
verify "(a) an unresolvable relay does not stop the engine: drain exits 75, not 71 (got $rc)" [ "$rc" = 75 ]
verify "(a) stderr explains the unresolved relay" line_with "$WORK/dns.err" "cannot resolve relay host 'no-such-relay.invalid'" "retries"
verify "(a) the message is deferred with that reason" line_with "$WORK/dns.err" "dns000000 deferred until" "cannot resolve relay host"
verify "(a) meta/ID records the reason" line_with "$SPOOL/meta/dns000000" "last_reply" "cannot resolve relay host"
verify "(a) the message is in deferred/" [ -f "$SPOOL/deferred/dns000000" ]

# (b) a running daemon reports deferrals and failures as they happen.
setup_case live
config_set "$CONF" engine shutdown_timeout_ms 2000
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply soft@example.org=451 --rcpt-reply hard@example.org=550
start_daemon live
put_messages "$SPOOL" soft 1 soft@example.org
put_messages "$SPOOL" hard 1 hard@example.org
verify "(b) the daemon prints the deferral while running" \
  wait_until 15 line_with "$WORK/live.err" "soft000000 deferred until" "451"
verify "(b) the daemon prints the failure while running" \
  wait_until 15 line_with "$WORK/live.err" "hard000000 failed" "550"

# (c) a deferred message removed by an operator before it falls due.
wait_until 10 test -f "$SPOOL/deferred/soft000000" || true
rm -f "$SPOOL/deferred/soft000000"
verify "(c) the vanished deferred message is reported when due" \
  wait_until 15 line_with "$WORK/live.err" "deferred/soft000000 is gone"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 10 || kill_hard "$DAEMON_PID"
verify "(b) the daemon exits 0 on SIGTERM (got ${EXIT_RC:-killed})" [ "${EXIT_RC:-1}" = 0 ]
stop_sink

verify_summary daemon_messages_test
