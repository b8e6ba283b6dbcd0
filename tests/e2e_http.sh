#!/usr/bin/env bash
# The daemon's HTTP API with real clients (curl, promtool) on 127.0.0.1:
# /healthz, /readyz, /metrics accepted by promtool, /api/v1/alerts, and the
# change API: a change declared over HTTP names the incident it explains at
# once, writes need the bearer token, bad input gets a 400 naming the field,
# and a declared change survives a restart and a kill -9. Beside the API's
# changes, the register file's (--changes): its ids are refused, both are
# listed with their source, a declaration tells its conflicts with the
# file's DCC maintenance, and the schedule shows both.
#   tests/e2e_http.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
ing=tcp://127.0.0.1:$(freeport)
hport=$(freeport)
pub=tcp://127.0.0.1:$(freeport)
api=http://127.0.0.1:$hport
token=stormwatch-test-token-0123456789
echo "$token" >token
code() { curl -s -o body.txt -w '%{http_code}' "$@"; }

"$sw" simulate --users 12 --hours 2 --incident blocked:3:70m:20m --out sim >/dev/null 2>&1 || bad simulate
user=$(python3 -c 'import json; print(json.load(open("sim/truth.json"))["incidents"][0]["user"])')

# DCC maintenance in the file, over the last minute of CHG-API-1 below: a
# conflict to tell, and half an hour after the incident, which it cannot explain
cat >changes.yaml <<'EOF'
changes:
  - {id: CHG-FILE-1, user: DCC, kind: maintenance, start: 2024-03-12T07:59:00Z, end: 2024-03-12T08:30:00Z}
EOF

start() {
  "$sw" run --ingest "$ing" --http "127.0.0.1:$hport" --http-token-file token --changes changes.yaml \
    --changes-journal changes.journal --alerts live.jsonl --pub "$pub" --stats-every 0 2>>daemon.log &
  pid=$!
  for _ in $(seq 1 50); do curl -s "$api/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
  bad "daemon did not answer: $(tail -3 daemon.log)"
}
start
# the HTTP server's threads, ZeroMQ's and ours leave the signals to the main loop
why=$(signals_blocked "$pid") && ok || bad "a thread takes signals: $why"

[ "$(code "$api/healthz")" = 200 ] && ok || bad healthz
[ "$(code "$api/readyz")" = 200 ] && ok || bad readyz
[ "$(code "$api/nope")" = 404 ] && ok || bad "unknown route"

change='{"id":"CHG-API-1","user":"'$user'","title":"Firewall change","kind":"firewall","start":"2024-03-12T06:55:00Z","end":"2024-03-12T08:00:00Z","affects":["north"]}'
[ "$(code -X POST -d "$change" "$api/api/v1/changes")" = 401 ] && ok || bad "write without token"
[ "$(code -X POST -H "Authorization: Bearer wrong-token-00000000" -d "$change" "$api/api/v1/changes")" = 403 ] && ok || bad "wrong token"
auth=(-H "Authorization: Bearer $token")
[ "$(code -X POST "${auth[@]}" -d '{"id":"X","user":"U","start":"2024-03-12T06:00:00Z","end":"yesterday"}' "$api/api/v1/changes")" = 400 ] && ok || bad "bad date"
grep -q "end" body.txt && ok || bad "400 does not name the field: $(cat body.txt)"
[ "$(code -X POST "${auth[@]}" -d '{not json' "$api/api/v1/changes")" = 400 ] && ok || bad "bad JSON"
[ "$(code -X POST "${auth[@]}" -d '{"user":"U","start":"2024-03-12T06:00:00Z","end":"2024-03-12T07:00:00Z"}' "$api/api/v1/changes")" = 400 ] && ok || bad "missing id"
grep -q "id" body.txt && ok || bad "missing id not named: $(cat body.txt)"
head -c 200000 /dev/zero | tr '\0' ' ' >big.json
[ "$(code -X POST "${auth[@]}" --data-binary @big.json "$api/api/v1/changes")" = 413 ] && ok || bad "oversized body"
[ "$(code -X POST "${auth[@]}" -d "$change" "$api/api/v1/changes")" = 201 ] && ok || bad "declare: $(cat body.txt)"
[ "$(code -X POST "${auth[@]}" -d "$change" "$api/api/v1/changes")" = 409 ] && ok || bad "duplicate"
curl -s "$api/api/v1/changes" | grep -q CHG-API-1 && ok || bad "not listed"

# the register file beside the API
code -X POST "${auth[@]}" -d '{"id":"CHG-API-9","user":"'$user'","start":"2024-03-12T08:00:00Z","end":"2024-03-12T08:05:00Z","affects":"south"}' "$api/api/v1/changes" >/dev/null
python3 - body.txt <<'PY' && ok || bad "201 body: $(cat body.txt)"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["source"] == "api" and c["affects"] == ["south"] and c["impact"] == {}, c
assert [(k["type"], k["with"]) for k in c["conflicts"]] == [("maintenance", "CHG-FILE-1")], c
PY
grep -q "change CHG-API-9 declared with a maintenance conflict: overlaps DCC Planned Maintenance CHG-FILE-1" daemon.log && ok || bad "conflict not logged: $(tail -3 daemon.log)"
[ "$(code -X POST "${auth[@]}" -d '{"id":"CHG-FILE-1","user":"U","start":"2024-03-12T06:00:00Z","end":"2024-03-12T07:00:00Z"}' "$api/api/v1/changes")" = 409 ] && ok || bad "a file id declared: $(cat body.txt)"
grep -q "owned by the change register file" body.txt && ok || bad "409 does not say why: $(cat body.txt)"
[ "$(code -X POST "${auth[@]}" -d '{"id":"K","user":"U","kind":"dns","start":"2024-03-12T06:00:00Z","end":"2024-03-12T07:00:00Z"}' "$api/api/v1/changes")" = 400 ] && ok || bad "unknown kind"
grep -q "known kinds: firewall" body.txt && ok || bad "400 does not list the kinds: $(cat body.txt)"
curl -s "$api/api/v1/changes" | python3 -c '
import json, sys
print(" ".join(c["id"] + "=" + c["source"] for c in json.load(sys.stdin)))' >list.txt
[ "$(cat list.txt)" = "CHG-API-1=api CHG-FILE-1=file CHG-API-9=api" ] && ok || bad "list: $(cat list.txt)"
curl -s "$api/api/v1/schedule?from=2024-03-12T07:30:00Z&to=2024-03-12T08:01:00Z" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join(c["id"] + ":" + str(len(c["conflicts"])) for c in s["changes"]))' >sched.txt
[ "$(cat sched.txt)" = "CHG-API-1:1 CHG-FILE-1:2 CHG-API-9:1" ] && ok || bad "schedule: $(cat sched.txt)"
[ "$(code "$api/api/v1/schedule?from=soon")" = 400 ] && grep -q "parameter 'from'" body.txt && ok || bad "bad schedule parameter: $(cat body.txt)"
[ "$(code "$api/api/v1/changes/CHG-FILE-1")" = 200 ] && grep -q '"source":"file"' body.txt && grep -q '"check":null' body.txt && ok || bad "a file change: $(cat body.txt)"
[ "$(code -X DELETE "${auth[@]}" "$api/api/v1/changes/CHG-API-9")" = 204 ] && ok || bad "withdraw CHG-API-9"

# the declared change explains the incident at once
"$sw" simulate --users 12 --hours 2 --incident blocked:3:70m:20m --publish "$ing" 2>pub.log || bad "publish"
for _ in $(seq 1 100); do grep -q blocked_route live.jsonl 2>/dev/null && break; sleep 0.1; done
grep '"alert":"blocked_route"' live.jsonl | head -1 | grep -q '"id":"CHG-API-1"' && ok || bad "alert does not name the API change: $(head -c 300 live.jsonl)"
curl -s "$api/api/v1/alerts" | python3 -c 'import json,sys; a=json.load(sys.stdin); assert isinstance(a, list)' && ok || bad "alerts JSON"

# metrics in the Prometheus exposition format, scraped once the blocked
# route has resolved (the alert thread writes the line, then counts it)
for _ in $(seq 1 100); do
  grep -q '"status":"resolved","alert":"blocked_route"' live.jsonl 2>/dev/null &&
    curl -s "$api/metrics" >metrics.txt &&
    grep -q '^stormwatch_alert_lines_total 2' metrics.txt && break
  sleep 0.1
done
curl -s "$api/metrics" >metrics.txt
promtool check metrics <metrics.txt >promtool.txt 2>&1 && ok || bad "promtool: $(head -5 promtool.txt)"
grep -q '^stormwatch_ingest_lines_total [1-9]' metrics.txt && ok || bad "no ingest count in metrics"
grep -q '^stormwatch_changes 2' metrics.txt && ok || bad "change register size (CHG-API-1, CHG-FILE-1): $(grep stormwatch_changes metrics.txt)"
grep -q '^stormwatch_pub_sent_total [1-9]' metrics.txt && ok || bad "PUB sink not counted: $(grep pub_ metrics.txt)"
# the blocked route fired and resolved: two lines, nothing firing now
grep -q '^stormwatch_alert_lines_total 2' metrics.txt && ok || bad "alert lines: $(grep alert_lines metrics.txt)"
grep -q '^stormwatch_alerts_firing{alert="blocked_route"} 0' metrics.txt && ok || bad "firing gauge: $(grep alerts_firing metrics.txt)"

# a declared change survives a restart and a crash
kill -TERM $pid; wait $pid
start
curl -s "$api/api/v1/changes" | grep -q CHG-API-1 && ok || bad "lost on restart"
change2='{"id":"CHG-API-2","user":"U7","start":"2024-03-12T06:00:00Z","end":"2024-03-12T07:00:00Z"}'
[ "$(code -X POST "${auth[@]}" -d "$change2" "$api/api/v1/changes")" = 201 ] && ok || bad "declare 2"
kill -9 $pid; wait $pid 2>/dev/null
start
curl -s "$api/api/v1/changes" | grep -q CHG-API-2 && ok || bad "lost on kill -9"
[ "$(code -X DELETE "${auth[@]}" "$api/api/v1/changes/CHG-API-2")" = 204 ] && ok || bad "withdraw"
[ "$(code -X DELETE "${auth[@]}" "$api/api/v1/changes/CHG-API-2")" = 404 ] && ok || bad "withdraw twice"
kill -TERM $pid; wait $pid

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
