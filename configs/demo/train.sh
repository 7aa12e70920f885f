#!/bin/bash
# make demo-models: train the 1, 3, 6 and 24 h demo models on synthetic
# data, minutes each on 2 cores. Writes models/demo_{1,3,6,24}h.h5 with
# their logs; the data stays in out/demo-train (not committed).
set -euo pipefail
pangu=${1:-bin/pangu}
cd "$(dirname "$0")/../.."
d=out/demo-train
mkdir -p "$d" models
[ -s "$d/era5_pl_201903.nc" ] || $pangu synth --grid 32,64 --start 2019-01-15T00 --hours 1416 --format legacy --out "$d"
$pangu stats --input "$d/era5_pl_*.nc" --input "$d/era5_sfc_*.nc" --end 2019-03-08T00 --output "$d/stats.nc"
for h in 1 3 6 24; do
  $pangu init --preset small --dim 24 --depths 2,2,2,2 --heads 2,4,4,2 --lead $h --seed $h \
    --stats "$d/stats.nc" --constants "$d/invariant.nc" --out "$d/init_${h}h.h5"
  $pangu train --config configs/demo/train_${h}h.ini
done
cp "$d/stats.nc" models/demo_stats.nc
ls -la models/
