#!/usr/bin/env bash
# Every benchmark of stormwatch, one table: each figure against a baseline
# measured in the same run on the same machine (alternating runs, best of
# several), then instruction counts under valgrind --tool=callgrind, which
# do not depend on what else the machine is doing.
#
#   bench/run.sh [BUILD_DIR] [--quick]
#
# BUILD_DIR is a Release build (default build). --quick uses smaller inputs
# and fewer runs (a few minutes instead of about fifteen). The table is
# printed as Markdown on standard output; each benchmark's own report goes
# to BUILD_DIR/bench-logs/.
set -euo pipefail
build=build quick=0
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) build=$a ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
sw=$build/stormwatch
for b in "$sw" "$build/bench/bench_parse" "$build/bench/bench_detect" "$build/bench/bench_ring"; do
  [ -x "$b" ] || { echo "bench/run.sh: no $b; build first (cmake --build $build)" >&2; exit 2; }
done
logs=$build/bench-logs
mkdir -p "$logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/swbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ $quick = 1 ]; then
  runs=3 users=50 hours=3 detect_args=(--series 1000,10000,100000 --rate 10 --runs 3)
else
  runs=5 users=100 hours=6 detect_args=()
fi
step() { echo "bench/run.sh: $*" >&2; }

step "line-protocol parse"
"$sw" simulate --users "$users" --hours "$hours" --seed 3 --daily 0.3 --bursts 20 \
  --out "$work/sim" >/dev/null 2>&1
"$build/bench/bench_parse" "$work/sim/traffic.lp" --runs "$runs" >"$logs/parse.txt" 2>&1
step "replay, plain and gzip"
bash "$here/replay.sh" "$build" --users "$users" --hours "$hours" --runs "$runs" >"$logs/replay.txt" 2>&1
step "detector update and memory (the longest part)"
"$build/bench/bench_detect" "${detect_args[@]}" >"$logs/detect.txt" 2>&1
step "SPSC ring"
"$build/bench/bench_ring" --runs "$runs" >"$logs/ring.txt" 2>&1
step "live ingest over ZeroMQ"
bash "$here/ingest.sh" "$build" --runs "$runs" >"$logs/ingest.txt" 2>&1 ||
  echo "ROW	live ingest	-	failed: see $logs/ingest.txt	-	-	NOT met" >>"$logs/ingest.txt"
step "Users in any order: replay shuffled vs id order, live 50k shuffled Users"
if [ $quick = 1 ]; then order_args=(--users 5000 --live-users 20000 --live-seconds 10 --runs 2); else order_args=(--runs 3); fi
bash "$here/order.sh" "$build" "${order_args[@]}" >"$logs/order.txt" 2>&1 ||
  echo "ROW	Users in any order	-	failed: see $logs/order.txt	-	-	NOT met" >>"$logs/order.txt"
step "memory per series, live daemon"
: >"$logs/memory.txt"
if [ $quick = 1 ]; then mem_args=(--series 100000); else mem_args=(); fi
# three series a User (333k Users at 1M: per-User state weighs most), and
# 32 (31k Users, each with 30 alert codes: the shape of the DSP's feed)
for k in 3 32; do
  bash "$here/memory.sh" "$build" "${mem_args[@]}" --per-user $k >>"$logs/memory.txt" 2>&1 ||
    echo "ROW	memory, live daemon, $k a User	-	failed: see $logs/memory.txt	-	-	NOT met" >>"$logs/memory.txt"
done
step "Kafka ingest, 1 and 2 instances (mock cluster)"
bash "$here/kafka.sh" "$build" --runs "$runs" >"$logs/kafka.txt" 2>&1 ||
  echo "ROW	Kafka ingest	-	failed: see $logs/kafka.txt	-	-	-" >>"$logs/kafka.txt"

# instructions per line or sample, single-threaded paths
step "instruction counts (callgrind)"
head -n 200000 "$work/sim/traffic.lp" >"$work/small.lp"
small_lines=$(wc -l <"$work/small.lp")
ir() { # out-file cmd...: total instructions of cmd
  local out=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1
  awk '/^summary:/ { print $2 }' "$out"
}
ir_parse=$(ir "$work/cg.parse" "$build/bench/bench_parse" "$work/small.lp" --once)
ir_replay=$(ir "$work/cg.replay" "$sw" replay --quiet "$work/small.lp")
# bench_detect counts only its measured round (callgrind client requests)
detect_n=$("$build/bench/bench_detect" --callgrind 10000 10 | awk -F'\t' '/^SAMPLES/ { print $2 }')
ir_detect=$(ir "$work/cg.detect" "$build/bench/bench_detect" --callgrind 10000 10)
ir_base=$(ir "$work/cg.base" "$build/bench/bench_detect" --callgrind-baseline 10000 10)

echo "| what | baseline (same run) | measured | ratio | target | verdict |"
echo "|---|---|---|---|---|---|"
cat "$logs"/parse.txt "$logs"/replay.txt "$logs"/detect.txt "$logs"/ring.txt "$logs"/ingest.txt \
    "$logs"/order.txt "$logs"/memory.txt "$logs"/kafka.txt |
  awk -F'\t' '/^ROW\t/ { printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7 }'
echo
echo "Instructions (callgrind, repeatable):"
awk -v p="$ir_parse" -v r="$ir_replay" -v n="$small_lines" -v d="$ir_detect" -v b="$ir_base" \
    -v dn="$detect_n" 'BEGIN {
  printf "- parse: %.0f instructions per line (bench_parse --once, %d lines, reading the file included)\n", p / n, n
  printf "- replay end to end: %.0f instructions per line (stormwatch replay, same %d lines)\n", r / n, n
  if (dn > 0)
    printf "- detector update, 10k series at 10/min: %.0f per sample; hash-increment baseline %.0f\n",
           d / dn, b / dn
}'
