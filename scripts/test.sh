#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every test tier:
#   1. release build (GCC, -Werror): unit + integration tests (integration needs root)
#   2. ASan+UBSan build: unit + integration tests again
#   3. clang libFuzzer build: each fuzz target for a bounded time on its seed corpus
# Environment: JOBS (default nproc), FUZZ_SECONDS (default 60 per target), SKIP_ASAN=1, SKIP_FUZZ=1.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-60}

build() {  # build DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

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
