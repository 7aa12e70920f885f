#!/bin/bash
# pangu synth: both CDS layouts, read back through the reader to the same
# forecast, plausible physics, invariants. Usage: tests/synth_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "  ok: $1"; else fail=$((fail + 1)); echo "  FAILED: $1"; fi; }
echo "synth tests"
mkdir legacy cds
$pangu synth --grid 32,64 --start 2019-01-31T21 --hours 6 --format legacy --out legacy 2>/dev/null
$pangu synth --grid 32,64 --start 2019-01-31T21 --hours 6 --format cds2024 --out cds 2>/dev/null
check "monthly files across the month boundary, and invariants" \
  '[ -s legacy/era5_pl_201901.nc ] && [ -s legacy/era5_sfc_201902.nc ] && [ -s cds/era5_pl_201902.nc ] && [ -s cds/invariant.nc ]'
check "legacy: NetCDF-3 with packed shorts" 'ncdump -k legacy/era5_pl_201901.nc | grep -q "64-bit offset" && ncdump -h legacy/era5_pl_201901.nc | grep -q "short z(time, level, latitude, longitude)"'
check "cds2024: NetCDF-4, valid_time, pressure_level, expver" \
  'ncdump -h cds/era5_pl_201901.nc | grep -q "float z(valid_time, pressure_level, latitude, longitude)" && ncdump -h cds/era5_pl_201901.nc | grep -q "string expver(valid_time)"'
check "files say they are synthetic" 'ncdump -h legacy/era5_sfc_201902.nc | grep -q ":synthetic = \"yes\""'
$pangu init --preset small --lead 6 --constants legacy/invariant.nc --out m.h5 2>/dev/null
$pangu step --model m.h5 --input legacy/era5_pl_201901.nc --input legacy/era5_pl_201902.nc \
  --input legacy/era5_sfc_201901.nc --input legacy/era5_sfc_201902.nc --time 2019-02-01T00 --output a.nc 2>/dev/null
$pangu step --model m.h5 --input cds/era5_pl_201901.nc --input cds/era5_pl_201902.nc --input cds/era5_sfc_201901.nc \
  --input cds/era5_sfc_201902.nc --time 2019-02-01T00 --output b.nc 2>err; rc=$?
check "a step from each layout at the same valid time" "[ $rc -eq 0 ] && [ -s a.nc ] && [ -s b.nc ]"
# legacy packs z in steps of (range over all levels) / 65532, about 3 m2 s-2
ncdiff -O a.nc b.nc d.nc && ncwa -O -y mabs d.nc dmax.nc
zd=$(ncks -H -C -s '%.6g' -v z dmax.nc); td=$(ncks -H -C -s '%.6g' -v t2m dmax.nc)
check "the two layouts give the same forecast to packing precision (z $zd, t2m $td)" \
  "[ -n \"$zd\" ] && [ -n \"$td\" ] && awk -v z=$zd -v t=$td 'BEGIN { exit !(z < 30 && t < 0.01) }'"
$pangu stats --input "legacy/era5_pl_201901.nc" --input legacy/era5_sfc_201901.nc --output st.nc 2>/dev/null
z500=$(ncks -H -C -s '%.6g\n' -v z_mean st.nc | sed -n 6p); t850=$(ncks -H -C -s '%.6g\n' -v t_mean st.nc | sed -n 3p)
check "a plausible climate: z500 mean $z500 m2 s-2, t850 mean $t850 K" \
  "[ -n \"$z500\" ] && awk -v z=$z500 -v t=$t850 'BEGIN { exit !(z > 50000 && z < 58000 && t > 255 && t < 285) }'"
$pangu synth --grid 32,64 --hours 3 --out nowhere/dir 2>err; rc=$?
check "unwritable directory: exit 2 ($(cat err))" '[ $rc -eq 2 ]'
echo "synth: $pass passed, $fail failed"
[ $fail -eq 0 ]
