#!/usr/bin/env bash
# Replay throughput: `stormwatch replay` on an uncompressed recording from
# the simulator, against `wc -l` on the same file, and on its gzip form
# against `zcat >/dev/null`, in the same run. Each pair alternates, RUNS
# times each, and the best time of each is reported, so a noisy neighbour
# on this shared machine hurts both alike. Lines starting with ROW are the
# rows of bench/run.sh's table.
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
gzip -c "$file" >"$file.gz"
lines=$(wc -l <"$file")
bytes=$(stat -c %s "$file")

now() { date +%s%N; }
best_wc=0 best_sw=0 best_zc=0 best_gz=0
keep_best() { # var value
  if [ "${!1}" -eq 0 ] || [ "$2" -lt "${!1}" ]; then printf -v "$1" %d "$2"; fi
}
for ((i = 0; i < runs; i++)); do
  t0=$(now); wc -l "$file" >/dev/null; t1=$(now)
  "$sw" replay --quiet "$file" >/dev/null; t2=$(now)
  "$sw" replay --quiet "$file.gz" >/dev/null; t3=$(now)
  zcat "$file.gz" >/dev/null; t4=$(now)
  keep_best best_wc $((t1 - t0)); keep_best best_sw $((t2 - t1))
  keep_best best_gz $((t3 - t2)); keep_best best_zc $((t4 - t3))
done

awk -v lines="$lines" -v bytes="$bytes" -v wc="$best_wc" -v sw="$best_sw" -v zc="$best_zc" \
    -v gz="$best_gz" -v runs="$runs" 'BEGIN {
  printf "replay benchmark: %d lines (%.0f MB), best of %d alternating runs\n", lines, bytes / 1e6, runs
  printf "%-34s %12s %14s\n", "what", "seconds", "M lines/s"
  printf "%-34s %12.3f %14.2f\n", "wc -l (baseline)", wc / 1e9, lines / (wc / 1e9) / 1e6
  printf "%-34s %12.3f %14.2f\n", "stormwatch replay (one thread)", sw / 1e9, lines / (sw / 1e9) / 1e6
  printf "%-34s %12.3f %14.2f\n", "zcat >/dev/null (baseline)", zc / 1e9, lines / (zc / 1e9) / 1e6
  printf "%-34s %12.3f %14.2f\n", "stormwatch replay of the .gz", gz / 1e9, lines / (gz / 1e9) / 1e6
  rate = lines / (sw / 1e9)
  printf "ROW\treplay end to end, uncompressed, one thread\twc -l %.0f M lines/s\t%.2f M samples/s\t%.2f\t>= 8 M samples/s, within 6x of wc -l\t%s\n",
         lines / (wc / 1e9) / 1e6, rate / 1e6, wc / sw, (rate >= 8e6 && sw <= 6 * wc ? "met" : "NOT met")
  printf "ROW\treplay from .gz\tzcat %.2f M lines/s\t%.2f M samples/s\t%.2f\twithin 1.5x of zcat\t%s\n",
         lines / (zc / 1e9) / 1e6, lines / (gz / 1e9) / 1e6, zc / gz, (gz <= 1.5 * zc ? "met" : "NOT met")
}'