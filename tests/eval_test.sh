#!/bin/bash
# pangu eval end to end on synthetic data: CSV layout, baselines, report,
# agreement with CDO, bad input. Usage: tests/eval_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "  ok: $1"; else fail=$((fail + 1)); echo "  FAILED: $1"; fi; }
echo "eval tests"
$pangu synth --grid 32,64 --start 2019-01-25 --hours 240 --step-hours 6 --format legacy --out . 2>/dev/null
$pangu stats --input "era5_pl_201901.nc" --input era5_sfc_201901.nc --input era5_pl_201902.nc --input era5_sfc_201902.nc \
  --climatology-hours 6 --smoothing 15 --output clim.nc 2>/dev/null
for h in 6 24; do $pangu init --preset small --lead $h --stats clim.nc --constants invariant.nc --seed $h --std 0.004 --out m$h.h5 2>/dev/null; done
truth="--truth era5_pl_201901.nc --truth era5_sfc_201901.nc --truth era5_pl_201902.nc --truth era5_sfc_201902.nc"
$pangu forecast --model-6h m6.h5 --model-24h m24.h5 --input "era5_*_20190*.nc" --init 2019-01-27T00/2019-01-29T00/24 \
  --leads 6-72/6 --output 'fc_{init:%Y%m%d%H}.nc' 2>/dev/null
$pangu eval --forecast fc_2019012700.nc --forecast fc_2019012800.nc --forecast fc_2019012900.nc $truth --climatology clim.nc \
  --baseline persistence --baseline climatology --output scores.csv --report rep 2>err; rc=$?
check "eval runs ($(tail -c 100 err))" '[ $rc -eq 0 ] && [ -s scores.csv ]'
check "CSV columns exactly source,variable,level,lead_hours,region,metric,value" \
  '[ "$(head -1 scores.csv)" = "source,variable,level,lead_hours,region,metric,value" ]'
check "sources fc, persistence, climatology" '[ "$(cut -d, -f1 scores.csv | sed 1d | sort -u | tr "\n" " ")" = "climatology fc persistence " ]'
check "surface fields have an empty level" 'grep -q "^fc,t2m,,24,global,rmse," scores.csv && grep -q "^fc,z,500,24,tropics,acc," scores.csv'
check "every metric and region present" "( for m in rmse bias mae acc wind_rmse; do grep -q \",\$m,\" scores.csv || exit 1; done; for r in global n_extratropics tropics s_extratropics; do grep -q \",\$r,\" scores.csv || exit 1; done )"
check "report: markdown, html and figures" '[ -s rep/report.md ] && [ -s rep/report.html ] && ls rep/rmse_z500.png rep/acc_t850.png >/dev/null && ls rep/map_z500_*_error.png >/dev/null'
# Against CDO on the same files, with CDO given the WeatherBench 2 cell areas
# (its own are great-circle polygons, 1e-4 apart on this grid).
if command -v cdo >/dev/null 2>&1; then
  cdo -s gridarea era5_pl_201901.nc area.nc
  cat >wb2.nco <<'NCO'
*H=$latitude.size; *up[$latitude]=0.0; *dn[$latitude]=0.0; *pi=3.14159265358979323846;
for(*i=0;i<H;i++){ up(i)=(i==0)?90.0:(latitude(i)+latitude(i-1))/2.0; dn(i)=(i==H-1)?-90.0:(latitude(i)+latitude(i+1))/2.0; }
cell_area=cell_area*0.0+(sin(up*pi/180.0)-sin(dn*pi/180.0));
NCO
  ncap2 -O -S wb2.nco area.nc wb2area.nc 2>/dev/null
  $pangu eval --forecast fc_2019012800.nc $truth --output one.csv 2>/dev/null
  ours=$(grep "^fc,z,500,24,global,rmse," one.csv | cut -d, -f7)
  cdos=$(cdo -s -outputf,%.9g -sqrt -fldmean -sqr -sub -setgridarea,wb2area.nc -sellevel,500 -selname,z -seltimestep,4 fc_2019012800.nc \
         -setgridarea,wb2area.nc -sellevel,500 -selname,z -seldate,2019-01-29T00:00:00 era5_pl_201901.nc 2>/dev/null)
  check "z500 RMSE at 24 h equals CDO's (ours $ours, cdo $cdos)" "[ -n \"$ours\" ] && awk -v a=$ours -v b=${cdos:-0} 'BEGIN { d = a - b; exit !(d * d <= 1e-10 * b * b) }'"
  ours=$(grep "^fc,t2m,,24,global,bias," one.csv | cut -d, -f7)
  cdos=$(cdo -s -outputf,%.9g -fldmean -sub -setgridarea,wb2area.nc -selname,t2m -seltimestep,4 fc_2019012800.nc \
         -setgridarea,wb2area.nc -selname,t2m -seldate,2019-01-29T00:00:00 era5_sfc_201901.nc 2>/dev/null)
  check "t2m bias at 24 h equals CDO's (ours $ours, cdo $cdos)" "[ -n \"$ours\" ] && awk -v a=$ours -v b=${cdos:-0} 'BEGIN { d = a - b; exit !(d * d <= 1e-8 * (b * b + 1e-4)) }'"
  ours=$(grep "^fc,msl,,24,global,mae," one.csv | cut -d, -f7)
  cdos=$(cdo -s -outputf,%.9g -fldmean -abs -sub -setgridarea,wb2area.nc -selname,msl -seltimestep,4 fc_2019012800.nc \
         -setgridarea,wb2area.nc -selname,msl -seldate,2019-01-29T00:00:00 era5_sfc_201901.nc 2>/dev/null)
  check "msl MAE at 24 h equals CDO's (ours $ours, cdo $cdos)" "[ -n \"$ours\" ] && awk -v a=$ours -v b=${cdos:-0} 'BEGIN { d = a - b; exit !(d * d <= 1e-10 * b * b) }'"
  # Over init times: RMSE is the square root of the time-mean MSE (cdo -timmean)
  for d in 27 28 29; do
    e=$((d + 1)); cdo -s -sqr -sub -setgridarea,wb2area.nc -sellevel,500 -selname,z -seltimestep,4 fc_201901${d}00.nc \
      -setgridarea,wb2area.nc -sellevel,500 -selname,z -seldate,2019-01-${e}T00:00:00 era5_pl_201901.nc sq$d.nc 2>/dev/null
  done
  cdo -s -O mergetime sq27.nc sq28.nc sq29.nc sq.nc 2>/dev/null
  cdos=$(cdo -s -outputf,%.9g -sqrt -timmean -fldmean -setgridarea,wb2area.nc sq.nc 2>/dev/null)
  ours=$(grep "^fc,z,500,24,global,rmse," scores.csv | cut -d, -f7)
  check "RMSE over 3 init times = sqrt of time-mean MSE (ours $ours, cdo $cdos)" "[ -n \"$ours\" ] && awk -v a=$ours -v b=${cdos:-0} 'BEGIN { d = a - b; exit !(d * d <= 1e-10 * b * b) }'"
  check "forecast files open in cdo sinfo without warnings" '! cdo sinfo fc_2019012800.nc 2>&1 | grep -qi warning'
else
  echo "  (cdo not installed: CDO comparisons skipped)"
fi
# bad input: exit 2, no CSV
expect_fail() { local name=$1 pattern=$2; shift 2
  rm -f bad.csv; "$@" >/dev/null 2>err; local rc=$?
  if [ $rc -eq 2 ] && grep -q -- "$pattern" err && [ ! -e bad.csv ] && ! ls | grep -q 'bad.csv.tmp'; then pass=$((pass + 1)); echo "  ok: $name: $(tail -1 err)"
  else fail=$((fail + 1)); echo "  FAILED: $name (exit $rc: $(tail -c 300 err))"; fi; }
mkdir -p coarse && $pangu synth --grid 16,32 --start 2019-01-25 --hours 240 --step-hours 6 --out coarse 2>/dev/null
expect_fail "truth on another grid suggests regrid" "pangu regrid" $pangu eval --forecast fc_2019012800.nc \
  --truth coarse/era5_pl_201901.nc --truth coarse/era5_sfc_201901.nc --output bad.csv
mkdir -p late && $pangu synth --grid 32,64 --start 2019-06-01 --hours 24 --step-hours 6 --out late 2>/dev/null
expect_fail "no common valid times" "no time" $pangu eval --forecast fc_2019012800.nc --truth late/era5_pl_201906.nc \
  --truth late/era5_sfc_201906.nc --output bad.csv
ncks -O -x -v t2m clim.nc clim_no_t2m.nc
expect_fail "a climatology lacking a variable" "lacks variable 't2m'" $pangu eval --forecast fc_2019012800.nc $truth \
  --climatology clim_no_t2m.nc --output bad.csv
ncks -O -d level,0,11 era5_pl_201901.nc pl_no50.nc
expect_fail "a truth file missing a requested level" "level 50 hPa missing" $pangu eval --forecast fc_2019012800.nc \
  --truth pl_no50.nc --truth era5_sfc_201901.nc --output bad.csv
echo "eval: $pass passed, $fail failed"
[ $fail -eq 0 ]
