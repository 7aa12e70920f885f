#!/bin/bash
# make demo: the shipped 1, 3, 6 and 24 h demo models forecast 7 days from
# several initial times of a held-out synthetic period, once through the
# lead-time hierarchy and once by iterating the 1 h model alone; both are
# verified against the synthetic truth with persistence, climatology and
# synthetic numerical-forecast (nwp) baselines. Writes out/demo/scores.csv
# and out/demo/report.md (+ figures).
set -euo pipefail
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
cd "$(dirname "$0")/../.."
out=out/demo
rm -rf "$out"  # a fresh run: earlier forecasts would be skipped as finished
mkdir -p "$out/truth" "$out/clim-data" "$out/nwp"
start=$(date +%s)
for h in 1 3 6 24; do [ -s models/demo_${h}h.h5 ] || { echo "models/demo_${h}h.h5 missing: make demo-models" >&2; exit 2; }; done
echo "== held-out synthetic truth, 2020-01-31 to 2020-02-18 (6-hourly), a later year than the training data"
$pangu synth --grid 32,64 --start 2020-01-31T00 --hours 432 --step-hours 6 --format legacy --out "$out/truth"
echo "== climatology of the training period (6-hourly, 61-day smoothing) for ACC and the climatology baseline"
$pangu synth --grid 32,64 --start 2019-01-15T00 --hours 1416 --step-hours 6 --format legacy --out "$out/clim-data"
$pangu stats --input "$out/clim-data/era5_pl_*.nc" --input "$out/clim-data/era5_sfc_*.nc" --climatology-hours 6 \
  --smoothing 61 --output "$out/climatology.nc"
inputs="$out/truth/era5_pl_*.nc $out/truth/era5_sfc_*.nc"
common=(--input "$inputs" --init 2020-02-01T00/2020-02-09T00/48 --leads 6-168/6)
echo "== hierarchical forecasts (24, 6, 3 and 1 h models)"
$pangu plan --models 1,3,6,24 --leads 6-168/6 | tail -1
$pangu forecast --model-1h models/demo_1h.h5 --model-3h models/demo_3h.h5 --model-6h models/demo_6h.h5 \
  --model-24h models/demo_24h.h5 "${common[@]}" --output "$out/hierarchical_{init:%Y%m%d%H}.nc"
echo "== the 1 h model iterated alone"
$pangu plan --models 1 --leads 6-168/6 | tail -1
$pangu forecast --model-1h models/demo_1h.h5 "${common[@]}" --output "$out/iterated_1h_{init:%Y%m%d%H}.nc"
echo "== synthetic numerical forecasts from the same initial times: the truth evolved with model error"
$pangu synth --forecast-from 2020-02-01T00/2020-02-09T00/48 --hours 168 --step-hours 6 --grid 32,64 --format legacy \
  --out "$out/nwp"
echo "== verification"
fcs=()
for f in "$out"/hierarchical_*.nc "$out"/iterated_1h_*.nc; do fcs+=(--forecast "$f"); done
truth=()
for f in "$out"/truth/era5_*.nc; do truth+=(--truth "$f"); done
$pangu eval "${fcs[@]}" "${truth[@]}" --climatology "$out/climatology.nc" --baseline persistence --baseline climatology \
  --baseline "nwp=$out/nwp/nwp_*.nc" --map-leads 24,120 --output "$out/scores.csv" --report "$out"
rm -rf "$out/clim-data"
echo
sed -n '/^## RMSE/,/^## Figures/p' "$out/report.md" | head -n -1
echo "demo: wrote $out/scores.csv and $out/report.md in $(( $(date +%s) - start )) s"
