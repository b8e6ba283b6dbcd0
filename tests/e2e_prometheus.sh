#!/usr/bin/env bash
# The files shipped for Prometheus, Grafana and Alertmanager, and the
# daemon's self-monitoring metrics, against real daemons on 127.0.0.1:
#  1. examples/prometheus/stormwatch.rules.yml passes `promtool check rules`
#     and its unit tests (`promtool test rules`); the Grafana dashboard is
#     JSON; `amtool check-config` takes the Alertmanager config that loads
#     examples/alertmanager/stormwatch.tmpl.
#  2. a daemon fed live (event times ending now): /metrics passes `promtool
#     check metrics`, every metric the rules and the dashboard name is in it,
#     the process_* metrics are sane, the feed's lag is small and >= 0, every
#     series of a fresh daemon is learning, bad lines are counted under short
#     reasons (the prose in HELP), and the reload metrics follow a good
#     SIGHUP, a refused one (timestamp kept) and a good one again.
#  3. a daemon resumed from a day of learned state: its series stop learning
#     where the history has the time of day and learn where it has not; the
#     alerts it posts to a (fake) Alertmanager render through the template
#     with the change and the impacted Users.
#   tests/e2e_prometheus.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
ex=$(cd "$(dirname "$0")/../examples" && pwd)
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
py=/usr/bin/python3 # Debian's, with python3-zmq
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; true; }
trap cleanup EXIT
wait_for() { # seconds command...: polls every 0.1 s
  local n=$(($1 * 10)); shift
  for _ in $(seq 1 $n); do "$@" && return 0; sleep 0.1; done
  return 1
}
metric() { # name-with-labels: its value in the last scrape (m.txt)
  awk -v n="$1" '$1 == n { print $2 }' m.txt
}
scrape() { curl -s "$api/metrics" >m.txt; }
# a numeric comparison, with awk's doubles: check "EXPR" WHAT
check() { awk "BEGIN { exit !($1) }" && ok || bad "$2: $1"; }

# ---- 1. the files -------------------------------------------------------
promtool check rules "$ex/prometheus/stormwatch.rules.yml" >rules.txt 2>&1 && ok ||
  bad "promtool check rules: $(cat rules.txt)"
(cd "$ex/prometheus" && promtool test rules stormwatch.rules.test.yml) >rtest.txt 2>&1 && ok ||
  bad "promtool test rules: $(cat rtest.txt)"
$py -c 'import json, sys; json.load(open(sys.argv[1]))' "$ex/grafana/stormwatch.json" 2>json.txt && ok ||
  bad "the dashboard is not JSON: $(cat json.txt)"
amtool check-config "$ex/alertmanager/alertmanager.yml" >amcheck.txt 2>&1 && ok ||
  bad "amtool check-config: $(cat amcheck.txt)"
grep -q "1 templates" amcheck.txt && ok || bad "the template was not loaded: $(cat amcheck.txt)"

# ---- 2. a daemon fed live -----------------------------------------------
# a fake Alertmanager: takes every post, keeps the bodies (one a line)
amport=$(freeport)
cat >am.py <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
$py am.py "$amport" posts.jsonl &
pids+=($!)
ing=tcp://127.0.0.1:$(freeport) hport=$(freeport)
api=http://127.0.0.1:$hport
healthy() { curl -s "$api/healthz" >/dev/null 2>&1; }
start() { # log-file [options]
  local log=$1; shift
  "$sw" run --ingest "$ing" --http "127.0.0.1:$hport" --changes-journal changes.journal \
    --alertmanager "http://127.0.0.1:$amport" --alertmanager-queue am.queue \
    --stats-every 0 "$@" 2>>"$log" &
  pid=$!
  pids+=($pid)
  wait_for 5 healthy || fatal "daemon did not answer: $(tail -3 "$log")"
}
# samples wait input.lateness to be put in order: 1 s here, so that the lag
# of a live feed is small
printf 'input:\n  lateness: 1s\n' >good.yaml
cp good.yaml live.yaml
launched=$(date +%s)
start live.log --config live.yaml --alerts live.jsonl

# five Users, 12 minutes ending now, at full speed
"$sw" simulate --users 5 --hours 0.2 --learn 1m --start "$(date -ud '-12 min' +%FT%TZ)" \
  --publish "$ing" 2>pub.log || bad "simulate --publish: $(cat pub.log)"
sent=$(sed -n 's/.*: \([0-9]*\) lines,.*/\1/p' pub.log)
ingested() { scrape; [ "$(metric stormwatch_ingest_lines_total)" = "$1" ]; }
wait_for 10 ingested "$sent" || bad "not all $sent lines ingested: $(metric stormwatch_ingest_lines_total)"
sleep 0.3 # the last bursts through the shards
scrape
now=$(date +%s)
promtool check metrics <m.txt >pcheck.txt 2>&1 && ok || bad "promtool check metrics: $(cat pcheck.txt)"

# every metric the rules and the dashboard name is served (histograms by
# their _bucket/_sum/_count samples); `up` is Prometheus's own
$py - "$ex/prometheus/stormwatch.rules.yml" "$ex/grafana/stormwatch.json" m.txt <<'PY' >names.txt 2>&1 && ok || bad "metric names: $(tail -1 names.txt)"
import json, re, sys
# each rule's expr: on its line, or a block scalar (|) indented below it
exprs, block = [], None
for line in open(sys.argv[1]):
    indent = len(line) - len(line.lstrip())
    if block is not None and (not line.strip() or indent > block[0]):
        block[1].append(line.strip())
        continue
    if block is not None:
        exprs.append(" ".join(block[1]))
        block = None
    m = re.match(r"\s*expr:\s*(.*)$", line)
    if m and m.group(1) in ("|", ">", "|-", ">-"):
        block = (indent, [])
    elif m:
        exprs.append(m.group(1))
def targets(panels):
    for p in panels:
        yield from (t["expr"] for t in p.get("targets", []))
        yield from targets(p.get("panels", []))
dash = list(targets(json.load(open(sys.argv[2]))["panels"]))
served = {l.split("{")[0].split()[0] for l in open(sys.argv[3]) if l.strip() and l[0] != "#"}
name = re.compile(r"\b((?:stormwatch|process)_[a-z0-9_]+)\b")
missing = []
for what, es in (("rules", exprs), ("dashboard", dash)):
    assert len(es) >= 7, (what, len(es))
    for e in es:
        used = set(name.findall(e)) | ({"up"} if re.search(r"\bup\{", e) else set())
        assert used, "%s: no metric in %r" % (what, e)
        missing += ["%s: %s" % (what, n) for n in sorted(used - served - {"up"})]
assert not missing, missing
print(len(exprs), "rules and", len(dash), "panel queries checked")
PY

# process_* from /proc/self
rss=$(metric process_resident_memory_bytes) vsz=$(metric process_virtual_memory_bytes)
fds=$(metric process_open_fds) maxfds=$(metric process_max_fds)
started=$(metric process_start_time_seconds) cpu=$(metric process_cpu_seconds_total)
check "$rss > 1000000 && $vsz >= $rss" "resident $rss, virtual $vsz bytes"
check "$fds >= 5 && $fds < $maxfds" "open fds $fds of $maxfds"
n=$(ls /proc/$pid/fd | wc -l); check "$fds - $n <= 3 && $n - $fds <= 3" "open fds $fds, $n in /proc/$pid/fd"
check "$started >= $launched - 2 && $started <= $launched + 3" "start time $started, launched at $launched"
# CPU: what the kernel says of the process (utime + stime), a moment later
ticks=$(sed 's/.*) //' /proc/$pid/stat | awk '{ print $12 + $13 }')
check "$cpu >= 0 && $cpu <= $ticks / $(getconf CLK_TCK) && $ticks / $(getconf CLK_TCK) - $cpu < 0.5" \
  "cpu seconds $cpu, /proc/$pid/stat $ticks ticks"

# where the memory waits: the feed's last input.lateness of samples in the
# reorder buffer (its event times end now), the buffer's allocation (64 KiB
# at least once used), and what the alert stage holds (the last settle of
# summaries: nothing comes to release them)
waiting=$(metric stormwatch_reorder_waiting_records) rbytes=$(metric stormwatch_reorder_buffer_bytes)
held=$(metric stormwatch_alert_stage_held_events)
check "$waiting > 0 && $waiting <= $sent" "reorder buffer: $waiting records waiting of $sent sent"
check "$rbytes >= 65536" "reorder buffer: $rbytes bytes"
check "$held > 0" "alert stage holds $held events (the settle's, at least)"

# the feed: detection is about input.lateness behind a live feed
lag=$(metric stormwatch_feed_lag_seconds) feedt=$(metric stormwatch_feed_event_time_seconds)
check "$lag >= 0 && $lag < 20" "feed lag $lag s"
check "$feedt > $now - 20 && $feedt <= $now" "feed event time $feedt, now $now"

# a fresh daemon: every series is learning
series=$(metric stormwatch_series) learning=$(metric stormwatch_series_learning)
check "$series > 0 && $learning == $series" "fresh daemon: $learning of $series series learning"

# bad lines: short reasons as labels, the prose in HELP, the total kept
$py - "$ing" <<'PY' || bad "bad lines not sent"
import sys, time, zmq
s = zmq.Context().socket(zmq.PUSH)
s.connect(sys.argv[1])
ts = int(time.time()) * 10**9
s.send(b"".join([
    b"dsp_traffic,user=U1,dir=east count=1i %d\n" % ts,
    b"dsp_traffic,user=U1,dir=north count=-1i %d\n" % ts,
    b"dsp_traffic,user=U2,dir=south count=-2i %d\n" % ts,
    b"dsp_traffic,user=U1 %d\n" % ts]))
s.close(linger=5000)
PY
bad_total() { scrape; awk '/^stormwatch_ingest_bad_lines_total/ { n += $NF } END { exit n != 4 }' m.txt; }
wait_for 20 bad_total || bad "bad lines: $(grep '^stormwatch_ingest_bad_lines_total' m.txt | grep -v ' 0$')"
[ "$(metric 'stormwatch_ingest_bad_lines_total{reason="unknown_dir"}')" = 1 ] && ok || bad "unknown_dir not 1"
[ "$(metric 'stormwatch_ingest_bad_lines_total{reason="negative"}')" = 2 ] && ok || bad "negative not 2"
[ "$(metric 'stormwatch_ingest_bad_lines_total{reason="malformed"}')" = 1 ] && ok || bad "malformed not 1"
reasons=$(grep '^stormwatch_ingest_bad_lines_total' m.txt | sed 's/.*reason="\([^"]*\)".*/\1/' | sort)
[ "$(echo "$reasons" | wc -l)" = 10 ] && [ "$(echo "$reasons" | uniq | grep -c '^[a-z_]*$')" = 10 ] && ok ||
  bad "reasons are not ten distinct short names: $reasons"
grep -q '^# HELP stormwatch_ingest_bad_lines_total .*unknown_dir = unknown dir (want north or south)' m.txt &&
  ok || bad "the prose is not in HELP: $(grep 'HELP stormwatch_ingest_bad' m.txt)"

# config reloads: a good one moves the timestamp, a refused one sets 0 and
# keeps it, a good one again sets 1
reload_ts() { metric stormwatch_config_last_reload_success_timestamp_seconds; }
reloaded() { scrape; [ "$(reload_ts)" -gt "$1" ] && [ "$(metric stormwatch_config_last_reload_successful)" = "$2" ]; }
refused() { scrape; [ "$(metric stormwatch_config_last_reload_successful)" = 0 ]; }
ts0=$(reload_ts)
[ "$(metric stormwatch_config_last_reload_successful)" = 1 ] && ok || bad "not 1 at start"
check "$ts0 >= $launched && $ts0 <= $launched + 3" "the start is the first reload: $ts0, launched at $launched"
sleep 1.1
kill -HUP "$pid"
wait_for 20 reloaded "$ts0" 1 && ok || bad "a good reload: $(reload_ts), was $ts0"
ts1=$(reload_ts)
printf 'input:\n  lateness: banana\n' >live.yaml
sleep 1.1
kill -HUP "$pid"
wait_for 20 refused && ok || bad "a refused reload did not set 0: $(tail -2 live.log)"
[ "$(reload_ts)" = "$ts1" ] && ok || bad "a refused reload moved the timestamp: $(reload_ts), was $ts1"
grep -q "reload refused" live.log && ok || bad "no refusal logged"
cp good.yaml live.yaml
kill -HUP "$pid"
wait_for 20 reloaded "$ts1" 1 && ok || bad "a good reload after a refused one: $(tail -2 live.log)"
kill -TERM "$pid"; wait "$pid" && ok || bad "daemon exit: $(tail -3 live.log)"

# ---- 3. learned state, and the template on real alerts -------------------
# four Users, 38 h from midnight; User 1 storms at 13:00 on day 2 under a
# declared change and hurts another User's deliveries
"$sw" simulate --users 4 --hours 38 --interval 10 --start 2024-03-12T00:00:00Z \
  --incident storm-south:1:37h:20m:declared:impact --out sim >/dev/null 2>&1 || bad simulate
ns() { echo "$(date -ud "$1" +%s)000000000"; }
# the history: day 1 without 12:00-13:00, and day 2 up to 11:30; then live,
# 11:30-12:30 (12:00 on has no history) and 12:30-13:40 (all of it has)
awk -v a="$(ns 2024-03-12T12:00:00Z)" -v b="$(ns 2024-03-12T13:00:00Z)" -v c="$(ns 2024-03-13T11:30:00Z)" \
  '($NF < a || $NF >= b) && $NF < c' sim/traffic.lp >hist.lp
awk -v c="$(ns 2024-03-13T11:30:00Z)" -v m="$(ns 2024-03-13T12:30:00Z)" '$NF >= c && $NF < m' sim/traffic.lp >a.lp
awk -v m="$(ns 2024-03-13T12:30:00Z)" -v e="$(ns 2024-03-13T13:40:00Z)" '$NF >= m && $NF < e' sim/traffic.lp >b.lp
"$sw" replay -q --state st.bin hist.lp >/dev/null 2>replay.log || bad "replay: $(tail -2 replay.log)"
: >posts.jsonl
start state.log --state st.bin --changes sim/changes.yaml --alerts state.jsonl
publish() { # file lines-in-all: publishes it, waits until taken, scrapes
  "$sw" simulate --input "$1" --publish "$ing" 2>/dev/null || bad "publish $1"
  wait_for 10 ingested "$2" || bad "$1 not ingested"
  sleep 0.3
  scrape
  series=$(metric stormwatch_series) learning=$(metric stormwatch_series_learning)
}
publish a.lp "$(cat a.lp | wc -l)"
check "$series > 0 && $learning == $series" "at 12:30, with no history since 12:00: $learning of $series learning"
publish b.lp "$(cat a.lp b.lp | wc -l)"
check "$series > 0 && $learning == 0" "at 13:40, with a day's history: $learning of $series learning"

# the storm reached the fake Alertmanager: render its incident
posted() { grep -q '"change_id"' posts.jsonl; }
wait_for 10 posted || bad "no alert with a change posted: $(head -c 300 posts.jsonl)"
kill -TERM "$pid"; wait "$pid" && ok || bad "daemon exit: $(tail -3 state.log)"
read -r user impacted < <($py -c '
import json, sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    if a["impacted_users"] and a["change"]:
        print(a["user"], a["impacted_users"][0]); break' state.jsonl)
$py - posts.jsonl >data.json <<'PY' || bad "posts: $(head -c 300 posts.jsonl)"
import json, sys
alerts = {}
for l in open(sys.argv[1]):
    for a in json.loads(l):
        alerts[json.dumps(a["labels"], sort_keys=True)] = a
inc = next(a["labels"]["incident"] for a in alerts.values() if "change_id" in a["labels"])
group = [a for a in alerts.values() if a["labels"].get("incident") == inc]
for a in group:
    a["status"] = "resolved" if a.get("endsAt") else "firing"
    a.setdefault("endsAt", "0001-01-01T00:00:00Z")
    a.setdefault("generatorURL", "")
json.dump({"receiver": "dsp-on-call", "status": "firing" if any(a["status"] == "firing" for a in group) else "resolved",
           "alerts": group, "groupLabels": {"incident": inc}, "commonLabels": {"incident": inc},
           "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093"}, sys.stdout)
PY
render() { amtool template render --template.glob="$ex/alertmanager/stormwatch.tmpl" --template.data=data.json \
  --template.text="{{ template \"$1\" . }}"; }
render stormwatch.title >title.txt 2>&1 || bad "render the title: $(cat title.txt)"
render stormwatch.text >text.txt 2>&1 || bad "render the text: $(cat text.txt)"
grep -q "INC-[0-9]* storm $user southbound: CHG-1001" title.txt && ok || bad "title: $(cat title.txt)"
grep -q "^Cause: CHG-1001 \"Meter data system go-live\" (declared change of the User)" text.txt && ok ||
  bad "the change is not in the text: $(cat text.txt)"
grep -q "^Impacted Users: .*$impacted" text.txt && ok || bad "impacted User $impacted not in the text: $(cat text.txt)"
grep -q "User $user, southbound, class request" text.txt && ok || bad "the alert's User: $(cat text.txt)"

echo "e2e_prometheus: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
