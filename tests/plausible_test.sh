#!/bin/bash
# Inputs in wrong units or on broken grids are refused, with the likely cause,
# exit 2, one line and no output; --no-plausibility-check overrides. The demo's
# 24 h model and synthetic truth on its grid fit each other; each case edits
# one thing with NCO. Usage: tests/plausible_test.sh bin/pangu
set -u
unset PANGU_NO_PLAUSIBILITY_CHECK
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
model="$top/models/demo_24h.h5"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }
# refused NAME PATTERN INPUT...: step exits 2 with one line matching PATTERN, writes nothing, leaves the inputs unchanged
refused() {
  local name=$1 pattern=$2; shift 2
  local sums; sums=$(cat "$@" | md5sum)
  local ins=(); for f in "$@"; do ins+=(--input "$f"); done
  rm -f out.nc
  "$pangu" step --model "$model" "${ins[@]}" --time 2020-01-31T12 --output out.nc >/dev/null 2>err; local rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l <err)" -eq 1 ] && grep -q -- "$pattern" err && [ ! -e out.nc ] &&
     [ -z "$(ls | grep '\.tmp\.')" ] && [ "$(cat "$@" | md5sum)" = "$sums" ]; then
    ok "$name: $(cat err)"
  else
    bad "$name (exit $rc: $(head -c 300 err))"
  fi
}

echo "plausibility tests"
mkdir -p truth
"$pangu" synth --grid 32,64 --start 2020-01-31T00 --hours 24 --step-hours 12 --format cds2024 --out truth >/dev/null 2>&1
pl=truth/era5_pl_202001.nc sf=truth/era5_sfc_202001.nc
if "$pangu" step --model "$model" --input $pl --input $sf --time 2020-01-31T12 --output good.nc 2>err; then
  ok "the demo model on its own kind of data steps"
else bad "the demo model on its own kind of data ($(cat err))"; fi

ncap2 -O -s 'msl=msl/100' $sf sf_hpa.nc
refused "msl in hPa, labelled Pa" "msl looks like hPa" $pl sf_hpa.nc
ncatted -O -a units,msl,o,c,hPa sf_hpa.nc sf_hpa_units.nc 2>/dev/null
"$pangu" step --model "$model" --input $pl --input sf_hpa_units.nc --time 2020-01-31T12 --output conv.nc 2>err &&
  ok "msl in hPa with units hPa is converted and steps" || bad "msl with units hPa ($(cat err))"
ncap2 -O -s 't2m=t2m-273.15f' $sf sf_degc.nc
refused "t2m in degrees C, labelled K" "looks like degrees Celsius" $pl sf_degc.nc
ncap2 -O -s 't=t-273.15f' $pl pl_degc.nc
refused "t in degrees C, labelled K" "'t' at 1000 hPa is not plausible" pl_degc.nc $sf
ncap2 -O -s 'z=z/9.80665f' $pl pl_gh.nc
refused "z as geopotential height, labelled as geopotential" "geopotential height in m" pl_gh.nc $sf
ncap2 -O -s 'latitude=latitude+5' $pl pl_shift.nc
ncap2 -O -s 'latitude=latitude+5' $sf sf_shift.nc
refused "latitudes shifted past 90" "outside \[-90, 90\]" pl_shift.nc sf_shift.nc
ncap2 -O -s 'latitude=latitude*0' $pl pl_zero.nc
ncap2 -O -s 'latitude=latitude*0' $sf sf_zero.nc
refused "latitudes all zero" "not monotonic" pl_zero.nc sf_zero.nc
ncap2 -O -s 'longitude=longitude/2' $sf sf_half.nc
ncap2 -O -s 'longitude=longitude/2' $pl pl_half.nc
refused "longitudes covering half the globe" "round the globe" pl_half.nc sf_half.nc
# two records of one time with different data: the same file twice, one edited
ncap2 -O -s 'u10=u10+1' $sf sf_other.nc
refused "two records at the same time with different data" "two records of 'u10'" $pl $sf sf_other.nc
cp $sf sf_same.nc
"$pangu" step --model "$model" --input $pl --input $sf --input sf_same.nc --time 2020-01-31T12 --output same.nc 2>err &&
  ok "the same record given twice is fine" || bad "the same record given twice ($(cat err))"
# a fill value in the surface file is reported against that file, not the first input
ncatted -O -a _FillValue,t2m,o,f,-999 $sf sf_fill0.nc && ncap2 -O -s 't2m(1,5,7)=-999.0f' sf_fill0.nc sf_fill.nc
refused "a fill value is named in its own file" "sf_fill.nc: variable 't2m'" $pl sf_fill.nc
# the expert override
"$pangu" step --no-plausibility-check --model "$model" --input $pl --input sf_hpa.nc --time 2020-01-31T12 \
  --output forced.nc 2>err && [ -s forced.nc ] && ncdump -h forced.nc | grep -q -- "--no-plausibility-check" &&
  ok "--no-plausibility-check steps anyway and says so in the history" || bad "--no-plausibility-check ($(cat err))"
# without a model: fixed physical bounds (pangu stats)
"$pangu" stats --input $pl --input sf_hpa.nc --output st.nc >/dev/null 2>err; rc=$?
[ $rc -eq 2 ] && grep -q "msl looks like hPa" err && [ ! -e st.nc ] && ok "stats without a model: $(cat err)" ||
  bad "stats on msl in hPa (exit $rc: $(cat err))"
echo "plausible: $pass passed, $fail failed"
[ $fail -eq 0 ]
