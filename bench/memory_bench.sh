#!/usr/bin/env bash
# bench/memory_bench.sh — the engine's memory, measured (issue 8's targets:
# ≤ 64 KiB per open TLS connection, ≤ 256 MiB RSS with 1,000,000 messages
# waiting in the spool). Two probes, each against a fresh `ringmail sink` on
# loopback and a `ringmail run` (daemon mode) on a spool under SPOOL_BASE:
#
# 1. connections: the engine started on an empty spool; its VmRSS is read;
#    then it is started again on CONNS messages of 2 KiB queued before it
#    starts, with relay.max_connections = CONNS, so it opens up to CONNS
#    connections at once, delivers about one message on each and keeps them
#    open (idle QUIT comes after 2 s). Once
#    the number of the engine's sockets stops growing, VmRSS is read again:
#    (RSS with them − RSS before) ÷ sockets = memory per open connection,
#    everything a connection brings included (its client buffers, the
#    message slots made for its messages, the TLS session). Run at
#    relay.tls = "none" and "verify".
# 2. spool: MESSAGES tiny messages queued in incoming/new, a sink that
#    answers 451 to every RCPT and a 1 h retry schedule: each message is
#    tried once and waits in deferred/. Once all are there, the engine's
#    VmHWM (peak) and VmRSS are read; then the engine is restarted on that
#    spool (start-up reads every deferred message's record) and read again.
#
# usage: bench/memory_bench.sh RINGMAIL [CONNS] [MESSAGES]
#   defaults: 1000 connections, 1,000,000 messages; SPOOL_BASE (default
#   /dev/shm) holds the spools; PROBES="conn spool" (either or both).
#   Needs make_test_pki next to RINGMAIL (build*/tests/make_test_pki).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONNS=${2:-1000}
MESSAGES=${3:-1000000}
SPOOL_BASE=${SPOOL_BASE:-/dev/shm}
PROBES=${PROBES:-conn spool}
source "$BENCH_DIR/../tests/e2e/lib.sh" "$1"
MAKE_TEST_PKI=${MAKE_TEST_PKI:-$(dirname "$RINGMAIL")/tests/make_test_pki}
SPOOLS=$(mktemp -d "$SPOOL_BASE/ringmail-memory.XXXXXX")
trap 'cleanup; rm -rf "$SPOOLS"' EXIT

kib_of() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }
# sockets_of PID: its open sockets (an fd closing during the walk is no error).
sockets_of() { { find "/proc/$1/fd" -lname 'socket:*' 2> /dev/null || true; } | wc -l; }

# start_engine CONF LOG: `ringmail run` in the background; sets ENGINE_PID.
start_engine() {
  "$RINGMAIL" run --config "$1" > "$2" 2>&1 &
  ENGINE_PID=$!
  PIDS+=("$ENGINE_PID")
}
stop_engine() {
  kill -TERM "$ENGINE_PID" 2> /dev/null || true
  wait "$ENGINE_PID" 2> /dev/null || true
  forget_pid "$ENGINE_PID"
}

# probe_connections LEVEL: prints "LEVEL sockets base_kib with_kib per_conn_kib".
probe_connections() {
  local level=$1 spool=$SPOOLS/conn-$1 conf=$WORK/conn-$1.toml port base sockets=0 last=0 rss stable=0 i
  port=$(free_port)
  RELAY_HOST=localhost MAX_CONNECTIONS=$CONNS write_config "$conf" "$spool" "$port"
  config_set "$conf" relay tls "\"$level\""
  printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$WORK/pki/ca.pem" >> "$conf"
  make_spool "$spool" 0 2048
  start_sink "$port" --tls-cert "$WORK/pki/good.pem" --tls-key "$WORK/pki/good.key"
  start_engine "$conf" "$WORK/conn-$level.log"
  sleep 1
  base=$(kib_of "$ENGINE_PID" VmRSS)
  stop_engine
  # All messages queued before the start: the workers find them waiting at
  # once and open a connection for each (up to relay.max_connections).
  make_spool "$spool" "$CONNS" 2048
  start_engine "$conf" "$WORK/conn-$level.log"
  # Sample every 50 ms until the socket count has not grown for 0.5 s.
  for ((i = 0; i < 400 && stable < 10; i++)); do
    sleep 0.05
    sockets=$(sockets_of "$ENGINE_PID")
    if ((sockets > last)); then
      last=$sockets stable=0 rss=$(kib_of "$ENGINE_PID" VmRSS)
    elif ((sockets > 0)); then
      stable=$((stable + 1)) rss=$(kib_of "$ENGINE_PID" VmRSS)
    fi
  done
  stop_engine
  stop_sink
  ((last > 0)) || fail "the engine opened no connection at $level"
  echo "$level $last $base $rss $(((rss - base) / last))"
}

# put_tiny SPOOL COUNT: COUNT ~300-byte messages into incoming/new, fast
# (tmp + rename, as a producer must).
put_tiny() {
  /usr/bin/python3 - "$@" << 'PY'
import os, sys
spool, count = sys.argv[1], int(sys.argv[2])
tmp, new = os.path.join(spool, "incoming/tmp"), os.path.join(spool, "incoming/new")
os.makedirs(tmp, exist_ok=True); os.makedirs(new, exist_ok=True)
head = b"X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <ops@example.org>\nFrom: alerts@example.com\nTo: ops@example.org\n"
for i in range(count):
    name = "m%07d" % i
    fd = os.open(os.path.join(tmp, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, head + b"Subject: alert %d\nMessage-Id: <m%d@ringmail.test>\n\nbody %d\n" % (i, i, i))
    os.close(fd)
    os.rename(os.path.join(tmp, name), os.path.join(new, name))
PY
}
count_dir() { /usr/bin/python3 -c 'import os,sys; print(sum(1 for _ in os.scandir(sys.argv[1])))' "$1"; }

# probe_spool: prints "messages hwm_kib rss_kib restart_hwm_kib restart_rss_kib seconds".
probe_spool() {
  local spool=$SPOOLS/spool conf=$WORK/spool.toml port started waited hwm rss hwm2 rss2 i n
  port=$(free_port)
  write_config "$conf" "$spool" "$port"
  config_set "$conf" retry schedule '["1h"]'
  config_set "$conf" retry max_age '"5d"'
  put_tiny "$spool" "$MESSAGES"
  start_sink "$port" --rcpt-reply "ops@example.org=451"
  started=$(date +%s)
  start_engine "$conf" "$WORK/spool.log"
  for ((i = 0; ; i++)); do
    sleep 2
    n=$(count_dir "$spool/deferred")
    [ "$n" -ge "$MESSAGES" ] && break
    ((i < 1800)) || fail "only $n of $MESSAGES deferred after an hour"
    kill -0 "$ENGINE_PID" 2> /dev/null || fail "engine died: $(tail -3 "$WORK/spool.log")"
  done
  waited=$(($(date +%s) - started))
  sleep 1
  hwm=$(kib_of "$ENGINE_PID" VmHWM) rss=$(kib_of "$ENGINE_PID" VmRSS)
  stop_engine
  # A restart reads every deferred message's record into the retry queue;
  # the intake's first debug line (RINGMAIL_DEBUG_TICKS) says start-up is over.
  RINGMAIL_DEBUG_TICKS=1 start_engine "$conf" "$WORK/spool-restart.log"
  wait_for_line "$WORK/spool-restart.log" "^intake: t=" 600 || fail "restart did not finish loading"
  rss2=$(kib_of "$ENGINE_PID" VmRSS)
  hwm2=$(kib_of "$ENGINE_PID" VmHWM)
  stop_engine
  stop_sink
  echo "$MESSAGES $hwm $rss $hwm2 $rss2 $waited"
}

echo "ringmail memory: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), spools under $SPOOL_BASE"
if [[ " $PROBES " == *" conn "* ]]; then
  [ -x "$MAKE_TEST_PKI" ] || fail "$MAKE_TEST_PKI not built (ninja tests/make_test_pki)"
  mkdir -p "$WORK/pki"
  "$MAKE_TEST_PKI" "$WORK/pki" p256 > /dev/null
  printf '%-8s %8s %14s %14s %18s\n' level sockets "RSS before KiB" "RSS open KiB" "KiB per connection"
  for level in none verify; do
    read -r l s b r p < <(probe_connections "$level")
    printf '%-8s %8s %14s %14s %18s\n' "$l" "$s" "$b" "$r" "$p"
  done
fi
if [[ " $PROBES " == *" spool "* ]]; then
  read -r m h r h2 r2 t < <(probe_spool)
  echo "spool: $m messages waiting in deferred/ (all tried once in $t s): engine peak RSS (VmHWM) $((h / 1024)) MiB, RSS $((r / 1024)) MiB"
  echo "spool: restarted on them: peak RSS $((h2 / 1024)) MiB, RSS $((r2 / 1024)) MiB"
fi
