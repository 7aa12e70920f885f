#!/bin/bash
# pangu fetch --source pangu-models against a local server
# (tests/models_server.py on 127.0.0.1, started here) laid out as the mirror
# ECMWF's ai-models downloads the released models from
# (ecmwf-lab/ai-models-panguweather, ai_models_panguweather/model.py,
# PanguWeather.download_url: .../repository/test-data/ai-models/pangu-weather/{file}),
# serving the committed released-layout fixtures under the released names:
# a cut transfer resumed and a 503 retried, byte for byte; pangu info reads
# the results; a rerun downloads nothing; a .part of an earlier run resumed;
# 1 h and 3 h refused naming the official drives; an HTML page answered with
# 200, a 404, an unrelated file of the same name, a locked output: exit 2, one
# error line, nothing left that looks complete. Never contacts the real
# service. Usage: tests/fetch_models_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/tests/fixtures"
t=$(mktemp -d)
cd "$t" || exit 1
py=/usr/bin/python3; [ -x $py ] || py=python3
# a safety net: anything but the local server goes to a port where nothing listens
export ALL_PROXY=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9 NO_PROXY=127.0.0.1 no_proxy=127.0.0.1
srv=""
trap '[ -n "$srv" ] && kill $srv 2>/dev/null; [ -z "${KEEP:-}" ] && rm -rf "$t"' EXIT
[ -n "${KEEP:-}" ] && echo "  (working directory kept: $t)"
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
limit() { timeout 120 "$@"; } # a bug that loops fails the test instead of hanging it
faults() { echo "$1" >faults.tmp && mv faults.tmp faults.json; }
mark() { wc -l <log; }
since() { tail -n +$(($1 + 1)) log; }
nofiles() { ! ls -A "$1" 2>/dev/null | grep -q .; } # DIR holds nothing, hidden files included
# the error lines of a run: not progress lines, not notes of retries, resumes, checks or the licence
errors() { grep -Ev " of .*/s|retry [0-9]+ of|resuming after|partial download is kept|checking it as pangu import|CC BY-NC-SA|^ *$" "$1"; }

echo "released-model fetch tests"
if $pangu fetch 2>&1 | grep -q "without network"; then
  echo "  (pangu built without libcurl: fetch tests skipped)"; exit 0
fi
dir=data/root/repository/test-data/ai-models/pangu-weather
mkdir -p $dir
src24="$fx/released/pangu_weather_24.onnx" src6="$fx/released_full/pangu_weather_6.onnx"
cp "$src24" $dir/pangu_weather_24.onnx && cp "$src6" $dir/pangu_weather_6.onnx
echo '[]' >faults.json
: >log
$py "$top/tests/models_server.py" --root data/root --port-file port --log log --faults faults.json &
srv=$!
for i in $(seq 1 100); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { echo "  FAILED: the test server did not start"; exit 1; }
base=http://127.0.0.1:$(cat port)
U="--url $base/repository/test-data/ai-models/pangu-weather"
quick="--retries 3 --backoff 0.05 --backoff-max 0.2 --timeout 5"
size24=$(stat -c %s "$src24")

# ---- 1 h and 3 h: only on the official repository's drives; refused before anything is asked or made
for h in 1 3; do
  m=$(mark)
  limit $pangu fetch --source pangu-models --leads 24,$h $U $quick --out r$h 2>err; rc=$?
  check "--leads 24,$h refused: $(cut -c1-150 err)..." \
    '[ $rc -eq 2 ] && [ $(wc -l <err) -eq 1 ] && grep -q "pangu_weather_$h.onnx is not on ai-models'"'"' mirror" err &&
     grep -q "https://github.com/198808xc/Pangu-Weather" err && grep -q "Google Drive and Baidu Netdisk" err &&
     [ ! -e r$h ] && [ "$(since $m | wc -l)" = 0 ]'
done
limit $pangu fetch --source pangu-models --leads 12 $U $quick --out r12 2>err; rc=$?
check "--leads 12: one line ($(cat err))" \
  '[ $rc -eq 2 ] && [ $(wc -l <err) -eq 1 ] && grep -q "\-\-leads 12: the released Pangu-Weather models are 1, 3, 6 and 24 h" err && [ ! -e r12 ]'

# ---- both files through a cut transfer and 503s: byte for byte, and pangu info reads them
faults '[{"match": "pangu_weather_24.onnx", "method": "GET", "kind": "cut", "bytes": 1000000},
         {"match": "pangu_weather_6.onnx", "kind": "503", "count": 2}]'
m=$(mark)
limit $pangu fetch --source pangu-models $U $quick --out models 2>err; rc=$?
faults '[]'
check "both models fetched (exit $rc; $(tail -1 err))" \
  '[ $rc -eq 0 ] && cmp -s models/pangu_weather_24.onnx "$src24" && cmp -s models/pangu_weather_6.onnx "$src6"'
check "the cut transfer resumed where it stopped (Range: bytes=1000000-), not restarted" \
  'since $m | grep "pangu_weather_24.onnx" | grep -q "\"range\": \"bytes=1000000-\", \"status\": 206" &&
   [ "$(since $m | grep "GET.*pangu_weather_24.onnx" | grep -c "\"range\": null")" = 1 ]'
check "the 503s retried with back-off" \
  '[ "$(since $m | grep "pangu_weather_6.onnx" | grep -c "\"status\": 503")" = 2 ] && grep -q "503 Service Unavailable; retry 1 of 3" err'
check "the mirror's files in ai-models' order (24, then 6), each after a HEAD for its size" \
  '[ "$(since $m | grep "\"status\": [23]0" | grep -o "\"method\": \"[A-Z]*\", \"path\": \"[^\"]*" | sed "s/.*\"\(HEAD\|GET\)\".*\/\([^\/]*\)$/\1 \2/" | uniq | tr "\n" " ")" = "HEAD pangu_weather_24.onnx GET pangu_weather_24.onnx HEAD pangu_weather_6.onnx GET pangu_weather_6.onnx " ]'
check "the licence printed (CC BY-NC-SA 4.0, commercial use forbidden)" \
  'grep -q "licensed CC BY-NC-SA 4.0 (https://creativecommons.org/licenses/by-nc-sa/4.0/): commercial use is forbidden" err'
check "progress lines and one line per file written" \
  'grep -q "pangu fetch: .* of .*/s" err && grep -q "wrote models/pangu_weather_24.onnx (7.4 MB, a 24 h model on a 9 x 96 grid)" err &&
   grep -q "wrote models/pangu_weather_6.onnx" err'
check "nothing else in the output directory (no .part, no lock)" \
  '[ "$(ls -A models | tr "\n" " ")" = "pangu_weather_24.onnx pangu_weather_6.onnx " ]'
$pangu info models/pangu_weather_24.onnx >info24 2>&1; rc24=$?
$pangu info models/pangu_weather_6.onnx >info6 2>&1; rc6=$?
check "pangu info reads both (24 h and 6 h, the released models' variant)" \
  '[ $rc24 -eq 0 ] && [ $rc6 -eq 0 ] && grep -q "^lead time         24 h" info24 && grep -q "^lead time         6 h" info6 &&
   grep -q "released models" info24'

# ---- a rerun: the files are the mirror's size and read as the models; nothing downloaded
m=$(mark)
limit $pangu fetch --source pangu-models $U $quick --out models 2>err; rc=$?
check "a rerun keeps both, downloads nothing (HEADs only)" \
  '[ $rc -eq 0 ] && [ $(grep -c "exists ([0-9]* bytes, as on the mirror, a [0-9]* h model" err) -eq 2 ] &&
   ! since $m | grep -q "\"GET\"" && grep -q "0 files written, 2 already there" err'

# ---- the mirror from a configuration file ([urls] pangu_models_url), as the other sources' roots
printf '[fetch]\nsource = pangu-models\nleads = 6\nretries = 1\n[urls]\npangu_models_url = %s/repository/test-data/ai-models/pangu-weather/\n' \
  "$base" >site.ini
m=$(mark)
limit $pangu fetch --config site.ini --output cfg 2>err; rc=$?
check "a configuration file: source, leads and the mirror's root ([urls] pangu_models_url)" \
  '[ $rc -eq 0 ] && [ "$(ls -A cfg)" = pangu_weather_6.onnx ] && cmp -s cfg/pangu_weather_6.onnx "$src6" &&
   since $m | grep -q "\"path\": \"/repository/test-data/ai-models/pangu-weather/pangu_weather_6.onnx\""'

# ---- a .part an earlier run left: resumed from its end
mkdir part && head -c 3000000 "$src24" >part/.pangu_weather_24.onnx.part
m=$(mark)
limit $pangu fetch --source pangu-models --leads 24 $U $quick --out part 2>err; rc=$?
check "a .part of an earlier run resumed after its 3000000 bytes (--leads 24 alone)" \
  '[ $rc -eq 0 ] && cmp -s part/pangu_weather_24.onnx "$src24" && grep -q "resuming after 3000000 bytes of an earlier run" err &&
   since $m | grep -q "\"range\": \"bytes=3000000-\"" && [ "$(ls -A part)" = pangu_weather_24.onnx ] && ! since $m | grep -q weather_6'
# a complete .part (the earlier run stopped before its check): checked and renamed, no GET
mkdir whole && cp "$src6" whole/.pangu_weather_6.onnx.part
m=$(mark)
limit $pangu fetch --source pangu-models --leads 6 $U $quick --out whole 2>err; rc=$?
check "a complete .part checked and renamed without a GET" \
  '[ $rc -eq 0 ] && cmp -s whole/pangu_weather_6.onnx "$src6" && ! since $m | grep -q "\"GET\"" && [ "$(ls -A whole)" = pangu_weather_6.onnx ]'
# a server that ignores Range: the transfer starts over and still ends byte for byte
mkdir norange && head -c 2000000 "$src24" >norange/.pangu_weather_24.onnx.part
faults '[{"match": "pangu_weather_24.onnx", "kind": "norange", "count": -1}]'
limit $pangu fetch --source pangu-models --leads 24 $U $quick --out norange 2>err; rc=$?
faults '[]'
check "a server that ignores Range: started over, byte for byte" \
  '[ $rc -eq 0 ] && cmp -s norange/pangu_weather_24.onnx "$src24" && [ "$(ls -A norange)" = pangu_weather_24.onnx ]'

# ---- bad answers: one error line, exit 2, nothing left that looks complete
faults '[{"match": "pangu_weather_6.onnx", "kind": "html", "count": -1}]'
limit $pangu fetch --source pangu-models --leads 6 $U $quick --out html 2>err; rc=$?
faults '[]'
check "an HTML page answered with 200 refused: $(errors err)" \
  '[ $rc -eq 2 ] && [ "$(errors err | wc -l)" = 1 ] && tail -1 err | grep -q "pangu_weather_6.onnx: an HTML page ([0-9]* bytes), not the Pangu-Weather ONNX model" &&
   nofiles html'
# a file the mirror serves whole that is not a model as import reads it (the model cut short, as its
# Content-Length says): the check refuses it before the rename
cp $dir/pangu_weather_24.onnx keep24 && head -c 4000000 keep24 >$dir/pangu_weather_24.onnx
limit $pangu fetch --source pangu-models --leads 24 $U $quick --out wrong 2>err; rc=$?
cp keep24 $dir/pangu_weather_24.onnx
check "a complete download that import does not read refused: $(tail -1 err | cut -c1-160)..." \
  '[ $rc -eq 2 ] && [ "$(errors err | wc -l)" = 1 ] && tail -1 err | grep -q "pangu_weather_24.onnx: not a Pangu-Weather ONNX model as pangu import reads it" &&
   nofiles wrong'
m=$(mark)
limit $pangu fetch --source pangu-models --url "$base/repository/test-data/ai-models" $quick --out missing 2>err; rc=$?
check "a 404 (a wrong --url): $(errors err | cut -c1-160)..." \
  '[ $rc -eq 2 ] && [ "$(errors err | wc -l)" = 1 ] && tail -1 err | grep -q "ai-models/pangu_weather_24.onnx: HTTP 404 Not Found: no pangu_weather_24.onnx there" &&
   tail -1 err | grep -q "get.ecmwf.int/repository/test-data/ai-models/pangu-weather" && [ ! -e missing ] && ! since $m | grep -q "\"GET\""'
faults '[{"match": "pangu_weather_24.onnx", "kind": "503", "count": -1}]'
limit $pangu fetch --source pangu-models $U --retries 2 --backoff 0.05 --backoff-max 0.1 --timeout 5 --out down 2>err; rc=$?
faults '[]'
check "a mirror that keeps answering 503: the error after the retries, nothing left" \
  '[ $rc -eq 2 ] && tail -1 err | grep -q "503 Service Unavailable, still after 3 attempts" && [ ! -e down ]'
faults '[{"match": "pangu_weather_24.onnx", "method": "GET", "kind": "cut", "bytes": 500000, "count": -1}]'
limit $pangu fetch --source pangu-models --leads 24 $U --retries 0 --timeout 5 --out cut 2>err; rc=$?
faults '[]'
check "a transfer cut for good: exit 2, the .part kept (hidden) for a rerun, no model" \
  '[ $rc -eq 2 ] && [ "$(ls -A cut)" = .pangu_weather_24.onnx.part ] && [ $(stat -c %s cut/.pangu_weather_24.onnx.part) -eq 500000 ] &&
   grep -q "the partial download is kept as cut/.pangu_weather_24.onnx.part: rerun to resume" err'
limit $pangu fetch --source pangu-models --leads 24 $U $quick --out cut 2>err; rc=$?
check "... and the rerun completes it byte for byte" '[ $rc -eq 0 ] && cmp -s cut/pangu_weather_24.onnx "$src24" && [ "$(ls -A cut)" = pangu_weather_24.onnx ]'

# ---- a file of the released name that is not the released file: never skipped, never overwritten
mkdir other && echo "my notes" >other/pangu_weather_24.onnx
limit $pangu fetch --source pangu-models --leads 24 $U $quick --out other 2>err; rc=$?
check "an unrelated file of the same name refused, kept: $(errors err | cut -c1-140)..." \
  '[ $rc -eq 2 ] && [ "$(errors err | wc -l)" = 1 ] && grep -q "other/pangu_weather_24.onnx: exists with 9 bytes, .* has $size24: not the released file" err &&
   [ "$(cat other/pangu_weather_24.onnx)" = "my notes" ] && [ "$(ls -A other)" = pangu_weather_24.onnx ]'
mkdir same && head -c $size24 /dev/urandom >same/pangu_weather_24.onnx && cp same/pangu_weather_24.onnx same.keep
limit $pangu fetch --source pangu-models --leads 24 $U $quick --out same 2>err; rc=$?
check "a file of the same size that is no model refused, kept: $(errors err | cut -c1-140)..." \
  '[ $rc -eq 2 ] && [ "$(errors err | wc -l)" = 1 ] && grep -q "same/pangu_weather_24.onnx: not a Pangu-Weather ONNX model as pangu import reads it" err &&
   grep -q "move it away and rerun" err && cmp -s same/pangu_weather_24.onnx same.keep && [ "$(ls -A same)" = pangu_weather_24.onnx ]'

# ---- the output lock: a second job on the same file fails at once
mkdir locked
flock locked/pangu_weather_24.onnx.lock sleep 5 &
holder=$!
sleep 0.3
limit $pangu fetch --source pangu-models --leads 24 $U $quick --out locked 2>err; rc=$?
kill $holder 2>/dev/null; wait $holder 2>/dev/null
check "a file another job is writing: refused at once ($(errors err | cut -c1-120)...)" \
  '[ $rc -eq 2 ] && grep -q "locked/pangu_weather_24.onnx: being written by another job" err && [ ! -e locked/pangu_weather_24.onnx ]'

echo "released-model fetch: $pass passed, $fail failed"
[ $fail -eq 0 ]
