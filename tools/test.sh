#!/bin/bash
# tools/test.sh — THE test command of ringmail (README.md, .ci/run). Builds
# and runs every test suite the way CI does:
#
#   release  RelWithDebInfo build in build/: every target; ctest: unit + e2e
#   asan     ASan+UBSan build in build-asan/: unit + e2e (engine under ASan)
#   tsan     TSan build in build-tsan/: ring/doorbell tests and every test
#            whose name contains "Thread" or "Concurrent"
#   fuzz     clang + libFuzzer build in build-fuzz/: each fuzz target 20 s
#
# usage: bash tools/test.sh [--quick] [--no-sanitizers] [--no-fuzz] [--fail-fast]
#   --quick          only the release build's unit tests (a minute or two)
#   --no-sanitizers  skip the asan and tsan stages
#   --no-fuzz        skip the fuzz stage
#   --fail-fast      stop at the first failing stage (default: run every
#                    stage, then exit 1 if any failed)
# environment:
#   BUILD_PREFIX  build folder prefix, default "build" (build/, build-asan/, ...)
#   JOBS          parallel compile and test jobs, default nproc
#
# Every stage prints a banner and ctest's own summary; ctest runs with
# --no-tests=error so a stage that finds no tests fails visibly. At the end a
# table gives each stage's result and time. It only writes inside the build
# folders (and the temporary folders tests make); it never installs anything
# (tools/install_deps.sh does that) and never touches the sources.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

QUICK=0 SANITIZERS=1 FUZZ=1 FAIL_FAST=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --no-sanitizers) SANITIZERS=0 ;;
    --no-fuzz) FUZZ=0 ;;
    --fail-fast) FAIL_FAST=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $arg (try --help)" >&2; exit 64 ;;
  esac
done
if [ "$QUICK" = 1 ]; then SANITIZERS=0 FUZZ=0; fi

PREFIX=${BUILD_PREFIX:-build}
JOBS=${JOBS:-$(nproc)}
CTEST_ARGS=(--output-on-failure --no-tests=error --timeout 300 -j"$JOBS")

STAGE_NAMES=() STAGE_RESULTS=() STAGE_SECONDS=()
ANY_FAILED=0

banner() {
  echo
  echo "================================================================"
  echo "== $*"
  echo "================================================================"
}

# run_stage NAME FUNCTION: runs one stage, records its result and time.
run_stage() {
  local name=$1 fn=$2 start result
  if [ "$FAIL_FAST" = 1 ] && [ "$ANY_FAILED" = 1 ]; then
    STAGE_NAMES+=("$name") STAGE_RESULTS+=("NOT RUN") STAGE_SECONDS+=(0)
    return
  fi
  banner "stage $name: start $(date -u +%H:%M:%S)"
  start=$SECONDS
  if ( "$fn" ); then result=PASS; else result=FAIL; ANY_FAILED=1; fi
  STAGE_NAMES+=("$name") STAGE_RESULTS+=("$result") STAGE_SECONDS+=($((SECONDS - start)))
  banner "stage $name: $result in $((SECONDS - start)) s"
}

skip_stage() {
  STAGE_NAMES+=("$1") STAGE_RESULTS+=("skipped ($2)") STAGE_SECONDS+=(0)
}

# configure DIR ARGS...: (re)configures one build folder with Ninja.
configure() {
  local dir=$1; shift
  echo "+ cmake -S . -B $dir -G Ninja $*"
  cmake -S "$ROOT" -B "$dir" -G Ninja "$@"
}

build() {
  local dir=$1; shift
  echo "+ ninja -C $dir -j$JOBS $*"
  ninja -C "$dir" -j"$JOBS" "$@"
}

run_ctest() {
  echo "+ ctest --test-dir $* ${CTEST_ARGS[*]}"
  ctest --test-dir "$@" "${CTEST_ARGS[@]}"
}

# stage_format checks that every C++ file is as clang-format (.clang-format)
# writes it; tools/format.sh rewrites them.
stage_format() {
  local bad=() f
  while IFS= read -r f; do
    clang-format --dry-run --Werror "$ROOT/$f" > /dev/null 2>&1 || bad+=("$f")
  done < <(git -C "$ROOT" ls-files '*.cc' '*.h')
  if [ "${#bad[@]}" -gt 0 ]; then
    printf 'not clang-formatted (run tools/format.sh): %s\n' "${bad[@]}"
    return 1
  fi
  echo "clang-format: all C++ files clean"
}

stage_release() {
  local dir=$PREFIX
  configure "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGMAIL_SANITIZE= -DRINGMAIL_FUZZ=OFF || return 1
  if [ "$QUICK" = 1 ]; then
    build "$dir" unit_tests || return 1
    run_ctest "$dir" -L unit
  else
    build "$dir" || return 1
    run_ctest "$dir"   # unit + e2e; e2e tests hold RESOURCE_LOCK e2e (one at a time)
  fi
}

stage_asan() {
  local dir=$PREFIX-asan
  configure "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGMAIL_SANITIZE=address -DRINGMAIL_FUZZ=OFF || return 1
  # Exported before the build: gtest_discover_tests runs unit_tests at build time.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  build "$dir" unit_tests ringmail make_test_pki || return 1   # make_test_pki: the TLS e2e tests run under ASan too
  run_ctest "$dir" -L '^(unit|e2e)$'
}

stage_tsan() {
  local dir=$PREFIX-tsan
  configure "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRINGMAIL_SANITIZE=thread -DRINGMAIL_FUZZ=OFF || return 1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  build "$dir" unit_tests || return 1
  # Same selection as --gtest_filter='SpscRing*:MpscRing*:Doorbell*:*Thread*:*Concurrent*'.
  run_ctest "$dir" -L '^unit$' -R '^(SpscRing|MpscRing|Doorbell)|Thread|Concurrent'
}

stage_fuzz() {
  local dir=$PREFIX-fuzz targets=() src
  for src in "$ROOT"/tests/fuzz/*_fuzz.cc; do
    [ -e "$src" ] && targets+=("$(basename "$src" .cc)")
  done
  if [ "${#targets[@]}" -eq 0 ]; then echo "no tests/fuzz/*_fuzz.cc"; return 1; fi
  CC=clang CXX=clang++ configure "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DRINGMAIL_FUZZ=ON -DRINGMAIL_SANITIZE= || return 1
  build "$dir" "${targets[@]}" || return 1
  local symbolizer
  symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
  if [ -n "$symbolizer" ]; then export ASAN_SYMBOLIZER_PATH=$symbolizer; fi
  run_ctest "$dir" -L '^fuzz$'
}

echo "test.sh: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git') in $ROOT," \
  "quick=$QUICK sanitizers=$SANITIZERS fuzz=$FUZZ fail_fast=$FAIL_FAST jobs=$JOBS prefix=$PREFIX"
TOTAL_START=$SECONDS

run_stage format stage_format
run_stage release stage_release
if [ "$SANITIZERS" = 1 ]; then
  run_stage asan stage_asan
  run_stage tsan stage_tsan
else
  skip_stage asan "--no-sanitizers or --quick"
  skip_stage tsan "--no-sanitizers or --quick"
fi
if [ "$FUZZ" = 1 ]; then
  run_stage fuzz stage_fuzz
else
  skip_stage fuzz "--no-fuzz or --quick"
fi

banner "summary"
for i in "${!STAGE_NAMES[@]}"; do
  printf '  %-8s %-38s %5d s\n' "${STAGE_NAMES[$i]}" "${STAGE_RESULTS[$i]}" "${STAGE_SECONDS[$i]}"
done
printf '  %-8s %-38s %5d s\n' total "$([ "$ANY_FAILED" = 0 ] && echo PASS || echo FAIL)" $((SECONDS - TOTAL_START))
exit "$ANY_FAILED"
