# lib_e2e.sh - what every tests/e2e_*.sh needs: pass/fail counting and two
# checks. Sourced before the script changes directory.
#   ok / bad MESSAGE            count a passed or failed check
#   expect_status WANT CMD...   run CMD (stdout to out.txt, stderr to err.txt)
#   expect_grep FILE RE WHAT    FILE matches the grep pattern RE
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_status() { # want cmd...
  local want=$1; shift
  "$@" >out.txt 2>err.txt; local got=$?
  [ "$got" -eq "$want" ] && ok || bad "'$*' exited $got, want $want: $(head -c 300 err.txt)"
}
expect_grep() { # file pattern what
  grep -q -- "$2" "$1" && ok || bad "$3: no '$2' in $1: $(head -c 400 "$1")"
}
