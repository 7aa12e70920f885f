#!/bin/bash
# pangu eval end to end on files made here: a truth series (pangu step
# chained from the tiny fixture), forecasts (pangu forecast, deterministic
# and ensemble), a climatology (pangu stats), numerical forecasts in other
# layouts; CSV layout, baselines, report; RMSE, bias, MAE, ACC and the
# time-mean RMSE against CDO on the same files; bad input.
# Usage: tests/eval_test.sh bin/pangu
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
# value CSV SOURCE VARIABLE LEVEL LEAD REGION METRIC
value() { awk -F, -v s="$2" -v v="$3" -v l="$4" -v h="$5" -v r="$6" -v m="$7" \
  '$1 == s && $2 == v && $3 == l && $4 == h && $5 == r && $6 == m { print $7 }' "$1"; }
# close A B RELTOL: |A - B| <= RELTOL |B| (both numbers)
# close A B REL [ABS]: |A - B| <= REL |B| + ABS (both numbers)
close() { awk -v a="$1" -v b="$2" -v r="$3" -v z="${4:-1e-12}" 'BEGIN { if (a == "" || b == "" || a != a + 0 || b != b + 0) exit 1;
  d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b; exit !(d <= r * s + z) }'; }
reldiff() { awk -v a="$1" -v b="$2" 'BEGIN { d = (a - b) / b; printf "%.2e", d < 0 ? -d : d }'; }
# expect_fail NAME PATTERN -- COMMAND...: exit 2, one line matching PATTERN, no CSV and no temporary file, nothing changed
expect_fail() { # name pattern -- command...
  local name=$1 pattern=$2; shift 3
  rm -f bad.csv; local before changed; before=$(files_state "$t" "$fx")
  "$@" >/dev/null 2>err; local rc=$?
  changed=$(unchanged_since "$before" "$t" "$fx")
  if [ $rc -eq 2 ] && grep -q -- "$pattern" err && { [ -n "${usage_ok:-}" ] || [ "$(wc -l <err)" -eq 1 ]; } && [ ! -e bad.csv ] && ! ls | grep -q 'bad.csv.tmp' &&
     [ -z "$changed" ]; then ok "$name: $(tail -1 err)"
  else bad "$name (exit $rc: $(tail -c 300 err); files changed: $changed)"; fi; }
# timeaxis IN OUT: a pangu forecast (valid time axis time(time), forecast_period(time), forecast_reference_time)
# as NetCDF-3 without coordinates attributes: the layout of numerical forecasts converted by CDO or ecCodes,
# and of state series (drop forecast_period and forecast_reference_time)
timeaxis() { ncks -O -3 "$1" ta1.nc && ncatted -O -a coordinates,,d,, ta1.nc "$2"; }

echo "pangu eval tests"
# ---- data: the tiny fixture with its 5 levels labelled 1000 850 700 500 250 hPa (z500, t850 exist)
ncap2 -O -s 'level(0)=1000.0f;level(1)=850.0f;level(2)=700.0f;level(3)=500.0f;level(4)=250.0f' "$fx/tiny_in.nc" s0.nc
lev="--levels 1000,850,700,500,250"
$pangu init --preset tiny --lead 6 $lev --seed 11 --std 0.05 --out truth6.h5 2>/dev/null
for i in $(seq 1 16); do $pangu step --model truth6.h5 --input s$((i - 1)).nc --output s$i.nc 2>/dev/null; done
ncrcat -O $(for i in $(seq 1 16); do echo s$i.nc; done) truth_fc.nc # 1900-01-01T06 to 1900-01-05T00, 6-hourly
timeaxis truth_fc.nc ta3.nc && ncks -O -4 -x -v forecast_period,forecast_reference_time ta3.nc truth.nc
ncks -O -v z,q,t,u,v truth.nc truth_pl.nc && ncks -O -v msl,u10,v10,t2m truth.nc truth_sfc.nc
truth="--truth truth_pl.nc --truth truth_sfc.nc"
$pangu init --preset tiny --lead 6 $lev --seed 22 --std 0.05 --out f6.h5 2>/dev/null
$pangu init --preset tiny --lead 24 $lev --seed 23 --std 0.05 --out f24.h5 2>/dev/null
$pangu forecast --model-6h f6.h5 --model-24h f24.h5 --input truth.nc --init 1900-01-01T06/1900-01-02T06/12 --leads 6-48/6 \
  --output 'fc_{init:%Y%m%d%H}.nc' 2>/dev/null
$pangu forecast --model-6h f6.h5 --model-24h f24.h5 --input truth.nc --init 1900-01-01T06,1900-01-01T18 --leads 6-24/6 \
  --members 3 --perturb perlin --seed 5 --output 'ens_{init:%Y%m%d%H}.nc' 2>/dev/null
$pangu forecast --model-6h f6.h5 --model-24h f24.h5 --input truth.nc --init 1900-01-01T18 --leads 6-24/6 \
  --members 3 --perturb perlin --perturb-scale 0 --output 'same_{init:%Y%m%d%H}.nc' 2>/dev/null
$pangu stats --input truth.nc --climatology-hours 6 --smoothing 3 --output clim.nc 2>/dev/null
check "test data made (truth, 3 forecasts, 2 ensembles, climatology)" \
  '[ -s truth.nc ] && ls fc_1900010106.nc fc_1900010118.nc fc_1900010206.nc ens_1900010106.nc same_1900010118.nc clim.nc >/dev/null'

# ---- the main run
$pangu eval --forecast 'fc_*.nc' $truth --climatology clim.nc --baseline persistence --baseline climatology \
  --output scores.csv --report rep 2>err; rc=$?
check "eval runs: $(tail -1 err)" '[ $rc -eq 0 ] && [ -s scores.csv ] && ! ls | grep -q "scores.csv.tmp"'
$pangu eval --forecast 'fc_*.nc' --truth truth_fc.nc --climatology clim.nc --baseline persistence --baseline climatology \
  --output scores_fc.csv 2>/dev/null
check "the truth as pangu step's outputs joined by ncrcat (lead layout) scores as the same truth on a time axis" \
  'cmp -s scores.csv scores_fc.csv'
check "CSV columns exactly source,variable,level,lead_hours,region,metric,value" \
  '[ "$(head -1 scores.csv)" = "source,variable,level,lead_hours,region,metric,value" ]'
check "sources: fc (file stem), persistence, climatology" \
  '[ "$(sed 1d scores.csv | cut -d, -f1 | sort -u | tr "\n" " ")" = "climatology fc persistence " ]'
check "every lead 6..48 h, every region" \
  '[ "$(sed 1d scores.csv | cut -d, -f4 | sort -un | tr "\n" " ")" = "6 12 18 24 30 36 42 48 " ] &&
   [ "$(sed 1d scores.csv | cut -d, -f5 | sort -u | tr "\n" " ")" = "global n_extratropics s_extratropics tropics " ]'
check "metrics rmse bias mae acc rqe wind_rmse; surface fields with an empty level" \
  '[ "$(sed 1d scores.csv | cut -d, -f6 | sort -u | tr "\n" " ")" = "acc bias mae rmse rqe wind_rmse " ] &&
   [ -n "$(value scores.csv fc t2m "" 24 global rmse)" ] && [ -n "$(value scores.csv fc z 500 24 tropics acc)" ]'
check "vector wind per level and at 10 m" \
  '[ -n "$(value scores.csv fc wind 850 24 global wind_rmse)" ] && [ -n "$(value scores.csv fc wind10 "" 24 global wind_rmse)" ]'
check "no ACC for the climatology baseline (its anomaly is zero)" '! grep -q "^climatology,.*,acc," scores.csv'
check "report: report.md and report.html with the headline tables, one row per source" \
  'grep -q "^## RMSE" rep/report.md && grep -q "^## ACC" rep/report.md && grep -q "| z500 24h | t850 24h | t2m 24h | u10 24h | msl 24h |" rep/report.md &&
   [ $(sed -n "/^## \(RMSE\|ACC\) (global)/,/^## [BR]/p" rep/report.md | grep -c "^| \(fc\|persistence\|climatology\) |") -eq 6 ] &&
   grep -q "<table>" rep/report.html'
png() { for f in "$@"; do [ "$(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d " ")" = "211PNG" ] || return 1; done; }
if command -v gnuplot >/dev/null 2>&1; then
  check "figures: RMSE and ACC against lead, maps of forecast, truth and error at the first and last lead" \
    'png rep/rmse_z500.png rep/acc_t850.png rep/rmse_msl.png rep/map_z500_6h_forecast.png rep/map_z500_6h_truth.png \
         rep/map_t2m_48h_error.png && grep -q "map_t2m_48h_error.png" rep/report.md'
fi
mkdir nognuplot && PATH=/nonexistent $pangu eval --forecast fc_1900010118.nc $truth --output ng.csv --report nognuplot 2>/dev/null; rc=$?
check "without gnuplot: the report says so, no figures" \
  '[ $rc -eq 0 ] && grep -q "gnuplot is not installed" nognuplot/report.md && ! ls nognuplot | grep -q png'
$pangu eval --forecast fc_1900010106.nc $truth --output ml.csv --report ml --map-leads 24,30 2>/dev/null
command -v gnuplot >/dev/null 2>&1 && check "--map-leads 24,30: maps at those leads only" \
  'ls ml/map_z500_24h_error.png ml/map_t2m_30h_truth.png >/dev/null && ! ls ml | grep -q "map_.*_6h_"'

# ---- relative quantile error (docs/verification.md): rows for every field and region, and the
# value against numpy's quantile (its default linear interpolation) on the same files. The forecast
# is the truth squared over 280 K for t2m (a wider upper tail), scored from 1900-01-01T06.
check "rqe rows for every source, field and region, none for the vector winds" \
  '[ -n "$(value scores.csv fc z 500 24 tropics rqe)" ] && [ -n "$(value scores.csv persistence t2m "" 48 global rqe)" ] &&
   ! grep -q ",wind1\?0\?,.*,rqe," scores.csv'
# ---- --metrics: only the metrics named are computed and written, the others' values unchanged;
# all named is the default's CSV byte for byte; a metric that needs a missing input (acc without
# --climatology) is left out as without --metrics; an unknown name is refused listing the valid ones
$pangu eval --forecast 'fc_*.nc' $truth --climatology clim.nc --baseline persistence --baseline climatology \
  --metrics rmse --output m_rmse.csv --report m_rep 2>err; rc=$?
check "--metrics rmse: only rmse rows, the values of the default run: $(tail -1 err)" \
  '[ $rc -eq 0 ] && [ "$(sed 1d m_rmse.csv | cut -d, -f6 | sort -u)" = rmse ] &&
   [ "$(sed 1d m_rmse.csv)" = "$(grep ",rmse," scores.csv)" ] && grep -q "^## RMSE (global)" m_rep/report.md &&
   ! grep -q "^## Extremes" m_rep/report.md'
$pangu eval --forecast 'fc_*.nc' $truth --climatology clim.nc --baseline persistence --baseline climatology \
  --metrics rqe,wind_rmse,spread_skill,crps,acc,mae,bias,rmse --output m_all.csv 2>/dev/null
check "--metrics naming every metric: the default's CSV" 'cmp -s m_all.csv scores.csv'
$pangu eval --forecast 'fc_*.nc' $truth --metrics acc,rqe --output m_acc.csv 2>err; rc=$?
check "--metrics acc,rqe without --climatology: rqe rows only, as the default leaves acc out" \
  '[ $rc -eq 0 ] && [ "$(sed 1d m_acc.csv | cut -d, -f6 | sort -u)" = rqe ] &&
   [ "$(sed 1d m_acc.csv)" = "$(grep "^fc,.*,rqe," scores.csv)" ]'
expect_fail "--metrics with an unknown name" \
  "'rsme' is not a metric (expected a list of rmse,bias,mae,acc,crps,spread_skill,wind_rmse,rqe)" -- \
  $pangu eval --forecast fc_1900010118.nc $truth --metrics rmse,rsme --output bad.csv
expect_fail "--metrics with an empty name" "'rmse,': an empty name" -- \
  $pangu eval --forecast fc_1900010118.nc $truth --metrics rmse, --output bad.csv

# --help names every metric --metrics takes (the list its error gives) and is laid out for help2man:
# the man page built as the Makefile's man target does has the sections of the other commands' pages
valid=$(sed -n "s/.*expected a list of \([a-z_,]*\)).*/\1/p" err)
$pangu eval --help >help.txt
check "--help: 'Usage: pangu eval' first, every metric name ($valid) listed" \
  '[ -n "$valid" ] && head -1 help.txt | grep -q "^Usage: pangu eval --forecast" &&
   [ -z "$(for m in $(echo "$valid" | tr , " "); do grep -A3 "^  --metrics" help.txt | grep -qw "$m" || echo "$m"; done)" ]'
if command -v help2man >/dev/null 2>&1 && command -v man >/dev/null 2>&1; then
  printf '#!/bin/sh\nexec "%s" eval "$@"\n' "$pangu" >pangu-eval && chmod +x pangu-eval
  help2man -N -n "verification scores" --version-string=test --include "$top/cli/man/pangu-eval.h2m" -o pangu-eval.1 ./pangu-eval 2>/dev/null
  MANWIDTH=200 man -l pangu-eval.1 2>/dev/null >man.txt
  check "man page: NAME, SYNOPSIS (both forms), DESCRIPTION, OPTIONS (--metrics), EXAMPLES" \
    '[ "$(grep -E "^[A-Z][A-Z ]+$" man.txt | tr "\n" " ")" = "NAME SYNOPSIS DESCRIPTION OPTIONS EXAMPLES " ] &&
     grep -A2 "^SYNOPSIS" man.txt | grep -q "^       pangu eval --forecast F" &&
     grep -A2 "^SYNOPSIS" man.txt | grep -q "^       pangu eval --tracks" && grep -q "^       --metrics LIST" man.txt'
fi

ncap2 -O -s 't2m=t2m*t2m/280.0f' truth.nc sq.nc
$pangu eval --forecast sq.nc --init 1900-01-01T06 $truth --regions global,tropics --output sq.csv 2>/dev/null
rqe_numpy() { # FORECAST TRUTH TIME_INDEX LAT_MIN LAT_MAX: RQE of t2m over those latitudes, every point one sample
  /usr/bin/python3 - "$@" <<'PY'
import sys, numpy as np, netCDF4
f, o, k, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
def field(path):
    d = netCDF4.Dataset(path); lat = d["latitude"][:]; x = np.asarray(d["t2m"][k], dtype=np.float64)
    return x[(lat >= lo) & (lat <= hi)].ravel()
q = 1 - 10.0 ** (-1 - 3 * np.arange(50) / 49)
qf, qo = np.quantile(field(f), q), np.quantile(field(o), q)
print("%.9g" % np.mean((qf - qo) / np.abs(qo)))
PY
}
if /usr/bin/python3 -c "import numpy, netCDF4" 2>/dev/null; then
  want_g=$(rqe_numpy sq.nc truth.nc 2 -90 90) want_t=$(rqe_numpy sq.nc truth.nc 2 -20 20)
  got_g=$(value sq.csv sq t2m "" 12 global rqe) got_t=$(value sq.csv sq t2m "" 12 tropics rqe)
  check "rqe of t2m at 12 h, global and tropics, as numpy computes it ($got_g $want_g, $got_t $want_t)" \
    'close "$got_g" "$want_g" 1e-6 && close "$got_t" "$want_t" 1e-6 && close "$(value sq.csv sq z 500 12 global rqe)" 0 0 1e-12'
else
  echo "  (/usr/bin/python3 with numpy and netCDF4 not installed: rqe against numpy skipped)"
fi

# ---- forecasts holding a subset of the variables (variables = ... in a job, --variables): GRIB and
# NetCDF alike score what they hold and name what they skip in one line
for fmt in netcdf grib2; do
  $pangu forecast --model-6h f6.h5 --model-24h f24.h5 --input truth.nc --init 1900-01-01T06 --leads 6-24/6 \
    --variables z,t,u,v,msl,t2m,u10,v10 --format $fmt --output "sub_{init:%Y%m%d%H}.$fmt" 2>/dev/null
  $pangu eval --forecast sub_1900010106.$fmt $truth --output sub_$fmt.csv 2>sub_$fmt.err; rc=$?
  check "$fmt forecast without q: scored, q named as skipped in one line ($(grep skip\\\|scored sub_$fmt.err))" \
    '[ $rc -eq 0 ] && [ "$(grep -c "has no q: q not scored" sub_$fmt.err)" = 1 ] && ! grep -q ",q," sub_$fmt.csv &&
     [ -n "$(value sub_$fmt.csv sub t 850 24 global rmse)" ] && [ -n "$(value sub_$fmt.csv sub wind10 "" 24 global wind_rmse)" ]'
done
check "GRIB and NetCDF subsets give the same rows" \
  '[ "$(cut -d, -f2-6 sub_netcdf.csv | sort)" = "$(cut -d, -f2-6 sub_grib2.csv | sort)" ]'
$pangu eval --forecast fc_1900010106.nc $truth --output full.csv 2>full.err
check "a full forecast names nothing as skipped" '[ -s full.csv ] && ! grep -q "not scored" full.err'
$pangu forecast --model-6h f6.h5 --model-24h f24.h5 --input truth.nc --init 1900-01-01T06 --leads 6-24/6 \
  --variables t2m --format grib2 --output "t2m_{init:%Y%m%d%H}.grib2" 2>/dev/null
$pangu eval --forecast t2m_1900010106.grib2 $truth --output t2m.csv 2>t2m.err; rc=$?
check "a GRIB forecast of t2m alone: t2m scored, the eight others named ($(grep scored t2m.err))" \
  '[ $rc -eq 0 ] && grep -q "has no z, q, t, u, v, msl, u10, v10: .* not scored" t2m.err && [ "$(sed 1d t2m.csv | cut -d, -f2 | sort -u)" = t2m ]'

ncks -O -v z truth.nc zonly.nc && ncrename -O -v z,foo zonly.nc nov.nc >/dev/null && ncatted -O -a standard_name,foo,d,, -a long_name,foo,d,, nov.nc
expect_fail "a forecast holding none of the nine variables: still an error" "none of z q t u v msl u10 v10 t2m" -- \
  $pangu eval --forecast nov.nc --init 1900-01-01T06 $truth --output bad.csv

# ---- against CDO on the same files. CDO's fldmean weights by cell area; its own areas are
# spherical polygons with great-circle edges (a few 1e-4 from the latitude-circle cells of WB2 on
# this coarse grid), so it is given the WB2 areas (sin differences, edges midway, poles as half cells).
if command -v cdo >/dev/null 2>&1; then
  . "$top/tests/cdo_lib.sh"
  cdo() { cdo_stable "$@"; } # every reference value from two agreeing runs
  cdo -s gridarea -selname,t2m -seltimestep,1 truth.nc area.nc
  cat >wb2.nco <<'NCO'
*H=$latitude.size; *up[$latitude]=0.0; *dn[$latitude]=0.0; *pi=3.14159265358979323846;
for(*i=0;i<H;i++){ up(i)=(i==0)?90.0:(latitude(i)+latitude(i-1))/2.0; dn(i)=(i==H-1)?-90.0:(latitude(i)+latitude(i+1))/2.0; }
cell_area=cell_area*0.0+(sin(up*pi/180.0)-sin(dn*pi/180.0));
NCO
  ncap2 -O -S wb2.nco area.nc wb2area.nc
  A="-setgridarea,wb2area.nc"
  # one initial time (1900-01-01T18), lead 24 h = step 4, valid 1900-01-02T18
  $pangu eval --forecast fc_1900010118.nc $truth --climatology clim.nc --baseline climatology --output one.csv 2>/dev/null
  sel() { echo "-sellevel,$2 -selname,$1"; } # upper-air selection
  fcs() { echo "$A $1 -seltimestep,4 fc_1900010118.nc"; }
  trs() { echo "$A $1 -seldate,1900-01-02T18:00:00 truth.nc"; }
  for spec in "z 500 rmse" "t 850 rmse" "u 250 rmse" "t2m - rmse" "u10 - rmse" "msl - rmse" "t2m - bias" "z 500 bias" \
              "msl - mae" "q 850 mae"; do
    set -- $spec
    if [ "$2" = - ]; then s="-selname,$1"; l=""; else s=$(sel $1 $2); l=$2; fi
    case $3 in
      rmse) op="-sqrt -fldmean -sqr -sub" ;; bias) op="-fldmean -sub" ;; mae) op="-fldmean -abs -sub" ;;
    esac
    cdov=$(cdo -s -outputf,%.10g $op $(fcs "$s") $(trs "$s") 2>/dev/null | tr -d ' ')
    ours=$(value one.csv fc $1 "$l" 24 global $3)
    check "$1${l} $3 at 24 h equals CDO's (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6 1e-6'
  done
  # regions: CDO's sellonlatbox with the WB2 areas of the selected cells (weights normalised over the region)
  box() { cdo -s -sellonlatbox,$1 wb2area.nc area_$2.nc; echo "-setgridarea,area_$2.nc -sellonlatbox,$1"; }
  s=$(sel z 500); B=$(box 0,360,20,90 nh)
  cdov=$(cdo -s -outputf,%.10g -sqrt -fldmean -sqr -sub $B -seltimestep,4 $s fc_1900010118.nc \
         $B -seldate,1900-01-02T18:00:00 $s truth.nc 2>/dev/null | tr -d ' ')
  ours=$(value one.csv fc z 500 24 n_extratropics rmse)
  check "z500 RMSE in n_extratropics (lat >= 20) equals CDO's on sellonlatbox (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6'
  B=$(box 0,360,-20,20 tr)
  cdov=$(cdo -s -outputf,%.10g -fldmean -sub $B -seltimestep,4 -selname,t2m fc_1900010118.nc \
         $B -seldate,1900-01-02T18:00:00 -selname,t2m truth.nc 2>/dev/null | tr -d ' ')
  ours=$(value one.csv fc t2m "" 24 tropics bias)
  check "t2m bias in the tropics (-20..20) equals CDO's on sellonlatbox (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6 1e-6'
  $pangu eval --forecast fc_1900010118.nc $truth --regions 'global,europe=35:72:-12.5:42.5' --output eu.csv 2>/dev/null
  B=$(box -12.5,42.5,35,72 eu)
  cdov=$(cdo -s -outputf,%.10g -sqrt -fldmean -sqr -sub $B -seltimestep,4 -selname,t2m fc_1900010118.nc \
         $B -seldate,1900-01-02T18:00:00 -selname,t2m truth.nc 2>/dev/null | tr -d ' ')
  ours=$(value eu.csv fc t2m "" 24 europe rmse)
  check "--regions with a custom box across 0E: t2m RMSE equals CDO's (ours $ours, cdo $cdov), only the regions asked" \
    'close "$ours" "$cdov" 2e-6 && [ "$(sed 1d eu.csv | cut -d, -f5 | sort -u | tr "\n" " ")" = "europe global " ]'
  # CDO's own cell areas: agreement to the area difference only
  cdov=$(cdo -s -outputf,%.10g -sqrt -fldmean -sqr -sub -seltimestep,4 $s fc_1900010118.nc -seldate,1900-01-02T18:00:00 $s truth.nc 2>/dev/null | tr -d ' ')
  ours=$(value one.csv fc z 500 24 global rmse)
  check "z500 RMSE against CDO with CDO's own great-circle cell areas: relative difference $(reldiff "$ours" "$cdov") (< 2e-3)" \
    'close "$ours" "$cdov" 2e-3'
  # ACC (uncentred) and the climatology baseline: climatology of day 2, 18 UTC (hour index 3)
  ncks -O -v t2m -d dayofyear,1 -d hour,3 clim.nc c1.nc && ncwa -O -a dayofyear,hour c1.nc c2.nc
  cdo -s -sub $(fcs "-selname,t2m") c2.nc fa.nc 2>/dev/null
  cdo -s -sub $(trs "-selname,t2m") c2.nc oa.nc 2>/dev/null
  fo=$(cdo -s -outputf,%.12g -fldmean $A -mul fa.nc oa.nc 2>/dev/null | tr -d ' ')
  ff=$(cdo -s -outputf,%.12g -fldmean $A -sqr fa.nc 2>/dev/null | tr -d ' ')
  oo=$(cdo -s -outputf,%.12g -fldmean $A -sqr oa.nc 2>/dev/null | tr -d ' ')
  cdov=$(awk -v a="$fo" -v b="$ff" -v c="$oo" 'BEGIN { printf "%.10g", a / sqrt(b * c) }')
  ours=$(value one.csv fc t2m "" 24 global acc)
  check "t2m ACC at 24 h equals fldmean(f'o') / sqrt(fldmean(f'^2) fldmean(o'^2)) by CDO (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 1e-5'
  cdov=$(cdo -s -outputf,%.10g -sqrt -fldmean -sqr $A -sub oa.nc -mulc,0 oa.nc 2>/dev/null | tr -d ' ')
  ours=$(value one.csv climatology t2m "" 24 global rmse)
  check "climatology baseline t2m RMSE at 24 h = RMSE of the truth anomaly by CDO (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6'
  # Over the 3 initial times: RMSE = sqrt(time-mean MSE) (cdo -timmean), --rmse-per-time = mean of RMSEs
  $pangu eval --forecast 'fc_*.nc' $truth --rmse-per-time --baseline persistence --output pt.csv 2>/dev/null
  s=$(sel z 500)
  for init in 1900010106 1900010118 1900010206; do
    v=$(date -u -d "${init:0:8} ${init:8:2}:00 24 hours" +%Y-%m-%dT%H:00:00)
    i=$(date -u -d "${init:0:8} ${init:8:2}:00" +%Y-%m-%dT%H:00:00)
    cdo -s -sqr -sub $A -seltimestep,4 $s fc_$init.nc $A -seldate,$v $s truth.nc sq_$init.nc 2>/dev/null
    cdo -s -sub $A -seltimestep,4 $s fc_$init.nc $A -seldate,$v $s truth.nc d_$init.nc 2>/dev/null
    cdo -s -sqr -sub $A -seldate,$i $s truth.nc $A -seldate,$v $s truth.nc pq_$init.nc 2>/dev/null
  done
  cdo -s -O mergetime sq_*.nc sq.nc 2>/dev/null; cdo -s -O mergetime d_*.nc d.nc 2>/dev/null; cdo -s -O mergetime pq_*.nc pq.nc 2>/dev/null
  cdov=$(cdo -s -outputf,%.10g -sqrt -timmean -fldmean $A sq.nc 2>/dev/null | tr -d ' ')
  ours=$(value scores.csv fc z 500 24 global rmse)
  check "z500 RMSE over 3 initial times = sqrt(timmean(fldmean MSE)) by CDO (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6'
  cdov=$(cdo -s -outputf,%.10g -timmean -sqrt -fldmean $A sq.nc 2>/dev/null | tr -d ' ')
  ours=$(value pt.csv fc z 500 24 global rmse)
  check "--rmse-per-time: mean of per-time RMSEs = timmean(sqrt(fldmean)) by CDO (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6'
  cdov=$(cdo -s -outputf,%.10g -timmean -fldmean $A d.nc 2>/dev/null | tr -d ' ')
  ours=$(value scores.csv fc z 500 24 global bias)
  check "z500 bias over 3 initial times = timmean(fldmean) by CDO (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6 1e-6'
  cdov=$(cdo -s -outputf,%.10g -sqrt -timmean -fldmean $A pq.nc 2>/dev/null | tr -d ' ')
  ours=$(value scores.csv persistence z 500 24 global rmse)
  check "persistence z500 RMSE over 3 initial times by CDO on the truth (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6'
  # ensemble mean: the deterministic scores of an ensemble file are those of its mean (pangu forecast's t2m_mean)
  $pangu eval --forecast ens_1900010118.nc $truth --output ens1.csv 2>/dev/null
  cdov=$(cdo -s -outputf,%.10g -sqrt -fldmean -sqr -sub $A -seltimestep,4 -selname,t2m_mean ens_1900010118.nc \
         $A -seldate,1900-01-02T18:00:00 -selname,t2m truth.nc 2>/dev/null | tr -d ' ')
  ours=$(value ens1.csv ens t2m "" 24 global rmse)
  check "ensemble: t2m RMSE of the ensemble mean equals CDO's on t2m_mean (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 2e-6'
else
  echo "  (cdo not installed: CDO comparisons skipped)"
fi

# ---- ensembles
$pangu eval --forecast 'ens_*.nc' $truth --climatology clim.nc --output ens.csv 2>err; rc=$?
check "ensemble: crps and spread_skill, finite and positive ($(tail -1 err))" \
  '[ $rc -eq 0 ] && [ "$(awk -F, "\$6 == \"crps\" || \$6 == \"spread_skill\"" ens.csv | wc -l)" -gt 0 ] &&
   awk -F, "NR > 1 && (\$6 == \"crps\" || \$6 == \"spread_skill\") && !(\$7 > 0) { exit 1 }" ens.csv'
$pangu eval --forecast same_1900010118.nc $truth --output same.csv 2>/dev/null
c=$(value same.csv same t2m "" 24 global crps); m=$(value same.csv same t2m "" 24 global mae)
check "ensemble of 3 identical members: fair CRPS = MAE ($c, $m), spread-skill 0" \
  'close "$c" "$m" 1e-6 && [ "$(value same.csv same z 500 12 tropics spread_skill)" = 0 ]'

# ---- numerical forecasts as users hold them: the same values in other layouts score the same
timeaxis fc_1900010118.nc tfc.nc
cdo -s -f nc4 invertlat -sellonlatbox,-180,180,-90,90 tfc.nc cdo_1900010118.nc 2>/dev/null # time axis + leadtime
ncks -O -3 -x -v forecast_period tfc.nc frt_1900010118.nc
ncrename -O -v z,geopotential -v t2m,2m_temperature frt_1900010118.nc # ERA5 long names; scalar forecast_reference_time
ncks -O -x -v forecast_reference_time frt_1900010118.nc att.nc
ncatted -O -a init_time,global,c,c,"1900-01-01T18:00:00" att.nc att_1900010118.nc
$pangu eval --forecast fc_1900010118.nc --forecast cdo_1900010118.nc --forecast frt_1900010118.nc --baseline "ifs=att_1900010118.nc" \
  $truth --output nwp.csv 2>err; rc=$?
for s in cdo frt ifs; do
  check "numerical forecast '$s' (other layout) scores as the pangu file" \
    '[ $rc -eq 0 ] && cmp -s <(awk -F, "\$1 == \"fc\"" nwp.csv | cut -d, -f2-) <(awk -F, -v s=$s "\$1 == s" nwp.csv | cut -d, -f2-)'
done
$pangu eval --forecast 'fc_*.nc' --name pangu $truth --output named.csv 2>/dev/null
check "--name: one source named pangu over every file" '[ "$(sed 1d named.csv | cut -d, -f1 | sort -u)" = pangu ]'
$pangu eval --forecast fc_1900010118.nc $truth --levels 500,850 --output lv.csv 2>/dev/null
check "--levels 500,850: only those levels" '[ "$(sed 1d lv.csv | cut -d, -f3 | sort -u | tr "\n" " ")" = " 500 850 " ]'

# ---- WeatherBench 2 layouts, made from the files above with xarray as a WB2 user exports them
# (tests/wb2_layout.py cites the WB2 sources of each layout): the same values score exactly the same
if /usr/bin/python3 -c "import xarray, netCDF4" 2>/dev/null; then
  /usr/bin/python3 "$top/tests/wb2_layout.py" climatology clim.nc . 2>wb2.err
  check "WB2 climatologies written by xarray" \
    'ncdump -h wb2_clim.nc | grep -q "float geopotential(hour, dayofyear, level, latitude, longitude)" &&
     ncdump -h wb2_clim.nc | grep -q "2m_temperature(hour, dayofyear, latitude, longitude)" &&
     ncdump -h wb2_daily.nc | grep -q "float geopotential(dayofyear, level, latitude, longitude)" &&
     [ "$(ncks -H -C -v latitude -d latitude,0 wb2_clim.nc | grep -o "latitude\[0\]=[-0-9.]*")" != "latitude[0]=90" ]'
  for c in clim wb2_clim wb2_clim_odd pangu_daily wb2_daily; do
    $pangu eval --forecast 'fc_*.nc' $truth --climatology $c.nc --baseline climatology --output acc_$c.csv 2>err_$c || echo "exit $?" >>err_$c
  done
  check "WB2 climatology (long names, (hour, dayofyear, level, latitude, longitude), latitude ascending) scores exactly as \
pangu's own layout: $(grep -c ',acc,' acc_wb2_clim.csv) ACC rows, every CSV row equal" \
    '[ "$(grep -c ",acc," acc_clim.csv)" -gt 100 ] && cmp -s acc_clim.csv acc_wb2_clim.csv'
  check "WB2 climatology with VAR_mean names in the dim order (dayofyear, level, longitude, latitude, hour) scores the same" \
    'cmp -s acc_clim.csv acc_wb2_clim_odd.csv'
  check "daily WB2 climatology (no hour) scores as the same values in pangu's layout at every hour, not as the hourly one" \
    '[ "$(grep -c ",acc," acc_wb2_daily.csv)" -gt 100 ] && cmp -s acc_pangu_daily.csv acc_wb2_daily.csv && ! cmp -s acc_clim.csv acc_wb2_daily.csv'
  # forecasts: 2 initial times and 2 members in one file, (time, number, prediction_timedelta, level, latitude, longitude)
  $pangu forecast --model-6h f6.h5 --model-24h f24.h5 --input truth.nc --init 1900-01-01T06,1900-01-01T18 --leads 6-24/6 \
    --members 2 --perturb perlin --seed 7 --output 'e2_{init:%Y%m%d%H}.nc' 2>/dev/null
  /usr/bin/python3 "$top/tests/wb2_layout.py" forecast wb2_ens.nc e2_1900010106_m00.nc e2_1900010106_m01.nc -- \
    e2_1900010118_m00.nc e2_1900010118_m01.nc 2>wb2.err
  $pangu eval --forecast e2_1900010106.nc,e2_1900010118.nc --name ens2 $truth --climatology clim.nc --output split.csv 2>/dev/null
  $pangu eval --forecast wb2_ens.nc --name ens2 $truth --climatology clim.nc --output joined.csv 2>err; rc=$?
  check "WB2 ensemble file with 2 initial times on time and 2 members on number scores as the split pangu files \
($(grep -c ',crps,' joined.csv) CRPS rows; $(tail -1 err))" \
    '[ $rc -eq 0 ] && ncdump -h wb2_ens.nc | grep -q "geopotential(time, number, prediction_timedelta, level, latitude, longitude)" &&
     [ "$(grep -c ",crps," split.csv)" -gt 100 ] && cmp -s split.csv joined.csv && grep -q "from 2 forecasts" err'
  expect_fail "--init with a WB2 file of several initial times" "holds 2 initial times" -- \
    $pangu eval --forecast wb2_ens.nc --init 1900-01-01T06 $truth --output bad.csv
else
  echo "  (/usr/bin/python3 with xarray and netCDF4 not installed: WeatherBench 2 layouts skipped)"
fi

# ---- NaN in the truth at scored points: counted per source, variable and lead, warned; refused on request
ncap2 -O -s 'z(3,3,5,10)=0.0f/0.0f;t2m(3,2,3)=0.0f/0.0f;t2m(3,20,40)=0.0f/0.0f' truth.nc truth_nan.nc
$pangu eval --forecast fc_1900010118.nc --truth truth_nan.nc --output nan.csv 2>err; rc=$?
check "NaN in the truth: warned per source, variable and lead with the counts ($(grep -m1 warning err))" \
  '[ $rc -eq 0 ] && grep -q "warning: source fc, z 500 hPa, lead 6 h: the truth is NaN at 1 scored point" err &&
   grep -q "warning: source fc, t2m, lead 6 h: the truth is NaN at 2 scored points" err && [ "$(grep -c warning err)" -eq 2 ]'
check "NaN in the truth: CSV rows truth_nan_points (z500 1, t2m 2 at 6 h global); none without NaN" \
  '[ "$(value nan.csv fc z 500 6 global truth_nan_points)" = 1 ] && [ "$(value nan.csv fc t2m "" 6 global truth_nan_points)" = 2 ] &&
   [ "$(grep -c truth_nan_points nan.csv)" -eq "$(awk -F, "\$6 == \"truth_nan_points\" && \$4 == 6" nan.csv | wc -l)" ] &&
   ! grep -q truth_nan_points scores.csv'
expect_fail "--truth-nan error: a NaN in the truth at a scored point names file, variable and time" \
  "truth: truth_nan.nc: variable 'z' at 500 hPa, valid time 1900-01-02T00:00:00: NaN at 1 scored point" -- \
  $pangu eval --forecast fc_1900010118.nc --truth truth_nan.nc --truth-nan error --output bad.csv
ncap2 -O -s 'z(0,3,5,10)=0.0f/0.0f' truth.nc truth_nan0.nc # 1900-01-01T06: no valid time of the forecast of 18 UTC
$pangu eval --forecast fc_1900010118.nc --truth truth_nan0.nc --truth-nan error --output nan0.csv 2>err; rc=$?
check "--truth-nan error: a NaN at a truth time no pair scores is no error, and no warning" \
  '[ $rc -eq 0 ] && ! grep -q "warning\|NaN" err && ! grep -q truth_nan_points nan0.csv'
expect_fail "--truth-nan with another word" "expected warn or error" -- \
  $pangu eval --forecast fc_1900010118.nc $truth --truth-nan ignore --output bad.csv

# ---- memory independent of the number of initial times: 12 files (some past the truth) against 2
for k in $(seq 0 11); do
  ncap2 -O -s "time=time+6*$k;forecast_reference_time=forecast_reference_time+6*$k" fc_1900010106.nc many_$k.nc
done
# (under AddressSanitizer without its quarantine of freed memory, which grows with every allocation)
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=0"
$pangu eval --forecast many_0.nc --forecast many_1.nc --name many $truth --output m2.csv 2>m2.err
$pangu eval --forecast 'many_*.nc' --name many $truth --output m12.csv 2>m12.err
p2=$(sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p' m2.err); p12=$(sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p' m12.err)
check "12 initial times in the peak memory of 2 (${p2} MB, ${p12} MB); valid times past the truth skipped" \
  '[ -n "$p2" ] && [ -n "$p12" ] && [ "$p12" -le $((p2 + 3)) ] && grep -q "pairs skipped: valid time not in the truth" m12.err'

# ---- bad input: exit 2, one clear line, no CSV and no temporary file
ncks -O -d latitude,0,,2 truth.nc coarse.nc
expect_fail "truth on another grid: suggests pangu regrid" "pangu regrid" -- \
  $pangu eval --forecast fc_1900010118.nc --truth coarse.nc --output bad.csv
ncap2 -O -s 'latitude=latitude*0.9' truth.nc shifted.nc
expect_fail "truth with other latitudes (same size)" "latitude 0 is 90, the truth.s 81.*pangu regrid" -- \
  $pangu eval --forecast fc_1900010118.nc --truth shifted.nc --output bad.csv
ncap2 -O -s 'time=time+24*400' truth.nc late.nc
expect_fail "no common valid times" "no common valid times" -- \
  $pangu eval --forecast fc_1900010118.nc --truth late.nc --output bad.csv
ncks -O -x -v t2m clim.nc clim_no_t2m.nc
expect_fail "a climatology lacking a variable" "lacks variable 't2m'" -- \
  $pangu eval --forecast fc_1900010118.nc $truth --climatology clim_no_t2m.nc --output bad.csv
ncks -O -d level,0,3 clim.nc clim_no250.nc
expect_fail "a climatology lacking a level" "lacks level 250 hPa" -- \
  $pangu eval --forecast fc_1900010118.nc $truth --climatology clim_no250.nc --output bad.csv
ncks -O -d level,1, truth_pl.nc pl_no1000.nc
expect_fail "a truth file missing a requested level" "level 1000 hPa missing" -- \
  $pangu eval --forecast fc_1900010118.nc --truth pl_no1000.nc --truth truth_sfc.nc --output bad.csv
ncks -O -x -v forecast_reference_time frt_1900010118.nc noinit.nc
expect_fail "a forecast without an initial time" "cannot tell the initial time" -- \
  $pangu eval --forecast noinit.nc $truth --output bad.csv
ncatted -O -a complete,global,o,c,no fc_1900010118.nc unfinished.nc
expect_fail "an unfinished forecast file (complete = no)" "unfinished forecast" -- \
  $pangu eval --forecast unfinished.nc $truth --output bad.csv
expect_fail "the same forecast twice" "two forecasts of source 'fc'" -- \
  $pangu eval --forecast fc_1900010118.nc --forecast fc_1900010118.nc $truth --output bad.csv
expect_fail "climatology baseline without a climatology" "needs --climatology" -- \
  $pangu eval --forecast fc_1900010118.nc $truth --baseline climatology --output bad.csv
expect_fail "a bad region" "region 'arctic'" -- $pangu eval --forecast fc_1900010118.nc $truth --regions arctic --output bad.csv
expect_fail "a missing forecast file" "nofile.nc" -- $pangu eval --forecast nofile.nc $truth --output bad.csv
expect_fail "unknown option" "unknown option" -- $pangu eval --forecast fc_1900010118.nc $truth --output bad.csv --frobnicate 1
usage_ok=1 expect_fail "no arguments: usage" "^Usage: pangu eval" -- $pangu eval # the usage text, not one line
expect_fail "unwritable output directory" "cannot write the scores" -- \
  $pangu eval --forecast fc_1900010118.nc $truth --output nodir/bad.csv

echo "eval: $pass passed, $fail failed"
[ $fail -eq 0 ]
