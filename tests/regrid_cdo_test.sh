#!/bin/bash
# pangu regrid end to end: the output's layout, bad input (exit status 2,
# one line on stderr, nothing written), and agreement with
# `cdo remapcon,<the coarse grid>` on the same inputs (max abs difference
# relative to the field's range <= 1e-5, identical missing cells) for every
# variable: float with _FillValue gaps that change with time and level,
# packed short, double, and a field without leading dimensions; on
# pole-to-pole, south-to-north, -180..180 and offset (block) grids with
# factors 2, 3, 4 and 8. Without cdo the comparison is skipped.
# Usage: tests/regrid_cdo_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
t=$(mktemp -d)
. "$(dirname "$0")/lib.sh" # files_state, unchanged_since (and the counters)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "  ok: $1"; else fail=$((fail + 1)); echo "  FAILED: $1"; fi; }

# mkinput NAME H W LAT0 LAT1 LON0: a NetCDF-4 input written as CDL by awk:
# tf(time, level, lat, lon) float with _FillValue gaps moving with time and
# level, tp the same field packed in shorts with gaps of its own, td(time,
# lat, lon) double, sf(lat, lon) float, other(level) and tag(nchar) to copy.
mkinput() {
  awk -v name="$1" -v H="$2" -v W="$3" -v lat0="$4" -v lat1="$5" -v lon0="$6" '
  function emit(vname, n, arr,   i) {
    printf " %s =", vname
    for (i = 0; i < n; i++) printf "%s%s%s", (i % 8 == 0 ? "\n  " : " "), arr[i], (i < n - 1 ? "," : " ;\n")
  }
  BEGIN {
    pi = 3.14159265358979323846; split("850 500 250", lev, " ")
    print "netcdf " name " {\ndimensions:\n  time = UNLIMITED ; level = 3 ; lat = " H " ; lon = " W " ; nchar = 4 ;\nvariables:"
    print "  double time(time) ; time:units = \"hours since 2000-01-01 00:00:00\" ; time:standard_name = \"time\" ; time:calendar = \"standard\" ;"
    print "  float level(level) ; level:units = \"hPa\" ; level:standard_name = \"air_pressure\" ; level:positive = \"down\" ;"
    print "  double lat(lat) ; lat:units = \"degrees_north\" ; lat:standard_name = \"latitude\" ;"
    print "  double lon(lon) ; lon:units = \"degrees_east\" ; lon:standard_name = \"longitude\" ;"
    print "  float tf(time, level, lat, lon) ; tf:_FillValue = -999.f ; tf:units = \"K\" ; tf:long_name = \"float with gaps\" ;"
    print "  short tp(time, level, lat, lon) ; tp:scale_factor = 0.002 ; tp:add_offset = 260. ; tp:_FillValue = -32767s ; tp:missing_value = -32767s ; tp:units = \"K\" ;"
    print "  double td(time, lat, lon) ; td:units = \"m\" ;"
    print "  float sf(lat, lon) ; sf:units = \"1\" ;"
    print "  int other(level) ; other:note = \"copied\" ;"
    print "  char tag(nchar) ;"
    print "  :title = \"regrid test input\" ; :history = \"made by ncgen\" ;\ndata:"
    print " time = 0, 6 ;\n level = 850, 500, 250 ;\n other = 1, 2, 3 ;\n tag = \"abcd\" ;"
    for (i = 0; i < H; i++) la[i] = lat0 + (lat1 - lat0) * i / (H - 1)
    for (j = 0; j < W; j++) lo[j] = lon0 + 360.0 * j / W
    emit("lat", H, la); emit("lon", W, lo)
    n = 0
    for (t = 0; t < 2; t++) for (k = 1; k <= 3; k++) for (i = 0; i < H; i++) for (j = 0; j < W; j++) {
      rl = la[i] * pi / 180; rn = lo[j] * pi / 180; l360 = lo[j] < 0 ? lo[j] + 360 : lo[j]
      v = 250 + 30 * cos(rl) + 8 * sin(3 * rn) * cos(rl)^2 + 5 * sin(7 * rl + 2 * rn) + 3 * cos(la[i] * lo[j] * 0.01) + lev[k] / 100 + t
      f[n] = (la[i] > 30 + 10 * lev[k] / 250 && l360 > 100 + 20 * t && l360 < 200) ? "_" : sprintf("%.9g", v)
      p[n] = (la[i] < -70 + t && lev[k] < 400) ? "_" : sprintf("%d", int((v - 260) / 0.002 + (v > 260 ? 0.5 : -0.5)))
      n++
    }
    emit("tf", n, f); emit("tp", n, p)
    m = 0
    for (t = 0; t < 2; t++) for (i = 0; i < H; i++) for (j = 0; j < W; j++)
      d[m++] = sprintf("%.17g", 1000 * sin(la[i] * pi / 180)^3 + 20 * cos(5 * lo[j] * pi / 180) + 3 * sin(la[i] * lo[j] * 0.02) - 7 * t)
    emit("td", m, d)
    m = 0
    for (i = 0; i < H; i++) for (j = 0; j < W; j++)
      s[m++] = sprintf("%.9g", 0.5 + 0.4 * sin(2 * la[i] * pi / 180) * cos(lo[j] * pi / 180) + 0.1 * sin(lo[j] * la[i] * 0.05))
    emit("sf", m, s)
    print "}"
  }' >"$1.cdl" && ncgen -k nc4 -o "$1.nc" "$1.cdl"
}

# values FILE VAR: the variable's values one per line ("_" for missing).
values() { ncdump -v "$2" -p 9,17 "$1" | sed -n "/^ $2 =/,/;/p" | sed "s/^ $2 =//; s/[;,]/ /g" | tr -s ' \n' '\n\n' | grep -v '^$'; }
# compare OURS REF VAR: "n maxdiff range rel mismatched_missing"
compare() {
  paste <(values "$1" "$3") <(values "$2" "$3") | awk '
    NF != 2 { bad++; next }
    $1 == "_" || $2 == "_" { if ($1 != $2) miss++; next }
    { d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; if (!n || $2 < lo) lo = $2; if (!n || $2 > hi) hi = $2; n++ }
    END { r = hi - lo; printf "%d %.3g %.6g %.3g %d\n", n, m, r, (r > 0 ? m / r : m), miss + bad }'
}

echo "regrid tests"
mkinput a 33 64 90 -90 0             # pole to pole, north to south: every K-th latitude
mkinput b 33 64 -90 90 -180          # south to north, longitudes from -180
mkinput c 32 64 87.1875 -87.1875 0   # no poles: blocks of K latitudes
mkinput d 37 72 90 -90 0             # odd factor
mkinput e 37 90 90 -90 0             # 90 longitudes: factor 4 does not divide them
check "test inputs written with ncgen" '[ -s a.nc ] && [ -s b.nc ] && [ -s c.nc ] && [ -s d.nc ] && [ -s e.nc ]'

# Layout of one output.
$pangu regrid --factor 4 --input a.nc --output a4.nc 2>err; rc=$?
check "regrid runs ($(cat err))" '[ $rc -eq 0 ] && [ -s a4.nc ] && [ -z "$(ls | grep "\.tmp\.")" ]'
h=$(ncdump -hs a4.nc 2>/dev/null)
check "33 x 64 -> 9 x 16, time and level kept" 'grep -q "lat = 9 ;" <<<"$h" && grep -q "lon = 16 ;" <<<"$h" && grep -q "time = UNLIMITED ; // (2 currently)" <<<"$h" && grep -q "level = 3 ;" <<<"$h"'
check "every 4th latitude and longitude" '[ "$(ncdump -v lat a4.nc | sed -n "s/^ lat = //p")" = "90, 67.5, 45, 22.5, 0, -22.5, -45, -67.5, -90 ;" ] && ncdump -v lon a4.nc | grep -q "lon = 0, 22.5, 45, 67.5, 90,"'
check "packed short written as float, unpacked, without scale_factor" 'grep -q "float tp(time, level, lat, lon)" <<<"$h" && ! grep -q "tp:scale_factor" <<<"$h" && grep -q "tp:units = \"K\"" <<<"$h"'
check "double stays double, attributes kept" 'grep -q "double td(time, lat, lon)" <<<"$h" && grep -q "tf:long_name = \"float with gaps\"" <<<"$h" && grep -q "tf:_FillValue = -999.f" <<<"$h"'
check "other variables copied" '[ "$(ncdump -v other,tag a4.nc | sed -n "s/^ other = \(.*\) ;/\1/p; s/^ tag = \(.*\) ;/\1/p" | tr "\n" " ")" = "1, 2, 3 \"abcd\" " ] && ncdump -v time a4.nc | grep -q "time = 0, 6 ;"'
check "history appended, other global attributes kept" 'grep -q "made by ncgen\\\\n.*: pangu regrid --factor 4 --input a.nc --output a4.nc" <<<"$h" && grep -q ":title = \"regrid test input\"" <<<"$h"'
check "NetCDF-4, deflated, one slab per chunk" 'grep -q "_Format = \"netCDF-4\"" <<<"$h" && grep -q "tf:_DeflateLevel = 1" <<<"$h" && grep -q "tf:_ChunkSizes = 1, 1, 9, 16" <<<"$h"'
$pangu regrid --factor 2 --input b.nc --output b2.nc 2>/dev/null
check "south-to-north input stays south to north" 'ncdump -v lat b2.nc | grep -q "lat = -90, -78.75, -67.5," && ncdump -v lon b2.nc | grep -q "lon = -180, -168.75,"'
$pangu regrid --factor 4 --input c.nc --output c4.nc 2>err
check "offset grid: blocks of 4 latitudes ($(cat err))" 'grep -q "blocks of K latitudes" err && ncdump -v lat c4.nc | grep -q "lat = 78.75, 56.25, 33.75, 11.25, -11.25, -33.75, -56.25, -78.75 ;"'

# expect_fail NAME PATTERN OUTPUT -- command...: exit 2, PATTERN on one line of stderr, no OUTPUT, no temporary.
expect_fail() {
  local name=$1 pattern=$2 out=$3; shift 4
  local before changed; before=$(files_state "$t")
  "$@" >stdout 2>stderr; local rc=$?
  changed=$(unchanged_since "$before" "$t")
  if [ $rc -eq 2 ] && grep -q -- "$pattern" stderr && [ "$(wc -l <stderr)" -eq 1 ] && [ ! -e "$out" ] &&
     [ -z "$(ls "$(dirname "$out")" 2>/dev/null | grep '\.tmp\.')" ] && [ -z "$changed" ]; then
    pass=$((pass + 1)); echo "  ok: $name: $(cat stderr)"
  else
    fail=$((fail + 1)); echo "  FAILED: $name (exit $rc, stderr: $(head -c 300 stderr); files changed: $changed)"
  fi
}
expect_fail "missing input" "missing.nc: cannot read the file" out.nc -- $pangu regrid --factor 4 --input missing.nc --output out.nc
echo "not netcdf" >junk.nc
expect_fail "not NetCDF" "junk.nc: not a NetCDF file" out.nc -- $pangu regrid --factor 4 --input junk.nc --output out.nc
ncgen -o nolat.nc <<'CDL'
netcdf nolat { dimensions: x = 4 ; y = 3 ; variables: float f(y, x) ; data: f = 1,2,3,4,5,6,7,8,9,10,11,12 ; }
CDL
expect_fail "no latitude coordinate" "nolat.nc: no latitude coordinate" out.nc -- $pangu regrid --factor 2 --input nolat.nc --output out.nc
ncgen -o irregular.nc <<'CDL'
netcdf irregular { dimensions: lat = 5 ; lon = 8 ;
variables: float lat(lat) ; lat:units = "degrees_north" ; float lon(lon) ; lon:units = "degrees_east" ; float f(lat, lon) ;
data: lat = 90, 50, 0, -45, -90 ; lon = 0, 45, 90, 135, 180, 225, 270, 315 ; }
CDL
expect_fail "irregular latitudes" "irregular.nc: latitude is not regularly spaced" out.nc -- $pangu regrid --factor 2 --input irregular.nc --output out.nc
expect_fail "factor not dividing the longitudes" "e.nc: longitude: the factor 4 does not divide the 90 longitudes" out.nc -- \
  $pangu regrid --factor 4 --input e.nc --output out.nc
expect_fail "factor not dividing the latitudes" "a.nc: latitude: .* the factor 3 must divide 32" out.nc -- \
  $pangu regrid --factor 3 --input a.nc --output out.nc
expect_fail "factor 1" "factor '1': expected a whole number from 2 to" out.nc -- $pangu regrid --factor 1 --input a.nc --output out.nc
expect_fail "factor not a number" "factor 'x4'" out.nc -- $pangu regrid --factor x4 --input a.nc --output out.nc
expect_fail "unwritable output" "nodir/out.nc: cannot create the output file" nodir/out.nc -- \
  $pangu regrid --factor 4 --input a.nc --output nodir/out.nc
ncgen -o swapped.nc <<'CDL'
netcdf swapped { dimensions: lat = 5 ; lon = 8 ;
variables: float lat(lat) ; lat:units = "degrees_north" ; float lon(lon) ; lon:units = "degrees_east" ; float f(lon, lat) ;
data: lat = 90, 45, 0, -45, -90 ; lon = 0, 45, 90, 135, 180, 225, 270, 315 ; }
CDL
expect_fail "(longitude, latitude) variable" "swapped.nc: variable 'f' uses the latitude or longitude dimension" out.nc -- \
  $pangu regrid --factor 2 --input swapped.nc --output out.nc

# Against cdo remapcon to the coarse grid (cdo griddes of our output).
if ! command -v cdo >/dev/null 2>&1; then
  echo "  cdo is not installed: comparison with cdo remapcon skipped"
else
  for run in "a 4" "a 2" "a 8" "b 4" "b 2" "c 4" "c 2" "d 3" "d 4"; do
    set -- $run
    f=$1 k=$2 o=$1.k$2
    $pangu regrid --factor "$k" --input "$f.nc" --output "$o.nc" 2>/dev/null
    cdo -s griddes "$o.nc" >"$o.grid" 2>/dev/null
    cdo -s -b F64 remapcon,"$o.grid" "$f.nc" "$o.cdo.nc" 2>/dev/null
    if [ ! -s "$o.nc" ] || [ ! -s "$o.cdo.nc" ]; then
      fail=$((fail + 1)); echo "  FAILED: $f.nc factor $k: no output from pangu regrid or cdo"; continue
    fi
    for v in tf tp td sf; do
      read -r n m r rel miss <<<"$(compare "$o.nc" "$o.cdo.nc" $v)"
      check "$f.nc factor $k, $v: max |pangu - cdo| = $m over range $r (rel $rel), $n values, $miss missing-cell mismatches" \
        '[ "${n:-0}" -gt 0 ] && [ "${miss:-1}" -eq 0 ] && awk -v x="$rel" "BEGIN { exit !(x <= 1e-5) }"'
    done
  done
fi
echo "regrid-cdo: $pass passed, $fail failed"
[ $fail -eq 0 ]
