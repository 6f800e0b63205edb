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
# make_pki DIR [KIND]: the test certificates (tests/tools/make_test_pki: ca.pem,
# good.pem/.key and the bad ones) in DIR, P-256 or KIND (rsa2048); SKIP (77)
# when the tool is not built. MAKE_TEST_PKI (set by tests/CMakeLists.txt)
# names the tool; by default it is next to ringmail.
make_pki() {
  local tool=${MAKE_TEST_PKI:-$(dirname "$RINGMAIL")/tests/make_test_pki}
  [ -x "$tool" ] || { echo "SKIP: make_test_pki not built ($tool)"; exit 77; }
  mkdir -p "$1"
  "$tool" "$1" "${2:-p256}" > /dev/null || fail "make_test_pki $1 ${2:-p256} failed"
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
  # Truncated here, not by the redirection in the child, so wait_for_line
  # never reads the previous sink's "listening on" line.
  : > "$WORK/sink.log"
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

# stats_field NAME prints one field of the sink's stats JSON (needs stop_sink first).
stats_field() {
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/sink-stats.json" "$1"
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

# --- helpers for the spool hardening, shutdown and disk full tests -----------

# config_set FILE TABLE KEY VALUE sets `KEY = VALUE` (VALUE is TOML as
# written: 2000, "text") in [TABLE] of a config written by write_config:
# replaces the key if the table has it, else adds it after the table header.
config_set() {
  /usr/bin/python3 - "$@" <<'PY' || fail "config_set $*"
import re, sys
path, table, key, value = sys.argv[1:5]
lines = open(path).read().split("\n")
start = next(i for i, l in enumerate(lines) if l.strip() == "[%s]" % table)
end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
for i in range(start + 1, end):
    if re.match(r"\s*%s\s*=" % re.escape(key), lines[i]):
        lines[i] = "%s = %s" % (key, value)
        break
else:
    lines.insert(start + 1, "%s = %s" % (key, value))
open(path, "w").write("\n".join(lines))
PY
}

# put_messages SPOOL PREFIX COUNT [RCPT...] queues COUNT small messages the
# way a producer does (incoming/tmp, then rename into incoming/new): files
# PREFIX000000.., Message-Id <PREFIX-N@ringmail.test>, explicit preamble
# (default recipient ops@example.org).
put_messages() {
  /usr/bin/python3 - "$@" <<'PY' || fail "put_messages $*"
import os, sys
spool, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rcpts = sys.argv[4:] or ["ops@example.org"]
for d in ("incoming/tmp", "incoming/new"):
    os.makedirs(os.path.join(spool, d), exist_ok=True)
for i in range(count):
    name = "%s%06d" % (prefix, i)
    tmp = os.path.join(spool, "incoming/tmp", name)
    with open(tmp, "w") as f:
        f.write("X-Ringmail-From: <alerts@example.com>\n")
        f.write("".join("X-Ringmail-To: <%s>\n" % r for r in rcpts))
        f.write("From: alerts@example.com\nTo: %s\nSubject: %s %d\nMessage-Id: <%s-%d@ringmail.test>\n\n"
                % (", ".join(rcpts), prefix, i, prefix, i))
        f.write("body of %s\n.leading dot\n" % name)
    os.rename(tmp, os.path.join(spool, "incoming/new", name))
PY
}

# msgid_check MAILDIR PREFIX COUNT [RCPT] checks the sink's Maildir (new/)
# by Message-Id: each <PREFIX-0..COUNT-1@ringmail.test> exactly once
# (with RCPT: counting only envelopes that list <RCPT>). Prints
# "PREFIX: received R of COUNT, missing M, duplicates D"; exits 1 unless
# every one is there exactly once.
msgid_check() {
  /usr/bin/python3 - "$@" <<'PY'
import os, re, sys
maildir, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rcpt = sys.argv[4] if len(sys.argv) > 4 else None
pat = re.compile(rb"^Message-Id: <" + re.escape(prefix.encode()) + rb"-(\d+)@ringmail\.test>", re.M | re.I)
seen = {}
new = os.path.join(maildir, "new")
for name in os.listdir(new) if os.path.isdir(new) else []:
    with open(os.path.join(new, name), "rb") as f:
        head = f.read(8192)
    env = head.split(b"\r\n", 1)[0].decode("latin-1")
    if rcpt and "<%s>" % rcpt not in env.split(" to=", 1)[-1].split(","):
        continue
    m = pat.search(head)
    if m:
        n = int(m.group(1))
        seen[n] = seen.get(n, 0) + 1
missing = [n for n in range(count) if n not in seen]
dups = sum(c - 1 for c in seen.values())
print("%s: received %d of %d, missing %d, duplicates %d%s" % (
    prefix, len(seen), count, len(missing), dups,
    "" if not dups else " (e.g. %s)" % sorted(n for n, c in seen.items() if c > 1)[:5]))
sys.exit(0 if not missing and not dups and all(n < count for n in seen) else 1)
PY
}

# maildir_files MAILDIR prints how many messages the sink has written so far.
maildir_files() {
  find "$1/new" -type f 2>/dev/null | wc -l
  return 0  # a Maildir the sink has not created yet holds 0
}

# wait_until SECONDS CMD... runs CMD every 50 ms until it succeeds (0) or
# SECONDS have passed (1).
wait_until() {
  local seconds=$1 deadline
  shift
  deadline=$(($(date +%s%N) + seconds * 1000000000))
  while :; do
    "$@" && return 0
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# wait_exit PID SECONDS waits (bounded) for the child PID to end: returns 0
# with its status in EXIT_RC and the time it took in EXIT_MS (from the call),
# and forgets the pid; returns 1 if it still runs after SECONDS (then it is
# left running: the caller decides, see kill_hard).
wait_exit() {
  local pid=$1 seconds=$2 t0 deadline
  t0=$(date +%s%N)
  deadline=$((t0 + seconds * 1000000000))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s%N)" -ge "$deadline" ]; then
      EXIT_MS=$((($(date +%s%N) - t0) / 1000000))
      return 1
    fi
    sleep 0.02
  done
  EXIT_MS=$((($(date +%s%N) - t0) / 1000000))
  EXIT_RC=0
  wait "$pid" || EXIT_RC=$?
  forget_pid "$pid"
  return 0
}

# kill_hard PID: SIGKILL and reap a child that did not stop in time.
kill_hard() {
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

# start_daemon NAME: starts `ringmail run -c $CONF` in the background with
# stdout/stderr in $WORK/NAME.out / $WORK/NAME.err, sets DAEMON_PID, and
# waits (bounded) for its start line ("worker(s)").
start_daemon() {
  "$RINGMAIL" run -c "$CONF" > "$WORK/$1.out" 2> "$WORK/$1.err" &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  wait_for_line "$WORK/$1.err" "worker(s)" 10 || fail "$1: daemon did not start: $(cat "$WORK/$1.err")"
}

# start_broken_server PORT SCENARIO [ARGS...] starts tests/e2e/broken_server.py
# on 127.0.0.1:PORT (transcript in $WORK/broken-PORT.log), sets BROKEN_PID.
start_broken_server() {
  local port=$1 scenario=$2
  shift 2
  /usr/bin/python3 "$E2E_DIR/broken_server.py" --port "$port" --scenario "$scenario" \
    --log "$WORK/broken-$port.log" "$@" > "$WORK/broken-$port.out" 2>&1 &
  BROKEN_PID=$!
  PIDS+=("$BROKEN_PID")
  wait_for_line "$WORK/broken-$port.out" "listening on" 10 \
    || fail "broken_server.py $scenario did not start: $(cat "$WORK/broken-$port.out")"
}

# VERIFY_FAILS counts failed checks of `verify`; a script calls verify_summary
# at its end (exit 1 if any failed), so one run reports every failing check.
VERIFY_FAILS=0
verify() {
  # verify DESCRIPTION COMMAND...: PASS/FAIL line for one assertion.
  local what=$1
  shift
  if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; VERIFY_FAILS=$((VERIFY_FAILS + 1)); fi
}
verify_summary() {
  if [ "$VERIFY_FAILS" = 0 ]; then echo "PASS: $1"; exit 0; fi
  echo "FAIL: $1: $VERIFY_FAILS check(s) failed"
  exit 1
}

# line_with FILE TEXT... succeeds if one line of FILE contains every TEXT
# (fixed strings). No `grep | grep -q`: under pipefail the first grep's
# SIGPIPE would turn a match into a failure.
line_with() {
  local file=$1
  shift
  /usr/bin/python3 - "$file" "$@" <<'PY'
import sys
path, texts = sys.argv[1], [t.encode() for t in sys.argv[2:]]
try:
    lines = open(path, "rb").read().split(b"\n")
except OSError:
    sys.exit(1)
sys.exit(0 if any(all(t in l for t in texts) for l in lines) else 1)
PY
}
