#!/bin/bash
# tests/e2e/ingress_crash_test.sh — kill -9 of the daemon while 50 SMTP
# clients are sending to its listener (issue 10's durability promise).
# 50 Python threads, one connection each, send messages back to back and
# record the Message-ID of every one they saw the final 250 for. Once at
# least 500 are acknowledged (or 5 s have passed) the daemon gets SIGKILL.
# Then, before any restart:
#   - nothing half-written in incoming/new: every file there (and in
#     active/, where the engine moves what it claims) is a whole message
#     (preamble, Received:, its Message-ID and its own last line);
# and after `ringmail run` starts again on the same spool:
#   - every message a client saw 250 for reaches the sink (at least once;
#     duplicates are counted and reported: a message delivered just before
#     the kill may go out again);
#   - the spool ends empty, incoming/tmp included: the files the kill cut
#     short (never acknowledged) are removed at start-up, as their
#     process is gone.
# Usage: bash tests/e2e/ingress_crash_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/ingress_lib.sh"

ingress_case crash
ingress_listen 'tls="none"'
ingress_start

t0=$(date +%s%N)
verify "50 clients send, the daemon is killed with SIGKILL mid-flight" "$INGRESS_PY" - "$E2E_DIR" "$LPORT" \
  "$DAEMON_PID" "$DIR/acked" <<'PY'
import os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
from ingress_smtp import Client, data_block, message
port, pid, acked_file = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
acked, lock, stop = [], threading.Lock(), threading.Event()
errors = []


def client(t):
    try:
        c = Client(port, timeout=10)
        assert c.reply()[0] == 220
        c.ehlo()
        n = 0
        while not stop.is_set():
            msgid = "crash-%d-%d@crash.ringmail.test" % (t, n)
            c.send(b"MAIL FROM:<alerts@example.com>\r\nRCPT TO:<ops@example.org>\r\nDATA\r\n")
            codes = [c.reply()[0] for _ in range(3)]
            if codes != [250, 250, 354]:
                errors.append((t, codes))
                return
            c.send(data_block(message(msgid, body=["client %d message %d" % (t, n), "x" * 200, "END " + msgid])))
            code, text = c.reply()
            if code == 250:
                with lock:
                    acked.append(msgid)
            n += 1
    except (OSError, ConnectionError):
        pass  # the daemon is gone


threads = [threading.Thread(target=client, args=(t,)) for t in range(50)]
for th in threads:
    th.start()
deadline = time.time() + 5
while len(acked) < 500 and time.time() < deadline and not errors:
    time.sleep(0.01)
os.kill(pid, signal.SIGKILL)
at_kill = len(acked)
stop.set()
for th in threads:
    th.join(15)
with open(acked_file, "w") as f:
    f.write("".join(m + "\n" for m in acked))
print("  %d messages acknowledged when the daemon was killed, %d in all; client errors: %s"
      % (at_kill, len(acked), errors[:3]))
sys.exit(0 if at_kill > 0 and not errors else 1)
PY
wait "$DAEMON_PID" 2>/dev/null || true
forget_pid "$DAEMON_PID"
DAEMON_PID=
[ -s "$DIR/acked" ] || fail "no message was acknowledged before the kill"
ACKED=$(wc -l < "$DIR/acked")

# whole_files: every file in incoming/new, and in active/ (where the engine
# moves what it claims from incoming/new), is a complete message.
whole_files() {
  "$INGRESS_PY" - "$SPOOL" <<'PY'
import os, re, sys
bad, n = [], 0
for state in ("incoming/new", "active"):
    folder = os.path.join(sys.argv[1], state)
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        n += 1
        data = open(os.path.join(folder, name), "rb").read()
        m = re.search(rb"^Message-ID: <([^>]+)>\r?$", data, re.M)
        whole = (data.startswith(b"X-Ringmail-") and m and re.search(rb"^Received: from ", data, re.M)
                 and data.endswith(b"END " + m.group(1) + b"\r\n"))
        if not whole:
            bad.append((state, name, len(data), data[-60:]))
print("  incoming/new and active/ after the kill: %d files, %d not whole %s" % (n, len(bad), bad[:3]))
sys.exit(1 if bad else 0)
PY
}
verify "nothing half-written in incoming/new (or active/) after the kill" whole_files

CUT_IN_TMP=$(count_in "$SPOOL" incoming/tmp)
ingress_restart
# all_acked: every acknowledged Message-ID is in the sink (prints counts).
all_acked() {
  "$INGRESS_PY" - "$E2E_DIR" "$MAILDIR" "$DIR/acked" "${1:-quiet}" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from ingress_smtp import by_message_id
found = by_message_id(sys.argv[2])
acked = open(sys.argv[3]).read().split()
missing = [m for m in acked if m not in found]
dups = sum(len(v) - 1 for v in found.values())
if sys.argv[4] == "report":
    print("  acknowledged %d, delivered %d distinct (%d not acknowledged but committed), missing %d %s, duplicates %d"
          % (len(acked), len(found), len(set(found) - set(acked)), len(missing), missing[:5], dups))
sys.exit(1 if missing else 0)
PY
}
wait_until 30 all_acked || true
verify "every message a client saw 250 for was delivered ($ACKED)" all_acked report
spool_drained() { [ "$(spool_files "$SPOOL")" = 0 ]; }
verify "the spool ends empty (incoming/new, active, deferred, failed)" wait_until 10 spool_drained
tmp_swept() { [ "$(count_in "$SPOOL" incoming/tmp)" = 0 ]; }
verify "the $CUT_IN_TMP file(s) the kill cut short in incoming/tmp were removed at start-up" tmp_swept
ingress_stop
echo "ingress_crash_test: $((($(date +%s%N) - t0) / 1000000)) ms from the first client to the end"
verify_summary ingress_crash_test
