#!/bin/bash
# pangu eval --tracks end to end: a best track written as NCEI writes
# IBTrACS v04 (the published header and units lines of
# tests/fixtures/ibtracs_v04r01_head.csv, blank fields as one space, LON
# beyond 180 across the date line, 3- and 6-hourly records), tracks of two
# sources, and the scores against a haversine, along- and cross-track
# errors and means worked here in awk (independently of eval/trackeval.c);
# homogeneous and heterogeneous samples; the report; bad input.
# Usage: tests/trackeval_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/tests/fixtures"
t=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$t"' EXIT
cd "$t" || exit 1
. "$top/tests/lib.sh"
echo "pangu eval --tracks tests"

# ---- the best track: IBTrACS v04r01 columns (174), a record per line.
# ib SID NAME BASIN "YYYY-MM-DD HH:MM:SS" NATURE LAT LON WMO_WIND(kt) WMO_PRES(hPa)
head -2 "$fx/ibtracs_v04r01_head.csv" >best.csv
ib() {
  awk -F, -v OFS=, -v sid="$1" -v name="$2" -v basin="$3" -v time="$4" -v nature="$5" -v lat="$6" -v lon="$7" \
    -v wind="$8" -v pres="$9" 'NR == 1 {
      for (i = 1; i <= NF; i++) { c[$i] = i; $i = " " }
      $c["SID"] = sid; $c["SEASON"] = substr(time, 1, 4); $c["NUMBER"] = 1; $c["BASIN"] = basin; $c["SUBBASIN"] = "MM"
      $c["NAME"] = name; $c["ISO_TIME"] = time; $c["NATURE"] = nature; $c["LAT"] = lat; $c["LON"] = lon
      $c["WMO_WIND"] = wind; $c["WMO_PRES"] = pres; $c["TRACK_TYPE"] = "main"; print; exit }' "$fx/ibtracs_v04r01_head.csv" >>best.csv
}
# storm N: north along 130E, 0.5 degree every 3 h from 10N at 2018-09-01 00 for 5 days, 1000 hPa deepening 1 hPa per 3 h, 40 kt
for k in $(seq 0 40); do
  h=$((k * 3)); d=$((1 + h / 24)); hh=$((h % 24))
  ib 2018244N10130 NORTHER WP "$(printf '2018-09-%02d %02d:00:00' $d $hh)" TS "$(awk -v k=$k 'BEGIN { print 10 + k / 2 }')" 130 40 $((1000 - k))
done
# storm E: east along 15N across the date line, 6-hourly, 1 degree per 6 h: 179.5, 180.5 (as NCEI writes past 180), -178.5
ib 2018244N15180 EASTER NA "2018-09-01 00:00:00" TS 15 179.5 50 990
ib 2018244N15180 EASTER NA "2018-09-01 06:00:00" TS 15 180.5 50 990
ib 2018244N15180 EASTER NA "2018-09-01 12:00:00" TS 15 -178.5 50 990
check "best track: header, units and 44 records, 174 columns each" \
  '[ $(wc -l <best.csv) -eq 46 ] && [ $(awk -F, "{ print NF }" best.csv | sort -u) = 174 ]'

# ---- tracks of two sources (columns in the documented order; hres's in another order with one more)
hdr=source,sid,name,basin,init_time,lead_hours,valid_time,lat,lon,msl_min_pa,wind10_max_ms
cat >pangu.csv <<EOF
$hdr
pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,0,2018-09-01T00:00:00,10,130,100000,20
pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,6,2018-09-01T06:00:00,11,131,99500,25
pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,12,2018-09-01T12:00:00,13,130,99000,22
pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,48,2018-09-03T00:00:00,20,130,99000,22
pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,72,2018-09-04T00:00:00,22,131,99000,22
pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,120,2018-09-06T00:00:00,31,130,99000,22
pangu,2018244N15180,EASTER,NA,2018-09-01T00:00:00,3,2018-09-01T03:00:00,15,180,,
pangu,2018244N15180,EASTER,NA,2018-09-01T00:00:00,9,2018-09-01T09:00:00,16,-179,,
EOF
cat >hres.csv <<EOF
lat,lon,source,sid,name,basin,init_time,lead_hours,valid_time,msl_min_pa,wind10_max_ms,vo850_max
10,130,hres,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,0,2018-09-01T00:00:00,100000,20,1e-4
11,129,hres,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,6,2018-09-01T06:00:00,100000,20,1e-4
15,180,hres,2018244N15180,EASTER,NA,2018-09-01T00:00:00,3,2018-09-01T03:00:00,,,1e-4
15,-179,hres,2018244N15180,EASTER,NA,2018-09-01T00:00:00,9,2018-09-01T09:00:00,,,1e-4
22,132,hres,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,72,2018-09-04T00:00:00,99000,22,1e-4
30,130,hres,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,120,2018-09-06T00:00:00,99000,22,1e-4
EOF

# hand: haversine (R = 6371 km), the bearing, and a row of the scores CSV
hav() { awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN { r = atan2(0, -1) / 180
  h = sin((c - a) * r / 2) ^ 2 + cos(a * r) * cos(c * r) * sin((d - b) * r / 2) ^ 2
  printf "%.6f", 2 * 6371 * atan2(sqrt(h), sqrt(1 - h)) }'; }
col() { awk -F, -v s="$2" -v l="$3" -v name="$4" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  $1 == s && $2 == l { print $c[name] }' "$1"; }
close() { awk -v a="$1" -v b="$2" -v e="$3" 'BEGIN { if (a == "" || b == "") exit 1; d = a - b; exit !(d <= e && -d <= e) }'; }

$pangu eval --tracks pangu.csv --tracks hres.csv --best-track best.csv --output scores.csv >out 2>err
check "runs (exit 0, a summary line)" '[ $? -eq 0 ] && grep -q "homogeneous sample" out && [ ! -s err ]'
check "header exactly as documented" \
  '[ "$(head -1 scores.csv)" = source,lead_hours,n,dpe_mean_km,dpe_median_km,along_track_mean_km,cross_track_mean_km,msl_error_mean_hpa,wind_error_mean_ms ]'
check "a row per source and lead (pangu 0 3 6 9 12 48 72 120, hres 0 3 6 9 72 120)" \
  '[ "$(tail -n +2 scores.csv | cut -d, -f1,2 | tr "\n" " ")" = "pangu,0 pangu,3 pangu,6 pangu,9 pangu,12 pangu,48 pangu,72 pangu,120 hres,0 hres,3 hres,6 hres,9 hres,72 hres,120 " ]'
e6=$(hav 11 130 11 131) # pangu at 6 h: a degree east of (11N, 130E): right of a northward track
w6=$(hav 11 130 11 129)
check "DPE at 6 h = hand haversine ($e6 km), cross-track +, the storm moving north" \
  'close "$(col scores.csv pangu 6 dpe_mean_km)" $e6 0.0006 && close "$(col scores.csv pangu 6 cross_track_mean_km)" $e6 0.01 &&
   close "$(col scores.csv pangu 6 along_track_mean_km)" 0 0.35'
check "hres a degree west: cross-track - ($w6 km)" 'close "$(col scores.csv hres 6 cross_track_mean_km)" -$w6 0.01'
check "msl error at 6 h: 995 hPa against 998 (records at 03 and 06: 999, 998) = -3 hPa; wind 25 m/s against 40 kt" \
  'close "$(col scores.csv pangu 6 msl_error_mean_hpa)" -3 0.0005 &&
   close "$(col scores.csv pangu 6 wind_error_mean_ms)" $(awk "BEGIN { printf \"%.6f\", 25 - 40 * 1852 / 3600 }") 0.0005'
check "homogeneous: pangu's 12 and 48 h cases, which hres lacks, are left out (n 0, empty means)" \
  '[ "$(grep "^pangu,12," scores.csv)" = "pangu,12,0,,,,,," ] && [ "$(col scores.csv pangu 48 n)" = 0 ]'
# storm E: at 03 between the 00 (179.5) and 06 (180.5) records -> 180.0 exactly: pangu and hres at 180 score 0
check "interpolation between best-track records across the date line: 0 km at 3 h" \
  'close "$(col scores.csv pangu 3 dpe_mean_km)" 0 0.0005 && close "$(col scores.csv hres 3 dpe_mean_km)" 0 0.0005'
# at 09: between 180.5 and -178.5 (181.5) -> 181.0 = -179.0; pangu a degree north (left of an eastward track: -)
n9=$(hav 15 -179 16 -179)
# (the motion, 3 h to 9 h along the parallel, starts 0.13 degrees north of east on the great circle: along 0.25 km)
check "date line at 9 h: pangu a degree north of (15N, 179W) = $n9 km, cross-track -, along 0; hres 0" \
  'close "$(col scores.csv pangu 9 dpe_mean_km)" $n9 0.0006 && close "$(col scores.csv pangu 9 cross_track_mean_km)" -$n9 0.01 &&
   close "$(col scores.csv pangu 9 along_track_mean_km)" 0 0.3 && close "$(col scores.csv hres 9 dpe_mean_km)" 0 0.0005'
# the direct position errors agree with the tracks: the 6 h mean over storm N alone (E has no 6 h case)
check "n and mean DPE at 0 h (storm N only: 1 case, 0 km)" '[ "$(col scores.csv pangu 0 n)" = 1 ] && close "$(col scores.csv pangu 0 dpe_mean_km)" 0 0.0005'

$pangu eval --tracks pangu.csv,hres.csv --best-track best.csv --output het.csv --heterogeneous --quiet >out 2>err
a12=$(hav 12 130 13 130) a48=$(hav 18 130 20 130)
check "heterogeneous: pangu's 12 h case scored alone ($a12 km, a degree ahead: along +); 48 h on the last record ($a48 km)" \
  '[ "$(col het.csv pangu 12 n)" = 1 ] && close "$(col het.csv pangu 12 dpe_mean_km)" $a12 0.0006 &&
   close "$(col het.csv pangu 12 along_track_mean_km)" $a12 0.01 && [ "$(col het.csv pangu 48 n)" = 1 ] &&
   close "$(col het.csv pangu 48 dpe_mean_km)" $a48 0.0006 && close "$(col het.csv pangu 48 along_track_mean_km)" $a48 0.01 && [ ! -s out ]'
check "heterogeneous and homogeneous agree where the samples are the same (hres, 6 h)" \
  '[ "$(grep "^hres,6," het.csv)" = "$(grep "^hres,6," scores.csv)" ]'

# a spur track (TRACK_TYPE spur, NCEI's IBTrACS v04 column documentation) first, with the main track's
# USA_ATCF_ID: tracks named by that id are scored against the main track, as pangu track follows main tracks only
head -2 "$fx/ibtracs_v04r01_head.csv" >spur.csv
for type in spur-2018244N10130 main; do
  for h in 0 6; do
    awk -F, -v OFS=, -v type=$type -v h=$h 'NR == 1 { for (i = 1; i <= NF; i++) { c[$i] = i; $i = " " }
      $c["SID"] = type == "main" ? "2018244N10130" : "2018244N11131"; $c["SEASON"] = 2018; $c["NUMBER"] = 1; $c["BASIN"] = "WP"
      $c["SUBBASIN"] = "MM"; $c["NAME"] = "NORTHER"; $c["ISO_TIME"] = sprintf("2018-09-01 %02d:00:00", h); $c["NATURE"] = "TS"
      $c["LAT"] = type == "main" ? 10 + h / 6 : 30; $c["LON"] = 130; $c["WMO_WIND"] = 40; $c["WMO_PRES"] = 1000
      $c["USA_ATCF_ID"] = "WP252018"; $c["TRACK_TYPE"] = type; print; exit }' "$fx/ibtracs_v04r01_head.csv" >>spur.csv
  done
done
printf '%s\npangu,WP252018,NORTHER,WP,2018-09-01T00:00:00,6,2018-09-01T06:00:00,11,130,99500,25\n' "$hdr" >spur_tracks.csv
$pangu eval --tracks spur_tracks.csv --best-track spur.csv --output spur_scores.csv --quiet 2>err
check "a storm named by its ATCF id is scored against its main track, not a spur (0 km)" \
  '[ "$(col spur_scores.csv pangu 6 n)" = 1 ] && close "$(col spur_scores.csv pangu 6 dpe_mean_km)" 0 0.0005'

# ---- the report
$pangu eval --tracks pangu.csv --tracks hres.csv --best-track best.csv --output rep.csv --report rep --quiet 2>err
check "report: report.md, report.html, the error figures and a map per storm" \
  '[ -s rep/report.md ] && [ -s rep/report.html ] && { ! command -v gnuplot >/dev/null ||
   { [ -s rep/dpe_mean.png ] && [ -s rep/cross_track.png ] && [ -s rep/map_2018244N10130.png ] && [ -s rep/map_2018244N15180.png ]; }; }'
check "report table: pangu at 6 h" "grep -q '| pangu | 6 | 1 | $(awk -v e=$e6 'BEGIN { printf "%.1f", e }') |' rep/report.md"
check "report maps drawn over coastlines (libplplot-data) or say why not" \
  'grep -q "No coastlines" rep/report.md || [ -s rep/data/coast_2018244N10130.dat ]'
check "no temporary left" '! ls -a rep . | grep -q "tmp\."'
# tracks without pressure and wind (pangu track leaves them blank without u10/v10): no such figures, said so;
# sources "x y" and "x_y" (one file name once made safe) get figure data of their own
awk -F, -v OFS=, 'NR > 1 { $10 = ""; $11 = "" } 1' pangu.csv >blank.csv
awk -F, -v OFS=, 'NR > 1 { $1 = "x y" } 1' pangu.csv >xsp.csv
awk -F, -v OFS=, 'NR > 1 { $1 = "x_y"; $8 += 1 } NR == 1 || FNR > 1' pangu.csv >xund.csv
$pangu eval --tracks blank.csv --best-track best.csv --output blank_scores.csv --report blank_rep --quiet 2>err
check "report of tracks without pressure or wind: written, the empty figures named as skipped" \
  '[ $? = 0 ] && [ -s blank_rep/report.md ] && grep -q "Mean maximum wind error: no figure" blank_rep/report.md &&
   grep -q "Mean central pressure error: no figure" blank_rep/report.md && [ ! -s err ] &&
   { ! command -v gnuplot >/dev/null || [ -s blank_rep/dpe_mean.png ]; }'
$pangu eval --tracks xsp.csv --tracks xund.csv --best-track best.csv --output x_scores.csv --report x_rep --heterogeneous --quiet 2>err
# a gnuplot that fails (a stub: gnuplot reports errors on stderr as `"script", line N: message` and exits 1,
# gnuplot 5 documentation, "Batch/Interactive operation"): exit 2 quoting its last message, nothing left
mkdir -p fakebin && printf '#!/bin/sh\necho "\"$1\", line 3: x range is invalid" >&2\nexit 1\n' >fakebin/gnuplot && chmod +x fakebin/gnuplot
refused "gnuplot failing: its last message quoted" 'gnuplot failed drawing the figures: .*data/tracks.gp.*, line 3: x range is invalid$' \
  "$t" -- env PATH="$t/fakebin:$PATH" $pangu eval --tracks pangu.csv --best-track best.csv --output gp_scores.csv --report gp_rep
check "sources whose safe names collide keep figure data files of their own" \
  '[ -s x_rep/data/errors_x_y.dat ] && [ -s "x_rep/data/errors_x_y+1.dat" ] &&
   ! cmp -s x_rep/data/errors_x_y.dat "x_rep/data/errors_x_y+1.dat"'

# ---- bad input: exit 2, one line naming the file/option, nothing written
sed 's/^pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,6,2018-09-01T06:00:00/pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,6,2018-09-01T07:00:00/' pangu.csv >badvalid.csv
grep -v "^pangu,2018244N10130,NORTHER,WP,2018-09-01T00:00:00,0," pangu.csv | sed 's/,msl_min_pa,wind10_max_ms$/,msl_min_pa/; s/,[0-9]*,[0-9]*$/,1/' >nowind.csv
sed 's/2018244N15180/2018244N99999/' pangu.csv >nostorm.csv
cat pangu.csv <(tail -1 pangu.csv) >dup.csv
mkdir -p out_dir
refused "no --best-track" "needs --best-track" "$t" -- $pangu eval --tracks pangu.csv --output bad.csv
refused "no --output" "needs --output" "$t" -- $pangu eval --tracks pangu.csv --best-track best.csv
refused "--forecast with --tracks" "'--forecast' does not go with --tracks" "$t" -- $pangu eval --tracks pangu.csv --forecast x.nc --best-track best.csv --output bad.csv
refused "missing tracks file" "missing.csv: cannot read" "$t" -- $pangu eval --tracks missing.csv --best-track best.csv --output bad.csv
refused "valid_time not init + lead" "badvalid.csv line 3: valid_time" "$t" -- $pangu eval --tracks badvalid.csv --best-track best.csv --output bad.csv
refused "a required column missing" "nowind.csv: no column 'wind10_max_ms'" "$t" -- $pangu eval --tracks nowind.csv --best-track best.csv --output bad.csv
refused "a storm not in the best track" "nostorm.csv line 8: storm 2018244N99999 is not in the best track" "$t" -- $pangu eval --tracks nostorm.csv --best-track best.csv --output bad.csv
refused "a case twice" "dup.csv line 10: source pangu, storm 2018244N15180, init 2018-09-01T00:00:00, lead 9 h also at dup.csv line 9" "$t" -- $pangu eval --tracks dup.csv --best-track best.csv --output bad.csv
refused "output over an input" "pangu.csv" "$t" -- $pangu eval --tracks pangu.csv --best-track best.csv --output pangu.csv
refused "output a directory" "out_dir" "$t" -- $pangu eval --tracks pangu.csv --best-track best.csv --output out_dir
refused "--report where no directory can be: no scores either" "best.csv: exists and is not a directory" "$t" -- $pangu eval --tracks pangu.csv --best-track best.csv --output bad.csv --report best.csv
refused "best track not IBTrACS or ATCF" "pangu.csv" "$t" -- $pangu eval --tracks hres.csv --best-track pangu.csv --output bad.csv

# ---- configs/reproduce/tracks.sh: arguments, dry run, the table (pangu track itself needs real forecasts)
rs="$top/configs/reproduce/tracks.sh"
mkdir -p fc hr models
for i in 2018090100 2018090112; do : >fc/pangu_$i.nc; : >hr/hres_$i.nc; done
check "tracks.sh --help" '"$rs" --help | grep -q "Fig. 4c"'
refused "tracks.sh: no --best-track" "needs --best-track" "$t" -- "$rs" --forecasts "fc/*.nc" --pangu "$pangu"
refused "tracks.sh: best track missing" "--best-track nothere.csv: cannot read" "$t" -- "$rs" --best-track nothere.csv --forecasts "fc/*.nc" --pangu "$pangu"
refused "tracks.sh: best track not IBTrACS" "hres.csv: not an IBTrACS v04 CSV" "$t" -- "$rs" --best-track hres.csv --forecasts "fc/*.nc" --pangu "$pangu"
refused "tracks.sh: no forecasts" "--forecasts \"none/\*.nc\": no file matches" "$t" -- "$rs" --best-track best.csv --forecasts "none/*.nc" --pangu "$pangu"
refused "tracks.sh: neither forecasts nor models" "needs --forecasts" "$t" -- "$rs" --best-track best.csv --pangu "$pangu"
refused "tracks.sh: models without ONNX" "--models models: no pangu_weather_1.onnx" "$t" -- "$rs" --best-track best.csv --models models --input "fc/*.nc" --pangu "$pangu"
refused "tracks.sh: unknown option" "unknown option '--year'" "$t" -- "$rs" --year 2018
refused "tracks.sh: option without value" "option --out needs a value" "$t" -- "$rs" --best-track best.csv --out
refused "tracks.sh: no hres files" "--hres \"nohres\*\": no file matches" "$t" -- "$rs" --best-track best.csv --forecasts "fc/*.nc" --hres "nohres*" --pangu "$pangu"
"$rs" --best-track best.csv --forecasts "fc/*.nc" --hres "hr/*.nc" --out rp --pangu "$pangu" --dry-run >dry 2>err
check "tracks.sh --dry-run: pangu track per source over every forecast file, then pangu eval --tracks; nothing written" \
  '[ $? -eq 0 ] && grep -q "track --forecast fc/pangu_2018090100.nc --forecast fc/pangu_2018090112.nc --best-track best.csv --name pangu --output rp/tracks_pangu.csv" dry &&
   grep -q "track --forecast hr/hres_2018090100.nc --forecast hr/hres_2018090112.nc --best-track best.csv --name hres" dry &&
   grep -q "eval --tracks rp/tracks_pangu.csv --tracks rp/tracks_hres.csv --best-track best.csv --output rp/track_scores.csv" dry && [ ! -e rp ]'
mkdir -p rp && cp pangu.csv rp/tracks_pangu.csv && cp hres.csv rp/tracks_hres.csv
"$rs" --best-track best.csv --forecasts "fc/*.nc" --hres "hr/*.nc" --out rp --pangu "$pangu" >table 2>err
p72=$(hav 22 130 22 131) h72=$(hav 22 130 22 132) p120=$(hav 30 130 31 130)
check "tracks.sh: the tracks kept, the paper's Fig. 4c beside these scores ($p72, $h72; $p120 km)" \
  '[ $? -eq 0 ] && grep -q "tracks of pangu: rp/tracks_pangu.csv exists" table &&
   grep -q "| 3 days | 120.29 | 162.28 | $(printf %.2f $p72) (n 1) | $(printf %.2f $h72) (n 1) |" table &&
   grep -q "| 5 days | 195.65 | 272.10 | $(printf %.2f $p120) (n 1) | 0.00 (n 1) |" table &&
   grep -q "storms tracked by pangu: 2 (paper: 88)" table && [ -s rp/tracks_report/report.html ]'

echo "trackeval: $pass passed, $fail failed"
[ $fail -eq 0 ]
