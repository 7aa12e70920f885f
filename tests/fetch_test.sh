#!/bin/bash
# pangu fetch against a local server (tests/fetch_server.py on 127.0.0.1,
# started here) that lays out real GRIB2 files as ECMWF open data and NCEP
# GFS do and emulates the CDS API: only the fields needed, by range
# requests; retries on 503 and time-outs; a cut transfer resumed; a partial
# download resumed by a rerun; the size of every field checked against the
# index; 401, 403, 404 (with the dates the server lists), a failed CDS job, a
# full disk; nothing left behind that a later command could take for
# complete. Never contacts the real services. Usage: tests/fetch_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
t=$(mktemp -d)
cd "$t" || exit 1
. "$top/tests/fetch_lib.sh"
echo "fetch tests"
if $pangu fetch 2>&1 | grep -q "without network"; then
  echo "  (pangu built without libcurl: fetch tests skipped)"; exit 0
fi
start=$(date +%s)
serve_test_files
echo "  (test data: $(( $(date +%s) - start )) s)"
E="--url $base/ecmwf" G="--url $base/gfs" C="--url $base/cds/api"
quick="--retries 3 --backoff 0.05 --backoff-max 0.2 --timeout 2"
# the fields pangu needs, as the service's own file holds them (in its order)
wanted() { grib_copy -w shortName=gh/q/t/u/v/msl/prmsl/10u/10v/2t "$1" "$2" 2>/dev/null; }
src_ifs=data/root/ecmwf/20261201/00z/ifs/0p25/oper/20261201000000-0h-oper-fc.grib2
src_gfs=data/root/gfs/gfs.20261201/00/atmos/gfs.t00z.pgrb2.0p25.f024
nofiles() { ! ls -A "$1" 2>/dev/null | grep -q .; } # DIR holds nothing, hidden files included

# ---- a full disk (files limited to 8 KB): the error in one line after the progress lines, exit 2, no file left
(ulimit -f 8 && exec $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 $E $quick --out fulldisk) 2>err; rc=$?
check "fetch on a full disk: exit $rc, one error line, nothing left ($(tail -1 err))" \
  '[ $rc -eq 2 ] && [ $(grep -Evc " of .*/s|^ *$" err) -eq 1 ] && tail -1 err | grep -Eq "fulldisk.*(disk full|cannot|File too large)" && nofiles fulldisk'

# ---- --out naming a file that is not a directory: refused before anything is fetched
: > notadir
m=$(mark)
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 $E $quick --out notadir 2>err; rc=$?
check "--out naming a plain file: refused ($(tail -1 err)), no request made" \
  '[ $rc -eq 2 ] && grep -q "notadir: exists and is not a directory" err && [ -f notadir ] && [ ! -s notadir ] &&
   ! since $m | grep -q status'

# ---- ECMWF open data
m=$(mark)
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 $E $quick --out an 2>err; rc=$?
wanted $src_ifs want.grib2
nrange=$(since $m | grep -c '"range": "bytes=')
check "ecmwf-opendata analysis: the 69 fields, byte for byte the service's ($(tail -1 err))" \
  '[ $rc -eq 0 ] && cmp -s an/ifs_2026120100.grib2 want.grib2 && [ "$(grib_count an/ifs_2026120100.grib2)" = 69 ]'
check "only the index and range requests ($nrange of them for 69 fields, the relative humidity skipped); no whole-file GET" \
  '[ $nrange -ge 2 ] && [ $nrange -lt 69 ] && ! since $m | grep "oper-fc.grib2\"" | grep -q "\"range\": null" &&
   since $m | grep -q "oper-fc.grib2.index"'
check "nothing else in the output directory (no temporary file left)" '[ "$(ls -A an)" = ifs_2026120100.grib2 ]'
check "progress lines: bytes, rate (and a line per tenth of the bytes)" 'grep -q "pangu fetch: .* of .*/s" err'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 --leads 24-72/24 $E $quick --out fc 2>err; rc=$?
check "--leads 24-72/24: one file per step, each at its valid time" \
  '[ $rc -eq 0 ] && [ "$(ls fc | tr "\n" " ")" = "ifs_2026120100_f024.grib2 ifs_2026120100_f048.grib2 ifs_2026120100_f072.grib2 " ] &&
   [ "$(grib_get -p validityDate,step fc/ifs_2026120100_f048.grib2 | sort -u)" = "20261203 48" ]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T06/2026-12-01T18/12 $E $quick --out scda 2>err; rc=$?
check "06 and 18 UTC runs from the scda stream (--time T0/T1/H)" \
  '[ $rc -eq 0 ] && [ -s scda/ifs_2026120106.grib2 ] && [ -s scda/ifs_2026120118.grib2 ] && grep -q "/06z/ifs/0p25/scda/" log'
# (the three analyses: statistics over time need two times or more)
$pangu stats --input an/ifs_2026120100.grib2 --input 'scda/ifs_*.grib2' --output st.nc 2>/dev/null
check "the reader takes it (pangu stats: z from gh times g)" \
  'z=$(ncks -H -C -s "%.6g\n" -v z_mean st.nc | sed -n 6p); awk -v z="$z" "BEGIN { exit !(z > 50000 && z < 58000) }"'
m=$(mark)
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 $E $quick --out an 2>err; rc=$?
check "a rerun skips finished files, downloads nothing" \
  '[ $rc -eq 0 ] && grep -q "exists, skipped" err && [ "$(since $m | wc -l)" = 0 ]'

faults '[{"match": "-fc\\.grib2$", "kind": "trickle", "rate": 400000, "count": -1}]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-02T00 $E $quick --out slow 2>err; rc=$?
faults '[]'
check "a slow transfer (400 kB/s): progress lines with rate and ETA ($(grep ETA err | head -1 | cut -c1-70))" \
  '[ $rc -eq 0 ] && [ -s slow/ifs_2026120200.grib2 ] && [ "$(grep -c "pangu fetch: [0-9.]* [kMG]*B of [0-9.]* [kMG]*B  [0-9.]* [kMG]*B/s  ETA [0-9]* s" err)" -ge 3 ]'
printf '[fetch]\nsource = ecmwf-opendata\ntime = 2026-12-01T12\nretries = 1\n[urls]\necmwf_opendata_url = %s/ecmwf\ngfs_url = %s/gfs\n' \
  "$base" "$base" >site.ini
limit $pangu fetch --config site.ini --out cfg 2>err; rc=$?
limit $pangu fetch --config site.ini --source gfs --time 2026-12-01T06 --out cfg 2>err2; rc2=$?
check "a configuration file with the mirrors of the sources ([urls]); flags override its keys" \
  '[ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ -s cfg/ifs_2026120112.grib2 ] && [ -s cfg/gfs_2026120106.grib2 ]'

# ---- NCEP GFS
m=$(mark)
limit $pangu fetch --source gfs --time 2026-12-01T00 --leads 24 $G $quick --out gfs 2>err; rc=$?
wanted $src_gfs wantg.grib2
check "gfs: .idx inventory, range requests, the 69 fields byte for byte ($(tail -1 err))" \
  '[ $rc -eq 0 ] && cmp -s gfs/gfs_2026120100_f024.grib2 wantg.grib2 && grib_get -p shortName gfs/gfs_2026120100_f024.grib2 | grep -q prmsl'
check "gfs: the last field's length from a HEAD request (it runs to the end of the file)" \
  'since $m | grep -q "\"method\": \"HEAD\", \"path\": \"/gfs/gfs.20261201/00/atmos/gfs.t00z.pgrb2.0p25.f024\""'
limit $pangu fetch --source gfs --time 2026-12-01T06 $G $quick --out gfs 2>err; rc=$?
check "gfs analysis (f000, anl)" '[ $rc -eq 0 ] && [ -s gfs/gfs_2026120106.grib2 ]'

# ---- retries, time-outs, cut transfers, resume
faults '[{"match": ".index", "kind": "503", "count": 2}]'
m=$(mark)
limit $pangu fetch --source ecmwf-opendata --time 2026-12-02T00 $E $quick --out r1 2>err; rc=$?
check "503 twice: retried with back-off, then fetched" \
  '[ $rc -eq 0 ] && [ -s r1/ifs_2026120200.grib2 ] && grep -q "503 Service Unavailable; retry 2 of 3" err &&
   [ "$(since $m | grep -c "\"status\": 503")" = 2 ]'
faults '[{"match": ".index", "kind": "503", "count": -1}]'
s0=$(date +%s.%N)
limit $pangu fetch --source ecmwf-opendata --time 2026-12-02T00 $E --retries 2 --backoff 0.2 --backoff-max 5 --out r2 2>err; rc=$?
el=$(awk -v a=$s0 -v b=$(date +%s.%N) 'BEGIN { print b - a }')
check "503 for ever: gives up after 3 attempts, exponential waits 0.2 + 0.4 s (${el} s), no file, no new directory r2 ($(tail -1 err))" \
  '[ $rc -eq 2 ] && grep -q "503 Service Unavailable, still after 3 attempts" err && [ ! -e r2 ] &&
   awk -v e=$el "BEGIN { exit !(e >= 0.6 && e < 5) }"'
faults '[{"match": ".index", "kind": "503", "count": 1, "retry_after": 1}]'
s0=$(date +%s.%N)
limit $pangu fetch --source ecmwf-opendata --time 2026-12-02T00 $E --retries 3 --backoff 0.05 --backoff-max 3 --timeout 2 --out r3 2>err; rc=$?
el=$(awk -v a=$s0 -v b=$(date +%s.%N) 'BEGIN { print b - a }')
check "Retry-After: 1 honoured over a shorter back-off (${el} s)" '[ $rc -eq 0 ] && awk -v e=$el "BEGIN { exit !(e >= 1) }"'
faults '[{"match": ".index", "kind": "slow", "delay": 4, "count": 1}]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-03T00 $E --retries 3 --backoff 0.05 --timeout 1 --out r4 2>err; rc=$?
check "a server that does not answer within --timeout 1: timed out, retried, fetched" \
  '[ $rc -eq 0 ] && [ -s r4/ifs_2026120300.grib2 ] && grep -q "timed out" err'
faults '[{"match": "-fc\\.grib2$", "kind": "slow", "delay": 0.5, "count": 3}]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-03T00 $E --retries 0 --timeout 3 --out r5 2>err; rc=$?
check "a slow answer within the time-out is waited for (no retry)" '[ $rc -eq 0 ] && ! grep -q retry err'
faults '[{"match": "-fc\\.grib2$", "kind": "cut", "bytes": 3000, "count": 2}]'
m=$(mark)
limit $pangu fetch --source ecmwf-opendata --time 2026-12-04T00 $E $quick --out r6 2>err; rc=$?
wanted data/root/ecmwf/20261204/00z/ifs/0p25/oper/20261204000000-0h-oper-fc.grib2 want4.grib2
first=$(since $m | grep '"range": "bytes=' | head -1 | sed 's/.*bytes=\([0-9]*\)-.*/\1/')
second=$(since $m | grep '"range": "bytes=' | sed -n 2p | sed 's/.*bytes=\([0-9]*\)-.*/\1/')
check "a transfer cut short twice resumes where it stopped (bytes=$first- then bytes=$second-), same file" \
  '[ $rc -eq 0 ] && cmp -s r6/ifs_2026120400.grib2 want4.grib2 && [ "$second" = $((first + 3000)) ]'
faults '[{"match": "-fc\\.grib2$", "kind": "cut", "bytes": 20000, "count": -1}]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-05T00 $E --retries 0 --timeout 2 --out r7 2>err; rc=$?
part=$(ls -A r7 | grep part)
check "a failed run keeps only a hidden partial file ($part), nothing a glob takes for complete" \
  '[ $rc -eq 2 ] && [ -n "$part" ] && [ -z "$(ls r7)" ] && grep -q "kept as .*rerun to resume" err'
faults '[]'
m=$(mark)
limit $pangu fetch --source ecmwf-opendata --time 2026-12-05T00 $E $quick --out r7 2>err; rc=$?
wanted data/root/ecmwf/20261205/00z/ifs/0p25/oper/20261205000000-0h-oper-fc.grib2 want5.grib2
check "the rerun resumes the partial file ($(grep resuming err | cut -c1-90)...), same file" \
  '[ $rc -eq 0 ] && grep -q "resuming after 20000 bytes" err && cmp -s r7/ifs_2026120500.grib2 want5.grib2 &&
   ! since $m | grep -q "\"range\": \"bytes=0-" && [ "$(ls -A r7)" = ifs_2026120500.grib2 ]'
faults '[{"match": "-fc\\.grib2$", "kind": "norange", "count": -1}]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-06T00 $E $quick --out r8 2>err; rc=$?
check "a server that ignores range requests is named ($(tail -1 err | cut -c1-100)...)" \
  '[ $rc -eq 2 ] && grep -q "ignores HTTP range requests" err && [ -z "$(ls r8)" ]'
faults '[]'

# ---- the index checked
mkdir -p data/root/bad && cp -r data/root/ecmwf/20261201 data/root/bad/
idx=data/root/bad/20261201/00z/ifs/0p25/oper/20261201000000-0h-oper-fc.grib2.index
$py - "$idx" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for e in lines:
    if e["param"] == "t" and e.get("levelist") == "500":
        e["_length"] -= 10  # the index disagrees with the file
open(sys.argv[1], "w").write("".join(json.dumps(e) + "\n" for e in lines))
EOF
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 --url $base/bad $quick --out b1 2>err; rc=$?
check "a field whose size disagrees with the index: named, no file ($(tail -1 err | cut -c1-110)...)" \
  '[ $rc -eq 2 ] && grep -q "t at 500 from bytes .* is not one GRIB message of the .* bytes its index gives" err && nofiles b1'
cp data/root/ecmwf/20261201/00z/ifs/0p25/oper/20261201000000-0h-oper-fc.grib2.index $idx
sed -i '/"levelist": "850", "param": "q"/d; /"param": "2t"/d' $idx
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 --url $base/bad $quick --out b2 2>err; rc=$?
check "an index lacking fields names them ($(tail -1 err | cut -c1-120)...)" \
  '[ $rc -eq 2 ] && grep -q "lacks q at 850 hPa; 2t" err && nofiles b2'

# ---- 404: what the server has
limit $pangu fetch --source ecmwf-opendata --time 2026-12-09T00 $E $quick --out n1 2>err; rc=$?
check "a date not published yet: the dates the server lists ($(tail -1 err | sed 's/.*(not/(not/'))" \
  '[ $rc -eq 2 ] && grep -q "404 Not Found: no runs of 20261209 at .*(not published yet); it holds the dates 20261130 20261201 .* 20261206" err && nofiles n1'
limit $pangu fetch --source ecmwf-opendata --time 2026-11-01T00 $E $quick --out n2 2>err; rc=$?
check "a date already removed" '[ $rc -eq 2 ] && grep -q "already removed from this service" err'
limit $pangu fetch --source ecmwf-opendata --time 2026-11-30T06 $E $quick --out n3 2>err; rc=$?
check "a run not there: the runs of that date ($(tail -1 err | sed 's/.*its runs/its runs/'))" \
  '[ $rc -eq 2 ] && grep -q "has no 06z UTC run of 20261130 (not published yet?); its runs: 00z 12z" err'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 --leads 240 $E $quick --out n4 2>err; rc=$?
check "a step not published" '[ $rc -eq 2 ] && grep -q "run is there, step 240 h is not" err'
limit $pangu fetch --source gfs --time 2026-12-03T00 $G $quick --out n5 2>err; rc=$?
check "gfs: the gfs.YYYYMMDD dates listed" '[ $rc -eq 2 ] && grep -q "it holds the dates 20261201" err'
faults '[{"match": ".index", "kind": "403", "count": -1}]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-09T00 $E $quick --out n6 2>err; rc=$?
check "403 (as S3 mirrors answer for files that do not exist) explained the same way" \
  '[ $rc -eq 2 ] && grep -q "403 Forbidden: no runs of 20261209" err'
faults '[]'

# ---- a full disk
( ulimit -f 100; trap '' XFSZ
  limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 --leads 24 $E $quick --out full 2>err ); rc=$?
check "a full disk: a clear error, no file at all ($(tail -1 err | cut -c1-120))" \
  '[ $rc -eq 2 ] && grep -q "the disk is full" err && nofiles full'

# ---- the CDS
unset CDSAPI_URL CDSAPI_KEY CDSAPI_RC
export HOME=$t/home
mkdir -p $HOME
limit $pangu fetch --source cds --time 2026-12-01T00 $C $quick --out c0 2>err; rc=$?
check "no key: says where to put it ($(tail -1 err | cut -c1-100)...)" \
  '[ $rc -eq 2 ] && grep -q "no CDS key: put the lines .url: .* and .key: .* in .*home/.cdsapirc, or set CDSAPI_URL and CDSAPI_KEY" err'
printf 'url: %s/cds/api\nkey: test-key-123\n' "$base" >$HOME/.cdsapirc
m=$(mark)
limit $pangu fetch --source cds --time 2026-12-01T00/2026-12-01T12/6 $quick --out c1 2>err; rc=$?
check "cds (url and key from ~/.cdsapirc): submitted, polled, downloaded ($(grep -c "CDS job" err) job lines)" \
  '[ $rc -eq 0 ] && [ -s c1/era5_pl_20261201.nc ] && [ -s c1/era5_sfc_20261201.nc ] &&
   grep -q "CDS job running" err && [ "$(ls -A c1 | tr "\n" " ")" = "era5_pl_20261201.nc era5_sfc_20261201.nc " ]'
check "the key goes to the API only, never to the download host" \
  'since $m | grep "/cds/api/" | grep -q "\"token\": \"test-key-123\"" && since $m | grep "/cds/download/" | grep -q "\"token\": null" &&
   ! since $m | grep "/cds/download/" | grep -q test-key'
post=$(since $m | grep -c '"method": "POST"'); polls=$(since $m | grep -c 'jobs/[0-9a-f]*", "range')
check "one request per dataset ($post POST), the job polled until successful ($polls polls)" '[ $post = 2 ] && [ $polls -ge 6 ]'
$pangu stats --input c1/era5_pl_20261201.nc --input c1/era5_sfc_20261201.nc --output cs.nc 2>err; rc=$?
check "the reader takes the NetCDF the CDS delivers (pangu stats over it)" '[ $rc -eq 0 ] && [ -s cs.nc ]'
CDSAPI_URL=$base/cds/api CDSAPI_KEY=test-key-123 HOME=/nonexistent \
  limit $pangu fetch --source cds --time 2026-12-01T00/2026-12-02T12/12 --format grib $quick --out c2 2>err; rc=$?
check "CDSAPI_URL and CDSAPI_KEY; --format grib; 2 days x 2 hours in one request per dataset" \
  '[ $rc -eq 0 ] && [ "$(grib_count c2/era5_pl_20261201-20261202.grib)" = $((4 * 65)) ] && [ "$(grib_count c2/era5_sfc_20261201-20261202.grib)" = 16 ]'
limit $pangu fetch --source cds --time 2026-12-01T00,2026-12-02T06 $quick --out c3 2>err; rc=$?
check "times that are not a day x hour product: one request per day" \
  '[ $rc -eq 0 ] && ls c3/era5_pl_20261201.nc c3/era5_pl_20261202.nc c3/era5_sfc_20261202.nc >/dev/null'
printf 'url: %s/cds/api\nkey: wrong-key\n' "$base" >rc2
CDSAPI_RC=rc2 limit $pangu fetch --source cds --time 2026-12-01T00 $quick --out c4 2>err; rc=$?
check "a wrong key (CDSAPI_RC): 401 names the file it came from ($(tail -1 err | cut -c1-110)...)" \
  '[ $rc -eq 2 ] && grep -q "401 Unauthorized: the CDS does not accept the key from rc2" err && nofiles c4'
printf 'url: %s/cds/api\nkey: 12345:abcdef\n' "$base" >rc3
CDSAPI_RC=rc3 limit $pangu fetch --source cds --time 2026-12-01T00 $quick --out c4 2>err; rc=$?
check "an old UID:KEY key: says so" '[ $rc -eq 2 ] && grep -q "UID:KEY are those of the CDS before 2024" err'
faults '[{"match": "reanalysis-era5-pressure-levels/execution", "kind": "403", "count": -1, "title": "Operation not allowed", "detail": "required licences not accepted"}]'
limit $pangu fetch --source cds --time 2026-12-01T00 $quick --out c5 2>err; rc=$?
check "403: the licence to accept ($(tail -1 err | sed 's/.*accept/accept/' | cut -c1-100)...)" \
  '[ $rc -eq 2 ] && grep -q "403 Forbidden: .*required licences not accepted.*accept the dataset.s licence on its download page (.*/datasets/reanalysis-era5-pressure-levels?tab=download)" err && nofiles c5'
faults '[{"match": "/jobs/", "kind": "503", "count": 2}]'
limit $pangu fetch --source cds --time 2026-12-02T00 $quick --out c6 2>err; rc=$?
check "503 while polling: retried" '[ $rc -eq 0 ] && [ -s c6/era5_pl_20261202.nc ] && grep -q "503" err'
faults '[]'
limit $pangu fetch --source cds --time 2026-12-20T00 $quick --out c7 2>err; rc=$?
check "a date the CDS has no data for: the job fails, its reason shown ($(tail -1 err | sed 's/.*is failed/failed/'))" \
  '[ $rc -eq 2 ] && grep -q "is failed: The job has failed: no data is available for" err && nofiles c7'
faults '[{"match": "/cds/download/", "kind": "cut", "bytes": 5000, "count": -1}]'
limit $pangu fetch --source cds --time 2026-12-02T06 --url $base/cds/api --retries 0 --backoff 0.05 --out c8 2>err; rc=$?
check "a cut CDS download: the job and the partial file are kept ($(ls -A c8 | tr '\n' ' '))" \
  '[ $rc -eq 2 ] && ls -A c8 | grep -q "^.era5_pl_20261202.nc.job$" && ls -A c8 | grep -q "^.era5_pl_20261202.nc.part$" && [ -z "$(ls c8)" ]'
faults '[]'
m=$(mark)
limit $pangu fetch --source cds --time 2026-12-02T06 $quick --out c8 2>err; rc=$?
check "the rerun continues the same job and resumes the download (Range from byte 5000)" \
  '[ $rc -eq 0 ] && grep -q "continuing CDS job" err && grep -q "resuming after 5000 bytes" err &&
   since $m | grep "/cds/download/" | grep -q "\"range\": \"bytes=5000-\"" && ! since $m | grep -q "\"method\": \"POST\", \"path\": \"/cds/api/retrieve/v1/processes/reanalysis-era5-pressure-levels" &&
   [ "$(ls -A c8 | tr "\n" " ")" = "era5_pl_20261202.nc era5_sfc_20261202.nc " ]'
limit $pangu fetch --source cds --time 2026-12-01T00 --leads 24 $C $quick --out c9 2>err; rc=$?
check "--leads with the CDS: refused (ERA5 is analyses)" '[ $rc -eq 2 ] && grep -q "the CDS source fetches ERA5 analyses" err'

# ---- bad input
expect() { local name=$1 pat=$2; shift 2; limit "$@" >/dev/null 2>err; local rc=$?
  if [ $rc -eq 2 ] && grep -q -- "$pat" err; then ok "$name: $(tail -1 err | cut -c1-110)"; else bad "$name (exit $rc: $(tail -c 200 err))"; fi; }
expect "unknown source" "expected ecmwf-opendata, gfs or cds" $pangu fetch --source era6 --time 2026-12-01 $G --out x
expect "bad time" "time '2026-13-01'" $pangu fetch --source gfs --time 2026-13-01 $G --out x
expect "bad range" "needs END >= START" $pangu fetch --source gfs --time 2026-12-02/2026-12-01/6 $G --out x
expect "minutes" "whole hours" $pangu fetch --source gfs --time 2026-12-01T00:30 $G --out x
expect "bad retries" "--retries 'x'" $pangu fetch --source gfs --time 2026-12-01 --retries x $G --out x
expect "missing --out" "usage: pangu fetch" $pangu fetch --source gfs --time 2026-12-01 $G
expect "unknown option" "unknown option" $pangu fetch --source gfs --time 2026-12-01 $G --out x --frobnicate 1
expect "a refused connection (nothing listens): retried, then named" "still after 2 attempts" \
  $pangu fetch --source gfs --time 2026-12-01 --url http://127.0.0.1:9 --retries 1 --backoff 0.01 --out x

echo "fetch: $pass passed, $fail failed ($(( $(date +%s) - start )) s)"
[ $fail -eq 0 ]
