# lib_e2e.sh - what every tests/e2e_*.sh needs: pass/fail counting, two
# checks and a free port. Sourced before the script changes directory.
#   ok / bad MESSAGE            count a passed or failed check
#   fatal MESSAGE               a failed check the rest depends on: exit 1
#   expect_status WANT CMD...   run CMD (stdout to out.txt, stderr to err.txt)
#   expect_grep FILE RE WHAT    FILE matches the grep pattern RE
#   freeport                    a loopback TCP port to serve on
#   signals_blocked PID         every thread of daemon PID but its main one
#                               blocks SIGHUP, SIGINT and SIGTERM
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# a failed check that leaves the rest nothing to check: stop the script
fatal() { bad "$*"; echo "stopping here: $passes passed, $fails failed"; exit 1; }
expect_status() { # want cmd...
  local want=$1; shift
  "$@" >out.txt 2>err.txt; local got=$?
  [ "$got" -eq "$want" ] && ok || bad "'$*' exited $got, want $want: $(head -c 300 err.txt)"
}
expect_grep() { # file pattern what
  grep -q -- "$2" "$1" && ok || bad "$3: no '$2' in $1: $(head -c 400 "$1")"
}
# freeport: a loopback TCP port free now, drawn at random below the kernel's
# ephemeral range, so that no client's outgoing connection (librdkafka's,
# curl's) takes it between this call and the server's bind
freeport() {
  python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    p = random.randrange(10000, max(low, 10001))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass
    finally:
        s.close()
PY
}
# signals_blocked PID: the daemon takes SIGHUP, SIGINT and SIGTERM in its
# main thread's sigtimedwait; a thread that did not block them (one a
# library started before the mask was set) would take one by its default
# action and end the process at once, unsaved. SigBlk is hex; the three
# are bits 0, 1 and 14 (0x4003). The main thread (task id = PID) shows
# them unblocked while it waits.
signals_blocked() {
  local pid=$1 t n=0
  for t in /proc/"$pid"/task/*; do
    [ "${t##*/}" = "$pid" ] && continue
    local blk
    blk=$(awk '/^SigBlk:/ { print $2 }' "$t/status" 2>/dev/null) || continue
    [ -n "$blk" ] || continue
    if (( (16#$blk & 16#4003) != 16#4003 )); then
      echo "thread ${t##*/} ($(cat "$t/comm" 2>/dev/null)) blocks only $blk"
      return 1
    fi
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || { echo "no threads of $pid"; return 1; }
}
