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
{
  echo "| grid | implementation | step s | GFLOP/s | share of SGEMM ($rate GFLOP/s) | peak RSS MB |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "$threads threads, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%Y-%m-%d)"
} | tee results.md
