#!/bin/bash
# tests/e2e/delivery_test.sh — end-to-end delivery of a large spool with the
# real binary: 20,000 ~2 KB messages written by make_spool.py plus 3 queued
# with `ringmail inject` (-f SENDER R1 R2; -t with a Bcc: header; CRLF input
# without a final line end), one `ringmail run --drain` into `ringmail sink
# --maildir`, then: exit status 0, the sink's count, a byte-for-byte sample
# (compare_maildir.py), the envelopes of the injected messages, no Bcc: line
# anywhere, and an empty spool.
#
# Usage: bash tests/e2e/delivery_test.sh /path/to/ringmail   (a ctest test)
# Touches only its temporary folder; every wait is bounded; never edits the
# shared helpers (lib.sh, make_spool.py).
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
# DELIVERY_COUNT and DELIVERY_SINK_FLAGS let tests/e2e/delivery_data_test.sh
# run the same checks over the DATA path (sink --no-chunking).
COUNT=${DELIVERY_COUNT:-20000}
SAMPLE_EVERY=${DELIVERY_SAMPLE_EVERY:-500}
SPOOL=$WORK/spool
CONF=$WORK/ringmail.toml
SAMPLES=$WORK/samples
PORT=$(free_port)
THREADS=2 write_config "$CONF" "$SPOOL" "$PORT"
mkdir -p "$SAMPLES"

# --- queue: make_spool + three injected messages --------------------------------
make_spool "$SPOOL" "$COUNT" 2048 ops@example.org || fail "make_spool failed"

printf 'From: Alerts <alerts@example.com>\nTo: r1@example.org\nSubject: inject-f\n\nline one\n.dot line\n..two dots\n.\nend\n' \
  | "$RINGMAIL" inject -c "$CONF" -f sender@example.net r1@example.org r2@example.net \
  || fail "inject -f failed"
printf 'From: alerts@example.com\nTo: to1@example.org\nCc: "Doe, J" <cc1@example.org>\nBcc: hidden@example.net,\n  hidden2@example.net\nSubject: inject-t\n\nbody with bcc\n' \
  | "$RINGMAIL" inject -c "$CONF" -t || fail "inject -t failed"
printf 'From: alerts@example.com\r\nTo: crlf@example.org\r\nSubject: inject-crlf\r\n\r\n.\r\nno final line end' \
  | "$RINGMAIL" inject -c "$CONF" crlf@example.org || fail "inject (CRLF) failed"

queued=$(count_in "$SPOOL" incoming/new)
[ "$queued" = $((COUNT + 3)) ] || fail "expected $((COUNT + 3)) queued files, found $queued"
# Keep copies of the sample: delivered files are deleted.
for ((i = 0; i < COUNT; i += SAMPLE_EVERY)); do
  cp "$SPOOL/incoming/new/$(printf 'e2e%08d' "$i")" "$SAMPLES/"
done
find "$SPOOL/incoming/new" -type f ! -name 'e2e*' -exec cp {} "$SAMPLES/" \;
injected=$(find "$SPOOL/incoming/new" -type f ! -name 'e2e*' | wc -l)
[ "$injected" = 3 ] || fail "expected 3 injected files, found $injected"
# The -t message must carry the Bcc recipients in its envelope, not its header.
tfile=$(grep -l '^Subject: inject-t' "$SAMPLES"/* | head -1)
grep -qi '^Bcc:' "$tfile" && fail "inject -t left a Bcc: header in the spool file"
pass "queued $COUNT + 3 messages (sample: $(ls "$SAMPLES" | wc -l) files)"

# --- deliver --------------------------------------------------------------------
# shellcheck disable=SC2086
start_sink "$PORT" --maildir "$WORK/maildir" ${DELIVERY_SINK_FLAGS:-}
start_ms=$(($(date +%s%N) / 1000000))
status=0
timeout -k 10 90 "$RINGMAIL" run --config "$CONF" --drain > "$WORK/run.out" 2> "$WORK/run.err" || status=$?
elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
stop_sink
[ "$status" = 0 ] || fail "run --drain exited $status: $(tail -5 "$WORK/run.err") $(cat "$WORK/run.out")"
grep -q "^ringmail: delivered $((COUNT + 3)), partial 0, deferred 0, failed 0 in " "$WORK/run.out" \
  || fail "run summary: $(cat "$WORK/run.out")"
pass "run --drain exited 0 in $elapsed_ms ms: $(cat "$WORK/run.out")"

got=$(sink_count)
[ "$got" = $((COUNT + 3)) ] || fail "sink counted $got messages, expected $((COUNT + 3))"
pass "sink counted $got messages"

# --- content ----------------------------------------------------------------------
"$PYTHON" "$E2E_DIR/compare_maildir.py" "$WORK/maildir" $((COUNT + 3)) "$SAMPLES"/* \
  || fail "Maildir content differs from the spool (see above)"

# The envelopes of the injected messages, stated here independently of the
# preamble inject wrote.
envelope_of() {
  local file
  file=$(grep -l "^Subject: $1"$'\r$' "$WORK"/maildir/new/* | head -2)
  [ "$(echo "$file" | wc -l)" = 1 ] && [ -n "$file" ] || fail "want one delivered message with Subject $1, got: $file"
  head -1 "$file" | tr -d '\r'
}
want='X-Sink-Envelope: from=<sender@example.net> to=<r1@example.org>,<r2@example.net>'
[ "$(envelope_of inject-f)" = "$want" ] || fail "inject -f envelope: $(envelope_of inject-f), want $want"
want='X-Sink-Envelope: from=<alerts@example.com> to=<to1@example.org>,<cc1@example.org>,<hidden@example.net>,<hidden2@example.net>'
[ "$(envelope_of inject-t)" = "$want" ] || fail "inject -t envelope: $(envelope_of inject-t), want $want"
want='X-Sink-Envelope: from=<alerts@example.com> to=<crlf@example.org>'
[ "$(envelope_of inject-crlf)" = "$want" ] || fail "inject envelope: $(envelope_of inject-crlf), want $want"
bcc=$(grep -lis '^Bcc:' "$WORK"/maildir/new/* | head -3 || true)
[ -z "$bcc" ] || fail "a Bcc: line reached the sink in: $bcc"
grep -q 'hidden2@example.net' "$(grep -l '^Subject: inject-t' "$WORK"/maildir/new/*)" \
  && ! sed 1d "$(grep -l '^Subject: inject-t' "$WORK"/maildir/new/*)" | grep -q hidden \
  || fail "the Bcc recipients must be in the envelope only"
pass "injected envelopes (-f, -t with Bcc) are right and no Bcc: line reached the sink"

# --- the spool is empty -------------------------------------------------------------
left=$(find "$SPOOL/incoming/new" "$SPOOL/active" "$SPOOL/deferred" "$SPOOL/failed" "$SPOOL/meta" -type f | wc -l)
[ "$left" = 0 ] || fail "$left files left in the spool: $(find "$SPOOL" -type f | head -5)"
pass "spool empty after delivery (incoming/new, active, deferred, failed, meta)"
echo "PASS: delivery_test"
