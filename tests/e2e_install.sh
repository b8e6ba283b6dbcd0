#!/usr/bin/env bash
# `cmake --install` and the .deb give a working installation, whose unit
# systemd accepts and whose command line runs the daemon with every file in
# the state directory.
#   tests/e2e_install.sh STORMWATCH WORKDIR    (SW_SOURCE_DIR: the source tree)
# The build folder is STORMWATCH's (a release or a sanitizer build: the
# installed binary is that build's). Nothing is written outside WORKDIR but
# the build folder's install_manifest.txt and its own `cpack` staging, which
# goes to WORKDIR too (-B).
#
# (a) DESTDIR=WORKDIR/root cmake --install BUILD --prefix /usr: the packaged
#     layout whatever prefix the build was configured with (the config and
#     the unit's paths follow the install-time prefix), every file where the
#     README says and nothing else; the installed binary runs and accepts the
#     installed config and register; the man pages render without a warning
#     and name every command, option and config key the binary has; the
#     completion offers exactly each command's options; systemd-analyze
#     verifies the unit; the unit's own command line runs the daemon (paths
#     moved under WORKDIR), which keeps every file in the state directory
#     and takes the API token from the credential. Then --prefix WORKDIR/local:
#     a local install's layout, its unit verified as it is.
# (b) cpack -G DEB: the package declares a Depends entry for the package of
#     every library the binary links, holds the same files as (a), and,
#     unpacked with dpkg-deb -x into a scratch root, runs and verifies alike.
#
# systemd-analyze verify checks that ExecStart's binary exists and that the
# Documentation= man pages resolve, on this host: the installed unit names
# /usr/bin/stormwatch, which is in WORKDIR/root here. --root=WORKDIR/root
# does not do: it then wants a whole system there (sysinit.target,
# /bin/kill). So a copy of the unit is verified with ExecStart moved into the
# install root, and MANPATH pointing at the installed man pages; the copy is
# otherwise the installed unit, byte for byte. verify exits 0 on warnings
# (an unknown key, a bad StateDirectory=), so its output must be empty too.
set -u
. "$(dirname "$0")/lib_e2e.sh"
sw=$1 work=$2
src=$SW_SOURCE_DIR
build=$(cd "$(dirname "$sw")" && pwd)
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
[ -f "$build/CMakeCache.txt" ] && [ -f "$build/cmake_install.cmake" ] ||
  fatal "$build is not a configured build folder"
for tool in cmake cpack man systemd-analyze dpkg-deb dpkg curl readelf; do
  command -v "$tool" >/dev/null || fatal "$tool is missing (scripts/setup.sh installs it)"
done
t0=$(date +%s)

# The files of an installation, relative to its root, for prefix /usr.
want_files="etc/stormwatch/changes.yaml
etc/stormwatch/stormwatch.yaml
lib/systemd/system/stormwatch.service
usr/bin/stormwatch
usr/share/bash-completion/completions/stormwatch
usr/share/doc/stormwatch/formats.md
usr/share/man/man1/stormwatch.1
usr/share/man/man5/stormwatch.yaml.5"

# Every option of a command's --help: the words that open an option's line,
# indented by 8 at most, not the prose under it (and the second of a pair,
# "--curve-secret FILE, --curve-public FILE").
help_opts() {
  "$sw" "$1" --help | grep -E '^ {1,8}-' | grep -oE '(^ +|, )--?[a-zA-Z][a-zA-Z-]*' |
    sed 's/^[ ,]*//' | sort -u
}
commands=$("$sw" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}')
[ -n "$commands" ] && echo "$commands" | grep -qx run && ok || fatal "no commands in stormwatch --help"

# verify_unit ROOT UNIT: systemd-analyze verify on a copy of UNIT whose
# ExecStart binary is moved into ROOT (see the top), man pages from ROOT.
verify_unit() {
  local root=$1 unit=$2 dir
  dir=$(mktemp -d "$work/verify.XXXX")
  sed "s|^ExecStart=/|ExecStart=$root/|" "$unit" >"$dir/stormwatch.service"
  MANPATH=$root/usr/share/man systemd-analyze verify "$dir/stormwatch.service" >"$dir/out" 2>&1
  local rc=$?
  [ "$rc" -eq 0 ] && [ ! -s "$dir/out" ] && ok || bad "systemd-analyze verify $unit (in $root): exit $rc: $(cat "$dir/out")"
}

# ---- (a) cmake --install, the packaged layout ---------------------------------
root=$work/root
DESTDIR=$root cmake --install "$build" --prefix /usr >install.log 2>&1 ||
  fatal "cmake --install: $(tail -5 install.log)"
got_files=$(cd "$root" && find . -type f | sed 's|^\./||' | sort)
[ "$got_files" = "$want_files" ] && ok || bad "installed files: $(diff <(echo "$want_files") <(echo "$got_files"))"
[ -x "$root/usr/bin/stormwatch" ] && ok || fatal "no installed binary"

"$root/usr/bin/stormwatch" --version >version.txt 2>&1 && grep -q '^stormwatch [0-9]' version.txt && ok ||
  bad "the installed stormwatch --version: $(cat version.txt)"
"$root/usr/bin/stormwatch" check --config "$root/etc/stormwatch/stormwatch.yaml" \
  --changes "$root/etc/stormwatch/changes.yaml" >check.out 2>&1 && ! grep -q 'warning:' check.out && ok ||
  bad "the installed config and register do not check clean: $(cat check.out)"
cmp -s "$root/etc/stormwatch/stormwatch.yaml" "$src/config/stormwatch.yaml" && ok ||
  bad "the installed config is not config/stormwatch.yaml"

# A second install keeps what the operator edited.
echo "# edited" >>"$root/etc/stormwatch/changes.yaml"
DESTDIR=$root cmake --install "$build" --prefix /usr >install2.log 2>&1
tail -1 "$root/etc/stormwatch/changes.yaml" | grep -q '^# edited' && ok ||
  bad "a second cmake --install overwrote the edited register"

# Man pages: render without a warning; name every command, option and key.
for page in man1/stormwatch.1 man5/stormwatch.yaml.5; do
  MANWIDTH=80 man --warnings -l "$root/usr/share/man/$page" >"${page#*/}.txt" 2>"${page#*/}.err"
  rc=$?
  [ "$rc" -eq 0 ] && [ -s "${page#*/}.txt" ] && [ ! -s "${page#*/}.err" ] && ok ||
    bad "man --warnings -l $page: exit $rc: $(head -5 "${page#*/}.err")"
  # wide and unhyphenated, so no name is broken across lines
  MANWIDTH=250 man --nh --nj -l "$root/usr/share/man/$page" >"${page#*/}.wide" 2>/dev/null
done
has_word() { grep -qE -- "(^|[^-a-zA-Z0-9_.])$2([^-a-zA-Z0-9_]|$)" "$1"; }
missing=
for c in $commands; do has_word stormwatch.1.wide "$c" || missing="$missing $c"; done
for c in run replay simulate check; do
  for o in $(help_opts "$c"); do has_word stormwatch.1.wide "$o" || missing="$missing $c:$o"; done
done
[ -z "$missing" ] && ok || bad "stormwatch(1) does not name:$missing"
keys=$(python3 - "$root/etc/stormwatch/stormwatch.yaml" <<'PY'
import re, sys
path = []
for line in open(sys.argv[1]):
    m = re.match(r"^( *)([a-z_]+):(.*)$", line)
    if not m:
        continue
    depth, value = len(m.group(1)) // 2, m.group(3).split("#")[0].strip()
    path = path[:depth] + [m.group(2)]
    if value:
        print(".".join(path))
PY
)
[ "$(echo "$keys" | wc -l)" -gt 100 ] && ok || bad "too few config keys read: $keys"
missing=
for k in $keys; do has_word stormwatch.yaml.5.wide "${k//./\\.}" || missing="$missing $k"; done
[ -z "$missing" ] && ok || bad "stormwatch.yaml(5) does not name:$missing"

# Completion: valid bash, the commands, and exactly each command's options.
comp=$root/usr/share/bash-completion/completions/stormwatch
bash -n "$comp" && ok || bad "bash -n $comp"
complete_words() { # the completions of a command line whose last word is the cursor's
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _stormwatch
           printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@" | sort -u
}
[ "$(complete_words stormwatch '' | grep -v '^-')" = "$(echo "$commands" | sort -u)" ] && ok ||
  bad "completed commands: $(complete_words stormwatch '' | tr '\n' ' ') want $commands"
for c in run replay simulate check; do
  d=$(diff <(help_opts "$c") <(complete_words stormwatch "$c" -))
  [ -z "$d" ] && ok || bad "completion of 'stormwatch $c -' against its --help (< help, > completion): $d"
done
[ "$(complete_words stormwatch run --log-level '')" = "$(printf 'debug\nerror\ninfo\nwarn')" ] && ok ||
  bad "completion of --log-level: $(complete_words stormwatch run --log-level '')"

# The unit: the packaged paths, every file in the state directory, systemd's verdict.
unit=$root/lib/systemd/system/stormwatch.service
exec_line=$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" | sed 's/\\$//' | tr -s ' \n' ' ')
for want in 'ExecStart=/usr/bin/stormwatch run ' '--config /etc/stormwatch/stormwatch.yaml ' \
            '--changes /etc/stormwatch/changes.yaml ' '--http 127.0.0.1:' \
            '--http-token-file ${CREDENTIALS_DIRECTORY}/token ' '--alertmanager http://127.0.0.1:9093 ' \
            '--state /var/lib/stormwatch/' '--alerts /var/lib/stormwatch/' \
            '--change-checks /var/lib/stormwatch/checks.jsonl ' '--changes-journal /var/lib/stormwatch/' \
            '--alertmanager-queue /var/lib/stormwatch/' '--record /var/lib/stormwatch/'; do
  case "$exec_line " in *"$want"*) ok ;; *) bad "the unit's ExecStart lacks '$want': $exec_line" ;; esac
done
grep -qx 'LoadCredential=token:/etc/stormwatch/token' "$unit" && ok || bad "no LoadCredential of the token"
grep -qx 'StateDirectory=stormwatch stormwatch/record' "$unit" && ok || bad "no StateDirectory=stormwatch"
grep -q '@' "$unit" && bad "the installed unit still holds a placeholder: $(grep '@' "$unit")" || ok
verify_unit "$root" "$unit"

# The unit's command line, run: /var/lib/stormwatch, /etc/stormwatch, the
# credentials and the ports moved under this folder, from an empty working
# directory, under systemd's environment (STATE_DIRECTORY set, as the unit's
# StateDirectory= sets it, here to a folder the options do not name, so a
# default that escaped them would show there).
state=$work/state cred=$work/cred cwd=$work/cwd fallback=$work/fallback
mkdir -p "$state/record" "$cred" "$cwd" "$fallback"
token=install-test-token-0123456789
echo "$token" >"$cred/token"
p_ingest=$(freeport) p_pub=$(freeport) p_http=$(freeport) p_am=$(freeport)
cmdline=$(echo "$exec_line" | sed -e 's/^ExecStart=//' \
  -e "s|/usr/bin/stormwatch|$root/usr/bin/stormwatch|" -e "s|/etc/stormwatch/|$root/etc/stormwatch/|g" \
  -e "s|/var/lib/stormwatch/|$state/|g" -e "s|\${CREDENTIALS_DIRECTORY}|$cred|g" \
  -e "s|tcp://127.0.0.1:5557|tcp://127.0.0.1:$p_ingest|" -e "s|tcp://127.0.0.1:5558|tcp://127.0.0.1:$p_pub|" \
  -e "s|127.0.0.1:9110|127.0.0.1:$p_http|" -e "s|127.0.0.1:9093|127.0.0.1:$p_am|")
read -ra argv <<<"$cmdline"
(cd "$cwd" && STATE_DIRECTORY=$fallback exec "${argv[@]}" --log-level warn) >daemon.out 2>daemon.err &
pid=$!
up=0
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$p_http/healthz" >/dev/null 2>&1 && { up=1; break; }
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ "$up" -eq 1 ] && ok || bad "the unit's command line did not serve /healthz: $(tail -5 daemon.err)"
if [ "$up" -eq 1 ]; then
  "$root/usr/bin/stormwatch" simulate --users 3 --hours 0.05 --learn 1m --publish "tcp://127.0.0.1:$p_ingest" \
    >sim.out 2>&1 && ok || bad "publishing to the unit's ingest: $(tail -3 sim.out)"
  code=$(curl -s -o post.out -w '%{http_code}' -X POST -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$p_http/api/v1/changes" -d '{"id":"CHG-INSTALL","user":"90-B3-D5-1F-30-01-00-0A",
    "kind":"firewall","start":"2024-03-12T09:00:00Z","end":"2024-03-12T10:00:00Z"}')
  [ "$code" = 201 ] && ok || bad "a declaration with the credential's token: $code $(cat post.out)"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer wrong-token-0000000" \
    "http://127.0.0.1:$p_http/api/v1/changes" -d '{}')
  [ "$code" = 403 ] || [ "$code" = 401 ] && ok || bad "a declaration with a wrong token: $code"
fi
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
[ "$rc" -eq 0 ] && ok || bad "the daemon exited $rc on SIGTERM: $(tail -5 daemon.err)"
for f in state.bin state.bin.alerts alerts.jsonl checks.jsonl changes.journal record/traffic.lp.000001; do
  [ -e "$state/$f" ] && ok || bad "no $f in the state directory: $(cd "$state" && find . | tr '\n' ' ')"
done
for f in state.bin changes.journal record/traffic.lp.000001; do
  [ -s "$state/$f" ] && ok || bad "$f in the state directory is empty"
done
[ -z "$(ls -A "$cwd")" ] && ok || bad "files in the working directory: $(ls -A "$cwd")"
[ -z "$(ls -A "$fallback")" ] && ok || bad "files in \$STATE_DIRECTORY beside the options: $(ls -A "$fallback")"

# A local install: PREFIX/etc, PREFIX/lib/systemd/system, a unit naming PREFIX/bin.
local_root=$work/local
cmake --install "$build" --prefix "$local_root" >install-local.log 2>&1 || bad "cmake --install --prefix $local_root"
for f in bin/stormwatch etc/stormwatch/stormwatch.yaml etc/stormwatch/changes.yaml lib/systemd/system/stormwatch.service; do
  [ -f "$local_root/$f" ] && ok || bad "no $local_root/$f"
done
grep -q "^ExecStart=$local_root/bin/stormwatch run" "$local_root/lib/systemd/system/stormwatch.service" &&
  grep -q "^    --config $local_root/etc/stormwatch/stormwatch.yaml" "$local_root/lib/systemd/system/stormwatch.service" &&
  ok || bad "the local unit does not name the local paths: $(grep -- 'ExecStart\|--config' "$local_root/lib/systemd/system/stormwatch.service")"
# its ExecStart names the installed binary already: verified as installed
MANPATH=$local_root/share/man systemd-analyze verify "$local_root/lib/systemd/system/stormwatch.service" >local-verify.out 2>&1 &&
  [ ! -s local-verify.out ] && ok || bad "systemd-analyze verify of the local unit: $(cat local-verify.out)"
t_a=$(($(date +%s) - t0))

# ---- (b) the .deb -------------------------------------------------------------
(cd "$build" && cpack -G DEB -B "$work/deb") >cpack.log 2>&1 || fatal "cpack -G DEB: $(tail -5 cpack.log)"
deb=$(ls "$work"/deb/stormwatch_*.deb 2>/dev/null)
[ "$(echo "$deb" | wc -w)" -eq 1 ] && ok || fatal "want one .deb in $work/deb: $deb"
dpkg-deb -I "$deb" >deb-info.txt || bad "dpkg-deb -I $deb"
for field in 'Package: stormwatch' 'Section: ' 'Maintainer: ' 'Description: ' 'Depends: '; do
  expect_grep deb-info.txt "^ $field" "the package's control"
done
dpkg-deb -e "$deb" control || bad "dpkg-deb -e $deb"
[ "$(cat control/conffiles 2>&1)" = "$(printf '/etc/stormwatch/stormwatch.yaml\n/etc/stormwatch/changes.yaml')" ] &&
  ok || bad "the conffiles: $(cat control/conffiles 2>&1)"
depends=$(dpkg-deb -f "$deb" Depends)
# the package holding each library the binary links (sanitizer runtimes are
# a sanitizer build's own: not for a server)
libs=$(readelf -d "$sw" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$libs" ] && ok || bad "no NEEDED libraries in $sw"
for lib in $libs; do
  case $lib in libasan*|libubsan*|libtsan*|liblsan*|ld-linux*) continue ;; esac
  path=$(ldd "$sw" | awk -v l="$lib" '$1 == l {print $3}')
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
  [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
  case ", $depends," in
    *", $pkg "*|*", $pkg,"*) ok ;;
    *) bad "$lib (package '$pkg') is not in Depends: $depends" ;;
  esac
done
deb_files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | sort)
[ "$deb_files" = "$want_files" ] && ok || bad "the .deb's files: $(diff <(echo "$want_files") <(echo "$deb_files"))"
debroot=$work/debroot
dpkg-deb -x "$deb" "$debroot" || bad "dpkg-deb -x"
"$debroot/usr/bin/stormwatch" --version >deb-version.txt 2>&1 && grep -q '^stormwatch [0-9]' deb-version.txt &&
  ok || bad "the packaged stormwatch --version: $(cat deb-version.txt)"
cmp -s "$debroot/lib/systemd/system/stormwatch.service" "$unit" && ok ||
  bad "the packaged unit differs from cmake --install's: $(diff "$unit" "$debroot/lib/systemd/system/stormwatch.service")"
verify_unit "$debroot" "$debroot/lib/systemd/system/stormwatch.service"

echo "install ${t_a}s, with the package $(($(date +%s) - t0))s"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
