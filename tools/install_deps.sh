#!/bin/bash
# tools/install_deps.sh — installs, with apt, every Debian (bookworm) package
# that building ringmail and running all of its tests needs, and nothing else.
#
# Called by tools/quickstart.sh, by .ci/run on a fresh machine, and by hand.
# Idempotent: when every package is already installed it does not touch apt
# at all (no network, no root needed). Runs apt non-interactively and never
# prompts; uses sudo only when not root. It must never install from outside
# Debian's archive, change apt sources, or remove anything.
#
# Why each package is here: docs/building.md. Keep that file and this list in
# step.
set -euo pipefail

PACKAGES=(
  # Toolchain and build tools.
  build-essential     # g++ 12, make, libc headers: the default compiler
  cmake               # >= 3.25 (bookworm has 3.25)
  ninja-build         # the generator tools/test.sh uses
  pkg-config          # finds liburing
  clang               # clang 14: libFuzzer targets (tests/fuzz)
  libclang-rt-14-dev  # clang's runtimes: libFuzzer, ASan/UBSan for clang
  llvm-14             # llvm-symbolizer: readable stacks in clang sanitizer reports
  clang-format        # the "format" stage of tools/test.sh (.clang-format)
  # Libraries the code links.
  liburing-dev               # io_uring
  android-libboringssl-dev   # BoringSSL (TLS), headers in /usr/include/android
  libmimalloc-dev            # process allocator (not in sanitizer builds)
  libtomlplusplus-dev        # config file (TOML)
  libcli11-dev               # command line
  libfmt-dev                 # formatting
  libc-ares-dev              # asynchronous DNS (MX lookup)
  libcrypt-dev               # crypt(3): yescrypt/SHA-512 hashes of the SMTP listener's users_file
  # Tests and benchmarks.
  libgtest-dev libgmock-dev  # unit tests
  libbenchmark-dev           # micro benchmarks (bench/)
  python3                    # e2e helpers (/usr/bin/python3: make_spool.py, smtplib clients)
  python3-aiosmtpd           # third-party SMTP server for e2e tests
  procps                     # ps, pgrep, free: used by tests and .ci/run
  mount                      # mount --bind in a private namespace (e2e protocol_variants; unshare is in util-linux)
  # Interop tests against Postfix (tests/e2e/postfix_lib.sh runs private
  # instances; the package is preseeded below so it configures and starts nothing).
  postfix                    # Postfix smtpd with STARTTLS, wrappermode and SASL
  sasl2-bin                  # saslpasswd2: the test instance's sasldb
  libsasl2-modules           # Cyrus SASL PLAIN and LOGIN (only recommended by libsasl2-2)
  # bench/compare/compare.sh (tests/e2e/bench_compare_test.sh): the "one
  # process per alert" path that alert tools use, beside Postfix and ringmail.
  msmtp                      # msmtp, one process per message
  # SMTP ingress e2e tests (tests/e2e/ingress_*_test.sh): clients nobody here
  # wrote send to ringmail's listener.
  swaks                      # swaks over clear, STARTTLS and implicit TLS, with AUTH
  prometheus-alertmanager    # Alertmanager (Go net/smtp) fires an alert at the listener
  # The Debian package and its systemd unit (packaging/; tests systemd_unit, package.install).
  systemd                    # systemd-analyze verify/security of packaging/systemd/ringmail.service
  adduser                    # the package's maintainer scripts (Depends: adduser)
  logrotate                  # checks packaging/logrotate/ringmail (the package Recommends it)
  strace                     # lists the engine's system calls against the unit's SystemCallFilter
  # Metrics: promtool, for `promtool check metrics` in tests/e2e/metrics_test.sh
  # (which skips that check without it). Debian ships promtool only inside
  # the whole Prometheus server: 19 MB download, 96 MB installed, ~30 s.
  prometheus
)

# missing_packages prints the packages that are not fully installed.
missing_packages() {
  local pkg status
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || echo "$pkg"
  done
}

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages are already installed"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
  [ -t 0 ] || SUDO=(sudo -n)   # no terminal (CI): fail instead of waiting for a password
fi
export DEBIAN_FRONTEND=noninteractive
# postfix: "No configuration" writes no /etc/postfix/main.cf, so neither its
# init script nor postfix.service starts a system-wide Postfix (both need main.cf).
for pkg in "${missing[@]}"; do
  if [ "$pkg" = postfix ]; then
    echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
  fi
done
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"

mapfile -t still < <(missing_packages)
if [ "${#still[@]}" -ne 0 ]; then
  echo "install_deps: still not installed after apt-get: ${still[*]}" >&2
  exit 1
fi
echo "install_deps: done"
