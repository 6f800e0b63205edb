# tests/e2e/postfix_lib.sh — a private Postfix instance for the e2e tests
# and benchmarks (Debian's postfix package: a server nobody here wrote).
# Sourced by e2e tests after tests/e2e/lib.sh, and usable without it (a
# benchmark script): it needs only bash, and sets an EXIT trap that stops
# every instance it started, then runs lib.sh's `cleanup` if there is one.
#
# The instance lives entirely under one directory DIR of the test's work
# folder: DIR/conf (main.cf, master.cf, sasl/), DIR/queue, DIR/data and its
# log DIR/maillog (postlogd, so no syslog is needed). It listens only on
# 127.0.0.1 ports the test chose, does no DNS, and relays every message to
# 127.0.0.1:RELAY_PORT (a `ringmail sink`), so nothing leaves the machine.
# It never reads or writes /etc/postfix (beyond Postfix's own read-only
# files there, postfix-files and dynamicmaps.cf), never listens on port 25,
# and is stopped on exit (postfix_stop_all runs from the EXIT trap).
#
# Needs root (the master starts as root and its daemons run as the package's
# `postfix` user and `postdrop` group); postfix_require skips (exit 77)
# where the package is not installed or the test is not root.
#
# Functions:
#   postfix_require                  exit 77 unless Postfix can run here
#   postfix_init DIR RELAY_PORT      write the instance (no listener yet)
#   postfix_set DIR 'name = value'.. main.cf parameters (later ones win)
#   postfix_listener DIR PORT [-o name=value]...  an smtpd on 127.0.0.1:PORT
#   postfix_tls DIR CERT KEY         server certificate; STARTTLS offered
#   postfix_sasl DIR USER PASSWORD   Cyrus SASL (sasldb) with one user
#   postfix_start DIR / postfix_stop DIR
#   postfix_stop_all                 stop every instance started (EXIT trap)
POSTFIX_SBIN=/usr/sbin/postfix
POSTFIX_DIRS=()

postfix_require() {
  if [ ! -x "$POSTFIX_SBIN" ] || ! getent passwd postfix > /dev/null || ! getent group postdrop > /dev/null; then
    echo "SKIP: Postfix is not installed (tools/install_deps.sh installs postfix)"
    exit 77
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: a private Postfix instance needs root (its master starts as root)"
    exit 77
  fi
}

# postfix_init DIR RELAY_PORT
postfix_init() {
  local dir=$1 relay_port=$2
  mkdir -p "$dir/conf/sasl" "$dir/queue" "$dir/data"
  # Postfix's daemons run as `postfix`: they must reach DIR through its
  # parent (a test's work folder is mode 700 from mktemp); o+x lets them in
  # without listing it.
  chmod o+x "$(dirname "$dir")"
  chmod 755 "$dir" "$dir/conf" "$dir/conf/sasl"
  chown postfix "$dir/data"
  cat > "$dir/conf/main.cf" <<EOF
# A private Postfix instance for ringmail's tests (tests/e2e/postfix_lib.sh).
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
syslog_name = postfix-ringmail-test
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = postfix.ringmail.test
mydomain = ringmail.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$relay_port
smtp_dns_support_level = disabled
disable_dns_lookups = yes
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
local_header_rewrite_clients =
disable_mime_output_conversion = yes
smtp_tls_security_level = none
smtpd_banner = \$myhostname ESMTP Postfix (ringmail interop test)
biff = no
EOF
  # Every service runs outside a chroot (the instance lives in a temporary
  # folder); the smtpd listeners are added by postfix_listener.
  cat > "$dir/conf/master.cf" <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# postfix_set DIR 'name = value'...
postfix_set() {
  local dir=$1
  shift
  printf '%s\n' "$@" >> "$dir/conf/main.cf"
}

# postfix_listener DIR PORT [-o name=value]...
postfix_listener() {
  local dir=$1 port=$2
  shift 2
  {
    echo "127.0.0.1:$port inet n - n - - smtpd"
    while [ $# -gt 0 ]; do
      [ "$1" = -o ] || fail "postfix_listener: options are -o name=value, not $1"
      echo "  -o $2"
      shift 2
    done
  } >> "$dir/conf/master.cf"
}

# postfix_tls DIR CERT KEY: STARTTLS offered on every listener (level may),
# the TLS facts in the Received: header and one log line per handshake.
postfix_tls() {
  local dir=$1
  install -m 600 "$3" "$dir/conf/server.key"
  install -m 644 "$2" "$dir/conf/server.pem"
  postfix_set "$dir" \
    "smtpd_tls_chain_files = $dir/conf/server.key, $dir/conf/server.pem" \
    "smtpd_tls_security_level = may" \
    "smtpd_tls_received_header = yes" \
    "smtpd_tls_loglevel = 1"
}

# postfix_sasl DIR USER PASSWORD: Cyrus SASL with PLAIN and LOGIN checked
# against a private sasldb (sasl2-bin's saslpasswd2) holding USER in the
# realm ringmail.test. Offered only where a listener sets
# smtpd_sasl_auth_enable=yes; a listener with -o smtpd_sasl_path=smtpd-login
# offers LOGIN only.
postfix_sasl() {
  local dir=$1 user=$2 password=$3
  command -v saslpasswd2 > /dev/null || { echo "SKIP: sasl2-bin is not installed (saslpasswd2)"; exit 77; }
  printf '%s' "$password" | saslpasswd2 -p -c -f "$dir/conf/sasl/sasldb2" -u ringmail.test "$user" \
    || fail "saslpasswd2 could not create $dir/conf/sasl/sasldb2"
  chgrp postfix "$dir/conf/sasl/sasldb2"
  chmod 640 "$dir/conf/sasl/sasldb2"
  local app
  for app in "smtpd:PLAIN LOGIN" "smtpd-login:LOGIN"; do
    printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: %s\n' \
      "$dir/conf/sasl/sasldb2" "${app#*:}" > "$dir/conf/sasl/${app%%:*}.conf"
  done
  postfix_set "$dir" \
    "smtpd_sasl_type = cyrus" \
    "smtpd_sasl_path = smtpd" \
    "cyrus_sasl_config_path = $dir/conf/sasl" \
    "smtpd_sasl_local_domain = ringmail.test"
}

# postfix_start DIR: starts the instance and waits (bounded) until its
# master runs. The EXIT trap stops it; if the test is killed outright
# (SIGKILL: no trap runs), a watchdog stops it within a second of both the
# test and `postfix start` having ended.
postfix_start() {
  local dir=$1 test_pid=$$ start_pid rc=0
  POSTFIX_DIRS+=("$dir")
  timeout 30 "$POSTFIX_SBIN" -c "$dir/conf" start > "$dir/start.log" 2>&1 &
  start_pid=$!
  (
    trap '' TERM INT
    while kill -0 "$test_pid" 2>/dev/null; do sleep 1; done
    while kill -0 "$start_pid" 2>/dev/null; do sleep 0.2; done
    [ -d "$dir/conf" ] && postfix_stop "$dir"
  ) < /dev/null > /dev/null 2>&1 &
  wait "$start_pid" || rc=$?
  [ "$rc" = 0 ] || fail "postfix did not start: $(cat "$dir/start.log"; tail -5 "$dir/maillog" 2>/dev/null)"
}

# postfix_stop DIR: stops the instance; SIGKILL to its master if
# `postfix stop` did not end it within 10 s.
postfix_stop() {
  local dir=$1 pid
  pid=$(sed -n 's/ //g;1p' "$dir/queue/pid/master.pid" 2>/dev/null || true)
  timeout 10 "$POSTFIX_SBIN" -c "$dir/conf" stop > /dev/null 2>&1 || true
  if [ -n "$pid" ]; then
    # A master that exited is gone or a zombie (state Z) until reaped.
    for _ in $(seq 100); do
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)" != Z ] || return 0
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

postfix_stop_all() {
  local dir
  for dir in "${POSTFIX_DIRS[@]:-}"; do
    [ -n "$dir" ] && postfix_stop "$dir"
  done
  POSTFIX_DIRS=()
}
trap 'postfix_stop_all; if declare -F cleanup > /dev/null; then cleanup; fi' EXIT
trap 'exit 143' TERM  # so that SIGTERM and SIGINT run the EXIT trap too
trap 'exit 130' INT
declare -F fail > /dev/null || fail() { echo "FAIL: $*" >&2; exit 1; }
