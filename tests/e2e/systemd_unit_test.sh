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

# 3. What the engine needs.
allowed=$(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$UNIT" | tr ' ' '\n')
expanded=$(for entry in $allowed; do
  case "$entry" in @*) systemd-analyze syscall-filter "$entry" 2>/dev/null ;; *) echo "$entry" ;; esac
done)
# Groups list other groups: expand those one level deeper too.
expanded+=$'\n'$(for group in $(echo "$expanded" | grep -o '^ *@[a-z-]*'); do systemd-analyze syscall-filter "$group" 2>/dev/null; done)
denied=$(sed -n 's/^SystemCallFilter=~\(.*\)/\1/p' "$UNIT" | tr ' ' '\n')
denied_expanded=$(for entry in $denied; do
  case "$entry" in @*) systemd-analyze syscall-filter "$entry" 2>/dev/null ;; *) echo "$entry" ;; esac
done)
for call in io_uring_setup io_uring_enter io_uring_register sched_setaffinity; do
  verify "the filter allows $call" bash -c "grep -qw '$call' <<< \"\$1\" && ! grep -qw '$call' <<< \"\$2\"" _ \
    "$expanded" "$denied_expanded"
done
verify "Type=notify" grep -qx "Type=notify" "$UNIT"
verify "ReadWritePaths= the spool and the log directory" \
  grep -qx "ReadWritePaths=/var/spool/ringmail /var/log/ringmail" "$UNIT"
verify "the packaged config's spool is that spool" \
  grep -q '^spool = "/var/spool/ringmail"' "$(dirname "$UNIT_SRC")/../ringmail.toml"
verify "ExecReload sends SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$UNIT"

verify_summary "systemd unit"
