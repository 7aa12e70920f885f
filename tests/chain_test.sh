#!/bin/bash
# The README's chain against the local test server (tests/fetch_server.py):
# pangu fetch of an IFS analysis, a 5-day forecast from it with the demo
# models, pangu fetch of the IFS forecast from the same initial time and of
# the IFS analyses at the valid times, pangu eval of both. Then the IFS
# forecast in the forms users hold it (one file per step, all steps in one,
# pressure and surface fields apart, GRIB 1, NetCDF from CDO and from
# ecCodes' grib_to_netcdf, which lose the initial time: --init, NAME=FILES@T)
# scores the same, and its RMSE agrees with CDO's on the same GRIB files.
# The data are SYNTHETIC (pangu synth on the demo's 32 x 64 grid).
# Usage: tests/chain_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
t=$(mktemp -d)
cd "$t" || exit 1
. "$top/tests/fetch_lib.sh"
. "$top/tests/cdo_lib.sh"
echo "chain tests (fetch -> forecast -> fetch IFS forecast -> eval)"
if $pangu fetch 2>&1 | grep -q "without network"; then
  echo "  (pangu built without libcurl: chain tests skipped)"; exit 0
fi
start=$(date +%s)
serve_test_files
E="--url $base/ecmwf"
value() { awk -F, -v s="$2" -v v="$3" -v l="$4" -v h="$5" -v r="$6" -v m="$7" \
  '$1 == s && $2 == v && $3 == l && $4 == h && $5 == r && $6 == m { print $7 }' "$1"; }
close() { awk -v a="$1" -v b="$2" -v r="$3" -v z="${4:-1e-12}" 'BEGIN { if (a == "" || b == "" || a != a + 0 || b != b + 0) exit 1;
  d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b; exit !(d <= r * s + z) }'; }
# rows of source $2 without the source column
rows() { awk -F, -v s="$2" '$1 == s' "$1" | cut -d, -f2- | sort; }
# same_scores CSV1 SRC1 CSV2 SRC2 [VAR=ABS ...]: the same rows, every value equal (to 1e-9
# relative) but for the variables named, which may differ by ABS (float32 rounding, repacking);
# their rqe rows, a relative quantile difference (dimensionless), by 1e-4
same_scores() {
  local a=$1 sa=$2 b=$3 sb=$4; shift 4
  [ "$(rows "$a" "$sa" | wc -l)" -gt 100 ] && [ "$(rows "$a" "$sa" | cut -d, -f1-5)" = "$(rows "$b" "$sb" | cut -d, -f1-5)" ] &&
    paste -d, <(rows "$a" "$sa") <(rows "$b" "$sb") | awk -F, -v tol="$*" 'BEGIN { n = split(tol, x, " ");
      for (i = 1; i <= n; i++) { split(x[i], kv, "="); t[kv[1]] = kv[2] } }
      { d = $6 - $12; if (d < 0) d = -d; s = $12 < 0 ? -$12 : $12; lim = ($1 in t) ? t[$1] : 1e-9 * s + 1e-12;
        if ($5 == "rqe" && ($1 in t)) lim = 1e-4;
        if (d > lim) { print "differs: " $0 > "/dev/stderr"; bad = 1 } } END { exit bad }'
}

# ---- the chain, as the README shows it
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 $E --out ic 2>err; rc=$?
check "1. fetch the IFS analysis of 2026-12-01T00" '[ $rc -eq 0 ] && [ -s ic/ifs_2026120100.grib2 ]'
m="$top/models"
mkdir fc
$pangu forecast --model-6h $m/demo_6h.h5 --model-24h $m/demo_24h.h5 --input ic/ifs_2026120100.grib2 \
  --init 2026-12-01T00 --leads 24-120/24 --output 'fc/pangu_{init:%Y%m%d%H}.nc' 2>err; rc=$?
check "2. a 5-day forecast from it (demo models): $(tail -1 err | cut -c1-80)" '[ $rc -eq 0 ] && [ -s fc/pangu_2026120100.nc ]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-01T00 --leads 24-120/24 $E --out ifs 2>err; rc=$?
check "3. fetch the IFS forecast from the same initial time (5 files, one per step)" \
  '[ $rc -eq 0 ] && [ $(ls ifs/ifs_2026120100_f*.grib2 | wc -l) = 5 ]'
limit $pangu fetch --source ecmwf-opendata --time 2026-12-02T00/2026-12-06T00/24 $E --out an 2>err; rc=$?
check "4. fetch the IFS analyses at the valid times" '[ $rc -eq 0 ] && [ $(ls an/*.grib2 | wc -l) = 5 ]'
$pangu eval --forecast fc/pangu_2026120100.nc --baseline 'ifs=ifs/ifs_2026120100_f*.grib2' --baseline persistence \
  --truth 'ic/*.grib2' --truth 'an/*.grib2' --output scores.csv 2>err; rc=$?
zp=$(value scores.csv pangu z 500 24 global rmse); zi=$(value scores.csv ifs z 500 24 global rmse)
zn=$(value scores.csv persistence z 500 24 global rmse); zp5=$(value scores.csv pangu z 500 120 global rmse)
check "5. eval of both against the analyses: z500 RMSE at 24 h pangu $zp, IFS $zi, persistence $zn; pangu at 120 h $zp5" \
  '[ $rc -eq 0 ] && [ "$(sed 1d scores.csv | cut -d, -f1 | sort -u | tr "\n" " ")" = "ifs pangu persistence " ] &&
   [ "$(sed 1d scores.csv | cut -d, -f4 | sort -un | tr "\n" " ")" = "24 48 72 96 120 " ] &&
   awk -v p=$zp -v i=$zi -v n=$zn "BEGIN { exit !(p > 0 && i > 0 && p < n && i < n) }"'

# ---- the IFS forecast as users hold it: every layout scores as the files fetched
fl=$(ls ifs/ifs_2026120100_f*.grib2)
ev() { $pangu eval --truth 'ic/*.grib2' --truth 'an/*.grib2' --quiet "$@"; }
cat $fl >all.grib2
ev --baseline 'ifs=ifs/ifs_2026120100_f*.grib2' --baseline "all=all.grib2" --forecast fc/pangu_2026120100.nc --output s1.csv 2>err
check "all steps in one GRIB file scores as one file per step, to the bit" 'same_scores s1.csv ifs s1.csv all'
mkdir split
for f in $fl; do b=$(basename $f .grib2); s=${b#ifs_}
  grib_copy -w typeOfLevel=isobaricInhPa $f split/ifs_pl_$s.grib2; grib_copy -w typeOfLevel!=isobaricInhPa $f split/ifs_sfc_$s.grib2; done
ev --forecast 'split/*.grib2' --output s2.csv 2>err; rc=$?
check "pressure levels and surface fields in separate files, one per step, in one --forecast glob (source 'ifs')" \
  '[ $rc -eq 0 ] && same_scores s1.csv ifs s2.csv ifs'
for f in $fl; do grib_set -s edition=1 $f ${f%.grib2}.grib1; done
cat ifs/*.grib1 >all.grib1
ev --forecast all.grib1 --output s3.csv 2>err; rc=$?
check "GRIB 1 (grib_set -s edition=1, repacked), all steps in one file: the same to the repacking" \
  '[ $rc -eq 0 ] && same_scores s1.csv ifs s3.csv all z=0.05 msl=0.05 t=5e-4 t2m=5e-4 q=1e-8 u=1e-4 v=1e-4 u10=1e-5 v10=1e-5 wind=1e-6'
cdo_stable -s -f nc4 copy all.grib2 cdo.nc 2>/dev/null
ev --forecast cdo.nc --output bad.csv 2>err; rc=$?
check "NetCDF from CDO has no initial time: the error says both ways ($(tail -1 err | sed 's/.*dataDate)://' | cut -c1-90))" \
  '[ $rc -eq 2 ] && grep -q "cannot tell the initial time.*--init T (for --forecast) or NAME=FILES@T (for --baseline" err && [ ! -e bad.csv ]'
ev --forecast cdo.nc --init 2026-12-01T00 --output s4.csv 2>err; rc=$?; cp err err4
ev --baseline "cdo=cdo.nc@2026-12-01T00" --forecast fc/pangu_2026120100.nc --output s5.csv 2>err5; rc5=$?
check "NetCDF from CDO (10u, 2t, plev in Pa) with --init T, and as a baseline NAME=FILE@T, scores as the GRIB (z: gh in float32) ($(tail -1 err4 | cut -c1-200))" \
  '[ $rc -eq 0 ] && [ $rc5 -eq 0 ] && same_scores s1.csv ifs s4.csv cdo z=0.02 && same_scores s1.csv ifs s5.csv cdo z=0.02'
grib_copy -w typeOfLevel=isobaricInhPa all.grib2 pl.grib2; grib_copy -w typeOfLevel!=isobaricInhPa all.grib2 sfc.grib2
grib_to_netcdf -D NC_FLOAT -o ecc_pl.nc pl.grib2 >/dev/null && grib_to_netcdf -D NC_FLOAT -o ecc_sfc.nc sfc.grib2 >/dev/null
ev --baseline "ecc=ecc_pl.nc,ecc_sfc.nc@2026-12-01T00" --forecast fc/pangu_2026120100.nc --output s6.csv 2>err; rc=$?
check "NetCDF from ecCodes' grib_to_netcdf, pressure and surface files apart, NAME=FILES@T" \
  '[ $rc -eq 0 ] && same_scores s1.csv ifs s6.csv ecc z=0.02'
ev --forecast cdo.nc --init 2026-12-02T00 --output bad.csv 2>err; rc=$?
ev --forecast all.grib2 --init 2026-12-02T00 --output bad.csv 2>err2; rc2=$?
check "a given initial time that contradicts the file's: refused ($(tail -1 err2 | cut -c1-100))" \
  '[ $rc -eq 0 ] && [ $rc2 -eq 2 ] && grep -q "declares the initial time 2026-12-01T00:00:00, but 2026-12-02T00:00:00 is given" err2'
echo "not a forecast" >junk.grib2
ev --forecast junk.grib2 --output bad.csv 2>err; rc=$?
check "a file that is no forecast at all: named" '[ $rc -eq 2 ] && grep -q "junk.grib2: not a forecast file" err'
cat ic/ifs_2026120100.grib2 an/ifs_2026120200.grib2 >tworuns.grib2
ev --forecast tworuns.grib2 --output bad.csv 2>err; rc=$?
check "GRIB messages of two runs in one file: refused" '[ $rc -eq 2 ] && grep -q "GRIB messages from several initial times" err'
ev --forecast ifs/ifs_2026120100_f024.grib2 --forecast ifs/ifs_2026120100_f048.grib2 --output bad.csv 2>err; rc=$?
check "the same run in two --forecast options: two forecasts, refused with the remedy" \
  '[ $rc -eq 2 ] && grep -q "two forecasts of source .ifs. from 2026-12-01T00:00:00 (files of one forecast go in one option" err'

# ---- against CDO on the same GRIB files (WeatherBench 2 cell areas given to CDO, as in eval_test.sh)
cdo_stable -s -f nc gridarea -selname,2t -seltimestep,1 all.grib2 area.nc 2>/dev/null
cat >wb2.nco <<'NCO'
*H=$lat.size; *up[$lat]=0.0; *dn[$lat]=0.0; *pi=3.14159265358979323846;
for(*i=0;i<H;i++){ up(i)=(i==0)?90.0:(lat(i)+lat(i-1))/2.0; dn(i)=(i==H-1)?-90.0:(lat(i)+lat(i+1))/2.0; }
cell_area=cell_area*0.0+(sin(up*pi/180.0)-sin(dn*pi/180.0));
NCO
ncap2 -O -S wb2.nco area.nc wb2area.nc 2>/dev/null
A="-setgridarea,wb2area.nc"
for spec in "gh z 500 9.80665 48" "t t 850 1 72" "2t t2m - 1 24" "msl msl - 1 120" "10u u10 - 1 96"; do
  set -- $spec
  if [ "$3" = - ]; then sel="-selname,$1"; lev=""; else sel="-sellevel,$(( $3 * 100 )) -selname,$1"; lev=$3; fi # CDO: Pa
  v=$(date -u -d "2026-12-01 00:00 $5 hours" +%Y%m%d)
  cdov=$(cdo_stable -s -outputf,%.10g -mulc,$4 -sqrt -fldmean -sqr -sub $A $sel ifs/ifs_2026120100_f$(printf %03d $5).grib2 \
         $A $sel an/ifs_${v}00.grib2 2>/dev/null | tr -d ' ')
  ours=$(value s1.csv ifs $2 "$lev" $5 global rmse)
  # (fields in float32 here, in double in CDO)
  check "IFS $2${lev} RMSE at $5 h equals CDO's on the GRIB files (ours $ours, cdo $cdov)" 'close "$ours" "$cdov" 1e-5'
done

echo "chain: $pass passed, $fail failed ($(( $(date +%s) - start )) s)"
[ $fail -eq 0 ]
