#!/usr/bin/env bash
# Faults and hostile input, end to end with real ZeroMQ peers on 127.0.0.1:
#  1. kill -9 mid-stream: restarted with the same --state it keeps what it
#     learnt (checkpoints, not only on exit) and the changes declared over
#     the API; a fresh daemon on the same traffic does not know enough.
#  2. a hostile producer: random binary frames, empty frames, a 1 MB line,
#     NUL bytes, multipart messages and a million distinct Users: the series
#     stay under feed.max_series (evictions counted), memory stays bounded,
#     and an incident in the good traffic that follows is still detected.
#  3. timestamps: one far in the future, one far in the past, one beyond
#     2116, and a feed that jumps hours ahead: detection unchanged.
#  4. a full disk while recording and saving state: clear errors, counted,
#     and detection goes on.
#  5. CurveZMQ ingest: a producer whose key is not allowed gets nothing in.
#  6. the daemon runs as an unprivileged user (nobody).
#   tests/e2e_faults.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
py=/usr/bin/python3 # Debian's, with python3-zmq
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  mountpoint -q full 2>/dev/null && umount full
  true
}
trap cleanup EXIT
metric() { # api name: the value of an unlabelled metric
  curl -s "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
wait_for() { # seconds command...: polls every 0.1 s
  local n=$(($1 * 10)); shift
  for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.1; done
  return 1
}
healthy() { curl -s "$1/healthz" >/dev/null 2>&1; }

# six Users, 2 h at 10 s; User 2 storms (alerts x20) from 07:40 to 07:50
"$sw" simulate --users 6 --hours 2 --interval 10 --incident storm-north:2:1h40m:10m:declared \
  --out sim >/dev/null 2>&1 || bad simulate
user=$($py -c 'import json; print(json.load(open("sim/truth.json"))["incidents"][0]["user"])')
split=1710228900000000000 # 07:35, five minutes before the storm
awk -v t=$split '$NF < t' sim/traffic.lp >a.lp
awk -v t=$split '$NF >= t' sim/traffic.lp >b.lp
token=stormwatch-faults-token-0123456789
echo "$token" >token

# ---- 1. kill -9 and restart ------------------------------------------------
ing=tcp://127.0.0.1:$(freeport) hport=$(freeport)
api=http://127.0.0.1:$hport
start() { # alerts-file log-file [more options]
  local out=$1 log=$2; shift 2
  "$sw" run --ingest "$ing" --http "127.0.0.1:$hport" --http-token-file token \
    --alerts "$out" --stats-every 0 --log-level debug "$@" 2>>"$log" &
  pid=$!
  pids+=($pid)
  wait_for 5 healthy "$api" || bad "daemon did not answer: $(tail -3 "$log")"
}
start a.jsonl a.log --state st.bin --state-every 1 --changes-journal changes.journal
change='{"id":"CHG-KILL-1","user":"'$user'","title":"ESME firmware roll-out","kind":"firmware","start":"2024-03-12T07:30:00Z","end":"2024-03-12T08:00:00Z","affects":["north"]}'
code=$(curl -s -o body.txt -w '%{http_code}' -X POST -H "Authorization: Bearer $token" -d "$change" "$api/api/v1/changes")
[ "$code" = 201 ] && ok || bad "declare: $code $(cat body.txt)"
"$sw" simulate --input a.lp --publish "$ing" 2>pub-a.log || bad "publish a.lp"
lines=$(wc -l <a.lp)
ingested() { [ "$(metric "$api" stormwatch_ingest_lines_total)" = "$1" ]; }
wait_for 10 ingested "$lines" || bad "daemon took $(metric "$api" stormwatch_ingest_lines_total) of $lines lines"
saves=$(metric "$api" stormwatch_state_saves_total)
saved_more() { [ "$(metric "$api" stormwatch_state_saves_total)" -gt "$saves" ]; }
wait_for 5 saved_more || bad "no checkpoint after the data: $(grep state: a.log | tail -2)"
kill -9 "$pid"; wait "$pid" 2>/dev/null
[ -s st.bin ] && ok || bad "no state file after kill -9"
ls st.bin.* 2>/dev/null | grep -v "^st.bin.alerts$" | grep -q . && bad "a temporary state file was left: $(ls st.bin.*)" || ok

start b.jsonl b.log --state st.bin --state-every 1 --changes-journal changes.journal
grep -q "learned baselines loaded" b.log && ok || bad "state not loaded: $(grep state b.log)"
curl -s "$api/api/v1/changes" | grep -q CHG-KILL-1 && ok || bad "the declared change was lost"
"$sw" simulate --input b.lp --publish "$ing" 2>pub-b.log || bad "publish b.lp"
wait_for 10 ingested "$(wc -l <b.lp)" || bad "b.lp not ingested"
kill -TERM "$pid"; wait "$pid"
[ $? -eq 0 ] && ok || bad "restarted daemon exit: $(tail -3 b.log)"
grep '"status":"firing","alert":"storm"' b.jsonl | grep "\"user\":\"$user\"" |
  grep -q '"id":"CHG-KILL-1"' && ok ||
  bad "the storm after the restart was not seen with its change: $(head -c 400 b.jsonl)"
# the control: without the state the same traffic is too new to judge
start c.jsonl c.log
"$sw" simulate --input b.lp --publish "$ing" 2>pub-c.log || bad "publish b.lp again"
wait_for 10 ingested "$(wc -l <b.lp)" || bad "b.lp not ingested by the control"
kill -TERM "$pid"; wait "$pid"
# the restarted daemon knew the User and paged at the storm's first sample;
# a fresh one is still warming up (10 min from 07:35) and pages late if at all
detected() { # file: seconds from 07:40 to the first storm page of $user
  grep '"status":"firing","alert":"storm"' "$1" | grep "\"user\":\"$user\"" | head -1 |
    sed 's/.*"detected_at":"2024-03-12T07:\([0-9]*\):\([0-9]*\).*/\1 \2/' |
    awk '{ print ($1 - 40) * 60 + $2 }'
}
[ "$(detected b.jsonl)" = 0 ] && ok || bad "restarted daemon paged $(detected b.jsonl) s after the onset"
late=$(detected c.jsonl)
[ -z "$late" ] || [ "$late" -ge 300 ] && ok ||
  bad "a fresh daemon paged $late s after the onset, as soon as the restored one: the test proves nothing"

# ---- 2. a hostile producer -------------------------------------------------
ing=tcp://127.0.0.1:$(freeport)
printf 'feed:\n  max_series: 1000\n' >hostile.yaml
start h.jsonl h.log --config hostile.yaml
$py - "$ing" <<'PY' || bad "hostile publisher failed"
import os, random, sys, zmq
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.setsockopt(zmq.SNDHWM, 0)
s.connect(sys.argv[1])
rnd = random.Random(7)
for _ in range(200):                       # random binary frames
    s.send(rnd.randbytes(rnd.randint(1, 65536)))
for _ in range(50):                        # empty frames
    s.send(b"")
s.send(b"dsp_traffic,user=" + b"x" * 1000000)            # a 1 MB line, no newline
s.send(b"dsp_traffic,user=" + b"y" * 1000000 + b"\n")    # and one with
s.send(b"dsp_traffic,user=A\x00B,dir=north count=1i 1710222000000000000\n\x00\x00\n")
s.send_multipart([b"topic", b"\xff\xfe garbage\n"])       # multipart
# a million distinct Users, one sample each, 05:43:20 to 06:00:00
t0 = 1710222200000000000
for b in range(1000):
    s.send(b"".join(b"dsp_traffic,user=H%07d,dir=north count=1i %d\n" % (i, t0 + i * 1000000)
                    for i in range(b * 1000, (b + 1) * 1000)))
s.close(linger=10000)
ctx.term()
PY
ingested_at_least() { [ "$(metric "$api" stormwatch_ingest_lines_total)" -ge "$1" ]; }
# all of it in before the good traffic (a PULL socket interleaves two
# producers): a million lines and the junk, then nothing more for a second
settled_lines() { local a; a=$(metric "$api" stormwatch_ingest_lines_total)
  [ "$a" -ge 1000000 ] && sleep 1 && [ "$(metric "$api" stormwatch_ingest_lines_total)" = "$a" ]; }
wait_for 90 settled_lines || bad "the million lines were not ingested"
"$sw" simulate --input sim/traffic.lp --publish "$ing" 2>pub-h.log || bad "publish good traffic"
wait_for 20 ingested_at_least $((1000000 + $(wc -l <sim/traffic.lp))) || bad "good traffic not ingested"
evicted_all() { [ "$(metric "$api" stormwatch_series_evicted_total)" -ge 990000 ]; }
wait_for 90 evicted_all # sanitizer builds take their time
series=$(metric "$api" stormwatch_series)
evicted=$(metric "$api" stormwatch_series_evicted_total)
badl=$(curl -s "$api/metrics" | awk '/^stormwatch_ingest_bad_lines_total/ { n += $NF } END { print n + 0 }')
[ "$series" -le 1000 ] && ok || bad "series over the limit: $series"
[ "$evicted" -ge 990000 ] && ok || bad "evictions not counted: $evicted"
[ "$badl" -ge 3 ] && ok || bad "bad lines not counted: $badl"
rss_kb=$(awk '/^VmHWM/ { print $2 }' /proc/$pid/status)
[ "$rss_kb" -lt 900000 ] && ok || bad "peak memory $rss_kb kB: not bounded by the limit"
kill -TERM "$pid"; wait "$pid"
[ $? -eq 0 ] && ok || bad "daemon exit after the hostile producer: $(tail -3 h.log)"
grep '"status":"firing","alert":"storm"' h.jsonl | grep -q "\"user\":\"$user\"" && ok ||
  bad "the storm in the good traffic was missed: $(head -c 400 h.jsonl)"
grep -q '"user":"H0' h.jsonl && bad "an alert on the hostile Users" || ok

# ---- 3. timestamps far off, and a feed that jumps ahead --------------------
"$sw" replay -q sim/traffic.lp >clean.jsonl 2>/dev/null
{ head -n 6000 sim/traffic.lp
  echo "dsp_traffic,user=$user,dir=north,class=alert count=5i 4102444800000000000"   # 2100
  echo "dsp_traffic,user=$user,dir=north,class=alert count=5i 631152000000000000"    # 1990
  echo "dsp_traffic,user=$user,dir=north,class=alert count=5i 9000000000000000000"   # 2255
  tail -n +6001 sim/traffic.lp; } >dirty.lp
"$sw" replay dirty.lp >dirty.jsonl 2>dirty.err
cmp -s clean.jsonl dirty.jsonl && ok || bad "bad timestamps changed detection: $(diff clean.jsonl dirty.jsonl | head -3)"
grep -q " 1 late, 1 far ahead," dirty.err && ok || bad "late/ahead not counted: $(tail -3 dirty.err)"
grep -q "dirty.lp:6003: missing or malformed timestamp" dirty.err && ok || bad "2255 not refused: $(head -3 dirty.err)"
# the producer's clock jumps 3 h ahead at 07:00: the feed moves on, and the
# storm at (now) 10:40 is still found
# (whole seconds are the first 10 digits: awk's doubles hold those exactly)
awk '{ if (length($NF) == 19 && $NF ~ /^[0-9]+$/ && substr($NF, 1, 10) >= 1710226800)
         $NF = (substr($NF, 1, 10) + 10800) substr($NF, 11)
       print }' sim/traffic.lp >jump.lp
"$sw" replay jump.lp >jump.jsonl 2>jump.err
grep '"status":"firing","alert":"storm"' jump.jsonl | grep "\"user\":\"$user\"" |
  grep -q '"starts_at":"2024-03-12T10:40' && ok || bad "after a 3 h jump the storm was missed: $(head -c 400 jump.jsonl)"
grep -q '"alert":"feed_stalled"' jump.jsonl && ok || bad "the 3 h gap was not reported as a stall"
grep -q " 0 far ahead," jump.err && ok || bad "a real jump was dropped: $(tail -3 jump.err)"

# ---- 4. a full disk --------------------------------------------------------
mkdir -p full
if ! mount -t tmpfs -o size=256k tmpfs full 2>mount.err; then
  bad "cannot mount a small tmpfs for the full-disk test (run as root): $(cat mount.err)"
else
  # the disk is full from the start: recording and every state save fail
  dd if=/dev/zero of=full/filler bs=4k 2>/dev/null
  ing=tcp://127.0.0.1:$(freeport)
  start f.jsonl f.log --record full/rec.lp --state full/st.bin --state-every 1 \
    --changes-journal changes-f.journal # the journal elsewhere: this step is about the recording and state
  "$sw" simulate --input sim/traffic.lp --publish "$ing" 2>pub-f.log || bad "publish to the full disk"
  wait_for 10 ingested "$(wc -l <sim/traffic.lp)" || bad "traffic not ingested with a full disk"
  failed() { [ "$(metric "$api" stormwatch_state_save_failures_total)" -ge 1 ]; }
  wait_for 5 failed || bad "state save failures not counted"
  [ "$(metric "$api" stormwatch_record_write_errors_total)" -ge 1 ] && ok || bad "record errors not counted"
  kill -TERM "$pid"; wait "$pid"
  status=$?
  [ $status -eq 1 ] && ok || bad "exit status $status with the state unsaved (want 1)"
  grep -q "No space left on device" f.log && ok || bad "no clear error: $(grep -i -m3 'error' f.log)"
  grep '"status":"firing","alert":"storm"' f.jsonl | grep -q "\"user\":\"$user\"" && ok ||
    bad "detection stopped with the disk full: $(head -c 300 f.jsonl)"
  umount full
fi

# ---- 5. CurveZMQ: only allowed producers get in -----------------------------
mkdir -p keys
"$sw" keygen keys server >/dev/null && "$sw" keygen keys good >/dev/null &&
  "$sw" keygen keys evil >/dev/null || bad keygen
cp keys/good.pub allowed.txt
ing=tcp://127.0.0.1:$(freeport)
start k.jsonl k.log --curve-secret keys/server.key --curve-public keys/server.pub \
  --curve-allow allowed.txt
send_as() { # key-name lines: sends that many lines with that client key pair
  $py - "$ing" keys/server.pub "keys/$1.pub" "keys/$1.key" "$2" <<'PY'
import sys, zmq
ep, server, pub, sec, n = sys.argv[1:6]
ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.curve_serverkey = open(server, "rb").read().strip()
s.curve_publickey = open(pub, "rb").read().strip()
s.curve_secretkey = open(sec, "rb").read().strip()
s.connect(ep)
s.send(b"".join(b"dsp_traffic,user=C%d,dir=south count=1i %d\n" % (i, 1710222000000000000 + i)
                for i in range(int(n))))
s.close(linger=2000)
ctx.term()
PY
}
send_as evil 100
sleep 1
[ "$(metric "$api" stormwatch_ingest_lines_total)" = 0 ] && ok || bad "an unknown key got lines in"
send_as good 10
wait_for 5 ingested 10 && ok || bad "the allowed key got nothing in: $(tail -3 k.log)"
kill -TERM "$pid"; wait "$pid"

# ---- 6. an unprivileged user -------------------------------------------------
mkdir -p nobody && chown nobody nobody
ing=tcp://127.0.0.1:$(freeport)
setpriv --reuid=nobody --regid=nogroup --clear-groups "$sw" run --ingest "$ing" \
  --http "127.0.0.1:$hport" --state nobody/st.bin --alerts nobody/n.jsonl \
  --changes-journal nobody/changes.journal --stats-every 0 2>n.log &
pid=$!
pids+=($pid)
wait_for 5 healthy "$api" && ok || bad "the daemon did not run as nobody: $(tail -3 n.log)"
[ "$(ps -o user= -p "$pid")" = nobody ] && ok || bad "not running as nobody: $(ps -o user= -p "$pid")"
"$sw" simulate --input a.lp --publish "$ing" 2>pub-n.log || bad "publish to the unprivileged daemon"
kill -TERM "$pid"; wait "$pid"
[ $? -eq 0 ] && [ -s nobody/st.bin ] && ok || bad "unprivileged stop or state save: $(tail -3 n.log)"

echo "e2e_faults: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
