#!/usr/bin/env bash
# Memory per series as the daemon really runs: `stormwatch run` (one
# shard) fed N series over ZeroMQ on loopback, K series a User (default 3:
# a request, a response and an alert series; K > 3 splits the alerts into
# K - 2 alert-code series, as the DSP's Users send them) every 10 s, for
# R rounds (default 9: 90 s of event time, so that the reorder buffer
# holds its steady input.lateness of samples and the alert stage has
# released a bucket of every User, which makes its entry for the User:
# lateness, a bucket and the incident settle; with 6 the alert stage's
# Users were not all there yet), then its resident set (VmRSS) less the
# resident set it had when it started, divided by N. It is read 12 s
# after every line is in: the publisher sends 90 s of traffic in about
# 10 s, so the buffers a growing ring or table left behind are younger
# than jemalloc's 10 s decay, after which its background thread returns
# them (sent at real time, `--speed 1`, they are long gone by then, and
# the figure is the same).
# Target: <= 1 KiB a series at 1M.
# Lines starting with ROW are the rows of bench/run.sh's table.
#
#   bench/memory.sh [BUILD_DIR] [--series N] [--per-user K] [--rounds R] [--speed X]
#                   [--smoke]
#
# --smoke: 3000 series, 3 rounds, no wait; proves the benchmark works (the
# test suite runs it), measures nothing.
set -euo pipefail
build=build series=1000000 per_user=3 rounds=9 smoke=0 settle=12 speed=max
while [ $# -gt 0 ]; do
  case $1 in
    --series) series=$2; shift 2 ;;
    --per-user) per_user=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --speed) speed=$2; shift 2 ;;
    --smoke) series=3000 rounds=3 smoke=1 settle=0; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench/memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
sw=$build/stormwatch
[ -x "$sw" ] || { echo "bench/memory.sh: no $sw; build first" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/swmem.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
die() { echo "bench/memory.sh: $*" >&2; exit 1; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
stat_lines() { sed -n 's/.*lines\/s, \([0-9]*\) lines,.*/\1/p' "$1" | tail -n 1; }

[ "$per_user" -ge 3 ] 2>/dev/null || die "--per-user must be 3 or more"
codes=()
[ "$per_user" -gt 3 ] && codes=(--alert-codes $((per_user - 2)))
users=$(((series + per_user - 1) / per_user))
hours=$(awk -v r="$rounds" 'BEGIN { printf "%.6f", (r * 10 + 5) / 3600 }')
"$sw" simulate --users "$users" --hours "$hours" --interval 10 --learn 10s "${codes[@]}" \
  --out "$work/sim" >/dev/null 2>&1 || die "simulate failed"
lines=$(grep -vc '^#' "$work/sim/traffic.lp")
nseries=$((users * per_user))
# one sample a series a round: the shape asked for, or the figure is wrong
[ "$lines" -eq $((nseries * rounds)) ] ||
  die "the simulator made $lines lines, not $nseries series x $rounds rounds"

port=$(free_port)
"$sw" run --ingest "tcp://127.0.0.1:$port" --alerts /dev/null --shards 1 --stats-every 1s \
  2>"$work/run.log" &
pid=$!
for _ in $(seq 200); do grep -q "running:" "$work/run.log" && break; sleep 0.05; done
grep -q "running:" "$work/run.log" || { cat "$work/run.log" >&2; die "stormwatch run did not start"; }
base=$(rss_kb "$pid")
"$sw" simulate --input "$work/sim/traffic.lp" --publish "tcp://127.0.0.1:$port" --speed "$speed" \
  2>"$work/pub.log" || { cat "$work/pub.log" >&2; die "the publisher failed"; }
# every line in (the stats line counts them), then the memory it holds
for _ in $(seq 600); do
  got=$(stat_lines "$work/run.log"); [ "${got:-0}" -ge "$lines" ] && break; sleep 0.2
done
got=$(stat_lines "$work/run.log")
[ "${got:-0}" -ge "$lines" ] || die "only ${got:-0} of $lines lines arrived"
sleep 1.5 # the shard's last burst
sleep "$settle" # the allocator's decay (above)
held=$(rss_kb "$pid")
kill -TERM "$pid"; wait "$pid" || die "stormwatch run failed: $(tail -3 "$work/run.log")"
pid=
awk -v n="$nseries" -v k="$per_user" -v b="$base" -v h="$held" -v lines="$lines" -v r="$rounds" 'BEGIN {
  per = (h - b) * 1024 / n
  printf "memory, live: %d series, %d a User (%d lines, %d rounds of 10 s), VmRSS %.0f MB at start, %.0f MB holding them: %.0f B a series\n",
         n, k, lines, r, b / 1024, h / 1024, per
  printf "ROW\tmemory, live daemon, %s series, %d a User\t-\t%.0f B/series\t-\t%s\t%s\n",
         (n >= 1e6 ? sprintf("%.0fM", n / 1e6) : sprintf("%.0fk", n / 1e3)), k, per,
         (n >= 999999 ? "<= 1024 B" : "-"), (n >= 999999 ? (per <= 1024 ? "met" : "NOT met") : "-")
}'
