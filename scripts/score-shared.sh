#!/usr/bin/env bash
# Scores stormwatch's built-in defaults on the labelled scenarios in
# ../shared/scenarios, when that folder is present (it is not part of the
# project; its users won't have it). Prints one score line per scenario, and
# the size of each scenario's HTML report (--report), which must stay under
# 2 MB; the reports are kept in $SW_REPORTS when that is set.
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
    "$d/traffic.lp.gz" >"$out/$s.jsonl" 2>"$out/$s.err"
  printf '%-9s ' "$s"
  python3 "$shared/tools/score.py" "$d/labels.json" "$out/$s.jsonl" | tail -n 1
  size=$(stat -c %s "$reports/$s.html")
  if [ "$size" -ge 2000000 ]; then
    echo "score-shared: $s: report is $size bytes, over 2 MB" >&2
    status=1
  fi
  printf '%-9s report %d bytes\n' "$s" "$size"
done
exit $status
