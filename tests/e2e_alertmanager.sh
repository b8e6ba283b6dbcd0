#!/usr/bin/env bash
# The daemon with a real Alertmanager (Debian's prometheus-alertmanager) on
# 127.0.0.1: the alerts of a published scenario arrive with their labels
# (alertname, user, dir, class, severity, correlation, change_id, incident,
# incident_role, learning) and annotations; an Alertmanager unreachable when
# they fire, and for a while after (retried with backoff, queued, counted in
# /metrics, detection going on), still gets them once it is back. Then,
# with the README's route (group_by: [incident]), the alerts of three
# causes at once (the deliveries to six Users stalling, a User's flood
# and the response storm it brings, another User's firewall) are three
# Alertmanager groups: one notification per incident.
#   tests/e2e_alertmanager.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
am_bin=$(command -v prometheus-alertmanager || echo /usr/bin/prometheus-alertmanager)
amport=$(freeport)
ing=tcp://127.0.0.1:$(freeport)
hport=$(freeport)
metric() { curl -s "http://127.0.0.1:$hport/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
# the README's route, with receivers that send nowhere
cat >am.yml <<YAML
route:
  receiver: dsp-operations
  group_by: [incident]
  group_wait: 1s
  routes:
    - matchers: ['severity="critical"']
      receiver: dsp-on-call
receivers:
  - name: dsp-operations
  - name: dsp-on-call
YAML
am_pid=
start_am() {
  "$am_bin" --config.file=am.yml --storage.path=am-data --web.listen-address=127.0.0.1:$amport \
    --cluster.listen-address= >>am.log 2>&1 &
  am_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$amport/-/ready" >/dev/null && return; sleep 0.1; done
  bad "alertmanager did not start: $(tail -3 am.log)"
}
cleanup() { [ -n "$am_pid" ] && kill $am_pid 2>/dev/null; [ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null; true; }
trap cleanup EXIT

"$sw" simulate --users 12 --hours 2 --incident blocked:3:70m:50m:declared --out sim >/dev/null 2>&1 || bad simulate
user=$(python3 -c 'import json; print(json.load(open("sim/truth.json"))["incidents"][0]["user"])')

# Alertmanager is down when the alert fires: it is queued, then delivered.
# (The incident lasts to the end of the recording: Alertmanager lists only
# alerts that have not ended, and these carry event times of 2024.)
"$sw" run --ingest "$ing" --changes sim/changes.yaml --alertmanager "http://127.0.0.1:$amport" \
  --alertmanager-queue am.queue --alerts live.jsonl --stats-every 0 --http "127.0.0.1:$hport" \
  2>daemon.log &
pid=$!
sleep 0.5
"$sw" simulate --users 12 --hours 2 --incident blocked:3:70m:50m:declared --publish "$ing" 2>pub.log || bad publish
for _ in $(seq 1 100); do grep -q '"status":"firing"' live.jsonl 2>/dev/null && break; sleep 0.1; done
grep -q '"alert":"blocked_route"' live.jsonl && ok || bad "no blocked_route alert line"
# unreachable for 20 s: posts fail and back off (1, 2, 4, 8 s...), the alert waits in the queue
sleep 20
failed=$(metric stormwatch_alertmanager_failed_total)
[ "${failed:-0}" -ge 3 ] && ok || bad "failed posts not counted or not retried: ${failed:-none}"
[ "$(metric stormwatch_alertmanager_queue)" -ge 1 ] && ok || bad "nothing queued while unreachable"
[ "$(metric stormwatch_alertmanager_sent_total)" = 0 ] && ok || bad "sent while unreachable?"
curl -sf "http://127.0.0.1:$hport/healthz" >/dev/null && ok || bad "daemon unhealthy during the outage"
start_am
got=
for _ in $(seq 1 250); do # up to 50 s: the next retry may be 16-32 s away
  curl -s "http://127.0.0.1:$amport/api/v2/alerts?filter=alertname%3D%22blocked_route%22" >am.json
  python3 - "$user" <<'PY' && { got=1; break; }
import json, sys
alerts = json.load(open("am.json"))
ok = [a for a in alerts if a["labels"].get("alertname") == "blocked_route"
      and a["labels"].get("user") == sys.argv[1]]
sys.exit(0 if ok else 1)
PY
  sleep 0.2
done
[ -n "$got" ] && ok || bad "blocked_route never reached Alertmanager: $(head -c 300 am.json)"
python3 - "$user" "$hport" <<'PY' && ok || bad "labels or annotations wrong: $(head -c 600 am.json)"
import json, re, sys
a = [a for a in json.load(open("am.json")) if a["labels"].get("user") == sys.argv[1]][0]
l, an = a["labels"], a["annotations"]
assert l["dir"] == "north" and l["class"] == "all" and l["severity"] == "critical", l
assert l["correlation"] == "declared" and l["change_id"].startswith("CHG-"), l
assert "summary" in an and "value" in an and "baseline" in an, an
assert re.fullmatch(r"[0-9]+\.[0-9]{2} msg/s", an["value"]), an  # a rate says its unit
assert re.fullmatch(r"[0-9]+\.[0-9]{2} msg/s", an["baseline"]), an
# the link back: the live console on --http, as no --generator-url was given
assert a["generatorURL"] == "http://127.0.0.1:%s/" % sys.argv[2], a["generatorURL"]
assert a["startsAt"].startswith("2024-03-12T07:10"), a["startsAt"]  # the onset, event time
PY
curl -s "http://127.0.0.1:$amport/metrics" >/dev/null
kill -TERM $pid; wait $pid
[ $? -eq 0 ] && ok || bad "daemon exit"

# Three causes at once on day two (nothing left learning), lasting to the
# end of the recording so that Alertmanager still lists them.
spec="--users 12 --hours 26 --interval 10 --rates 5:200 --seed 3"
for u in 0 1 2 3 4 5; do spec="$spec --incident blocked:$u:25h10m:50m"; done
spec="$spec --incident storm-south:8:25h20m:40m:12 --incident blocked:10:25h30m:30m:declared"
ing2=tcp://127.0.0.1:$(freeport)
kill $am_pid; wait $am_pid 2>/dev/null; rm -rf am-data # a fresh Alertmanager: incident
start_am                                               # numbers are unique in one run
printf 'feed:\n  stall_after: 1h\n' >quiet.yaml         # the end of the recording is no stall
# shellcheck disable=SC2086
"$sw" simulate $spec --out sim2 >/dev/null 2>&1 || bad "simulate 2"
"$sw" run --config quiet.yaml --ingest "$ing2" --changes sim2/changes.yaml \
  --alertmanager "http://127.0.0.1:$amport" --alerts live2.jsonl --stats-every 0 2>daemon2.log &
pid=$!
sleep 0.5
"$sw" simulate --input sim2/traffic.lp --publish "$ing2" 2>pub2.log || bad "publish 2: $(cat pub2.log)"
got=
for _ in $(seq 1 150); do
  curl -s "http://127.0.0.1:$amport/api/v2/alerts/groups" >groups.json
  python3 - live2.jsonl <<'PY' && { got=1; break; }
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
state = {}
for a in lines:  # the alerts firing at the end, by identity
    state[(a["alert"], a["user"], a["dir"], a["class"], a.get("incident"))] = a
firing = [a for a in state.values() if a["status"] == "firing" and a["starts_at"] >= "2024-03-13T07"]
incidents = {a["incident"] for a in firing}
groups = [g for g in json.load(open("groups.json")) if g["alerts"]]
listed = sum(len(g["alerts"]) for g in groups)
sys.exit(0 if len(incidents) == 3 and listed == len(firing) else 1)
PY
  sleep 0.2
done
[ -n "$got" ] && ok || bad "Alertmanager did not get the three incidents' alerts: $(head -c 400 groups.json)"
python3 - live2.jsonl <<'PY' && ok || bad "not one Alertmanager group per incident: $(head -c 800 groups.json)"
import json, sys
groups = [g for g in json.load(open("groups.json")) if g["alerts"]]
by_incident = {}
for g in groups:
    incs = {a["labels"]["incident"] for a in g["alerts"]}
    assert len(incs) == 1, ("a group mixes incidents", incs)
    inc = incs.pop()
    assert g["labels"] == {"incident": inc}, g["labels"]
    assert inc not in by_incident, ("an incident in two groups", inc)
    roles = [a["labels"]["incident_role"] for a in g["alerts"]]
    assert roles.count("primary") == 1, (inc, roles)  # one alert stands for it
    by_incident[inc] = g
assert len(by_incident) == 3, sorted(by_incident)
kinds = {inc: sorted(a["labels"]["alertname"] for a in g["alerts"]) for inc, g in by_incident.items()}
wide = [inc for inc, k in kinds.items() if "widespread" in k]
assert len(wide) == 1 and kinds[wide[0]].count("blocked_route") >= 5, kinds
assert any(k == ["storm", "storm"] for k in kinds.values()), kinds  # the flood and its responses
assert any(k == ["blocked_route"] for k in kinds.values()), kinds  # the firewall, on its own
PY
kill -TERM $pid; wait $pid
[ $? -eq 0 ] && ok || bad "daemon 2 exit"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
