#!/bin/bash
# tests/e2e/package_install.sh — the Debian package, installed for real:
#   1. packaging/build_deb.sh makes the .deb from this build (no second
#      compile); dpkg -i installs it (twice: the second run is the upgrade
#      path of the maintainer scripts).
#   2. Files, owners and modes: /usr/sbin/ringmail, the conffiles
#      /etc/ringmail/ringmail.toml (root:ringmail-inject 0640) and
#      /etc/logrotate.d/ringmail, the unit in /lib/systemd/system, the spool
#      (docs/operations.md: root and incoming/ ringmail:ringmail-inject
#      0750, incoming/tmp and incoming/new 3770, the rest ringmail 0700), /var/log/ringmail; the
#      system user ringmail (nologin, a member of ringmail-inject); library
#      dependencies computed (android-libboringssl among them).
#   3. `ringmail --help` runs from /usr/sbin; `systemd-analyze verify` passes
#      on the installed unit; logrotate accepts the snippet (when installed).
#   4. A member of ringmail-inject queues a message with `ringmail inject`
#      (its file: PRODUCER:ringmail-inject 0640); a user outside the group
#      cannot (exit 73); then `runuser -u ringmail -- ringmail run --drain`
#      with the packaged config (a copy, the relay port pointed at a test
#      sink) delivers it, exit 0.
#   5. dpkg --purge removes the binary, the config, the unit, the spool and
#      the logs; dpkg --audit finds nothing broken.
# It changes the system (a package, users, /var/spool/ringmail), so it runs
# only where CI=true or RINGMAIL_PACKAGE_TEST=1 (else SKIP 77), as root, and
# never over an installed ringmail package. Users it created are removed at
# the end.
#
# Usage: RINGMAIL_PACKAGE_TEST=1 bash tests/e2e/package_install.sh BUILD/ringmail
source "$(dirname "$0")/lib.sh"

if [ "${CI:-}" != true ] && [ "${RINGMAIL_PACKAGE_TEST:-0}" != 1 ]; then
  echo "SKIP: installs a package and creates users; runs only with CI=true or RINGMAIL_PACKAGE_TEST=1"
  exit 77
fi
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (dpkg -i)"; exit 77; }
for tool in dpkg dpkg-shlibdeps cpack adduser runuser; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
if dpkg-query -W -f='${Status}' ringmail 2> /dev/null | grep -q ' installed$'; then
  echo "SKIP: a ringmail package is installed already; this test never replaces it (dpkg --purge ringmail first)"
  exit 77
fi

ROOT=$(cd "$E2E_DIR/../.." && pwd)
PRODUCER=ringmail-e2e-producer
OUTSIDER=ringmail-e2e-outsider
# What this run creates, it removes: the test users always, ringmail (user
# and group) and ringmail-inject only when they did not exist before.
remove_users=("$PRODUCER" "$OUTSIDER") remove_groups=()
getent passwd ringmail > /dev/null || { remove_users+=(ringmail); remove_groups+=(ringmail); }
getent group ringmail-inject > /dev/null || remove_groups+=(ringmail-inject)

package_cleanup() {
  local name
  dpkg --purge ringmail > /dev/null 2>&1 || true
  for name in "${remove_users[@]}"; do
    if getent passwd "$name" > /dev/null; then deluser --quiet "$name" > /dev/null 2>&1 || true; fi
  done
  for name in "${remove_groups[@]}"; do
    if getent group "$name" > /dev/null; then delgroup --quiet "$name" > /dev/null 2>&1 || true; fi
  done
  cleanup
}
trap package_cleanup EXIT

# stat_is PATH "OWNER:GROUP MODE"
stat_is() {
  local got
  got=$(stat -c '%U:%G %a' "$1" 2> /dev/null || echo missing)
  [ "$got" = "$2" ] || { echo "  $1: $got, want $2"; return 1; }
}

# 1. Build and install.
dpkg --audit > "$WORK/audit-before.txt" 2>&1 || true
DEB=$(bash "$ROOT/packaging/build_deb.sh" "$(dirname "$RINGMAIL")" | tail -1)
verify "build_deb.sh made $DEB" [ -f "$DEB" ]
verify "dpkg -i installs it" dpkg -i "$DEB"
verify "dpkg -i again (the upgrade path) works" dpkg -i "$DEB"

# 2. Files, owners, modes, users.
verify "/usr/sbin/ringmail root 0755" stat_is /usr/sbin/ringmail "root:root 755"
verify "the config root:ringmail-inject 0640" stat_is /etc/ringmail/ringmail.toml "root:ringmail-inject 640"
verify "the config is the packaged one" cmp -s /etc/ringmail/ringmail.toml "$ROOT/packaging/ringmail.toml"
conffiles=$(dpkg-query -W -f='${Conffiles}' ringmail)
verify "conffile /etc/ringmail/ringmail.toml" grep -q '^ /etc/ringmail/ringmail.toml ' <<< "$conffiles"
verify "conffile /etc/logrotate.d/ringmail" grep -q '^ /etc/logrotate.d/ringmail ' <<< "$conffiles"
verify "the unit in /lib/systemd/system" cmp -s /lib/systemd/system/ringmail.service "$ROOT/packaging/systemd/ringmail.service"
verify "docs in /usr/share/doc/ringmail" [ -s /usr/share/doc/ringmail/operations.md ]
verify "spool root ringmail:ringmail-inject 0750" stat_is /var/spool/ringmail "ringmail:ringmail-inject 750"
verify "incoming/ ringmail:ringmail-inject 0750" stat_is /var/spool/ringmail/incoming "ringmail:ringmail-inject 750"
for dir in incoming/tmp incoming/new; do
  verify "$dir ringmail:ringmail-inject 3770 (setgid, sticky)" stat_is "/var/spool/ringmail/$dir" "ringmail:ringmail-inject 3770"
done
for dir in active deferred failed hold meta; do
  verify "$dir ringmail:ringmail 0700" stat_is "/var/spool/ringmail/$dir" "ringmail:ringmail 700"
done
verify "/var/log/ringmail ringmail:adm 2750" stat_is /var/log/ringmail "ringmail:adm 2750"
IFS=: read -r _ _ uid _ _ home shell <<< "$(getent passwd ringmail)"
verify "user ringmail is a system user (uid $uid)" [ "$uid" -lt 1000 ]
verify "user ringmail: home /var/spool/ringmail ($home)" [ "$home" = /var/spool/ringmail ]
verify "user ringmail: no login shell ($shell)" [ "$shell" = /usr/sbin/nologin ]
verify "user ringmail is in ringmail-inject" bash -c "id -nG ringmail | grep -qw ringmail-inject"
depends=$(dpkg-query -W -f='${Depends}' ringmail)
echo "  Depends: $depends"
for dep in adduser android-libboringssl liburing2 libmimalloc2.0; do
  verify "Depends names $dep" grep -q "$dep" <<< "$depends"
done

# 3. The binary, the unit, the logrotate snippet.
verify "ringmail --help runs from /usr/sbin" bash -c "/usr/sbin/ringmail --help > /dev/null"
if command -v systemd-analyze > /dev/null; then
  verify "systemd-analyze verify on the installed unit" \
    bash -c "out=\$(systemd-analyze verify --man=no ringmail.service 2>&1); echo \"\$out\"; [ -z \"\$out\" ]"
fi
if command -v logrotate > /dev/null; then
  verify "logrotate accepts /etc/logrotate.d/ringmail" \
    bash -c "logrotate -d -s '$WORK/logrotate.state' /etc/logrotate.d/ringmail > '$WORK/logrotate.txt' 2>&1 && ! grep -qi error '$WORK/logrotate.txt'"
fi

# 4. Queue as a member of ringmail-inject, deliver as ringmail.
adduser --system --quiet --no-create-home "$PRODUCER"
adduser --quiet "$PRODUCER" ringmail-inject
adduser --system --quiet --no-create-home "$OUTSIDER"
PORT=$(free_port)
MAILDIR=$WORK/maildir
chmod 0711 "$WORK"
mkdir -m 0755 "$WORK/etc"
CONF=$WORK/etc/ringmail.toml
sed "s/^port = 25$/port = $PORT/" /etc/ringmail/ringmail.toml > "$CONF"
chmod 0644 "$CONF"
verify "the copy of the packaged config points at the test sink" grep -q "^port = $PORT$" "$CONF"
start_sink "$PORT" --maildir "$MAILDIR"
msg=$'From: alerts@example.org\nTo: ops@example.org\nSubject: packaged\nMessage-Id: <pkg-0@ringmail.test>\n\nfrom a member of ringmail-inject\n'
rc=0
# The producer uses the packaged config itself: it must be able to read it.
runuser -u "$PRODUCER" -- /usr/sbin/ringmail inject -f alerts@example.org ops@example.org \
  <<< "$msg" 2> "$WORK/inject.err" || rc=$?
verify "a member of ringmail-inject queues with ringmail inject and /etc/ringmail/ringmail.toml (exit $rc)" \
  [ "$rc" = 0 ]
cat "$WORK/inject.err"
queued=$(find /var/spool/ringmail/incoming/new -type f | head -1)
verify "its file is $PRODUCER:ringmail-inject 0640" stat_is "$queued" "$PRODUCER:ringmail-inject 640"
rc=0
runuser -u "$OUTSIDER" -- /usr/sbin/ringmail inject -c "$CONF" -f alerts@example.org ops@example.org \
  <<< "$msg" 2> "$WORK/outsider.err" || rc=$?
verify "a user outside ringmail-inject cannot (exit $rc, want 73)" [ "$rc" = 73 ]
cat "$WORK/outsider.err"
rc=0
runuser -u "$OUTSIDER" -- /usr/sbin/ringmail inject ops@example.org <<< "$msg" 2> /dev/null || rc=$?
verify "... nor read /etc/ringmail/ringmail.toml (exit $rc, want 78)" [ "$rc" = 78 ]
rc=0
runuser -u ringmail -- /usr/sbin/ringmail run --drain -c "$CONF" > "$WORK/drain.out" 2> "$WORK/drain.err" || rc=$?
cat "$WORK/drain.out" "$WORK/drain.err"
verify "runuser -u ringmail -- ringmail run --drain: exit 0 (got $rc)" [ "$rc" = 0 ]
verify "... it delivered the message" grep -q '^ringmail: delivered 1, partial 0, deferred 0, failed 0' "$WORK/drain.out"
stop_sink
verify "the sink got it" msgid_check "$MAILDIR" pkg 1
verify "the spool is empty again" [ "$(spool_files /var/spool/ringmail)" = 0 ]

# 5. Purge.
verify "dpkg --purge ringmail" dpkg --purge ringmail
for path in /usr/sbin/ringmail /etc/ringmail /lib/systemd/system/ringmail.service /etc/logrotate.d/ringmail \
  /var/spool/ringmail /var/log/ringmail /usr/share/doc/ringmail; do
  verify "purged: $path" [ ! -e "$path" ]
done
dpkg --audit > "$WORK/audit-after.txt" 2>&1 || true
verify "dpkg --audit finds nothing broken (as before the test)" cmp -s "$WORK/audit-before.txt" "$WORK/audit-after.txt"
verify "dpkg knows no ringmail" bash -c "! dpkg-query -W -f='\${Status}' ringmail 2>/dev/null | grep -q ' installed$'"

verify_summary "Debian package install"
