#!/usr/bin/env bash
# End-to-end checks of the stormwatch command line, on simulator data:
# help and exit codes, error messages that name file, line and key, bad
# lines reported with their line numbers, the summary, identical output
# from a file, a .gz and standard input, and per-User config overrides.
#   tests/e2e_cli.sh STORMWATCH WORKDIR
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

# help and usage
expect_status 0 "$sw" --help;            expect_grep out.txt "replay" "top help"
expect_status 0 "$sw" replay --help;     expect_grep out.txt "usage: stormwatch replay" "replay help"
expect_status 0 "$sw" help replay;       expect_grep out.txt "--changes FILE" "help replay"
expect_status 0 "$sw" simulate --help;   expect_grep out.txt "usage: stormwatch simulate" "simulate help"
expect_status 0 "$sw" --version;         expect_grep out.txt "stormwatch " "version"
# a build that says it allocates with jemalloc really links it (an LTO link
# once dropped it, as-needed, with nothing else to notice)
if grep -q "jemalloc" out.txt; then
  if ldd "$sw" | grep -q "libjemalloc"; then ok; else bad "--version lists jemalloc, the binary does not link it"; fi
fi
expect_status 2 "$sw";                   expect_grep err.txt "usage" "no command"
expect_status 2 "$sw" frobnicate;        expect_grep err.txt "unknown command 'frobnicate'" "bad command"
expect_status 2 "$sw" replay;            expect_grep err.txt "no INPUT" "no input"
expect_status 2 "$sw" replay --bogus x;  expect_grep err.txt "usage" "bad option"
expect_status 2 "$sw" replay missing.lp; expect_grep err.txt "missing.lp: No such file" "missing input"
# run's flags are read by the config keys' code (one table): the key's
# rules and words, the flag's name; nothing starts
expect_status 2 "$sw" run --ring-size 3 --ingest tcp://127.0.0.1:1
expect_grep err.txt "run: --ring-size: must be at least 64" "flag read as its key"
expect_status 2 "$sw" run --stats-every soon --ingest tcp://127.0.0.1:1
expect_grep err.txt "run: --stats-every: expected a duration" "duration flag"
expect_status 2 "$sw" run --ingest tcp://127.0.0.1:1 --ingest tcp://127.0.0.1:1
expect_grep err.txt "run: --ingest: 'tcp://127.0.0.1:1' given twice" "list flag repeat"
printf 'run:\n  ring_size: 32\n' >ring.yaml
expect_status 2 "$sw" run --config ring.yaml --ingest tcp://127.0.0.1:1
expect_grep err.txt "ring.yaml:2:14: run.ring_size: must be at least 64" "key, same words"

# a recording with every quirk, and its change register
"$sw" simulate --scenario mixed --quirks --out sim >/dev/null 2>&1 || bad "simulate failed"
lines=$(wc -l <sim/traffic.lp)

expect_status 0 "$sw" replay --changes sim/changes.yaml sim/traffic.lp
cp out.txt alerts1.jsonl
[ -s alerts1.jsonl ] && ok || bad "no alerts from the mixed scenario"
expect_grep err.txt "sim/traffic.lp:[0-9]*: negative count: dsp_traffic" "bad line with file:line"
expect_grep err.txt "sim/traffic.lp:[0-9]*: unknown dir" "bad dir reported"
expect_grep err.txt "replay: $lines lines, .* 6 bad, [1-9][0-9]* duplicates" "summary counts"
expect_grep err.txt "M samples/s" "summary speed"
grep -q '"status":"firing"' alerts1.jsonl && ok || bad "no firing line"
grep -q '"correlation":"declared"' alerts1.jsonl && ok || bad "no declared correlation"

# same input, same output: again, from .gz, from stdin, in two files
expect_status 0 "$sw" replay --changes sim/changes.yaml sim/traffic.lp
cmp -s out.txt alerts1.jsonl && ok || bad "second replay differs"
gzip -c sim/traffic.lp >sim/traffic.lp.gz
expect_status 0 "$sw" replay --changes sim/changes.yaml sim/traffic.lp.gz
cmp -s out.txt alerts1.jsonl && ok || bad ".gz replay differs"
"$sw" replay --quiet --changes sim/changes.yaml - <sim/traffic.lp >out.txt 2>err.txt
cmp -s out.txt alerts1.jsonl && ok || bad "stdin replay differs"
half=$((lines / 2))
head -n "$half" sim/traffic.lp >a.lp; tail -n +"$((half + 1))" sim/traffic.lp >b.lp
"$sw" replay --quiet --changes sim/changes.yaml a.lp b.lp >out.txt 2>err.txt
cmp -s out.txt alerts1.jsonl && ok || bad "replay of the recording split in two files differs"

# more than ten bad lines: the first ten in full, then a count
{ head -n 2000 sim/traffic.lp; for i in $(seq 1 15); do echo "dsp_traffic,user=U,dir=up count=1i 1"; done; } >many.lp
expect_status 0 "$sw" replay many.lp
[ "$(grep -c 'many.lp:[0-9]*: unknown dir' err.txt)" -eq 10 ] && ok || bad "want 10 bad lines shown"
expect_grep err.txt "5 more bad lines not shown" "bad line count"

# a 2 MB line is skipped, the lines after it are read
head -n 200 sim/traffic.lp >short.lp
"$sw" replay short.lp >/dev/null 2>err.txt
samples=$(sed -n 's/^replay: [0-9]* lines, \([0-9]*\) samples.*/\1/p' err.txt)
{ head -n 100 sim/traffic.lp; head -c 2000000 /dev/zero | tr '\0' x; echo; sed -n 101,200p sim/traffic.lp; } >long.lp
expect_status 0 "$sw" replay long.lp
expect_grep err.txt "long.lp:101: line longer than" "over-long line reported"
expect_grep err.txt "replay: 201 lines, $samples samples, 1 bad" "lines after the long one read"

# configuration errors name file, line, column and key; exit 2
printf 'detectors:\n  storm:\n    ratio_fire: lots\n' >bad.yaml
expect_status 2 "$sw" replay --config bad.yaml sim/traffic.lp
expect_grep err.txt "bad.yaml:3:17: detectors.storm.ratio_fire: expected a number, got 'lots'" "config error"
printf 'changes:\n  - id: CHG-1\n    user: U\n    start: 2024-03-12T06:00:00Z\n    end: 2024-03-11T06:00:00Z\n' >badchg.yaml
expect_status 2 "$sw" replay --changes badchg.yaml sim/traffic.lp
expect_grep err.txt "badchg.yaml:5: change CHG-1: key 'end': end is before start" "change error"
expect_status 2 "$sw" replay --config nope.yaml sim/traffic.lp
expect_grep err.txt "nope.yaml" "missing config named"

# the documented config gives exactly the defaults' output
expect_status 0 "$sw" replay --quiet --config "$SW_SOURCE_DIR/config/stormwatch.yaml" \
  --changes sim/changes.yaml sim/traffic.lp
cmp -s out.txt alerts1.jsonl && ok || bad "config/stormwatch.yaml is not the defaults"

# a per-User fixed limit (Anomaly Detection Threshold) applies to that User only
user=$(grep -m1 -o 'user=[^,]*' sim/traffic.lp | cut -d= -f2)
printf 'users:\n  "%s":\n    limits:\n      south_rate: 0.01\n' "$user" >limit.yaml
expect_status 0 "$sw" replay --quiet --config limit.yaml sim/traffic.lp
grep '"alert":"limit_exceeded"' out.txt | grep -q "\"user\":\"$user\"" && ok || bad "no limit alert for $user"
[ "$(grep '"alert":"limit_exceeded"' out.txt | grep -vc "\"user\":\"$user\"")" -eq 0 ] && ok || bad "limit alert for another User"

# learned state: created on the first run, loaded on the next, a corrupt one refused
rm -f state.bin
expect_status 0 "$sw" replay --state state.bin sim/traffic.lp
expect_grep err.txt "no state yet, learning from scratch" "first run without state"
[ -s state.bin ] && ok || bad "no state file written"
ls state.bin.tmp.* >/dev/null 2>&1 && bad "temporary state file left behind" || ok
expect_status 0 "$sw" replay --state state.bin sim/traffic.lp
expect_grep err.txt "learned state loaded" "state loaded"
printf 'garbage' >state.bin
expect_status 2 "$sw" replay --state state.bin sim/traffic.lp
expect_grep err.txt "state refused: state.bin: not a stormwatch state file" "corrupt state refused"
[ ! -s out.txt ] && ok || bad "alerts written despite a refused state"

# CurveZMQ keys: written once, never overwritten
mkdir -p keys
expect_status 0 "$sw" keygen keys server
[ -s keys/server.key ] && [ -s keys/server.pub ] && ok || bad "no key pair written"
[ "$(stat -c %a keys/server.key)" = 600 ] && ok || bad "secret key not 0600"
expect_status 2 "$sw" keygen keys server
expect_grep err.txt "keys/server" "keygen overwrite refused with the path"
expect_status 2 "$sw" keygen keys

# change checks that cannot be written: named, exit 2 (a path it cannot open), never silent
touch notadir
expect_status 2 "$sw" replay -q --changes sim/changes.yaml --change-checks notadir/c sim/traffic.lp
expect_grep err.txt "^stormwatch replay: --change-checks: notadir/c: Not a directory" "unopenable checks file"
expect_status 1 "$sw" replay -q --changes sim/changes.yaml --change-checks /dev/full sim/traffic.lp
expect_grep err.txt "^stormwatch replay: --change-checks: writing /dev/full failed" "checks on a full disk"
expect_status 0 "$sw" replay -q --changes sim/changes.yaml --change-checks checks.jsonl sim/traffic.lp
[ -s checks.jsonl ] && ok || bad "no change checks written"

# one rule for every command: a path it cannot open is 2, as bad usage is;
# a write that fails on the way is 1 (above: /dev/full)
expect_status 2 "$sw" keygen notadir k
expect_grep err.txt "notadir/k.key: Not a directory" "keygen: the path named"
expect_status 2 "$sw" simulate --users 2 --hours 1 --out notadir/sim
expect_grep err.txt "cannot create notadir/sim: Not a directory" "simulate: --out named"
expect_status 2 "$sw" simulate --input notadir/x --publish tcp://127.0.0.1:1
expect_grep err.txt "notadir/x: Not a directory" "simulate: --input named"
grep -q "cannot open the path" err.txt && bad "simulate: --input's reason said twice: $(cat err.txt)" || ok
expect_status 1 sh -c '"$0" simulate --users 2 --hours 1 >/dev/full' "$sw"
port=$(freeport)
expect_status 2 "$sw" run --ingest "tcp://127.0.0.1:$port" --http "127.0.0.1:$port"
expect_grep err.txt "cannot serve on 127.0.0.1:$port" "run: a port it cannot bind named"

# a file the daemon fails on is named with the option behind it
touch notadir
for opt in state record changes-journal alertmanager-queue changes config http-token-file \
           change-checks alerts; do
  extra=()
  case $opt in
    changes-journal|http-token-file) extra=(--http 127.0.0.1:0) ;;
    alertmanager-queue) extra=(--alertmanager http://127.0.0.1:9) ;;
  esac
  expect_status 2 "$sw" run --ingest tcp://127.0.0.1:0 "${extra[@]}" "--$opt" notadir/f
  expect_grep err.txt "^stormwatch run: --$opt: notadir/f.*: Not a directory" "--$opt named"
done

# stormwatch check: the files as the daemon loads them, verdict per file
cp "$SW_SOURCE_DIR/config/stormwatch.yaml" good.yaml
printf 'changes:\n  - {id: C1, user: U1, kind: fw, start: 2024-01-01T00:00:00Z, end: 2024-01-01T01:00:00Z, owner: x}\n  - {id: PM, user: DCC, start: 2024-01-01T00:30:00Z, end: 2024-01-01T02:00:00Z}\n' >warn-changes.yaml
expect_status 0 "$sw" check --config good.yaml --changes warn-changes.yaml
expect_grep out.txt "^good.yaml: config OK$" "config OK"
expect_grep out.txt "^warn-changes.yaml: change register OK: 2 changes, 0 forecasts, 3 warnings$" "register OK with its warnings"
expect_grep err.txt "^warning: warn-changes.yaml:2: change C1: key 'owner': unknown key" "unknown key warned"
expect_grep err.txt "^warning: .*change C1: .*kind" "unknown kind warned"
expect_grep err.txt "^warning: warn-changes.yaml:2: change C1: overlaps DCC Planned Maintenance PM" "conflict warned"
printf 'detectors:\n  storm: {ratio_fire: x}\n' >bad.yaml
expect_status 2 "$sw" check --config bad.yaml --changes warn-changes.yaml
expect_grep out.txt "^bad.yaml: FAILED$" "bad config fails"
expect_grep err.txt "^bad.yaml:2:" "bad config says where"
expect_grep out.txt "^warn-changes.yaml: change register OK" "the other file is still checked"
printf 'changes:\n  - {id: C1, user: U1, start: 2024-01-01T01:00:00Z, end: 2024-01-01T00:00:00Z}\n' >bad-changes.yaml
expect_status 2 "$sw" check --changes bad-changes.yaml
expect_grep err.txt "bad-changes.yaml:2: change C1: key 'end'" "bad register says where"
expect_status 2 "$sw" check
expect_grep err.txt "nothing to check" "check without files"

# log lines as logfmt and as JSON Lines, every one of them
for fmt in logfmt json; do
  port=$(freeport)
  "$sw" run --ingest tcp://127.0.0.1:$port --log-format $fmt --stats-every 0 2>log.$fmt &
  pid=$!
  sleep 0.5
  kill -TERM $pid; wait $pid
done
[ "$(grep -c . log.logfmt)" -ge 3 ] && ! grep -qv '^ts=[0-9T:.-]*Z level=[a-z]* msg="[^"]*"$' log.logfmt && ok ||
  bad "logfmt lines: $(head -3 log.logfmt)"
python3 -c '
import json, sys
lines = open("log.json").read().splitlines()
assert len(lines) >= 3, lines
for l in lines:
    d = json.loads(l)
    assert set(d) == {"ts", "level", "msg"}, d
' && ok || bad "JSON log lines: $(head -3 log.json)"
expect_status 2 "$sw" run --ingest tcp://127.0.0.1:0 --log-format xml
expect_grep err.txt "log-format: expected one of text, logfmt, json, got 'xml'" "bad --log-format"

# files kept by default go to the state directory, never the working one
mkdir -p defaults && cd defaults || exit 1
mkdir -p statedir sysd
port=$(freeport)
"$sw" run --ingest tcp://127.0.0.1:$port --http 127.0.0.1:0 --state statedir/state.bin \
  --alertmanager http://127.0.0.1:9 --stats-every 0 2>run.log &
pid=$!
for _ in $(seq 1 50); do [ -e statedir/stormwatch-changes.journal ] && break; sleep 0.1; done
kill -TERM $pid; wait $pid
[ -e statedir/stormwatch-changes.journal ] && ok || bad "defaults not beside --state: $(ls statedir)"
[ -e stormwatch-changes.journal ] && bad "a journal in the working directory" || ok
port=$(freeport)
STATE_DIRECTORY=$PWD/sysd "$sw" run --ingest tcp://127.0.0.1:$port --http 127.0.0.1:0 \
  --stats-every 0 2>run.log &
pid=$!
for _ in $(seq 1 50); do [ -e sysd/stormwatch-changes.journal ] && break; sleep 0.1; done
kill -TERM $pid; wait $pid
[ -e sysd/stormwatch-changes.journal ] && ok || bad "\$STATE_DIRECTORY not used: $(ls sysd)"
cd ..

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
