#!/usr/bin/env bash
# Kafka ingest throughput with one and two instances in a consumer group,
# against librdkafka's mock cluster (tests/kafka_mock: three in-process
# brokers on 127.0.0.1). For each run a simulated recording is produced to
# a topic of 32 partitions (one message per line, keyed by User), then the
# instances start together, and the time
# from their partitions assigned to the last line taken is read off their
# logs (stats every 50 ms); the best of RUNS, alternating 1 and 2. A run in
# which partitions moved between the instances is not counted.
# The mock keeps only the last 5 MB or so of a partition (older messages
# go, and a consumer behind them loses them), so the recording stays
# under half of that: about 2.6 MB a partition at the defaults.
#
#   bench/kafka.sh [BUILD_DIR] [--users N] [--hours H] [--runs N] [--smoke]
set -euo pipefail
build=build users=200 hours=2 runs=3 partitions=32
while [ $# -gt 0 ]; do
  case $1 in
    --users) users=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --smoke) users=4 hours=1 runs=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
topics=$(for r in $(seq 1 $((10 * runs))); do printf 't%d,' "$r"; done) # 5 tries of each
mkfifo ctl
"$mock" serve "${topics%,}" "$partitions" <ctl >boot.txt 2>mock.log &
pids+=($!)
exec 7>ctl
# the mock makes every topic's partitions before it prints its brokers:
# seconds for the full run's 50 topics on a busy machine
for _ in $(seq 1 600); do [ -s boot.txt ] && break; sleep 0.1; done
brokers=$(head -1 boot.txt)
[ -n "$brokers" ] || { echo "bench/kafka.sh: the mock cluster did not start in 60 s" >&2; exit 1; }

now() { date +%s%N; }
taken() { awk '/stats:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "lines,") n = $i } END { print n + 0 }' "$1"; }
# seconds of the day of a log line's stamp (2026-12-03T11:43:01.123Z ...)
secs='function secs(s) { split(substr(s, 12, 12), t, ":"); return t[1] * 3600 + t[2] * 60 + t[3] }'
# the instance's reading, from its log: "START END" (seconds of the day),
# from its partitions assigned to its last line taken; "-" when its
# partitions moved in between (a rebalance inside the measurement)
span() {
  awk "$secs"'
    / holding partitions \[[0-9]/ { if (start) moved = 1; start = secs($1) }
    /stats:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "lines,") n = $i
               if (n > last) { last = n; end = secs($1) } }
    END { if (moved || !start) print "-"; else printf "%.3f %.3f\n", start, end }' "$1"
}
run() { # topic instances: prints nanoseconds from the partitions assigned to the last line taken
  local topic=$1 n=$2 logs=() ps=()
  # the recording is in the topic before anyone reads it, so the instances
  # read as fast as they can and never wait on the producer
  "$mock" produce "$brokers" "$topic" sim/traffic.lp 2>"$topic.produce.log" ||
    { echo "bench/kafka.sh: $topic: $(tail -1 "$topic.produce.log")" >&2; touch produce.failed
      echo 0; return; }
  for i in $(seq 1 "$n"); do # together, so one group generation shares the partitions
    "$sw" run --kafka-brokers "$brokers" --kafka-topic "$topic" --kafka-group "g-$topic" \
      --alerts /dev/null --stats-every 0.05 --log-level info 2>"$topic.$i.log" &
    ps+=($!); pids+=($!); logs+=("$topic.$i.log")
  done
  local t0; t0=$(now)
  while :; do
    local sum=0
    for l in "${logs[@]}"; do sum=$((sum + $(taken "$l"))); done
    [ "$sum" -ge "$lines" ] && break
    [ $(( ($(now) - t0) / 1000000000 )) -lt 120 ] || { echo "bench/kafka.sh: timeout ($sum of $lines)" >&2; break; }
    sleep 0.1
  done
  sleep 0.2
  kill -TERM "${ps[@]}"; wait "${ps[@]}" 2>/dev/null || true
  local spans; spans=$(for l in "${logs[@]}"; do span "$l"; done)
  if echo "$spans" | grep -q -- -; then
    echo "bench/kafka.sh: $topic: partitions moved during the run; not counted" >&2
    echo 0
    return
  fi
  echo "$spans" | awk '{ if (!s || $1 < s) s = $1; if ($2 > e) e = $2 } END { printf "%d\n", (e - s) * 1e9 }'
}
r=0 got=0
clean_run() { # instances: sets got to a run in which no partition moved (5 tries)
  got=0
  for _ in 1 2 3 4 5; do
    [ -e produce.failed ] && return # the cluster does not take messages: no try will do
    r=$((r + 1))
    got=$(run "t$r" "$1")
    [ "$got" -gt 0 ] && return
  done
}
best1=0 best2=0
keep() { [ "$2" -gt 0 ] && { [ "$1" -eq 0 ] || [ "$2" -lt "$1" ]; } && echo "$2" || echo "$1"; }
for _ in $(seq 1 "$runs"); do
  clean_run 1; best1=$(keep $best1 "$got")
  clean_run 2; best2=$(keep $best2 "$got")
done
[ "$best1" -gt 0 ] && [ "$best2" -gt 0 ] || { echo "bench/kafka.sh: no clean run" >&2; exit 1; }
awk -v lines="$lines" -v a="$best1" -v b="$best2" -v runs="$runs" -v parts="$partitions" 'BEGIN {
  printf "kafka benchmark: %d lines (one message each) to %d partitions of the mock cluster, best of %d\n", lines, parts, runs
  printf "%-28s %10s %14s\n", "instances", "seconds", "k lines/s"
  printf "%-28s %10.2f %14.1f\n", "1", a / 1e9, lines / (a / 1e9) / 1e3
  printf "%-28s %10.2f %14.1f\n", "2 (one consumer group)", b / 1e9, lines / (b / 1e9) / 1e3
  printf "2 / 1: %.2f\n", a / b
  # the row bench/run.sh puts in its table
  printf "ROW\tKafka ingest, 2 instances in a group (mock cluster)\t1 instance %.0f k lines/s\t%.0f k lines/s\t%.2f\t-\t-\n",
         lines / (a / 1e9) / 1e3, lines / (b / 1e9) / 1e3, a / b
}'
