#!/usr/bin/env bash
# The daemon with a real Alertmanager (Debian's prometheus-alertmanager) on
# 127.0.0.1: the alerts of a published scenario arrive with their labels
# (alertname, user, dir, class, severity, correlation, change_id) and
# annotations; an Alertmanager unreachable when they fire, and for a while
# after (retried with backoff, queued, counted in /metrics, detection going
# on), still gets them once it is back.
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
cat >am.yml <<YAML
route:
  receiver: "null"
receivers:
  - name: "null"
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
python3 - "$user" <<'PY' && ok || bad "labels or annotations wrong: $(head -c 600 am.json)"
import json, sys
a = [a for a in json.load(open("am.json")) if a["labels"].get("user") == sys.argv[1]][0]
l, an = a["labels"], a["annotations"]
assert l["dir"] == "north" and l["class"] == "all" and l["severity"] == "critical", l
assert l["correlation"] == "declared" and l["change_id"].startswith("CHG-"), l
assert "summary" in an and "value" in an and "baseline" in an, an
assert a["startsAt"].startswith("2024-03-12T07:10"), a["startsAt"]  # the onset, event time
PY
curl -s "http://127.0.0.1:$amport/metrics" >/dev/null
kill -TERM $pid; wait $pid
[ $? -eq 0 ] && ok || bad "daemon exit"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
