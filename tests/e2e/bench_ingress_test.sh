#!/usr/bin/env bash
# tests/e2e/bench_ingress_test.sh — `ringmail bench-ingress` itself, small:
# (a) the load client against `ringmail sink` alone (--target): every alert
#     accepted, with DATA and with BDAT, and the sink counted each one;
# (b) the full bench (engine with a [[listen]] relaying to the sink, spool in
#     the test's folder): exit 0, one line per run and the median block with
#     accepted and delivered msg/s, sync calls per message (from the engine's
#     /metrics) and engine CPU µs per message, the spool's file system named,
#     and the work folder removed;
# (c) a server that refuses every message (the sink with a 550 recipient):
#     exit 70 with the reason and no rate.
# usage: bench_ingress_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

number_re='[0-9]+(\.[0-9]+)?'

# (a) The load client alone, against the sink.
PORT=$(free_port)
start_sink "$PORT"
"$RINGMAIL" bench-ingress --target "127.0.0.1:$PORT" --clients 5 --messages 40 --runs 2 > "$WORK/a.out" 2> "$WORK/a.err" ||
  fail "bench-ingress --target exited $? ($(tail -3 "$WORK/a.err"))"
"$RINGMAIL" bench-ingress --target "127.0.0.1:$PORT" --clients 3 --messages 20 --runs 1 --bdat > "$WORK/a2.out" 2> "$WORK/a2.err" ||
  fail "bench-ingress --target --bdat exited $? ($(tail -3 "$WORK/a2.err"))"
stop_sink
cat "$WORK/a.out"
verify "(a) a line per run" grep -qE "^run 2: accepted $number_re msg/s" "$WORK/a.out"
verify "(a) the median" grep -qE "^  accepted msg/s +$number_re$" "$WORK/a.out"
verify "(a) BDAT named" grep -q "(BDAT)" "$WORK/a2.out"
verify "(a) the sink got 5 x 40 x 2 + 3 x 20 messages" test "$(sink_count)" = 460

# (b) The full bench, spool in the test's folder.
set +e
"$RINGMAIL" bench-ingress --clients 4 --messages 25 --runs 2 --threads 2 --spool-base "$WORK" \
  > "$WORK/b.out" 2> "$WORK/b.err"
status=$?
set -e
cat "$WORK/b.out"
verify "(b) exit 0 (stderr: $(tail -3 "$WORK/b.err" | tr '\n' ' '))" test "$status" = 0
verify "(b) the spool's file system is named" grep -qE "spool under $WORK: [a-z0-9]+ \((in memory|a disk)\)$" "$WORK/b.out"
verify "(b) a line per run" grep -qE "^run 2: accepted $number_re msg/s, delivered $number_re msg/s, $number_re syncs/msg, engine CPU $number_re µs/msg" "$WORK/b.out"
for what in "accepted msg/s" "delivered msg/s" "sync calls per msg" "engine CPU µs/msg"; do
  verify "(b) median $what" grep -qE "^  $what +$number_re$" "$WORK/b.out"
done
verify "(b) the work folder is removed" test -z "$(find "$WORK" -maxdepth 1 -name 'ringmail-bench-ingress.*')"

# (c) Every message refused: no rate, exit 70, the reason.
PORT=$(free_port)
start_sink "$PORT" --rcpt-reply "ops@example.org=550"
set +e
"$RINGMAIL" bench-ingress --target "127.0.0.1:$PORT" --clients 2 --messages 5 --runs 1 > "$WORK/c.out" 2> "$WORK/c.err"
status=$?
set -e
stop_sink
verify "(c) exit 70" test "$status" = 70
verify "(c) the reason" line_with "$WORK/c.err" "FAILED: run 1" "RCPT: 550"
verify "(c) no rate" bash -c "! grep -q 'accepted msg/s' '$WORK/c.out'"

verify_summary "bench-ingress"
