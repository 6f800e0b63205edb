#!/bin/bash
# tests/e2e/spool_hardening_test.sh — the spool contract under abuse, end to
# end with the real binary:
#   (a) one engine per spool: while a daemon delivers 100 messages to a slow
#       sink, a second `ringmail run` and a `ringmail run --drain` on the same
#       spool each exit 71 at once (< 3 s), saying "in use by another
#       ringmail engine" and "PID <the daemon's pid>"; SPOOL/ringmail.lock
#       holds the daemon's pid and is flock()ed; the daemon delivers every
#       message exactly once, stops with exit 0 on SIGTERM, and the lock is
#       free again afterwards (a drain then exits 0).
#   (b) things in incoming/new that are not messages: a FIFO, a directory,
#       a unix socket, a symbolic link to a mode-600 file that looks like
#       mail, a hard link to that file. `run --drain` ends (< 20 s, exit 0),
#       moves each as is (not followed, type unchanged) to failed/ with a
#       reason in meta/ID ("not a regular file", "symbolic link refused",
#       "hard link refused"), never delivers the linked file's content,
#       delivers the 3 real messages beside them, and `ringmail queue
#       --json` counts the 5 as failed and lists them.
#   (c) 100 FIFOs then 5 real messages: the drain ends (< 30 s, exit 0), the
#       5 are delivered once each, the FIFOs are in failed/.
#   (d) a message file with a 64-character name: stderr names it with "not
#       a valid message name"; it stays in incoming/new, undelivered.
#   (e) the delivered file cannot be removed (test hook
#       RINGMAIL_FAULT_UNLINK=N: the first N removals fail with EIO):
#       daemon, N=2: delivered exactly once, stderr "cannot remove" +
#       "Input/output error", the file (and its meta) gone within 15 s (the
#       removal is retried, not the delivery), SIGTERM exit 0.
#   (f) drain, N=1000000: `run --drain` exits non-zero, the message was
#       delivered once; a second drain (no hook) delivers nothing more; the
#       message is in hold/ with meta/ID marking its recipient done, or gone.
#
# Usage: bash tests/e2e/spool_hardening_test.sh /path/to/ringmail
# Loopback only; touches nothing outside its temporary folder; every wait is
# bounded (about 30 s in all when the engine behaves).
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

# subject_count MAILDIR TEXT: how many Maildir files hold TEXT.
subject_count() {
  grep -rlF -- "$2" "$1/new" 2>/dev/null | wc -l
}

# reason_of SPOOL ID: the reason record of meta/ID.
reason_of() {
  sed -n 's/^reason //p' "$1/meta/$2" 2>/dev/null | head -1
}

# reason_has SPOOL ID TEXT: meta/ID has a reason containing TEXT.
reason_has() {
  grep -q "^reason .*$3" "$1/meta/$2" 2>/dev/null
}

# drain_bounded NAME SECONDS [ENV=VALUE...]: one `run --drain` with a
# deadline; output in $WORK/NAME.out/.err; sets DRAIN_RC (124: timed out).
drain_bounded() {
  local name=$1 seconds=$2
  shift 2
  DRAIN_RC=0
  env "$@" timeout -k 5 "$seconds" "$RINGMAIL" run --drain -c "$CONF" > "$WORK/$name.out" 2> "$WORK/$name.err" \
    || DRAIN_RC=$?
}

# ============================================================================
# (a) two engines on one spool
# ============================================================================
setup_case lock
start_sink "$PORT" --maildir "$MAILDIR" --delay-ms 200
start_daemon lock
D1=$DAEMON_PID
put_messages "$SPOOL" lock 100
# The daemon has claimed some (in active/) and has most of them left.
claimed_some() { [ "$(count_in "$SPOOL" active)" -gt 0 ]; }
wait_until 10 claimed_some || fail "(a) the daemon claimed nothing in 10 s"
left_at_start=$((100 - $(maildir_files "$MAILDIR")))
t0=$(date +%s%N)
"$RINGMAIL" run -c "$CONF" > "$WORK/lock.second.out" 2> "$WORK/lock.second.err" &
P2=$!
PIDS+=("$P2")
timeout -k 5 30 "$RINGMAIL" run --drain -c "$CONF" > "$WORK/lock.drain.out" 2> "$WORK/lock.drain.err" &
P3=$!
PIDS+=("$P3")
echo "(a) second daemon and drain started with $left_at_start of 100 messages not yet delivered"

for what in "second daemon:$P2:lock.second" "drain:$P3:lock.drain"; do
  IFS=: read -r label pid file <<< "$what"
  if wait_exit "$pid" 5; then
    ms=$((($(date +%s%N) - t0) / 1000000))
    verify "(a) $label on a busy spool exits 71 (got $EXIT_RC)" [ "$EXIT_RC" = 71 ]
    verify "(a) $label refuses at once (${ms} ms, want < 3000)" [ "$ms" -lt 3000 ]
    verify "(a) $label stderr says 'in use by another ringmail engine': $(head -c 300 "$WORK/$file.err" | tr '\n' ' ')" \
      grep -q "in use by another ringmail engine" "$WORK/$file.err"
    verify "(a) $label stderr names the daemon's PID $D1" grep -qw "PID $D1" "$WORK/$file.err"
    verify "(a) $label started no workers and delivered nothing (stdout: $(head -c 200 "$WORK/$file.out"))" \
      eval '! grep -q "worker(s)" "$WORK/$file.err" && ! grep -Eq "delivered [1-9]" "$WORK/$file.out"'
  else
    verify "(a) $label still running 5 s after it started beside a daemon on the same spool" false
    kill -TERM "$pid" 2>/dev/null || true
    wait_exit "$pid" 15 || kill_hard "$pid"
  fi
done
if kill -0 "$D1" 2>/dev/null; then
  verify "(a) SPOOL/ringmail.lock holds the daemon's pid $D1 (holds '$(head -c 40 "$SPOOL/ringmail.lock" 2>/dev/null)')" \
    eval '[ "$(tr -d " \n" 2>/dev/null < "$SPOOL/ringmail.lock")" = "$D1" ]'
  verify "(a) SPOOL/ringmail.lock is flock()ed by the daemon" eval '[ -e "$SPOOL/ringmail.lock" ] && ! flock -n "$SPOOL/ringmail.lock" true'
else
  verify "(a) the daemon is still running after the refusals" false
fi
all_lock_delivered() { [ "$(spool_files "$SPOOL")" = 0 ] && [ "$(maildir_files "$MAILDIR")" -ge 100 ]; }
wait_until 60 all_lock_delivered || echo "note: (a) not everything delivered within 60 s: spool $(spool_files "$SPOOL"), Maildir $(maildir_files "$MAILDIR")"
kill -TERM "$D1" 2>/dev/null || true
if wait_exit "$D1" 10; then
  verify "(a) the daemon exits 0 on SIGTERM (got $EXIT_RC)" [ "$EXIT_RC" = 0 ]
else
  verify "(a) the daemon still running 10 s after SIGTERM" false
  kill_hard "$D1"
fi
out=$(msgid_check "$MAILDIR" lock 100) || true
verify "(a) each of the 100 messages delivered exactly once ($out)" msgid_check "$MAILDIR" lock 100
drain_bounded lock.after 20
verify "(a) after the daemon stopped the spool is free: run --drain exits 0 (got $DRAIN_RC: $(tail -2 "$WORK/lock.after.err" | tr '\n' ' '))" \
  [ "$DRAIN_RC" = 0 ]
stop_sink

# ============================================================================
# (b) not messages: FIFO, directory, socket, symlink, hard link
# ============================================================================
setup_case notmail
SECRET=$WORK/notmail/secret.eml
SECRET_SUBJECT="SECRET-$RANDOM$RANDOM-do-not-deliver"
mkdir -p "$SPOOL/incoming/new" "$SPOOL/incoming/tmp"
printf 'From: root@example.com\nTo: victim@example.org\nSubject: %s\nMessage-Id: <secret@ringmail.test>\n\nroot only\n' \
  "$SECRET_SUBJECT" > "$SECRET"
chmod 600 "$SECRET"
cp -p "$SECRET" "$WORK/notmail/secret.copy"
SECRET_INODE=$(stat -c %i "$SECRET")
NEW=$SPOOL/incoming/new
mkfifo "$NEW/nr-fifo"
mkdir "$NEW/nr-dir"
cp "$SECRET" "$NEW/nr-dir/inner"
"$PY" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$NEW/nr-socket"
ln -s "$SECRET" "$NEW/nr-symlink"
ln "$SECRET" "$NEW/nr-hardlink"
put_messages "$SPOOL" real 3
start_sink "$PORT" --maildir "$MAILDIR"
drain_bounded notmail 20
verify "(b) run --drain ends within 20 s (exit $DRAIN_RC; 124 = timed out)" eval '[ "$DRAIN_RC" != 124 ] && [ "$DRAIN_RC" != 137 ]'
verify "(b) run --drain exits 0: the refused entries are failed, not deferred (got $DRAIN_RC)" [ "$DRAIN_RC" = 0 ]
# empty_dirs DIR...: none of the directories has an entry.
empty_dirs() { [ -z "$(find "$@" -mindepth 1 -maxdepth 1 2>/dev/null)" ]; }
verify "(b) nothing left in incoming/new or active/ ($(find "$NEW" "$SPOOL/active" -mindepth 1 -maxdepth 1 | tr '\n' ' '))" \
  empty_dirs "$NEW" "$SPOOL/active"
verify "(b) failed/nr-fifo is the FIFO" test -p "$SPOOL/failed/nr-fifo"
verify "(b) failed/nr-dir is the directory, with its content" \
  eval '[ -d "$SPOOL/failed/nr-dir" ] && [ ! -L "$SPOOL/failed/nr-dir" ] && cmp -s "$SPOOL/failed/nr-dir/inner" "$SECRET"'
verify "(b) failed/nr-socket is the socket" test -S "$SPOOL/failed/nr-socket"
verify "(b) failed/nr-symlink is the symbolic link, not followed (-> $(readlink "$SPOOL/failed/nr-symlink" 2>/dev/null))" \
  eval '[ -L "$SPOOL/failed/nr-symlink" ] && [ "$(readlink "$SPOOL/failed/nr-symlink")" = "$SECRET" ]'
verify "(b) failed/nr-hardlink is the hard link (same inode $SECRET_INODE)" \
  eval '[ -f "$SPOOL/failed/nr-hardlink" ] && [ ! -L "$SPOOL/failed/nr-hardlink" ] && [ "$(stat -c %i "$SPOOL/failed/nr-hardlink")" = "$SECRET_INODE" ]'
for id in nr-fifo nr-dir nr-socket; do
  verify "(b) meta/$id reason says 'not a regular file' ('$(reason_of "$SPOOL" $id)')" reason_has "$SPOOL" $id "not a regular file"
done
verify "(b) meta/nr-symlink reason says 'symbolic link refused' ('$(reason_of "$SPOOL" nr-symlink)')" \
  reason_has "$SPOOL" nr-symlink "symbolic link refused"
verify "(b) meta/nr-hardlink reason says 'hard link refused' ('$(reason_of "$SPOOL" nr-hardlink)')" \
  reason_has "$SPOOL" nr-hardlink "hard link refused"
verify "(b) the linked file's content was never delivered ($(subject_count "$MAILDIR" "$SECRET_SUBJECT") copies; victim@ got $(grep -rl 'to=<victim@example.org>' "$MAILDIR/new" 2>/dev/null | wc -l))" \
  eval '[ "$(subject_count "$MAILDIR" "$SECRET_SUBJECT")" = 0 ] && ! grep -rqs "to=<victim@example.org>" "$MAILDIR/new"'
verify "(b) the linked file itself is untouched" cmp -s "$SECRET" "$WORK/notmail/secret.copy"
out=$(msgid_check "$MAILDIR" real 3) || true
verify "(b) the 3 real messages beside them delivered once each ($out)" msgid_check "$MAILDIR" real 3
"$RINGMAIL" queue -c "$CONF" --json > "$WORK/notmail.json" 2> "$WORK/notmail.json.err" || true
verify "(b) ringmail queue --json counts the 5 as failed and lists them with their reasons: $(head -c 600 "$WORK/notmail.json")" \
  "$PY" - "$WORK/notmail.json" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1], encoding="utf-8"))
except Exception as e:
    print("  not JSON: %s" % e)
    sys.exit(1)
want = {"nr-fifo": "not a regular file", "nr-dir": "not a regular file", "nr-socket": "not a regular file",
        "nr-symlink": "symbolic link refused", "nr-hardlink": "hard link refused"}
counts = report["counts"]
listed = {e["id"]: e["reason"] for e in report["failed"]}
ok = counts["failed"] == 5 and counts["incoming"] == 0 and counts["active"] == 0 and set(listed) == set(want)
ok = ok and all(want[i] in listed[i] for i in want)
if not ok:
    print("  counts %s, failed listed %s" % (counts, listed))
sys.exit(0 if ok else 1)
PY
stop_sink

# ============================================================================
# (c) 100 FIFOs, then 5 real messages
# ============================================================================
setup_case fifos
mkdir -p "$SPOOL/incoming/new"
for ((i = 0; i < 100; i++)); do mkfifo "$SPOOL/incoming/new/$(printf 'fifo%03d' "$i")"; done
put_messages "$SPOOL" fiforeal 5
start_sink "$PORT" --maildir "$MAILDIR"
drain_bounded fifos 30
verify "(c) run --drain over 100 FIFOs ends within 30 s with exit 0 (got $DRAIN_RC; 124 = timed out)" [ "$DRAIN_RC" = 0 ]
out=$(msgid_check "$MAILDIR" fiforeal 5) || true
verify "(c) the 5 real messages delivered once each ($out)" msgid_check "$MAILDIR" fiforeal 5
verify "(c) the 100 FIFOs are in failed/ as FIFOs ($(find "$SPOOL/failed" -type p 2>/dev/null | wc -l))" \
  eval '[ "$(find "$SPOOL/failed" -maxdepth 1 -type p -name "fifo*" | wc -l)" = 100 ]'
verify "(c) incoming/new and active/ are empty" empty_dirs "$SPOOL/incoming/new" "$SPOOL/active"
stop_sink

# ============================================================================
# (d) a 64-character name
# ============================================================================
setup_case longname
LONG=$(printf 'L%.0s' $(seq 64))
mkdir -p "$SPOOL/incoming/new" "$SPOOL/incoming/tmp"
printf 'X-Ringmail-To: <ops@example.org>\nFrom: alerts@example.com\nSubject: long-name-message\n\nbody\n' > "$SPOOL/incoming/tmp/$LONG"
cp "$SPOOL/incoming/tmp/$LONG" "$WORK/longname/copy"
mv "$SPOOL/incoming/tmp/$LONG" "$SPOOL/incoming/new/$LONG"
put_messages "$SPOOL" longreal 2
start_sink "$PORT" --maildir "$MAILDIR"
drain_bounded longname 20
verify "(d) run --drain exits 0 (got $DRAIN_RC)" [ "$DRAIN_RC" = 0 ]
verify "(d) stderr names the 64-character file with 'not a valid message name': $(grep -i 'valid' "$WORK/longname.err" | head -1)" \
  line_with "$WORK/longname.err" "$LONG" "not a valid message name"
verify "(d) the file stays in incoming/new unchanged" cmp -s "$SPOOL/incoming/new/$LONG" "$WORK/longname/copy"
verify "(d) it was not delivered" eval '[ "$(subject_count "$MAILDIR" long-name-message)" = 0 ]'
out=$(msgid_check "$MAILDIR" longreal 2) || true
verify "(d) the real messages beside it delivered ($out)" msgid_check "$MAILDIR" longreal 2
stop_sink

# ============================================================================
# (e) the delivered file cannot be removed twice (daemon)
# ============================================================================
setup_case unlink
start_sink "$PORT" --maildir "$MAILDIR"
RINGMAIL_FAULT_UNLINK=2 start_daemon unlink
put_messages "$SPOOL" unlink 1
wait_until 10 msgid_check "$MAILDIR" unlink 1 > /dev/null || echo "note: (e) the message was not delivered within 10 s"
gone() {
  [ ! -e "$SPOOL/active/unlink000000" ] && [ ! -e "$SPOOL/hold/unlink000000" ] && [ "$(spool_files "$SPOOL")" = 0 ] \
    && [ ! -e "$SPOOL/meta/unlink000000" ]
}
wait_until 15 gone || true
verify "(e) within 15 s of delivery the file and its meta are gone (active: $(ls "$SPOOL/active" | tr '\n' ' '), hold: $(ls "$SPOOL/hold" 2>/dev/null | tr '\n' ' '), meta: $(ls "$SPOOL/meta" | tr '\n' ' '))" gone
verify "(e) stderr says it cannot remove the file: Input/output error ($(grep -i 'remove' "$WORK/unlink.err" | head -1))" \
  line_with "$WORK/unlink.err" "cannot remove" "Input/output error"
kill -TERM "$DAEMON_PID" 2>/dev/null || true
if wait_exit "$DAEMON_PID" 10; then
  verify "(e) daemon exits 0 on SIGTERM (got $EXIT_RC)" [ "$EXIT_RC" = 0 ]
else
  verify "(e) daemon still running 10 s after SIGTERM" false
  kill_hard "$DAEMON_PID"
fi
out=$(msgid_check "$MAILDIR" unlink 1) || true
verify "(e) delivered exactly once: the removal is retried, not the delivery ($out)" msgid_check "$MAILDIR" unlink 1
stop_sink

# ============================================================================
# (f) the delivered file can never be removed (drain)
# ============================================================================
setup_case unlinkdrain
put_messages "$SPOOL" undrain 1
start_sink "$PORT" --maildir "$MAILDIR"
drain_bounded undrain1 30 RINGMAIL_FAULT_UNLINK=1000000
echo "(f) first drain: exit $DRAIN_RC; $(cat "$WORK/undrain1.out"); state: $(cd "$SPOOL" && find . -type f -o -type l | tr '\n' ' ')"
verify "(f) run --drain exits non-zero when a delivered file cannot be removed (got $DRAIN_RC)" \
  eval '[ "$DRAIN_RC" != 0 ] && [ "$DRAIN_RC" != 124 ] && [ "$DRAIN_RC" -lt 128 ]'
out=$(msgid_check "$MAILDIR" undrain 1) || true
verify "(f) the message was delivered once ($out)" msgid_check "$MAILDIR" undrain 1
drain_bounded undrain2 30
echo "(f) second drain (no hook): exit $DRAIN_RC; $(cat "$WORK/undrain2.out")"
out=$(msgid_check "$MAILDIR" undrain 1) || true
verify "(f) a second drain delivers nothing more ($out)" msgid_check "$MAILDIR" undrain 1
held_or_gone() {
  local id=undrain000000 s
  for s in incoming/new active deferred failed; do [ ! -e "$SPOOL/$s/$id" ] || return 1; done
  if [ -e "$SPOOL/hold/$id" ]; then
    grep -qx "done ops@example.org" "$SPOOL/meta/$id" 2>/dev/null
  else
    [ ! -e "$SPOOL/meta/$id" ]
  fi
}
verify "(f) the message is in hold/ with meta/ID marking ops@ done, or gone (files: $(cd "$SPOOL" && find . -type f | tr '\n' ' '))" \
  held_or_gone
stop_sink

verify_summary spool_hardening_test
