#!/usr/bin/env bash
# End-to-end checks of the post-incident report (stormwatch replay --report)
# on simulator data: the report made while detecting and from an alerts
# file agree, filters, the Markdown summary, usage errors, a bad alerts
# line, a feed stall and DCC maintenance shaded and a storm's thresholds,
# and the page itself in headless Chromium (tests/report_browser.py: DOM,
# console, layout, screenshots kept in the work folder).
#   tests/e2e_report.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
count() { grep -o -- "$2" "$1" | wc -l; }

# four incidents: a declared blocked route, an undeclared request storm (with
# the north response storm it causes as a member: 5 firing alerts), a silence
# under DCC maintenance and a declared alert storm
"$sw" simulate --users 8 --hours 4 --interval 10 --seed 3 \
  --incident blocked:2:2h:25m:declared --incident storm-south:5:2h40m:12m \
  --incident silence-north:3:3h10m:15m:maintenance --incident storm-north:6:3h30m:8m:declared \
  --out sim >/dev/null 2>&1 || bad "simulate failed"
ids=$(grep -o 'CHG-[0-9]*' sim/changes.yaml | sort -u | paste -sd, -)

# the report while detecting; stdout still carries the alert lines
expect_status 0 "$sw" replay --changes sim/changes.yaml --report r.html --summary s.md \
  --change-checks checks.jsonl sim/traffic.lp
cp out.txt alerts.jsonl
expect_grep err.txt "report of 4 incidents written to r.html" "report progress line"
"$sw" replay -q --changes sim/changes.yaml sim/traffic.lp >plain.jsonl 2>/dev/null
cmp -s alerts.jsonl plain.jsonl && ok || bad "--report changed the alert lines"
# incidents are counted by their ids, not by firing lines
firing=$(grep -c '"status":"firing"' alerts.jsonl)
[ "$firing" -eq 5 ] && ok || bad "want 5 firing alerts, got $firing"
incidents=$(grep -o '"incident":"[^"]*"' alerts.jsonl | sort -u | wc -l)
[ "$incidents" -eq 4 ] && ok || bad "want 4 incidents detected, got $incidents"
members=$(grep '"status":"firing"' alerts.jsonl | grep -c '"incident_role":"member"')
[ "$members" -eq 1 ] && ok || bad "want 1 member (the north response storm), got $members"
rows() { count "$1" '<tr class="incident[" ]'; }
[ "$(rows r.html)" -eq 4 ] && ok || bad "want 4 timeline rows, one per incident"
[ "$(count r.html '<section class="incident[" ]')" -eq 4 ] && ok || bad "want 4 incident sections"
[ "$(count r.html '<tr class="alert member')" -eq 1 ] && ok || bad "want 1 member row"
grep -q 'class="badge learning"' r.html && ok || bad "learning alerts are not marked"
size=$(stat -c %s r.html)
[ "$size" -lt 2000000 ] && ok || bad "report is $size bytes"
grep -Eq 'https?://' r.html && bad "the report refers to the network" || ok
mode=$(stat -c %a r.html)
[ "$mode" != 600 ] && ok || bad "report kept the temporary file's mode 600"

# a verdict on every declared change: each of the three caused an incident
nchg=$(grep -c '^  - id:' sim/changes.yaml)
[ "$(grep -c '"verdict":"deviated"' checks.jsonl)" -eq "$nchg" ] && ok ||
  bad "want $nchg deviated changes: $(cat checks.jsonl)"
expect_grep checks.jsonl '"verdict":"deviated".*"delivered":0.00.*"summary":"northbound deliveries fell' \
  "the firewall change's blocked deliveries"
[ "$(count r.html '<td class="verdict deviated"')" -eq "$nchg" ] && ok ||
  bad "want $nchg deviated verdicts in the report's table of changes"
[ "$(grep -c '| \*\*deviated\*\* |' s.md)" -eq "$nchg" ] && ok ||
  bad "want $nchg deviated verdicts in the summary"

# the summary: a row per incident with its change and timings
[ "$(grep -c '^| [0-9]' s.md)" -eq 4 ] && ok || bad "want 4 summary rows: $(cat s.md)"
expect_grep s.md "| blocked_route | .* | north | CHG-[0-9]* (declared) | 10 min 00 s after |" "blocked route row"
expect_grep s.md "| storm[^|]* | .* | south/request | \*\*undeclared\*\* | .* | 1 |\$" \
  "undeclared storm row with its member"
expect_grep s.md "(maintenance)" "maintenance row"

# the same report from the alerts file, without detecting again
expect_status 0 "$sw" replay --changes sim/changes.yaml --with-alerts alerts.jsonl \
  --change-checks checks.jsonl --report r2.html sim/traffic.lp
[ ! -s out.txt ] && ok || bad "--with-alerts wrote to standard output"
# identical but for the line that names where the alerts came from
same_but_source() { sed 's/Alerts: [^;]*;/Alerts: -;/' "$1"; }
diff <(same_but_source r.html) <(same_but_source r2.html) >/dev/null && ok ||
  bad "the report from the alerts file differs from the detecting one"
expect_grep r2.html "Alerts: alerts.jsonl" "alerts source"

# filters
user=$(grep '"alert":"blocked_route"' alerts.jsonl | head -1 | sed 's/.*"user":"\([^"]*\)".*/\1/')
expect_status 0 "$sw" replay -q --changes sim/changes.yaml --with-alerts alerts.jsonl --user "$user" --report ru.html sim/traffic.lp
[ "$(rows ru.html)" -eq 1 ] && ok || bad "--user kept other Users"
expect_grep ru.html "data-kind=\"blocked_route\" data-user=\"$user\"" "--user row"
expect_status 0 "$sw" replay -q --with-alerts alerts.jsonl --from 2024-03-12T09:05:00Z \
  --to 2024-03-12T09:20:00Z --summary rf.md sim/traffic.lp
[ "$(grep -c '^| [0-9]' rf.md)" -eq 1 ] && ok || bad "--from/--to: want only the silence: $(cat rf.md)"
expect_grep rf.md "| INC-[0-9]* | [^|]* | silence[ |]" "--from/--to row"

# a bad line in the alerts file is reported with its line number and skipped
{ head -2 alerts.jsonl; echo '{"status":"maybe"}'; tail -n +3 alerts.jsonl; } >mixed.jsonl
expect_status 0 "$sw" replay -q --with-alerts mixed.jsonl --report rb.html sim/traffic.lp
expect_grep err.txt "mixed.jsonl:3: not an alert line: key status" "bad alert line"
[ "$(rows rb.html)" -eq 4 ] && ok || bad "a bad alert line lost good ones"

# usage errors
expect_status 2 "$sw" replay --with-alerts alerts.jsonl sim/traffic.lp
expect_grep err.txt "add --report or --summary" "--with-alerts alone"
expect_status 2 "$sw" replay --report x.html - <sim/traffic.lp
expect_grep err.txt "reads its INPUT twice" "report from stdin"
expect_status 2 "$sw" replay --report x.html --from yesterday sim/traffic.lp
expect_grep err.txt "--from yesterday: want an RFC 3339 time" "bad --from"
expect_status 2 "$sw" replay --with-alerts missing.jsonl --report x.html sim/traffic.lp
expect_grep err.txt "missing.jsonl: No such file" "missing alerts file"
expect_status 1 "$sw" replay -q --report no/such/dir/r.html sim/traffic.lp
expect_grep err.txt "no/such/dir/r.html" "unwritable report"

# the page in a real browser: DOM, console, screenshot (kept here)
if [ ! -x "$chromium" ]; then
  bad "no Chromium at $chromium: install the chromium package (scripts/setup.sh does)"
else
  python3 "$here/report_browser.py" --chromium "$chromium" --report r.html --alerts alerts.jsonl \
    --changes-ids "$ids" --screenshot report.png && ok || bad "browser check of r.html"
  # the README's picture: the blocked route alone, a page that fits a screen
  grep "\"user\":\"$user\"" alerts.jsonl >ru-alerts.jsonl
  python3 "$here/report_browser.py" --chromium "$chromium" --report ru.html \
    --alerts ru-alerts.jsonl --screenshot report-blocked.png \
    && ok || bad "browser check of the filtered report"
fi

# a feed stall and DCC maintenance, shaded on every chart they overlap, and a
# declared storm whose chart draws its thresholds
"$sw" simulate --users 8 --hours 3 --interval 10 --seed 3 \
  --incident feed-gap:-:1h:5m --incident storm-south:5:1h20m:12m:declared \
  --incident silence-north:3:2h:15m:maintenance --out sim2 >/dev/null 2>&1 ||
  bad "simulate (stall and maintenance) failed"
ids2=$(grep -o 'CHG-[0-9]*' sim2/changes.yaml | sort -u | paste -sd, -)
expect_status 0 "$sw" replay -q --changes sim2/changes.yaml --report rs.html sim2/traffic.lp
cp out.txt alerts-s.jsonl
for kind in feed_stalled storm silence; do
  grep -q "\"status\":\"firing\",\"alert\":\"$kind\"" alerts-s.jsonl && ok || bad "no $kind alert"
done
# the stall's own chart, the storm's (its window reaches back to it) and the system view
[ "$(count rs.html '<rect class="feed-stall"')" -eq 3 ] && ok || bad "want 3 feed stall spans"
[ "$(count rs.html '<rect class="change-window maintenance"')" -ge 3 ] && ok ||
  bad "want the maintenance shaded on the silence's, the storm's and the system's charts"
# a storm's and a silence's thresholds, each with its line and its legend
[ "$(count rs.html '<path class="threshold fire" d="M')" -eq 2 ] && ok || bad "want 2 fire thresholds"
[ "$(count rs.html '<path class="threshold clear" d="M')" -eq 2 ] && ok || bad "want 2 clear thresholds"
[ "$(count rs.html '</span>fire threshold (3.5x')" -eq 1 ] && ok || bad "storm threshold legend"
storm_user=$(grep '"status":"firing","alert":"storm"' alerts-s.jsonl | grep -v member | head -1 |
  sed 's/.*"user":"\([^"]*\)".*/\1/')
expect_status 0 "$sw" replay -q --changes sim2/changes.yaml --with-alerts alerts-s.jsonl \
  --user "$storm_user" --report rs-storm.html sim2/traffic.lp
if [ -x "$chromium" ]; then
  python3 "$here/report_browser.py" --chromium "$chromium" --report rs.html \
    --alerts alerts-s.jsonl --changes-ids "$ids2" --expect-shading --screenshot report-shading.png \
    && ok || bad "browser check of the stall and maintenance report"
  # the README's picture: the storm, its thresholds, the stall and the maintenance
  grep "\"user\":\"$storm_user\"" alerts-s.jsonl >rs-storm-alerts.jsonl
  python3 "$here/report_browser.py" --chromium "$chromium" --report rs-storm.html \
    --alerts rs-storm-alerts.jsonl --all-alerts alerts-s.jsonl --changes-ids "$ids2" \
    --expect-shading --screenshot report-storm.png \
    && ok || bad "browser check of the storm's report"
fi

echo "e2e_report: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
