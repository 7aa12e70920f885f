#!/bin/bash
# End-to-end checks of the pangu command: normal use, and bad input that
# must give exit status 2, one clear line on stderr and no output file.
# Usage: tests/cli_test.sh bin/pangu
set -u
pangu=${1:-bin/pangu}
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/tests/fixtures"
t=$(mktemp -d)
. "$top/tests/lib.sh" # files_state, unchanged_since (and the counters)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }

# expect_fail NAME PATTERN OUTPUT -- command...: exit 2, PATTERN on stderr, no OUTPUT left.
expect_fail() {
  local name=$1 pattern=$2 out=$3; shift 4
  local before changed; before=$(files_state "$t" "$fx")
  "$@" >"$t/stdout" 2>"$t/stderr"; local rc=$?
  changed=$(unchanged_since "$before" "$t" "$fx")
  local lines; lines=$(wc -l <"$t/stderr")
  if [ $rc -eq 2 ] && grep -q -- "$pattern" "$t/stderr" && [ ! -e "$out" ] && [ "$lines" -eq 1 ] &&
     [ -z "$(ls "$(dirname "$out")" 2>/dev/null | grep '\.tmp\.' || true)" ] && [ -z "$changed" ]; then
    ok "$name: $(cat "$t/stderr")"
  else
    bad "$name (exit $rc, stderr: $(head -c 300 "$t/stderr"); files changed: $changed)"
  fi
}

echo "pangu command tests"
# init, info, step on the tiny fixture
if $pangu init --preset tiny --grid 24,48 --lead 3 --seed 5 --out "$t/m.h5" 2>/dev/null &&
   $pangu info "$t/m.h5" >"$t/info" && grep -q "lead time         3 h" "$t/info" && grep -q "FLOPs per step" "$t/info"; then
  ok "init and info"
else bad "init and info"; fi
if $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/out.nc" 2>"$t/err" &&
   ncdump -h "$t/out.nc" | grep -q ':Conventions = "CF-1.8"' &&
   [ "$(ncdump -v forecast_period "$t/out.nc" | sed -n 's/^ *forecast_period = \([0-9.]*\) ;/\1/p')" = "6" ] &&
   [ "$(ncdump -t -v time "$t/out.nc" | sed -n 's/^ *time = "\(.*\)" ;/\1/p')" = "1900-01-01 06" ] &&
   [ "$(ncdump -t -v forecast_reference_time "$t/out.nc" | sed -n 's/^ *forecast_reference_time = "\(.*\)" ;/\1/p')" = "1900-01-01" ]; then
  ok "step writes the forecast layout: lead 6 h, valid 6 h after the input"
else bad "step writes the forecast layout: lead 6 h, valid 6 h after the input ($(cat "$t/err"); $(ncdump -t -v time,forecast_period,forecast_reference_time "$t/out.nc" | tail -6 | tr "\n" " "))"; fi
# --profile: one more line, the GEMMs', attention's and the rest's shares add to 100% (+-2 rounding)
if $pangu step --profile --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/outp.nc" 2>"$t/errp" &&
   line=$(grep '^pangu step: profile: linear-layer GEMMs' "$t/errp") &&
   sum=$(echo "$line" | grep -o '([0-9-]*%' | tr -d '(%' | awk '{s += $1} END {print s}') &&
   [ "$sum" -ge 98 ] && [ "$sum" -le 102 ] &&
   cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/outp.nc" | sed 1,/data:/d); then
  ok "step --profile: $(echo "$line" | cut -c 22-)"
else bad "step --profile ($(cat "$t/errp"))"; fi
# --repeat: the median of the repeats, every repeat's output the same, the written one the single step's
if $pangu step --repeat 3 --profile --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/outr.nc" 2>"$t/errr" &&
   grep -q 'median of 3: .* outputs identical' "$t/errr" &&
   line=$(grep '^pangu step: profile: linear-layer GEMMs' "$t/errr") &&
   sum=$(echo "$line" | grep -o '([0-9-]*%' | tr -d '(%' | awk '{s += $1} END {print s}') &&
   [ "$sum" -ge 98 ] && [ "$sum" -le 102 ] &&
   cmp -s <(ncdump -v t2m,z "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m,z "$t/outr.nc" | sed 1,/data:/d); then
  ok "step --repeat 3: median time, outputs identical"
else bad "step --repeat 3 ($(cat "$t/errr"))"; fi
if $pangu step --repeat 0 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/outr0.nc" 2>"$t/errr0"; then
  bad "step --repeat 0 accepted"
elif grep -q "repeat .0.: expected a whole number from 1 to 100" "$t/errr0" && [ ! -e "$t/outr0.nc" ]; then ok "step --repeat 0 refused"
else bad "step --repeat 0: $(cat "$t/errr0")"; fi
# Two files: pressure levels in one, surface in the other, as the CDS delivers.
if command -v ncks >/dev/null 2>&1; then
  ncks -O -v z,q,t,u,v "$fx/tiny_in.nc" "$t/pl.nc" && ncks -O -v msl,u10,v10,t2m "$fx/tiny_in.nc" "$t/sfc.nc" &&
  $pangu step --model "$fx/tiny.h5" --input "$t/pl.nc" --input "$t/sfc.nc" --output "$t/out2.nc" 2>/dev/null &&
  cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/out2.nc" | sed 1,/data:/d) &&
  ok "step from separate pressure-level and surface files" || bad "step from separate files"
fi

# bad input
expect_fail "missing model" "absent.h5" "$t/o1.nc" -- \
  $pangu step --model "$t/absent.h5" --input "$fx/tiny_in.nc" --output "$t/o1.nc"
echo "not a model" >"$t/garbage.h5"
expect_fail "corrupt model" "not an HDF5" "$t/o2.nc" -- \
  $pangu step --model "$t/garbage.h5" --input "$fx/tiny_in.nc" --output "$t/o2.nc"
head -c 300000 "$fx/tiny.h5" >"$t/cut.h5"
expect_fail "truncated model" "cut.h5" "$t/o3.nc" -- \
  $pangu step --model "$t/cut.h5" --input "$fx/tiny_in.nc" --output "$t/o3.nc"
expect_fail "state on another grid" "grid is 32 x 64" "$t/o4.nc" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/small_in.nc" --output "$t/o4.nc"
if command -v ncks >/dev/null 2>&1; then
  ncks -O -d level,0,11 "$fx/small_in.nc" "$t/no50.nc"
  expect_fail "state lacking a model level" "level 50 hPa missing" "$t/o5.nc" -- \
    $pangu step --model "$fx/small.h5" --input "$t/no50.nc" --output "$t/o5.nc"
fi
expect_fail "missing input file" "nothing.nc" "$t/o6.nc" -- \
  $pangu step --model "$fx/tiny.h5" --input "$t/nothing.nc" --output "$t/o6.nc"
if command -v ncap2 >/dev/null 2>&1; then
  ncap2 -O -s 'u10(0,3,4)=0.0f/0.0f' "$fx/tiny_in.nc" "$t/nan.nc" 2>/dev/null
  expect_fail "NaN in the input" "'u10' holds 1 NaN" "$t/o7.nc" -- \
    $pangu step --model "$fx/tiny.h5" --input "$t/nan.nc" --output "$t/o7.nc"
fi
expect_fail "unwritable output directory" "cannot create" "$t/no/such/dir/o8.nc" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/no/such/dir/o8.nc"
expect_fail "configuration breaking the window rule" "not divisible by window" "$t/o9.h5" -- \
  $pangu init --preset tiny --grid 24,52 --out "$t/o9.h5"
expect_fail "unknown option" "unknown option" "$t/o10.nc" -- \
  $pangu step --model "$fx/tiny.h5" --inptu "$fx/tiny_in.nc" --output "$t/o10.nc"

# --precision: bf16 where the CPU has AVX512_BF16 (PANGU_NO_BF16=1 stands in for a CPU without it)
if PANGU_NO_BF16=0 $pangu step --precision bf16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/bf.nc" 2>"$t/err"; then
  if grep -Eq "lead 6 h, bf16( on AMX tiles)?:" "$t/err" && ncdump -h "$t/bf.nc" | grep -q "bf16 GEMMs" &&
     ! cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/bf.nc" | sed 1,/data:/d); then
    ok "step --precision bf16"
  else bad "step --precision bf16 ($(cat "$t/err"))"; fi
  # the AMX tile path, its tile instructions emulated in C (PANGU_AMX_EMULATE): the same forecast to BF16's summation order
  t2m() { ncdump -v t2m "$1" | sed 1,/data:/d | tr -s ' ,;' '\n\n\n' | grep -E '^-?[0-9]'; }
  if PANGU_AMX_EMULATE=1 $pangu step --precision bf16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/bfa.nc" 2>"$t/err" &&
     grep -q "lead 6 h, bf16 on emulated AMX tiles:" "$t/err" &&
     paste <(t2m "$t/bf.nc") <(t2m "$t/bfa.nc") | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; n++}
       END {exit !(n == 24 * 48 && m <= 0.01)}'; then
    ok "step --precision bf16 on the (emulated) AMX tile path: t2m within 0.01 K of AVX512_BF16's"
  else bad "step --precision bf16 on emulated AMX tiles ($(cat "$t/err"))"; fi
  if PANGU_NO_AMX=1 $pangu step --precision bf16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/bfn.nc" 2>"$t/err" &&
     grep -q "lead 6 h, bf16:" "$t/err"; then
    ok "PANGU_NO_AMX=1: BF16 on AVX512_BF16, not on AMX tiles"
  else bad "PANGU_NO_AMX=1 ($(cat "$t/err"))"; fi
else
  grep -q "AVX512_BF16" "$t/err" && echo "  note: this CPU has no AVX512_BF16: BF16 step not run" || bad "step --precision bf16 ($(cat "$t/err"))"
fi
if $pangu step --precision fp32 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/fp.nc" 2>/dev/null &&
   cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/fp.nc" | sed 1,/data:/d); then
  ok "step --precision fp32 is the default"
else bad "step --precision fp32 is the default"; fi
expect_fail "precision bf16 without AVX512_BF16" "needs a CPU with AVX512_BF16" "$t/o11.nc" -- \
  env PANGU_NO_BF16=1 $pangu step --precision bf16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/o11.nc"
expect_fail "unknown precision" "precision 'fp16': expected fp32 or bf16" "$t/o12.nc" -- \
  $pangu step --precision fp16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/o12.nc"

# Every command documents its options: --help exits 0 and names each option it takes.
allhelp=1
for c in step info import init plan forecast stats grad train synth eval regrid fetch; do
  $pangu $c --help >"$t/help" 2>&1 || { allhelp=0; echo "    $c --help failed"; }
  $pangu help $c | cmp -s - "$t/help" || { allhelp=0; echo "    pangu help $c differs"; }
  grep -q -- "--output\|--leads\|--model" "$t/help" || { allhelp=0; echo "    $c --help lists no option"; }
done
[ $allhelp = 1 ] && ok "--help of every command (and pangu help COMMAND)" || bad "--help of every command"
if $pangu --version | grep -q "^pangu (pangu-c) [0-9]"; then ok "pangu --version: $($pangu --version | head -1)"; else bad "pangu --version"; fi
if $pangu --version | sed -n 2p | grep -Eq "^Pangu-Weather .*netCDF-C [0-9][0-9.]*, HDF5 [0-9.]+$"; then ok "pangu --version names the libraries' versions only: $($pangu --version | sed -n 2p)"; else bad "pangu --version: stray text after the library versions: $($pangu --version | sed -n 2p)"; fi
# the step's documented options are exactly those it takes
for o in $($pangu step --help | sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p' | grep -v -- "--config\|--threads\|--no-plausibility\|--help"); do
  $pangu step $o >/dev/null 2>"$t/err"; grep -q "unknown option" "$t/err" && { bad "step --help lists $o, which step refuses"; allhelp=2; }
done
[ $allhelp != 2 ] && ok "every option step --help lists is one it takes"
# older spellings: --out for --output, info M.h5 for --model
$pangu init --preset tiny --out "$t/alias.h5" 2>/dev/null && [ -s "$t/alias.h5" ] && ok "init --out (the older spelling of --output)" ||
  bad "init --out"
$pangu info --model "$t/alias.h5" | cmp -s - <($pangu info "$t/alias.h5") && ok "info --model M.h5 = info M.h5" || bad "info --model"
# --out and --output: one option with two spellings in every command that writes (issue 31)
outhelp=""
for c in step import init forecast stats grad train synth eval regrid fetch tune; do
  $pangu $c --help | grep -A1 -- "--output" | grep -q -- "also --out" || outhelp="$outhelp $c"
done
[ -z "$outhelp" ] && ok "every command that writes documents --output as also --out" || bad "--help without 'also --out':$outhelp"
if $pangu forecast --model-6h "$fx/tiny.h5" --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --out "$t/fc_out.nc" 2>"$t/err" &&
   $pangu forecast --model-6h "$fx/tiny.h5" --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6 --output "$t/fc_output.nc" 2>>"$t/err" &&
   cmp -s <(ncdump -v z,t2m "$t/fc_out.nc" | sed 1,/data:/d) <(ncdump -v z,t2m "$t/fc_output.nc" | sed 1,/data:/d) &&
   $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --out "$t/step_out.nc" 2>>"$t/err" && [ -s "$t/step_out.nc" ] &&
   $pangu eval --forecast "$t/fc_out.nc" --truth "$t/step_out.nc" --no-plausibility-check --quiet --out "$t/ev_out.csv" 2>>"$t/err" && grep -q "^fc_out,z,1000,6,global,rmse," "$t/ev_out.csv"; then
  ok "forecast, step and eval take --out as --output (forecast: the same data)"
else bad "--out in forecast, step, eval ($(tail -3 "$t/err"))"; fi
expect_fail "forecast --out and --output together" "--output given twice ('$t/o1.nc' and '$t/o2.nc')" "$t/o1.nc" -- \
  $pangu forecast --model-6h "$fx/tiny.h5" --input "$fx/tiny_in.nc" --init 1900-01-01T00 --out "$t/o1.nc" --output "$t/o2.nc"
expect_fail "eval --out and --output together" "--output given twice ('$t/o3.csv' and '$t/o4.csv')" "$t/o3.csv" -- \
  $pangu eval --forecast "$fx/tiny_out.nc" --truth "$fx/tiny_in.nc" --out "$t/o3.csv" --output "$t/o4.csv"
$pangu step --threads 1 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/th1.nc" 2>"$t/err" &&
  grep -q "1 threads" "$t/err" && cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/th1.nc" | sed 1,/data:/d) &&
  ok "--threads 1: one thread, the same forecast" || bad "--threads 1 ($(cat "$t/err"))"
expect_fail "--threads 0" "--threads '0': expected a whole number from 1" "$t/th0.nc" -- \
  $pangu step --threads 0 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/th0.nc"
expect_fail "an option given a number it cannot take" "std 'inf': expected a number" "$t/inf.h5" -- \
  $pangu init --std inf --output "$t/inf.h5"
expect_fail "the output is an input" "is also an input" "$t/none" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$fx/tiny_in.nc"
expect_fail "a device as the output" "not a regular file" "$t/none" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output /dev/null

# Every option is given once unless --help marks it repeatable, as a key in a configuration file:
# a second value never silently replaces the first (issue 28).
expect_fail "a flag given twice (plan --leads)" "--leads given twice ('12' and '18')" "$t/none" -- \
  $pangu plan --leads 12 --leads 18
expect_fail "an option and its older spelling (--out, --output)" "--output given twice ('$t/r1.h5' and '$t/r2.h5')" "$t/r1.h5" -- \
  $pangu init --preset tiny --out "$t/r1.h5" --output "$t/r2.h5"
expect_fail "a switch given twice (step --profile)" "--profile given twice" "$t/r3.nc" -- \
  $pangu step --profile --profile --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/r3.nc"
expect_fail "forecast --leads twice" "--leads given twice ('12' and '18')" "$t/r4.nc" -- \
  $pangu forecast --model-6h "$fx/tiny.h5" --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 12 --leads 18 --output "$t/r4.nc"
expect_fail "forecast --model-6h twice" "--model-6h given twice" "$t/r5.nc" -- \
  $pangu forecast --model-6h "$fx/tiny.h5" --model-6h "$fx/small.h5" --input "$fx/tiny_in.nc" --init 1900-01-01T00 --output "$t/r5.nc"
expect_fail "eval --output twice" "--output given twice ('$t/r6.csv' and '$t/r7.csv')" "$t/r6.csv" -- \
  $pangu eval --forecast "$fx/tiny_out.nc" --truth "$fx/tiny_in.nc" --output "$t/r6.csv" --output "$t/r7.csv"
expect_fail "info: the model alone and as --model" "--model given twice" "$t/none" -- \
  $pangu info "$fx/tiny.h5" --model "$fx/small.h5"
expect_fail "--threads twice (an option of every command)" "--threads given twice ('1' and '2')" "$t/r8.nc" -- \
  $pangu --threads 1 step --threads 2 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/r8.nc"
printf '[plan]\nleads = 6,12\n' >"$t/plan.ini"
expect_fail "--config twice" "--config given twice" "$t/none" -- $pangu plan --config "$t/plan.ini" --config "$t/plan.ini"
[ "$($pangu plan --config="$t/plan.ini" 2>&1 | tail -1)" = "calls: 2" ] && ok "--config=FILE reads the file (as --config FILE)" ||
  bad "--config=FILE: $($pangu plan --config="$t/plan.ini" 2>&1 | tail -1)"
[ "$($pangu plan --config "$t/plan.ini" --leads 24 2>&1 | tail -1)" = "calls: 1" ] &&
  ok "a flag still overrides the configuration file's key" || bad "a flag overriding the file's key"
# An option that does nothing with the others is refused, naming both (the table in cli/args.c).
fc=(forecast --model-6h "$fx/tiny.h5" --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6)
expect_fail "forecast --grib-bits with NetCDF output" "--grib-bits does nothing with --format netcdf: it applies only with --format grib2" \
  "$t/a1.nc" -- $pangu "${fc[@]}" --grib-bits 24 --output "$t/a1.nc"
expect_fail "forecast --deflate with GRIB output" "--deflate does nothing with --format grib2" "$t/a2.grib2" -- \
  $pangu "${fc[@]}" --format grib2 --deflate 5 --output "$t/a2.grib2"
expect_fail "forecast --institution with GRIB output" "--institution does nothing with --format grib2" "$t/a3.grib2" -- \
  $pangu "${fc[@]}" --format grib2 --institution X --output "$t/a3.grib2"
expect_fail "forecast --perturb perlin without members" "--perturb does nothing with --members 0" "$t/a4.nc" -- \
  $pangu "${fc[@]}" --perturb perlin --output "$t/a4.nc"
expect_fail "forecast --seed without a perturbation" "--seed does nothing with --perturb none" "$t/a5.nc" -- \
  $pangu "${fc[@]}" --seed 3 --output "$t/a5.nc"
expect_fail "forecast --allow-bf16 with --precision fp32" "--allow-bf16 does nothing with --precision fp32" "$t/a6.nc" -- \
  $pangu "${fc[@]}" --precision fp32 --allow-bf16 yes --output "$t/a6.nc"
printf '[output]\ngrib_bits = 16\n' >"$t/bits.ini"
expect_fail "grib_bits in a configuration file with NetCDF output" "--grib-bits does nothing with --format netcdf" "$t/a7.nc" -- \
  $pangu "${fc[@]}" --config "$t/bits.ini" --output "$t/a7.nc"
expect_fail "step --lead with an HDF5 model (its lead is recorded)" "--lead does nothing with --model .*tiny.h5: it applies only with --model \*.onnx" \
  "$t/a8.nc" -- $pangu step --model "$fx/tiny.h5" --lead 6 --input "$fx/tiny_in.nc" --output "$t/a8.nc"
expect_fail "stats --smoothing without a climatology" "--smoothing does nothing with --climatology-hours 0" "$t/a9.nc" -- \
  $pangu stats --input "$fx/small_in.nc" --smoothing 31 --output "$t/a9.nc"
expect_fail "synth --noise with --forecast-from" "--noise does nothing with --forecast-from" "$t/a10/nwp_2020010100.nc" -- \
  $pangu synth --forecast-from 2020-01-01T00 --noise 1 --out "$t/a10"
expect_fail "tune --seconds with --show" "--seconds does nothing with --show" "$t/none" -- $pangu tune --show --seconds 2
expect_fail "fetch --format with GFS" "--format does nothing with --source gfs: it applies only with --source cds" "$t/a11" -- \
  $pangu fetch --source gfs --format grib --time 2020-01-01T00 --url http://127.0.0.1:9 --out "$t/a11"
expect_fail "train --validate-every without a validation period" "--validate-every does nothing without --valid-start" "$t/a12.h5" -- \
  $pangu train --init "$fx/tiny.h5" --input "$fx/tiny_in.nc" --train-start 1900-01-01 --train-end 1900-01-01 \
  --validate-every 5 --output "$t/a12.h5" --checkpoint "$t/a12c.h5"
# inert values are fine: perturb none without members, --lead 0 with an HDF5 model
$pangu "${fc[@]}" --perturb none --output "$t/a13.nc" 2>"$t/err" && [ -s "$t/a13.nc" ] &&
  $pangu step --model "$fx/tiny.h5" --lead 0 --input "$fx/tiny_in.nc" --output "$t/a14.nc" 2>>"$t/err" &&
  ok "the 'off' value of such an option is taken (--perturb none, --lead 0)" || bad "inert values ($(cat "$t/err"))"

# An output name the file system cannot take says so (not 'directory missing'); the OS's reason otherwise.
long=$(printf 'n%.0s' $(seq 1 260)).nc
expect_fail "a file name longer than NAME_MAX" "file name longer than NAME_MAX (255) bytes (263 bytes)" "$t/$long" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/$long"
long=$(printf 'n%.0s' $(seq 1 247)).nc
expect_fail "a name whose temporary files would pass NAME_MAX" "file name of 250 bytes: its temporary files .* use at most 238 bytes" \
  "$t/$long" -- $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/$long"
expect_fail "an output in a missing directory: the OS's reason" "cannot create the output file in '$t/no/': No such file or directory" \
  "$t/no/o.nc" -- $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/no/o.nc"
: >"$t/plain"
expect_fail "an output under a plain file" "cannot create the output file in '$t/plain/': Not a directory" "$t/plain/o.nc" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/plain/o.nc"

# Memory is estimated before it is allocated: a grid the machine cannot hold fails at once.
expect_fail "a model larger than the machine" "more than this machine's" "$t/huge.h5" -- \
  timeout 20 $pangu init --preset full --grid 90000,180000 --out "$t/huge.h5"
echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
