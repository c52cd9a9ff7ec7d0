#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test tier:
#   1. release build (GCC, -Werror): unit + integration tests (integration needs root)
#   2. ASan+UBSan build: unit + integration tests again
#   3. clang libFuzzer build: each fuzz target for a bounded time on its seed corpus
# `scripts/test.sh --tsan` runs only the ThreadSanitizer tier instead: a GCC -fsanitize=thread
# build of the unit test binaries, run with tests/tsan.supp. It is not in the default run: on a
# 2-core machine its build alone takes longer than the ~8 minutes such a tier may cost.
# Environment: JOBS (default nproc), FUZZ_SECONDS (default 60 per target), SKIP_ASAN=1, SKIP_FUZZ=1.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-60}

build() {  # build DIR [cmake args...]; TARGETS (optional): only those
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  # shellcheck disable=SC2086  # TARGETS is a list
  cmake --build "$dir" -j "$jobs" ${TARGETS:+--target $TARGETS}
}

if [[ ${1:-} == --tsan ]]; then
  echo "== ThreadSanitizer build and unit tests"
  TARGETS="common_test policy_test datapath_test proxy_test app_test" \
    build build-tsan -DPORTCULLIS_TSAN=ON -DPORTCULLIS_BENCH=OFF
  # halt_on_error=0: every report of a test is printed; the test still fails (exit code 66).
  TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
    ctest --test-dir build-tsan -L unit --output-on-failure -j "$jobs"
  echo "== ThreadSanitizer tier passed"
  exit 0
fi

echo "== release build and tests"
build build
ctest --test-dir build --output-on-failure -j "$jobs"

if [[ -z ${SKIP_ASAN:-} ]]; then
  echo "== ASan+UBSan build and tests"
  build build-asan -DPORTCULLIS_SANITIZE=ON -DPORTCULLIS_BENCH=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi

if [[ -z ${SKIP_FUZZ:-} ]]; then
  echo "== libFuzzer targets, ${fuzz_seconds}s each"
  CC=clang-14 CXX=clang++-14 build build-fuzz -DPORTCULLIS_FUZZ=ON -DPORTCULLIS_BENCH=OFF
  for fuzzer in build-fuzz/tests/fuzz/*_fuzzer; do
    [[ -x $fuzzer ]] || continue
    name=$(basename "$fuzzer")
    corpus=tests/fuzz/corpus/${name%_fuzzer}
    work=$(mktemp -d)
    echo "-- $name"
    "$fuzzer" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      "$work" "$corpus" 2>&1 | tail -n 12
    rm -rf "$work"
  done
fi
echo "== all test tiers passed"
