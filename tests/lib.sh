# Shared helpers of the shell tests (source it): counters, and the four
# checks of every refused case. Needs $t (a scratch directory of the test).
pass=${pass:-0} fail=${fail:-0}
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

# tree_state DIR: every file under DIR with its checksum (and every
# temporary or lock file by name): equal before and after means no output,
# temporary or lock left and no input changed.
tree_state() {
  (cd "$1" && find . -path ./.lib -prune -o -type f -print | LC_ALL=C sort | while IFS= read -r f; do md5sum "$f"; done)
}

# [progress=ERE] refused NAME PATTERN DIR -- command...: the four checks of bad input:
# exit status 2, exactly one line on stderr and it matches PATTERN (an
# extended regular expression), nothing under DIR (the inputs and the
# outputs' directory) created, removed or changed.
refused() {
  local name=$1 pattern=$2 dir=$3; shift 4
  local before after rc lines why=""
  mkdir -p "$t/.lib"
  before=$(tree_state "$dir")
  "$@" >"$t/.lib/out" 2>"$t/.lib/err"; rc=$?
  after=$(tree_state "$dir")
  # lines of progress (matching $progress, when set) may come before the error line
  lines=$(tr '\r' '\n' <"$t/.lib/err" | grep -v '^ *$' | { if [ -n "${progress:-}" ]; then grep -Ev -- "$progress"; else cat; fi; } | wc -l)
  [ $rc -eq 2 ] || why="$why exit $rc;"
  [ "$lines" -eq 1 ] || why="$why $lines lines on stderr;"
  grep -Eq -- "$pattern" "$t/.lib/err" || why="$why message not /$pattern/;"
  [ "$before" = "$after" ] || why="$why files changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -5 | tr '\n' ' ');"
  if [ -z "$why" ]; then ok "$name: $(cat "$t/.lib/err")"
  else bad "$name:$why stderr: $(head -c 400 "$t/.lib/err")"; fi
}

# (the captured output goes to $t/.lib, which tree_state skips)

# limited KB command...: the command with files limited to KB kilobytes (ulimit -f).
limited() {
  local kb=$1; shift
  bash -c 'ulimit -f "$0" && exec "$@"' "$kb" "$@"
}

# leftovers DIR: temporaries (NAME.tmp.PID) and lock files under DIR, one line.
leftovers() { find "$1" \( -name '*.tmp.*' -o -name '*.lock' \) -print 2>/dev/null | tr '\n' ' '; }

# summary NAME: the last line and the exit status of a test script.
summary() {
  echo "$1: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}

# files_state DIR...: every file under the DIRs by path, size, modification
# time and inode (cheap enough for every refused case of the older scripts;
# a replaced or rewritten input changes its inode or time). The scripts'
# own captures (stdout, stderr, err) are left out.
files_state() {
  local d
  for d in "$@"; do
    [ -d "$d" ] && find "$d" -path "$d/.lib" -prune -o -type f ! -name stdout ! -name stderr ! -name err \
      -printf '%p %s %T@ %i\n'
  done | LC_ALL=C sort
}
# unchanged_since STATE DIR...: empty when the DIRs' files are as STATE says,
# else the first differences, one line.
unchanged_since() {
  diff <(echo "$1") <(shift; files_state "$@") | grep '^[<>]' | head -4 | tr '\n' ' '
}
