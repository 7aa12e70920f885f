#!/bin/bash
# pangu track end to end on synthetic Holland (1980) vortices with known
# paths (tests/track_synth.py: a pangu CF forecast file on a 0.5-degree
# grid, the storms' best track written on NCEI's IBTrACS v04r01 header and
# units lines, a land-sea mask):
#  - a western Pacific storm and a southern hemisphere one crossing the date
#    line (its best-track longitudes beyond 180 as NCEI sometimes writes
#    them) are followed at every lead within one grid length (55.6 km);
#  - a storm dying at 36 h 4 degrees from a broad weak cold-core low: rows
#    at 0, 12 and 24 h only, none near the low;
#  - a weak storm moving over land: with the mask it ends on land (10 m wind
#    below 8 m/s), without it (a warning) it is followed throughout;
#  - a storm extratropical (NATURE ET) at the initial time is not tracked;
#  - poleward of 30 degrees a warm-core storm is followed, a cold-core one
#    not (the thickness from z, and from t without z);
#  - --storm, --basin, --name, --start, --atcf (a-decks in NRL's format);
#  - the forecast split over two files gives the same rows; an ensemble's
#    members are tracked one by one;
#  - bad input: exit status 2, one line on stderr naming the problem,
#    nothing written.
# Usage: tests/track_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
src=$(cd "$(dirname "$0")/.." && pwd)
t=$(mktemp -d)
. "$src/tests/lib.sh"
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0

/usr/bin/python3 "$src/tests/track_synth.py" "$t" "$src/tests/fixtures/ibtracs_v04r01_head.csv" || { echo "track_synth.py failed"; exit 1; }
fc=$t/fc_2018102500.nc bt=$t/ibtracs.csv

# errors FILE SID: the largest distance (km, haversine R = 6371 km) of the
# storm's rows to its true centres, and how many rows were compared
errors() {
  awk -F, -v sid="$2" 'function rad(x) { return x * 3.14159265358979 / 180 }
    NR == FNR { if (FNR > 1) { tl[$1 "," $2] = $3; tn[$1 "," $2] = $4 }; next }
    FNR > 1 && $2 == sid { k = $2 "," $6; if (!(k in tl)) { print "no truth for " k; exit 1 }
      a = sin(rad($8 - tl[k]) / 2) ^ 2 + cos(rad($8)) * cos(rad(tl[k])) * sin(rad($9 - tn[k]) / 2) ^ 2
      d = 2 * 6371 * atan2(sqrt(a), sqrt(1 - a)); if (d > m) m = d; n++ }
    END { printf "%.1f %d\n", m, n }' "$t/truth.csv" "$1"
}
leads() { awk -F, -v sid="$2" '$2 == sid { printf "%s%s", s, $6; s = " " }' "$1"; }

# the a-decks are named by the best track's ATCF id (IBTrACS USA_ATCF_ID, NCEI's column documentation):
# here made from BASIN, NUMBER and SEASON as an agency would have numbered these storms
awk -F, -v OFS=, 'BEGIN { split("NA AL EP EP WP WP NI IO SI SH SP SH SA SL", m, " "); for (i = 1; i < 14; i += 2) b[m[i]] = m[i + 1] }
  NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR > 2 { $c["USA_ATCF_ID"] = sprintf("%s%02d%s", b[$c["BASIN"]], $c["NUMBER"], $c["SEASON"]) } 1' \
  "$bt" >"$t/ibtracs_atcf.csv"
"$pangu" track --forecast "$fc" --best-track "$t/ibtracs_atcf.csv" --land-sea-mask "$t/lsm.nc" --atcf "$t/atcf" --output "$t/tracks.csv" \
  >"$t/out" 2>"$t/err"
check "exit 0 and one summary line" '[ $? -eq 0 ] && [ "$(wc -l <"$t/err")" -eq 1 ] && grep -q "pangu track: 5 tracks, 26 positions" "$t/err"'
check "the columns, named as the issue names them" \
  '[ "$(head -1 "$t/tracks.csv")" = "source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms,member" ]'
read -r e n < <(errors "$t/tracks.csv" 2018298N15140)
check "western Pacific storm: 7 leads (0 to 72 h) within one grid length (largest error $e km)" '[ "$n" -eq 7 ] && awk -v e="$e" "BEGIN { exit !(e < 55.6) }"'
read -r e n < <(errors "$t/tracks.csv" 2018298S15176)
check "southern hemisphere storm across the date line: 7 leads within one grid length ($e km)" \
  '[ "$n" -eq 7 ] && awk -v e="$e" "BEGIN { exit !(e < 55.6) }"'
check "longitudes in 0..360 (past the date line: 184.6, not -175.4)" \
  'awk -F, "NR > 1 && (\$9 < 0 || \$9 >= 360) { bad = 1 } END { exit bad }" "$t/tracks.csv" && grep -q "^pangu,2018298S15176,BRAVO,SP,.*,72,.*,-17\.9[0-9]*,184\.[0-9]*," "$t/tracks.csv"'
check "the dying storm: rows at 0, 12 and 24 h, none after ($(leads "$t/tracks.csv" 2018298N20300))" \
  '[ "$(leads "$t/tracks.csv" 2018298N20300)" = "0 12 24" ]'
check "never at the broad cold-core low (20 N, 296 E)" \
  'awk -F, "\$2 == \"2018298N20300\" && \$9 < 297.5 { bad = 1 } END { exit bad }" "$t/tracks.csv"'
check "the weak storm ends over land ($(leads "$t/tracks.csv" 2018298N18100))" '[ "$(leads "$t/tracks.csv" 2018298N18100)" = "0 12" ]'
check "a storm extratropical at the initial time is not tracked" '! grep -q 2018298N25030 "$t/tracks.csv"'
read -r e n < <(errors "$t/tracks.csv" 2018298N33160)
check "poleward of 30 degrees a warm-core storm (a thickness maximum) is followed ($n leads, $e km)" \
  '[ "$n" -eq 7 ] && awk -v e="$e" "BEGIN { exit !(e < 55.6) }"'
check "poleward of 30 degrees a cold-core storm is not" '! grep -q 2018298N33200 "$t/tracks.csv"'
check "init and valid times, msl in Pa, 10 m wind in m/s" \
  'grep -q "^pangu,2018298N15140,ALPHA,WP,2018-10-25T00:00:00,24,2018-10-26T00:00:00,16\.[0-9]*,137\.[0-9]*,97[0-9][0-9][0-9]\.[0-9],3[0-9]\.[0-9][0-9],$" "$t/tracks.csv"'
check "a-decks: one per storm, named aBBNNYYYY.dat" \
  '[ "$(cd "$t/atcf" && ls | tr "\n" " ")" = "aal032018.dat aio042018.dat ash022018.dat awp012018.dat awp062018.dat " ]'
check "a-deck lines in NRL's format (tenths, hemisphere letters, kt, hPa; TECH from --name)" \
  'head -1 "$t/atcf/awp012018.dat" | grep -Eq "^WP, 01, 2018102500, 03, PANG,   0, 150N, 1400E,  [0-9]{2},  9[0-9]{2}, XX,$" &&
   grep -q "^SH, 02, 2018102500, 03, PANG,  36, 16[0-9]S, 179[0-9]W," "$t/atcf/ash022018.dat"'
check "no temporaries or locks left" '[ -z "$(leftovers "$t")" ]'
# without USA_ATCF_ID no a-deck (IBTrACS NUMBER counts the season's storms of all basins, not a basin's
# cyclone number: 5 and 105 would both be 05), one warning line naming the storms
"$pangu" track --forecast "$fc" --best-track "$bt" --land-sea-mask "$t/lsm.nc" --atcf "$t/noid_atcf" --output "$t/noid.csv" \
  >"$t/out" 2>"$t/err"
check "no ATCF id: tracks.csv, no a-deck, one warning naming the 5 storms" \
  '[ $? -eq 0 ] && [ -s "$t/noid.csv" ] && [ -z "$(ls "$t/noid_atcf")" ] &&
   [ "$(grep -c "no a-deck for 5 storms without an ATCF id" "$t/err")" = 1 ] && grep -q 2018298N15140 "$t/err"'
# a-decks that cannot be written: no tracks.csv either (all or nothing)
touch "$t/atcf_file"
"$pangu" track --forecast "$fc" --best-track "$t/ibtracs_atcf.csv" --land-sea-mask "$t/lsm.nc" --atcf "$t/atcf_file/sub" \
  --output "$t/half.csv" >"$t/out" 2>"$t/err"
check "a-deck directory not writable: exit 2, no tracks.csv left" '[ $? -eq 2 ] && [ ! -e "$t/half.csv" ] && [ -z "$(leftovers "$t")" ]'
# one a-deck of five cannot be written (a directory in its place; asw is after the others in their order):
# none of the other four, no tracks.csv
mkdir -p "$t/part_atcf/awp062018.dat"
"$pangu" track --forecast "$fc" --best-track "$t/ibtracs_atcf.csv" --land-sea-mask "$t/lsm.nc" --atcf "$t/part_atcf" \
  --output "$t/part.csv" >"$t/out" 2>"$t/err"; rc=$?
check "one a-deck not writable (exit $rc: $(tail -1 "$t/err" | cut -c1-120)): no other a-deck, no tracks.csv" \
  '[ $rc -eq 2 ] && [ ! -e "$t/part.csv" ] && [ "$(ls "$t/part_atcf")" = awp062018.dat ] && [ -d "$t/part_atcf/awp062018.dat" ] &&
   [ -z "$(leftovers "$t")" ]'

"$pangu" track --forecast "$fc" --best-track "$bt" --output "$t/nomask.csv" 2>"$t/err"
check "without a mask every point is sea, with a warning: the weak storm goes on ($(leads "$t/nomask.csv" 2018298N18100))" \
  '[ "$(leads "$t/nomask.csv" 2018298N18100)" = "0 12 24 36 48 60 72" ] && grep -q "warning: no --land-sea-mask" "$t/err"'

"$pangu" track --forecast "$fc" --best-track "$bt" --output "$t/alpha.csv" --storm alpha --name ifs --quiet 2>"$t/err"
check "--storm NAME (any case) and --name: one storm, source ifs" \
  '[ "$(cut -d, -f1,2 "$t/alpha.csv" | sort -u | tr "\n" " ")" = "ifs,2018298N15140 source,sid " ]'
"$pangu" track --forecast "$fc" --best-track "$bt" --output "$t/basin.csv" --basin SP,NA --quiet 2>"$t/err"
check "--basin SP,NA (NA the North Atlantic)" '[ "$(cut -d, -f4 "$t/basin.csv" | sort -u | tr "\n" " ")" = "NA SP basin " ]'
"$pangu" track --forecast "$fc" --start 15,140 --output "$t/start.csv" --quiet 2>"$t/err"
sed 's/,START,,,/,2018298N15140,,,/' "$t/start.csv" >"$t/start_as_alpha.csv"
read -r e n < <(errors "$t/start_as_alpha.csv" 2018298N15140)
check "--start LAT,LON without a best track: the storm there, 7 leads within one grid length ($e km)" \
  '[ "$n" -eq 7 ] && awk -v e="$e" "BEGIN { exit !(e < 55.6) }"'

# the same forecast split into pressure-level and single-level files on a valid-time axis (one forecast: files
# sharing an initial time), and as a two-member ensemble (pangu's member(member) layout)
"$pangu" track --forecast "$t/fc_pl_*.nc" --forecast "$t/fc_sfc_2018102500.nc" --best-track "$bt" --land-sea-mask "$t/lsm.nc" \
  --output "$t/split.csv" --quiet 2>"$t/err"
check "a forecast split over two files: the same rows" 'cmp -s "$t/split.csv" "$t/tracks.csv"'
"$pangu" track --forecast "$t/ens_2018102500.nc" --best-track "$t/ibtracs_atcf.csv" --land-sea-mask "$t/lsm.nc" --atcf "$t/ens_atcf" \
  --output "$t/ens.csv" --quiet 2>"$t/err"
check "ensemble member 0: the deterministic rows, source pangu_m00, member 0" \
  '[ "$(grep "^pangu_m00," "$t/ens.csv" | cut -d, -f2-11 | sed "s/\$/,/")" = "$(tail -n +2 "$t/tracks.csv" | cut -d, -f2-11 | sed "s/\$/,/")" ] &&
   grep "^pangu_m00," "$t/ens.csv" | awk -F, "\$12 != 0 { bad = 1 } END { exit bad }"'
awk -F, 'BEGIN { OFS = "," } NR == 1 || $1 == "pangu_m01" { if (NR > 1) $8 -= 1; print }' "$t/ens.csv" >"$t/m01_moved.csv"
read -r e n < <(errors "$t/m01_moved.csv" 2018298N15140)
check "ensemble member 1: its storm one degree further north, within a grid length ($e km)" \
  '[ "$n" -eq 7 ] && awk -v e="$e" "BEGIN { exit !(e < 55.6) }"'
check "ensemble a-decks: TECH PA00 and PA01" \
  '[ "$(cut -d, -f5 "$t/ens_atcf/awp012018.dat" | sort -u | tr -d " " | tr "\n" " ")" = "PA00 PA01 " ]'

"$pangu" track --forecast "$fc" --best-track "$bt" --output "$t/echo.csv" --storm ECHO 2>"$t/err"
check "a storm not tropical at the initial time alone: the header only, and a warning saying why" \
  '[ "$(wc -l <"$t/echo.csv")" -eq 1 ] && grep -q "warning: no storm followed: none of the storms selected has a tropical record" "$t/err"'

nccopy -V t,u,v,msl,u10,v10,time,forecast_period,forecast_reference_time,level,latitude,longitude "$fc" "$t/no_z.nc"
"$pangu" track --forecast "$t/no_z.nc" --best-track "$bt" --land-sea-mask "$t/lsm.nc" --output "$t/no_z.csv" --quiet 2>"$t/err"
check "without z the thickness from t (hypsometric): the same rows, the warm-core storm poleward of 30 degrees too" \
  'cmp -s "$t/no_z.csv" "$t/tracks.csv" && grep -q 2018298N33160 "$t/no_z.csv"'

# GRIB as IFS open data and ai-models deliver it: ECMWF paramIds (z 129, t 130, u 131, v 132, msl 151, 10u 165,
# 10v 166; ecmwf/ecmwf-opendata's and ai-models-panguweather's parameters), isobaricInhPa, dataDate/dataTime the
# initial time, step the lead; 16-bit simple packing. Made as a user converts a NetCDF file: CDO per variable,
# then grib_set for the paramId (CDO 2.1 names msl sp and knows no u10, v10); forecast_period dropped first,
# because CDO 2.1 writes ecCodes' template date (2007-03-23) when a file has forecast_period(time).
ncks -O -C -x -v forecast_period "$fc" "$t/nofp.nc" && ncatted -O -a coordinates,,o,c,forecast_reference_time "$t/nofp.nc"
to_grib() { # OUT VAR:PARAMID ...: the variables of nofp.nc as GRIB 2
  local out=$1 p; shift; : >"$out"
  for p in "$@"; do
    cdo -s -f grb2 -b 16 -selname,"${p%:*}" "$t/nofp.nc" "$t/one.tmp" >/dev/null 2>&1 &&
      grib_set -s paramId="${p#*:}" "$t/one.tmp" "$t/one.grib2" && cat "$t/one.grib2" >>"$out" || return 1
  done
}
to_grib "$t/fc.grib2" z:129 t:130 u:131 v:132 msl:151 u10:165 v10:166
"$pangu" track --forecast "$t/fc.grib2" --best-track "$bt" --land-sea-mask "$t/lsm.nc" --output "$t/grib.csv" 2>"$t/err"
# same_rows A B: the same tracks, positions within 0.01 degree, msl within 2 Pa, 10 m wind within 0.05 m/s
same_rows() {
  awk -F, 'NR == FNR { a[FNR] = $0; n = FNR; next }
    { split(a[FNR], x, ","); if ($1 $2 $5 $6 != x[1] x[2] x[5] x[6] || ($11 == "") != (x[11] == "")) bad = 1
      if (FNR > 1 && (($8 - x[8]) ^ 2 > 1e-4 || ($9 - x[9]) ^ 2 > 1e-4 || ($10 - x[10]) ^ 2 > 4 || ($11 - x[11]) ^ 2 > 0.0025)) bad = 1 }
    END { exit bad || n != FNR }' "$1" "$2"
}
check "GRIB 2 (ECMWF paramIds, 16-bit packing, no q or t2m): the NetCDF file's rows within the packing, no warning" \
  'same_rows "$t/tracks.csv" "$t/grib.csv" && [ "$(wc -l <"$t/err")" -eq 1 ]'
to_grib "$t/only.grib2" z:129 u:131 v:132 msl:151
grib_copy -w shortName=z/msl "$t/only.grib2" "$t/zmsl.grib2" && grib_copy -w shortName=u/v,level=850 "$t/only.grib2" "$t/uv.grib2"
"$pangu" track --forecast "$t/zmsl.grib2" --forecast "$t/uv.grib2" --best-track "$bt" --output "$t/only.csv" 2>"$t/err"
check "only the tracker's fields (GRIB: msl, z at 850 and 200 hPa, u and v at 850 hPa in two files): the same
  positions, wind10_max_ms empty, one warning line naming u10, v10 ($(grep -c 'no u10, v10' "$t/err"))" \
  'same_rows <(cut -d, -f1-10 "$t/nomask.csv") <(cut -d, -f1-10 "$t/only.csv") && awk -F, "NR > 1 && \$11 != \"\" { bad = 1 } END { exit bad }" "$t/only.csv" &&
   [ "$(grep -c "warning: .*zmsl.grib2: no u10, v10 (wind10_max_ms left empty" "$t/err")" -eq 1 ]'

# only the fields used are read: of z q t u v at 13 levels and msl u10 v10 t2m (one lead, uncompressed, on a
# valid-time axis: the series reader), msl u10 v10, z at 850 and 200 hPa, u and v at 850 hPa: 7 of 69 fields
if command -v strace >/dev/null; then
  strace -f -y -e trace=read,pread64 -o "$t/strace" "$pangu" track --forecast "$t/fc13_2018102500.nc" --start 15,140 \
    --output "$t/fc13.csv" --quiet 2>"$t/err"
  bytes=$(awk '/fc13_2018102500/ && /= [0-9]+$/ { s += $NF } END { print s + 0 }' "$t/strace")
  size=$(stat -c %s "$t/fc13_2018102500.nc")
  check "a 13-level forecast: $bytes of its $size bytes read (under 15%), the storm found at lead 0" \
    '[ "$bytes" -gt 0 ] && [ "$bytes" -lt $((size * 15 / 100)) ] && grep -q "^pangu,START,,,2018-10-25T00:00:00,0,.*,15\.0[0-9]*,140\.0[0-9]*," "$t/fc13.csv"'
else
  echo "  skipped: bytes read (no strace)"
fi

# files pangu forecast writes (the demo models on a synthetic 32 x 64 state: no storm forms, so a header and the
# warning; the command reads each layout): CF NetCDF, GRIB 2, an ensemble of one file per member
"$pangu" synth --grid 32,64 --start 2020-02-01T00 --hours 24 --step-hours 6 --format legacy --out "$t/truth" 2>/dev/null
demo=(--model-6h "$src/models/demo_6h.h5" --model-24h "$src/models/demo_24h.h5" --input "$t/truth/era5_pl_*.nc $t/truth/era5_sfc_*.nc"
  --init 2020-02-01T00 --leads 0-24/6)
"$pangu" forecast "${demo[@]}" --output "$t/pf_det.nc" 2>/dev/null
"$pangu" forecast "${demo[@]}" --format grib2 --output "$t/pf_grib.grib2" 2>/dev/null
"$pangu" forecast "${demo[@]}" --members 2 --perturb perlin --seed 4 --output "$t/pf_ens.nc" 2>/dev/null
for f in pf_det.nc pf_grib.grib2 pf_ens.nc; do
  "$pangu" track --forecast "$t/$f" --start 10,100 --output "$t/$f.csv" >/dev/null 2>"$t/err"
  check "a file of pangu forecast ($f): exit 0, the header alone, the warning naming --start" \
    '[ $? -eq 0 ] && [ "$(cat "$t/$f.csv")" = "$(head -1 "$t/tracks.csv")" ] &&
     grep -q "warning: no storm followed: near --start 10,100 no mean sea level pressure minimum passed" "$t/err"'
done

# ---- bad input ----
mkdir -p "$t/in" && cp "$bt" "$t/in/bt.csv"
awk -F, 'BEGIN { OFS = "," } NR == 5 { $9 = " " } { print }' "$bt" >"$t/in/bad.csv"
nccopy -V z,t,v,msl,u10,v10,time,forecast_period,forecast_reference_time,level,latitude,longitude "$fc" "$t/in/no_u.nc"
o=$t/in/tracks.csv
refused "a blank LAT in the best track" "bad\.csv: line 5, column LAT: expected a number, found a blank field" "$t/in" -- \
  "$pangu" track --forecast "$fc" --best-track "$t/in/bad.csv" --output "$o"
refused "a forecast without u" "no_u\.nc: no u at 850 hPa" "$t/in" -- "$pangu" track --forecast "$t/in/no_u.nc" --best-track "$bt" --output "$o"
nccopy -V u,v,msl,u10,v10,time,forecast_period,forecast_reference_time,level,latitude,longitude "$fc" "$t/in/no_zt.nc"
refused "a forecast without z or t" "no_zt\.nc: no z \(nor t\) at 850 and 200 hPa" "$t/in" -- \
  "$pangu" track --forecast "$t/in/no_zt.nc" --best-track "$bt" --output "$o"
refused "--storm of no storm" "--storm NOSUCH: no storm" "$t/in" -- "$pangu" track --forecast "$fc" --best-track "$bt" --storm NOSUCH --output "$o"
refused "--start and --best-track" "give one" "$t/in" -- "$pangu" track --forecast "$fc" --best-track "$bt" --start 15,140 --output "$o"
refused "--start out of range" "--start '95,140'" "$t/in" -- "$pangu" track --forecast "$fc" --start 95,140 --output "$o"
refused "--storm with --start" "--storm does nothing with --start" "$t/in" -- "$pangu" track --forecast "$fc" --start 15,140 --storm X --output "$o"
refused "the output over the best track" "bt\.csv" "$t/in" -- "$pangu" track --forecast "$fc" --best-track "$t/in/bt.csv" --output "$t/in/bt.csv"
refused "no --best-track nor --start" "missing --best-track" "$t/in" -- "$pangu" track --forecast "$fc" --output "$o"
refused "a best track that is not one" "line 1.*expected at least 8 comma-separated fields" "$t/in" -- \
  "$pangu" track --forecast "$fc" --best-track "$t/in/no_u.nc" --output "$o"

head -c 300000 "$fc" >"$t/in/truncated.nc"
refused "a truncated forecast file" "truncated\.nc" "$t/in" -- "$pangu" track --forecast "$t/in/truncated.nc" --best-track "$bt" --output "$o"
refused "a full disk (ulimit -f 1): one line, no file" "tracks\.csv" "$t/in" -- \
  limited 1 "$pangu" track --forecast "$fc" --best-track "$bt" --output "$o" --quiet
check "nothing left of the failed runs" '[ ! -e "$o" ] && [ -z "$(leftovers "$t/in")" ]'

summary track_test
