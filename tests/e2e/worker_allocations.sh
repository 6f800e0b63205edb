# tests/e2e/worker_allocations.sh — proves that engine workers do not
# allocate per message in the steady state: the same run with 1,000 and
# with 5,000 messages must show the same number of heap allocations on the
# worker threads (counted by the LD_PRELOAD library malloc_counter), within
# a small allowance for connection churn; the delivery log is on (its lines
# are formatted on the workers). Usage: worker_allocations.sh RINGMAIL LIBMALLOC_COUNTER
COUNTER=$(readlink -f "${2:?usage: $0 RINGMAIL LIBMALLOC_COUNTER}")
source "$(dirname "$0")/lib.sh"

run_with() {  # run_with COUNT → prints the worker allocation count
  local n=$1 spool="$WORK/spool-$1" port
  port=$(free_port)
  write_config "$WORK/ringmail-$n.toml" "$spool" "$port"
  # With the delivery log on: its lines are formatted on the workers too.
  printf '[log]\ndelivery = "%s"\n' "$WORK/delivery-$n.jsonl" >> "$WORK/ringmail-$n.toml"
  make_spool "$spool" "$n" 2048
  start_sink "$port"
  LD_PRELOAD="$COUNTER" "$RINGMAIL" run --config "$WORK/ringmail-$n.toml" --drain > "$WORK/run-$n.out" 2> "$WORK/run-$n.err" \
    || fail "drain of $n messages failed: $(cat "$WORK/run-$n.err")"
  stop_sink
  [ "$(spool_files "$spool")" = 0 ] || fail "spool not empty after $n messages"
  [ "$(grep -c '"event":"attempt"' "$WORK/delivery-$n.jsonl")" = "$n" ] || fail "delivery log: not $n attempt lines"
  sed -n 's/^malloc_counter: worker allocations \([0-9]*\)$/\1/p' "$WORK/run-$n.err"
}

small=$(run_with 1000)
large=$(run_with 5000)
echo "worker allocations: 1,000 messages → $small; 5,000 messages → $large"
[ -n "$small" ] && [ -n "$large" ] || fail "malloc_counter printed nothing"
# 4,000 more messages may cost a few allocations (an error sentence, a
# reconnect's peer name), never one per message.
[ "$large" -le $((small + 100)) ] || fail "workers allocate per message: $small → $large"
pass "workers do not allocate per message ($small vs $large)"
