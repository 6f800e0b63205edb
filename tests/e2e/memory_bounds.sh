#!/bin/bash
# tests/e2e/memory_bounds.sh — the engine's memory stays proportional to what
# it carries (bench/memory_bench.sh's connection probe, small): with
# relay.max_connections = 200 an idle engine stays under 40 MiB RSS (it made
# 4 zero-filled message slots of ~62 KiB per configured connection at
# start-up before: ~64 MiB here, 344 MiB at 1,000), and each open TLS
# connection, with the slot of the message it carried, costs at most 64 KiB
# (issue 8's target; ~54 KiB measured).
# Usage: bash tests/e2e/memory_bounds.sh /path/to/ringmail
# Not named *_test.sh: tests/CMakeLists.txt registers it for the plain build
# only (sanitizers change every RSS figure).
source "$(dirname "$0")/lib.sh"

BUILD=$(dirname "$RINGMAIL")
export MAKE_TEST_PKI=${MAKE_TEST_PKI:-$BUILD/tests/make_test_pki}
[ -x "$MAKE_TEST_PKI" ] || { echo "SKIP: make_test_pki not built"; exit 77; }

out=$(PROBES=conn bash "$E2E_DIR/../../bench/memory_bench.sh" "$RINGMAIL" 200) || fail "memory_bench failed: $out"
echo "$out"
for level in none verify; do
  read -r _ sockets before _ per_conn < <(grep "^$level " <<< "$out") || fail "no $level line"
  ((sockets >= 50)) || fail "$level: only $sockets connections opened of 200"
  ((before <= 40 * 1024)) || fail "$level: idle engine with 200 connections configured has $before KiB RSS"
  ((per_conn <= 64)) || fail "$level: $per_conn KiB per open connection (target 64)"
done
pass "idle RSS and memory per open connection within bounds"
