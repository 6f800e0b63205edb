#!/bin/bash
# tests/e2e/bounce_test.sh — bounces (DSN, RFC 3464) end to end: the real
# `ringmail run --drain` against `ringmail sink --maildir` with fault flags.
# Each case has its own spool, sink and Maildir:
#   (a) partial failure: one recipient 550, one 250. One bounce reaches the
#       sink with MAIL FROM:<> to the sender; Python's email package parses
#       it as multipart/report with a delivery-status part that names only
#       the refused recipient (Action: failed, Status 5.x.x); the run says
#       "1 bounce".
#   (b) a message from <> with a failing recipient: no bounce, and the run
#       says why.
#   (c) [bounce] enabled = false: no bounce.
#   (d) expiry at retry.max_age (1s) after 451s, with sender_copy: the bounce
#       goes to the sender and to the copy address, Status 5.4.7, the 451 as
#       Diagnostic-Code.
#   (e) notify_delay: one delay warning (Action: delayed) after the message
#       has been deferred that long, recorded in meta/ID, never repeated.
#   (f) a bounce whose own delivery is deferred stays queued and `ringmail
#       queue` counts it.
#   (g) the bounce cannot be written (incoming/tmp removed under the engine):
#       the failure is not recorded without its bounce; the message is held.
#
# Usage: bash tests/e2e/bounce_test.sh /path/to/ringmail   (one ctest test)
source "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3

# run_drain CONF: one bounded `run --drain`; output in $WORK/drain.out/.err.
run_drain() {
  DRAIN_RC=0
  timeout 60 "$RINGMAIL" run --drain -c "$1" > "$WORK/drain.out" 2> "$WORK/drain.err" || DRAIN_RC=$?
  [ "$DRAIN_RC" != 124 ] || fail "run --drain did not finish within 60 s: $(tail -5 "$WORK/drain.err")"
}

# write_message SPOOL ID SENDER RCPT... queues one message (tmp + rename).
write_message() {
  local spool=$1 id=$2 sender=$3
  shift 3
  mkdir -p "$spool/incoming/tmp" "$spool/incoming/new"
  {
    echo "X-Ringmail-From: <$sender>"
    local r
    for r in "$@"; do echo "X-Ringmail-To: <$r>"; done
    echo "From: Alerts <alerts@example.com>"
    echo "To: $(IFS=,; echo "$*")"
    echo "Subject: bounce test $id"
    echo "Message-Id: <$id@ringmail.test>"
    [ -z "${EXTRA_HEADERS:-}" ] || printf '%b' "$EXTRA_HEADERS"
    echo
    echo "body of $id"
  } > "$spool/incoming/tmp/$id"
  mv "$spool/incoming/tmp/$id" "$spool/incoming/new/$id"
}

# bounces MAILDIR: prints one JSON line per bounce in the Maildir (a message
# whose envelope sender is <>), parsed with Python's email package:
# {"to": [...], "type": ..., "subject": ..., "report_type": ...,
#  "per_message": {...}, "recipients": [{field: value}...], "headers_part": ...}
bounces() {
  "$PY" - "$1" <<'PY'
import email, email.policy, json, os, sys
new = os.path.join(sys.argv[1], "new")
for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
    data = open(os.path.join(new, name), "rb").read()
    first, rest = data.split(b"\r\n", 1)
    env = first.decode()
    if not env.startswith("X-Sink-Envelope: from=<> "):
        continue
    to = env.split(" to=", 1)[1].split(",")
    msg = email.message_from_bytes(rest)
    out = {"to": to, "type": msg.get_content_type(), "subject": msg["Subject"],
           "from": msg["From"], "auto_submitted": msg["Auto-Submitted"],
           "report_type": msg.get_param("report-type"), "parts": []}
    for part in msg.get_payload() if msg.is_multipart() else []:
        out["parts"].append(part.get_content_type())
        if part.get_content_type() == "message/delivery-status":
            # email parses the status groups as sub-messages of headers.
            groups = part.get_payload()
            out["per_message"] = dict(groups[0].items())
            out["recipients"] = [dict(g.items()) for g in groups[1:]]
        elif part.get_content_type() == "text/rfc822-headers":
            out["headers_part"] = part.get_payload(decode=True).decode("utf-8", "replace")
        elif part.get_content_type() == "text/plain":
            out["text"] = part.get_payload(decode=True).decode("utf-8", "replace")
    print(json.dumps(out))
PY
}

# bounce_check MAILDIR EXPR: evaluates a Python expression over the list B
# of parsed bounces; fails the test with the bounces shown when false.
bounce_check() {
  local maildir=$1 expr=$2 what=$3
  bounces "$maildir" > "$WORK/bounces.json"
  "$PY" - "$WORK/bounces.json" "$expr" <<'PY' || fail "$what: $(cat "$WORK/bounces.json"; tail -5 "$WORK/drain.err")"
import json, sys
B = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

# --- (a) partial failure: only the refused recipient is bounced -------------
setup_case a
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply gone@example.org=550
# A UTF-8 header and a 1,500-byte header line: the bounce carries them
# quoted-printable, and they decode back to what was sent.
LONG=$(printf 'x%.0s' $(seq 1500))
EXTRA_HEADERS="X-Note: gr\xc3\xbc\xc3\x9fe\nX-Long: $LONG\n" \
  write_message "$SPOOL" msg-a alerts@example.com good@example.org gone@example.org
run_drain "$CONF"
stop_sink
[ "$DRAIN_RC" = 0 ] || fail "(a) drain exit $DRAIN_RC: $(cat "$WORK/drain.err")"
bounce_check "$MAILDIR" 'len(B) == 1' "(a) exactly one bounce"
bounce_check "$MAILDIR" 'B[0]["to"] == ["<alerts@example.com>"]' "(a) bounce goes to the sender, MAIL FROM:<>"
bounce_check "$MAILDIR" 'B[0]["type"] == "multipart/report" and B[0]["report_type"] == "delivery-status"' \
  "(a) multipart/report; report-type=delivery-status"
bounce_check "$MAILDIR" 'B[0]["parts"] == ["text/plain", "message/delivery-status", "text/rfc822-headers"]' \
  "(a) the three parts"
bounce_check "$MAILDIR" 'B[0]["subject"] == "Undelivered Mail Returned to Sender" and "MAILER-DAEMON@e2e.ringmail.test" in B[0]["from"] and B[0]["auto_submitted"] == "auto-replied"' \
  "(a) From, Subject, Auto-Submitted"
bounce_check "$MAILDIR" 'B[0]["per_message"]["Reporting-MTA"] == "dns; e2e.ringmail.test" and B[0]["per_message"]["X-Ringmail-Spool-Id"] == "msg-a"' \
  "(a) per-message fields"
bounce_check "$MAILDIR" 'len(B[0]["recipients"]) == 1 and B[0]["recipients"][0]["Final-Recipient"] == "rfc822; gone@example.org"' \
  "(a) only the refused recipient is listed"
bounce_check "$MAILDIR" 'B[0]["recipients"][0]["Action"] == "failed" and B[0]["recipients"][0]["Status"].startswith("5.") and B[0]["recipients"][0]["Diagnostic-Code"].startswith("smtp; 550")' \
  "(a) Action: failed, Status 5.x.x, Diagnostic-Code"
bounce_check "$MAILDIR" '"Subject: bounce test msg-a" in B[0]["headers_part"] and "X-Ringmail" not in B[0]["headers_part"]' \
  "(a) the original headers, without the preamble"
bounce_check "$MAILDIR" '"X-Note: gr\u00fc\u00dfe" in B[0]["headers_part"] and ("X-Long: " + "x" * 1500) in B[0]["headers_part"]' \
  "(a) 8-bit and over-long header lines survive, quoted-printable"
bounce_check "$MAILDIR" '"good@example.org" not in B[0]["text"] and "gone@example.org" in B[0]["text"]' \
  "(a) the text names the failed recipient only"
grep -q "1 bounce (DSN) sent" "$WORK/drain.out" || fail "(a) the run summary counts the bounce: $(cat "$WORK/drain.out")"
[ -e "$SPOOL/failed/msg-a" ] || fail "(a) the original is in failed/"
pass "(a) a 550 recipient is bounced to the sender; the delivered one is not listed"

# --- (b) never bounce a bounce ------------------------------------------------
setup_case b
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply gone@example.org=550
write_message "$SPOOL" msg-b "" gone@example.org
run_drain "$CONF"
stop_sink
bounce_check "$MAILDIR" 'len(B) == 0' "(b) no bounce for a message from <>"
grep -q "msg-b: no bounce for 1 recipient(s) (failed): the sender is <>" "$WORK/drain.err" ||
  fail "(b) the run says why there is no bounce: $(cat "$WORK/drain.err")"
[ -z "$(ls "$SPOOL/incoming/new")" ] || fail "(b) nothing queued"
pass "(b) a message from <> is never bounced, and the log says so"

# --- (c) [bounce] enabled = false --------------------------------------------
setup_case c
printf '[bounce]\nenabled = false\n' >> "$CONF"
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply gone@example.org=550
write_message "$SPOOL" msg-c alerts@example.com gone@example.org
run_drain "$CONF"
stop_sink
bounce_check "$MAILDIR" 'len(B) == 0' "(c) no bounce when disabled"
[ -e "$SPOOL/failed/msg-c" ] || fail "(c) the original is in failed/"
pass "(c) [bounce] enabled = false sends none"

# --- (d) expiry at max_age, with sender_copy ----------------------------------
setup_case d
MAX_AGE=1s write_config "$CONF" "$SPOOL" "$PORT"
printf '[bounce]\nsender_copy = "postmaster@example.org"\n' >> "$CONF"
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply slow@example.org=451
write_message "$SPOOL" msg-d alerts@example.com slow@example.org
run_drain "$CONF"
[ "$DRAIN_RC" = 75 ] || fail "(d) first drain defers (exit $DRAIN_RC): $(cat "$WORK/drain.err")"
bounce_check "$MAILDIR" 'len(B) == 0' "(d) no bounce while deferred"
sleep 1.2
run_drain "$CONF"
stop_sink
[ -e "$SPOOL/failed/msg-d" ] || fail "(d) expired message is in failed/: $(cat "$WORK/drain.err")"
bounce_check "$MAILDIR" 'len(B) == 1 and B[0]["to"] == ["<alerts@example.com>", "<postmaster@example.org>"]' \
  "(d) one bounce to the sender and the sender_copy address"
bounce_check "$MAILDIR" 'B[0]["recipients"][0]["Action"] == "failed" and B[0]["recipients"][0]["Status"] == "5.4.7" and "451" in B[0]["recipients"][0]["Diagnostic-Code"]' \
  "(d) expired: Status 5.4.7 with the last 451"
bounce_check "$MAILDIR" '"maximum age" in B[0]["text"]' "(d) the text says it expired"
pass "(d) expiry at max_age bounces with the reason; sender_copy gets a copy"

# --- (e) notify_delay: one delay warning --------------------------------------
setup_case e
printf '[bounce]\nnotify_delay = "1s"\n' >> "$CONF"
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply slow@example.org=451
write_message "$SPOOL" msg-e alerts@example.com slow@example.org
run_drain "$CONF"
bounce_check "$MAILDIR" 'len(B) == 0' "(e) no warning at the first deferral"
sleep 1.2
run_drain "$CONF"
grep -q "^delay_warned " "$SPOOL/meta/msg-e" || fail "(e) meta records the warning: $(cat "$SPOOL/meta/msg-e")"
"$RINGMAIL" queue -c "$CONF" --show msg-e | grep -q "delay warning: *sent" ||
  fail "(e) queue --show says the warning was sent: $("$RINGMAIL" queue -c "$CONF" --show msg-e)"
run_drain "$CONF"
stop_sink
[ -e "$SPOOL/deferred/msg-e" ] || fail "(e) still deferred"
bounce_check "$MAILDIR" 'len(B) == 1' "(e) exactly one warning over three attempts"
bounce_check "$MAILDIR" 'B[0]["subject"] == "Delayed Mail (still being retried)" and B[0]["recipients"][0]["Action"] == "delayed" and B[0]["recipients"][0]["Status"].startswith("4.")' \
  "(e) Action: delayed, Status 4.x.x"
pass "(e) notify_delay sends one delay warning, recorded in meta/ID"

# --- (f) a queued bounce is counted by `ringmail queue` ------------------------
setup_case f
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply gone@example.org=550 --rcpt-reply slowsender@example.org=451
write_message "$SPOOL" msg-f slowsender@example.org gone@example.org
run_drain "$CONF"
stop_sink
"$RINGMAIL" queue -c "$CONF" > "$WORK/queue.out" 2>&1 || true
grep -q "bounces (DSN) queued: 1" "$WORK/queue.out" || fail "(f) queue counts the bounce: $(cat "$WORK/queue.out")"
"$RINGMAIL" queue -c "$CONF" --json > "$WORK/queue.json"
"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["bounces"] == 1 else 1)' "$WORK/queue.json" ||
  fail "(f) queue --json counts the bounce: $(cat "$WORK/queue.json")"
pass "(f) a bounce waiting in the queue is counted by ringmail queue"

# --- (g) the bounce cannot be written: the failure is not recorded ------------
setup_case g
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply gone@example.org=550
write_message "$SPOOL" msg-g alerts@example.com gone@example.org
# Test hook: the first bounce write fails (as with ENOSPC) after its
# temporary file was created.
RINGMAIL_FAULT_BOUNCE_WRITE=1 run_drain "$CONF"
stop_sink
[ "$DRAIN_RC" = 74 ] || fail "(g) drain exits 74 (held): $DRAIN_RC $(cat "$WORK/drain.err")"
[ -e "$SPOOL/hold/msg-g" ] || fail "(g) the message is held, its failure not recorded without its bounce"
[ ! -e "$SPOOL/meta/msg-g" ] || fail "(g) no failure record: $(cat "$SPOOL/meta/msg-g")"
[ -z "$(ls "$SPOOL/incoming/tmp")" ] || fail "(g) the half-written bounce was removed: $(ls "$SPOOL/incoming/tmp")"
grep -q "incoming/tmp/.*(a bounce)" "$WORK/drain.err" || fail "(g) the log names the bounce file: $(cat "$WORK/drain.err")"
pass "(g) a bounce that cannot be written holds the message instead of losing the bounce"

# --- (h) kill -9 between the bounce and the record: a duplicate, never none ---
setup_case h
start_sink "$PORT" --maildir "$MAILDIR" --rcpt-reply gone@example.org=550
write_message "$SPOOL" msg-h alerts@example.com gone@example.org
# Test hook: the engine SIGKILLs itself once the first bounce is durably in
# incoming/new, before the original's failure is recorded.
RINGMAIL_FAULT_KILL_AFTER_BOUNCE=1 run_drain "$CONF"
[ "$DRAIN_RC" = 137 ] || fail "(h) the engine was killed (exit $DRAIN_RC): $(cat "$WORK/drain.err")"
[ -e "$SPOOL/active/msg-h" ] || fail "(h) the original is still in active/"
[ ! -e "$SPOOL/meta/msg-h" ] || fail "(h) its failure was not recorded"
[ "$(ls "$SPOOL/incoming/new" | grep -c '\.dsn$')" = 1 ] || fail "(h) the bounce is in incoming/new"
run_drain "$CONF"
stop_sink
[ "$DRAIN_RC" = 0 ] || fail "(h) the restart drains (exit $DRAIN_RC): $(cat "$WORK/drain.err")"
[ -e "$SPOOL/failed/msg-h" ] || fail "(h) the original is recorded as failed after the restart"
bounce_check "$MAILDIR" 'len(B) == 2 and all(b["recipients"][0]["Final-Recipient"] == "rfc822; gone@example.org" for b in B)' \
  "(h) two bounces (at least once), both for gone@"
pass "(h) kill -9 after the bounce and before the record: the bounce is sent again, never lost"
