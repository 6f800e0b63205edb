#!/bin/bash
# tests/e2e/malformed_spool_test.sh — malformed spool files next to good
# ones, with the real binary. `run --drain` must deliver the good ones, move
# every bad one byte-for-byte unchanged to failed/ with a `reason` line in
# meta/ID that names the problem, never crash, never delete a file, never
# claim a name no producer may use, and exit 0 (nothing deferred);
# `ringmail queue` (text and --json) must list each failed message with
# its reason.
#
# Bad files: empty; no recipients; a bad recipient address; an unknown
# X-Ringmail-Foo field; binary garbage (NULs, random bytes); an empty
# X-Ringmail-From; a preamble line after a header; an address without '@';
# a To: address split by a comment; more than 1000 recipients;
# a header section longer than 64 KiB; a deferred message whose meta file
# is garbage. Ignored names: ".hidden" (a producer's temporary) and a
# 64-byte id (over the 63-byte limit): they must stay where they are.
#
# Usage: bash tests/e2e/malformed_spool_test.sh /path/to/ringmail
# Bounded waits; writes only in its temporary folder.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
SPOOL=$WORK/spool
CONF=$WORK/ringmail.toml
PORT=$(free_port)
GOOD=10
write_config "$CONF" "$SPOOL" "$PORT"
make_spool "$SPOOL" "$GOOD" 1024 ok@example.org

# --- the bad files (name, expected words in the reason) ----------------------------
# CASES is "ID|regex the reason must match" per line; the files are written
# by the Python below with the same ids.
CASES='bad-empty|empty
bad-norcpt|no recipients
bad-address|a b@example\.org.*space
bad-unknown-field|unknown envelope field X-Ringmail-Foo
bad-binary|malformed spool file: [a-z]
bad-empty-from|X-Ringmail-From
bad-late-preamble|X-Ringmail-To
bad-no-at|no .@.
bad-split-rcpt|john.*split by a comment
bad-too-many|more than 1000 recipients
bad-long-header|65536
bad-meta|meta/bad-meta is malformed'

"$PYTHON" - "$SPOOL" "$WORK/copies" <<'PY' || fail "cannot write the bad files"
import os, random, sys
spool, copies = sys.argv[1], sys.argv[2]
os.makedirs(copies, exist_ok=True)
for d in ("incoming/tmp", "incoming/new", "deferred", "meta"):
    os.makedirs(os.path.join(spool, d), exist_ok=True)
rng = random.Random(1234)
garbage = bytes(rng.randrange(256) for _ in range(4096)) + b"\0\0\0X-Ringmail-To: <\xff@\xfe>\n"
files = {
    "bad-empty": b"",
    "bad-norcpt": b"From: alerts@example.com\nSubject: nobody\n\nbody\n",
    "bad-address": b"X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <a b@example.org>\n\nbody\n",
    "bad-unknown-field": b"X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <ok@example.org>\nX-Ringmail-Foo: bar\n\nbody\n",
    "bad-binary": garbage,
    "bad-empty-from": b"X-Ringmail-From:\nX-Ringmail-To: <ok@example.org>\n\nbody\n",
    "bad-late-preamble": b"X-Ringmail-From: <alerts@example.com>\nFrom: alerts@example.com\nX-Ringmail-To: <ok@example.org>\n\nbody\n",
    "bad-no-at": b"X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <nobody.example.org>\n\nbody\n",
    "bad-split-rcpt": b"From: alerts@example.com\nTo: john(c)@example.org\n\nbody\n",
    "bad-too-many": b"X-Ringmail-From: <alerts@example.com>\n" + b"".join(b"X-Ringmail-To: <r%d@example.org>\n" % i for i in range(1001)) + b"\nbody\n",
    "bad-long-header": b"From: alerts@example.com\nTo: ok@example.org\nX-Long: " + b"a" * 70000 + b"\n\nbody\n",
}
def put(state, name, data):
    with open(os.path.join(copies, name), "wb") as f:
        f.write(data)
    tmp = os.path.join(spool, "incoming/tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(spool, state, name))
for name, data in files.items():
    put("incoming/new", name, data)
# A good message in deferred/ whose meta record is garbage.
put("deferred", "bad-meta", b"X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <ok@example.org>\n\nbody\n")
with open(os.path.join(spool, "meta", "bad-meta"), "wb") as f:
    f.write(b"attempts many\n\x00\x01garbage record\n")
# Good messages the engine must deliver: one more with recipients from headers.
put("incoming/new", "good-headers", b"From: Alerts <alerts@example.com>\nTo: \"Doe, J\" <j@example.org>, k@example.org\nSubject: good\n\nbody\n")
# Names the engine must ignore (not message ids): left where they are.
with open(os.path.join(spool, "incoming/new", ".hidden"), "wb") as f:
    f.write(b"X-Ringmail-To: <ok@example.org>\n\nbody\n")
with open(os.path.join(spool, "incoming/new", "L" * 64), "wb") as f:
    f.write(b"X-Ringmail-To: <ok@example.org>\n\nbody\n")
PY
ngood=$((GOOD + 1))
nbad=$(echo "$CASES" | wc -l)

# --- run -------------------------------------------------------------------------------
start_sink "$PORT"
status=0
timeout -k 10 60 "$RINGMAIL" run --config "$CONF" --drain > "$WORK/run.out" 2> "$WORK/run.err" || status=$?
stop_sink
FAILED=0
check() { if eval "$2"; then pass "$1"; else echo "FAIL: $1 ($3)"; FAILED=1; fi; }

check "run --drain exit 0 (nothing deferred)" '[ "$status" = 0 ]' \
  "exit $status; $(grep -v '→ failed/' "$WORK/run.err" | tail -5)"
check "no crash report on stderr" '! grep -qiE "assert|sanitizer|terminate|segmentation|abort" "$WORK/run.err"' \
  "$(grep -iE 'assert|sanitizer|terminate|segmentation|abort' "$WORK/run.err" | head -3)"
check "summary: delivered $ngood, failed $nbad" \
  'grep -q "^ringmail: delivered $ngood, partial 0, deferred 0, failed $nbad in " "$WORK/run.out"' "$(cat "$WORK/run.out")"
check "sink got the $ngood good messages" '[ "$(sink_count)" = "$ngood" ]' "sink counted $(sink_count)"
check "nothing left in active/, deferred/ or incoming/new (but the ignored names)" \
  '[ "$(count_in "$SPOOL" active)" = 0 ] && [ "$(count_in "$SPOOL" deferred)" = 0 ] && [ "$(ls -A "$SPOOL/incoming/new" | sort | tr "\n" " ")" = ".hidden LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL " ]' \
  "active $(count_in "$SPOOL" active), deferred $(count_in "$SPOOL" deferred), incoming/new: $(ls -A "$SPOOL/incoming/new" | head -5 | tr '\n' ' ')"
check "failed/ holds exactly the $nbad bad files" '[ "$(count_in "$SPOOL" failed)" = "$nbad" ]' \
  "failed/: $(ls "$SPOOL/failed" | tr '\n' ' ')"

"$RINGMAIL" queue -c "$CONF" > "$WORK/queue.out" 2>&1 || echo "FAIL: ringmail queue exited $?" >> "$WORK/queue.out"
"$RINGMAIL" queue -c "$CONF" --json > "$WORK/queue.json" 2>&1 || true
while IFS='|' read -r id want; do
  if ! cmp -s "$SPOOL/failed/$id" "$WORK/copies/$id"; then
    echo "FAIL: $id: not in failed/ unchanged (exists: $([ -e "$SPOOL/failed/$id" ] && echo yes || echo no))"
    FAILED=1
    continue
  fi
  reason=$(sed -n 's/^reason //p' "$SPOOL/meta/$id" 2>/dev/null | head -1)
  if [ -z "$reason" ] || ! grep -qE -- "$want" <<<"$reason"; then
    echo "FAIL: $id: meta reason '$reason' does not match /$want/"
    FAILED=1
    continue
  fi
  if ! grep -qF -- "$id" "$WORK/queue.out" || ! grep -F -- "$id" "$WORK/queue.out" | grep -qE -- "$want"; then
    echo "FAIL: $id: \`ringmail queue\` does not list it with its reason: $(grep -F -- "$id" "$WORK/queue.out")"
    FAILED=1
    continue
  fi
  pass "$id → failed/ unchanged, reason: $reason"
done <<<"$CASES"

"$PYTHON" - "$WORK/queue.json" "$nbad" <<'PY' || { echo "FAIL: queue --json: $(head -c 400 "$WORK/queue.json")"; FAILED=1; }
import json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))  # must be valid UTF-8 JSON
failed = report["failed"]
assert report.get("failed_more", 0) == 0 and len(failed) == int(sys.argv[2]), (len(failed), report.get("failed_more"))
assert all(e["reason"] for e in failed), failed
print("PASS: queue --json is valid and lists %d failed messages with reasons" % len(failed))
PY

[ "$FAILED" = 0 ] || { echo "FAIL: malformed_spool_test"; exit 1; }
echo "PASS: malformed_spool_test"
