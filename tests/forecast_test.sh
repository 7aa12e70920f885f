#!/bin/bash
# End-to-end checks of pangu plan and pangu forecast: the plan's calls, the
# hierarchy against single steps, resume after a kill, ensembles, bad input.
# Usage: tests/forecast_test.sh bin/pangu
set -u
# The states here are random (pangu_ref.py state) or synthetic and the models
# random: their values need not fit each model's statistics, which the
# plausibility checks compare (tests/plausible_test.sh tests those).
export PANGU_NO_PLAUSIBILITY_CHECK=1
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/tests/fixtures"
t=$(mktemp -d)
. "$top/tests/lib.sh" # files_state, unchanged_since (and the counters)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# a NetCDF file but its history (the command line and when): what must be identical between runs
data() { ncdump "$1" | sed 1d | grep -v ':history = '; }

echo "pangu plan / forecast tests"
printf '0h -> 24h (24h model)\n24h -> 48h (24h model)\n48h -> 51h (3h model)\n51h -> 52h (1h model)\n52h -> 53h (1h model)\ncalls: 5\n' >want53
check "plan 53 h = 24 + 24 + 3 + 1 + 1" '$pangu plan --models 1,3,6,24 --leads 53 | cmp -s - want53'
check "plan 6-168/6 shares states: 28 calls" '[ "$($pangu plan --leads 6-168/6 | tail -1)" = "calls: 28" ]'
check "plan with 6 and 24 h models only" '[ "$($pangu plan --models 24,6 --leads 30,48 | tr "\n" ";")" = "0h -> 24h (24h model);24h -> 48h (24h model);24h -> 30h (6h model);calls: 3;" ]'
$pangu plan --models 6,24 --leads 3,6 >/dev/null 2>err; rc=$?
check "plan: unreachable lead is an error naming it" '[ $rc -eq 2 ] && grep -q "lead 3 h cannot be reached" err'

for h in 1 3 6 24; do $pangu init --preset tiny --lead $h --seed $h --std 0.05 --out m$h.h5 2>/dev/null; done
models="--model-1h m1.h5 --model-3h m3.h5 --model-6h m6.h5 --model-24h m24.h5"
run() { $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 "$@" 2>log; }
run --leads 0-30/6,53 --output 'fc_{init:%Y%m%d%H}.nc'
check "forecast writes a complete CF file" 'ncdump -h fc_1900010100.nc | grep -q ":complete = \"yes\"" && ncdump -h fc_1900010100.nc | grep -q "time = UNLIMITED ; // (7 currently)"'
# The 24 h lead of the hierarchy is one step of the 24 h model; 30 h adds one 6 h step.
$pangu step --model m24.h5 --input "$fx/tiny_in.nc" --output s24.nc 2>/dev/null
$pangu step --model m6.h5 --input s24.nc --output s30.nc 2>/dev/null
check "lead 24 h equals pangu step with the 24 h model" \
  '[ "$(ncks -H -C -d time,4 -v t2m fc_1900010100.nc | md5sum)" = "$(ncks -H -C -v t2m s24.nc | sed "s/time\[0\]/time[4]/" | md5sum)" ] || cmp -s <(ncks -H -C -s "%.9g\n" -d time,4 -v t2m fc_1900010100.nc) <(ncks -H -C -s "%.9g\n" -v t2m s24.nc)'
check "lead 30 h equals 24 h then 6 h steps" \
  'cmp -s <(ncks -H -C -s "%.9g\n" -d time,5 -v z fc_1900010100.nc) <(ncks -H -C -s "%.9g\n" -v z s30.nc)'
run --leads 0-30/6,53 --output 'fc_{init:%Y%m%d%H}.nc'
check "rerun skips a finished file" 'grep -q "complete already, skipped" log'

# Killed at any point and rerun: the same output as an uninterrupted run.
run --leads 0-72/1 --output 'ref_{init:%Y%m%d%H}.nc'
for delay in 0.05 0.3 0.8; do
  ( $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 0-72/1 \
      --output 'kill_{init:%Y%m%d%H}.nc' 2>/dev/null & pid=$!; sleep $delay; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null )
  run --leads 0-72/1 --output 'kill_{init:%Y%m%d%H}.nc'
  check "killed after ${delay}s and rerun: identical to an uninterrupted run, no temporary file left" \
    'cmp -s <(data kill_1900010100.nc) <(data ref_1900010100.nc) && ! ls | grep -q "kill_.*tmp"'
  rm -f kill_1900010100.nc kill_1900010100.nc.tmp.*
done

run --leads 0,24 --members 3 --perturb perlin --seed 7 --output 'ens_a.nc'
run --leads 0,24 --members 3 --perturb perlin --seed 7 --output 'ens_b.nc'
check "ensemble: one file per member beside the mean and spread file" \
  'ls ens_a.nc ens_a_m00.nc ens_a_m01.nc ens_a_m02.nc >/dev/null && ncdump -h ens_a.nc | grep -q "float t2m_spread(time, latitude, longitude)" &&
   ncdump -h ens_a.nc | grep -q ":ensemble_member_files = \"ens_a_m00.nc ens_a_m01.nc ens_a_m02.nc\"" &&
   ncdump -h ens_a_m02.nc | grep -q "float t2m(time, latitude, longitude)" && [ "$(ncks -H -C -s "%d" -v realization ens_a_m02.nc)" = 2 ]'
check "ensemble: seeded and reproducible" 'for f in ens_a.nc ens_a_m00.nc ens_a_m01.nc ens_a_m02.nc; do cmp -s <(data $f) <(data ${f/ens_a/ens_b} | sed "s/ens_b/ens_a/g") || exit 1; done'
check "ensemble: member 0 is the unperturbed control" \
  'cmp -s <(ncks -H -C -s "%.9g\n" -d time,1 -v t2m ens_a_m00.nc) <(ncks -H -C -s "%.9g\n" -d time,4 -v t2m fc_1900010100.nc)'
check "ensemble: members 1 and 2 differ from the control" \
  '! cmp -s <(ncks -H -C -s "%.9g\n" -d time,0 -v t2m ens_a_m00.nc) <(ncks -H -C -s "%.9g\n" -d time,0 -v t2m ens_a_m01.nc)'
check "ensemble: mean and spread of the members (NCO nces)" \
  'nces -O -y avg ens_a_m00.nc ens_a_m01.nc ens_a_m02.nc avg.nc &&
   paste <(ncks -H -C -s "%.9g\n" -v t2m avg.nc) <(ncks -H -C -s "%.9g\n" -v t2m_mean ens_a.nc) |
     awk "NF == 2 { d = \$1 - \$2; if (d < 0) d = -d; s = \$2 < 0 ? -\$2 : \$2; if (d > 1e-5 * s) exit 1 } END { exit NR == 0 }"'

# bad input: exit 2, one clear line, no output
expect_fail() { # name pattern output -- command...
  local name=$1 pattern=$2 out=$3; shift 4
  local before changed; before=$(files_state "$t" "$fx")
  "$@" >/dev/null 2>err; local rc=$?
  changed=$(unchanged_since "$before" "$t" "$fx")
  # progress lines (calls done, files written or skipped) may come before the one error line
  local lines; lines=$(tr '\r' '\n' <err | grep -v '^ *$' | grep -Ev 'calls [0-9]+/|: wrote |skipped|model calls in' | wc -l)
  if [ $rc -eq 2 ] && grep -q -- "$pattern" err && [ "$lines" -eq 1 ] && [ ! -e "$out" ] &&
     ! ls "$(dirname "$out")" 2>/dev/null | grep -q '\.tmp\.' && [ -z "$changed" ]; then
    ok "$name: $(tail -1 err)"
  else bad "$name (exit $rc, $lines error lines: $(tail -c 300 err); files changed: $changed)"; fi
}
expect_fail "no model for a lead the plan needs" "lead 3 h cannot be reached" x1.nc -- \
  $pangu forecast --model-6h m6.h5 --model-24h m24.h5 --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 3,6 --output x1.nc
$pangu init --preset tiny --grid 24,96 --lead 6 --out wide6.h5 2>/dev/null
expect_fail "models disagree on the grid" "disagree on grid" x2.nc -- \
  $pangu forecast --model-6h wide6.h5 --model-24h m24.h5 --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 30 --output x2.nc
expect_fail "a model file configured for the wrong lead" "is a 6 h model, configured as the 24 h model" x3.nc -- \
  $pangu forecast --model-24h m6.h5 --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 24 --output x3.nc
expect_fail "init time missing from the inputs" "no time 1900-01-02T00:00:00" x4.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-02T00 --leads 6 --output x4.nc
echo file >afile
expect_fail "an output directory that cannot be made" "exists and is not a directory" afile/x5.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --output afile/x5.nc
( ulimit -f 40
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 0-72/1 --output full.nc >/dev/null 2>err ); rc=$?
check "full disk during a write (no SIGXFSZ trap): one line, partial file removed ($(tail -c 120 err))" \
  '[ $rc -eq 2 ] && [ $(wc -l <err) -eq 1 ] && grep -q "full.nc" err && [ ! -e full.nc ] && ! ls | grep -q "full.nc.tmp"'
printf '[forecast]\nleads = 6\nlead_time = 3\n' >bad.ini
expect_fail "unknown configuration key, with its line" "bad.ini:3: unknown key 'lead_time'" x6.nc -- \
  $pangu forecast --config bad.ini $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --output x6.nc

# --precision bf16 (flag and configuration key): BF16 GEMMs where the CPU has AVX512_BF16.
printf '[forecast]\nprecision = bf16\n' >bf16.ini
if PANGU_NO_BF16=0 "$pangu" step --precision bf16 --model m24.h5 --input "$fx/tiny_in.nc" --output probe.nc 2>/dev/null; then
  run --leads 0-30/6 --precision bf16 --output 'bf_{init:%Y%m%d%H}.nc'
  $pangu forecast --config bf16.ini $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 0-30/6 --output bfc.nc 2>/dev/null
  check "forecast --precision bf16: complete, marked bf16, close to FP32 but not equal" \
    'ncdump -h bf_1900010100.nc | grep -q "bf16 GEMMs" &&
     ! cmp -s <(ncks -H -C -s "%.9g\n" -d time,5 -v z bf_1900010100.nc) <(ncks -H -C -s "%.9g\n" -d time,5 -v z fc_1900010100.nc) &&
     paste <(ncks -H -C -s "%.9g\n" -d time,5 -v t bf_1900010100.nc) <(ncks -H -C -s "%.9g\n" -d time,5 -v t fc_1900010100.nc) |
       awk "NF == 2 { d = \$1 - \$2; if (d < 0) d = -d; if (d > m) m = d } END { exit !(m > 0 && m < 1) }"'
  check "precision = bf16 in the configuration file equals the flag" 'cmp -s <(data bfc.nc) <(data bf_1900010100.nc)'
else
  echo "  note: this CPU has no AVX512_BF16: BF16 forecasts not run"
fi
expect_fail "precision bf16 without AVX512_BF16" "needs a CPU with AVX512_BF16" x7.nc -- \
  env PANGU_NO_BF16=1 $pangu forecast --config bf16.ini $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --output x7.nc
expect_fail "unknown precision" "precision 'fp16': expected fp32 or bf16" x8.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --precision fp16 --output x8.nc
# deflate: 0 writes uncompressed, 9 the smallest; the values are the same
run --leads 0-30/6,53 --deflate 0 --output 'd0_{init:%Y%m%d%H}.nc'
run --leads 0-30/6,53 --deflate 9 --output 'd9_{init:%Y%m%d%H}.nc'
check "deflate 0 / 1 / 9: the same values; uncompressed, level 1, level 9" \
  'cmp -s <(data fc_1900010100.nc | grep -v "source\|history\|pangu_request") <(data d0_1900010100.nc | grep -v "source\|history\|pangu_request") &&
   cmp -s <(data fc_1900010100.nc | grep -v "source\|history\|pangu_request") <(data d9_1900010100.nc | grep -v "source\|history\|pangu_request") &&
   ! ncdump -hs d0_1900010100.nc | grep -q "t2m:_DeflateLevel" &&
   ncdump -hs fc_1900010100.nc | grep -q "t2m:_DeflateLevel = 1 ;" && ncdump -hs d9_1900010100.nc | grep -q "t2m:_DeflateLevel = 9 ;" &&
   [ $(stat -c %s d0_1900010100.nc) -gt $(stat -c %s fc_1900010100.nc) ]'
expect_fail "deflate out of range" "deflate '10': expected a whole number from 0 to 9" x9.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --deflate 10 --output x9.nc

# Jobs that mean what they say: a complete file counts as done only for the same request.
run --leads 6,12 --output 'req/r_{init:%Y%m%d%H}.nc'
check "the output directory is created" '[ -s req/r_1900010100.nc ]'
run --leads 6,12 --output 'req/r_{init:%Y%m%d%H}.nc'
check "the same request again: skipped" 'grep -q "complete already, skipped" log'
cp req/r_1900010100.nc keep.nc
run --leads 6,18 --output 'req/r_{init:%Y%m%d%H}.nc'; rc=$?
check "other leads: an error naming --overwrite, the file kept ($(tail -1 log | cut -c1-120))" \
  '[ $rc -eq 2 ] && grep -q "complete, but for another request.*--overwrite" log && cmp -s keep.nc req/r_1900010100.nc'
run --leads 6 --variables z,t --output 'req/r_{init:%Y%m%d%H}.nc'; rc=$?
check "other variables: an error too" '[ $rc -eq 2 ] && grep -q "for another request" log'
run --leads 6,18 --overwrite --output 'req/r_{init:%Y%m%d%H}.nc'; rc=$?
check "--overwrite rewrites it with the new leads" '[ $rc -eq 0 ] && grep -q "rewritten (--overwrite)" log &&
  [ "$(ncdump -v forecast_period req/r_1900010100.nc | sed -n "s/^ *forecast_period = \(.*\) ;/\1/p")" = "6, 18" ]'
# the same data from another file is another request (the inputs are recorded by path, size and modification time)
cp "$fx/tiny_in.nc" moved_in.nc
cp req/r_1900010100.nc keep.nc
$pangu forecast $models --input moved_in.nc --init 1900-01-01T00 --leads 6,18 --dry-run \
  --output 'req/r_{init:%Y%m%d%H}.nc' >dry2.txt 2>log; rc=$?
check "--dry-run says what differs: the input file ($(cut -c1-160 dry2.txt | head -1))" \
  '[ $rc -eq 0 ] && grep -Eq "complete for another request: an error \(--overwrite rewrites it\): inputs: the file.s .*/tiny_in.nc \([0-9]+ bytes, modified [0-9T:.-]+Z\), this run.s .*/moved_in.nc" dry2.txt'
$pangu forecast $models --input moved_in.nc --init 1900-01-01T00 --leads 6,18 --output 'req/r_{init:%Y%m%d%H}.nc' 2>log; rc=$?
check "another input file: an error naming it, the file kept ($(tail -1 log | cut -c1-140))" \
  '[ $rc -eq 2 ] && grep -q "req/r_1900010100.nc: complete, but for another request (inputs: .*moved_in.nc" log && cmp -s keep.nc req/r_1900010100.nc'
$pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00/1900-01-03T00/24 --leads 6-48/6 --dry-run \
  --output 'dry_{init:%Y%m%d%H}.nc' >dry.txt 2>log; rc=$?
check "--dry-run prints files, calls, time and memory, writes nothing ($(tail -1 dry.txt | cut -c1-110))" \
  '[ $rc -eq 0 ] && [ $(grep -c "dry_19000" dry.txt) -eq 3 ] && grep -q "^plan: 3 initial times x 8 model calls" dry.txt &&
   grep -q "memory about" dry.txt && ! ls dry_* >/dev/null 2>&1'
check "repeated --input accumulates (pressure levels and surface apart)" \
  'ncks -O -v z,q,t,u,v "$fx/tiny_in.nc" pl.nc && ncks -O -v msl,u10,v10,t2m "$fx/tiny_in.nc" sfc.nc &&
   $pangu forecast $models --input pl.nc --input sfc.nc --init 1900-01-01T00 --leads 6 --output two.nc 2>log'
expect_fail "an init range with a tiny step is refused before it is allocated" "more than the 1,000,000" x12.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00/2100-01-01T00/1 --leads 6 --output x12.nc
expect_fail "members abc" "members 'abc': expected a whole number" x13.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --members abc --output x13.nc
expect_fail "perturb_scale nan" "perturb-scale 'nan'" x14.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --members 3 --perturb perlin --perturb-scale nan --output x14.nc
expect_fail "levels 850abc" "levels '850abc'" x15.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --levels 850abc --output x15.nc
expect_fail "levels twice" "hPa twice" x16.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --levels 850,850 --output x16.nc
expect_fail "no levels" "levels: none given" x17.nc -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --levels "" --output x17.nc
expect_fail "the output is an input" "is also an input" "$t/nothing" -- \
  $pangu forecast $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --output "$fx/tiny_in.nc"

# Configuration files: lines of any length with their true line numbers, a key
# set twice, what is not a regular text file.
long=$(for i in $(seq 1 40); do printf '%s ' "$fx/tiny_in.nc"; done)
printf '[models]\n  model_24h = m24.h5 ; indented keys are keys\n[input]\ninput = %s ; the list\n[forecast]\ninit = 1900-01-01T00\nleads = 24\n; %s\n[output]\noutput = cfg_long.nc\n' \
  "$long" "$(printf 'x%.0s' $(seq 1 400))" >long.ini
check "a 1,000-character input line and a 400-character comment ($(wc -L <long.ini) characters)" \
  '$pangu forecast --config long.ini 2>err && [ -s cfg_long.nc ]'
printf '[forecast]\nleads = 24\n; %s\nleads = 48\n' "$(printf 'y%.0s' $(seq 1 300))" >twice.ini
expect_fail "a key set twice, the true line after a long comment" "twice.ini:4: key 'leads' is set twice" x8.nc -- \
  $pangu forecast --config twice.ini $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --output x8.nc
printf '[forecast]\n%s\n' "$(printf 'z%.0s' $(seq 1 300))" >syntax.ini
expect_fail "a long line that is not key = value" "syntax.ini:2: syntax error" x9.nc -- \
  $pangu forecast --config syntax.ini $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --output x9.nc
expect_fail "a directory as --config" "a directory, not a configuration file" x10.nc -- \
  $pangu forecast --config "$t" $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --output x10.nc
expect_fail "/dev/zero as --config (no hang)" "not a regular file" x11.nc -- \
  timeout 10 $pangu forecast --config /dev/zero $models --input "$fx/tiny_in.nc" --init 1900-01-01T00 --output x11.nc
# ---- progress in a log (stderr a file): plain lines in lead order, the last of each member at the final
# lead. The plan runs depth first (24 h, 48 h, then 6 h, 12 h, 18 h, 30 h, ...); a line names the lead up
# to which every requested lead is written. PANGU_PROGRESS_INTERVAL=0: a line at every model call.
PANGU_PROGRESS_INTERVAL=0 run --leads 6-48/6 --members 2 --perturb perlin --output 'prog_{init:%Y%m%d%H}.nc'; rc=$?
leads_of() { grep "member $1 " log | sed -n "s/.* leads to \([0-9]*\)h written .*/\1/p" | tr "\n" " "; }
# in_order M: member M's leads ascending (repeats allowed), the last 48 h
in_order() { local l; l=$(leads_of "$1"); [ -n "$l" ] && [ "$(echo $l | tr " " "\n" | sort -n | tr "\n" " ")" = "$l" ] &&
  [ "$(echo $l | awk '{ print $NF }')" = 48 ]; }
check "progress into a log: no carriage return, each member's leads in order ($(leads_of 0)), the last 48 h" \
  '[ $rc -eq 0 ] && ! grep -q $'"'"'\r'"'"' log && in_order 0 && in_order 1'
check "progress into a log: the last progress line is the final lead of the last member, then wrote" \
  '[ "$(grep "leads to" log | tail -1 | sed "s/.*member \([0-9]*\)  leads to \([0-9]*\)h.*/\1 \2/")" = "1 48" ] &&
   grep -A1 "calls 16/16" log | tail -1 | grep -q "^pangu forecast: wrote prog_1900010100.nc"'
run --leads 6-48/6 --output 'prog2_{init:%Y%m%d%H}.nc'; rc=$?
check "progress into a log at the default interval: one line, at 48 h ($(grep "leads to" log))" \
  '[ $rc -eq 0 ] && ! grep -q $'"'"'\r'"'"' log && [ "$(grep -c "leads to" log)" -eq 1 ] && grep -q "member 0  leads to 48h written  calls 8/8" log'

echo "forecast: $pass passed, $fail failed"
[ $fail -eq 0 ]
