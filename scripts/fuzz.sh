#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan + UBSan) in build-fuzz
# and runs them.
#
#   scripts/fuzz.sh [--empty] [--jobs N] [SECONDS] [TARGET...]
#       runs each target for SECONDS (default 20) on a fresh empty working
#       corpus, with the seeds of tests/fuzz/corpus/<what>/ read-only beside
#       it (--empty: without the seeds). TARGET is fuzz_<what> or <what>;
#       none: every target. --jobs N runs N targets at a time (default 1;
#       each takes a core).
#   scripts/fuzz.sh --regress [TARGET...]
#       runs each target once over every file of its seed corpus (the crash
#       regressions are there too) and stops: quick, for CI.
#
# Prints one line per target and exits 1 when any target found a crash, a
# leak, a timeout (an input running over 10 s) or ran out of memory; its log
# and the input that did it are kept under build-fuzz/fuzz-runs/. Nothing is
# ever written to the repository's corpus: new inputs go to the working
# corpus under build-fuzz/fuzz-runs/, which is made afresh for each run.
# tests/fuzz/dict/<what>.dict, when present, is the target's dictionary.
# FUZZ_ARGS adds libFuzzer options (e.g. FUZZ_ARGS=-only_ascii=1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$root/build-fuzz

usage() {
  sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

regress=0 empty=0 jobs=1 seconds=20
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --regress) regress=1 ;;
    --empty) empty=1 ;;
    --jobs) [ $# -ge 2 ] || usage; jobs=$2; shift ;;
    --jobs=*) jobs=${1#--jobs=} ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *)
      if [ ${#targets[@]} -eq 0 ] && [[ $1 =~ ^[0-9]+$ ]] && [ $regress -eq 0 ]; then
        seconds=$1
      else
        t=${1#fuzz_}
        [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: no target fuzz_$t" >&2; exit 2; }
        targets+=("$t")
      fi ;;
  esac
  shift
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || usage
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    targets+=("${t#fuzz_}")
  done
fi

# Longest input of each target: above its largest seed, small enough to stay fast.
max_len() {
  case $1 in
    lineproto) echo 4096 ;;
    change_api) echo 4096 ;;
    changes) echo 8192 ;;
    state) echo 8192 ;;
    config|ingest) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang)" >&2; exit 1; }
CC=clang cmake -S . -B "$build" -DSTORMWATCH_FUZZ=ON -DSTORMWATCH_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}" >/dev/null

runs=$build/fuzz-runs
mkdir -p "$runs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# What the log of a failed run says happened (the target's own check first).
finding() {
  local log=$1 check
  check=$(grep -m1 "^fuzz_$3: " "$log" || true)
  if [ -n "$check" ]; then echo "check failed: ${check#fuzz_$3: }"
  elif grep -q "ERROR: LeakSanitizer" "$log"; then echo leak
  elif grep -q "ERROR: libFuzzer: timeout" "$log"; then echo timeout
  elif grep -q "ERROR: libFuzzer: out-of-memory" "$log"; then echo out-of-memory
  elif grep -q "runtime error:" "$log"; then
    grep -m1 "runtime error:" "$log" | sed "s|^.*$root/||; s|runtime error|undefined behaviour|" | cut -c1-160
  elif grep -q "ERROR: AddressSanitizer" "$log"; then
    grep -m1 -o "ERROR: AddressSanitizer: [a-z-]*" "$log" | sed 's/ERROR: AddressSanitizer: /ASan: /'
  elif grep -q "deadly signal" "$log"; then echo "crash (abort or signal)"
  else echo "exit status $2"
  fi
}

# Runs one target; prints its line; returns 1 on a finding.
run_one() {
  local t=$1 exe=$build/tests/fuzz/fuzz_$1 seeds=$root/tests/fuzz/corpus/$1
  local dir log rc=0
  dir=$(mktemp -d "$runs/$t.XXXXXX")
  log=$dir/log
  mkdir -p "$dir/corpus" "$dir/artifacts"
  local opts=(-max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$dir/artifacts/")
  [ -f "$root/tests/fuzz/dict/$t.dict" ] && opts+=(-dict="$root/tests/fuzz/dict/$t.dict")
  opts+=(${FUZZ_ARGS:-})
  if [ $regress -eq 1 ]; then
    local files=()
    [ -d "$seeds" ] && while IFS= read -r f; do files+=("$f"); done < <(find "$seeds" -type f | sort)
    if [ ${#files[@]} -eq 0 ]; then
      printf '%-16s no seeds\n' "fuzz_$t"
      rm -rf "$dir"
      return 0
    fi
    "$exe" "${opts[@]}" "${files[@]}" >"$log" 2>&1 || rc=$?
    if [ $rc -eq 0 ]; then
      printf '%-16s ok: %d seeds\n' "fuzz_$t" "${#files[@]}"
      rm -rf "$dir"
      return 0
    fi
  else
    local corpora=("$dir/corpus")
    [ $empty -eq 0 ] && [ -d "$seeds" ] && corpora+=("$seeds")
    "$exe" "${opts[@]}" -max_total_time="$seconds" "${corpora[@]}" >"$log" 2>&1 || rc=$?
    if [ $rc -eq 0 ]; then
      local execs cov ft corp
      execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
      cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
      ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
      corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | sed 's/corp: //' || echo '?')
      printf '%-16s ok: %ss, %s execs, cov %s, ft %s, corpus %s%s\n' "fuzz_$t" "$seconds" \
        "$execs" "$cov" "$ft" "$corp" "$([ $empty -eq 1 ] && echo ' (no seeds)')"
      rm -rf "$dir"
      return 0
    fi
  fi
  local art
  art=$(find "$dir/artifacts" -type f | head -1)
  printf '%-16s FAILED: %s; input %s; log %s\n' "fuzz_$t" "$(finding "$log" "$rc" "$t")" \
    "${art:-(none)}" "$log"
  return 1
}

status=$(mktemp -d "$runs/status.XXXXXX")
for t in "${targets[@]}"; do
  [ -x "$build/tests/fuzz/fuzz_$t" ] || { echo "fuzz.sh: fuzz_$t not built" >&2; exit 1; }
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
  { rc=0; run_one "$t" || rc=$?; echo $rc >"$status/$t"; } &
done
wait
failed=0
for t in "${targets[@]}"; do
  [ "$(cat "$status/$t" 2>/dev/null)" = 0 ] || failed=1
done
rm -rf "$status"
exit $failed
