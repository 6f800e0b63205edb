#!/usr/bin/env bash
# tools/format.sh — rewrite every tracked C++ file with clang-format
# (.clang-format at the repo root). tools/test.sh's "format" stage checks it.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.cc' '*.h' | xargs clang-format -i
