#!/usr/bin/env bash
# Overload and the edges of ingest, end to end with real ZeroMQ peers on
# 127.0.0.1:
#  1. --drop-when-full with a ring too small to keep up: samples are shed
#     (counted) and nothing is invented: no silence, no storm, no
#     feed_stalled on traffic that has no incident.
#  2. the same overload without dropping: ingest waits for the shards,
#     nothing is lost, and the waiting is not read as a stalled feed (1 s
#     samples, a stall time of 2 s), nor the empty seconds of small Users
#     as silences: nothing fires.
#  3. SIGTERM right after a burst: every line already sent is read; and
#     with a producer that never pauses, the stop still comes within
#     --drain-timeout.
#  4. a message over --max-message cuts its producer off (counted), costs
#     no memory, and the next producer's lines are read.
#  5. plaintext endpoints reachable from other hosts are warned about at
#     start; loopback ones are not.
#  6. changes declared over the API in a burst all reach correlation, and
#     nothing leaks (LeakSanitizer in the sanitizer build).
#   tests/e2e_overload.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
py=/usr/bin/python3
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; true; }
trap cleanup EXIT
metric() { curl -s "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }
wait_for() { # seconds command...: polls every 0.1 s
  local n=$(($1 * 10)); shift
  for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.1; done
  return 1
}
healthy() { curl -s "$1/healthz" >/dev/null 2>&1; }
ing=tcp://127.0.0.1:$(freeport) hport=$(freeport)
api=http://127.0.0.1:$hport
start() { # alerts-file log-file [more options]
  local out=$1 log=$2; shift 2
  "$sw" run --ingest "$ing" --http "127.0.0.1:$hport" --alerts "$out" --stats-every 0 \
    "$@" 2>>"$log" &
  pid=$!
  pids+=($pid)
  wait_for 10 healthy "$api" || fatal "daemon did not answer: $(tail -3 "$log")"
}
stop() { kill -TERM "$pid"; wait "$pid"; }
ingested() { [ "$(metric "$api" stormwatch_ingest_lines_total)" = "$1" ]; }

# 300 Users stamped a round at once in a shuffled order, 1 h at 10 s, no incident
"$sw" simulate --users 300 --hours 1 --interval 10 --order shuffled --learn 10m >calm.lp 2>/dev/null ||
  fatal simulate
lines=$(wc -l <calm.lp)

# ---- 1. shedding invents nothing ---------------------------------------------
start a.jsonl a.log --drop-when-full --ring-size 64 --shards 1
"$sw" simulate --input calm.lp --publish "$ing" --hwm 0 2>pub-a.log || bad "publish (shed)"
wait_for 60 ingested "$lines" || bad "shedding run took $(metric "$api" stormwatch_ingest_lines_total) of $lines"
shed=$(curl -s "$api/metrics" | awk '$1 ~ /^stormwatch_ring_drops_total/ { s += $2 } END { print s + 0 }')
runs=$(metric "$api" stormwatch_shed_runs_total)
stop
[ "${shed:-0}" -gt 0 ] && ok || bad "nothing was shed: the test proves nothing"
[ "${runs:-0}" -gt 0 ] && ok || bad "shed runs not counted"
[ ! -s a.jsonl ] && ok || bad "shedding invented $(wc -l <a.jsonl) alerts: $(head -c 300 a.jsonl)"

# ---- 2. waiting for a slow shard is no stall ---------------------------------
"$sw" simulate --users 100 --hours 0.34 --interval 1 --order shuffled --learn 5m >fast.lp 2>/dev/null ||
  fatal "simulate 1 s"
printf 'feed:\n  stall_after: 2s\n' >stall2s.yaml
start b.jsonl b.log --ring-size 64 --shards 1 --config stall2s.yaml
waits_before=$(curl -s "$api/metrics" | awk '$1 ~ /^stormwatch_ring_full_waits_total/ { s += $2 } END { print s + 0 }')
"$sw" simulate --input fast.lp --publish "$ing" 2>pub-b.log || bad "publish (waits)"
wait_for 60 ingested "$(wc -l <fast.lp)" || bad "waiting run took $(metric "$api" stormwatch_ingest_lines_total) of $(wc -l <fast.lp)"
waits=$(curl -s "$api/metrics" | awk '$1 ~ /^stormwatch_ring_full_waits_total/ { s += $2 } END { print s + 0 }')
[ "$(metric "$api" stormwatch_feed_stalls_total)" = 0 ] && ok || bad "a slow shard read as a stalled feed"
[ "$(metric "$api" stormwatch_ingest_late_total)" = 0 ] && ok || bad "samples late after waiting"
stop
[ "$waits" -gt "$waits_before" ] && ok || bad "ingest never waited: the test proves nothing"
grep -q feed_stalled b.jsonl && bad "waiting fired feed_stalled: $(grep feed_stalled b.jsonl | head -c 300)" || ok
# and 100 Users at 1 s, small ones with many empty seconds, raise nothing
[ ! -s b.jsonl ] && ok || bad "calm 1 s traffic raised $(grep -c firing b.jsonl) alerts: $(head -c 300 b.jsonl)"

# ---- 3. SIGTERM drains what was sent, and stops within --drain-timeout --------
start c.jsonl c.log --ring-size 64 --shards 1
"$sw" simulate --input calm.lp --publish "$ing" --batch 5000 2>pub-c.log || bad "publish (drain)"
kill -TERM "$pid"; wait "$pid" || bad "exit after the drain: $(tail -3 c.log)"
got=$(grep 'stats:' c.log | tail -1 | sed -n 's/.*lines\/s, \([0-9]*\) lines.*/\1/p')
[ "$got" = "$lines" ] && ok || bad "SIGTERM lost lines sent before it: read $got of $lines"
start d.jsonl d.log --drain-timeout 2s
$py - "$ing" <<'PY' &
import sys, time, zmq
s = zmq.Context().socket(zmq.PUSH)
s.connect(sys.argv[1])
t = 1710223200000000000
end = time.time() + 30
while time.time() < end:                 # never pauses for 30 s
    s.send(b"".join(b"dsp_traffic,user=U%d,dir=south count=1i %d\n" % (i, t) for i in range(100)))
    t += 10**9
PY
flood=$!
sleep 1
t0=$(date +%s%N)
kill -TERM "$pid"; wait "$pid"
took=$((($(date +%s%N) - t0) / 1000000))
kill "$flood" 2>/dev/null; wait "$flood" 2>/dev/null
[ "$took" -lt 10000 ] && ok || bad "stopping under a flood took $took ms with --drain-timeout 2s"
grep -q "still receiving after --drain-timeout" d.log && ok || bad "the cut drain was not logged"

# ---- 4. --max-message ---------------------------------------------------------
start e.jsonl e.log --max-message 64KiB
$py - "$ing" <<'PY' || bad "oversized producer failed"
import sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.connect(sys.argv[1])
s.send(b"dsp_traffic,user=BIG,dir=south count=1i 1710223200000000000\n" * 20000)  # 1.2 MB
s.close(linger=5000)
s = ctx.socket(zmq.PUSH)
s.connect(sys.argv[1])
s.send(b"dsp_traffic,user=OK,dir=south count=1i 1710223200000000000\n")
s.close(linger=5000)
ctx.term()
PY
cut_off() { [ "$(metric "$api" stormwatch_ingest_disconnects_total)" -ge 1 ]; }
wait_for 10 cut_off && ok || bad "the oversized producer's cut-off was not counted"
wait_for 10 ingested 1 && ok || bad "the next producer's line was not read: $(metric "$api" stormwatch_ingest_lines_total)"
stop

# ---- 5. warnings about exposed plaintext endpoints -----------------------------
port=$(freeport)
"$sw" run --ingest "tcp://0.0.0.0:$port" --alerts f.jsonl --stats-every 0 2>f.log &
pid=$!; pids+=($pid)
sleep 1
stop
grep -q "reachable beyond this host in plaintext" f.log && ok || bad "no warning for ingest on 0.0.0.0"
grep -q "plaintext" c.log && bad "a warning for loopback endpoints: $(grep plaintext c.log)" || ok

# ---- 6. a burst of declarations --------------------------------------------------
echo stormwatch-overload-token-0123456789 >token
start g.jsonl g.log --http-token-file token --changes-journal changes.journal
curls=()
for i in $(seq 1 20); do # 10 at a time: HTTP takes 16 connections an address
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $(cat token)" \
    -d '{"id":"CHG-B'"$i"'","user":"U'"$i"'","title":"t","kind":"firmware","start":"2024-03-12T07:00:00Z","end":"2024-03-12T08:00:00Z"}' \
    "$api/api/v1/changes" >>codes.txt &
  curls+=($!)
  if [ $((i % 10)) = 0 ]; then wait "${curls[@]}"; curls=(); fi
done
declared() { [ "$(metric "$api" stormwatch_changes)" = 20 ]; }
wait_for 10 declared && ok || bad "the register in use holds $(metric "$api" stormwatch_changes) of 20"
[ "$(grep -c 201 codes.txt)" = 20 ] && ok || bad "declarations refused: $(sort codes.txt | uniq -c)"
stop || bad "exit after the burst (a leak under ASan?): $(tail -5 g.log)"

echo "e2e_overload: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
