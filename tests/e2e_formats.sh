#!/usr/bin/env bash
# Every fenced example of docs/formats.md reads as the format it shows, and
# the alert and change-check examples carry exactly the keys its tables list.
#   tests/e2e_formats.sh STORMWATCH WORKDIR      (SW_SOURCE_DIR: the source tree)
#
# A fence's info string says what it holds; any other fence is an error, so
# no example goes unchecked:
#   ```lineproto       line protocol: `stormwatch replay` reads it with no bad
#                      line and one sample per line that is not blank or a
#                      comment (replay's summary on standard error)
#   ```yaml register   a whole change register file (changes and forecasts):
#                      `stormwatch replay --changes FILE /dev/null` exits 0 and
#                      says nothing on standard error (no error, no warning)
#   ```json alert      alert lines (JSON Lines) and
#   ```json check      change-check lines: each line a JSON object with every
#                      key of the table after `<!-- keys: alert -->` (or
#                      `check`) but those marked "(optional)", and no other;
#                      a row `a.b` is key b of object a, checked where a is not
#                      null; times are RFC 3339 UTC
# Across the document: the register examples use every key of the tables after
# `<!-- keys: register -->` and `<!-- keys: forecast -->`; the table after
# `<!-- kinds: alert -->` lists every kind of core/alert.h with its severity,
# and the alert examples show each of them; the kinds core/correlate.c knows
# are named.
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
doc=$SW_SOURCE_DIR/docs/formats.md
[ -f "$doc" ] || fatal "no $doc"

# Split the document: one file per example (lp.N, register.N.yaml, alert.N,
# check.N), and check the JSON and the tables (python3's json module).
python3 - "$doc" "$SW_SOURCE_DIR" >py.txt 2>&1 <<'PY'
import json, os, re, sys

doc, src = sys.argv[1], sys.argv[2]
text = open(doc, encoding="utf-8").read()
fails = []

def fail(msg):
    fails.append(msg)

# fenced blocks: ```INFO ... ```
blocks = []
lines = text.split("\n")
i = 0
while i < len(lines):
    m = re.match(r"^```(.*)$", lines[i])
    if m:
        info, body, start = m.group(1).strip(), [], i + 1
        i += 1
        while i < len(lines) and lines[i] != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            fail(f"line {start}: fence never closed")
        blocks.append((info, body, start))
    i += 1

def key_table(name):
    """Rows of the table after <!-- keys: NAME -->: {key: optional}."""
    m = re.search(r"<!-- keys: " + name + r" -->\n((?:\|.*\n)+)", text)
    if not m:
        fail(f"no table after <!-- keys: {name} -->")
        return {}
    keys = {}
    for row in m.group(1).splitlines()[2:]:
        cell = row.split("|")[1]
        for k in re.findall(r"`([a-z_.]+)`", cell):
            keys[k] = "(optional)" in cell
    return keys

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")

def check_json(kind, body, start, table):
    n = 0
    for off, line in enumerate(body):
        where = f"line {start + off + 1}"
        try:
            obj = json.loads(line)
        except ValueError as e:
            fail(f"{where}: not JSON ({e}): {line[:80]}")
            continue
        if not isinstance(obj, dict):
            fail(f"{where}: not an object")
            continue
        n += 1
        for k, optional in table.items():
            parent, _, sub = k.rpartition(".")
            if parent:
                p = obj.get(parent)
                if p is not None and sub not in p:
                    fail(f"{where}: {kind} line without '{k}'")
            elif k not in obj and not optional:
                fail(f"{where}: {kind} line without '{k}'")
        for k, v in obj.items():
            if k not in table:
                fail(f"{where}: key '{k}' is not in the {kind} table")
            if isinstance(v, dict):
                for sub in v:
                    if f"{k}.{sub}" not in table:
                        fail(f"{where}: key '{k}.{sub}' is not in the {kind} table")
        for k in ("starts_at", "detected_at", "ends_at", "from", "to"):
            if obj.get(k) is not None and not RFC3339.match(str(obj[k])):
                fail(f"{where}: {k} is not RFC 3339 UTC: {obj[k]}")
        yield obj
    if n == 0:
        fail(f"line {start}: an empty {kind} example")

alert_keys, check_keys = key_table("alert"), key_table("check")
register_keys = set(key_table("register")) | set(key_table("forecast"))
counts = {"lineproto": 0, "yaml register": 0, "json alert": 0, "json check": 0}
kinds_shown, yaml_words = set(), set()
for info, body, start in blocks:
    if info not in counts:
        fail(f"line {start}: fence '```{info}' is not a kind this test checks")
        continue
    counts[info] += 1
    n = counts[info]
    if info == "lineproto":
        samples = sum(1 for l in body if l.strip() and not l.lstrip().startswith("#"))
        with open(f"lp.{n}", "w") as f:
            f.write("\n".join(body) + "\n")
        with open(f"lp.{n}.want", "w") as f:
            f.write(f"{samples}\n")
    elif info == "yaml register":
        with open(f"register.{n}.yaml", "w") as f:
            f.write("\n".join(body) + "\n")
        for l in body:
            yaml_words.update(re.findall(r"([a-z_]+):(?:\s|$)", l.split("#")[0]))
    elif info == "json alert":
        kinds_shown.update(o.get("alert") for o in check_json("alert", body, start, alert_keys))
    else:
        list(check_json("check", body, start, check_keys))
for kind, n in counts.items():
    if n == 0:
        fail(f"no ```{kind} example")

for k in sorted(register_keys - yaml_words):
    fail(f"no register example uses the key '{k}'")

# the kinds of core/alert.h, each in the kinds table with its severity, and shown
kinds = re.findall(r'X\(\w+, "(\w+)", "(\w+)"\)', open(os.path.join(src, "core/alert.h")).read())
if not kinds:
    fail("no alert kinds found in core/alert.h")
m = re.search(r"<!-- kinds: alert -->\n((?:\|.*\n)+)", text)
rows = {}
for row in (m.group(1).splitlines()[2:] if m else []):
    cells = [c.strip() for c in row.split("|")]
    rows[cells[1].strip("`")] = cells[2]
if not m:
    fail("no table after <!-- kinds: alert -->")
for name, sev in kinds:
    if rows.get(name) != sev:
        fail(f"kind {name}: the kinds table says {rows.get(name)!r}, core/alert.h {sev!r}")
    if name not in kinds_shown:
        fail(f"kind {name}: no alert example shows it")
for name in rows:
    if name not in {k for k, _ in kinds}:
        fail(f"kind {name}: in the kinds table, not in core/alert.h")

# the change kinds the correlator knows (core/correlate.c), named in the register table
known = re.findall(r'\{ "(\w+)",\s+[0-9.]+,', open(os.path.join(src, "core/correlate.c")).read())
if not known:
    fail("no change kinds found in core/correlate.c")
reg = re.search(r"<!-- keys: register -->\n((?:\|.*\n)+)", text)
for k in known:
    if not reg or f"`{k}`" not in reg.group(1):
        fail(f"change kind {k} (core/correlate.c) is not named in the register table")

print(" ".join(f"{k}={v}" for k, v in counts.items()))
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
PY
[ $? -eq 0 ] && ok || bad "the document's examples and tables: $(grep FAIL py.txt | head -20)"
echo "examples: $(head -1 py.txt)"

# Line protocol: every line a sample, none bad.
n=0
for lp in lp.[0-9]*; do
  case $lp in *.want) continue ;; esac
  n=$((n + 1))
  "$sw" replay "$lp" >"$lp.alerts" 2>"$lp.err"
  [ $? -eq 0 ] || { bad "replay $lp failed: $(cat "$lp.err")"; continue; }
  sum=$(grep '^replay: [0-9]* lines' "$lp.err")
  want=$(cat "$lp.want")
  echo "$sum" | grep -q " $want samples, 0 bad," && ok ||
    bad "$lp: want $want samples and no bad line: $(cat "$lp.err") in: $(cat "$lp")"
done
[ "$n" -gt 0 ] || bad "no line-protocol example was replayed"

# Change registers: load without an error or a warning.
n=0
for reg in register.*.yaml; do
  [ -f "$reg" ] || continue
  n=$((n + 1))
  "$sw" replay -q --changes "$reg" /dev/null >/dev/null 2>"$reg.err"
  rc=$?
  [ "$rc" -eq 0 ] && [ ! -s "$reg.err" ] && ok ||
    bad "$reg: exit $rc, said: $(cat "$reg.err")"
done
[ "$n" -gt 0 ] || bad "no register example was loaded"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
