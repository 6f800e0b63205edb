#!/bin/bash
# tests/e2e/tls_allocations_test.sh — what TLS costs the workers in heap
# allocations: the same run with 1,000 and 5,000 messages at relay.tls =
# "verify" against `ringmail sink --tls-cert` (STARTTLS), worker threads
# counted by the LD_PRELOAD library malloc_counter, as worker_allocations.sh
# does in clear. ringmail's own code allocates nothing per message; BoringSSL
# allocates a record buffer for each record in flight and frees it after
# (SSL_MODE_RELEASE_BUFFERS does nothing in BoringSSL: buffers are always
# released), about 1.5 per 2 KiB message here. This test bounds that at 3
# per message so that any allocation of ours per message shows.
# Usage: bash tests/e2e/tls_allocations_test.sh /path/to/ringmail
# SKIP (77) when libmalloc_counter.so or make_test_pki is not built (the
# sanitizer builds have no counter).
source "$(dirname "$0")/lib.sh"

BUILD=$(dirname "$RINGMAIL")
COUNTER=$BUILD/tests/libmalloc_counter.so
[ -f "$COUNTER" ] || { echo "SKIP: $COUNTER not built"; exit 77; }
PKI=$WORK/pki
make_pki "$PKI"

run_with() {  # run_with COUNT → prints the worker allocation count
  local n=$1 spool="$WORK/spool-$1" port
  port=$(free_port)
  RELAY_HOST=localhost write_config "$WORK/ringmail-$n.toml" "$spool" "$port"
  config_set "$WORK/ringmail-$n.toml" relay tls '"verify"'
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$WORK/ringmail-$n.toml"
  make_spool "$spool" "$n" 2048
  start_sink "$port" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key"
  LD_PRELOAD="$COUNTER" "$RINGMAIL" run --config "$WORK/ringmail-$n.toml" --drain > "$WORK/run-$n.out" \
    2> "$WORK/run-$n.err" || fail "drain of $n messages failed: $(cat "$WORK/run-$n.err")"
  stop_sink
  [ "$(spool_files "$spool")" = 0 ] || fail "spool not empty after $n messages"
  [ "$(stats_field messages_tls)" = "$n" ] || fail "only $(stats_field messages_tls) of $n messages came over TLS"
  sed -n 's/^malloc_counter: worker allocations \([0-9]*\)$/\1/p' "$WORK/run-$n.err"
}

small=$(run_with 1000)
large=$(run_with 5000)
echo "TLS worker allocations: 1,000 messages → $small; 5,000 messages → $large"
[ -n "$small" ] && [ -n "$large" ] || fail "malloc_counter printed nothing"
per_1000=$(( (large - small) / 4 ))
[ "$per_1000" -le 3000 ] || fail "workers allocate more than 3 per message over TLS: $per_1000 per 1,000 messages"
pass "TLS costs $per_1000 worker allocations per 1,000 messages (BoringSSL's record buffers; at most 3,000)"
