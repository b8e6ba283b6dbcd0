#!/usr/bin/env bash
# Scores stormwatch's built-in defaults on the labelled scenarios in
# ../shared/scenarios, when that folder is present (it is not part of the
# project; its users won't have it). Prints one score line per scenario, and
# the size of each scenario's HTML report (--report), which must stay under
# 2 MB; the reports are kept in $SW_REPORTS when that is set. The change
# checks (--change-checks) must say `deviated` for every change a label names
# as an incident's cause, and `as_declared` for every change the labels call
# a "declared change with no effect".
#   scripts/score-shared.sh [BUILD_DIR] [SCENARIO...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
shift || true
shared=${SW_SHARED:-$here/../shared}
if [ ! -d "$shared/scenarios" ]; then
  echo "score-shared: no $shared/scenarios here; nothing to score"
  exit 0
fi
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(firewall mdm mixed two-days)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
reports=${SW_REPORTS:-$out}
mkdir -p "$reports"
status=0
for s in "${scenarios[@]}"; do
  d=$shared/scenarios/$s
  "$build/stormwatch" replay --quiet --changes "$d/changes.yaml" --report "$reports/$s.html" \
    --change-checks "$out/$s.checks" "$d/traffic.lp.gz" >"$out/$s.jsonl" 2>"$out/$s.err"
  printf '%-9s ' "$s"
  python3 "$shared/tools/score.py" "$d/labels.json" "$out/$s.jsonl" | tail -n 1
  size=$(stat -c %s "$reports/$s.html")
  if [ "$size" -ge 2000000 ]; then
    echo "score-shared: $s: report is $size bytes, over 2 MB" >&2
    status=1
  fi
  printf '%-9s report %d bytes\n' "$s" "$size"
  printf '%-9s ' "$s"
  python3 - "$d/labels.json" "$d/changes.yaml" "$out/$s.checks" <<'PY' || status=1
import json, re, sys
labels = json.load(open(sys.argv[1]))
changes = re.findall(r"^\s*-\s*id:\s*(\S+)", open(sys.argv[2]).read(), re.M)
verdicts = {}
for line in open(sys.argv[3]):
    c = json.loads(line)
    verdicts[c["change"]] = c["verdict"]
causes = {i["cause"] for i in labels["incidents"] if i.get("cause")}
users = {}
for ch in re.split(r"^\s*-\s*id:", open(sys.argv[2]).read(), flags=re.M)[1:]:
    m = re.search(r"user:\s*(\S+)", ch)
    users[ch.split()[0]] = m.group(1) if m else None
quiet = {d["user"] for d in labels.get("decoys", []) if "no effect" in d.get("what", "")}
bad = [f"{c}: {verdicts.get(c)} (caused an incident)" for c in changes
       if c in causes and verdicts.get(c) != "deviated"]
bad += [f"{c}: {verdicts.get(c)} (declared, no effect)" for c in changes
        if c not in causes and users.get(c) in quiet and verdicts.get(c) != "as_declared"]
print(f"checks {len(verdicts)}/{len(changes)} changes judged; "
      f"{sum(v == 'deviated' for v in verdicts.values())} deviated" +
      ("; WRONG: " + "; ".join(bad) if bad else "; as the labels say"))
sys.exit(1 if bad or len(verdicts) != len(changes) else 0)
PY
done
exit $status
