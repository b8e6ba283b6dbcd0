#!/usr/bin/env bash
# The README's "Going live", command for command: a first day replayed
# cold raises only learning warnings (no page), and the same day replayed
# with --state seeded from last week's recording raises nothing. The
# counts the README gives (9 incidents, 18 alerts) are checked, so the
# README stays true.
#   tests/e2e_going_live.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

shape="--users 12 --hours 24 --interval 10 --batches --daily 0.35"
# shellcheck disable=SC2086
"$sw" simulate $shape --start 2024-03-04T00:00:00Z --out last-week >/dev/null 2>&1 || fatal "simulate last week"
# shellcheck disable=SC2086
"$sw" simulate $shape --start 2024-03-11T00:00:00Z --out first-day >/dev/null 2>&1 || fatal "simulate the first day"

"$sw" replay -q first-day/traffic.lp >cold.jsonl 2>/dev/null || bad "cold replay"
"$sw" replay -q --state state.bin last-week/traffic.lp >/dev/null 2>&1 || bad "seeding replay"
[ -s state.bin ] && ok || bad "no state saved"
"$sw" replay -q --state state.bin first-day/traffic.lp >warm.jsonl 2>/dev/null || bad "seeded replay"

# counts: "firing alerts, learning ones, pages, incidents"
count() {
  python3 - "$1" <<'PY'
import json, sys
f = [a for a in map(json.loads, open(sys.argv[1])) if a["status"] == "firing"]
pages = [a for a in f if a["incident_role"] == "primary" and not a["learning"]]
print(len(f), sum(a["learning"] for a in f), len(pages), len({a["incident"] for a in f}))
PY
}
read -r firing learning pages incidents < <(count cold.jsonl)
[ "$incidents" -eq 9 ] && [ "$firing" -eq 18 ] && ok ||
  bad "cold: want 9 incidents and 18 alerts (as the README says), got $incidents and $firing"
[ "$learning" -eq "$firing" ] && ok || bad "cold: $learning of $firing alerts marked learning"
[ "$pages" -eq 0 ] && ok || bad "cold: $pages pages from a model still learning"
grep -q '"severity":"critical"' cold.jsonl && bad "cold: a learning alert above a warning" || ok
read -r firing _ _ _ < <(count warm.jsonl)
[ "$firing" -eq 0 ] && ok || bad "seeded: $firing alerts on a day learnt last week"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
