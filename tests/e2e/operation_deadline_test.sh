#!/bin/bash
# tests/e2e/operation_deadline_test.sh — every connection operation is
# bounded by its deadline (engine/smtp_connection: one deadline per
# operation, checked by the worker, the operation cancelled when it
# passes; no linked timeout per operation). Against real sockets on
# loopback, with short timeouts:
#   (a) a relay that accepts and never greets: the receive is cancelled at
#       smtp.reply_timeout_ms, the messages are deferred "timeout waiting
#       for the greeting", and the run ends in about the timeout;
#   (b) a relay whose accept queue is full (SYNs dropped): the connect is
#       cancelled at smtp.connect_timeout_ms, "timed out after 400 ms";
#   (c) a relay that takes the message and never answers the end of data:
#       cancelled at smtp.data_timeout_ms, "timeout waiting for the
#       end-of-data reply" (the body and the QUIT behind it were sent).
# Usage: bash tests/e2e/operation_deadline_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"

# start_relay KIND PORT: a loopback server that misbehaves as KIND says
# (silent, backlog_full, no_dataend_reply); waits until it listens.
start_relay() {
  /usr/bin/python3 - "$1" "$2" "$WORK/relay-$1.ready" <<'PY' &
import socket, sys, time
kind, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
keep = []
if kind == "backlog_full":
    listener.listen(0)  # one connection fits the accept queue; later SYNs are dropped
    for _ in range(2):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        keep.append(filler)
    time.sleep(0.2)
else:
    listener.listen(8)
open(ready, "w").close()
while True:
    if kind == "backlog_full":
        time.sleep(1)
        continue
    conn, _ = listener.accept()
    keep.append(conn)
    if kind == "silent":
        continue
    # no_dataend_reply: a pipelining server that never answers the end of data.
    conn.sendall(b"220 relay.test ESMTP\r\n")
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        while b"\r\n" in data:
            line, data = data.split(b"\r\n", 1)
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250-relay.test\r\n250 PIPELINING\r\n")
            elif verb in (b"MAIL", b"RCPT"):
                conn.sendall(b"250 2.0.0 ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
            # ".", body lines and QUIT: no answer
PY
  PIDS+=($!)
  wait_until 5 test -e "$WORK/relay-$1.ready" || fail "relay $1 did not start"
}

# drain_case KIND TIMEOUT_KEY: two messages against relay KIND with every
# timeout long except TIMEOUT_KEY (400 ms); sets RC, ELAPSED_MS, and the
# run output and `ringmail queue` in $DIR.
drain_case() {
  local kind=$1 key=$2
  MAX_CONNECTIONS=1 THREADS=1 MAX_MESSAGES_PER_CONNECTION=1 setup_case "$kind"
  DIR=$WORK/$kind
  config_set "$CONF" smtp connect_timeout_ms 20000
  config_set "$CONF" smtp reply_timeout_ms 20000
  config_set "$CONF" smtp data_timeout_ms 20000
  config_set "$CONF" smtp chunking false
  config_set "$CONF" smtp "$key" 400
  config_set "$CONF" retry schedule '["1h"]'
  put_messages "$SPOOL" m 2
  start_relay "$kind" "$PORT"
  local start
  start=$(date +%s%N)
  RC=0
  RINGMAIL_TRACE=1 timeout -k 5 20 "$RINGMAIL" run --drain -c "$CONF" > "$DIR/run.out" 2> "$DIR/run.err" || RC=$?
  ELAPSED_MS=$((($(date +%s%N) - start) / 1000000))
  "$RINGMAIL" queue -c "$CONF" > "$DIR/queue.out" 2>&1 || true
}

# expect_deferred WHAT PATTERN: the run ended by itself, deferred both
# messages with PATTERN in `ringmail queue`, within 5 s (the timeouts
# not in play are 20 s).
expect_deferred() {
  local what=$1 pattern=$2
  [ "$RC" != 124 ] && [ "$RC" != 137 ] || fail "$what: ringmail hung; $(tail -5 "$DIR/run.err")"
  [ "$(count_in "$SPOOL" deferred)" = 2 ] ||
    fail "$what: want 2 deferred, exit $RC: $(cat "$DIR/run.out"); $(tail -5 "$DIR/run.err")"
  grep -qF -- "$pattern" "$DIR/queue.out" || fail "$what: ringmail queue lacks '$pattern': $(cat "$DIR/queue.out")"
  [ "$ELAPSED_MS" -lt 5000 ] || fail "$what: took $ELAPSED_MS ms for a 400 ms timeout"
  pass "$what: deferred '$pattern' after $ELAPSED_MS ms"
}

drain_case silent reply_timeout_ms
expect_deferred "(a) no greeting" "timeout waiting for the greeting"

drain_case backlog_full connect_timeout_ms
expect_deferred "(b) connect never answered" "timed out after 400 ms"

drain_case no_dataend_reply data_timeout_ms
expect_deferred "(c) no end-of-data reply" "timeout waiting for the end-of-data reply"
grep -qF '.\r\nQUIT\r\n' "$DIR/run.err" ||
  fail "(c) the QUIT was not pipelined behind the last message's end of data: $(grep 'C: ' "$DIR/run.err" | tail -3)"
pass "(c) QUIT pipelined behind the end of data, the message still deferred when no verdict came"
