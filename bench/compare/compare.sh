#!/usr/bin/env bash
# bench/compare/compare.sh — ringmail beside what a user would otherwise run:
# the same 2 KiB alerts delivered to the same `ringmail sink` on loopback at
# the same TLS levels by
#   1. Postfix (Debian's package) with its defaults: a new TLS connection
#      per message (plain connections are reused on demand);
#   2. Postfix with `smtp_tls_connection_reuse = yes` (tlsproxy);
#   3. msmtp, one process per alert (what many alert tools do), on a smaller
#      count;
# and `ringmail bench --json` with the same levels, size and count (at 1 and
# at PER_CONNECTION messages per connection). One table, with ratios to
# ringmail at PER_CONNECTION of the same run.
#
# usage: bench/compare/compare.sh [options]
#   --ringmail PATH       default build-release/ringmail, else build/ringmail
#   --levels LIST         none,may,encrypt,verify,secure,implicit (default none,verify)
#   -n N                  messages per Postfix and ringmail run (default 2000)
#   --msmtp-messages N    messages for msmtp (default 200; 0 = skip msmtp)
#   --size BYTES          bytes per alert (default 2048)
#   --per-connection N    ringmail's messages per connection (default 100)
#   --runs N              ringmail bench runs per level (median; default 3)
#   --timeout S           limit per Postfix or msmtp run (default 300)
#   --work-base DIR       where Postfix's queue and the certificates go
#                         (default /dev/shm: tmpfs, as ringmail bench's spool)
#
# Prerequisites: root; `apt install postfix msmtp` (tools/install_deps.sh
# installs both; without msmtp its rows are left out with a note); a built
# ringmail and make_test_pki (MAKE_TEST_PKI, default next to ringmail in
# tests/). The Postfix instances are private (tests/e2e/postfix_lib.sh): they
# relay only to the sink on 127.0.0.1, do no DNS and are stopped on exit.
#
# How Postfix is measured: the N alerts are injected over SMTP into its
# smtpd and put on hold (smtpd_client_restrictions = static:HOLD), so the
# queue is full before the clock starts, as ringmail bench's spool is. The
# clock runs from `postsuper -H ALL` + `postqueue -f` to the sink having
# received all N (--exit-after); CPU is that of every Postfix process
# (master, its live children and the children it reaped, /proc/PID/stat),
# before and after. Both Postfix configurations keep a client TLS session
# cache (smtp_tls_session_cache_database), as Debian's main.cf ships.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HELPERS=$ROOT/bench/compare/compare_helpers.py
RINGMAIL=$( [ -x "$ROOT/build-release/ringmail" ] && echo "$ROOT/build-release/ringmail" || echo "$ROOT/build/ringmail")
LEVELS=none,verify
MESSAGES=2000
MSMTP_MESSAGES=200
SIZE=2048
PER_CONNECTION=100
RUNS=3
TIMEOUT=300
WORK_BASE=/dev/shm
usage() { sed -n '14,25p' "$0" >&2; exit 64; }
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case $1 in
    --ringmail) RINGMAIL=$2 ;;
    --levels) LEVELS=$2 ;;
    -n) MESSAGES=$2 ;;
    --msmtp-messages) MSMTP_MESSAGES=$2 ;;
    --size) SIZE=$2 ;;
    --per-connection) PER_CONNECTION=$2 ;;
    --runs) RUNS=$2 ;;
    --timeout) TIMEOUT=$2 ;;
    --work-base) WORK_BASE=$2 ;;
    *) usage ;;
  esac
  shift 2
done
RINGMAIL=$(readlink -f "$RINGMAIL")
MAKE_TEST_PKI=${MAKE_TEST_PKI:-$(dirname "$RINGMAIL")/tests/make_test_pki}
[ -x "$RINGMAIL" ] || { echo "compare: no ringmail at $RINGMAIL (build it, or give --ringmail)" >&2; exit 66; }
[ -x "$MAKE_TEST_PKI" ] || { echo "compare: no make_test_pki at $MAKE_TEST_PKI (set MAKE_TEST_PKI)" >&2; exit 66; }

SINK_PIDS=()
cleanup() {
  local pid
  for pid in "${SINK_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${SINK_PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
}
source "$ROOT/tests/e2e/postfix_lib.sh"  # its EXIT trap stops Postfix, then runs cleanup
postfix_require
trap 'echo "compare: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
WORK=$(mktemp -d "$WORK_BASE/ringmail-compare.XXXXXX")
mkdir -p "$WORK/pki"
"$MAKE_TEST_PKI" "$WORK/pki" p256 > /dev/null || fail "make_test_pki failed"
chmod 755 "$WORK/pki"
ROWS=$WORK/rows.jsonl
: > "$ROWS"

# start_sink COUNT LEVEL: a sink that exits after COUNT messages; sets
# SINK_PID, SINK_PORT, SINK_STATS.
start_sink() {
  local count=$1 level=$2 tls=()
  SINK_STATS=$WORK/sink-$RANDOM.json
  [ "$level" = none ] || tls=(--tls-cert "$WORK/pki/good.pem" --tls-key "$WORK/pki/good.key")
  [ "$level" = implicit ] && tls+=(--implicit-tls)
  "$RINGMAIL" sink --listen 127.0.0.1:0 --exit-after "$count" --stats-file "$SINK_STATS" \
    --report-interval-ms 0 "${tls[@]}" > "$SINK_STATS.out" 2> "$SINK_STATS.err" &
  SINK_PID=$!
  SINK_PIDS+=("$SINK_PID")
  for _ in $(seq 100); do
    SINK_PORT=$(sed -n 's/^sink: listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$SINK_STATS.out")
    [ -n "$SINK_PORT" ] && return 0
    sleep 0.1
  done
  fail "the sink did not start: $(cat "$SINK_STATS.err")"
}

# wait_sink: waits (at most TIMEOUT s) for the sink to have its count and exit.
wait_sink() {
  local deadline=$((SECONDS + TIMEOUT))
  while kill -0 "$SINK_PID" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { kill "$SINK_PID"; fail "$1: the sink did not get all its messages within ${TIMEOUT} s"; }
    sleep 0.01
  done
  wait "$SINK_PID" || fail "$1: the sink exited $?: $(cat "$SINK_STATS.err")"
}

# postfix_cpu_ticks DIR: CPU clock ticks of the instance's master, its live
# children and the children it has reaped.
postfix_cpu_ticks() {
  local master
  master=$(sed -n 's/ //g;1p' "$1/queue/pid/master.pid")
  # (a process may end between the glob and the read: not an error)
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v m="$master" \
    '$1 == m || $4 == m { t += $14 + $15 + $16 + $17 } END { printf "%d\n", t }'
}

# add_row LEVEL SENDER MESSAGES SECONDS CPU_SECONDS: one line of ROWS, with
# the sink's CPU and handshakes from SINK_STATS.
add_row() {
  /usr/bin/python3 - "$SINK_STATS" "$@" >> "$ROWS" <<'PY'
import json, sys
stats, level, sender, n, seconds, cpu = json.load(open(sys.argv[1])), *sys.argv[2:]
n, seconds, cpu = int(n), float(seconds), float(cpu)
assert stats["messages"] == n, "the sink counted %d messages, not %d" % (stats["messages"], n)
print(json.dumps({"level": level, "sender": sender, "messages": n, "msgs_per_s": n / seconds,
                  "cpu_us": cpu * 1e6 / n, "sink_us": stats["cpu_us_per_msg"],
                  "handshakes": "%d+%d" % (stats["tls_handshakes"] - stats["tls_resumed"], stats["tls_resumed"])}))
PY
}

# postfix_level DIR LEVEL: the smtp client's TLS settings for LEVEL.
postfix_level() {
  local conf=$1/conf level=$2 verify=(smtp_tls_CAfile="$WORK/pki/ca.pem" smtp_tls_verify_cert_match=localhost
    smtp_tls_secure_cert_match=localhost)
  case $level in
    none | may | encrypt) /usr/sbin/postconf -c "$conf" -e smtp_tls_security_level="$level" ;;
    verify | secure) /usr/sbin/postconf -c "$conf" -e smtp_tls_security_level="$level" "${verify[@]}" ;;
    implicit) /usr/sbin/postconf -c "$conf" -e smtp_tls_security_level=verify smtp_tls_wrappermode=yes "${verify[@]}" ;;
    *) fail "unknown level $level" ;;
  esac
}

# postfix_run CONFIG LEVEL: CONFIG is defaults or reuse.
postfix_run() {
  local config=$1 level=$2 dir=$WORK/postfix-$1-$2 port cpu0 cpu1 t0 t1 held
  start_sink "$MESSAGES" "$level"
  postfix_init "$dir" "$SINK_PORT"
  postfix_set "$dir" "smtp_tls_session_cache_database = btree:$dir/data/smtp_scache" \
    "smtpd_client_restrictions = check_client_access static:HOLD"
  postfix_level "$dir" "$level"
  if [ "$config" = reuse ]; then
    postfix_set "$dir" "smtp_tls_connection_reuse = yes"
    echo "tlsproxy  unix  -       -       n       -       0       tlsproxy" >> "$dir/conf/master.cf"
  fi
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  postfix_listener "$dir" "$port"
  postfix_start "$dir"
  /usr/bin/python3 "$HELPERS" inject "$port" "$MESSAGES" "$SIZE" || fail "injecting into Postfix failed"
  for _ in $(seq 300); do
    held=$(find "$dir/queue/hold" -type f | wc -l)
    [ "$held" -ge "$MESSAGES" ] && break
    sleep 0.1
  done
  [ "$held" -ge "$MESSAGES" ] || fail "Postfix holds $held of $MESSAGES messages"
  cpu0=$(postfix_cpu_ticks "$dir")
  t0=$(date +%s.%N)
  /usr/sbin/postsuper -c "$dir/conf" -H ALL 2> /dev/null
  /usr/sbin/postqueue -c "$dir/conf" -f
  wait_sink "Postfix $config at $level"
  t1=$(date +%s.%N)
  cpu1=$(postfix_cpu_ticks "$dir")
  postfix_stop "$dir"
  local label="Postfix defaults"
  [ "$config" = reuse ] && label="Postfix, smtp_tls_connection_reuse = yes"
  add_row "$level" "$label" "$MESSAGES" "$(/usr/bin/python3 -c "print($t1 - $t0)")" "$(/usr/bin/python3 -c "print(($cpu1 - $cpu0) / $(getconf CLK_TCK))")"
}

# msmtp_run LEVEL: one msmtp process per alert, straight to the sink.
msmtp_run() {
  local level=$1 conf=$WORK/msmtprc-$1 tls=off starttls=on check=off result
  start_sink "$MSMTP_MESSAGES" "$level"
  case $level in
    none) ;;
    may | encrypt) tls=on ;;  # msmtp has no opportunistic TLS: may is encrypt
    verify | secure) tls=on check=on ;;
    implicit) tls=on check=on starttls=off ;;
  esac
  cat > "$conf" <<EOF
defaults
host 127.0.0.1
port $SINK_PORT
auth off
domain compare.ringmail.test
tls $tls
tls_starttls $starttls
tls_certcheck $check
tls_trust_file $WORK/pki/ca.pem
tls_host_override localhost
logfile
account default
EOF
  chmod 600 "$conf"
  result=$(/usr/bin/python3 "$HELPERS" msmtp "$conf" "$MSMTP_MESSAGES" "$SIZE") || fail "msmtp at $level failed"
  wait_sink "msmtp at $level"
  add_row "$level" "msmtp, one process per alert" "$MSMTP_MESSAGES" \
    "$(echo "$result" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')" \
    "$(echo "$result" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cpu_s"])')"
}

echo "compare: $MESSAGES x $SIZE B alerts (msmtp: $MSMTP_MESSAGES), levels $LEVELS; $(nproc) CPUs," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "Postfix $(/usr/sbin/postconf -d -h mail_version 2>/dev/null)," \
  "$(command -v msmtp > /dev/null && msmtp --version | head -1 || echo 'msmtp not installed')," \
  "queue and spool under $WORK_BASE"
"$RINGMAIL" bench --levels "$LEVELS" --size "$SIZE" -n "$MESSAGES" --runs "$RUNS" \
  --per-connection "1,$PER_CONNECTION" --json "$WORK/ringmail.json" > "$WORK/bench.out" 2>&1 ||
  fail "ringmail bench failed: $(tail -5 "$WORK/bench.out")"
for level in ${LEVELS//,/ }; do
  postfix_run defaults "$level"
  postfix_run reuse "$level"
  if [ "$MSMTP_MESSAGES" -gt 0 ]; then
    if command -v msmtp > /dev/null; then msmtp_run "$level"; else MSMTP_MISSING=1; fi
  fi
done
echo
/usr/bin/python3 "$HELPERS" report "$WORK/ringmail.json" "$ROWS"
echo "(ringmail x: ringmail's msg/s at $PER_CONNECTION per connection over the row's; CPU x ringmail: the row's" \
  "CPU per message over ringmail's; CPU = the sender's processes, sink us = the sink's)"
[ -z "${MSMTP_MISSING:-}" ] || echo "msmtp: not installed, its rows are left out (apt install msmtp)"
