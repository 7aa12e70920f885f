#!/bin/bash
# make bench: one table of step time, GFLOP/s, share of the SGEMM rate and
# peak memory, for pangu-c and (when installed) PyTorch's reference, on the
# same grids and threads, measured in this run. BENCH_FULL=0 skips the
# 721 x 1440 grid, BENCH_TORCH=0 skips PyTorch, BENCH_THREADS sets threads.
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
sgemm=$(cd "$(dirname "${2:-bin/sgemm-bench}")" && pwd)/$(basename "${2:-bin/sgemm-bench}")
top=$(cd "$(dirname "$0")/.." && pwd)
ref="$top/../shared/reference"
threads=${BENCH_THREADS:-2}
export OMP_NUM_THREADS=$threads
out="$top/out/bench"
mkdir -p "$out"
cd "$out" || exit 1
echo "== OpenBLAS SGEMM, $threads threads"
"$sgemm" "$threads" | tee sgemm.txt
rate=$(awk '/sgemm mean/ {print $3}' sgemm.txt)
have_torch=0
if [ "${BENCH_TORCH:-1}" = 1 ] && /usr/bin/python3 -c 'import torch, h5py, netCDF4' 2>/dev/null && [ -f "$ref/pangu_ref.py" ]; then
  have_torch=1
fi
grids="181,384"
[ "${BENCH_FULL:-1}" = 1 ] && grids="$grids 721,1440"
rows=()
for g in $grids; do
  tag=${g/,/x}
  $pangu init --preset full --grid "$g" --seed 1 --out "m_$tag.h5" 2>/dev/null
  gflop=$($pangu info "m_$tag.h5" | awk '/FLOPs per step/ {print $4}')
  if [ ! -s "x_$tag.nc" ]; then
    $pangu synth --grid "$g" --start 2019-01-01 --hours 1 --step-hours 1 --format cds2024 --out . 2>/dev/null
    mv era5_pl_201901.nc "pl_$tag.nc"; mv era5_sfc_201901.nc "sfc_$tag.nc"; rm -f invariant.nc
    ln -sf "pl_$tag.nc" "x_$tag.nc"
  fi
  echo "== pangu step, $g grid, full architecture ($gflop GFLOP)"
  /usr/bin/time -f "%e %M" -o time.txt $pangu step --model "m_$tag.h5" --input "pl_$tag.nc" --input "sfc_$tag.nc" \
    --time 2019-01-01T00 --output "y_$tag.nc" 2>step.txt
  cat step.txt
  secs=$(sed -n 's/.*step \([0-9.]*\) s.*/\1/p' step.txt); rss=$(awk '{printf "%.0f", $2 / 1024}' time.txt)
  rows+=("| $g | pangu-c FP32 | $secs | $(awk -v f=$gflop -v s=$secs 'BEGIN {printf "%.1f", f / s}') | $(awk -v f=$gflop -v s=$secs -v r=$rate 'BEGIN {printf "%.0f%%", 100 * f / s / r}') | $rss |")
  if [ $have_torch = 1 ]; then
    echo "== PyTorch reference forward, $g grid, $threads threads"
    /usr/bin/time -f "%e %M" -o ttime.txt /usr/bin/python3 - "$ref" "m_$tag.h5" "pl_$tag.nc" "sfc_$tag.nc" "$threads" <<'PY' >torch.txt 2>&1
import sys, time, numpy as np, netCDF4, torch
sys.path.insert(0, sys.argv[1])
import pangu_ref as P
torch.set_num_threads(int(sys.argv[5]))
m = P.load_h5(sys.argv[2])
pl, sf = netCDF4.Dataset(sys.argv[3]), netCDF4.Dataset(sys.argv[4])
up = torch.from_numpy(np.stack([np.asarray(pl[v][0], np.float32) for v in P.UPPER_VARS]))
su = torch.from_numpy(np.stack([np.asarray(sf[v][0], np.float32) for v in P.SURFACE_VARS]))
with torch.no_grad():
    t0 = time.time(); m(up, su); print(f"torch step {time.time() - t0:.2f} s")
PY
    cat torch.txt
    tsecs=$(awk '/torch step/ {print $3}' torch.txt)
    trss=$(awk '{printf "%.0f", $2 / 1024}' ttime.txt)
    rows+=("| $g | PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') FP32 | ${tsecs:-?} | $(awk -v f=$gflop -v s=${tsecs:-0} 'BEGIN {if (s > 0) printf "%.1f", f / s; else print "?"}') | $(awk -v f=$gflop -v s=${tsecs:-0} -v r=$rate 'BEGIN {if (s > 0) printf "%.0f%%", 100 * f / s / r; else print "?"}') | $trss |")
  fi
done
[ $have_torch = 1 ] || rows+=("| - | PyTorch | not installed (python3-torch), skipped | | | |")

# Training: samples/s and peak memory per grid (demo architecture at 32 x 64,
# the full architecture at 181 x 384), on synthetic data.
train_rows=()
for spec in "32,64 small 24 2,2,2,2 20 4" "181,384 full 192 2,6,6,2 2 1"; do
  set -- $spec
  g=$1; tag=t${g/,/x}
  mkdir -p "$tag"
  [ -s "$tag/era5_pl_201901.nc" ] || $pangu synth --grid "$g" --start 2019-01-01 --hours 30 --format cds2024 --out "$tag" 2>/dev/null
  $pangu init --preset "$2" --grid "$g" --dim "$3" --depths "$4" --lead 6 --out "$tag/init.h5" 2>/dev/null
  /usr/bin/time -f "%e %M" -o ttrain.txt $pangu train --init "$tag/init.h5" --input "$tag/era5_pl_201901.nc $tag/era5_sfc_201901.nc" \
    --train-start 2019-01-01 --train-end 2019-01-02 --steps "$5" --batch "$6" --validate-every 1000 \
    --output "$tag/out.h5" --checkpoint "$tag/ck.h5" --checkpoint-every 1000 2>train.txt
  sps=$(grep '^step' train.txt | tail -1 | sed -n 's/.*  \([0-9.]*\) samples\/s.*/\1/p')
  train_rows+=("| $g | C = $3, depths $4 | $6 | ${sps:-?} | $(awk '{printf "%.0f", $2 / 1024}' ttrain.txt) |")
done
# Forecast job overhead: planning, reading and writing against model time (small grid).
fc_line=""
if [ -s "$top/models/demo_6h.h5" ]; then
  mkdir -p fcb && $pangu synth --grid 32,64 --start 2019-03-19 --hours 200 --step-hours 6 --out fcb 2>/dev/null
  $pangu forecast --model-1h "$top/models/demo_1h.h5" --model-3h "$top/models/demo_3h.h5" --model-6h "$top/models/demo_6h.h5" \
    --model-24h "$top/models/demo_24h.h5" --input "fcb/era5_pl_*.nc fcb/era5_sfc_*.nc" --init 2019-03-20T00/2019-03-22T00/24 \
    --leads 1-168/1 --output 'fcb/fc_{init:%Y%m%d%H}.nc' 2>fc.txt
  fc_line=$(grep "model calls" fc.txt | sed 's/^pangu forecast: //')
fi
{
  echo "| grid | implementation | step s | GFLOP/s | share of SGEMM ($rate GFLOP/s) | peak RSS MB |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "| training grid | architecture | batch | samples/s | peak RSS MB |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${train_rows[@]}"
  echo
  [ -n "$fc_line" ] && echo "Forecast job on the demo models (32 x 64, 3 initial times, hourly leads to 7 days): $fc_line."
  echo
  echo "$threads threads, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%d)"
} | tee results.md
