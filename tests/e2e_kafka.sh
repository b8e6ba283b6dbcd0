#!/usr/bin/env bash
# Kafka ingest and alerts against librdkafka's mock cluster (three brokers
# in a helper process, the real Kafka protocol on 127.0.0.1; no broker to
# install): scenarios produced to 4-partition topics, keyed by User,
#  1. read by one instance: the same alert lines as replay, nothing late
#     although the partitions arrive unevenly;
#  2. read by two instances in one consumer group: the partitions are
#     shared, and every incident is reported exactly once between them;
#  3. alert lines produced to a topic, keyed by User;
#  4. a change declared over one instance's API reaches the other through
#     the shared changes topic, and explains the incident whichever
#     instance sees it;
#  5. the instance holding a User is killed (kill -9) in the middle of the
#     User's storm: its partitions move to the other, which takes the
#     Users' state from the state topic and resolves the storm the dead
#     one raised: together they write replay's lines, none missed or twice;
#  6. one partition goes quiet while the others flow: one feed_stalled
#     naming it, resolved when it resumes, and no silence of its Users;
#  7. partitions move cleanly twice in the middle of incidents: a second
#     instance joins (half the partitions and their Users' state go to it),
#     then the first stops (the rest go too): again replay's lines exactly;
#  8. one incident across instances: a storm of a User one instance owns
#     hurts a User the other owns; told through the shared alerts topic,
#     the second makes the hurt User's blocked route a member of the
#     first's incident, as replay does.
# Every stormwatch_kafka_* metric is checked against what the steps did:
# the consumer's (messages, partitions, commits, uncommitted runs,
# partitions beyond) in 4, before and after the feed, with the other parts'
# absent; the state topic's (states published, adopted, refused, failed,
# checkpoints and their failures) in 7; the alerts topic's (alert lines
# sent and failed, the other instances' lines taken, refused, forgotten) in 8.
# Each instance numbers its incidents with a tag of its own, so lines are
# compared with every incident id replaced by its primary's alert (kind,
# User, series, onset): the same grouping as replay's, whoever numbered
# it. They are compared without impacted_users (the blast radius is seen
# per instance: see the README) and without feed_stalled (the producer
# pauses on the wall clock between steps).
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

# the incidents a file's lines name
incidents() { grep -o '"incident":"[^"]*"' "$1" | sort -u | wc -l; }

# the cluster lives while its stdin is open
mkfifo ctl
"$mock" serve traffic,traffic2,traffic3,traffic5,traffic6,traffic7,traffic8,alerts,alerts8,changes,state,state7 4 \
  <ctl >boot.txt 2>mock.log &
pids+=($!)
exec 7>ctl
wait_for 10 test -s boot.txt || bad "mock cluster did not start: $(cat mock.log)"
brokers=$(head -1 boot.txt)

"$sw" simulate --users 12 --hours 2 --interval 10 --incident blocked:3:70m:20m:declared \
  --incident storm-south:7:90m:10m --incident storm-north:10:40m:8m --out sim >/dev/null 2>&1 ||
  bad simulate
"$sw" replay -q --changes sim/changes.yaml sim/traffic.lp >replay.jsonl 2>/dev/null
# the south flood's response storm is a member of its incident
[ "$(grep -c '"status":"firing"' replay.jsonl)" -eq 4 ] && [ "$(incidents replay.jsonl)" -eq 3 ] && ok ||
  bad "replay: want 4 alerts in 3 incidents: $(grep -c '"status":"firing"' replay.jsonl), $(incidents replay.jsonl)"
"$mock" produce "$brokers" traffic sim/traffic.lp 2>produce.log && ok || bad "produce: $(cat produce.log)"
# the group protocol at test speed: a dead member is noticed in 6 s
printf 'run:\n  kafka_properties: [session.timeout.ms=6000, heartbeat.interval.ms=500]\n' >fast.yaml
# the same, and a feed that may pause 2 minutes on the wall clock between
# the steps of a test without being stalled
printf 'feed:\n  stall_after: 2m\nrun:\n  kafka_properties: [session.timeout.ms=6000, heartbeat.interval.ms=500]\n' >steps.yaml
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
# what an instance said, for a failure: its log without the stats lines
# (a crash report included), the last 25 lines of each
story() { local f; for f in "$@"; do echo "--- $f"; grep -v ' stats: ' "$f" | tail -25; done; }
# the partitions an instance holds now, per its last rebalance: holds LOG TOPIC LIST
held() { grep "kafka: $2: holding partitions" "$1" | tail -1 | sed 's/.*\[\(.*\)\]/\1/'; }
holds() { [ "$(held "$1" "$2")" = "$3" ]; }
holds_two() { held "$1" "$2" | grep -qx '[0-9],[0-9]'; }
# two instances each hold two partitions, and the group stays so for 3 s
settled() { # log log topic
  holds_two "$1" "$3" && holds_two "$2" "$3" &&
    { local n; n=$(cat "$1" "$2" | grep -c "$3: holding"); sleep 3;
      holds_two "$1" "$3" && holds_two "$2" "$3" && [ "$(cat "$1" "$2" | grep -c "$3: holding")" = "$n" ]; }
}
# alert lines with each incident id replaced by its primary's alert, in order
canon() {
  cat "$@" | python3 -c '
import json, sys
lines = [l.rstrip("\n") for l in sys.stdin if l.strip()]
primary = {}
for l in lines:
    a = json.loads(l)
    if a.get("incident") and a.get("incident_role") == "primary":
        primary.setdefault(a["incident"], "/".join(
            (a["alert"], a["user"], a["dir"], a["class"], a["starts_at"])))
for l in lines:
    inc = json.loads(l).get("incident")
    if inc:
        l = l.replace("\"incident\":\"%s\"" % inc, "\"incident\":\"%s\"" % primary.get(inc, "none"))
    print(l)'
}
# the alert lines to compare: canonical, without feed_stalled and impacted_users
norm() { canon "$@" | grep -v '"alert":"feed_stalled"' | sed 's/"impacted_users":\[[^]]*\]/"impacted_users":[]/' | sort; }
# the partition librdkafka's default partitioner gives a key (CRC32 modulo 4)
part_of() { python3 -c 'import sys, zlib; print(zlib.crc32(sys.argv[1].encode()) % 4)' "$1"; }
first_user() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["incidents"][0]["user"])' "$1"; }
# a metric's value on an instance's /metrics (empty when absent): metric PORT NAME
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
is_metric() { [ "$(metric "$1" "$2")" = "$3" ]; } # PORT NAME VALUE
# the Users whose state an instance took, summed over its log's rebalances
adopted_in() { sed -n 's/.*kafka: took the state of \([0-9]*\) Users.*/\1/p' "$1" | awk '{ n += $1 } END { print n + 0 }'; }

# ---- 1. one instance ---------------------------------------------------------
start traffic one one.jsonl one.log --kafka-alerts-topic alerts
wait_for 30 all_taken one.log || bad "one instance took $(taken one.log) of $lines lines"
kill -TERM "$pid"; wait "$pid"
[ $? -eq 0 ] && ok || bad "exit: $(tail -3 one.log)"
cmp -s <(canon replay.jsonl) <(canon one.jsonl) && ok ||
  bad "one instance differs from replay: $(diff <(canon replay.jsonl) <(canon one.jsonl) | head -4)"
grep -q '"incident":"INC-[0-9A-F]\{6\}-0001"' one.jsonl && ok || bad "no tagged incident id: $(head -c 400 one.jsonl)"
grep -q " 0 late," one.log && ok || bad "partitions read unevenly made samples late: $(grep stats: one.log | tail -1)"
grep -q "traffic: holding partitions \[0,1,2,3\]" one.log && ok || bad "not all partitions: $(story one.log)"

# ---- 3. the alerts topic (produced by the instance above) --------------------
"$mock" consume "$brokers" alerts 5 >alerts.tsv 2>consume.log
[ "$(wc -l <alerts.tsv)" -eq "$(wc -l <replay.jsonl)" ] && ok ||
  bad "alerts topic holds $(wc -l <alerts.tsv) messages, want $(wc -l <replay.jsonl)"
awk -F'\t' '{ if (index($2, "\"user\":\"" $1 "\"") == 0) bad = 1 } END { exit bad }' alerts.tsv && ok ||
  bad "an alert message not keyed by its User: $(head -1 alerts.tsv)"
cut -f2 alerts.tsv >alerts-topic.jsonl
cmp -s <(canon alerts-topic.jsonl | sort) <(canon replay.jsonl | sort) && ok || bad "alert messages differ from the lines"

# ---- 2. two instances in one group -------------------------------------------
# both join first, then the scenario is produced to a fresh topic
start traffic2 pair a.jsonl a.log
pa=$pid
wait_for 60 holds a.log traffic2 0,1,2,3 || fatal "the first instance was never assigned: $(story a.log)"
start traffic2 pair b.jsonl b.log
pb=$pid
wait_for 60 settled a.log b.log traffic2 || fatal "the group did not settle on two partitions each: $(story a.log b.log)"
"$mock" produce "$brokers" traffic2 sim/traffic.lp 2>produce2.log || bad "produce: $(cat produce2.log)"
both_taken() { [ $(($(taken a.log) + $(taken b.log))) -ge "$lines" ]; }
wait_for 60 both_taken || bad "the pair took $(taken a.log) + $(taken b.log) of $lines lines"
sleep 1
kill -TERM "$pa" "$pb"; wait "$pa" "$pb"
[ "$(taken a.log)" -gt 0 ] && [ "$(taken b.log)" -gt 0 ] && ok ||
  bad "partitions not shared: $(taken a.log) and $(taken b.log) lines"
sort a.jsonl b.jsonl >pair.jsonl
cmp -s <(norm pair.jsonl) <(norm replay.jsonl) && ok ||
  bad "the pair's alerts differ from replay's (exactly once): $(diff <(norm pair.jsonl) <(norm replay.jsonl) | head -4)"
grep -q " 0 late," a.log && grep -q " 0 late," b.log && ok || bad "samples late: $(grep stats: a.log b.log | tail -2)"

# ---- 4. a change declared on one instance correlates on the other ------------
"$sw" simulate --users 12 --hours 2 --interval 10 --incident blocked:3:70m:20m --out sim3 \
  >/dev/null 2>&1 || bad "simulate 3"
user=$(first_user sim3/truth.json)
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
  [ $who = b ] || wait_for 60 holds ca.log traffic3 0,1,2,3 || fatal "the first instance was never assigned: $(story ca.log)"
done
wait_for 60 settled ca.log cb.log traffic3 || fatal "the second group did not settle: $(story ca.log cb.log)"
change='{"id":"CHG-SHARED-1","user":"'$user'","title":"Firewall change","kind":"firewall","start":"2024-03-12T07:00:00Z","end":"2024-03-12T08:00:00Z","affects":["north"]}'
code=$(curl -s -o body.txt -w '%{http_code}' -X POST -H "Authorization: Bearer $token" -d "$change" \
  "http://127.0.0.1:$pa_port/api/v1/changes")
[ "$code" = 201 ] && ok || bad "declare on a: $code $(cat body.txt)"
on_b() { curl -s "http://127.0.0.1:$pb_port/api/v1/changes" | grep -q CHG-SHARED-1; }
wait_for 15 on_b && ok || bad "the change declared on a never reached b: $(story cb.log)"
# the consumer's metrics before the feed: two partitions each, nothing taken
# or committed; no state or alerts topic, so none of their metrics
for port in "$pa_port" "$pb_port"; do
  [ "$(metric "$port" stormwatch_kafka_partitions)" = 2 ] && ok ||
    bad "partitions held: $(metric "$port" stormwatch_kafka_partitions), want 2"
  for m in messages_total commits_total uncommitted_runs beyond_partitions_total; do
    [ "$(metric "$port" "stormwatch_kafka_$m")" = 0 ] && ok ||
      bad "stormwatch_kafka_$m before the feed: '$(metric "$port" "stormwatch_kafka_$m")', want 0"
  done
  curl -s "http://127.0.0.1:$port/metrics" | grep -q '^stormwatch_kafka_\(states\|checkpoint\|peer\|alerts\)' &&
    bad "metrics of a state or alerts topic not given: $(curl -s "http://127.0.0.1:$port/metrics" | grep -m3 '^stormwatch_kafka_\(states\|checkpoint\|peer\|alerts\)')" || ok
done
"$mock" produce "$brokers" traffic3 sim3/traffic.lp 2>produce3.log || bad "produce 3"
lines=$(grep -c . sim3/traffic.lp)
trio_taken() { [ $(($(taken ca.log) + $(taken cb.log))) -ge "$lines" ]; }
wait_for 60 trio_taken || bad "took $(taken ca.log) + $(taken cb.log) of $lines lines"
# after it: every message taken once between the two, (mirrored at each
# commit round), offsets committed, and no more runs waiting than messages
msgs() { echo $(($(metric "$pa_port" stormwatch_kafka_messages_total) + $(metric "$pb_port" stormwatch_kafka_messages_total))); }
wait_for 10 eval '[ "$(msgs)" = "$lines" ]' && ok || bad "Kafka messages counted: $(msgs), want $lines"
for port in "$pa_port" "$pb_port"; do
  n=$(metric "$port" stormwatch_kafka_messages_total)
  [ "$n" -gt 0 ] && ok || bad "an instance counted no messages"
  wait_for 10 eval '[ "$(metric "$port" stormwatch_kafka_commits_total)" -gt 0 ]' && ok ||
    bad "no offset commit counted: $(metric "$port" stormwatch_kafka_commits_total)"
  runs=$(metric "$port" stormwatch_kafka_uncommitted_runs)
  [ -n "$runs" ] && [ "$runs" -le "$n" ] && ok || bad "uncommitted runs '$runs' of $n messages"
  [ "$(metric "$port" stormwatch_kafka_beyond_partitions_total)" = 0 ] && ok || bad "messages beyond the partitions"
done
kill -TERM "$pca" "$pcb"; wait "$pca" "$pcb"
grep -h '"status":"firing","alert":"blocked_route"' ca.jsonl cb.jsonl | grep "\"user\":\"$user\"" |
  grep -q '"id":"CHG-SHARED-1"' && ok ||
  bad "the incident does not name the shared change: $(cat ca.jsonl cb.jsonl | head -c 400)"

# ---- 5. kill -9 mid-storm: partitions and state move to the survivor ---------
"$sw" simulate --users 8 --hours 2 --interval 10 --incident storm-north:2:1h40m:10m \
  --incident blocked:5:1h15m:15m --out sim5 >/dev/null 2>&1 || bad "simulate 5"
"$sw" replay -q sim5/traffic.lp >replay5.jsonl 2>/dev/null
user=$(python3 -c 'import json, sys
print([i["user"] for i in json.load(open(sys.argv[1]))["incidents"] if i["alert"] == "storm"][0])' sim5/truth.json)
split=1710229440000000000 # 07:44, four minutes into the storm
awk -v t=$split '$NF < t' sim5/traffic.lp >a5.lp
awk -v t=$split '$NF >= t' sim5/traffic.lp >b5.lp
for who in a b; do
  "$sw" run --config steps.yaml --kafka-brokers "$brokers" --kafka-topic traffic5 --kafka-group kill \
    --kafka-state-topic state --kafka-checkpoint 1s --alerts "k$who.jsonl" --stats-every 1 \
    2>"k$who.log" &
  pids+=($!)
  eval "pk$who=\$!"
  [ $who = b ] || wait_for 60 holds ka.log traffic5 0,1,2,3 || fatal "the first instance was never assigned: $(story ka.log)"
done
wait_for 90 settled ka.log kb.log traffic5 || fatal "the kill group did not settle: $(story ka.log kb.log)"
"$mock" produce "$brokers" traffic5 a5.lp 2>/dev/null || bad "produce a5"
n5=$(grep -c . a5.lp)
part_taken() { [ $(($(taken ka.log) + $(taken kb.log))) -ge "$n5" ]; }
wait_for 30 part_taken || bad "took $(taken ka.log) + $(taken kb.log) of $n5 lines"
part=$(part_of "$user")
if held ka.log traffic5 | grep -q "$part"; then owner=$pka o=a survivor=b; else owner=$pkb o=b survivor=a; fi
storm_out() { grep -q '"status":"firing","alert":"storm".*"user":"'"$user"'"' "k$o.jsonl"; }
wait_for 20 storm_out || bad "the owner did not report the storm before the kill: $(cat k$o.jsonl)"
sleep 2 # a checkpoint after the data
seen=$(wc -l <"k$survivor.log")
kill -9 "$owner"; wait "$owner" 2>/dev/null
after_kill() { tail -n +$((seen + 1)) "k$survivor.log"; }
moved() { holds "k$survivor.log" traffic5 0,1,2,3; }
wait_for 60 moved && ok || bad "the partitions did not move to the survivor: $(story k$survivor.log)"
after_kill | grep -q "took the state of [1-9][0-9]* Users" && ok ||
  bad "no state taken over: $(story k$survivor.log)"
before=$(taken "k$survivor.log")
"$mock" produce "$brokers" traffic5 b5.lp 2>/dev/null || bad "produce b5"
rest_taken() { [ $(($(taken "k$survivor.log") - before)) -ge "$(grep -c . b5.lp)" ]; }
wait_for 30 rest_taken || bad "the survivor took $(($(taken "k$survivor.log") - before)) of the rest"
sleep 1
eval "kill -TERM \$pk$survivor; wait \$pk$survivor"
cmp -s <(norm ka.jsonl kb.jsonl) <(norm replay5.jsonl) && ok ||
  bad "after the kill the two differ from replay: $(diff <(norm ka.jsonl kb.jsonl) <(norm replay5.jsonl) | cut -c1-300 | head -6)"
grep -q '"status":"resolved","alert":"storm".*"user":"'"$user"'"' "k$survivor.jsonl" && ok ||
  bad "the survivor did not resolve the storm the dead one raised: $(cat k$survivor.jsonl | head -c 400)"
[ "$(cat ka.jsonl kb.jsonl | grep -c '"status":"firing","alert":"storm"')" -eq 1 ] && ok ||
  bad "the storm fired $(cat ka.jsonl kb.jsonl | grep -c '"status":"firing","alert":"storm"') times"

# ---- 6. a quiet partition is its own feed_stalled, its Users not silent -------
"$sw" simulate --users 12 --hours 1 --interval 10 --out sim6 >/dev/null 2>&1 || bad "simulate 6"
# the partition of the first User (librdkafka's partitioner: CRC32 of the
# key), and the recording cut in two: a head produced at once, a tail paced
# at 15x with that partition's Users quiet for its first 5 minutes (20 s,
# past a stall time of 15 s)
python3 - sim6/traffic.lp >part6.txt <<'PY'
import re, sys, zlib
users = {}
head, tail = open("head6.lp", "w"), open("tail6.lp", "w")
lines = [l for l in open(sys.argv[1]) if l.startswith("dsp_traffic")]
t0 = int(lines[0].split()[-1])
split, gap_end, stop = t0 + 50 * 60 * 10**9, t0 + 55 * 60 * 10**9, t0 + 56 * 60 * 10**9
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
# the stall time as given: the data's 10 s rhythm would otherwise make it 30 s
printf 'feed:\n  stall_after: 15s\n  stall_cadences: 1\n' >quiet.yaml
start traffic6 quiet q.jsonl q.log --config quiet.yaml
pq=$pid
wait_for 60 holds q.log traffic6 0,1,2,3 || fatal "the quiet-partition instance was never assigned: $(story q.log)"
"$mock" produce "$brokers" traffic6 head6.lp 2>/dev/null || bad "produce head6"
nhead=$(grep -c . head6.lp)
head_taken() { [ "$(taken q.log)" -ge "$nhead" ]; }
wait_for 30 head_taken || bad "took $(taken q.log) of $nhead lines"
"$mock" produce "$brokers" traffic6 tail6.lp 15 2>/dev/null || bad "produce tail6"
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
grep -q "kafka: partition $part6 quiet for" q.log && ok || bad "no log line for the quiet partition: $(story q.log)"


# ---- 7. clean moves mid-incident: one joins, then one leaves -----------------
# (the blocked route well after the storm: a storm's blast radius is learnt
# per instance, and a User's usual backlog anew after its partition moves,
# so whether a route blocking as a storm ends is the storm's depends on
# where its User lived: see the README)
"$sw" simulate --users 8 --hours 2 --interval 10 --incident storm-south:3:1h20m:10m \
  --incident blocked:5:1h40m:15m --out sim7 >/dev/null 2>&1 || bad "simulate 7"
"$sw" replay -q sim7/traffic.lp >replay7.jsonl 2>/dev/null
[ "$(incidents replay7.jsonl)" -eq 2 ] && ok || bad "replay 7: want 2 incidents, got $(incidents replay7.jsonl)"
awk -v t=1710228240000000000 '$NF < t' sim7/traffic.lp >p1.lp                      # < 07:24
awk -v t=1710228240000000000 -v u=1710229440000000000 '$NF >= t && $NF < u' sim7/traffic.lp >p2.lp
awk -v u=1710229440000000000 '$NF >= u' sim7/traffic.lp >p3.lp                     # >= 07:44
ma_port=$(freeport) mb_port=$(freeport)
run7() { # who port
  "$sw" run --config steps.yaml --kafka-brokers "$brokers" --kafka-topic traffic7 --kafka-group move \
    --kafka-state-topic state7 --kafka-checkpoint 1s --alerts "m$1.jsonl" --stats-every 1 \
    --http "127.0.0.1:$2" --changes-journal "m$1.journal" 2>"m$1.log" &
  pid=$!
  pids+=($pid)
}
# the state topic's metrics: what the log says was taken (over every
# rebalance), nothing refused or failed, checkpoints delivered
state_metrics() { # port log
  local port=$1 log=$2 m
  wait_for 10 eval '[ "$(metric "$port" stormwatch_kafka_states_adopted_total)" = "$(adopted_in "$log")" ]' && ok ||
    bad "$log: states adopted $(metric "$port" stormwatch_kafka_states_adopted_total), the log says $(adopted_in "$log")"
  for m in states_refused_total states_failed_total checkpoint_failures_total; do
    [ "$(metric "$port" "stormwatch_kafka_$m")" = 0 ] && ok ||
      bad "$log: stormwatch_kafka_$m is '$(metric "$port" "stormwatch_kafka_$m")', want 0"
  done
  [ "$(metric "$port" stormwatch_kafka_checkpoints_total)" -gt 0 ] && ok || bad "$log: no checkpoint counted"
}
users7=$(grep -o ',user=[^,]*' sim7/traffic.lp | sort -u | wc -l)
run7 a "$ma_port"
pma=$pid
wait_for 60 holds ma.log traffic7 0,1,2,3 || fatal "the first instance was never assigned: $(story ma.log)"
# librdkafka's threads leave the signals to the main loop: a SIGTERM that
# one took by default would end the leaving instance with no handover
why=$(signals_blocked "$pma") && ok || bad "a thread takes signals: $why"
"$mock" produce "$brokers" traffic7 p1.lp 2>/dev/null || bad "produce p1"
n1=$(grep -c . p1.lp) n2=$(grep -c . p2.lp) n3=$(grep -c . p3.lp)
wait_for 30 eval '[ "$(taken ma.log)" -ge "$n1" ]' || bad "took $(taken ma.log) of $n1"
sleep 2
# a checkpoint (every second) put each User's state on the topic; none
# was there to take
[ "$(metric "$ma_port" stormwatch_kafka_states_published_total)" -ge "$users7" ] && ok ||
  bad "states published $(metric "$ma_port" stormwatch_kafka_states_published_total), want >= $users7 Users"
[ "$(metric "$ma_port" stormwatch_kafka_states_adopted_total)" = 0 ] && ok ||
  bad "states adopted from an empty topic: $(metric "$ma_port" stormwatch_kafka_states_adopted_total)"
state_metrics "$ma_port" ma.log
run7 b "$mb_port"
pmb=$pid
wait_for 90 settled ma.log mb.log traffic7 || fatal "the move group did not settle: $(story ma.log mb.log)"
grep -q "took the state of [1-9][0-9]* Users" mb.log && ok || bad "the joining instance took no state: $(story mb.log)"
state_metrics "$mb_port" mb.log
state_metrics "$ma_port" ma.log
"$mock" produce "$brokers" traffic7 p2.lp 2>/dev/null || bad "produce p2"
wait_for 30 eval '[ $(($(taken ma.log) + $(taken mb.log))) -ge $((n1 + n2)) ]' ||
  bad "took $(taken ma.log) + $(taken mb.log) of $((n1 + n2))"
sleep 2
kill -TERM "$pma"; wait "$pma"
[ $? -eq 0 ] && ok || bad "the leaving instance: $(tail -3 ma.log)"
wait_for 60 holds mb.log traffic7 0,1,2,3 && ok || bad "the partitions did not all move: $(story mb.log)"
before=$(taken mb.log)
"$mock" produce "$brokers" traffic7 p3.lp 2>/dev/null || bad "produce p3"
wait_for 30 eval '[ $(($(taken mb.log) - before)) -ge "$n3" ]' || bad "took $(($(taken mb.log) - before)) of $n3"
sleep 1
kill -TERM "$pmb"; wait "$pmb"
cmp -s <(norm ma.jsonl mb.jsonl) <(norm replay7.jsonl) && ok ||
  bad "after the moves the two differ from replay: $(diff <(norm ma.jsonl mb.jsonl) <(norm replay7.jsonl) | cut -c1-300 | head -6)"
# each line once: the flood, its response storm and the blocked route
for kind in storm blocked_route; do
  for st in firing resolved; do
    want=$(grep -c "\"status\":\"$st\",\"alert\":\"$kind\"" replay7.jsonl)
    [ "$(cat ma.jsonl mb.jsonl | grep -c "\"status\":\"$st\",\"alert\":\"$kind\"")" -eq "$want" ] && ok ||
      bad "$kind $st $(cat ma.jsonl mb.jsonl | grep -c "\"status\":\"$st\",\"alert\":\"$kind\"") times, want $want"
  done
done
grep -q " 0 late," mb.log && ok || bad "samples late after the moves: $(grep stats: mb.log | tail -1)"

# ---- 8. one incident across instances ----------------------------------------
# User 2 floods (its storm hurts the others' deliveries) and User 6's route
# blocks five minutes later: their librdkafka partitions are 1 and 2, so
# with two instances they are owned apart (range assignment: 0,1 and 2,3)
"$sw" simulate --users 12 --hours 2 --interval 10 --seed 8 --incident storm-south:2:80m:15m:impact \
  --incident blocked:6:85m:8m --out sim8 >/dev/null 2>&1 || bad "simulate 8"
"$sw" replay -q sim8/traffic.lp >replay8.jsonl 2>/dev/null
[ "$(incidents replay8.jsonl)" -eq 1 ] && grep -q '"alert":"blocked_route".*"incident_role":"member"' replay8.jsonl &&
  ok || bad "replay 8: want the blocked route a member of the storm's incident: $(cut -c1-200 replay8.jsonl)"
read -r storm_user hurt_user < <(python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))["incidents"]; print(t[0]["user"], t[1]["user"])' sim8/truth.json)
sa_port=$(freeport) sb_port=$(freeport)
for who in a b; do
  port=$([ $who = a ] && echo "$sa_port" || echo "$sb_port")
  "$sw" run --config steps.yaml --kafka-brokers "$brokers" --kafka-topic traffic8 --kafka-group span \
    --kafka-alerts-topic alerts8 --alerts "s$who.jsonl" --stats-every 1 --log-level debug \
    --http "127.0.0.1:$port" --changes-journal "s$who.journal" 2>"s$who.log" &
  pids+=($!)
  eval "ps$who=\$!"
  [ $who = b ] || wait_for 60 holds sa.log traffic8 0,1,2,3 || fatal "the first instance was never assigned: $(story sa.log)"
done
wait_for 90 settled sa.log sb.log traffic8 || fatal "the span group did not settle: $(story sa.log sb.log)"
owner_of() { if held sa.log traffic8 | grep -q "$(part_of "$1")"; then echo a; else echo b; fi; }
[ "$(owner_of "$storm_user")" != "$(owner_of "$hurt_user")" ] && ok ||
  bad "the storm's and the hurt User's partitions are held by one instance: $(held sa.log traffic8) / $(held sb.log traffic8)"
grep -q "grouping incidents with the other instances through alerts8" sa.log && ok ||
  bad "no incident sharing: $(story sa.log)"
# the first 75 minutes at once; then the next 13 (the storm from its start,
# the route blocking) first for the storm's instance and, once its storm
# line is out, for the other; then the rest. That is the rule the README
# gives (another instance's line counts from when it arrives), made certain
# here as the settle and Kafka's milliseconds make it live.
storm_at=$(owner_of "$storm_user")
python3 - sim8/traffic.lp "$(held s$storm_at.log traffic8)" <<'PY'
import re, sys, zlib
head, rest = 1710227700000000000, 1710228480000000000 # 07:15, 07:28
mine = set(sys.argv[2].split(","))
out = {n: open(n, "w") for n in ("h8.lp", "storm8.lp", "other8.lp", "t8.lp")}
for l in open(sys.argv[1]):
    if not l.startswith("dsp_traffic"):
        continue
    ts, user = int(l.split()[-1]), re.search(r",user=([^, ]+)", l).group(1)
    part = str(zlib.crc32(user.encode()) % 4)
    out["h8.lp" if ts < head else "t8.lp" if ts >= rest else
        "storm8.lp" if part in mine else "other8.lp"].write(l)
PY
"$mock" produce "$brokers" traffic8 h8.lp 2>/dev/null || bad "produce h8"
"$mock" produce "$brokers" traffic8 storm8.lp 2>/dev/null || bad "produce storm8"
fired() { grep -q '"status":"firing","alert":"'"$2"'"' "$1"; }
other_at=$([ "$storm_at" = a ] && echo b || echo a)
wait_for 30 fired "s$storm_at.jsonl" storm || bad "no storm where its User is: $(story s$storm_at.log)"
told() { grep -q "another instance's storm of $storm_user fired" "s$other_at.log"; }
wait_for 30 told || bad "the storm never reached the other instance: $(story s$other_at.log)"
"$mock" produce "$brokers" traffic8 other8.lp 2>/dev/null || bad "produce other8"
wait_for 30 fired "s$other_at.jsonl" blocked_route ||
  bad "no blocked route where its User is: $(story sa.log sb.log)"
# the other instance counts the lines it took (the storm's, in both
# directions), and its own come back to it uncounted
other_port=$([ "$other_at" = a ] && echo "$sa_port" || echo "$sb_port")
storm_port=$([ "$storm_at" = a ] && echo "$sa_port" || echo "$sb_port")
peers_took() { [ "$(metric "$1" stormwatch_kafka_peer_alerts_total)" = "$2" ]; }
# (counted by the ingest thread as it queues them: waited for, not read once)
wait_for 10 peers_took "$other_port" 2 && ok ||
  bad "peer alert lines taken: $(metric "$other_port" stormwatch_kafka_peer_alerts_total), want 2"
wait_for 10 peers_took "$storm_port" 1 && ok ||
  bad "the storm's instance took $(metric "$storm_port" stormwatch_kafka_peer_alerts_total) lines, want 1 (the blocked route)"
[ "$(metric "$other_port" stormwatch_kafka_peer_alerts_refused_total)" = 0 ] && ok || bad "peer lines refused"
# lines on the topic that are not another instance's alerts are counted and
# skipped: not JSON, a bad incident id; one without an incident (an older
# instance's) has nothing to share and is only taken
printf '%s\n' 'not json at all' \
  '{"status":"firing","alert":"storm","user":"X","dir":"south","class":"all","starts_at":"2024-03-12T07:26:00Z","detected_at":"2024-03-12T07:26:00Z","ends_at":null,"incident":"INC-zz"}' \
  '{"status":"firing","alert":"storm","user":"X","dir":"south","class":"all","starts_at":"2024-03-12T07:26:00Z","detected_at":"2024-03-12T07:26:00Z","ends_at":null}' \
  >junk8.txt
"$mock" produce "$brokers" alerts8 junk8.txt 2>/dev/null || bad "produce junk8"
refused_two() { [ "$(metric "$other_port" stormwatch_kafka_peer_alerts_refused_total)" = 2 ]; }
wait_for 10 refused_two && ok ||
  bad "junk on the alerts topic: $(metric "$other_port" stormwatch_kafka_peer_alerts_refused_total) refused, want 2"
wait_for 10 peers_took "$other_port" 5 && ok ||
  bad "peer lines taken with the junk: $(metric "$other_port" stormwatch_kafka_peer_alerts_total), want 5"
[ "$(metric "$other_port" stormwatch_kafka_messages_total)" -gt 0 ] && ok || bad "no Kafka messages counted"
"$mock" produce "$brokers" traffic8 t8.lp 2>/dev/null || bad "produce t8"
lines=$(cat h8.lp storm8.lp other8.lp t8.lp | grep -c .)
span_taken() { [ $(($(taken sa.log) + $(taken sb.log))) -ge "$lines" ]; }
wait_for 60 span_taken || bad "took $(taken sa.log) + $(taken sb.log) of $lines lines"
sleep 1
# every line an instance wrote was acknowledged on the alerts topic; no
# line of another instance forgotten (far fewer than 4096 held)
for who in a b; do
  port=$([ $who = a ] && echo "$sa_port" || echo "$sb_port")
  wait_for 10 is_metric "$port" stormwatch_kafka_alerts_sent_total "$(wc -l <"s$who.jsonl")" && ok ||
    bad "s$who: alert lines sent $(metric "$port" stormwatch_kafka_alerts_sent_total), want $(wc -l <"s$who.jsonl")"
  for m in alerts_failed_total peer_alerts_forgotten_total; do
    [ "$(metric "$port" "stormwatch_kafka_$m")" = 0 ] && ok ||
      bad "s$who: stormwatch_kafka_$m is '$(metric "$port" "stormwatch_kafka_$m")', want 0"
  done
done
kill -TERM "$psa" "$psb"; wait "$psa" "$psb"
cmp -s <(norm sa.jsonl sb.jsonl) <(norm replay8.jsonl) && ok ||
  bad "across instances the incidents differ from replay's: $(diff <(norm sa.jsonl sb.jsonl) <(norm replay8.jsonl) | cut -c1-400 | head -6)"
[ "$(cat sa.jsonl sb.jsonl | grep -c '"status":"firing".*"incident_role":"primary"')" -eq 1 ] && ok ||
  bad "want one primary between the two: $(grep -h '"status":"firing"' sa.jsonl sb.jsonl | cut -c1-200)"
[ "$(incidents <(cat sa.jsonl sb.jsonl))" -eq 1 ] && ok || bad "want one incident id between the two"

exec 7>&-
echo "e2e_kafka: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
