#!/bin/bash
# tests/e2e/systemd_unit_test.sh — packaging/systemd/ringmail.service is a
# valid unit, hardened, and lets the engine do what it needs:
#   1. `systemd-analyze verify` passes. verify also checks that ExecStart's
#      program exists, so it runs on a copy whose /usr/sbin/ringmail is this
#      build's binary (every other line as shipped); the package test
#      (tests/e2e/package_install.sh) verifies the installed unit as is.
#   2. `systemd-analyze security --offline` rates it at most 2.0 ("OK").
#   3. The system call filter allows io_uring: io_uring_setup, _enter and
#      _register are in the filter's groups, and no ~ line denies them; the
#      unit is Type=notify, and its ReadWritePaths are the spool and log
#      directories the packaged config uses.
#   4. Every system call the engine makes in a short run (strace -f) is one
#      the filter permits (plain builds, where strace can trace).
# SKIP (77) when systemd-analyze is not installed (Debian package systemd).
#
# Usage: bash tests/e2e/systemd_unit_test.sh /path/to/ringmail   (one ctest test)
source "$(dirname "$0")/lib.sh"

command -v systemd-analyze > /dev/null || { echo "SKIP: systemd-analyze not installed (apt-get install systemd)"; exit 77; }
UNIT_SRC=$(cd "$E2E_DIR/../.." && pwd)/packaging/systemd/ringmail.service
UNIT=$WORK/ringmail.service
sed "s#^ExecStart=/usr/sbin/ringmail #ExecStart=$RINGMAIL #" "$UNIT_SRC" > "$UNIT"
verify "the copy runs this build's binary" grep -q "^ExecStart=$RINGMAIL run -c /etc/ringmail/ringmail.toml$" "$UNIT"

# 1. verify
rc=0
systemd-analyze verify --man=no "$UNIT" > "$WORK/verify.txt" 2>&1 || rc=$?
cat "$WORK/verify.txt"
verify "systemd-analyze verify: exit 0 (got $rc)" [ "$rc" = 0 ]
verify "systemd-analyze verify: no complaint" [ ! -s "$WORK/verify.txt" ]

# 2. security
systemd-analyze security --offline=true "$UNIT" > "$WORK/security.txt" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for ringmail.service: \([0-9.]*\).*/\1/p' "$WORK/security.txt")
echo "systemd-analyze security: exposure ${exposure:-?}"
verify "systemd-analyze security: exposure ${exposure:-?} <= 2.0" \
  awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'

# 3. What the engine needs. expand_filter prints the system calls of a
# SystemCallFilter= list (groups expanded recursively), one per line.
expand_filter() {
  local entry
  for entry in "$@"; do
    case "$entry" in
      @*) expand_filter $(systemd-analyze syscall-filter "$entry" 2> /dev/null | awk 'NR > 1 && !/^ *#/ { print $1 }') ;;
      ?*) echo "$entry" ;;
    esac
  done
}
expand_filter $(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$UNIT") | sort -u > "$WORK/allowed.txt"
expand_filter $(sed -n 's/^SystemCallFilter=~\(.*\)/\1/p' "$UNIT") | sort -u > "$WORK/denied.txt"
comm -23 "$WORK/allowed.txt" "$WORK/denied.txt" > "$WORK/permitted.txt"
echo "the filter permits $(wc -l < "$WORK/permitted.txt") system calls"
for call in io_uring_setup io_uring_enter io_uring_register sched_setaffinity flock signalfd4 inotify_init1; do
  verify "the filter allows $call" grep -qx "$call" "$WORK/permitted.txt"
done

# 4. Every system call the engine makes in a short daemon run (start-up,
# READY=1, 3 deliveries, STATUS=, SIGTERM) is permitted: strace -f lists
# them. Only for a plain build (sanitizer runtimes make calls of their
# own) and where strace can trace.
if ! command -v strace > /dev/null; then
  echo "SKIP: case 4 (strace not installed)"
elif ldd "$RINGMAIL" | grep -q -e libasan -e libtsan; then
  echo "SKIP: case 4 (a sanitizer build)"
else
  setup_case strace
  start_sink "$PORT"
  put_messages "$SPOOL" strace 3
  NOTIFY_SOCKET="@ringmail-e2e-unit-$$" timeout -s TERM 3 strace -f -qq -o "$WORK/trace.txt" \
    "$RINGMAIL" run -c "$CONF" > "$WORK/strace.out" 2> "$WORK/strace.err" || true
  stop_sink
  if ! grep -q '^ringmail: delivered 3, ' "$WORK/strace.out"; then
    echo "SKIP: case 4 (the engine did not run under strace here: $(head -c 300 "$WORK/strace.err"))"
  else
    awk '{ s = $2; if (s ~ /^[a-z_0-9]+\(/) { sub(/\(.*/, "", s); print s } }' "$WORK/trace.txt" | sort -u > "$WORK/used.txt"
    echo "the engine made $(wc -l < "$WORK/used.txt") distinct system calls"
    verify "every one is permitted by the unit's filter (not: $(comm -23 "$WORK/used.txt" "$WORK/permitted.txt" | tr '\n' ' '))" \
      bash -c "[ -z \"\$(comm -23 '$WORK/used.txt' '$WORK/permitted.txt')\" ]"
    verify "... io_uring among them" grep -qx io_uring_setup "$WORK/used.txt"
  fi
fi
verify "Type=notify" grep -qx "Type=notify" "$UNIT"
verify "ReadWritePaths= the spool and the log directory" \
  grep -qx "ReadWritePaths=/var/spool/ringmail /var/log/ringmail" "$UNIT"
verify "the packaged config's spool is that spool" \
  grep -q '^spool = "/var/spool/ringmail"' "$(dirname "$UNIT_SRC")/../ringmail.toml"
verify "ExecReload sends SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$UNIT"

verify_summary "systemd unit"
