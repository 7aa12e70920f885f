#!/bin/bash
# pangu stats against NCO on the same files, and init with statistics and
# constant masks from files. Usage: tests/data_test.sh bin/pangu
set -u
# The states here are random (pangu_ref.py state) or synthetic and the models
# random: their values need not fit each model's statistics, which the
# plausibility checks compare (tests/plausible_test.sh tests those).
export PANGU_NO_PLAUSIBILITY_CHECK=1
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
fx="$(cd "$(dirname "$0")" && pwd)/fixtures"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "  ok: $1"; else fail=$((fail + 1)); echo "  FAILED: $1"; fi; }
# |a - b| <= tol * |b|
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(d <= t * m + 1e-30) }'; }
echo "data tests"
$pangu stats --input "$fx/small_in.nc" --input "$fx/small_out.nc" --output st.nc 2>/dev/null
ncrcat -O "$fx/small_in.nc" "$fx/small_out.nc" all.nc
ncwa -O -a time,latitude,longitude all.nc mean.nc
ncbo -O --op_typ=sub all.nc mean.nc anom.nc
ncwa -O -y rmssdn -a time,latitude,longitude anom.nc sd.nc
val() { ncks -H -C -s '%.12g\n' -v "$2" "$1" | sed -n "${3:-1}p"; }
for v in z t q; do
  check "stats: $v mean at 500 hPa equals NCO's (ncwa)" "close $(val st.nc ${v}_mean 6) $(val mean.nc $v 6) 1e-6"
  check "stats: $v std at 500 hPa equals NCO's (ncbo, ncwa -y rmssdn)" "close $(val st.nc ${v}_std 6) $(val sd.nc $v 6) 1e-5"
done
for v in msl t2m; do
  check "stats: $v mean and std equal NCO's" "close $(val st.nc ${v}_mean) $(val mean.nc $v) 1e-6 && close $(val st.nc ${v}_std) $(val sd.nc $v) 1e-5"
done
# Statistics and constants into a model file.
ncap2 -O -v -s 'lsm[$latitude,$longitude]=0.0f; lsm(5:20,10:30)=1.0f; slt=lsm*3.0f; z=lsm*9806.65f' "$fx/small_in.nc" inv.nc
$pangu init --preset small --stats st.nc --constants inv.nc --out m.h5 2>err; rc=$?
check "init takes statistics and constants from files" "[ $rc -eq 0 ]"
# surface_std of the model is (msl, u10, v10, t2m): its last value is t2m's std.
sstd=$(h5dump -d normalization.surface_std -y -w 0 m.h5 2>/dev/null | sed -n '/DATA {/,/}/p' | tr ', ' '\n\n' | grep -E '^[-0-9.e+]+$' | tail -1)
check "the model's t2m std is the statistics' ($sstd)" "close ${sstd:-0} $(val st.nc t2m_std) 1e-5"
lsm=$(h5dump -d patch_embed.constants -y -w 0 m.h5 2>/dev/null | sed -n '/DATA {/,/}/p' | tr ', ' '\n\n' | grep -E '^[-0-9.e+]+$' | sort -u | wc -l)
check "constants normalised from the invariant file (two values per mask: $lsm distinct)" "[ ${lsm:-0} -ge 2 ] && [ ${lsm:-0} -le 6 ]"
$pangu stats --input "$fx/small_in.nc" --start 2001-01-01 --output none.nc 2>err; rc=$?
check "stats: a period with no data is an error" "[ $rc -eq 2 ] && grep -q 'no times' err && [ ! -e none.nc ]"
# (two times: statistics over time need them)
$pangu stats --input "$fx/custom_in.nc" --input "$fx/custom_out.nc" --output st7.nc 2>/dev/null
$pangu init --preset small --stats st7.nc --out bad.h5 2>err; rc=$?
check "init: statistics lacking a model level" "[ $rc -eq 2 ] && grep -q 'level 925 hPa missing' err && [ ! -e bad.h5 ]"
# Statistics over time need two times or more (one would give a std over space only), and --every a
# whole number of the data's steps (--every 5 on 6-hourly data was every 6 h, silently) (issue 28).
$pangu synth --grid 32,64 --start 2020-01-01T00 --hours 24 --step-hours 6 --out six 2>/dev/null
$pangu stats --input "$fx/small_in.nc" --output one.nc 2>err; rc=$?
check "stats on a single time: refused, naming the file ($(cat err))" \
  "[ $rc -eq 2 ] && [ \$(wc -l <err) -eq 1 ] && grep -q 'small_in.nc: 1 time used in the period, statistics over time need at least two (time step found: none' err && [ ! -e one.nc ]"
$pangu stats --input 'six/era5_*.nc' --end 2020-01-01T00 --output one.nc 2>err; rc=$?
check "stats on a period holding one time: refused ($(cat err))" \
  "[ $rc -eq 2 ] && grep -q 'six/era5_pl_202001.nc and 1 other file: 1 time used' err && [ ! -e one.nc ]"
$pangu stats --input 'six/era5_*.nc' --every 5 --output e5.nc 2>err; rc=$?
check "stats --every 5 on 6-hourly data: refused, naming the step found ($(cat err))" \
  "[ $rc -eq 2 ] && [ \$(wc -l <err) -eq 1 ] && grep -q -- '--every 5: not a multiple of the time step of six/era5_pl_202001.nc and 1 other file (6 h)' err && [ ! -e e5.nc ]"
$pangu stats --input 'six/era5_*.nc' --every 24 --output e24.nc 2>err; rc=$?
check "stats --every 24 on 6-hourly data: every fourth time ($(tail -1 err))" \
  "[ $rc -eq 0 ] && grep -q 'wrote e24.nc (2 times' err && ncdump -h e24.nc | grep -q '2020-01-01T00:00:00 to 2020-01-02T00:00:00, 2 times'"
$pangu stats --input 'six/era5_*.nc' --output eall.nc 2>err; rc=$?
check "stats without --every: every time of the data ($(tail -1 err))" "[ $rc -eq 0 ] && grep -q 'wrote eall.nc (5 times' err"
$pangu stats --input 'six/era5_*.nc' --every 12 --every 24 --output e2.nc 2>err; rc=$?
check "stats --every given twice: refused ($(cat err))" "[ $rc -eq 2 ] && grep -q -- \"--every given twice ('12' and '24')\" err && [ ! -e e2.nc ]"
# an input without any state variable (a synth directory's invariant.nc in a glob): left out with a warning,
# the same forecast as without it; alone, or with only such files, an error naming it
$pangu synth --grid 32,64 --start 2020-01-01T00 --hours 6 --step-hours 6 --out syn 2>/dev/null
M="$fx/../../models/demo_24h.h5"
$pangu step --model "$M" --input 'syn/*.nc' --time 2020-01-01T00 --output g1.nc 2>err; rc=$?
$pangu step --model "$M" --input syn/era5_pl_202001.nc --input syn/era5_sfc_202001.nc --time 2020-01-01T00 \
  --output g2.nc 2>/dev/null; rc2=$?
same=$(cmp -s <(ncdump -v z g1.nc | sed 1d | grep -v history) <(ncdump -v z g2.nc | sed 1d | grep -v history) && echo yes)
check "step on a glob with invariant.nc: warned ($(grep -c warning err) line), the same forecast as without it" \
  "[ $rc -eq 0 ] && [ $rc2 -eq 0 ] && grep -q 'syn/invariant.nc: none of z q t .*not used as an input' err && [ '$same' = yes ]"
$pangu step --model "$M" --input syn/invariant.nc --time 2020-01-01T00 --output g3.nc 2>err; rc=$?
check "step on invariant.nc alone: refused, naming it" \
  "[ $rc -eq 2 ] && grep -q 'syn/invariant.nc: none of z q t u v msl u10 v10 t2m' err && [ ! -e g3.nc ]"
echo "data: $pass passed, $fail failed"
[ $fail -eq 0 ]
