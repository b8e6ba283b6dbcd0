#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) and runs the whole test suite
# twice: a release build with warnings as errors, then the same tests under
# AddressSanitizer and UndefinedBehaviorSanitizer; then the threaded tests
# under ThreadSanitizer; then every libFuzzer target (clang) over its seed
# corpus, crash regressions included. Scores the shared example scenarios,
# and simulator traffic of shapes they lack, too when ../shared is beside
# the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)

echo "== release build (-Werror), all tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSTORMWATCH_WERROR=ON >/dev/null
cmake --build build -j"$jobs" >/dev/null
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== ASan + UBSan build, all tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSTORMWATCH_WERROR=ON -DSTORMWATCH_ASAN=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== ThreadSanitizer build, the threaded tests (ring, ZeroMQ peers, the daemon)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DSTORMWATCH_WERROR=ON -DSTORMWATCH_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs" >/dev/null
TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir build-tsan --output-on-failure -L threads -j"$jobs"

echo "== libFuzzer targets over their seed corpora (clang, ASan + UBSan)"
scripts/fuzz.sh --regress

echo "== shared example scenarios (when present)"
scripts/score-shared.sh build

echo "== simulator traffic of unseen shapes, scored by the shared tool (when present)"
scripts/score-sim.sh --check build 24
