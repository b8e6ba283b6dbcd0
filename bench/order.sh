#!/usr/bin/env bash
# Users in any order within a timestamp: a DSP stamps every series of one
# round with the same time, and its Users come in any order.
#
#  1. replay of N Users x R rounds (default 20 000 x 40 at 10 s), the same
#     lines with each round's Users in id order and shuffled anew: the best
#     of RUNS alternating runs of each; ratio = id-order time / shuffled
#     time, target >= 0.8.
#  2. live: `stormwatch run` fed M shuffled Users (default 50 000) over
#     ZeroMQ on loopback, paced at 1 M lines/s (the simulator's --speed)
#     for S seconds (default 30): the rate the publisher sustained (it
#     waits when the daemon does not keep up), and zero samples dropped,
#     zero late, zero alerts. The bare ZeroMQ receive loop (bench_zmq_recv)
#     takes the same file as fast as it can in the same run, as the
#     machine's reference.
# Lines starting with ROW are the rows of bench/run.sh's table.
#
#   bench/order.sh [BUILD_DIR] [--users N] [--rounds R] [--live-users M]
#                  [--live-seconds S] [--runs N] [--smoke]
#
# --smoke makes tiny inputs and runs once: it proves the benchmark works,
# it measures nothing (the test suite uses it).
set -euo pipefail
build=build users=20000 rounds=40 live_users=50000 live_s=30 runs=3 smoke=0
while [ $# -gt 0 ]; do
  case $1 in
    --users) users=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --live-users) live_users=$2; shift 2 ;;
    --live-seconds) live_s=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --smoke) users=200 rounds=10 live_users=500 live_s=1 runs=1 smoke=1; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench/order.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
sw=$build/stormwatch recv=$build/bench/bench_zmq_recv
for p in "$sw" "$recv"; do
  [ -x "$p" ] || { echo "bench/order.sh: no $p; build first" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/sworder.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
die() { echo "bench/order.sh: $*" >&2; exit 1; }
now() { date +%s%N; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # file pattern seconds
  local deadline=$(($(now) + $3 * 1000000000))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ "$(now)" -lt $deadline ] || return 1
    sleep 0.05
  done
}

# ---- 1. replay in id order and shuffled ---------------------------------------
hours=$(awk -v r="$rounds" 'BEGIN { printf "%.6f", (r * 10 + 5) / 3600 }')
for o in id shuffled; do
  "$sw" simulate --users "$users" --hours "$hours" --interval 10 --learn 10s --order "$o" \
    >"$work/$o.lp" 2>/dev/null || die "simulate --order $o failed"
done
lines=$(grep -vc '^#' "$work/id.lp")
best_id=0 best_sh=0
keep_best() { if [ "${!1}" -eq 0 ] || [ "$2" -lt "${!1}" ]; then printf -v "$1" %d "$2"; fi; }
for ((i = 0; i < runs; i++)); do
  t0=$(now); "$sw" replay --quiet "$work/id.lp" >"$work/id.out"; t1=$(now)
  "$sw" replay --quiet "$work/shuffled.lp" >"$work/shuffled.out"; t2=$(now)
  keep_best best_id $((t1 - t0)); keep_best best_sh $((t2 - t1))
done
cmp -s "$work/id.out" "$work/shuffled.out" || die "the two orders gave different alert lines"
rm -f "$work/id.lp" "$work/shuffled.lp"
awk -v u="$users" -v r="$rounds" -v lines="$lines" -v a="$best_id" -v b="$best_sh" -v runs="$runs" 'BEGIN {
  printf "replay, %d Users x %d rounds (%d lines), best of %d alternating runs\n", u, r, lines, runs
  printf "  Users in id order: %.3f s (%.2f M lines/s)\n", a / 1e9, lines / (a / 1e9) / 1e6
  printf "  shuffled each round: %.3f s (%.2f M lines/s)\n", b / 1e9, lines / (b / 1e9) / 1e6
  printf "ROW\treplay, %dk Users x %d rounds, shuffled within each round\tid order %.2f M lines/s\t%.2f M lines/s\t%.2f\t>= 0.8, same alert lines\t%s\n",
         u / 1000, r, lines / (a / 1e9) / 1e6, lines / (b / 1e9) / 1e6, a / b, (a / b >= 0.8 ? "met" : "NOT met")
}'

# ---- 2. live, shuffled Users ---------------------------------------------------
# enough rounds for live_s seconds at 1 M lines/s (3 series a User a round)
live_rounds=$(((live_s * 1000000 + 3 * live_users - 1) / (3 * live_users)))
live_hours=$(awk -v r="$live_rounds" 'BEGIN { printf "%.6f", (r * 10 + 5) / 3600 }')
"$sw" simulate --users "$live_users" --hours "$live_hours" --interval 10 --learn 10s \
  --order shuffled --out "$work/live" >/dev/null 2>&1 || die "simulate (live) failed"
live_lines=$(wc -l <"$work/live/traffic.lp")
# a round of 3 x live_users lines covers 10 s of event time: 1 M lines/s is
# that many times real time
pace=$(awk -v u="$live_users" 'BEGIN { printf "%.4f", 1e6 / (3 * u / 10) }')
publish() { # port report-file speed
  "$sw" simulate --input "$work/live/traffic.lp" --publish "tcp://127.0.0.1:$1" --speed "$3" \
    2>"$2" || { cat "$2" >&2; die "the publisher failed"; }
}
rate_of() { sed -n 's/.* \([0-9]*\) lines\/s$/\1/p' "$1" | tail -n 1; }
secs_of() { sed -n 's/.*bytes, \([0-9.]*\) s, .*/\1/p' "$1" | tail -n 1; }
best_bare=0 best_live=0 live_secs=0 lost=0 late=0 shed=0 alerts=0
for ((i = 0; i < runs; i++)); do
  port=$(free_port)
  "$recv" "tcp://127.0.0.1:$port" --lines "$live_lines" --quiet-ms 10000 >"$work/recv.out" \
    2>"$work/recv.err" &
  rp=$!; pids+=("$rp")
  wait_for "$work/recv.err" "listening on" 10 || die "bench_zmq_recv did not start"
  publish "$port" "$work/bare.pub" max
  wait "$rp" || die "bench_zmq_recv did not receive every line"
  r=$(rate_of "$work/bare.pub"); [ "${r:-0}" -gt "$best_bare" ] && best_bare=$r

  port=$(free_port)
  : >"$work/alerts.jsonl"
  "$sw" run --ingest "tcp://127.0.0.1:$port" --alerts "$work/alerts.jsonl" --stats-every 0 \
    2>"$work/run.log" &
  dp=$!; pids+=("$dp")
  wait_for "$work/run.log" "running:" 10 || { cat "$work/run.log" >&2; die "stormwatch run did not start"; }
  publish "$port" "$work/live.pub" "$pace"
  kill -TERM "$dp"; wait "$dp" || { cat "$work/run.log" >&2; die "stormwatch run failed"; }
  r=$(rate_of "$work/live.pub")
  if [ "${r:-0}" -gt "$best_live" ]; then best_live=$r live_secs=$(secs_of "$work/live.pub"); fi
  final=$(grep ' stats: ' "$work/run.log" | tail -n 1)
  got=$(sed -n 's/.*lines\/s, \([0-9]*\) lines,.*/\1/p' <<<"$final")
  lost=$((lost + live_lines - ${got:-0}))
  late=$((late + $(sed -n 's/.*bad, \([0-9]*\) late,.*/\1/p' <<<"$final")))
  shed=$((shed + $(sed -n 's/.*dropped \([0-9]*\),.*/\1/p' <<<"$final")))
  alerts=$((alerts + $(wc -l <"$work/alerts.jsonl")))
done
awk -v u="$live_users" -v lines="$live_lines" -v bare="$best_bare" -v live="$best_live" \
    -v secs="$live_secs" -v lost="$lost" -v late="$late" -v shed="$shed" -v alerts="$alerts" \
    -v want_s="$live_s" -v runs="$runs" 'BEGIN {
  printf "live, %d shuffled Users, %d lines a run, best of %d runs\n", u, lines, runs
  printf "  bare ZeroMQ receive loop: %.2f M lines/s\n", bare / 1e6
  printf "  stormwatch run, paced at 1 M lines/s: %.2f M lines/s over %.1f s; lost %d, late %d, shed %d, alerts %d (all runs)\n",
         live / 1e6, secs, lost, late, shed, alerts
  ok = live >= 0.99e6 && secs >= want_s * 0.99 && lost == 0 && late == 0 && shed == 0 && alerts == 0
  printf "ROW\tlive ingest, %dk shuffled Users, %.0f s\tbare receive loop %.2f M lines/s\t%.2f M lines/s\t%.2f\t>= 1 M lines/s for %d s; no drop, late or alert\t%s\n",
         u / 1000, secs, bare / 1e6, live / 1e6, live / bare, want_s, (ok ? "met" : "NOT met")
}'
if [ $smoke -eq 1 ] && [ $((lost + late + shed + alerts)) -ne 0 ]; then
  die "smoke: lost $lost, late $late, shed $shed, alerts $alerts"
fi
