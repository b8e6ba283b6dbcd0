#!/usr/bin/env bash
# Slow clients cannot take the daemon's HTTP API away. 80 half-open
# requests from 127.0.0.2, each trickling a header byte a second (never
# idle, never done): /healthz, /metrics and a change declaration from
# 127.0.0.1 still answer at once; all but 16 of the slow connections (the
# per-address limit) are refused at accept, the 16 are cut off by the 30 s
# request deadline, both are counted in /metrics, and the log says so once
# rather than once per connection.
#   tests/e2e_http_slowloris.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
hport=$(freeport)
api=http://127.0.0.1:$hport
token=stormwatch-test-token-0123456789
echo "$token" >token
code() { curl -s --max-time 3 -o body.txt -w '%{http_code}' "$@"; }
metric() { curl -s --max-time 3 "$api/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

"$sw" run --ingest "tcp://127.0.0.1:$(freeport)" --http "127.0.0.1:$hport" \
  --http-token-file token --changes-journal changes.journal --stats-every 0 2>>daemon.log &
pid=$! lpid=
trap 'kill $pid $lpid 2>/dev/null' EXIT
for _ in $(seq 1 50); do curl -s "$api/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
[ "$(code "$api/healthz")" = 200 ] || fatal "daemon did not answer: $(tail -3 daemon.log)"

# the slow clients: one line per connection, "N SECONDS" when the server
# closed it (after connecting), "N open" when it never did within 50 s
cat >loris.py <<'PY'
import select, socket, sys, time
port, count, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks, closed = [], {}
t0 = time.monotonic()
for i in range(count):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ")
    except OSError:
        closed[i] = time.monotonic() - t0
    socks.append(s)
open("started", "w").close()
while len(closed) < count and time.monotonic() - t0 < limit:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        r, _, _ = select.select([s], [], [], 0)
        try:
            if r and s.recv(1, socket.MSG_DONTWAIT) == b"":
                raise OSError("closed")
            s.send(b"a")
        except OSError:
            closed[i] = time.monotonic() - t0
    time.sleep(1)
for i in range(count):
    print(i, "%.1f" % closed[i] if i in closed else "open")
PY
python3 loris.py "$hport" 80 50 >loris.txt &
lpid=$!
for _ in $(seq 1 50); do [ -e started ] && break; sleep 0.1; done
[ -e started ] || fatal "the slow clients did not connect"
sleep 2

# served at once from another address while the slow ones hold on
t0=$(date +%s%N)
[ "$(code "$api/healthz")" = 200 ] && ok || bad "healthz under slowloris"
[ "$(code "$api/metrics")" = 200 ] && ok || bad "metrics under slowloris"
change='{"id":"CHG-SLOW-1","user":"U1","start":"2024-03-12T06:00:00Z","end":"2024-03-12T07:00:00Z"}'
[ "$(code -X POST -H "Authorization: Bearer $token" -d "$change" "$api/api/v1/changes")" = 201 ] &&
  ok || bad "declare under slowloris: $(cat body.txt)"
took=$((($(date +%s%N) - t0) / 1000000))
[ "$took" -lt 5000 ] && ok || bad "three requests took $took ms"
refused=$(metric stormwatch_http_connections_refused_total)
[ "${refused:-0}" -ge 64 ] && ok || bad "refused connections counted: '$refused', want >= 64"
open_now=$(metric stormwatch_http_connections)
[ "${open_now:-0}" -ge 16 ] && [ "${open_now:-0}" -le 20 ] && ok ||
  bad "open connections: '$open_now', want the 16 slow ones and curl's (closing)"

wait $lpid
# none left open; the 16 admitted cut off at the deadline, the rest at once
grep -q ' open$' loris.txt && bad "connections never closed: $(grep -c ' open$' loris.txt)" || ok
cut=$(awk '$2 != "open" && $2 >= 25 && $2 <= 45' loris.txt | wc -l)
early=$(awk '$2 != "open" && $2 < 5' loris.txt | wc -l)
[ "$cut" = 16 ] && ok || bad "cut off at the deadline: $cut, want 16: $(sort -k2 -n loris.txt | tail -3)"
[ "$early" = 64 ] && ok || bad "refused at once: $early, want 64"
timed_out=$(metric stormwatch_http_connections_timed_out_total)
[ "${timed_out:-0}" = 16 ] && ok || bad "timed-out connections counted: '$timed_out', want 16"
[ "$(code "$api/healthz")" = 200 ] && ok || bad "healthz after"
lines=$(grep -c 'refusing connections' daemon.log)
[ "$lines" -ge 1 ] && [ "$lines" -le 2 ] && ok || bad "refusals logged $lines times, want once"

kill -TERM $pid; wait $pid
trap - EXIT
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
