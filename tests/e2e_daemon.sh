#!/usr/bin/env bash
# The live daemon end to end, with real ZeroMQ peers on 127.0.0.1: the
# simulator publishes a scenario to `stormwatch run`; the alert lines must
# equal replay's for the same input, byte for byte, with several shards;
# SIGTERM must drain and exit 0; the recording must replay to the same
# lines; a bad config is refused with exit 2.
#   tests/e2e_daemon.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

# a free TCP port on loopback
port=$(freeport)
ep=tcp://127.0.0.1:$port

"$sw" simulate --scenario mixed --quirks --out sim >/dev/null 2>&1 || bad "simulate"
"$sw" replay --quiet --changes sim/changes.yaml --change-checks replay-checks.jsonl \
  sim/traffic.lp >replay.jsonl 2>/dev/null
[ -s replay.jsonl ] && ok || bad "replay gave no alerts"

cp "$SW_SOURCE_DIR/config/stormwatch.yaml" live.yaml
cp sim/changes.yaml live-changes.yaml
hport=$(freeport)
"$sw" run --ingest "$ep" --config live.yaml --changes live-changes.yaml --alerts live.jsonl \
  --shards 3 --record rec.lp --state state.bin --stats-every 1 --change-checks live-checks.jsonl \
  --http 127.0.0.1:$hport --changes-journal changes.journal 2>daemon.log &
pid=$!
sleep 0.5
kill -0 $pid 2>/dev/null && ok || bad "daemon did not start: $(cat daemon.log)"

# SIGHUP with a broken config: refused, the old one kept, the daemon goes on
printf 'detectors: [\n' >live.yaml
kill -HUP $pid
for _ in $(seq 1 50); do grep -q "reload refused" daemon.log && break; sleep 0.1; done
grep -q "reload refused, old config kept: live.yaml:" daemon.log && ok || bad "bad reload: $(tail -3 daemon.log)"
kill -0 $pid 2>/dev/null && ok || bad "daemon died on a bad reload"
# SIGHUP with good files: reloaded
cp "$SW_SOURCE_DIR/config/stormwatch.yaml" live.yaml
kill -HUP $pid
for _ in $(seq 1 50); do grep -q "reloaded live.yaml" daemon.log && break; sleep 0.1; done
grep -q "reloaded live.yaml and live-changes.yaml" daemon.log && ok || bad "good reload: $(tail -3 daemon.log)"

"$sw" simulate --scenario mixed --quirks --publish "$ep" 2>pub.log || bad "publish: $(cat pub.log)"
# wait until the daemon has read every line (its stats line counts them)
lines=$(wc -l <sim/traffic.lp)
for _ in $(seq 1 100); do
  grep -q "stats: .* $lines lines" daemon.log && break
  sleep 0.1
done
# the changes whose window (and slack) ended inside the feed are judged
# live as in replay, byte for byte; replay judges the rest at its end
for _ in $(seq 1 100); do [ -s live-checks.jsonl ] && break; sleep 0.1; done
[ -s live-checks.jsonl ] && ok || bad "no change checks written live"
while read -r line; do
  grep -qxF "$line" replay-checks.jsonl || bad "live check not as replay's: $line"
done <live-checks.jsonl
judged=$(head -1 live-checks.jsonl | sed 's/{"change":"\([^"]*\)".*/\1/')
verdict=$(head -1 live-checks.jsonl | sed 's/.*"verdict":"\([a-z_]*\)".*/\1/')
grep -q "change $judged of .*: $verdict: " daemon.log && ok || bad "no log line for $judged's verdict"
curl -s "http://127.0.0.1:$hport/api/v1/changes/$judged" >view.json
grep -q "\"check\":{\"change\":\"$judged\",.*\"verdict\":\"$verdict\"" view.json && ok ||
  bad "GET /api/v1/changes/$judged shows no verdict: $(head -c 300 view.json)"
curl -s "http://127.0.0.1:$hport/metrics" >metrics.txt
grep -q "^stormwatch_change_checks_total{verdict=\"$verdict\"} [1-9]" metrics.txt &&
  ok || bad "no change-check metric"
# a build with jemalloc returns freed pages in the background: without it,
# buffers left behind by a growing ring stayed resident for good
if "$sw" --version | grep -q "jemalloc"; then
  grep -qx "stormwatch_jemalloc_background_thread 1" metrics.txt && ok ||
    bad "jemalloc's background thread is off: $(grep jemalloc metrics.txt)"
fi
kill -TERM $pid
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then bad "daemon still running 10 s after SIGTERM"; kill -9 $pid; fi
wait $pid
status=$?
[ $status -eq 0 ] && ok || bad "daemon exited $status: $(tail -5 daemon.log)"

cmp -s live.jsonl replay.jsonl && ok || bad "live alerts differ from replay: $(diff live.jsonl replay.jsonl | head -5)"
grep -q "SIGTERM: draining and stopping" daemon.log && ok || bad "no drain message"
# the stats line says how far the feed's event time is, and its lag
expect_grep daemon.log "stats: .*, feed time 20[0-9-]*T[0-9:.]*Z, lag [0-9.]* s$" "feed time and lag in the stats line"
# the log: a banner naming what runs, one line per alert transition
expect_grep daemon.log "info  stormwatch [0-9.]* (commit [^,]*, [A-Za-z]*; .*zeromq.*) running: config live.yaml, changes live-changes.yaml, 3 shards; ingest $ep; alerts to live.jsonl; .*http 127.0.0.1:$hport; change checks live-checks.jsonl; changes journal changes.journal; state state.bin; record rec.lp" "start-up banner"
[ "$(grep -c ' alert firing: ' daemon.log)" -eq "$(grep -c '"status":"firing"' live.jsonl)" ] && ok ||
  bad "want a log line per firing alert: $(grep -c ' alert firing: ' daemon.log)"
[ "$(grep -c ' alert resolved: ' daemon.log)" -eq "$(grep -c '"status":"resolved"' live.jsonl)" ] && ok ||
  bad "want a log line per resolved alert"
first=$(grep -m1 '"status":"firing"' live.jsonl)
kind=$(echo "$first" | sed 's/.*"alert":"\([a-z_]*\)".*/\1/')
user=$(echo "$first" | sed 's/.*"user":"\([^"]*\)".*/\1/')
expect_grep daemon.log "alert firing: $kind [a-z]* user $user dir [a-z]* class [^;]*; incident INC-[0-9]* (primary\|member); change [^ ]* (declared\|maintenance\|undeclared)" \
  "the first firing alert's log line"
grep -q "state: state.bin: saved" daemon.log && ok || bad "state not saved: $(tail -3 daemon.log)"
[ -s state.bin ] && ok || bad "no state file"

# the recording replays to the same alert lines
ls rec.lp* >/dev/null 2>&1 && ok || bad "no recording"
"$sw" replay --quiet --changes sim/changes.yaml rec.lp* >rec.jsonl 2>/dev/null
cmp -s rec.jsonl replay.jsonl && ok || bad "recording replays differently"

# from the config file alone; the feed stall is timed on the wall clock, 6 s
# as given (the data's 5 s rhythm would otherwise make it longer)
port2=$(freeport)
cat >run.yaml <<YAML
feed:
  stall_after: 6s
  stall_cadences: 1
run:
  ingest: [tcp://127.0.0.1:$port2]
  alerts: live2.jsonl
  shards: 2
  stats_every: 0
YAML
"$sw" run --config run.yaml 2>daemon2.log &
pid2=$!
sleep 0.5
"$sw" simulate --users 12 --hours 1 --publish tcp://127.0.0.1:$port2 2>pub2.log || bad "publish: $(cat pub2.log)"
# (6 s after the last line is taken: a sanitizer build takes seconds to take them)
for _ in $(seq 1 300); do grep -q '"alert":"feed_stalled"' live2.jsonl 2>/dev/null && break; sleep 0.1; done
[ "$(grep -c '"status":"firing","alert":"feed_stalled"' live2.jsonl)" -eq 1 ] && ok || bad "want one feed_stalled from the wall clock: $(tail -3 daemon2.log)"
grep -q "PULL bound at tcp://127.0.0.1:$port2" daemon2.log && ok || bad "run.ingest not used"
kill -TERM $pid2
wait $pid2
[ $? -eq 0 ] && ok || bad "config-only daemon did not exit 0"
grep -q '"status":"resolved","alert":"feed_stalled"' live2.jsonl && bad "feed_stalled falsely resolved on exit" || ok

# a bad config is refused before anything starts
printf 'detectors:\n  storm: {ratio_fire: x}\n' >bad.yaml
"$sw" run --ingest "$ep" --config bad.yaml >out.txt 2>err.txt
[ $? -eq 2 ] && ok || bad "bad config not refused with 2"
grep -q "bad.yaml:2:" err.txt && ok || bad "bad config message: $(cat err.txt)"
"$sw" run >out.txt 2>err.txt
[ $? -eq 2 ] && grep -q "no --ingest" err.txt && ok || bad "run without --ingest"

# the operator can still turn jemalloc's background thread off (MALLOC_CONF
# overrides the program's own options)
if "$sw" --version | grep -q "jemalloc"; then
  hport3=$(freeport)
  MALLOC_CONF=background_thread:false "$sw" run --ingest "tcp://127.0.0.1:$(freeport)" \
    --alerts /dev/null --http 127.0.0.1:$hport3 2>daemon3.log &
  pid3=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$hport3/metrics" >metrics3.txt && break; sleep 0.1; done
  grep -qx "stormwatch_jemalloc_background_thread 0" metrics3.txt && ok ||
    bad "MALLOC_CONF did not turn the background thread off: $(grep jemalloc metrics3.txt)"
  kill -TERM $pid3
  wait $pid3
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
