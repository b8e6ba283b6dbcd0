#!/usr/bin/env bash
# Replay throughput: `stormwatch replay` on an uncompressed recording from
# the simulator, against `wc -l` on the same file in the same run. The two
# alternate, RUNS times each, and the best time of each is reported, so a
# noisy neighbour on this shared machine hurts both alike.
#
#   bench/replay.sh [BUILD_DIR] [--users N] [--hours H] [--runs N] [--smoke]
#
# --smoke makes a tiny file and runs once: it proves the benchmark works,
# it measures nothing (the test suite uses it).
set -euo pipefail
build=build users=100 hours=12 runs=5
while [ $# -gt 0 ]; do
  case $1 in
    --users) users=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --smoke) users=4 hours=0.5 runs=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) build=$1; shift ;;
  esac
done
sw=$build/stormwatch
[ -x "$sw" ] || { echo "bench/replay.sh: no $sw; build first" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/swbench.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$sw" simulate --users "$users" --hours "$hours" --seed 3 --daily 0.3 --bursts 20 \
  --out "$work" >/dev/null 2>&1
file=$work/traffic.lp
lines=$(wc -l <"$file")
bytes=$(stat -c %s "$file")

now() { date +%s%N; }
best_wc=0 best_sw=0
for ((i = 0; i < runs; i++)); do
  t0=$(now); wc -l "$file" >/dev/null; t1=$(now)
  "$sw" replay --quiet "$file" >/dev/null; t2=$(now)
  d_wc=$((t1 - t0)) d_sw=$((t2 - t1))
  if [ $best_wc -eq 0 ] || [ $d_wc -lt $best_wc ]; then best_wc=$d_wc; fi
  if [ $best_sw -eq 0 ] || [ $d_sw -lt $best_sw ]; then best_sw=$d_sw; fi
done

awk -v lines="$lines" -v bytes="$bytes" -v wc="$best_wc" -v sw="$best_sw" -v runs="$runs" 'BEGIN {
  printf "replay benchmark: %d lines (%.0f MB), best of %d alternating runs\n", lines, bytes / 1e6, runs
  printf "%-34s %12s %14s\n", "what", "seconds", "M lines/s"
  printf "%-34s %12.3f %14.2f\n", "wc -l (baseline)", wc / 1e9, lines / (wc / 1e9) / 1e6
  printf "%-34s %12.3f %14.2f\n", "stormwatch replay (one thread)", sw / 1e9, lines / (sw / 1e9) / 1e6
  printf "replay / wc -l time ratio: %.1fx; target >= 3 M samples/s: %s\n", sw / wc,
         (lines / (sw / 1e9) >= 3e6 ? "met" : "NOT met")
}'
