#!/usr/bin/env bash
# bench/e2e_bench.sh — runs `ringmail bench` several times per configuration
# and prints the median of each figure (these machines are noisy: one run
# proves nothing). Configurations: spool on tmpfs and on disk, BDAT and DATA.
#
# usage: bench/e2e_bench.sh [RINGMAIL] [RUNS] [MESSAGES]
#   defaults: build-release/ringmail (else build/ringmail), 5 runs, 100000 messages
# Extra `ringmail bench` flags go in BENCH_FLAGS, e.g. BENCH_FLAGS="--threads 1".
set -euo pipefail
cd "$(dirname "$0")/.."
RINGMAIL=${1:-$( [ -x build-release/ringmail ] && echo build-release/ringmail || echo build/ringmail )}
RUNS=${2:-5}
MESSAGES=${3:-100000}
DISK_BASE=${DISK_BASE:-/var/tmp}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run_config() {  # run_config LABEL FLAGS...
  local label=$1; shift
  local rates=() engine=() sink=() line
  for ((i = 1; i <= RUNS; i++)); do
    # shellcheck disable=SC2086
    line=$("$RINGMAIL" bench -n "$MESSAGES" "$@" ${BENCH_FLAGS:-} 2>/dev/null | tail -1)
    rates+=("$(echo "$line" | sed -n 's/.*"msgs_per_s":\([0-9.]*\).*/\1/p')")
    engine+=("$(echo "$line" | sed -n 's/.*"engine_cpu_us_per_msg":\([0-9.]*\).*/\1/p')")
    sink+=("$(echo "$line" | sed -n 's/.*"sink_cpu_us_per_msg":\([0-9.]*\).*/\1/p')")
  done
  printf '%-22s %10s %14s %12s   (runs: %s msg/s)\n' "$label" \
    "$(printf '%s\n' "${rates[@]}" | median)" "$(printf '%s\n' "${engine[@]}" | median)" \
    "$(printf '%s\n' "${sink[@]}" | median)" "${rates[*]}"
}

echo "ringmail e2e benchmark: $MESSAGES × 2 KB, $RUNS runs each, medians; $(nproc) CPUs, $(uname -r)"
printf '%-22s %10s %14s %12s\n' "configuration" "msg/s" "engine us/msg" "sink us/msg"
run_config "tmpfs, BDAT"
run_config "tmpfs, DATA" --no-chunking
run_config "disk ($DISK_BASE), BDAT" --spool-base "$DISK_BASE"
run_config "disk ($DISK_BASE), DATA" --spool-base "$DISK_BASE" --no-chunking
