#!/bin/bash
# tests/e2e/protocol_extensions_test.sh — the SMTP client's use of ESMTP
# extensions and its wire form, with the real binary against `ringmail sink`
# (issue 6):
#   (a) SMTPUTF8 offered: a message from and to ü@例え.jp goes out with
#       SMTPUTF8 (the sink refuses non-ASCII addresses without it);
#   (b) --no-smtputf8: the non-ASCII recipient fails ("does not offer
#       SMTPUTF8"), the ASCII one is delivered; a non-ASCII sender fails the
#       message; non-ASCII only in a header goes out anyway;
#   (c) 8BITMIME offered: an 8-bit body goes with BODY=8BITMIME;
#   (d) --no-8bitmime: an 8-bit message fails before MAIL, a 7-bit one is
#       delivered; an 8-bit byte after the first 64 KiB fails its message
#       while streaming; their two bounces reach the sink (a bounce is 7-bit);
#   (e) --size-limit 10240: a 20 KB and a 300 KB (streamed) message fail ("accepts at most 10240
#       (SIZE)") without being sent, a small one is delivered;
#   (f) a bare CR before a Bcc header: Bcc is stripped on the wire;
#   (g) a 1 MB header line and a 1 MB body line, over DATA and BDAT: no
#       line on the wire over 1000 octets, content intact once the inserted
#       breaks are removed.
#
# Usage: bash tests/e2e/protocol_extensions_test.sh /path/to/ringmail
# Every wait is bounded; everything lives in the temporary folder.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
FAILED=0
part_fail() { echo "FAIL: $*"; FAILED=1; }

new_case() {
  CASE=$1
  setup_case "$CASE"
  rm -f "$WORK/sink-stats.json"
}

put() { "$PYTHON" "$E2E_DIR/put_message.py" "$SPOOL" "$@"; }

# drain: one `run --drain` with the transcript on; sets STATUS.
drain() {
  STATUS=0
  env RINGMAIL_TRACE=1 timeout -k 10 120 "$RINGMAIL" run --config "$CONF" --drain \
    > "$WORK/$CASE/run.out" 2> "$WORK/$CASE/run.err" || STATUS=$?
}

# has_reason TEXT: the reason shows in the spool's meta records.
has_reason() { grep -rqF "$1" "$SPOOL/meta" 2>/dev/null; }

# maildir_grep PATTERN: how many Maildir files contain PATTERN (fixed string).
maildir_grep() { grep -rlF -- "$1" "$MAILDIR/new" 2>/dev/null | wc -l; }

UTF8_ADDR='\u00fc@\u4f8b\u3048.jp'

# --- (a) SMTPUTF8 offered ---------------------------------------------------------------
new_case smtputf8
put m1 "X-Ringmail-From: <$UTF8_ADDR>\nX-Ringmail-To: <$UTF8_ADDR>\nX-Ringmail-To: <ops@example.org>\nSubject: hi\n\nbody\n"
start_sink "$PORT" --maildir "$MAILDIR"
drain
stop_sink
if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 1 ] && [ "$(stats_field smtputf8)" = 1 ] &&
   [ "$(stats_field recipients)" = 2 ] && grep -q 'C: "MAIL FROM:<[^>]*> SIZE=[0-9]* SMTPUTF8' "$WORK/$CASE/run.err"; then
  pass "(a) SMTPUTF8: non-ASCII envelope sent with SMTPUTF8, 2 of 2 recipients accepted"
else
  part_fail "(a) SMTPUTF8: status $STATUS, sink $(sink_count), smtputf8 $(stats_field smtputf8 2>/dev/null); $(grep 'MAIL FROM' "$WORK/$CASE/run.err" | head -2)"
fi

# --- (b) SMTPUTF8 not offered -----------------------------------------------------------------
new_case no_smtputf8
# No bounces here: their counts are not what this case is about
# (tests/e2e/bounce_test.sh); (d) below keeps them on.
printf '[bounce]\nenabled = false\n' >> "$CONF"
put m1 "X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <$UTF8_ADDR>\nX-Ringmail-To: <ops@example.org>\nSubject: one\n\nbody\n"
put m2 "X-Ringmail-From: <$UTF8_ADDR>\nX-Ringmail-To: <ops@example.org>\nSubject: two\n\nbody\n"
put m3 "X-Ringmail-From: <alerts@example.com>\nX-Ringmail-To: <ops@example.org>\nSubject: gr\u00fc\u00dfe\n\nbody\n"
start_sink "$PORT" --maildir "$MAILDIR" --no-smtputf8
drain
stop_sink
if [ "$(sink_count)" = 2 ] && [ "$(stats_field recipients)" = 2 ] && [ "$(stats_field smtputf8)" = 0 ] &&
   [ -f "$SPOOL/failed/m2" ] && has_reason "does not offer SMTPUTF8 and the sender address" &&
   has_reason "does not offer SMTPUTF8 and the address" && [ "$(maildir_grep 'Subject: two')" = 0 ] &&
   ! grep -q 'S: "553' "$WORK/$CASE/run.err"; then
  pass "(b) no SMTPUTF8: non-ASCII recipient and sender fail with the reason, ASCII ones and a UTF-8 Subject delivered"
else
  part_fail "(b) no SMTPUTF8: status $STATUS, sink $(sink_count), recipients $(stats_field recipients 2>/dev/null), failed: $(ls "$SPOOL/failed" 2>/dev/null | tr '\n' ' '); meta: $(cat "$SPOOL"/meta/* 2>/dev/null | head -8)"
fi

# --- (c) 8BITMIME offered --------------------------------------------------------------------------
new_case eightbit
put m1 "X-Ringmail-To: <ops@example.org>\nSubject: x\n\nk\u00e4se\n"
put m2 "X-Ringmail-To: <ops@example.org>\nSubject: y\n\nplain\n"
start_sink "$PORT" --maildir "$MAILDIR"
drain
stop_sink
if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 2 ] && [ "$(stats_field body_8bitmime)" = 1 ] &&
   [ "$(maildir_grep "$(printf 'k\xc3\xa4se')")" = 1 ]; then
  pass "(c) 8BITMIME: the 8-bit message went with BODY=8BITMIME, the 7-bit one without"
else
  part_fail "(c) 8BITMIME: status $STATUS, sink $(sink_count), body_8bitmime $(stats_field body_8bitmime 2>/dev/null)"
fi

# --- (d) 8BITMIME not offered -----------------------------------------------------------------
new_case no_eightbit
put m1 "X-Ringmail-To: <ops@example.org>\nSubject: x\n\nk\u00e4se\n"
put m2 "X-Ringmail-To: <ops@example.org>\nSubject: y\n\nplain\n"
put m3 "X-Ringmail-To: <ops@example.org>\nSubject: big\n\nMARK\nk\u00e4se\n" MARK 100000
start_sink "$PORT" --maildir "$MAILDIR" --no-8bitmime
drain
stop_sink
# The sink gets m2 and the two bounces (DSN) for m1 and m3: a bounce is
# 7-bit (quoted-printable where needed), so it needs no 8BITMIME.
if [ "$(sink_count)" = 3 ] && [ "$(maildir_grep "Undelivered Mail Returned to Sender")" = 2 ] &&
   [ -f "$SPOOL/failed/m1" ] && [ -f "$SPOOL/failed/m3" ] &&
   has_reason "message has 8-bit data and the relay does not offer 8BITMIME" &&
   [ "$(maildir_grep "$(printf '\xc3\xa4')")" = 0 ]; then
  pass "(d) no 8BITMIME: both 8-bit messages failed (one before MAIL, one while streaming), the 7-bit one delivered"
else
  part_fail "(d) no 8BITMIME: status $STATUS, sink $(sink_count), failed: $(ls "$SPOOL/failed" 2>/dev/null | tr '\n' ' '), deferred: $(ls "$SPOOL/deferred" 2>/dev/null | tr '\n' ' ')"
fi

# --- (e) SIZE limit ----------------------------------------------------------------------------
new_case size
printf '[bounce]\nenabled = false\n' >> "$CONF"
put big "X-Ringmail-To: <ops@example.org>\nSubject: big\n\nMARK\n" MARK 20000
put small "X-Ringmail-To: <ops@example.org>\nSubject: small\n\nsmall\n"
# Larger than the 64 KiB read before MAIL: its size comes from the intake's
# fstatat (MessageRef.size_bytes), so it is refused before a byte is sent.
put huge "X-Ringmail-To: <ops@example.org>\nSubject: huge\n\nMARK\n" MARK 300000
start_sink "$PORT" --maildir "$MAILDIR" --size-limit 10240
drain
stop_sink
if [ "$(sink_count)" = 1 ] && [ -f "$SPOOL/failed/big" ] && [ -f "$SPOOL/failed/huge" ] &&
   has_reason "the relay accepts at most 10240 (SIZE)" && grep -q "300[0-9]* bytes" "$SPOOL/meta/huge" &&
   ! grep -q 'S: "552' "$WORK/$CASE/run.err" && grep -q 'C: "MAIL FROM:<[^>]*> SIZE=[0-9]' "$WORK/$CASE/run.err"; then
  pass "(e) SIZE 10240: the 20 KB and the streamed 300 KB messages failed unsent, the small one went with SIZE="
else
  part_fail "(e) SIZE: status $STATUS, sink $(sink_count), failed: $(ls "$SPOOL/failed" 2>/dev/null | tr '\n' ' '); $(cat "$SPOOL"/meta/* 2>/dev/null | head -5)"
fi

# --- (f) bare CR before Bcc ---------------------------------------------------------------------
for variant in data bdat; do
  new_case "bcc_$variant"
  put m1 "To: ops@example.org\nSubject: hi\rBcc: hidden@x.org\n\nbody\n"
  put m2 "To: ops@example.org\rBcc: hidden@x.org\r\n\nbody2\n"
  flags=(--maildir "$MAILDIR")
  [ "$variant" = data ] && flags+=(--no-chunking)
  start_sink "$PORT" "${flags[@]}"
  drain
  stop_sink
  if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 2 ] && [ "$(stats_field recipients)" = 4 ] &&
     [ "$(tail -q -n +2 "$MAILDIR"/new/* | grep -c -e hidden -e '^Bcc')" = 0 ] &&
     [ "$(maildir_grep 'body2')" = 1 ]; then
    pass "(f) $variant: bare CR before Bcc: both recipients delivered, no Bcc on the wire"
  else
    part_fail "(f) $variant: status $STATUS, sink $(sink_count); $(tail -n +1 "$MAILDIR"/new/* 2>/dev/null | head -20)"
  fi
done

# --- (g) long lines ------------------------------------------------------------------------------
# check_long_lines FILE HEADER_LEN BODY_LEN: FILE (a Maildir file) has no
# line over 1000 octets with its CRLF; unfolding the header ("\r\n " out)
# gives "Subject: " + HEADER_LEN x's, and the body without its CRLFs is
# BODY_LEN y's.
check_long_lines() {
  "$PYTHON" - "$@" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
header_len, body_len = int(sys.argv[2]), int(sys.argv[3])
data = data.split(b"\r\n", 1)[1]  # the sink's X-Sink-Envelope line
longest = max(len(line) for line in data.split(b"\r\n"))
header, body = data.split(b"\r\n\r\n", 1)
ok = (longest <= 998 and header.replace(b"\r\n ", b"") == b"Subject: " + b"x" * header_len
      and body.replace(b"\r\n", b"") == b"y" * body_len)
print("longest line %d, header %d bytes, body %d bytes: %s" % (longest, len(header), len(body), "ok" if ok else "BAD"))
sys.exit(0 if ok else 1)
PY
}
for variant in data bdat; do
  new_case "long_$variant"
  if [ "$variant" = data ]; then n=1000000; flags=(--no-chunking); else n=30000; flags=(); fi
  # X-Ringmail- envelope: a header section longer than 64 KiB needs one.
  put m1 "X-Ringmail-To: <ops@example.org>\nSubject: HMARK\n\n" HMARK "$n"
  "$PYTHON" - "$SPOOL/incoming/new/m1" "$n" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
open(path, "ab").write(b"y" * n + b"\n")  # the body: one line of n bytes
PY
  start_sink "$PORT" --maildir "$MAILDIR" "${flags[@]}"
  drain
  stop_sink
  file=$(ls "$MAILDIR"/new/* 2>/dev/null | head -1)
  # The transcript shows bytes escaped: a literal backslash-r-backslash-n.
  if [ "$variant" = bdat ]; then verb=BDAT; wire='BDAT '; else verb=DATA; wire='DATA\r\n'; fi
  if [ "$STATUS" = 0 ] && [ "$(sink_count)" = 1 ] && grep -qF "$wire" "$WORK/$CASE/run.err" &&
     result=$(check_long_lines "$file" "$n" "$n"); then
    pass "(g) $variant: $n-byte header and body lines over $verb: $result"
  else
    part_fail "(g) $variant: status $STATUS, sink $(sink_count); ${result:-no file}"
  fi
done

[ "$FAILED" = 0 ] || { echo "FAIL: protocol_extensions_test"; exit 1; }
echo "PASS: protocol_extensions_test"
