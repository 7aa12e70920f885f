# Shared by tests/fetch_test.sh and tests/chain_test.sh (sourced): the local
# test server on 127.0.0.1 with the files of tests/fetch_data.sh, and helpers.
# Expects $pangu, $top and a fresh working directory; sets $base, $srv.
py=/usr/bin/python3; [ -x $py ] || py=python3
# a safety net: anything but the local server goes to a port where nothing listens
export ALL_PROXY=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9 NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
srv=""
[ -n "${KEEP:-}" ] && echo "  (working directory kept: $t)"
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; [ -z "${KEEP:-}" ] && rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# every command under a time limit: a bug that loops fails the test instead of hanging it
limit() { timeout 120 "$@"; }
# serve_test_files: make the files, start the server, set $base
serve_test_files() {
  "$top/tests/fetch_data.sh" "$pangu" data || { echo "  FAILED: making the test server's files"; exit 1; }
  echo '[]' >faults.json
  $py "$top/tests/fetch_server.py" serve --root data/root --port-file port --log log --faults faults.json \
    --cds-key test-key-123 --cds-polls 2 &
  srv=$!
  for i in $(seq 1 100); do [ -s port ] && break; sleep 0.1; done
  [ -s port ] || { echo "  FAILED: the test server did not start"; exit 1; }
  base=http://127.0.0.1:$(cat port)
}
# faults 'JSON': the server's fault rules from now on
faults() { echo "$1" >faults.tmp && mv faults.tmp faults.json; }
mark() { wc -l <log; }
since() { tail -n +$(($1 + 1)) log; }
