# tests/e2e/ingress_lib.sh — shared setup of the SMTP ingress e2e tests
# (tests/e2e/ingress_*_test.sh): a `ringmail run` daemon with [[listen]]
# listeners that relays what it accepts to a `ringmail sink --maildir`, all
# on loopback ports chosen here. Sourced after tests/e2e/lib.sh. Clients
# (swaks, msmtp, Python smtplib, Alertmanager, Postfix) are the tests' own;
# tests/e2e/ingress_smtp.py holds the Python side (messages, raw SMTP
# conversations, Maildir checks).
#
#   ingress_pki                     PKI=$WORK/pki from make_test_pki (or SKIP 77)
#   ingress_users FILE USER PASSWORD [USER PASSWORD]...
#                                   a users file (yescrypt, then SHA-512-crypt), mode 600
#   ingress_case NAME               DIR, SPOOL, MAILDIR, CONF, SINK_PORT,
#                                   MPORT (metrics) and DLOG (delivery log);
#                                   writes the config without listeners
#   ingress_listen [KEY=VALUE]...   appends a [[listen]] table on a free port
#                                   (VALUE is TOML as written: tls="starttls");
#                                   sets LPORT; address=... overrides the address
#   ingress_start                   starts the sink and the daemon; waits
#                                   (bounded) until every listener listens
#   ingress_restart                 the daemon again on the same spool
#   ingress_stop                    SIGTERM the daemon (SIGKILL after 15 s), stop the sink
#   ingress_wait COUNT [SECONDS]    waits until the sink's Maildir holds COUNT messages
#   ingress_spool_empty             no message file in any spool state (incoming/tmp too)
#   ingress_metrics FILE            saves the daemon's /metrics page in FILE
#   ingress_counted FILE WORDS      a sample line of FILE containing WORDS has a value > 0
INGRESS_PY=/usr/bin/python3
# The tests' Python snippets import ingress_smtp.py: no __pycache__ in the source tree.
export PYTHONDONTWRITEBYTECODE=1
INGRESS_HOST=e2e.ringmail.test  # smtp.helo_name of write_config: the listeners' default hostname
LISTEN_PORTS=()

ingress_pki() {
  local make_pki=${MAKE_TEST_PKI:-$(dirname "$RINGMAIL")/tests/make_test_pki}
  [ -x "$make_pki" ] || { echo "SKIP: make_test_pki not built ($make_pki)"; exit 77; }
  PKI=$WORK/pki
  mkdir -p "$PKI"
  "$make_pki" "$PKI" p256 > /dev/null || fail "make_test_pki failed"
}

# ingress_users FILE USER PASSWORD...: the first user's line comes from
# `ringmail hash-password --user USER` (yescrypt, the password on stdin), the
# others' from python's crypt module (SHA-512-crypt, "$6$"), so both kinds
# of hash are checked.
ingress_users() {
  local file=$1
  : > "$file"
  chmod 600 "$file"
  printf '%s\n' "$3" | "$RINGMAIL" hash-password --user "$2" >> "$file" || fail "ringmail hash-password failed"
  shift 3
  while [ $# -ge 2 ]; do
    printf '%s:%s\n' "$1" "$("$INGRESS_PY" -W ignore -c \
      'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_SHA512)))' "$2")" >> "$file"
    shift 2
  done
}

ingress_case() {
  DIR=$WORK/$1
  SPOOL=$DIR/spool
  MAILDIR=$DIR/maildir
  CONF=$DIR/ringmail.toml
  DLOG=$DIR/delivery.jsonl
  SINK_PORT=$(free_port)
  MPORT=$(free_port)
  LISTEN_PORTS=()
  mkdir -p "$DIR"
  write_config "$CONF" "$SPOOL" "$SINK_PORT"
  printf '[log]\ndelivery = "%s"\n[metrics]\nlisten = "127.0.0.1:%s"\n' "$DLOG" "$MPORT" >> "$CONF"
}

ingress_listen() {
  local kv address=""
  LPORT=$(free_port)
  for kv in "$@"; do [ "${kv%%=*}" = address ] && address=${kv#*=}; done
  {
    echo
    echo "[[listen]]"
    [ -n "$address" ] || echo "address = \"127.0.0.1:$LPORT\""
    for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
  } >> "$CONF"
  if [ -n "$address" ]; then LPORT=${address##*:}; LPORT=${LPORT%\"}; fi
  LISTEN_PORTS+=("$LPORT")
}

# ingress_listening PORT: something listens on TCP PORT (IPv4 or IPv6), seen
# in /proc/net/tcp{,6} without connecting (a probe connection would count
# against the per-IP limits some tests measure).
ingress_listening() {
  local hex
  hex=$(printf ':%04X ' "$1")
  grep -hE "^ *[0-9]+: [0-9A-F]+${hex}[0-9A-F]+:[0-9A-F]+ 0A " /proc/net/tcp /proc/net/tcp6 > /dev/null 2>&1
}

ingress_start() {
  start_sink "$SINK_PORT" --maildir "$MAILDIR"
  ingress_start_daemon daemon
}

# ingress_start_daemon NAME: the daemon (output in $DIR/NAME.err), waits for
# every listener.
ingress_start_daemon() {
  local port
  "$RINGMAIL" run -c "$CONF" > "$DIR/$1.out" 2> "$DIR/$1.err" &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  DAEMON_ERR=$DIR/$1.err
  for port in "${LISTEN_PORTS[@]}"; do
    wait_until 10 ingress_listening "$port" ||
      fail "the daemon does not listen on port $port: $(cat "$DIR/$1.err")"
  done
}

ingress_restart() {
  ingress_start_daemon "daemon$((++INGRESS_RESTARTS))"
}
INGRESS_RESTARTS=0

ingress_stop() {
  if [ -n "${DAEMON_PID:-}" ]; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait_exit "$DAEMON_PID" 15 || kill_hard "$DAEMON_PID"
    DAEMON_PID=
  fi
  stop_sink
}

ingress_wait() {
  local count=$1 seconds=${2:-15}
  wait_until "$seconds" eval "[ \"\$(maildir_files \"$MAILDIR\")\" -ge $count ]"
}

ingress_spool_empty() {
  [ "$(find "$SPOOL/incoming" "$SPOOL/active" "$SPOOL/deferred" "$SPOOL/failed" "$SPOOL/hold" \
    -type f 2>/dev/null | wc -l)" = 0 ]
}

ingress_metrics() {
  "$INGRESS_PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
    "http://127.0.0.1:$MPORT/metrics" > "$1" || fail "no /metrics page on 127.0.0.1:$MPORT"
}

ingress_counted() {
  awk -v w="$2" '!/^#/ && index($0, w) && $NF + 0 > 0 { found = 1 } END { exit !found }' "$1"
}
