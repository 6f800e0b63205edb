#!/bin/bash
# tests/e2e/operator_messages_test.sh — what the real binary tells an
# operator (issue 6): config mistakes named with file:line and a fix,
# inject's echo of bad input escaped and short, `inject -f ''` as the null
# sender, `ringmail queue` on a spool a producer made, and `ringmail queue`
# agreeing with the engine on what a message is (refused entries, ignored
# names, hold/).
#
# Usage: bash tests/e2e/operator_messages_test.sh /path/to/ringmail
# Bounded waits; writes only in its temporary folder; one sink on loopback.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
FAILED=0
check() {  # check DESCRIPTION COMMAND...: record a failure, keep going
  local what=$1; shift
  if "$@"; then pass "$what"; else echo "FAIL: $what" >&2; FAILED=1; fi
}
# contains TEXT NEEDLE: fixed-string match, with the text shown on failure.
contains() { grep -qF -- "$2" <<< "$1" || { echo "  missing: $2" >&2; echo "  in: $1" >&2; return 1; }; }
lacks() { ! grep -qF -- "$2" <<< "$1" || { echo "  unexpected: $2" >&2; echo "  in: $1" >&2; return 1; }; }

# --- 1. config mistakes --------------------------------------------------------
# config_error TOML: runs `ringmail queue` on it; prints stderr; status must be 78.
config_error() {
  printf '%b' "$1" > "$WORK/bad.toml"
  local out status=0
  out=$("$RINGMAIL" queue -c "$WORK/bad.toml" 2>&1 >/dev/null) || status=$?
  [ "$status" = 78 ] || echo "status $status, want 78" >&2
  printf '%s' "$out"
}
out=$(config_error 'spool = "/var/spool/x"\n[realy]\nhost = "127.0.0.1"\n')
check "misspelt [realy] is named, not the missing relay.host" \
  contains "$out" "bad.toml:2: unknown table 'realy' (did you mean 'relay'?)"
out=$(config_error 'spool = "/var/spool/x"\n[relay]\nhost = "127.0.0.1:25"\n')
check "host with a port hints at relay.port" \
  contains "$out" "bad.toml:3: 'relay.host' must not include a port, got \"127.0.0.1:25\"; put the port in 'relay.port': host = \"127.0.0.1\" and port = 25"
out=$(config_error 'spool = "/var/spool/x"\n[relay]\nhost = "[::1]:25"\n')
check "[::1]:25 hints at relay.port" contains "$out" "host = \"[::1]\" and port = 25"
out=$(config_error 'spool = "spool"\n[relay]\nhost = "127.0.0.1"\n')
check "relative spool refused" contains "$out" "bad.toml:1: 'spool' must be an absolute path, got 'spool'"

# --- 2. inject -----------------------------------------------------------------
setup_case inject
# inject_err ARGS...: stderr of `ringmail inject` with a small message; status 65.
inject_err() {
  local out status=0
  out=$(printf 'Subject: s\n\nbody\n' | "$RINGMAIL" inject -c "$CONF" "$@" 2>&1) || status=$?
  [ "$status" = 65 ] || echo "status $status, want 65" >&2
  printf '%s' "$out"
}
out=$(inject_err $'a\r\nRCPT TO:<evil@example.org>')
check "CR LF in a recipient is escaped on one line" \
  contains "$out" "'a\\r\\nRCPT TO:<evil@example.org>'"
check "inject's complaint is one line" [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]
long=$(printf 'x%.0s' $(seq 10240))
out=$(inject_err "$long")
check "a 10 KB address is shortened with its size" contains "$out" "…(10240 bytes)'"
check "the shortened sentence is short" [ "${#out}" -lt 400 ]

printf 'Subject: bounce\n\nbody\n' | "$RINGMAIL" inject -c "$CONF" -f '' rcpt@example.org \
  || fail "inject -f '' failed"
file=$(find "$SPOOL/incoming/new" -type f | head -1)
check "inject -f '' queues the null sender" [ "$(head -1 "$file")" = "X-Ringmail-From: <>" ]
rm -f "$SPOOL"/incoming/new/*

status=0
out=$("$PYTHON" -c 'import sys; sys.stdout.write("Subject: s\n" + "X-Filler: " + "f" * 70000 + "\nTo: a@example.org\n\nb\n")' \
  | "$RINGMAIL" inject -c "$CONF" -t 2>&1) || status=$?
check "more than 64 KiB of headers with -t: exit 65" [ "$status" = 65 ]
check "the long-header hint names what inject accepts" \
  contains "$out" "give the recipients as arguments instead of using -t"
check "the long-header hint does not ask for X-Ringmail- lines" lacks "$out" "X-Ringmail"

# --- 3. queue on a spool a producer made (incoming/ only) -------------------------
setup_case partial
mkdir -p "$SPOOL/incoming/tmp" "$SPOOL/incoming/new"
printf 'X-Ringmail-To: <a@example.org>\nFrom: s@example.org\n\nb\n' > "$SPOOL/incoming/new/100.1.1"
status=0
out=$("$RINGMAIL" queue -c "$CONF" 2>&1) || status=$?
check "queue on a partial spool exits 0" [ "$status" = 0 ]
check "queue on a partial spool counts incoming" contains "$out" "  incoming                 1"
check "queue names the directories not created yet" \
  contains "$out" "not created yet (counted as empty; \`ringmail run\` creates them): active, deferred, failed, hold, meta"
check "queue created nothing" [ ! -e "$SPOOL/active" ]
json=$("$RINGMAIL" queue -c "$CONF" --json)
check "queue --json on a partial spool" "$PYTHON" -c '
import json, sys
r = json.loads(sys.argv[1])
assert r["counts"]["incoming"] == 1 and r["counts"]["hold"] == 0, r
assert "hold" in r["missing_dirs"], r' "$json"

# --- 4. queue and the engine agree on what a message is ---------------------------
setup_case agree
start_sink "$PORT"
"$RINGMAIL" run -c "$CONF" --drain > "$WORK/agree-run0.log" 2>&1 || fail "first drain: $(cat "$WORK/agree-run0.log")"
printf 'secret\n' > "$WORK/outside"
ln -s "$WORK/outside" "$SPOOL/incoming/new/200.1.1"
long_name=$(printf '7%.0s' $(seq 64))
printf 'X-Ringmail-To: <a@example.org>\n\nb\n' > "$SPOOL/incoming/new/$long_name"
out=$("$RINGMAIL" queue -c "$CONF")
check "queue says the engine will refuse the symlink" contains "$out" "200.1.1  will be refused: symbolic link refused"
check "queue reports the 64-character name" contains "$out" "ignored: not a valid message name (64 characters; at most 63)"
"$RINGMAIL" run -c "$CONF" --drain > "$WORK/agree-run.log" 2>&1 || fail "drain: $(cat "$WORK/agree-run.log")"
check "the engine moved the symlink to failed/" [ -L "$SPOOL/failed/200.1.1" ]
out=$("$RINGMAIL" queue -c "$CONF")
check "queue counts the moved symlink as failed" contains "$out" "  failed                   1"
# The reason is the one the engine recorded in meta/ (an engine with
# spool_entry_refusal writes "symbolic link refused").
reason=$(sed -n 's/^reason //p' "$SPOOL/meta/200.1.1")
check "the engine recorded a reason" [ -n "$reason" ]
check "queue shows the reason the engine recorded" contains "$out" "200.1.1  $reason"
check "the 64-character name is still reported" contains "$out" "ignored: not a valid message name"

# hold/: a message whose outcome the engine could not record.
printf 'X-Ringmail-To: <a@example.org>\nFrom: s@example.org\n\nb\n' > "$SPOOL/hold/300.1.1"
printf 'attempts 1\nlast_reply 250 2.0.0 queued as 1234\n' > "$SPOOL/meta/300.1.1"
out=$("$RINGMAIL" queue -c "$CONF")
check "queue shows hold/ with its release hint" \
  contains "$out" "held: outcome could not be recorded; release with \`mv hold/ID deferred/\`"
check "queue lists the held message with its meta" contains "$out" "300.1.1  250 2.0.0 queued as 1234"
json=$("$RINGMAIL" queue -c "$CONF" --json)
check "queue --json: hold, failed reason, ignored" "$PYTHON" -c '
import json, sys
r = json.loads(sys.argv[1])
c = r["counts"]
assert c["hold"] == 1 and c["failed"] == 1 and c["ignored"] == 1 and c["will_be_refused"] == 0, c
assert r["failed"][0] == {"id": "200.1.1", "reason": sys.argv[2], "problem": ""}, r["failed"]
assert r["hold"][0]["id"] == "300.1.1", r["hold"]
assert r["ignored"][0]["path"].startswith("incoming/new/777"), r["ignored"]' "$json" "$reason"

# A symbolic link already in failed/ without a recorded reason: still a
# failed message, its refusal shown as the reason.
ln -s "$WORK/outside" "$SPOOL/failed/400.1.1"
out=$("$RINGMAIL" queue -c "$CONF")
check "a symlink in failed/ counts as failed" contains "$out" "  failed                   2"
check "its refusal stands in for the missing reason" contains "$out" "400.1.1  symbolic link refused"
stop_sink

[ "$FAILED" = 0 ] || exit 1
pass "operator messages"
