#!/usr/bin/env bash
# bench/ab_bench.sh — compares two ringmail binaries with `ringmail bench`,
# runs interleaved (A, B, A, B, ...) so the machine's drift hits both alike,
# and prints the medians per configuration: spool on tmpfs and on disk, BDAT
# and DATA (level none). Use it to price a change: build the commit before
# it and after (both must have `ringmail bench --json`).
#
# usage: bench/ab_bench.sh OLD_RINGMAIL NEW_RINGMAIL [RUNS] [MESSAGES]
#   defaults: 3 runs, 50000 messages; DISK_BASE (default /var/tmp) for the disk spool
set -euo pipefail
OLD=${1:?usage: $0 OLD_RINGMAIL NEW_RINGMAIL [RUNS] [MESSAGES]}
NEW=${2:?usage: $0 OLD_RINGMAIL NEW_RINGMAIL [RUNS] [MESSAGES]}
RUNS=${3:-3}
MESSAGES=${4:-50000}
DISK_BASE=${DISK_BASE:-/var/tmp}
JSON=$(mktemp /tmp/ringmail-ab-bench.XXXXXX.json)
trap 'rm -f "$JSON"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# one_run BIN FLAGS...: prints "msg/s engine_us sink_us" of one run at level none.
one_run() {
  local bin=$1; shift
  "$bin" bench --levels none --per-connection 1000 --runs 1 -n "$MESSAGES" --json "$JSON" "$@" > /dev/null
  /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]["levels"][0]["runs"][0]
print("%.0f %.2f %.2f" % (r["msgs_per_s"], r["engine_cpu_us_per_msg"], r["sink_cpu_us_per_msg"]))' "$JSON"
}

echo "ringmail A/B: $MESSAGES × 2 KB, $RUNS interleaved runs each, medians; $(nproc) CPUs, $(uname -r)"
printf '%-12s %-4s %10s %14s %12s\n' configuration bin msg/s "engine us/msg" "sink us/msg"
for cfg in "tmpfs BDAT|" "tmpfs DATA|--no-chunking" "disk BDAT|--spool-base $DISK_BASE" \
           "disk DATA|--spool-base $DISK_BASE --no-chunking"; do
  label=${cfg%%|*}
  read -r -a flags <<< "${cfg#*|}"
  declare -A rate=() engine=() sink=()
  for ((i = 0; i < RUNS; i++)); do
    for which in old new; do
      bin=$OLD; [ "$which" = new ] && bin=$NEW
      read -r r e s < <(one_run "$bin" "${flags[@]}")
      rate[$which]+="$r " engine[$which]+="$e " sink[$which]+="$s "
    done
  done
  for which in old new; do
    printf '%-12s %-4s %10s %14s %12s   (runs: %s)\n' "$label" "$which" \
      "$(tr ' ' '\n' <<< "${rate[$which]}" | grep . | median)" \
      "$(tr ' ' '\n' <<< "${engine[$which]}" | grep . | median)" \
      "$(tr ' ' '\n' <<< "${sink[$which]}" | grep . | median)" "${rate[$which]}"
  done
done
