#!/usr/bin/env bash
# Live ingest throughput: `stormwatch run --ingest` over ZeroMQ TCP on
# loopback, against bench_zmq_recv, a bare ZeroMQ receive loop that only
# counts the bytes and lines of the same messages, in the same run.
#
#   bench/ingest.sh [BUILD_DIR] [--users N] [--hours H] [--runs N] [--batch N]
#                   [--shards N] [--smoke]
#
# The simulator's traffic is generated once with --out (its lines and bytes
# are the reference); each run then sends the same traffic again with
# `stormwatch simulate --publish --speed max --batch N` (default 1000 lines
# a message), the same publisher for both receivers, alternating:
#   A  bench_zmq_recv (the baseline);
#   B  `stormwatch run --alerts /dev/null --stats-every 0.5 --shards N`.
# The publisher blocks on the receiver's high-water mark, so its end report
# (lines / seconds) is the rate the receiver sustains when it is the slower
# side; ratio = B / A on those reports. Cross-checks: A's own clock (first
# to last message), and B's stats lines: the rate over the intervals that
# lie wholly inside the transfer (the daemon's steady state), which the
# publisher overstates by up to the daemon's receive queue (1000 messages).
# Zero loss: the daemon's final stats line (SIGTERM) must count every line
# sent, with nothing bad or dropped; A must receive every line. The machine
# is shared, so each run also notes how many CPUs other processes kept busy
# meanwhile; a run with others busy is slow for reasons of its own.
#
# --smoke makes a tiny recording and runs once each: it proves the benchmark
# works, it measures nothing (the test suite uses it).
set -euo pipefail
build=build users=200 hours=12 runs=5 batch=1000 shards=1 smoke=0
while [ $# -gt 0 ]; do
  case $1 in
    --users) users=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --shards) shards=$2; shift 2 ;;
    --smoke) users=4 hours=0.5 runs=1 smoke=1; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench/ingest.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) build=$1; shift ;;
  esac
done
sw=$build/stormwatch recv=$build/bench/bench_zmq_recv
for p in "$sw" "$recv"; do
  [ -x "$p" ] || { echo "bench/ingest.sh: no $p; build first" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "bench/ingest.sh: needs python3 (free ports)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/swingest.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A process started here is in pids until it has been waited for, so the
# trap ends exactly those still running.
forget() {
  local p keep=()
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}
die() { echo "bench/ingest.sh: $*" >&2; exit 1; }
now() { date +%s%N; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits up to $3 seconds for the file $1 to hold a line matching $2.
wait_for() {
  local deadline=$(($(now) + $3 * 1000000000))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ "$(now)" -lt $deadline ] || return 1
    sleep 0.02
  done
}
# The cumulative line count of the latest stats line in the daemon log $1.
stats_lines() {
  sed -n 's/.* stats: [0-9]* lines\/s, \([0-9]*\) lines,.*/\1/p' "$1" | tail -n 1
}
# The publisher's end report: "LINES BYTES SECONDS LINES_PER_S", or nothing.
pub_report() {
  sed -n 's/.*: published to [^ ]*: \([0-9]*\) lines, [0-9]* messages, \([0-9]*\) bytes, \([0-9.]*\) s, \([0-9]*\) lines\/s$/\1 \2 \3 \4/p' "$1"
}

sim_opts=(--users "$users" --hours "$hours" --seed 3 --daily 0.3 --bursts 20)
"$sw" simulate "${sim_opts[@]}" --out "$work/rec" >/dev/null 2>"$work/gen.err" ||
  { cat "$work/gen.err" >&2; die "simulate --out failed"; }
lines=$(wc -l <"$work/rec/traffic.lp")
bytes=$(stat -c %s "$work/rec/traffic.lp")
rm -f "$work/rec/traffic.lp" # only its size was needed: the publisher makes it again

# Sends the traffic to port $1, the publisher's stderr going to $2; checks
# it sent exactly the recording.
publish() {
  "$sw" simulate "${sim_opts[@]}" --publish "tcp://127.0.0.1:$1" --batch "$batch" --speed max \
    2>"$2" &
  local pp=$!
  pids+=("$pp")
  local rc=0
  wait "$pp" || rc=$?
  forget "$pp"
  [ $rc -eq 0 ] || { cat "$2" >&2; die "the publisher failed"; }
  local r sent_lines sent_bytes
  r=$(pub_report "$2")
  [ -n "$r" ] || { cat "$2" >&2; die "no end report from the publisher"; }
  read -r sent_lines sent_bytes _ <<<"$r"
  if [ "$sent_lines" != "$lines" ] || [ "$sent_bytes" != "$bytes" ]; then
    die "the publisher sent $sent_lines lines, $sent_bytes bytes; the recording has $lines lines, $bytes bytes"
  fi
}

# CPU seconds used so far: cpu_busy by all CPUs (/proc/stat), cpu_ours by
# this script's waited-for children (bash `times`, which must run in this
# shell, not in a $(...) subshell). Over a run, their difference is what
# other processes took: this machine is shared.
hz=$(getconf CLK_TCK)
cpu_now() {
  cpu_busy=$(awk -v hz="$hz" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat)
  times >"$work/times"
  cpu_ours=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } print s }' \
    "$work/times")
}

# A: the bare receive loop. Appends "pub_rate recv_rate" to $work/a.
run_a() {
  local port out=$work/a.$1
  port=$(free_port)
  "$recv" "tcp://127.0.0.1:$port" --lines "$lines" --quiet-ms 10000 >"$out.out" 2>"$out.err" &
  local rp=$!
  pids+=("$rp")
  wait_for "$out.err" "listening on" 10 || { cat "$out.err" >&2; die "bench_zmq_recv did not start"; }
  publish "$port" "$out.pub"
  local rc=0
  wait "$rp" || rc=$?
  forget "$rp"
  [ $rc -eq 0 ] || { cat "$out.out" "$out.err" >&2; die "bench_zmq_recv did not receive every line"; }
  local got rate
  got=$(sed -n 's/.* lines=\([0-9]*\) .*/\1/p' "$out.out")
  rate=$(sed -n 's/.* lines_per_s=\([0-9]*\) .*/\1/p' "$out.out")
  [ "$got" = "$lines" ] || die "bench_zmq_recv received $got of $lines lines"
  echo "$(pub_report "$out.pub" | cut -d' ' -f4) $rate" >>"$work/a"
}

# B: the daemon. Appends "pub_rate steady_rate lines_ingested bad dropped" to $work/b.
run_b() {
  local port log=$work/b.$1.log
  port=$(free_port)
  "$sw" run --ingest "tcp://127.0.0.1:$port" --alerts /dev/null --stats-every 0.5 \
    --shards "$shards" 2>"$log" &
  local dp=$!
  pids+=("$dp")
  wait_for "$log" "running:" 10 || { cat "$log" >&2; die "stormwatch run did not start"; }
  publish "$port" "$work/b.$1.pub"
  # Wait for the daemon to count every line (or to stop making progress),
  # so its steady state and its last interval are in the log; then stop it.
  local last=-1 seen still=0
  while :; do
    seen=$(stats_lines "$log")
    seen=${seen:-0}
    [ "$seen" -ge "$lines" ] && break
    if [ "$seen" = "$last" ]; then
      still=$((still + 1))
      [ $still -lt 20 ] || break # 4 s without progress: lines were lost
    else
      still=0 last=$seen
    fi
    sleep 0.2
  done
  kill -TERM "$dp"
  local rc=0
  wait "$dp" || rc=$?
  forget "$dp"
  [ $rc -eq 0 ] || { cat "$log" >&2; die "stormwatch run exited with status $rc"; }
  grep -q " stopped" "$log" || { cat "$log" >&2; die "stormwatch run did not stop cleanly"; }
  # The final stats line gives the totals; the lines before it the steady
  # rate: intervals that began after the first line and ended before the last.
  awk -v total="$lines" -v pub="$(pub_report "$work/b.$1.pub" | cut -d' ' -f4)" '
    / stats: / {
      line = $0
      sub(/.* stats: /, "", line)
      n = split(line, f, /, /)
      rate = f[1] + 0; cum = f[2] + 0
      for (i = 1; i <= n; i++) {
        if (f[i] ~ / bad$/) bad = f[i] + 0
        if (f[i] ~ /^dropped /) { d = f[i]; sub(/^dropped /, "", d); dropped = d + 0 }
      }
      if (prev > 0 && cum < total && cum > prev && rate > 0) {
        sl += cum - prev; st += (cum - prev) / rate
      }
      prev = cum; last = cum
    }
    END { printf "%s %.0f %d %d %d\n", pub, (st > 0 ? sl / st : 0), last, bad, dropped }
  ' "$log" >>"$work/b"
}

# Runs run_$1 (a or b) number $2, and appends to $work/others.$1 how many
# CPUs other processes kept busy meanwhile.
timed() {
  local b0 o0 t0
  cpu_now
  b0=$cpu_busy o0=$cpu_ours t0=$(now)
  "run_$1" "$2"
  cpu_now
  awk -v b="$cpu_busy" -v b0="$b0" -v o="$cpu_ours" -v o0="$o0" -v ns=$(($(now) - t0)) \
    'BEGIN { x = (b - b0) - (o - o0); print (x > 0 ? x : 0) / (ns / 1e9) }' >>"$work/others.$1"
}
: >"$work/a"
: >"$work/b"
for ((i = 0; i < runs; i++)); do
  # A B B A ...: drift in the machine falls on both alike
  if ((i % 2 == 0)); then timed a "$i"; timed b "$i"; else timed b "$i"; timed a "$i"; fi
done

if [ $smoke -eq 1 ]; then
  lost=$(awk -v t="$lines" '{ l += t - $3 + $4 + $5 } END { print l + 0 }' "$work/b")
  [ "$lost" -eq 0 ] || die "smoke: the daemon lost or refused $lost lines"
  echo "ingest smoke: $lines lines through bench_zmq_recv and stormwatch run, none lost"
  exit 0
fi

# best and median of column $2 of file $1, over the runs that have one
# (the daemon's steady state needs a run of two stats intervals or more)
best() { cut -d' ' -f"$2" "$1" | awk '$1 > 0' | sort -g | tail -n 1; }
median() {
  cut -d' ' -f"$2" "$1" | awk '$1 > 0' | sort -g |
    awk '{ v[NR] = $1 } END { print NR == 0 ? 0 : NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
awk -v lines="$lines" -v bytes="$bytes" -v runs="$runs" -v batch="$batch" -v shards="$shards" \
    -v ab="$(best "$work/a" 1)" -v am="$(median "$work/a" 1)" \
    -v rb="$(best "$work/a" 2)" -v rm="$(median "$work/a" 2)" \
    -v bb="$(best "$work/b" 1)" -v bm="$(median "$work/b" 1)" \
    -v sb="$(best "$work/b" 2)" -v sm="$(median "$work/b" 2)" \
    -v others="$(cat "$work/others.a" "$work/others.b" | sort -g | tail -n 1)" \
    -v lost="$(awk -v t="$lines" '{ l += t - $3 } END { print l + 0 }' "$work/b")" \
    -v refused="$(awk '{ r += $4 + $5 } END { print r + 0 }' "$work/b")" '
  function row(what, b, m) {
    if (b > 0) printf "%-46s %14.2f %16.2f\n", what, b / 1e6, m / 1e6
    else printf "%-46s %14s %16s\n", what, "-", "-"
  }
  BEGIN {
  printf "ingest benchmark: %d lines (%.0f MB) per run over ZeroMQ TCP on 127.0.0.1, %d lines a message,\n", lines, bytes / 1e6, batch
  printf "%d alternating runs each; stormwatch run with %d shard%s\n", runs, shards, shards == 1 ? "" : "s"
  printf "%-46s %14s %16s\n", "what", "best M lines/s", "median M lines/s"
  row("bare ZeroMQ receive (publisher report)", ab, am)
  row("  cross-check: receiver, first to last message", rb, rm)
  row("stormwatch run (publisher report)", bb, bm)
  row("  cross-check: daemon stats, steady state", sb, sm)
  printf "%-46s %14.2f %16.2f\n", "ratio stormwatch / bare (publisher reports)", bb / ab, bm / am
  if (sb > 0)
    printf "%-46s %14.2f %16.2f\n", "  ratio of the cross-checks", sb / rb, sm / rm
  printf "loss: %d lines not ingested, %d bad or dropped, over %d runs\n", lost, refused, runs
  ok_rate = bm >= 2e6 && (sm == 0 || sm >= 2e6)
  printf "target zero loss: %s; >= 2 M samples/s (median, both measures): %s; ratio >= 0.5 (median): %s\n",
         (lost == 0 && refused == 0 ? "met" : "NOT met"), (ok_rate ? "met" : "NOT met"),
         (bm / am >= 0.5 ? "met" : "NOT met")
  printf "ROW\tlive ingest, ZeroMQ TCP loopback, batched\tbare receive loop %.2f M lines/s\t%.2f M samples/s\t%.2f\t>= 0.5, zero loss\t%s\n",
         am / 1e6, bm / 1e6, bm / am, (bm / am >= 0.5 && lost == 0 && refused == 0 ? "met" : "NOT met")
  if (others > 0.25)
    printf "warning: other processes kept up to %.1f CPUs busy during a run: rates are low and noisy\n", others
}'
echo "per run, M lines/s (publisher report, cross-check) and CPUs other processes kept busy meanwhile:"
paste -d' ' "$work/a" "$work/others.a" "$work/b" "$work/others.b" |
  awk '{ printf "  run %d: bare %5.2f %5.2f, others %.2f CPUs | stormwatch %5.2f %5.2f, others %.2f CPUs\n",
                NR, $1 / 1e6, $2 / 1e6, $3, $4 / 1e6, $5 / 1e6, $9 }'
