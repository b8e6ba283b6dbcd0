#!/usr/bin/env bash
# Change coordination on the bundled example (README, "Change coordination"):
# the conflict warned of at load, declared impact in the alert lines (x3
# declared and sent: info; no change declared and x8 sent: deviated), a
# verdict on every change, and the forecast warning.
#   tests/e2e_coordination.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
ex=$SW_SOURCE_DIR/examples/coordination

"$sw" replay --changes "$ex/changes.yaml" --change-checks checks.jsonl "$ex/traffic.lp.gz" \
  >alerts.jsonl 2>err.txt
[ $? -eq 0 ] && ok || bad "replay failed: $(tail -3 err.txt)"
expect_grep err.txt "warning: .*changes.yaml:26: change CHG-1002: overlaps DCC Planned Maintenance PM-2001" \
  "the conflict with DCC maintenance"
[ "$(grep -c 'warning:' err.txt)" -eq 1 ] && ok || bad "want one warning: $(grep warning err.txt)"

line() { grep '"status":"firing"' alerts.jsonl | grep "\"alert\":\"$1\"" | grep "\"user\":\"$2\"" | head -1; }
x3=$(line storm 90-B3-D5-1F-82-21-CE-B4)
echo "$x3" | grep -q '"severity":"info".*within the impact CHG-1001 declared (3.0x): expected' && ok ||
  bad "the declared x3 is not expected: $x3"
x8=$(line storm 90-B3-D5-1F-1F-E7-26-8A)
echo "$x8" | grep -q 'CHG-1002 declared no change in traffic: it deviated from its declaration' && ok ||
  bad "the undeclared x8 does not say it deviated: $x8"
echo "$x8" | grep -q '"severity":"info"' && bad "the x8 flood is info" || ok
fc=$(line forecast_exceeded 90-B3-D5-1F-82-21-CE-B4)
echo "$fc" | grep -q '"severity":"warning".*1.2[0-9]x the forecast 4500000 a day' && ok ||
  bad "no forecast warning: $fc"

verdict() { grep "{\"change\":\"$1\"" checks.jsonl | sed 's/.*"verdict":"\([a-z_]*\)".*/\1/'; }
[ "$(wc -l <checks.jsonl)" -eq 4 ] && ok || bad "want 4 checks: $(cat checks.jsonl)"
[ "$(verdict CHG-1001)" = as_declared ] && ok || bad "CHG-1001: $(verdict CHG-1001)"
[ "$(verdict CHG-1002)" = deviated ] && ok || bad "CHG-1002: $(verdict CHG-1002)"
[ "$(verdict CHG-1003)" = as_declared ] && ok || bad "CHG-1003 (no effect): $(verdict CHG-1003)"
[ "$(verdict PM-2001)" = as_declared ] && ok || bad "PM-2001: $(verdict PM-2001)"
expect_grep checks.jsonl '"change":"CHG-1002".*"observed":{"south":8\.[0-9]*,' "CHG-1002's x8"

# the report's table of changes, from the detecting run and read back
"$sw" replay -q --changes "$ex/changes.yaml" --with-alerts alerts.jsonl \
  --change-checks checks.jsonl --report r.html "$ex/traffic.lp.gz" 2>err2.txt
[ $? -eq 0 ] && ok || bad "report from the files: $(cat err2.txt)"
[ "$(grep -o '<td class="verdict deviated"' r.html | wc -l)" -eq 1 ] && ok || bad "want 1 deviated in the report"
[ "$(grep -o '<td class="verdict as_declared"' r.html | wc -l)" -eq 3 ] && ok || bad "want 3 as_declared in the report"

# replay with nothing to judge skips southbound summaries: the alert lines
# must not change for it (a register whose one change is far away keeps them)
printf 'changes:\n  - {id: FAR, user: NOBODY, kind: mdm, start: 2030-01-01T00:00:00Z, end: 2030-01-01T01:00:00Z}\n' >far.yaml
"$sw" replay -q "$ex/traffic.lp.gz" >none.jsonl 2>/dev/null
"$sw" replay -q --changes far.yaml "$ex/traffic.lp.gz" >far.jsonl 2>/dev/null
[ -s none.jsonl ] && cmp -s none.jsonl far.jsonl && ok ||
  bad "alert lines differ without southbound summaries: $(diff none.jsonl far.jsonl | head -3)"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
