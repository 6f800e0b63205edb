# tests/e2e/lib.sh — shared helpers for the end-to-end tests. Sourced by
# each tests/e2e/*_test.sh, which is run as `bash script.sh /path/to/ringmail`.
# Every server a test starts listens on loopback and is stopped on exit;
# every wait is bounded.
set -euo pipefail

RINGMAIL=${1:?usage: $0 /path/to/ringmail}
RINGMAIL=$(readlink -f "$RINGMAIL")
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d /tmp/ringmail-e2e.XXXXXX)
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# forget_pid PID drops a process the test already waited for from PIDS, so
# the exit trap never signals a recycled process id.
forget_pid() {
  local p keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
pass() { echo "PASS: $*"; }

# free_port prints a TCP port nobody listens on (bound then released).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# write_config FILE SPOOL PORT [EXTRA_TOML...] writes a config relaying to
# 127.0.0.1:PORT with short timeouts and a 1 s retry schedule. Extra lines
# are appended inside [relay] unless they start a table.
write_config() {
  local file=$1 spool=$2 port=$3 host=${RELAY_HOST:-127.0.0.1}
  cat > "$file" <<CONF
spool = "$spool"
[engine]
threads = ${THREADS:-2}
[smtp]
helo_name = "e2e.ringmail.test"
default_sender = "alerts@example.com"
connect_timeout_ms = 2000
reply_timeout_ms = 5000
data_timeout_ms = 5000
[relay]
host = "$host"
port = $port
max_connections = ${MAX_CONNECTIONS:-8}
max_messages_per_connection = ${MAX_MESSAGES_PER_CONNECTION:-1000}
[retry]
schedule = ["1s"]
max_age = "${MAX_AGE:-1h}"
CONF
}

# setup_case NAME: a fresh spool, Maildir and config for one case of a test
# on a free port; sets SPOOL, MAILDIR, CONF and PORT.
setup_case() {
  SPOOL=$WORK/$1/spool
  MAILDIR=$WORK/$1/maildir
  CONF=$WORK/$1/ringmail.toml
  PORT=$(free_port)
  mkdir -p "$WORK/$1"
  write_config "$CONF" "$SPOOL" "$PORT"
}

# start_sink PORT [ARGS...] starts `ringmail sink` on 127.0.0.1:PORT in the
# background (stdout/stderr in $WORK/sink.log) and waits until it listens.
start_sink() {
  local port=$1; shift
  "$RINGMAIL" sink --listen "127.0.0.1:$port" --report-interval-ms 0 --stats-file "$WORK/sink-stats.json" "$@" \
    > "$WORK/sink.log" 2>&1 &
  SINK_PID=$!
  PIDS+=("$SINK_PID")
  wait_for_line "$WORK/sink.log" "listening on" 10 || fail "sink did not start: $(cat "$WORK/sink.log")"
}

# stop_sink stops the sink with SIGTERM and waits for its final line.
stop_sink() {
  kill -TERM "$SINK_PID" 2>/dev/null || true
  wait "$SINK_PID" 2>/dev/null || true
  forget_pid "$SINK_PID"
}

# sink_count prints how many messages the sink accepted (needs stop_sink first).
sink_count() {
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messages"])' "$WORK/sink-stats.json"
}

# wait_for_line FILE PATTERN SECONDS
wait_for_line() {
  local file=$1 pattern=$2 seconds=$3 i
  for ((i = 0; i < seconds * 20; i++)); do
    grep -q "$pattern" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# make_spool SPOOL COUNT SIZE [RCPT...] writes COUNT messages of about SIZE
# bytes straight into SPOOL/incoming/new, as a producer would (tmp + rename).
make_spool() {
  /usr/bin/python3 "$E2E_DIR/make_spool.py" "$@"
}

# spool_files SPOOL prints the number of message files in every state.
spool_files() {
  local spool=$1
  find "$spool/incoming/new" "$spool/active" "$spool/deferred" "$spool/failed" -type f 2>/dev/null | wc -l
}

# count_in SPOOL STATE prints the number of files in one state directory.
count_in() {
  find "$1/$2" -type f 2>/dev/null | wc -l
}
