# lib_e2e.sh - what every tests/e2e_*.sh needs: pass/fail counting, two
# checks and a free port. Sourced before the script changes directory.
#   ok / bad MESSAGE            count a passed or failed check
#   fatal MESSAGE               a failed check the rest depends on: exit 1
#   expect_status WANT CMD...   run CMD (stdout to out.txt, stderr to err.txt)
#   expect_grep FILE RE WHAT    FILE matches the grep pattern RE
#   freeport                    a loopback TCP port to serve on
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
