#!/bin/sh
# Regenerate tests/fixtures with the PyTorch reference (make fixtures).
# Each case: a random model (M.h5), a random input state (in.nc) and the
# reference's step (out.nc). CI never runs this: the fixtures are committed.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
ref="/usr/bin/python3 $top/../shared/reference/pangu_ref.py"
dir="$top/tests/fixtures"
mkdir -p "$dir"
make_case() { # name, init arguments...
  name=$1; shift
  $ref init "$@" --out "$dir/$name.h5"
  $ref state --model "$dir/$name.h5" --out "$dir/${name}_in.nc" --seed 11
  $ref step --model "$dir/$name.h5" --input "$dir/${name}_in.nc" --output "$dir/${name}_out.nc"
  echo "fixture $name: $(du -ch "$dir/$name"* | tail -1 | cut -f1)"
}
make_case tiny --preset tiny --seed 1 --std 0.08 --lead 6
make_case small --preset small --seed 2 --std 0.05 --lead 24
# Not a preset: odd level count, latitude and longitude not multiples of the
# patch, unequal heads, a 5-latitude window.
make_case custom --preset tiny --seed 3 --std 0.08 --lead 1 --config \
  '{"grid": [27, 93], "dim": 12, "depths": [1, 3, 2, 2], "heads": [3, 4, 6, 2], "window": [2, 5, 6], "levels": [1000, 850, 700, 500, 300, 200, 50]}'

# Gradients: the reference's loss and parameter gradients for one sample.
for name in tiny custom; do
  $ref state --model "$dir/$name.h5" --out "$dir/${name}_target.nc" --seed 23
  $ref grad --model "$dir/$name.h5" --input "$dir/${name}_in.nc" --target "$dir/${name}_target.nc" --out "$dir/${name}_grad.h5"
done
echo "gradient fixtures: $(du -ch "$dir"/*_grad.h5 "$dir"/*_target.nc | tail -1 | cut -f1)"
