#!/usr/bin/env bash
# bench/tls_levels_bench.sh — what strict TLS costs the engine, until
# `ringmail bench --tls` exists: the real engine drains a spool of 2 KB
# alerts into `ringmail sink --tls-cert` (the test PKI's P-256 certificate)
# once per level, runs interleaved, and prints msg/s and the engine's CPU
# µs per message (user+sys of the whole `run --drain`, start-up included;
# /usr/bin/time's 10 ms resolution makes short runs coarse).
#
# usage: bench/tls_levels_bench.sh [BUILD_DIR] [MESSAGES] [RUNS]
#   BUILD_DIR with ringmail and tests/make_test_pki (default build-release)
# environment: LEVELS ("none verify"), PER_CONNECTION (1000: relay.max_messages_per_connection),
#   RESUMPTION (true: tls.session_resumption), SPOOL_BASE (/dev/shm)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-release}
MESSAGES=${2:-20000}
RUNS=${3:-3}
RINGMAIL=$(readlink -f "$BUILD/ringmail")
LEVELS=${LEVELS:-none verify}
WORK=$(mktemp -d /tmp/ringmail-tlsbench.XXXXXX)
SINK_PID=
trap '[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null; rm -rf "$WORK"' EXIT

mkdir -p "$WORK/pki" && "$BUILD/tests/make_test_pki" "$WORK/pki" > /dev/null
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$RINGMAIL" sink --listen "127.0.0.1:$PORT" --threads 1 --tls-cert "$WORK/pki/good.pem" \
  --tls-key "$WORK/pki/good.key" --report-interval-ms 0 --stats-file "$WORK/sink.json" > "$WORK/sink.log" 2>&1 &
SINK_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/sink.log" && break; sleep 0.05; done

echo "engine vs ringmail sink (STARTTLS, P-256), $MESSAGES × 2 KB, $RUNS interleaved runs; per connection" \
  "${PER_CONNECTION:-1000}, resumption ${RESUMPTION:-true}; $(nproc) CPUs"
for ((run = 1; run <= RUNS; run++)); do
  for level in $LEVELS; do
    spool=${SPOOL_BASE:-/dev/shm}/ringmail-tlsbench-spool.$$
    rm -rf "$spool"
    /usr/bin/python3 tests/e2e/make_spool.py "$spool" "$MESSAGES" 2048 > /dev/null
    cat > "$WORK/ringmail.toml" <<CONF
spool = "$spool"
[smtp]
default_sender = "alerts@example.com"
[relay]
host = "localhost"
port = $PORT
tls = "$level"
max_connections = 16
max_messages_per_connection = ${PER_CONNECTION:-1000}
[tls]
ca_file = "$WORK/pki/ca.pem"
session_resumption = ${RESUMPTION:-true}
CONF
    /usr/bin/time -f "%e %U %S" -o "$WORK/time" "$RINGMAIL" run -c "$WORK/ringmail.toml" --drain \
      > "$WORK/out" 2> "$WORK/err" || { echo "run failed at $level: $(tail -3 "$WORK/err")" >&2; exit 70; }
    read -r wall user sys < "$WORK/time"
    delivered=$(sed -n 's/^ringmail: delivered \([0-9]*\),.*/\1/p' "$WORK/out")
    [ "$delivered" = "$MESSAGES" ] || { echo "only $delivered of $MESSAGES delivered at $level" >&2; exit 70; }
    /usr/bin/python3 -c "w,u,s,n=$wall,$user,$sys,$delivered; print('%-7s run %d: %7.0f msg/s  %6.1f engine us/msg' % ('$level', $run, n/w, (u+s)*1e6/n))"
    rm -rf "$spool"
  done
done
kill "$SINK_PID"; wait "$SINK_PID" 2>/dev/null || true; SINK_PID=
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("sink: %d handshakes, %d resumed, %d messages over TLS" % (d["tls_handshakes"], d["tls_resumed"], d["messages_tls"]))' "$WORK/sink.json"
