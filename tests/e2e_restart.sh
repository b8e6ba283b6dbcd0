#!/usr/bin/env bash
# Restarts and the files a daemon keeps, end to end with real ZeroMQ peers
# on 127.0.0.1:
#  1. kill -9 in the middle of an incident: the restart resumes the alert
#     from --state's journal of open alerts (FILE.alerts): no second firing
#     line, and the resolved line, when the incident ends, carries the start
#     it fired with. Without the journal the same restart fires it again
#     (the control: the test can fail).
#  2. a corrupt --state is renamed aside and the daemon starts (and counts
#     it); with --strict-files it refuses to start, naming the file.
#  3. an unwritable --state path is refused at start, not at the first save.
#  4. --alerts on a full disk (/dev/full): every line lost is counted on
#     /metrics, logged once, and the daemon goes on.
#   tests/e2e_restart.sh STORMWATCH WORKDIR
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

# six Users, 2 h at 10 s; User 2's alerts storm x20 from 07:40 to 07:50
"$sw" simulate --users 6 --hours 2 --interval 10 --incident storm-north:2:1h40m:10m \
  --out sim >/dev/null 2>&1 || fatal simulate
user=$($py -c 'import json; print(json.load(open("sim/truth.json"))["incidents"][0]["user"])')
t_storm=1710229200000000000 # 07:40
t_kill=1710229380000000000  # 07:43
awk -v t=$t_storm '$NF < t' sim/traffic.lp >a.lp
awk -v a=$t_storm -v b=$t_kill '$NF >= a && $NF < b' sim/traffic.lp >b.lp
awk -v t=$t_kill '$NF >= t' sim/traffic.lp >c.lp

ing=tcp://127.0.0.1:$(freeport) hport=$(freeport)
api=http://127.0.0.1:$hport
start() { # alerts-file log-file [more options]
  local out=$1 log=$2; shift 2
  "$sw" run --ingest "$ing" --http "127.0.0.1:$hport" --alerts "$out" --stats-every 0 \
    --state-every 0 "$@" 2>>"$log" &
  pid=$!
  pids+=($pid)
  wait_for 5 healthy "$api" || fatal "daemon did not answer: $(tail -3 "$log")"
}
ingested() { [ "$(metric "$api" stormwatch_ingest_lines_total)" = "$1" ]; }
publish() { # file
  "$sw" simulate --input "$1" --publish "$ing" 2>>pub.log || bad "publish $1"
  wait_for 20 ingested "$(wc -l <"$1")" || bad "$1 not ingested"
}
released() { grep -q "$1" "$2" 2>/dev/null; }

# ---- 1. kill -9 mid-incident ---------------------------------------------
# learn before the storm, stop cleanly: the state holds the baselines
start a.jsonl a.log --state st.bin
publish a.lp
kill -TERM "$pid"; wait "$pid" || bad "first run's exit: $(tail -3 a.log)"
cp st.bin st0.bin
# the storm fires; kill -9 three minutes in (no checkpoint since: only the
# journal knows the storm is open)
start b.jsonl b.log --state st.bin
publish b.lp
wait_for 40 released '"status":"firing","alert":"storm"' b.jsonl ||
  fatal "the storm did not fire: $(head -c 300 b.jsonl)"
kill -9 "$pid"; wait "$pid" 2>/dev/null
grep -q '"open":true,"alert":"storm"' st.bin.alerts && ok ||
  bad "the open storm is not in the journal: $(cat st.bin.alerts)"
cp st.bin.alerts journal.saved
starts=$(grep -o '"starts_at":"[^"]*"' b.jsonl | head -1)
# the restart goes on with it and resolves it with its start
start c.jsonl c.log --state st.bin
grep -q "1 alerts open before the restart go on" c.log && ok || bad "nothing resumed: $(grep journal c.log)"
publish c.lp
kill -TERM "$pid"; wait "$pid" || bad "restarted daemon's exit: $(tail -3 c.log)"
grep -q '"status":"firing"' c.jsonl && bad "a second firing line: $(grep firing c.jsonl | head -c 300)" || ok
grep '"status":"resolved","alert":"storm"' c.jsonl | grep "\"user\":\"$user\"" | grep -q "$starts" &&
  ok || bad "no resolved storm with $starts: $(head -c 400 c.jsonl)"
# the control: the same restart without the journal fires the storm again
cp st0.bin st.bin
rm -f st.bin.alerts
start d.jsonl d.log --state st.bin
publish c.lp
kill -TERM "$pid"; wait "$pid"
grep -q '"status":"firing","alert":"storm"' d.jsonl && ok ||
  bad "without the journal the storm did not fire again: the test proves nothing"

# ---- 2. a corrupt --state ---------------------------------------------------
head -c 4000 /dev/urandom >bad.bin
"$sw" run --ingest "$ing" --state bad.bin --strict-files --alerts x.jsonl 2>strict.log
[ $? -eq 2 ] && ok || bad "--strict-files started on a corrupt state"
grep -q "bad.bin" strict.log && ok || bad "the refusal does not name the file: $(cat strict.log)"
[ -f bad.bin ] && ok || bad "--strict-files moved the file"
start e.jsonl e.log --state bad.bin
grep -q "bad.bin.corrupt-" e.log && ok || bad "not set aside: $(grep state e.log)"
ls bad.bin.corrupt-* >/dev/null 2>&1 && ok || bad "the corrupt state was not kept aside"
[ "$(metric "$api" stormwatch_state_moved_aside_total)" = 1 ] && ok || bad "set-aside not counted"
kill -TERM "$pid"; wait "$pid" || bad "exit after a set-aside: $(tail -3 e.log)"
[ -s bad.bin ] && ok || bad "no fresh state saved in its place"

# ---- 3. an unwritable --state path ------------------------------------------
"$sw" run --ingest "$ing" --state /sys/stormwatch-e2e-state.bin --alerts x.jsonl 2>unwritable.log
[ $? -eq 2 ] && ok || bad "an unwritable --state was accepted"
grep -q -- "--state: /sys/stormwatch-e2e-state.bin" unwritable.log && ok ||
  bad "the refusal does not name the option and path: $(cat unwritable.log)"

# ---- 4. --alerts on a full disk ----------------------------------------------
start /dev/full f.log --state st0.bin
publish b.lp
lost() { [ "$(metric "$api" stormwatch_alerts_file_write_errors_total)" -ge 1 ]; }
wait_for 40 lost && ok || bad "no write error counted: $(curl -s "$api/metrics" | grep alerts_file)"
healthy "$api" && ok || bad "the daemon stopped on a full disk"
kill -TERM "$pid"; wait "$pid"
[ "$(grep -c 'No space left on device' f.log)" = 1 ] && ok ||
  bad "the full disk was not logged once: $(grep -c 'No space' f.log) lines"

echo "e2e_restart: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
