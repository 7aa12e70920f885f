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
# legacy packs each variable with one scale over all levels: z in steps of about 3 m2 s-2, q in steps of
# 4e-7 kg/kg (the range is set by the surface's 0.027), which is a fifth of the untrained model's q std at
# 100 and 50 hPa (1e-6) and of the spread of stratospheric humidity there. So up to 200 hPa the forecasts
# agree to 10 packing steps of z; above, where that q error matters and the model also scales z by its
# largest std (4500 m2 s-2 at 50 hPa), to 100 m2 s-2 (2% of that std).
ncdiff -O a.nc b.nc d.nc && ncwa -O -y mabs d.nc dmax.nc && ncwa -O -y mabs -a step,latitude,longitude d.nc dlev.nc
zd=$(ncks -H -C -s '%.6g' -v z dmax.nc); td=$(ncks -H -C -s '%.6g' -v t2m dmax.nc)
zlow=$(ncks -H -C -s '%.6g\n' -v z -d level,200.,1000. dlev.nc | awk 'NF && $1 > m { m = $1 } END { print m + 0 }')
check "the two layouts give the same forecast to packing precision (z $zlow up to 200 hPa, $zd above; t2m $td)" \
  "[ -n \"$zd\" ] && [ -n \"$td\" ] && awk -v z=$zlow -v a=$zd -v t=$td 'BEGIN { exit !(z < 30 && a < 100 && t < 0.01) }'"
$pangu stats --input "legacy/era5_pl_201901.nc" --input legacy/era5_sfc_201901.nc --output st.nc 2>/dev/null
z500=$(ncks -H -C -s '%.6g\n' -v z_mean st.nc | sed -n 6p); t850=$(ncks -H -C -s '%.6g\n' -v t_mean st.nc | sed -n 3p)
check "a plausible climate: z500 mean $z500 m2 s-2, t850 mean $t850 K" \
  "[ -n \"$z500\" ] && awk -v z=$z500 -v t=$t850 'BEGIN { exit !(z > 50000 && z < 58000 && t > 255 && t < 285) }'"
# ---- a plausible climate, balanced: zonal means of January 20 on a 5-degree grid (exact equator)
mkdir clim
$pangu synth --grid 37,72 --start 2019-01-20T00 --hours 1 --format legacy --out clim 2>/dev/null
ncwa -O -a longitude,time clim/era5_pl_201901.nc zm.nc && ncwa -O -a longitude,time clim/era5_sfc_201901.nc zs.nc
zmean() { ncks -H -C -s '%.6g\n' -d level,$2 -d latitude,$3 -v $1 zm.nc | sed -n 1p; } # zmean VAR LEVEL LAT
u_eq=$(zmean u 500. 0.)
check "weak easterlies at the equator: zonal-mean u at 500 hPa $u_eq m/s (-10 to 5)" \
  "[ -n \"$u_eq\" ] && awk -v u=$u_eq 'BEGIN { exit !(u > -10 && u < 5) }'"
# the largest zonal-mean u below 100 hPa in each hemisphere: a jet of 20-60 m/s at 200-300 hPa, 25-55 degrees
ncks -H -C --trd -v u zm.nc | sed -n 's/.*level\[[0-9]*\]=\([0-9.]*\) latitude\[[0-9]*\]=\([-0-9.]*\) u\[[0-9]*\]=\([-0-9.e+]*\).*/\1 \2 \3/p' >zmu.txt
for hemi in north south; do
  jet=$(awk -v h=$hemi '$1 >= 100 && (h == "north" ? $2 > 0 : $2 < 0) && (n == 0 || $3 > m) { m = $3; l = $1; p = $2; n = 1 }
                        END { print m, l, p }' zmu.txt)
  check "a $hemi jet: zonal-mean u max (m/s, hPa, degrees) $jet" \
    "awk -v j=\"$jet\" 'BEGIN { split(j, a, \" \"); p = a[3] < 0 ? -a[3] : a[3]; exit !(a[1] > 20 && a[1] < 60 && a[2] >= 200 && a[2] <= 300 && p >= 25 && p <= 55) }'"
done
trades=$(ncks -H -C -s '%.4g ' -d latitude,15. -d latitude,-15. -v u10 zs.nc); west=$(ncks -H -C -s '%.4g ' -d latitude,50. -d latitude,-50. -v u10 zs.nc)
check "surface: easterly trades at 15N/S ($trades m/s) and midlatitude westerlies at 50N/S ($west m/s)" \
  "[ -n \"$trades\" ] && awk -v t=\"$trades\" -v w=\"$west\" 'BEGIN { split(t, a, \" \"); split(w, b, \" \"); exit !(a[1] < -1 && a[2] < -1 && a[1] > -12 && a[2] > -12 && b[1] > 1 && b[2] > 1 && b[1] < 15 && b[2] < 15) }'"
ncpdq -O -U clim/era5_pl_201901.nc pl.nc && ncpdq -O -U clim/era5_sfc_201901.nc sfc.nc # unpacked
ranges() { ncks -H -C -s '%.6g\n' -d level,$2 -v $1 pl.nc | awk 'NF { if (n++ == 0 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 } END { print lo, hi }'; }
q1000=$(ranges q 1000.); q50=$(ranges q 50.); t1000=$(ranges t 1000.); t50=$(ranges t 50.); t250=$(ranges t 250.)
within() { # within "LO HI ..." "A B ...": every LO >= A and HI <= B pairwise, in order: values then bounds
  awk -v v="$1" -v b="$2" 'BEGIN { n = split(v, x, " "); split(b, y, " "); for (i = 1; i <= n; i++) if (!(x[i] >= y[2 * i - 1] && x[i] <= y[2 * i])) exit 1; exit !(n > 0) }'
}
check "humidity: q at 1000 hPa $q1000, at 50 hPa $q50 kg/kg" 'within "$q1000 $q50" "1e-6 0.005 0.012 0.03 1e-7 1e-5 1e-7 2e-5"'
check "temperature: at 1000 hPa $t1000 K, 250 hPa $t250 K, 50 hPa $t50 K" 'within "$t1000 $t250 $t50" "235 260 290 315 200 235 225 250 180 215 195 240"'
msl=$(ncks -H -C -s '%.6g\n' -v msl sfc.nc | awk 'NF { s += $1; n++; if (n == 1 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 } END { printf "%.0f %.0f %.0f", lo, s / n, hi }')
t2m=$(ncks -H -C -s '%.6g\n' -v t2m sfc.nc | awk 'NF { if (n++ == 0 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 } END { print lo, hi }')
check "msl (min, mean, max) $msl Pa, t2m (min, max) $t2m K" 'within "$msl $t2m" "95000 100000 100500 102000 102000 105000 220 265 295 320"'
# gradient-wind balance of the zonal means, f u + u^2 tan(phi) / a = -(1/a) dPhi/dphi, at 20-70 degrees on a
# 1-degree grid, as a wind error (m/s); the hypsometric equation between 500 and 400 hPa at every point
mkdir bal
$pangu synth --grid 181,8 --start 2019-01-20T00 --hours 1 --format cds2024 --levels 500,400,250 --out bal 2>/dev/null
for lev in 500 250; do
  for v in u z; do ncks -H -C -s '%.9g\n' -d pressure_level,$lev. -d valid_time,0 -v $v bal/era5_pl_201901.nc | awk 'NF' >$v.txt; done
  worst=$(paste u.txt z.txt | awk '{ u[NR] = $1; z[NR] = $2 } END {
      for (r = 0; r < 181; r++) { lat = 90 - r; if (lat < 0 ? lat > -20 || lat < -70 : lat < 20 || lat > 70) continue
        su = 0; for (k = 0; k < 8; k++) su += u[8 * r + k + 1]; su /= 8
        zn = 0; zs = 0; for (k = 0; k < 8; k++) { zn += z[8 * (r - 1) + k + 1]; zs += z[8 * (r + 1) + k + 1] }
        phi = lat * 3.14159265358979 / 180; f = 2 * 7.292e-5 * sin(phi)
        res = (f * su + su * su * sin(phi) / cos(phi) / 6.371e6 + (zn - zs) / 8 / (2 * 3.14159265358979 / 180) / 6.371e6) / f
        if (res < 0) res = -res; if (res > m) m = res }
      printf "%.3g", m }')
  check "zonal-mean u in gradient-wind balance with z at $lev hPa (worst $worst m/s)" \
    "[ -n \"$worst\" ] && awk -v w=$worst 'BEGIN { exit !(w < 1) }'"
done
for v in z t; do for lev in 500 400; do ncks -H -C -s '%.9g\n' -d pressure_level,$lev. -v $v bal/era5_pl_201901.nc | awk 'NF' >${v}$lev.txt; done; done
hyps=$(paste z500.txt z400.txt t500.txt t400.txt | awk '{ e = ($2 - $1) / (287.05 * ($3 + $4) / 2 * log(500 / 400)) - 1; if (e < 0) e = -e; if (e > m) m = e } END { printf "%.3g", m }')
check "hypsometric: z(400) - z(500) = Rd mean(t) ln(500/400) everywhere (worst relative error $hyps)" \
  "[ -n \"$hyps\" ] && awk -v e=$hyps 'BEGIN { exit !(e < 0.002) }'"
# a level's fields do not depend on which levels are requested, nor the surface fields
mkdir lev13 lev2
$pangu synth --grid 32,64 --start 2019-05-03T07 --hours 1 --format cds2024 --out lev13 2>/dev/null
$pangu synth --grid 32,64 --start 2019-05-03T07 --hours 1 --format cds2024 --levels 850,500 --out lev2 2>/dev/null
same() { # same VAR LEVEL|-: the largest difference between the two level sets
  if [ "$2" = - ]; then f=era5_sfc_201905.nc; sel=""; else f=era5_pl_201905.nc; sel="-d pressure_level,$2."; fi
  paste <(ncks -H -C -s '%.9g\n' $sel -v $1 lev13/$f | awk 'NF') <(ncks -H -C -s '%.9g\n' $sel -v $1 lev2/$f | awk 'NF') |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; n++ } END { print (n == 2 * 32 * 64 ? m + 0 : "missing") }'
}
dz=$(same z 500); dt=$(same t 850); dm=$(same msl -); d2=$(same t2m -)
check "z500, t850, msl and t2m the same with 13 or 2 levels requested (largest differences $dz, $dt, $dm, $d2)" \
  "[ \"$dz\" = 0 ] && [ \"$dt\" = 0 ] && [ \"$dm\" = 0 ] && [ \"$d2\" = 0 ]"

# ---- synthetic numerical forecasts: a skilful, imperfect baseline pangu eval reads
mkdir truth nwp
$pangu synth --grid 32,64 --start 2019-02-01T00 --hours 48 --step-hours 6 --format legacy --out truth 2>/dev/null
$pangu synth --forecast-from 2019-02-01T00/2019-02-01T12/12 --hours 48 --step-hours 6 --format legacy --out nwp 2>err; rc=$?
check "--forecast-from T0/T1/H: one file per initial time ($(tail -1 err))" \
  '[ $rc -eq 0 ] && [ -s nwp/nwp_2019020100.nc ] && [ -s nwp/nwp_2019020112.nc ] && [ "$(ls nwp | wc -l)" -eq 2 ]'
check "forecast files: pressure-level and surface variables, initial time, say they are synthetic" \
  'h=$(ncdump -h nwp/nwp_2019020112.nc); echo "$h" | grep -q "short z(time, level, latitude, longitude)" &&
   echo "$h" | grep -q "short t2m(time, latitude, longitude)" && echo "$h" | grep -q "int forecast_reference_time ;" &&
   echo "$h" | grep -q ":init_time = \"2019-02-01T12:00:00\"" && echo "$h" | grep -q ":synthetic = \"yes\"" &&
   [ "$(ncks -H -C -s "%d" -v forecast_reference_time nwp/nwp_2019020112.nc)" = 1043892 ]'
$pangu forecast --model-6h m.h5 --input "truth/era5_pl_*.nc truth/era5_sfc_*.nc" --init 2019-02-01T00 --leads 6-12/6 \
  --output "fc_{init:%Y%m%d%H}.nc" 2>/dev/null
$pangu eval --forecast fc_2019020100.nc --truth 'truth/era5_*.nc' --baseline persistence \
  --baseline nwp=nwp/nwp_2019020100.nc,nwp/nwp_2019020112.nc --output nwp.csv 2>err; rc=$?
r() { awk -F, -v s=$1 -v v=$2 -v l=$3 -v h=$4 '$1 == s && $2 == v && $3 == l && $4 == h && $5 == "global" && $6 == "rmse" { print $7 }' nwp.csv; }
check "pangu eval --baseline nwp=...: rows for source nwp at leads 0 to 48 h ($(tail -1 err))" \
  '[ $rc -eq 0 ] && [ "$(awk -F, "\$1 == \"nwp\"" nwp.csv | cut -d, -f4 | sort -un | tr "\n" " ")" = "0 6 12 18 24 30 36 42 48 " ]'
z0=$(r nwp z 500 0); z6=$(r nwp z 500 6); z24=$(r nwp z 500 24); z48=$(r nwp z 500 48); p24=$(r persistence z 500 24)
t0=$(r nwp t2m "" 0)
check "nwp starts from the truth (z500 RMSE $z0, t2m $t0: packing) and its error grows (6 h $z6, 24 h $z24, 48 h $z48) but beats persistence ($p24 at 24 h)" \
  "[ -n \"$z48\" ] && [ -n \"$p24\" ] && awk -v a=$z0 -v t=$t0 -v b=$z6 -v c=$z24 -v d=$z48 -v p=$p24 'BEGIN { exit !(a < 5 && t < 0.01 && a < b && b < c && c < d && c > 10 && c < 0.5 * p) }'"
$pangu synth --forecast-from 2019-02-01T00 --hours 12 --format cds2024 --out nwp 2>/dev/null
check "cds2024 forecasts: NetCDF-4 floats on valid_time with forecast_reference_time" \
  'h=$(ncdump -h nwp/nwp_2019020100.nc); echo "$h" | grep -q "float z(valid_time, pressure_level, latitude, longitude)" &&
   echo "$h" | grep -q "int64 forecast_reference_time ;" && echo "$h" | grep -q "valid_time = 3 ;"'
$pangu synth --forecast-from 2019-02-30T00 --out nwp 2>err; rc=$?
check "an impossible initial time: exit 2 ($(cat err))" '[ $rc -eq 2 ] && grep -q "2019-02 has 28 days" err'
$pangu synth --help >help.txt; rc=$?
check "--help documents --forecast-from" '[ $rc -eq 0 ] && grep -q -- "--forecast-from T" help.txt'
$pangu synth --grid 32,64 --hours 3 --out made/here 2>err; rc=$?
check "a missing output directory is created" '[ $rc -eq 0 ] && [ -s made/here/invariant.nc ]'
echo file >afile
$pangu synth --grid 32,64 --hours 3 --output afile/dir 2>err; rc=$?
check "a directory that cannot be made: exit 2 ($(cat err))" '[ $rc -eq 2 ] && grep -q "not a directory" err'
# ---- progress into a log file (stderr not a terminal): plain lines, no carriage return, in order, the
# last one the end; PANGU_PROGRESS_INTERVAL=0 asks for a line at every step (months for synth, times for stats)
mkdir prog
PANGU_PROGRESS_INTERVAL=0 $pangu synth --grid 8,16 --start 2019-01-31T00 --hours 1440 --step-hours 24 --out prog 2>synth.log
check "synth into a log: no carriage return, one line per month in order, the last at 61 of 61 times ($(grep written synth.log | tail -1))" \
  '! grep -q $'"'"'\r'"'"' synth.log && [ "$(grep -o "^pangu synth: [0-9-]* written" synth.log | cut -d" " -f3 | tr "\n" " ")" = "2019-01 2019-02 2019-03 2019-04 " ] &&
   grep "written" synth.log | tail -1 | grep -q "61 of 61 times, 8 files, [0-9.e+]* times/s, ETA 0 s$"'
$pangu synth --grid 8,16 --start 2019-01-31T00 --hours 1440 --step-hours 24 --out prog2 2>synth2.log
check "synth into a log at the default interval: no carriage return, the final line" \
  '! grep -q $'"'"'\r'"'"' synth2.log && grep "written" synth2.log | tail -1 | grep -q "^pangu synth: 2019-04 written, 61 of 61 times"'
PANGU_PROGRESS_INTERVAL=0 $pangu stats --input 'prog/era5_*.nc' --output pst.nc 2>stats.log
check "stats into a log: no carriage return, lines 1..61 of 61 times in order, then wrote ($(tail -1 stats.log))" \
  '! grep -q $'"'"'\r'"'"' stats.log && [ "$(grep -c "times, .* per s, ETA" stats.log)" -eq 61 ] &&
   [ "$(grep -o "^pangu stats: [0-9]* of 61 times" stats.log | cut -d" " -f3 | tr "\n" " ")" = "$(seq 1 61 | tr "\n" " ")" ] &&
   tail -1 stats.log | grep -q "^pangu stats: wrote pst.nc"'
$pangu stats --input 'prog/era5_*.nc' --output pst2.nc 2>stats2.log
check "stats into a log at the default interval: no carriage return, the final line" \
  '! grep -q $'"'"'\r'"'"' stats2.log && grep -q "^pangu stats: 61 of 61 times" stats2.log'

for bad in abc -1 inf 1e999 "2 s"; do
  PANGU_PROGRESS_INTERVAL="$bad" $pangu synth --grid 4,8 --hours 2 --out "badint" 2>badint.log; rc=$?
  check "PANGU_PROGRESS_INTERVAL='$bad': one warning naming it, the default used, the job done (rc $rc)" \
    '[ $rc = 0 ] && [ "$(grep -c "PANGU_PROGRESS_INTERVAL=.*expected seconds" badint.log)" = 1 ] && grep -q "^pangu synth: wrote badint" badint.log'
  rm -rf badint
done

echo "synth: $pass passed, $fail failed"
[ $fail -eq 0 ]
