#!/bin/bash
# pangu eval --report end to end on synthetic data (pangu synth truth and
# numerical forecasts, a demo-model ensemble): the maps' coastlines, colour
# scales, units, axes and pixel positions (in the gnuplot script and its
# data), the report's sections (bias, regions, ensemble), the scorecard and
# its paired test recomputed from one-initial-time runs, --scorecard and
# missing coastline data. Usage: tests/report_test.sh bin/pangu
set -u
export PANGU_NO_PLAUSIBILITY_CHECK=1
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
t=$(mktemp -d)
. "$top/tests/lib.sh"
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
have_gnuplot=0; command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1
# close A B REL [ABS]: |A - B| <= REL |B| + ABS (both numbers)
close() { awk -v a="$1" -v b="$2" -v r="$3" -v z="${4:-1e-12}" 'BEGIN { if (a == "" || b == "" || a != a + 0 || b != b + 0) exit 1;
  d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b; exit !(d <= r * s + z) }'; }
png() { for f in "$@"; do [ "$(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d " ")" = "211PNG" ] || return 1; done; }

$pangu synth --grid 32,64 --start 2020-01-31T00 --hours 240 --step-hours 6 --format legacy --out truth >/dev/null 2>&1
$pangu synth --forecast-from 2020-02-01T00/2020-02-05T00/24 --hours 48 --step-hours 6 --grid 32,64 --format legacy \
  --out nwp >/dev/null 2>&1
$pangu forecast --model-6h "$top/models/demo_6h.h5" --model-24h "$top/models/demo_24h.h5" --input "truth/era5_*.nc" \
  --init 2020-02-01T00/2020-02-03T00/24 --leads 6-24/6 --members 3 --perturb perlin --seed 5 \
  --output 'ens_{init:%Y%m%d%H}.nc' >/dev/null 2>&1
check "test data (synthetic truth, 5 numerical forecasts, 3 ensemble forecasts)" \
  '[ $(ls nwp/nwp_*.nc | wc -l) -eq 5 ] && [ $(ls ens_??????????.nc | wc -l) -eq 3 ]'

$pangu eval --forecast "nwp/nwp_*.nc" --truth "truth/era5_*.nc" --baseline persistence --levels 500,850 --map-leads 24 \
  --output s.csv --report rep 2>err; rc=$?
check "eval with a report runs: $(tail -1 err)" '[ $rc -eq 0 ] && [ -s rep/report.md ] && [ -s rep/report.html ]'

# ---- maps
gp=rep/data/figures.gp
if [ $have_gnuplot = 1 ]; then
  check "coastlines: Natural Earth lines in 0..360, -90..90, a blank line between lines" \
    'awk "NF == 2 { n++; if (\$1 < 0 || \$1 > 360 || \$2 < -90 || \$2 > 90) bad++ } NF == 0 { b++ } END { exit !(n > 5000 && b > 100 && !bad) }" rep/data/coast.dat &&
     grep -q "data/coast.dat.*with lines" $gp'
  check "colour scales: viridis for fields, ColorBrewer RdBu centred on zero for errors" \
    'grep -q "#440154.*#fde725" $gp && grep -q "#053061.*#f7f7f7.*#67001f" $gp &&
     awk "/set cbrange/ && p ~ /053061/ { r = \$3; gsub(/[\\[\\]]/, \"\", r); split(r, a, \":\"); n++; if (a[1] + a[2] != 0) bad++ } { p = \$0 } END { exit !(n > 0 && !bad) }" $gp'
  check "every colour bar has units; z500 in dam" \
    '[ $(grep -c "^set output .map_" $gp) -eq $(grep -c "^set cblabel .*(\(dam\|K\))" $gp) ] &&
     grep -q "cblabel .geopotential height (dam)" $gp && grep -q "cblabel .forecast - truth (dam)" $gp'
  check "z500 map values in dam (z / 9.80665 / 10: 450..650), t2m in K" \
    'awk "NF == 3 { if (\$3 < 450 || \$3 > 650) bad++; n++ } END { exit !(n > 0 && !bad) }" rep/data/map_z500_24h_forecast.dat'
  check "axes 0..360 and -90..90 (no padding)" 'grep -q "set xrange \[0:360\]" $gp && grep -q "set yrange \[-90:90\]" $gp'
  check "pixels centred on the grid points: data at the grid longitudes, the 0 E column repeated at 360 E" \
    '[ "$(awk "NF == 3 { print \$1 }" rep/data/map_t2m_24h_truth.dat | sort -un | head -2 | tr "\n" " ")" = "0 5.625 " ] &&
     [ "$(awk "NF == 3 { print \$1 }" rep/data/map_t2m_24h_truth.dat | sort -un | tail -1)" = 360 ] &&
     [ $(awk "NF == 3 && (\$1 == 0 || \$1 == 360) { v[\$2 \" \" \$1] = \$3 } END { for (k in v) { split(k, a, \" \"); if (a[2] == 0 && v[a[1] \" 360\"] != v[k]) bad++ } print bad + 0 }" rep/data/map_t2m_24h_truth.dat) -eq 0 ]'
  check "z500 contours every 6 dam" \
    '[ -s rep/data/map_z500_24h_forecast_contours.dat ] && grep -q "cntrparam levels incremental [0-9.]*,6," $gp'
  check "line plots: legend beside the plot" 'grep -q "set key outside right" $gp'
  check "the PNGs: maps, curves, scorecard" \
    'png rep/map_z500_24h_forecast.png rep/map_z500_24h_error.png rep/map_t2m_24h_truth.png rep/rmse_z500.png rep/bias_t2m.png rep/scorecard_nwp.png'
fi

# ---- sections
check "report.md: global RMSE and bias, every region's RMSE and bias, the scorecard" \
  'grep -q "^## RMSE (global)" rep/report.md && grep -q "^## Bias (global)" rep/report.md && grep -q "^## Regions" rep/report.md &&
   grep -q "^### RMSE (tropics)" rep/report.md && grep -q "^### Bias (s_extratropics)" rep/report.md &&
   grep -q "^## Scorecard against persistence" rep/report.md && ! grep -q "^## Ensemble" rep/report.md'
check "report.html: the same sections and the coloured scorecard table" \
  'grep -q "<h2>Bias (global)</h2>" rep/report.html && grep -q "<h3>RMSE (n_extratropics)</h3>" rep/report.html &&
   grep -q "<table class=\"card\">" rep/report.html && grep -q "<td style=\"background:#" rep/report.html'

# ---- extremes: the relative quantile error's tables (per region) and curves, only when computed
rqe_csv=$(awk -F, '$1 == "nwp" && $2 == "z" && $3 == 500 && $4 == 24 && $5 == "tropics" && $6 == "rqe" { printf "%.4g", $7 }' s.csv)
rqe_md=$(sed -n '/^### Relative quantile error (tropics)/,/^#/p' rep/report.md | awk -F'|' '$2 == " nwp " { gsub(/ /, "", $3); print $3 }')
check "report.md: Extremes, the RQE table of every region, z500 24 h in the tropics as in the CSV ($rqe_md, CSV $rqe_csv)" \
  'grep -q "^## Extremes" rep/report.md && [ $(grep -c "^### Relative quantile error (" rep/report.md) -eq 4 ] &&
   [ -n "$rqe_csv" ] && [ "$rqe_md" = "$rqe_csv" ] && grep -q "<h2>Extremes</h2>" rep/report.html'
[ $have_gnuplot = 1 ] && check "RQE curves against lead, a line at 0, listed in the report" \
  'png rep/rqe_z500.png rep/rqe_t2m.png && grep -q "rqe_z500.png" rep/report.md && grep -A5 "^set output .rqe_z500.png" $gp | grep -q "^plot 0 with lines.*using 1:8 "'
$pangu eval --forecast "nwp/nwp_*.nc" --truth "truth/era5_*.nc" --baseline persistence --levels 500 --metrics rmse,bias \
  --output nr.csv --report nr 2>err; rc=$?
check "--metrics rmse,bias: no Extremes section and no RQE curves, RMSE and bias as before" \
  '[ $rc -eq 0 ] && ! grep -q "Extremes\|quantile" nr/report.md && ! ls nr | grep -q "^rqe_" &&
   grep -q "^## RMSE (global)" nr/report.md && grep -q "^## Bias (global)" nr/report.md'

# ---- scorecard: the paired test recomputed from runs of one initial time each
card=rep/scorecard.csv
check "scorecard.csv: a row per variable, level and lead of nwp against persistence" \
  '[ "$(head -1 $card)" = "source,reference,variable,level,lead_hours,initial_times,rmse,rmse_reference,relative_difference_percent,mean_difference,lag1_autocorrelation,effective_sample_size,t,p_value,significant_95,significant_99.7" ] &&
   [ $(grep -c "^nwp,persistence,z,500," $card) -eq 8 ] && [ $(grep -c "^nwp,persistence,t2m,," $card) -eq 8 ]'
for f in nwp/nwp_*.nc; do
  $pangu eval --forecast "$f" --truth "truth/era5_*.nc" --baseline persistence --levels 500 --output "one_$(basename "$f" .nc).csv" --quiet 2>/dev/null
done
d=$(for f in one_nwp_*.csv; do awk -F, '$2 == "z" && $3 == 500 && $4 == 24 && $5 == "global" && $6 == "rmse" { r[$1] = $7 }
  END { printf "%.12g\n", r["nwp"] - r["persistence"] }' "$f"; done | tr '\n' ' ')
# mean, sd, lag-1 autocorrelation (negative: 0), n_eff = n (1 - r) / (1 + r), t = mean / (sd / sqrt(n_eff))
want=$(echo "$d" | awk '{ n = NF; for (i = 1; i <= n; i++) m += $i; m /= n; for (i = 1; i <= n; i++) { ss += ($i - m)^2; if (i > 1) lag += ($i - m) * ($(i - 1) - m) }
  r1 = lag / ss; r = r1 > 0 ? r1 : 0; ne = n * (1 - r) / (1 + r); printf "%.9g %.6g %.6g %.6g\n", m, r1, ne, m / (sqrt(ss / (n - 1)) / sqrt(ne)) }')
got=$(awk -F, '$1 == "nwp" && $3 == "z" && $4 == 500 && $5 == 24 { print $10, $11, $12, $13 }' $card)
read -r w1 w2 w3 w4 <<<"$want"
read -r g1 g2 g3 g4 <<<"$got"
check "z500 at 24 h: mean difference, r1, n_eff and t as recomputed from the 5 one-initial-time runs ($want; scorecard $got)" \
  'close "$g1" "$w1" 1e-6 && close "$g2" "$w2" 1e-4 1e-6 && close "$g3" "$w3" 1e-4 && close "$g4" "$w4" 1e-4'
check "significance flags follow p (0.05 and 0.003)" \
  'awk -F, "NR > 1 && \$14 != \"nan\" { if ((\$14 < 0.05) != \$15 || (\$14 < 0.003) != \$16) bad++; n++ } END { exit !(n > 0 && !bad) }" $card'
check "relative difference = 100 (rmse - rmse_reference) / rmse_reference" \
  'awk -F, "NR > 1 { d = 100 * (\$7 - \$8) / \$8 - \$9; if (d < -1e-3 || d > 1e-3) bad++ } END { exit bad > 0 }" $card'

# ---- ensembles and the reference source
$pangu eval --forecast "ens_*.nc" --truth "truth/era5_*.nc" --baseline "nwp=nwp/nwp_*.nc" --baseline persistence --levels 500 \
  --output e.csv --report erep 2>err; rc=$?
check "ensemble: CRPS and spread-skill sections, the scorecard against the first --baseline NAME=FILES (nwp)" \
  '[ $rc -eq 0 ] && grep -q "^## Ensemble" erep/report.md && grep -q "^### CRPS (global)" erep/report.md &&
   grep -q "^### Spread-skill ratio (tropics)" erep/report.md && grep -q "^## Scorecard against nwp" erep/report.md &&
   [ "$(sed 1d erep/scorecard.csv | cut -d, -f1,2 | sort -u)" = "ens,nwp" ]'
[ $have_gnuplot = 1 ] && check "ensemble curves: CRPS and spread-skill against lead (the line at 1 inside the plot, leads of the ensemble only)" \
  'png erep/crps_z500.png erep/spread_skill_t2m.png && grep -q "set yrange \[0:1.2<\*\]" erep/data/figures.gp &&
   [ "$(grep -v "^#" erep/data/z500_ens.dat | cut -d" " -f1 | tr "\n" " ")" = "6 12 18 24 " ]'
$pangu eval --forecast "ens_*.nc" --truth "truth/era5_*.nc" --baseline "nwp=nwp/nwp_*.nc" --baseline persistence --levels 500 \
  --scorecard persistence --output e2.csv --report erep2 2>/dev/null
check "--scorecard persistence: ens and nwp against persistence... only forecasts get one (ens)" \
  'grep -q "^## Scorecard against persistence" erep2/report.md && [ "$(sed 1d erep2/scorecard.csv | cut -d, -f1,2 | sort -u)" = "ens,persistence" ]'
mkdir out
refused "--scorecard naming no source" "--scorecard 'ifs': no source of that name \(the sources: nwp, persistence\)" "$t/out" -- \
  $pangu eval --forecast "nwp/nwp_*.nc" --truth "truth/era5_*.nc" --baseline persistence --levels 500 --scorecard ifs \
  --output out/x.csv --report out/r
refused "--scorecard without --report" "--scorecard compares sources in the report: give --report DIR too" "$t/out" -- \
  $pangu eval --forecast "nwp/nwp_*.nc" --truth "truth/era5_*.nc" --baseline persistence --scorecard persistence --output out/x.csv

# ---- no coastline data: the maps without them, said in the report and on stderr
PANGU_COAST_FILE=/nonexistent/globe.shp $pangu eval --forecast "nwp/nwp_*.nc" --truth "truth/era5_*.nc" --levels 500 \
  --output nc.csv --report ncrep --quiet 2>err; rc=$?
check "missing coastline data: report written, the reason in it and on stderr" \
  '[ $rc -eq 0 ] && grep -q "Coastlines not drawn: coastlines: cannot read /nonexistent/globe.shp (No such file or directory)" ncrep/report.md &&
   grep -q "warning: the report.s maps have no coastlines" err && ! grep -q coast.dat ncrep/data/figures.gp'
mkdir ng && PATH=/nonexistent $pangu eval --forecast "nwp/nwp_*.nc" --truth "truth/era5_*.nc" --baseline persistence --levels 500 \
  --output ng.csv --report ng 2>/dev/null; rc=$?
check "without gnuplot: scorecard CSV and tables still written" \
  '[ $rc -eq 0 ] && [ -s ng/scorecard.csv ] && grep -q "^## Scorecard against persistence" ng/report.md && ! ls ng | grep -q png'

summary report
