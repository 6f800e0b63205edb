#!/usr/bin/env bash
# tests/e2e/bench_compare_test.sh — bench/compare/compare.sh end to end on
# a tiny count: 20 alerts at verify through ringmail bench, Postfix with its
# defaults, Postfix with smtp_tls_connection_reuse and (3 alerts) msmtp, all
# into the sink. Checks the table has every row, each with a rate and the
# two ratio columns; without msmtp, that the script says how to install it.
# SKIP (77) where Postfix is not installed or the test is not root.
# usage: bench_compare_test.sh /path/to/ringmail
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/postfix_lib.sh"
postfix_require
chmod o+x "$WORK"  # compare.sh puts Postfix instances under it

status=0
bash "$E2E_DIR/../../bench/compare/compare.sh" --ringmail "$RINGMAIL" --levels verify -n 20 \
  --msmtp-messages 3 --runs 1 --timeout 60 --work-base "$WORK" > "$WORK/out" 2>&1 || status=$?
cat "$WORK/out"
[ "$status" = 0 ] || fail "compare.sh exited $status"
grep -qE '^level +sender +msgs +msg/s +CPU us/msg +sink us +handshakes +ringmail x +CPU x ringmail$' "$WORK/out" ||
  fail "no table header with the ratio columns"
number='[0-9]+(\.[0-9]+)?'
row() {  # row SENDER MESSAGES: one table row with numbers in every column
  grep -qE "^verify +$1 +$2 +$number +$number +$number +[0-9]+\+[0-9]+ +$number +$number\$" "$WORK/out" ||
    fail "no complete row for $1"
}
row 'ringmail, 1 per connection' 20
row 'ringmail, 100 per connection' 20
row 'Postfix defaults' 20
row 'Postfix, smtp_tls_connection_reuse = yes' 20
grep -qE '^verify +ringmail, 100 per connection .* 1\.0 +1\.0$' "$WORK/out" ||
  fail "ringmail at 100 per connection is not the ratios' base (1.0)"
if command -v msmtp > /dev/null; then
  row 'msmtp, one process per alert' 3
else
  grep -q 'apt install msmtp' "$WORK/out" || fail "msmtp is missing and the script does not say so"
fi
pass "compare.sh: ringmail, Postfix (defaults, connection reuse) and msmtp side by side with ratios"
