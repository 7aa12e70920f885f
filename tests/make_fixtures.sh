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

# The released models' variant (model format 2: const_h, recovery bias per
# patch position, constants on the padded grid; compact and full
# Earth-specific bias) from pangu_ref.py init, with small windows so that
# the full bias stays small; with gradients.
make_case official --preset tiny --seed 4 --std 0.08 --lead 6 --config \
  '{"variant": "official", "grid": [21, 48], "levels": [1000, 850, 500, 300, 100]}'
make_case official_full --preset tiny --seed 5 --std 0.08 --lead 3 --config \
  '{"variant": "official", "full_bias": true, "grid": [22, 48], "heads": [2, 4, 2, 2], "levels": [1000, 925, 700, 500, 250, 50]}'
for name in official official_full; do
  $ref state --model "$dir/$name.h5" --out "$dir/${name}_target.nc" --seed 29
  $ref grad --model "$dir/$name.h5" --input "$dir/${name}_in.nc" --target "$dir/${name}_target.nc" --out "$dir/${name}_grad.h5"
done

# Files in the released ONNX layout (pangu_ref.py official-onnx: window
# 2,6,12, 13 levels, the bias expanded to 144 x 144 per type and head, so
# one or two heads and 9 latitudes keep each near 5 MB), the reference's
# step of each, and its import of the compact one.
mkdir -p "$dir/released" "$dir/released_full"
onnx="$dir/released/pangu_weather_24.onnx"
$ref official-onnx --config '{"grid": [9, 96], "dim": 4, "heads": [1, 2, 1, 1]}' --seed 6 --std 0.08 --out "$onnx"
$ref state --model "$onnx" --out "$dir/released_in.nc" --seed 13
$ref step --model "$onnx" --input "$dir/released_in.nc" --output "$dir/released_out.nc"
$ref import --onnx "$onnx" --lead 24 --out "$dir/released_ref.h5"
onnx="$dir/released_full/pangu_weather_6.onnx"
$ref official-onnx --config '{"grid": [10, 96], "dim": 4, "heads": [1, 1, 1, 1]}' --full-bias --seed 7 --std 0.08 --out "$onnx"
$ref state --model "$onnx" --out "$dir/released_full_in.nc" --seed 17
$ref step --model "$onnx" --input "$dir/released_full_in.nc" --output "$dir/released_full_out.nc"
echo "released-layout fixtures: $(du -ch "$dir"/released* "$dir"/official* | tail -1 | cut -f1)"

# pangu-c writes model files with a Fletcher-32 checksum per tensor and warns
# about files without; the reference's h5py files get them here (h5repack
# changes no value: h5diff).
for f in "$dir"/tiny.h5 "$dir"/small.h5 "$dir"/custom.h5 "$dir"/official.h5 "$dir"/official_full.h5 "$dir"/released_ref.h5; do
  h5repack -f FLET "$f" "$f.flet" && h5diff "$f" "$f.flet" && mv "$f.flet" "$f"
done
