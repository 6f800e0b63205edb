#!/bin/bash
# tests/e2e/reload_test.sh — SIGHUP reloads the config of a running daemon,
# end to end with the real binary and `ringmail sink`:
#   (1) under load (3000 messages flowing to sink A, which waits 5 ms per
#       message, 50 per connection), the
#       config is rewritten to point at sink B with 20 per connection and
#       SIGHUP sent: "config reloaded (generation 2)" is logged; messages
#       queued after it all reach B; every message reaches A or B exactly
#       once (Message-IDs compared: nothing lost, nothing twice).
#   (2) a config with a syntax error, then one whose password file others
#       may read (mode 644), + SIGHUP: "not reloaded" with the reason; the
#       daemon keeps delivering to B (the running config).
#   (3) relay.tls none → verify, with credentials, against sink C with a
#       certificate from make_test_pki and --auth: new messages reach C, all
#       over TLS and authenticated; engine.threads, changed too, is named as
#       needing a restart.
#   SIGTERM then ends the daemon with exit 0 and an empty spool.
# Usage: bash tests/e2e/reload_test.sh /path/to/ringmail   (one ctest test)
source "$(dirname "$0")/lib.sh"

PKI=$WORK/pki
make_pki "$PKI"

# sink NAME PORT [ARGS...]: a sink with its own Maildir, log and stats file.
sink() {
  local name=$1 port=$2
  shift 2
  "$RINGMAIL" sink --listen "127.0.0.1:$port" --report-interval-ms 0 --maildir "$WORK/$name" \
    --stats-file "$WORK/$name.json" "$@" > "$WORK/$name.log" 2>&1 &
  eval "SINK_$name=$!"
  PIDS+=("$!")
  wait_for_line "$WORK/$name.log" "listening on" 10 || fail "sink $name did not start: $(cat "$WORK/$name.log")"
}
stop_named_sink() {
  local pid
  eval "pid=\$SINK_$1"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}
field() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/$1.json" "$2"; }

# once_across PREFIX COUNT MAILDIR...: every message PREFIX-0..COUNT-1 is in
# exactly one of the Maildirs, once.
once_across() {
  /usr/bin/python3 - "$@" <<'PY'
import os, re, sys
prefix, count, dirs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pat = re.compile(rb"^Message-Id: <" + re.escape(prefix.encode()) + rb"-(\d+)@ringmail\.test>", re.M | re.I)
seen = {}
for d in dirs:
    new = os.path.join(d, "new")
    for name in os.listdir(new) if os.path.isdir(new) else []:
        with open(os.path.join(new, name), "rb") as f:
            m = pat.search(f.read(8192))
        if m:
            seen[int(m.group(1))] = seen.get(int(m.group(1)), 0) + 1
missing = [n for n in range(count) if n not in seen]
dups = [n for n, c in seen.items() if c > 1]
print("%s: %d of %d, missing %d, duplicates %d" % (prefix, len(seen), count, len(missing), len(dups)))
sys.exit(0 if not missing and not dups else 1)
PY
}
# in_maildir PREFIX MAILDIR: how many messages of PREFIX it holds.
in_maildir() { grep -lis "^Message-Id: <$1-" "$2"/new/* 2>/dev/null | wc -l; }
spool_empty() { [ "$(spool_files "$SPOOL")" = 0 ]; }

setup_case reload
PORT_A=$PORT
PORT_B=$(free_port)
PORT_C=$(free_port)
config_set "$CONF" relay max_messages_per_connection 50
config_set "$CONF" relay tls '"none"'
sink A "$PORT_A" --delay-ms 5  # slow enough that SIGHUP lands mid-load
sink B "$PORT_B"
LOAD=3000
put_messages "$SPOOL" load "$LOAD"
start_daemon reload
ERR=$WORK/reload.err

# --- (1) under load: relay port and per-connection limit change ------------
a_has_300() { [ "$(maildir_files "$WORK/A")" -ge 300 ]; }
wait_until 20 a_has_300 || fail "(1) sink A got $(maildir_files "$WORK/A") messages"
config_set "$CONF" relay port "$PORT_B"
config_set "$CONF" relay max_messages_per_connection 20
queued_at_hup=$(spool_files "$SPOOL")
kill -HUP "$DAEMON_PID"
wait_for_line "$ERR" "config reloaded (generation 2)" 10 || fail "(1) no reload line: $(tail -5 "$ERR")"
echo "(1) $queued_at_hup of $LOAD messages still queued when SIGHUP was sent"
grep "config reloaded" "$ERR"
put_messages "$SPOOL" after 200
wait_until 20 spool_empty || fail "(1) spool not empty: $(spool_files "$SPOOL") left; $(tail -5 "$ERR")"
out=$(once_across load "$LOAD" "$WORK/A" "$WORK/B") || true
verify "(1) every message of the load reached A or B exactly once ($out)" once_across load "$LOAD" "$WORK/A" "$WORK/B"
verify "(1) the 200 messages queued after the reload all reached B, none A ($(in_maildir after "$WORK/B") at B, $(in_maildir after "$WORK/A") at A)" \
  [ "$(in_maildir after "$WORK/B")" = 200 -a "$(in_maildir after "$WORK/A")" = 0 ]
verify "(1) no restart warning for [relay] keys" sh -c "! grep -q 'needs a restart' '$ERR'"

# --- (2) bad configs are refused; the running one stays -------------------
cp "$CONF" "$WORK/good.toml"
printf 'this is not toml\n' >> "$CONF"
kill -HUP "$DAEMON_PID"
verify "(2) syntax error: refused with the reason" \
  wait_for_line "$ERR" "SIGHUP: config $CONF not reloaded: .*; the running config stays" 10
grep "not reloaded" "$ERR" | head -1
cp "$WORK/good.toml" "$CONF"
printf 'S3cret-pass-91\n' > "$WORK/relay.password"
chmod 644 "$WORK/relay.password"
config_set "$CONF" relay username '"alerts"'
config_set "$CONF" relay password_file "\"$WORK/relay.password\""
config_set "$CONF" relay allow_plaintext_auth true
kill -HUP "$DAEMON_PID"
verify "(2) password file readable by others: refused, says chmod 600" \
  wait_until 10 sh -c "[ \$(grep -c 'not reloaded' '$ERR') -ge 2 ] && grep 'not reloaded' '$ERR' | tail -1 | grep -q 'chmod 600'"
grep "not reloaded" "$ERR" | tail -1
put_messages "$SPOOL" broken 100
wait_until 10 spool_empty || fail "(2) spool not empty: $(spool_files "$SPOOL") left"
verify "(2) delivery goes on with the running config: 100 of 100 at B ($(in_maildir broken "$WORK/B"))" \
  [ "$(in_maildir broken "$WORK/B")" = 100 ]
verify "(2) no generation 3" sh -c "! grep -q 'generation 3' '$ERR'"

# --- (3) TLS none → verify, with credentials, for new connections ---------
sink C "$PORT_C" --tls-cert "$PKI/good.pem" --tls-key "$PKI/good.key" --auth "alerts:S3cret-pass-91"
chmod 600 "$WORK/relay.password"
config_set "$CONF" relay host '"localhost"'
config_set "$CONF" relay port "$PORT_C"
config_set "$CONF" relay tls '"verify"'
config_set "$CONF" relay allow_plaintext_auth false
config_set "$CONF" engine threads 3
printf '[tls]\nca_file = "%s"\nca_dir = ""\n' "$PKI/ca.pem" >> "$CONF"
kill -HUP "$DAEMON_PID"
verify "(3) reloaded at level verify" wait_for_line "$ERR" "config reloaded (generation 3): relay localhost:$PORT_C, tls verify" 10
verify "(3) engine.threads named as needing a restart" \
  grep -qF "SIGHUP: [engine] changed, which needs a restart; the running values stay" "$ERR"
put_messages "$SPOOL" tls 100
wait_until 10 spool_empty || fail "(3) spool not empty: $(spool_files "$SPOOL") left; $(tail -5 "$ERR")"

kill -TERM "$DAEMON_PID"
if wait_exit "$DAEMON_PID" 10; then
  verify "SIGTERM after the reloads: exit 0 (got $EXIT_RC)" [ "$EXIT_RC" = 0 ]
else
  verify "daemon still running 10 s after SIGTERM" false
  kill_hard "$DAEMON_PID"
fi
stop_named_sink C
stop_named_sink B
b_msgs=$(field B messages)
b_conns=$(field B connections)
verify "(1) the load was split: $(in_maildir load "$WORK/A") at A, $(in_maildir load "$WORK/B") at B" \
  [ "$(in_maildir load "$WORK/B")" -gt 0 ]
verify "(1) max_messages_per_connection 20 applied at B: $b_msgs messages over $b_conns connections" \
  [ $((b_conns * 20)) -ge "$b_msgs" ]
verify "(3) 100 of 100 at C ($(in_maildir tls "$WORK/C"))" [ "$(in_maildir tls "$WORK/C")" = 100 ]
verify "(3) all over TLS ($(field C messages_tls) of $(field C messages)) and authenticated ($(field C auth_tls) logins over TLS)" \
  [ "$(field C messages_tls)" = 100 -a "$(field C messages)" = 100 -a "$(field C auth_tls)" -ge 1 ]
verify "spool empty at the end" spool_empty
verify_summary "reload: SIGHUP under load, bad configs refused, TLS and credentials applied"
