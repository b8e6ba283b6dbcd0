#!/usr/bin/env bash
# Kafka ingest and alerts against librdkafka's mock cluster (three brokers
# in a helper process, the real Kafka protocol on 127.0.0.1; no broker to
# install): a scenario produced to a 4-partition topic, keyed by User,
#  1. read by one instance: the same alert lines as replay, nothing late
#     although the partitions arrive unevenly;
#  2. read by two instances in one consumer group: the partitions are
#     shared, and every incident is reported exactly once between them;
#  3. alert lines produced to a topic, keyed by User;
#  4. a change declared over one instance's API reaches the other through
#     the shared changes topic, and explains the incident whichever
#     instance sees it;
#  5. the instance holding a User is killed (kill -9) mid-run: its
#     partitions move to the other, which takes its learned state from the
#     state topic and finds the storm that follows, once.
#   tests/e2e_kafka.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
mock=$(dirname "$sw")/tests/kafka_mock
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
[ -x "$mock" ] || { echo "FAIL: no $mock (build the tests)"; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; true; }
trap cleanup EXIT
wait_for() { # seconds command...
  local n=$(($1 * 10)); shift
  for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.1; done
  return 1
}

# the cluster lives while its stdin is open
mkfifo ctl
"$mock" serve traffic,traffic2,traffic3,traffic5,traffic6,alerts,changes,state 4 <ctl >boot.txt 2>mock.log &
pids+=($!)
exec 7>ctl
wait_for 10 test -s boot.txt || bad "mock cluster did not start: $(cat mock.log)"
brokers=$(head -1 boot.txt)

"$sw" simulate --users 12 --hours 2 --interval 10 --incident blocked:3:70m:20m:declared \
  --incident storm-south:7:90m:10m --incident storm-north:10:40m:8m --out sim >/dev/null 2>&1 ||
  bad simulate
"$sw" replay -q --changes sim/changes.yaml sim/traffic.lp >replay.jsonl 2>/dev/null
[ "$(grep -c '"status":"firing"' replay.jsonl)" -eq 3 ] && ok || bad "replay: want 3 incidents"
"$mock" produce "$brokers" traffic sim/traffic.lp 2>produce.log && ok || bad "produce: $(cat produce.log)"
# the group protocol at test speed: a dead member is noticed in 6 s
printf 'run:\n  kafka_properties: [session.timeout.ms=6000, heartbeat.interval.ms=500]\n' >fast.yaml
lines=$(grep -c . sim/traffic.lp)

start() { # topic group alerts-file log [more]
  local topic=$1 group=$2 out=$3 log=$4; shift 4
  "$sw" run --config fast.yaml --kafka-brokers "$brokers" --kafka-topic "$topic" \
    --kafka-group "$group" --changes sim/changes.yaml --alerts "$out" --stats-every 1 "$@" 2>"$log" &
  pid=$!
  pids+=($pid)
}
taken() { # log: lines ingested per the last stats line
  awk '/stats:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "lines,") n = $i } END { print n + 0 }' "$1"
}
all_taken() { [ $(($(taken "$1") + ${2:-0})) -ge "$lines" ]; }

# ---- 1. one instance ---------------------------------------------------------
start traffic one one.jsonl one.log --kafka-alerts-topic alerts
wait_for 30 all_taken one.log || bad "one instance took $(taken one.log) of $lines lines"
kill -TERM "$pid"; wait "$pid"
[ $? -eq 0 ] && ok || bad "exit: $(tail -3 one.log)"
cmp -s replay.jsonl one.jsonl && ok || bad "one instance differs from replay: $(diff replay.jsonl one.jsonl | head -4)"
grep -q " 0 late," one.log && ok || bad "partitions read unevenly made samples late: $(grep stats: one.log | tail -1)"
grep -q "traffic: assigned partitions \[0,1,2,3\]" one.log && ok || bad "not all partitions: $(grep kafka: one.log)"

# ---- 3. the alerts topic (produced by the instance above) --------------------
"$mock" consume "$brokers" alerts 5 >alerts.tsv 2>consume.log
[ "$(wc -l <alerts.tsv)" -eq "$(wc -l <replay.jsonl)" ] && ok ||
  bad "alerts topic holds $(wc -l <alerts.tsv) messages, want $(wc -l <replay.jsonl)"
awk -F'\t' '{ if (index($2, "\"user\":\"" $1 "\"") == 0) bad = 1 } END { exit bad }' alerts.tsv && ok ||
  bad "an alert message not keyed by its User: $(head -1 alerts.tsv)"
cut -f2 alerts.tsv | sort >alerts-topic.jsonl
cmp -s alerts-topic.jsonl <(sort replay.jsonl) && ok || bad "alert messages differ from the lines"

# ---- 2. two instances in one group -------------------------------------------
# both join first (no state moves with a partition yet: see the README), then
# the scenario is produced to a fresh topic
start traffic2 pair a.jsonl a.log
pa=$pid
joined_a() { grep -q "traffic2: assigned partitions" a.log; }
wait_for 60 joined_a || bad "the first instance was never assigned: $(grep kafka: a.log)"
start traffic2 pair b.jsonl b.log
pb=$pid
two_each() { grep -q "traffic2: assigned partitions \[[0-9],[0-9]\]" a.log && grep -q "traffic2: assigned partitions \[[0-9],[0-9]\]" b.log; }
wait_for 60 two_each || bad "the group did not settle on two partitions each: $(grep kafka: a.log b.log)"
"$mock" produce "$brokers" traffic2 sim/traffic.lp 2>produce2.log || bad "produce: $(cat produce2.log)"
both_taken() { [ $(($(taken a.log) + $(taken b.log))) -ge "$lines" ]; }
wait_for 60 both_taken || bad "the pair took $(taken a.log) + $(taken b.log) of $lines lines"
kill -TERM "$pa" "$pb"; wait "$pa" "$pb"
grep -q "traffic2: assigned partitions" b.log && ok || bad "the second instance got no partitions: $(grep kafka: b.log)"
[ "$(taken a.log)" -gt 0 ] && [ "$(taken b.log)" -gt 0 ] && ok ||
  bad "partitions not shared: $(taken a.log) and $(taken b.log) lines"
sort a.jsonl b.jsonl >pair.jsonl
cmp -s pair.jsonl <(sort replay.jsonl) && ok ||
  bad "the pair's alerts differ from replay's (exactly once): $(diff pair.jsonl <(sort replay.jsonl) | head -4)"

# ---- 4. a change declared on one instance correlates on the other ------------
"$sw" simulate --users 12 --hours 2 --interval 10 --incident blocked:3:70m:20m --out sim3 \
  >/dev/null 2>&1 || bad "simulate 3"
user=$(python3 -c 'import json; print(json.load(open("sim3/truth.json"))["incidents"][0]["user"])')
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
token=stormwatch-kafka-token-0123456789
echo "$token" >token
pa_port=$(freeport) pb_port=$(freeport)
for who in a b; do
  port=$([ $who = a ] && echo "$pa_port" || echo "$pb_port")
  "$sw" run --kafka-brokers "$brokers" --kafka-topic traffic3 --kafka-group trio \
    --kafka-changes-topic changes --http "127.0.0.1:$port" --http-token-file token \
    --changes-journal "$who.journal" --alerts "c$who.jsonl" --stats-every 1 --config fast.yaml \
    2>"c$who.log" &
  pids+=($!)
  eval "pc$who=\$!"
  joined() { grep -q "traffic3: assigned partitions" ca.log; }
  [ $who = b ] || wait_for 60 joined || bad "the first instance was never assigned: $(grep kafka: ca.log)"
done
settled() { grep -q "traffic3: assigned partitions \[[0-9],[0-9]\]" ca.log && grep -q "traffic3: assigned partitions \[[0-9],[0-9]\]" cb.log; }
wait_for 60 settled || bad "the second group did not settle: $(grep kafka: ca.log cb.log)"
change='{"id":"CHG-SHARED-1","user":"'$user'","title":"Firewall change","kind":"firewall","start":"2024-03-12T07:00:00Z","end":"2024-03-12T08:00:00Z","affects":["north"]}'
code=$(curl -s -o body.txt -w '%{http_code}' -X POST -H "Authorization: Bearer $token" -d "$change" \
  "http://127.0.0.1:$pa_port/api/v1/changes")
[ "$code" = 201 ] && ok || bad "declare on a: $code $(cat body.txt)"
on_b() { curl -s "http://127.0.0.1:$pb_port/api/v1/changes" | grep -q CHG-SHARED-1; }
wait_for 15 on_b && ok || bad "the change declared on a never reached b: $(grep kafka: cb.log)"
"$mock" produce "$brokers" traffic3 sim3/traffic.lp 2>produce3.log || bad "produce 3"
lines=$(grep -c . sim3/traffic.lp)
trio_taken() { [ $(($(taken ca.log) + $(taken cb.log))) -ge "$lines" ]; }
wait_for 60 trio_taken || bad "took $(taken ca.log) + $(taken cb.log) of $lines lines"
kill -TERM "$pca" "$pcb"; wait "$pca" "$pcb"
grep -h '"status":"firing","alert":"blocked_route"' ca.jsonl cb.jsonl | grep "\"user\":\"$user\"" |
  grep -q '"id":"CHG-SHARED-1"' && ok ||
  bad "the incident does not name the shared change: $(cat ca.jsonl cb.jsonl | head -c 400)"

# ---- 5. kill -9: partitions and learned state move to the survivor -----------
"$sw" simulate --users 8 --hours 2 --interval 10 --incident storm-north:2:1h40m:10m --out sim5 \
  >/dev/null 2>&1 || bad "simulate 5"
user=$(python3 -c 'import json; print(json.load(open("sim5/truth.json"))["incidents"][0]["user"])')
split=1710228900000000000 # 07:35, five minutes before the storm
awk -v t=$split '$NF < t' sim5/traffic.lp >a5.lp
awk -v t=$split '$NF >= t' sim5/traffic.lp >b5.lp
for who in a b; do
  "$sw" run --config fast.yaml --kafka-brokers "$brokers" --kafka-topic traffic5 --kafka-group kill \
    --kafka-state-topic state --state-every 1 --record "k$who.lp" --alerts "k$who.jsonl" \
    --stats-every 1 2>"k$who.log" &
  pids+=($!)
  eval "pk$who=\$!"
  joined() { grep -q "traffic5: assigned partitions" ka.log; }
  [ $who = b ] || wait_for 60 joined || bad "the first instance was never assigned: $(grep kafka: ka.log)"
done
# settled: each holds two partitions, and the group stays so for 3 s
last5() { grep "traffic5: \(assigned\|.*revoked\)" "$1" | tail -1; }
two5() { last5 ka.log | grep -q "assigned partitions \[[0-9],[0-9]\]" &&
         last5 kb.log | grep -q "assigned partitions \[[0-9],[0-9]\]"; }
settled5() { two5 && { n=$(cat ka.log kb.log | grep -c "traffic5:"); sleep 3; two5 &&
             [ "$(cat ka.log kb.log | grep -c "traffic5:")" = "$n" ]; }; }
wait_for 90 settled5 || bad "the kill group did not settle: $(grep kafka: ka.log kb.log)"
"$mock" produce "$brokers" traffic5 a5.lp 2>/dev/null || bad "produce a5"
n5=$(grep -c . a5.lp)
part_taken() { [ $(($(taken ka.log) + $(taken kb.log))) -ge "$n5" ]; }
wait_for 30 part_taken || bad "took $(taken ka.log) + $(taken kb.log) of $n5 lines"
sleep 2 # a checkpoint after the data: the state is in the topic
# the User's partition: librdkafka's default partitioner for keyed messages
# (CRC32 of the key, modulo the partitions), as the producer used
part=$(python3 -c 'import sys, zlib; print(zlib.crc32(sys.argv[1].encode()) % 4)' "$user")
if grep "traffic5: assigned partitions" ka.log | tail -1 | grep -q "[[,]$part[],]"; then
  owner=$pka survivor=b
else
  owner=$pkb survivor=a
fi
seen=$(wc -l <"k$survivor.log")
kill -9 "$owner"; wait "$owner" 2>/dev/null
after_kill() { tail -n +$((seen + 1)) "k$survivor.log"; }
moved() { after_kill | grep -q "traffic5: assigned partitions \[0,1,2,3\]"; }
wait_for 60 moved && ok || bad "the partitions did not move to the survivor: $(grep kafka: k$survivor.log)"
took_state() { after_kill | grep -q "learned state of [1-9][0-9]* series taken from"; }
wait_for 10 took_state && ok ||
  bad "no state taken over: $(grep kafka: k$survivor.log)"
before=$(taken "k$survivor.log")
"$mock" produce "$brokers" traffic5 b5.lp 2>/dev/null || bad "produce b5"
rest_taken() { [ $(($(taken "k$survivor.log") - before)) -ge "$(grep -c . b5.lp)" ]; }
wait_for 30 rest_taken || bad "the survivor took $(($(taken "k$survivor.log") - before)) of the rest"
eval "kill -TERM \$pk$survivor; wait \$pk$survivor"
[ "$(cat ka.jsonl kb.jsonl | grep '"status":"firing","alert":"storm"' | grep -c "\"user\":\"$user\"")" -eq 1 ] &&
  ok || bad "the storm after the kill was not found exactly once: $(cat ka.jsonl kb.jsonl | head -c 400)"

# ---- 6. a quiet partition is its own feed_stalled, its Users not silent -------
"$sw" simulate --users 12 --hours 1 --interval 10 --out sim6 >/dev/null 2>&1 || bad "simulate 6"
# the partition of the first User (librdkafka's partitioner: CRC32 of the
# key), and the recording cut in two: a head produced at once, a tail paced
# at 12x with that partition's Users quiet for its first 8 minutes (40 s)
python3 - sim6/traffic.lp >part6.txt <<'PY'
import re, sys, zlib
start = split = None
users = {}
head, tail = open("head6.lp", "w"), open("tail6.lp", "w")
lines = [l for l in open(sys.argv[1]) if l.startswith("dsp_traffic")]
t0 = int(lines[0].split()[-1])
split, gap_end, stop = t0 + 50 * 60 * 10**9, t0 + 58 * 60 * 10**9, t0 + 59 * 60 * 10**9 + 30 * 10**9
user0 = re.search(r",user=([^, ]+)", lines[0]).group(1)
part = zlib.crc32(user0.encode()) % 4
for l in lines:
    ts, u = int(l.split()[-1]), re.search(r",user=([^, ]+)", l).group(1)
    if ts < split:
        head.write(l)
    elif ts < stop and not (zlib.crc32(u.encode()) % 4 == part and ts < gap_end):
        tail.write(l)
    if zlib.crc32(u.encode()) % 4 == part:
        users[u] = 1
print(part, " ".join(sorted(users)))
PY
read -r part6 users6 <part6.txt
start traffic6 quiet q.jsonl q.log
pq=$pid
joined_q() { grep -q "traffic6: assigned partitions \[0,1,2,3\]" q.log; }
wait_for 60 joined_q || bad "the quiet-partition instance was never assigned: $(grep kafka: q.log)"
"$mock" produce "$brokers" traffic6 head6.lp 2>/dev/null || bad "produce head6"
nhead=$(grep -c . head6.lp)
head_taken() { [ "$(taken q.log)" -ge "$nhead" ]; }
wait_for 30 head_taken || bad "took $(taken q.log) of $nhead lines"
"$mock" produce "$brokers" traffic6 tail6.lp 12 2>/dev/null || bad "produce tail6"
sleep 2
kill -TERM "$pq"; wait "$pq"
[ "$(grep -c '"status":"firing","alert":"feed_stalled".*"partition":'"$part6," q.jsonl)" -eq 1 ] && ok ||
  bad "want one feed_stalled of partition $part6: $(cat q.jsonl | head -c 600)"
[ "$(grep -c '"status":"resolved","alert":"feed_stalled".*"partition":'"$part6," q.jsonl)" -eq 1 ] && ok ||
  bad "the partition's feed_stalled did not resolve when it resumed: $(grep feed_stalled q.jsonl)"
grep '"alert":"feed_stalled"' q.jsonl | grep -qv '"partition":' && bad "the whole feed read as stalled: $(grep feed_stalled q.jsonl)" || ok
quiet_silent=0
for u in $users6; do grep '"alert":"silence"' q.jsonl | grep -q "\"user\":\"$u\"" && quiet_silent=1; done
[ $quiet_silent -eq 0 ] && ok || bad "a User of the quiet partition read as silent: $(grep silence q.jsonl | head -c 400)"
grep -q "kafka: partition $part6 quiet for" q.log && ok || bad "no log line for the quiet partition: $(grep kafka: q.log)"

exec 7>&-
echo "e2e_kafka: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
