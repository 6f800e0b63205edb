#!/bin/bash
# packaging/build_deb.sh — builds the Debian package of ringmail from the
# tree: a Release build of the `ringmail` binary in build-release/ (the
# folder tools/quickstart.sh uses), then CPack's DEB generator
# (packaging/CMakeLists.txt) writes build-release/ringmail_VERSION_ARCH.deb.
#
# usage: bash packaging/build_deb.sh [BUILD_DIR]
#   BUILD_DIR  an existing or new build folder (default build-release); a
#              plain build (no sanitizer) of any build type. The tests pass
#              their own RelWithDebInfo build/ to skip a second compile.
# Prints the path of the .deb as its last line. Needs dpkg-shlibdeps
# (dpkg-dev, part of build-essential) for the library dependencies.
# Install: sudo apt install ./build-release/ringmail_*.deb (docs/operations.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${1:-build-release}
JOBS=${JOBS:-$(nproc)}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
if grep -q '^RINGMAIL_SANITIZE:STRING=.\+' "$BUILD/CMakeCache.txt" \
  || grep -q '^RINGMAIL_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt"; then
  echo "build_deb: $BUILD is a sanitizer or fuzz build; package a plain build" >&2
  exit 64
fi
cmake --build "$BUILD" -j "$JOBS" --target ringmail
# Only the packaged files: CPack installs the rules of packaging/CMakeLists.txt.
(cd "$BUILD" && cpack -G DEB -B "$PWD" > cpack.log 2>&1) || { cat "$BUILD/cpack.log" >&2; exit 1; }
rm -rf "$BUILD/_CPack_Packages"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
deb="$BUILD/ringmail_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { echo "build_deb: $deb was not made; see $BUILD/cpack.log" >&2; exit 1; }
echo "$deb"
