#!/bin/bash
# tests/e2e/interop_aiosmtpd_test.sh — interoperability with an SMTP server
# nobody on this project wrote: Debian's python3-aiosmtpd (run by
# aiosmtpd_server.py with /usr/bin/python3; no PIPELINING, so the engine
# talks one command at a time). 200 spool files: 1 to 4 recipients, the
# null sender, dot lines (".", "..", ".x"), CRLF files, no final line end,
# a bare CR, 8-bit UTF-8 and Latin-1 bodies, a 998-byte line, a headers-only
# message, and a ~300 KB message (more than the engine's 64 KiB read chunks
# and its 256 KiB output buffer) with a dot line, a split CRLF and a lone "."
# line placed exactly on the 64 KiB chunk boundaries. One `run --drain`;
# then what aiosmtpd received (envelope.content: CRLF kept, dot-stuffing
# removed) must equal each file minus its preamble with line ends made CRLF
# (compare_maildir.py), and the spool must be empty.
#
# Usage: bash tests/e2e/interop_aiosmtpd_test.sh /path/to/ringmail
# SKIP (exit 77, ctest's SKIP_RETURN_CODE for the e2e tests) when
# python3-aiosmtpd is not installed; CI installs it (tools/install_deps.sh),
# so there it really runs. Bounded waits; writes only in its temporary folder.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import aiosmtpd' 2>/dev/null; then
  echo "SKIP: python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)"
  exit 77
fi

COUNT=200
SPOOL=$WORK/spool
CONF=$WORK/ringmail.toml
PORT=$(free_port)
write_config "$CONF" "$SPOOL" "$PORT"

# --- the spool: written here (tmp + rename), a copy of each kept ---------------
"$PYTHON" - "$SPOOL" "$WORK/samples" "$COUNT" <<'PY' || fail "cannot write the spool"
import os, sys
spool, samples, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for d in ("incoming/tmp", "incoming/new"):
    os.makedirs(os.path.join(spool, d), exist_ok=True)
os.makedirs(samples, exist_ok=True)
CHUNK = 65536  # the engine's first read (kMaxHeadBytes) and each later read

def pad_to(buf, target):
    """Appends LF-terminated filler lines (< 1000 bytes) until len(buf) == target."""
    assert target - len(buf) > 300
    n = 0
    while target - len(buf) > 300:
        buf += b"y%07d" % n + b"y" * 91 + b"\n"
        n += 1
    buf += b"z" * (target - len(buf) - 1) + b"\n"
    assert len(buf) == target
    return buf

def message(i):
    rcpts = ["r%d-%d@example.org" % (i, k) for k in range(1 + i % 4)]
    if i % 7 == 0:
        rcpts.append("other%d@example.net" % i)
    sender = "" if i == 42 else "alerts%d@example.com" % (i % 3)
    pre = b"X-Ringmail-From: <%s>\n" % sender.encode() + b"".join(b"X-Ringmail-To: <%s>\n" % r.encode() for r in rcpts)
    head = b"From: alerts@example.com\nTo: %s\nSubject: interop %d\nMessage-Id: <interop-%d@ringmail.test>\n" % (
        ", ".join(rcpts).encode(), i, i)
    kind = i % 10
    if i == 100:  # the big one: special bytes on each 64 KiB boundary
        buf = pre + head + b"\n"
        buf = pad_to(buf, CHUNK)
        buf += b".dot line starting a chunk\n"
        buf = pad_to(buf, 2 * CHUNK - 11)
        buf += b"w" * 10 + b"\r\n"          # the CR ends chunk 2, its LF starts chunk 3
        assert buf[2 * CHUNK - 1:2 * CHUNK + 1] == b"\r\n"
        buf = pad_to(buf, 3 * CHUNK)
        buf += b".\n..\n"                  # a lone "." line at a chunk start
        buf = pad_to(buf, 4 * CHUNK - 1)
        buf += b".\r\n"                     # "." is the last byte of chunk 4
        buf = pad_to(buf, 300_000)
        return pre, buf + b"end of the big message\n"
    if kind == 3:  # dot lines, CRLF file
        body = b".\n..\n.x\n...\nplain\n. \n"
        return pre, (pre + head + b"\n" + body).replace(b"\n", b"\r\n")
    if kind == 5:  # 8-bit UTF-8 (headers and body)
        body = "Grüße aus Köln — Störung behoben ✓ 日本語のテキスト\n.ünïcode dot line\n".encode()
        return pre, pre + head.replace(b"Subject: interop", "Subject: Störung interop".encode()) + b"\n" + body
    if kind == 6 and i % 20 == 6:  # Latin-1, not UTF-8
        return pre, pre + head + b"\nBesch\xe4digt: caf\xe9 \xff\xfe\n"
    if kind == 7:  # no final line end, a bare CR
        return pre, pre + head + b"\nbare\rCR here\nno final line end"
    if kind == 8:  # a 998-byte line (the RFC 5321 limit, aiosmtpd enforces it)
        return pre, pre + head + b"\n" + b"L" * 998 + b"\n.\n"
    if kind == 9:  # headers only: no empty line, no body
        return pre, pre + head
    body = b"".join(b"line %d of alert %d\n" % (n, i) for n in range(i % 50)) + b".leading dot\n"
    return pre, pre + head + b"\n" + body

for i in range(count):
    _, data = message(i)
    name = "interop%04d" % i
    with open(os.path.join(samples, name), "wb") as f:
        f.write(data)
    tmp = os.path.join(spool, "incoming/tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(spool, "incoming/new", name))
PY
big=$(stat -c %s "$WORK/samples/interop0100")
[ "$big" -gt 262144 ] || fail "the big message is only $big bytes"
pass "queued $COUNT messages (largest $big bytes)"

# --- aiosmtpd -----------------------------------------------------------------------
"$PYTHON" "$E2E_DIR/aiosmtpd_server.py" "$PORT" "$WORK/received" > "$WORK/aiosmtpd.log" 2>&1 &
AIO_PID=$!
PIDS+=("$AIO_PID")
wait_for_line "$WORK/aiosmtpd.log" "listening on" 20 || fail "aiosmtpd did not start: $(cat "$WORK/aiosmtpd.log")"

status=0
timeout -k 10 120 "$RINGMAIL" run --config "$CONF" --drain > "$WORK/run.out" 2> "$WORK/run.err" || status=$?
kill -TERM "$AIO_PID" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$AIO_PID" 2>/dev/null || break; sleep 0.1; done
wait "$AIO_PID" 2>/dev/null || true
[ "$status" = 0 ] || fail "run --drain exited $status: $(tail -5 "$WORK/run.err") $(cat "$WORK/run.out")"
grep -q "^ringmail: delivered $COUNT, partial 0, deferred 0, failed 0 in " "$WORK/run.out" \
  || fail "run summary: $(cat "$WORK/run.out"); $(tail -5 "$WORK/run.err")"
pass "run --drain into aiosmtpd exited 0: $(cat "$WORK/run.out")"

# --- compare ----------------------------------------------------------------------------
"$PYTHON" "$E2E_DIR/compare_maildir.py" "$WORK/received" "$COUNT" "$WORK"/samples/* \
  || fail "what aiosmtpd received differs from the spool (see above)"
"$PYTHON" - "$WORK/received/envelopes.jsonl" <<'PY' || fail "envelope log check failed"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
null = [r for r in rows if r["mail_from"] == "<>"]
assert len(null) == 1 and null[0]["rcpt_tos"] == ["r42-0@example.org", "r42-1@example.org", "r42-2@example.org", "other42@example.net"], null
big = [r for r in rows if r["content_bytes"] > 262144]
assert len(big) == 1, [r["content_bytes"] for r in rows][:10]
multi = [r for r in rows if len(r["rcpt_tos"]) > 1]
assert len(multi) >= 100, len(multi)
print("PASS: envelopes: null sender, %d multi-recipient messages, one of %d bytes" % (len(multi), big[0]["content_bytes"]))
PY

left=$(find "$SPOOL/incoming/new" "$SPOOL/active" "$SPOOL/deferred" "$SPOOL/failed" "$SPOOL/meta" -type f | wc -l)
[ "$left" = 0 ] || fail "$left files left in the spool"
pass "spool empty"
echo "PASS: interop_aiosmtpd_test"
