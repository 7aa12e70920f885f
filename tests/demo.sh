#!/bin/bash
# make demo, until trained models ship: a random small-preset model, stepped
# four times (6 h each) from the committed small state, with the results
# summarised. No downloads; a few seconds.
set -euo pipefail
pangu=${1:-bin/pangu}
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/out/demo"
mkdir -p "$out"
$pangu init --preset small --lead 6 --seed 1 --out "$out/model_6h.h5"
$pangu info "$out/model_6h.h5"
prev="$top/tests/fixtures/small_in.nc"
for h in 6 12 18 24; do
  $pangu step --model "$out/model_6h.h5" --input "$prev" --output "$out/state_+${h}h.nc"
  prev="$out/state_+${h}h.nc"
done
echo
echo "demo: wrote $out/state_+{6,12,18,24}h.nc (CF NetCDF; a random, untrained model)."
ncdump -h "$out/state_+24h.nc" | sed -n '1,12p'
