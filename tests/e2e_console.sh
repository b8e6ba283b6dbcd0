#!/usr/bin/env bash
# The live console end to end: a daemon on 127.0.0.1 with --http, fed by
# the simulator over ZeroMQ (24 Users, two hours: a DCC maintenance that
# silences a User and ends, then a User's declared storm hurting another
# User's deliveries and an undeclared storm, all firing at the end). Once
# alerts fire: the JSON behind the console (/api/v1/users with q and limit,
# /api/v1/users/{id}, /api/v1/history?since=) against the alert lines
# written and the traffic sent, the page's headers, then the page itself in
# headless Chromium (tests/console_browser.py: its tables against the API,
# no console errors, a screenshot kept as WORKDIR/console.png).
#   tests/e2e_console.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
here=$(cd "$(dirname "$0")" && pwd)
sw=$1 work=$2
chromium=${SW_CHROMIUM:-/usr/bin/chromium}
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
ing=tcp://127.0.0.1:$(freeport)
hport=$(freeport)
api=http://127.0.0.1:$hport
code() { curl -s -o body.txt -w '%{http_code}' "$@"; }

"$sw" simulate --users 24 --hours 2 --incident silence-north:8:50m:15m:maintenance \
  --incident storm-south:2:95m:60m:declared --incident blocked:5:100m:60m \
  --incident storm-north:11:105m:60m --out sim >/dev/null 2>&1 || fatal simulate
# the feed stops at the end of the run: no stall may fire meanwhile, so
# what the browser sees and what the API says stay the same
printf 'feed:\n  stall_after: 1h\n' >live.yaml
"$sw" run --ingest "$ing" --config live.yaml --changes sim/changes.yaml --alerts live.jsonl \
  --http "127.0.0.1:$hport" --changes-journal changes.journal --stats-every 1 2>daemon.log &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -s "$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -s "$api/healthz" >/dev/null 2>&1 || fatal "daemon did not answer: $(tail -3 daemon.log)"

# before any sample: no User yet, nothing kept
[ "$(code "$api/api/v1/users")" = 202 ] && grep -qx '{"pending":true}' body.txt && ok ||
  bad "users before the feed: $(cat body.txt)"
[ "$(code "$api/api/v1/history")" = 200 ] && grep -q '"kept":0,"transitions":\[\]' body.txt && ok ||
  bad "history before the feed: $(cat body.txt)"

"$sw" simulate --input sim/traffic.lp --publish "$ing" 2>pub.log || fatal "publish: $(cat pub.log)"
lines=$(wc -l <sim/traffic.lp)
for _ in $(seq 1 300); do grep -q "stats: .* $lines lines" daemon.log && break; sleep 0.1; done
grep -q "stats: .* $lines lines" daemon.log || fatal "daemon did not read the feed: $(tail -2 daemon.log)"
# every alert line is out (live gives replay's lines), five still firing
"$sw" replay --quiet --changes sim/changes.yaml sim/traffic.lp >replay.jsonl 2>/dev/null
for _ in $(seq 1 100); do cmp -s live.jsonl replay.jsonl && break; sleep 0.1; done
cmp -s live.jsonl replay.jsonl || fatal "live lines are not replay's: $(diff live.jsonl replay.jsonl | head -3)"
[ "$(grep -c '"status":"firing"' live.jsonl)" -ge 5 ] || fatal "want 5 alerts fired: $(cat live.jsonl)"
# the Users' snapshot comes within a second or two of being asked for, and
# of the last transition (the one before may be the empty one asked for
# before the feed, or one made before the last line)
alerting_now() { # the Users with an alert open in live.jsonl, and those the snapshot shows
  python3 - live.jsonl body.txt <<'PY'
import json, sys
open_ = {}
for a in map(json.loads, open(sys.argv[1])):
    k = (a["alert"], a["user"], a["dir"], a["class"], a["starts_at"])
    open_[k] = a["status"] == "firing"
shown = json.load(open(sys.argv[2]))["users"]
sys.exit(sorted({k[1] for k, on in open_.items() if on}) != [u["user"] for u in shown if u["state"] != "ok"]
         or len(shown) != 24)
PY
}
for _ in $(seq 1 50); do
  [ "$(code "$api/api/v1/users?limit=10000")" = 200 ] && alerting_now && break
  sleep 0.2
done
cp body.txt users.json
curl -s "$api/api/v1/alerts" >alerts.json
curl -s "$api/api/v1/history" >history.json

# the API against what was written and what was sent
python3 - sim/traffic.lp live.jsonl users.json alerts.json history.json <<'PY' && ok || bad "the console's API"
import collections, json, sys
from datetime import datetime
traffic, lines, users, alerts, hist = sys.argv[1:]
users, alerts, hist = (json.load(open(p)) for p in (users, alerts, hist))
lines = [json.loads(l) for l in open(lines)]
fails = []
def want(cond, msg):
    if not cond:
        fails.append(msg)
def ms(t):
    return int(datetime.strptime(t.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z"
                                 if "." in t else "%Y-%m-%dT%H:%M:%S%z").timestamp() * 1000)
# every User of the feed, each way its last bucket's rate: what it sent then
sent = collections.defaultdict(float)  # (user, dir, ms) -> messages
for l in open(traffic):
    if l.startswith("#"):
        continue
    tags, fields, ts = l.split(" ")
    tag = dict(kv.split("=") for kv in tags.split(",")[1:])
    count = int(dict(kv.split("=") for kv in fields.split(","))["count"].rstrip("i"))
    sent[tag["user"], tag["dir"], int(ts) // 1000000] += count
names = {u for u, _, _ in sent}
rows = {u["user"]: u for u in users["users"]}
want(users["total"] == len(names) == 24 and set(rows) == names,
     f"users: expected the {len(names)} Users of the feed, found {users['total']}: {sorted(rows)}")
for u in rows.values():
    for d in ("south", "north"):
        x = u[d]
        got = sent.get((u["user"], d, ms(x["at"]))) if x["at"] else None
        want(got is not None and abs(x["rate"] - got / 5) <= 0.001 + got / 5 * 1e-6,
             f"{u['user']} {d}: rate {x['rate']} at {x['at']}, but {got} messages were sent then")
        want(x["baseline"] is not None and x["baseline"] >= 0, f"{u['user']} {d}: baseline {x}")
# states: the alerts firing now, per User and direction, and nothing else
open_ = {}
for a in lines:
    key = (a["alert"], a["user"], a["dir"], a["class"], a["starts_at"])
    if a["status"] == "firing":
        open_[key] = a
    else:
        open_.pop(key, None)
kinds = collections.defaultdict(set)
for a in open_.values():
    for d in (("south", "north") if a["dir"] == "both" else (a["dir"],)):
        kinds[a["user"], d].add(a["alert"])
for u in rows.values():
    for d in ("south", "north"):
        want(set(u[d]["alerts"]) == kinds.get((u["user"], d), set()),
             f"{u['user']} {d}: alerts {u[d]['alerts']}, want {sorted(kinds.get((u['user'], d), []))}")
        want((u[d]["state"] == "ok") == (not u[d]["alerts"]), f"{u['user']} {d}: state {u[d]}")
order = [bool(kinds.get((u["user"], "south")) or kinds.get((u["user"], "north"))) for u in users["users"]]
want(order == sorted(order, reverse=True) and any(order), f"users: the alerting first: {order}")
storm = next(a for a in open_.values() if a["alert"] == "storm" and a["dir"] == "south")
x = rows[storm["user"]]["south"]
want(x["rate"] > 5 * x["baseline"] > 0, f"storming {storm['user']}: rate {x['rate']}, baseline {x['baseline']}")
key = lambda a: (a["alert"], a["user"], a["dir"], a["class"], a["starts_at"])  # noqa: E731
want(sorted(map(key, alerts)) == sorted(open_), "alerts firing: not the lines' open ones")
# the history: every line written, in order, at its detection or its end
want([t["alert"] for t in hist["transitions"]] == lines and hist["kept"] == len(lines),
     f"history: {hist['kept']} kept, expected the {len(lines)} lines written")
want(all(t["at"] == (t["alert"]["detected_at"] if t["alert"]["status"] == "firing"
                     else t["alert"]["ends_at"]) for t in hist["transitions"]), "history: times")
want(any(t["alert"]["status"] == "resolved" for t in hist["transitions"]), "history: no resolved line")
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
PY

# q and limit, one User, since
alerting=$(python3 -c 'import json; print(json.load(open("users.json"))["users"][0]["user"])')
frag=$(echo "${alerting:12:5}" | tr 'A-Z' 'a-z')
curl -s "$api/api/v1/users?q=$frag&limit=1" >q.json
python3 - q.json "$frag" users.json <<'PY' && ok || bad "q=$frag&limit=1: $(head -c 300 q.json)"
import json, sys
q, frag, alls = json.load(open(sys.argv[1])), sys.argv[2], json.load(open(sys.argv[3]))
match = [u["user"] for u in alls["users"] if frag in u["user"].lower()]
assert q["matched"] == len(match) >= 1 and q["total"] == 24 and q["limit"] == 1, q
assert [u["user"] for u in q["users"]] == match[:1], (q["users"], match)
PY
[ "$(code "$api/api/v1/users?limit=10001")" = 400 ] && ok || bad "limit over 10000: $(cat body.txt)"
[ "$(code "$api/api/v1/users/$alerting")" = 200 ] && ok || bad "one User: $(cat body.txt)"
python3 - body.txt "$alerting" alerts.json <<'PY' && ok || bad "one User's alerts: $(head -c 300 body.txt)"
import json, sys
u, user, alerts = json.load(open(sys.argv[1])), sys.argv[2], json.load(open(sys.argv[3]))
assert u["user"] == user and u["state"] in ("warning", "critical"), u
assert u["alerts"] == [a for a in alerts if a["user"] == user] and u["alerts"], u["alerts"]
PY
[ "$(code "$api/api/v1/users/nobody")" = 404 ] && ok || bad "unknown User: $(cat body.txt)"
since=$(python3 -c 'import json; print(json.load(open("history.json"))["transitions"][-2]["at"])')
[ "$(code "$api/api/v1/history?since=$since")" = 200 ] &&
  [ "$(grep -o '"status":' body.txt | wc -l)" -eq 2 ] && ok || bad "since $since: $(head -c 300 body.txt)"
[ "$(code "$api/api/v1/history?since=2030-01-01T00:00:00Z")" = 200 ] &&
  grep -q '"transitions":\[\]' body.txt && ok || bad "since later: $(cat body.txt)"
[ "$(code "$api/api/v1/history?since=soon")" = 400 ] && ok || bad "bad since"

# the page: its headers, then in Chromium
curl -s -D headers.txt -o page.html "$api/"
grep -qi "^Content-Security-Policy: default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" headers.txt &&
  grep -qi '^X-Content-Type-Options: nosniff' headers.txt && grep -q '<title>stormwatch' page.html &&
  ok || bad "GET /: $(cat headers.txt)"
if [ ! -x "$chromium" ]; then
  bad "no Chromium at $chromium: install the chromium package (scripts/setup.sh does)"
else
  python3 "$here/console_browser.py" --chromium "$chromium" --url "$api/" --screenshot console.png &&
    ok || bad "browser check of the console"
fi

kill -TERM $pid
wait $pid
[ $? -eq 0 ] && ok || bad "daemon exit: $(tail -3 daemon.log)"
trap - EXIT
echo "e2e_console: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
