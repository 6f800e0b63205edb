#!/bin/bash
# tests/e2e/disk_full_test.sh — a full spool file system, end to end with the
# real binary. In a private mount namespace (unshare -m) the spool is a 4 MB
# tmpfs. Messages to a@example.org and b@example.org are queued with
# `ringmail inject` until it fails with ENOSPC, and the rest of the file
# system is filled but for one page, so the outcomes of (nearly) all the
# messages cannot be recorded (meta/ID cannot be written). The sink accepts a@ and answers 451 to b@ (every message is
# partly delivered, then must be deferred). Then `ringmail run --drain`
# three times. Asserted:
#   - the first drain exits non-zero (not a crash, not a timeout), and its
#     stderr says "No space left on device" on a line naming a path in the
#     spool; no drain's stderr says "Operation canceled";
#   - across the three drains each message reached a@ at most once (an
#     outcome that could not be recorded must not be attempted again: the
#     engine puts such messages in hold/), and at least one reached a@ (else
#     the case proves nothing); b@ got nothing;
#   - nothing is lost: every queued message is in exactly one of
#     incoming/new, active, deferred, failed, hold (or was delivered to both
#     recipients).
# Needs root, unshare and a tmpfs mount: exits 77 (skip) without them.
#
# Usage: bash tests/e2e/disk_full_test.sh /path/to/ringmail   (one ctest test)
# Loopback only; the tmpfs exists only in the test's own mount namespace;
# every wait is bounded.
if [ "${RINGMAIL_E2E_PRIVATE_MOUNTS:-0}" != 1 ]; then
  : "${1:?usage: $0 /path/to/ringmail}"
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: disk_full_test needs root (it mounts a tmpfs in a private mount namespace)"
    exit 77
  fi
  if ! command -v unshare > /dev/null; then
    echo "SKIP: disk_full_test needs unshare (util-linux)"
    exit 77
  fi
  if ! unshare -m --propagation private true 2> /dev/null; then
    echo "SKIP: disk_full_test: unshare -m is not permitted here"
    exit 77
  fi
  RINGMAIL_E2E_PRIVATE_MOUNTS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
FS=$WORK/fs
mkdir "$FS"
if ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$FS" 2> "$WORK/mount.err"; then
  echo "SKIP: disk_full_test: cannot mount a tmpfs: $(cat "$WORK/mount.err")"
  exit 77
fi
disk_full_cleanup() {
  if [ "${KEEP_WORK:-0}" = 1 ]; then cp -a "$FS" "$WORK/fs-copy" 2> /dev/null || true; fi
  umount -l "$FS" 2> /dev/null || true
  cleanup
}
trap disk_full_cleanup EXIT

SPOOL=$FS/spool
MAILDIR=$WORK/maildir
CONF=$WORK/ringmail.toml
PORT=$(free_port)
write_config "$CONF" "$SPOOL" "$PORT"
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply b@example.org=451

# One drain of the empty spool first: it creates the spool (and whatever the
# engine keeps there, e.g. ringmail.lock) while there is room, so the full
# file system below hits recording outcomes, not starting up.
rc=0
timeout -k 5 30 "$RINGMAIL" run --drain -c "$CONF" > "$WORK/prime.out" 2> "$WORK/prime.err" || rc=$?
[ "$rc" = 0 ] || fail "drain of the empty spool exit $rc: $(cat "$WORK/prime.err")"

# --- fill the spool ----------------------------------------------------------
# A reserve of 16 pages, taken now and partly given back at the end, so
# exactly one page is free when the drains start, whatever the last inject
# left.
head -c 65536 /dev/zero > "$FS/reserve" || fail "cannot write the reserve file"
BODY=$("$PY" -c 'print("\n".join("line %04d " % i + "x" * 66 for i in range(200)))')  # ~16 KB
queued=0
inject_rc=0
while [ "$queued" -lt 1000 ]; do
  {
    printf 'From: alerts@example.com\nTo: a@example.org, b@example.org\nSubject: disk %d\n' "$queued"
    printf 'Message-Id: <disk-%d@ringmail.test>\n\n%s\n' "$queued" "$BODY"
  } | "$RINGMAIL" inject -c "$CONF" a@example.org b@example.org 2> "$WORK/inject.err" || inject_rc=$?
  [ "$inject_rc" = 0 ] || break
  queued=$((queued + 1))
done
[ "$inject_rc" != 0 ] || fail "1000 messages of 16 KB fit in a 4 MB tmpfs?"
grep -q "No space left on device" "$WORK/inject.err" \
  || fail "inject failed (exit $inject_rc) but not with ENOSPC: $(cat "$WORK/inject.err")"
[ "$queued" -ge 20 ] || fail "only $queued messages fit before ENOSPC"
verify "inject that hit ENOSPC left no temporary file ($(ls -A "$SPOOL/incoming/tmp" | head -3 | tr '\n' ' '))" \
  eval '[ -z "$(ls -A "$SPOOL/incoming/tmp")" ]'
# Take what room is left (less than one message) but one page: enough for
# one small file (a meta record, or a start-up file the engine rewrites),
# never for the outcomes of all the messages.
cat /dev/zero > "$FS/filler" 2> /dev/null || true
truncate -s 61440 "$FS/reserve"
free_bytes=$(df --output=avail -B1 "$FS" | tail -1 | tr -d ' ')
[ "$free_bytes" = 4096 ] || fail "the spool file system has $free_bytes bytes free, want one page (4096)"
echo "queued $queued messages, inject then failed with exit $inject_rc ($(cat "$WORK/inject.err")); free: $free_bytes bytes"

# --- three drains ------------------------------------------------------------
for d in 1 2 3; do
  rc=0
  timeout -k 5 60 "$RINGMAIL" run --drain -c "$CONF" > "$WORK/drain$d.out" 2> "$WORK/drain$d.err" || rc=$?
  eval "DRAIN${d}_RC=$rc"
  echo "drain $d: exit $rc; $(cat "$WORK/drain$d.out"); Maildir $(maildir_files "$MAILDIR")"
  echo "drain $d: stderr ($(wc -l < "$WORK/drain$d.err") lines): $(head -4 "$WORK/drain$d.err" | cut -c1-200)"
done

verify "the drains all end within 60 s (exits $DRAIN1_RC $DRAIN2_RC $DRAIN3_RC; 124/137 = timed out)" \
  eval '[ "$DRAIN1_RC" != 124 ] && [ "$DRAIN2_RC" != 124 ] && [ "$DRAIN3_RC" != 124 ] && [ "$DRAIN1_RC" != 137 ] && [ "$DRAIN2_RC" != 137 ] && [ "$DRAIN3_RC" != 137 ]'
verify "the first drain exits non-zero, without a crash (got $DRAIN1_RC)" \
  eval '[ "$DRAIN1_RC" != 0 ] && [ "$DRAIN1_RC" -lt 128 ]'
nospace_line() {
  "$PY" - "$WORK/drain1.err" "$SPOOL" <<'PY'
import re, sys
spool = sys.argv[2]
path = re.compile(r"(%s/|(^|[\s'\"(])(incoming/(new|tmp)|active|deferred|failed|hold|meta)/)" % re.escape(spool))
lines = open(sys.argv[1], errors="replace").read().split("\n")
sys.exit(0 if any("No space left on device" in l and path.search(l) for l in lines) else 1)
PY
}
verify "the first drain's stderr says 'No space left on device' naming a spool path: $(grep -m1 'No space left' "$WORK/drain1.err" | cut -c1-200)" \
  nospace_line
verify "no drain says 'Operation canceled' ($(cat "$WORK"/drain[123].err | grep -c 'Operation canceled') lines)" \
  eval '! grep -q "Operation canceled" "$WORK"/drain[123].err'

verify "across 3 drains each message reached a@ at most once, and some did; b@ got none" \
  "$PY" - "$MAILDIR" "$queued" <<'PY'
import os, re, sys
maildir, queued = sys.argv[1], int(sys.argv[2])
pat = re.compile(rb"^Message-Id: <disk-(\d+)@ringmail\.test>", re.M | re.I)
a, b = {}, {}
for name in os.listdir(os.path.join(maildir, "new")):
    with open(os.path.join(maildir, "new", name), "rb") as f:
        head = f.read(8192)
    env = head.split(b"\r\n", 1)[0].decode("latin-1")
    rcpts = env.split(" to=", 1)[-1].split(",")
    m = pat.search(head)
    n = int(m.group(1)) if m else -1
    if "<a@example.org>" in rcpts:
        a[n] = a.get(n, 0) + 1
    if "<b@example.org>" in rcpts:
        b[n] = b.get(n, 0) + 1
dups = {n: c for n, c in a.items() if c > 1}
print("  a@: %d messages, %d copies, %d sent more than once (e.g. %s); b@: %d copies"
      % (len(a), sum(a.values()), len(dups), sorted(dups.items())[:5], sum(b.values())))
sys.exit(0 if a and not dups and not b and all(0 <= n < queued for n in a) else 1)
PY

verify "nothing lost: each queued message in exactly one state directory (or delivered to both)" \
  "$PY" - "$SPOOL" "$MAILDIR" "$queued" <<'PY'
import os, re, sys
spool, maildir, queued = sys.argv[1], sys.argv[2], int(sys.argv[3])
pat = re.compile(rb"^Message-Id: <disk-(\d+)@ringmail\.test>", re.M | re.I)
where = {}
tally = {}
for state in ("incoming/new", "active", "deferred", "failed", "hold"):
    d = os.path.join(spool, state)
    for name in os.listdir(d) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), "rb") as f:
            m = pat.search(f.read(8192))
        n = int(m.group(1)) if m else -1
        where.setdefault(n, []).append(state)
        tally[state] = tally.get(state, 0) + 1
both = set()
for name in os.listdir(os.path.join(maildir, "new")):
    with open(os.path.join(maildir, "new", name), "rb") as f:
        head = f.read(8192)
    m = pat.search(head)
    if m and b"<b@example.org>" in head.split(b"\r\n", 1)[0]:
        both.add(int(m.group(1)))
lost = [n for n in range(queued) if n not in where and n not in both]
twice = {n: s for n, s in where.items() if len(s) > 1}
stray = [n for n in where if not 0 <= n < queued]
print("  states %s; lost %d (e.g. %s); in two places %d (e.g. %s); unknown files %d"
      % (tally, len(lost), lost[:5], len(twice), list(twice.items())[:3], len(stray)))
sys.exit(0 if not lost and not twice and not stray else 1)
PY

stop_sink
verify_summary disk_full_test
