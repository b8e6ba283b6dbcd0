#!/usr/bin/env bash
# Kafka ingest throughput with one and two instances in a consumer group,
# against librdkafka's mock cluster (tests/kafka_mock: three in-process
# brokers on 127.0.0.1). For each run the instances join an empty topic of
# 4 partitions first, then a simulated recording is produced (one message
# per line, keyed by User) and the time from the first line produced to the
# last line ingested is taken; the best of RUNS, alternating 1 and 2.
# The mock keeps about 5 MB per partition, so the recording stays small.
#
#   bench/kafka.sh [BUILD_DIR] [--users N] [--hours H] [--runs N] [--smoke]
set -euo pipefail
build=build users=50 hours=2 runs=3
while [ $# -gt 0 ]; do
  case $1 in
    --users) users=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --smoke) users=4 hours=1 runs=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) build=$1; shift ;;
  esac
done
[ -d "$build" ] || { echo "bench/kafka.sh: no build folder $build" >&2; exit 2; }
build=$(cd "$build" && pwd)
sw=$build/stormwatch mock=$build/tests/kafka_mock
for b in "$sw" "$mock"; do
  [ -x "$b" ] || { echo "bench/kafka.sh: no $b; build first" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/swkafka.XXXXXX")
pids=()
cleanup() {
  exec 7>&- 2>/dev/null || true # the mock cluster ends when its stdin closes
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
"$sw" simulate --users "$users" --hours "$hours" --interval 10 --seed 5 --out sim >/dev/null 2>&1
lines=$(grep -c . sim/traffic.lp)
topics=$(for r in $(seq 1 $((2 * runs))); do printf 't%d,' "$r"; done)
mkfifo ctl
"$mock" serve "${topics%,}" 4 <ctl >boot.txt 2>mock.log &
pids+=($!)
exec 7>ctl
for _ in $(seq 1 100); do [ -s boot.txt ] && break; sleep 0.1; done
brokers=$(head -1 boot.txt)

taken() { awk '/stats:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "lines,") n = $i } END { print n + 0 }' "$1"; }
now() { date +%s%N; }
run() { # topic instances: prints seconds from produce to the last line ingested
  local topic=$1 n=$2 logs=() ps=()
  for i in $(seq 1 "$n"); do
    "$sw" run --kafka-brokers "$brokers" --kafka-topic "$topic" --kafka-group "g-$topic" \
      --alerts /dev/null --stats-every 0.2 --log-level info 2>"$topic.$i.log" &
    ps+=($!); pids+=($!); logs+=("$topic.$i.log")
  done
  for _ in $(seq 1 300); do # every instance has its partitions
    local settled=1
    for l in "${logs[@]}"; do
      local held; held=$(grep "$topic: holding partitions" "$l" | tail -1)
      if [ "$n" -eq 1 ]; then
        echo "$held" | grep -q "\\[0,1,2,3\\]" || settled=0
      else
        echo "$held" | grep -q "\\[[0-9],[0-9]\\]" || settled=0
      fi
    done
    [ $settled = 1 ] && break
    sleep 0.1
  done
  local t0; t0=$(now)
  "$mock" produce "$brokers" "$topic" sim/traffic.lp 2>/dev/null
  while :; do
    local sum=0
    for l in "${logs[@]}"; do sum=$((sum + $(taken "$l"))); done
    [ "$sum" -ge "$lines" ] && break
    [ $(( ($(now) - t0) / 1000000000 )) -lt 120 ] || { echo "bench/kafka.sh: timeout ($sum of $lines)" >&2; break; }
    sleep 0.05
  done
  local t1; t1=$(now)
  kill -TERM "${ps[@]}"; wait "${ps[@]}" 2>/dev/null || true
  echo $(( t1 - t0 ))
}
best1=0 best2=0 r=0
for _ in $(seq 1 "$runs"); do
  r=$((r + 1)); d=$(run "t$r" 1); { [ $best1 -eq 0 ] || [ "$d" -lt $best1 ]; } && best1=$d
  r=$((r + 1)); d=$(run "t$r" 2); { [ $best2 -eq 0 ] || [ "$d" -lt $best2 ]; } && best2=$d
done
awk -v lines="$lines" -v a="$best1" -v b="$best2" -v runs="$runs" 'BEGIN {
  printf "kafka benchmark: %d lines (one message each) to 4 partitions of the mock cluster, best of %d\n", lines, runs
  printf "%-28s %10s %14s\n", "instances", "seconds", "k lines/s"
  printf "%-28s %10.2f %14.1f\n", "1", a / 1e9, lines / (a / 1e9) / 1e3
  printf "%-28s %10.2f %14.1f\n", "2 (one consumer group)", b / 1e9, lines / (b / 1e9) / 1e3
  printf "2 / 1: %.2f\n", a / b
}'
