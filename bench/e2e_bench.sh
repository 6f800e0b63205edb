#!/usr/bin/env bash
# bench/e2e_bench.sh — `ringmail bench` over the non-TLS configurations that
# matter for the spool: spool on tmpfs and on disk, BDAT and DATA, each
# --runs times at level none (the TLS levels are `ringmail bench`'s own
# default; this script is about the spool and the protocol).
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
JSON=$(mktemp /tmp/ringmail-e2e-bench.XXXXXX.json)
trap 'rm -f "$JSON"' EXIT

run_config() {  # run_config LABEL FLAGS...
  local label=$1; shift
  # shellcheck disable=SC2086
  "$RINGMAIL" bench --levels none --per-connection 1000 --runs "$RUNS" -n "$MESSAGES" --json "$JSON" "$@" \
    ${BENCH_FLAGS:-} > /dev/null
  /usr/bin/python3 - "$JSON" "$label" <<'PY'
import json, sys
level = json.load(open(sys.argv[1]))["results"][0]["levels"][0]
runs = " ".join("%.0f" % r["msgs_per_s"] for r in level["runs"])
print("%-22s %10.0f %14.1f %12.1f   (runs: %s msg/s)" % (sys.argv[2], level["msgs_per_s"]["median"],
      level["engine_cpu_us_per_msg"], level["sink_cpu_us_per_msg"], runs))
PY
}

echo "ringmail e2e benchmark: $MESSAGES × 2 KB, $RUNS runs each, medians; $(nproc) CPUs, $(uname -r)"
printf '%-22s %10s %14s %12s\n' "configuration" "msg/s" "engine us/msg" "sink us/msg"
run_config "tmpfs, BDAT"
run_config "tmpfs, DATA" --no-chunking
run_config "disk ($DISK_BASE), BDAT" --spool-base "$DISK_BASE"
run_config "disk ($DISK_BASE), DATA" --spool-base "$DISK_BASE" --no-chunking
