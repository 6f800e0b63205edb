#!/bin/bash
# tools/quickstart.sh — the first command of README.md: installs the Debian
# packages (tools/install_deps.sh; apt, asks for sudo if not root), builds an
# optimised ringmail (CMAKE_BUILD_TYPE=Release) into build-release/, and runs
# the end-to-end benchmark `build-release/ringmail bench` (generated alerts of
# 2 KB delivered on loopback into `ringmail sink` at each TLS level, under a
# minute on 2 cores; extra arguments go to it).
#
# It writes only build-release/ and the benchmark's temporary spool; it never
# runs the test suite (that is tools/test.sh) and never installs ringmail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/install_deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DRINGMAIL_SANITIZE= -DRINGMAIL_FUZZ=OFF
ninja -C build-release -j"${JOBS:-$(nproc)}" ringmail
echo
echo "built build-release/ringmail; running: build-release/ringmail bench"
status=0
build-release/ringmail bench "$@" || status=$?
if [ "$status" != 0 ]; then
  echo "quickstart: 'ringmail bench' exited with status $status." >&2
  if ! build-release/ringmail --help | grep -q '^  bench '; then
    echo "quickstart: this build has no 'bench' subcommand yet; the build itself succeeded." >&2
  fi
fi
exit "$status"
