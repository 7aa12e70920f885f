#!/bin/bash
# make bench: one table, measured in this run, of step time, GFLOP/s, share of
# the OpenBLAS SGEMM rate and peak memory, for pangu-c in FP32 and in BF16
# (`--precision bf16`, where the CPU has AVX512_BF16) and (when installed) the
# PyTorch reference, on the same grids, inputs and threads.
#
#   tests/bench.sh [bin/pangu] [bin/sgemm-bench]
#
# Environment:
#   BENCH_FULL=0     skip the 721 x 1440 grid (default 1: run it; a few minutes)
#   BENCH_TORCH=0    skip the PyTorch reference (default 1: run it if importable)
#   BENCH_THREADS=N  threads for everything (default 2)
#   BENCH_REPEAT=N   steps per implementation and grid, the median reported
#                    (default 3; PyTorch's 10-minute full-grid forward once)
#   BENCH_ONNX=0     skip onnxruntime (default 1: run it when onnxruntime-node
#                    is in out/bench/node_modules; BENCH_ONNX_INSTALL=1 npm
#                    installs it there; needs the PyTorch reference to export)
#   BENCH_SCALING=0  skip the grid-size scaling table (5.625, 1.5, 1 degrees
#                    with the full architecture; 0.25 from the main table)
#   BENCH_JOBS=0     skip the forecast-job overhead and the eval rate
#   BENCH_TRAIN=1    also training samples/s (slow;
#                    default 0)
#   BENCH_RELEASED=0 skip the released models' layout at full size (import
#                    time and memory, steps of imported models; needs
#                    python3-torch and python3-onnx for pangu_ref.py official-onnx)
#   BENCH_BF16=0     skip the BF16 rows (default 1: run them if the CPU has
#                    AVX512_BF16)
#   BENCH_KERNELS=0  skip the kernel table (the CPU, the kernel choice and
#                    blocking, AVX2 against OpenBLAS Haswell, the 181 x 384
#                    step under avx512, avx2 and OpenBLAS)
#
# Grids: 181 x 384 and 721 x 1440, both with the full architecture (C = 192,
# depths 2,6,6,2, heads 6,12,12,6, window 2,6,12).  Each implementation runs
# in its own process; the step is run BENCH_REPEAT times (default 3) from the
# same input, as a forecast job repeats it, and the median is reported
# (pangu step --repeat, which also checks that the repeats agree to the bit).
# PyTorch's forward and onnxruntime's run are repeated the same way when the
# first takes under a minute (181 x 384), else run once (PyTorch on
# 721 x 1440: 10 minutes each).
#   step s      the model time pangu step prints ("step X s", reading and
#               writing excluded); for PyTorch the forward under no_grad
#   GFLOP/s     FLOPs per step from `pangu info` / step s (the same count for all)
#   share       GFLOP/s / the best OpenBLAS SGEMM rate on the model's shapes
#               (FP32 SGEMM for every row, BF16 too: it can pass 100%).
#               OpenBLAS is measured as the environment configures it and,
#               on a CPU with AVX-512 where OpenBLAS chose an AVX2 kernel
#               (Debian's 0.3.21 does on AMD Zen 4/5, and OPENBLAS_CORETYPE
#               may pin one), again with OPENBLAS_CORETYPE=SKYLAKEX; the
#               faster is the denominator, and PyTorch (whose linear layers
#               call OpenBLAS) runs with that setting too.
#   peak RSS    of the whole process: /usr/bin/time (pangu's own report if
#               /usr/bin/time is missing); getrusage for PyTorch
# CPU use of every run is printed too: well under THREADS x 100% means other
# processes shared the cores and the times are not clean.
# Input state: pangu_ref.py state (random, physical scales) when PyTorch is
# used, so both implementations read the same file; otherwise pangu synth
# (no Python needed).  Logs and results.md go to out/bench/.
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
sgemm=$(cd "$(dirname "${2:-bin/sgemm-bench}")" && pwd)/$(basename "${2:-bin/sgemm-bench}")
top=$(cd "$(dirname "$0")/.." && pwd)
ref=$(cd "$top/../shared/reference" 2>/dev/null && pwd)
threads=${BENCH_THREADS:-2}
repeat=${BENCH_REPEAT:-3}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
out="$top/out/bench"
mkdir -p "$out"
cd "$out" || exit 1
load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
[ -x "$pangu" ] || { echo "bench: $pangu not built" >&2; exit 1; }
[ -x "$sgemm" ] || { echo "bench: $sgemm not built" >&2; exit 1; }

# 1. SGEMM reference rate
echo "== OpenBLAS SGEMM, $threads threads"
"$sgemm" "$threads" | tee sgemm.txt
rate=$(awk '/^sgemm median/ {print $6}' sgemm.txt)
rate_med=$(awk '/^sgemm median/ {print $3}' sgemm.txt)
bf_rate=$(awk '/^bf16 median/ {print $6}' sgemm.txt)
bf_med=$(awk '/^bf16 median/ {print $3}' sgemm.txt)
bf_kern=$(sed -n 's/^bf16 kernel: \(.*\) (amx tile path.*/\1/p' sgemm.txt)
sb_line=$(grep -E '^sbgemm(:| median)' sgemm.txt | tail -1)
f32_rate=$(awk '/^f32 median/ {print $6}' sgemm.txt)
f32_med=$(awk '/^f32 median/ {print $3}' sgemm.txt)
[ -n "$rate" ] || { echo "bench: sgemm-bench gave no rate" >&2; exit 1; }
core0=$(sed -n 's/.*, core \([^,]*\),.*/\1/p' sgemm.txt | head -1)
blas_env=()   # OpenBLAS setting for the peers that use it (PyTorch)
blas_note="OpenBLAS core $core0${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE in the environment)}: best $rate GFLOP/s, median $rate_med GFLOP/s"
if grep -q -w avx512f /proc/cpuinfo 2>/dev/null && ! echo "$core0" | grep -q -i -E 'skylakex|cooperlake|sapphirerapids'; then
  echo "== OpenBLAS SGEMM with OPENBLAS_CORETYPE=SKYLAKEX (its AVX-512 kernel), $threads threads"
  OPENBLAS_CORETYPE=SKYLAKEX SGEMM_ONLY=1 "$sgemm" "$threads" | tee sgemm_skx.txt
  rate2=$(awk '/^sgemm median/ {print $6}' sgemm_skx.txt)
  med2=$(awk '/^sgemm median/ {print $3}' sgemm_skx.txt)
  core2=$(sed -n 's/.*, core \([^,]*\),.*/\1/p' sgemm_skx.txt | head -1)
  if [ -n "$rate2" ]; then
    blas_note="$blas_note; OpenBLAS core $core2 (OPENBLAS_CORETYPE=SKYLAKEX): best $rate2 GFLOP/s, median $med2 GFLOP/s"
    if awk -v a="$rate2" -v b="$rate" 'BEGIN {exit !(a > b)}'; then
      rate=$rate2 rate_med=$med2
      blas_env=(OPENBLAS_CORETYPE=SKYLAKEX)
      blas_note="$blas_note. The share's denominator is the SkylakeX rate, and PyTorch runs with OPENBLAS_CORETYPE=SKYLAKEX"
    fi
  fi
fi

# 2. PyTorch available?
torch_note=""
torch_ver=""
have_torch=0
if [ "${BENCH_TORCH:-1}" != 1 ]; then
  torch_note="PyTorch: skipped (BENCH_TORCH=0)"
elif [ -z "$ref" ] || [ ! -f "$ref/pangu_ref.py" ]; then
  torch_note="PyTorch: reference pangu_ref.py not found (../shared/reference), skipped"
elif ! /usr/bin/python3 -c 'import torch, h5py, netCDF4' 2>/dev/null; then
  torch_note="PyTorch: not installed, skipped"
else
  have_torch=1
  torch_ver=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null)
fi
have_time=0
/usr/bin/time -v true 2>/dev/null && have_time=1

rows=()
cpus=()
ratios=()
notes=()
profiles=()
grids="181,384"
if [ "${BENCH_FULL:-1}" = 1 ]; then grids="$grids 721,1440"; else notes+=("721 x 1440: skipped (BENCH_FULL=0)"); fi
for g in $grids; do
  tag=${g/,/x}
  gname="${g/,/ x }"
  echo
  echo "== $gname grid, full architecture"
  if ! "$pangu" init --preset full --grid "$g" --seed 1 --out "m_$tag.h5" 2>"init_$tag.txt"; then
    cat "init_$tag.txt"; notes+=("$gname: pangu init failed, skipped"); continue
  fi
  gflop=$("$pangu" info "m_$tag.h5" | awk '/FLOPs per step/ {print $4}')
  "$pangu" info "m_$tag.h5" | grep -E 'token grid|parameters|FLOPs|work memory'
  # the input state
  inputs=()
  rm -f "x_$tag.nc" "y_$tag.nc" "y_${tag}_bf16.nc"
  if [ $have_torch = 1 ]; then
    echo "input: pangu_ref.py state"
    if /usr/bin/python3 "$ref/pangu_ref.py" state --model "m_$tag.h5" --out "x_$tag.nc" --seed 1; then
      inputs=(--input "x_$tag.nc")
    fi
  fi
  if [ ${#inputs[@]} = 0 ]; then
    echo "input: pangu synth"
    rm -rf "synth_$tag"; mkdir -p "synth_$tag"
    if "$pangu" synth --grid "$g" --start 2019-01-01 --hours 1 --format cds2024 --out "synth_$tag" 2>"synth_$tag.txt"; then
      inputs=(--input "synth_$tag/era5_pl_201901.nc" --input "synth_$tag/era5_sfc_201901.nc" --time 2019-01-01T00)
    else
      cat "synth_$tag.txt"; notes+=("$gname: no input state could be made, skipped"); continue
    fi
  fi
  # pangu-c step, FP32 then BF16
  secs="" bsecs=""
  for prec in fp32 bf16; do
    PREC=$(echo $prec | tr a-z A-Z)
    sfx=$tag; [ $prec = bf16 ] && sfx=${tag}_bf16
    if [ $prec = bf16 ] && [ "${BENCH_BF16:-1}" != 1 ]; then notes+=("$gname: BF16 skipped (BENCH_BF16=0)"); continue; fi
    echo "pangu step --precision $prec, $threads threads ($gflop GFLOP)"
    timer=()
    [ $have_time = 1 ] && timer=(/usr/bin/time -v -o "time_$sfx.txt")
    "${timer[@]}" "$pangu" step --overwrite --profile --repeat "$repeat" --precision $prec --model "m_$tag.h5" "${inputs[@]}" --output "y_$sfx.nc" 2>"step_$sfx.txt"
    rc=$?
    grep -v '^$' "step_$sfx.txt"
    psecs=$(sed -n 's/.* step \([0-9.]*\) s.*/\1/p' "step_$sfx.txt" | tail -1)
    if [ $prec = bf16 ] && [ $rc = 2 ] && grep -q "AVX512_BF16" "step_$sfx.txt"; then
      notes+=("$gname: BF16 not run: this CPU has no AVX512_BF16"); continue
    fi
    if [ $rc != 0 ] || [ -z "$psecs" ]; then
      rows+=("| $gname | pangu-c $PREC | failed (exit $rc, see out/bench/step_$sfx.txt) | | | |")
      continue
    fi
    if [ $have_time = 1 ]; then
      rss=$(awk -F: '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "time_$sfx.txt")
      wall=$(awk '/Elapsed \(wall clock\)/ {print $NF}' "time_$sfx.txt")
      cpu=$(awk -F': ' '/Percent of CPU/ {print $2}' "time_$sfx.txt")
      echo "/usr/bin/time: wall $wall, CPU $cpu (init, read, step, write), peak RSS $rss MB"
      cpus+=("pangu-c $PREC $gname $cpu")
    else
      rss=$(sed -n 's/.*peak RSS \([0-9]*\) MB.*/\1/p' "step_$sfx.txt" | tail -1)
    fi
    gfs=$(awk -v f="$gflop" -v s="$psecs" 'BEGIN {printf "%.1f", f / s}')
    share=$(awk -v x="$gfs" -v r="$rate" 'BEGIN {printf "%.0f%%", 100 * x / r}')
    rows+=("| $gname | pangu-c $PREC | $psecs | $gfs | $share | $rss |")
    # where the step's time went (pangu step --profile): the GEMMs' own rate against SGEMM's
    prof=$(sed -n 's/^pangu step: profile: //p' "step_$sfx.txt" | tail -1)
    if [ -n "$prof" ]; then
      grate=$(echo "$prof" | sed -n 's/^linear-layer GEMMs [0-9.]* s of the step ([0-9]*%, \([0-9.]*\) GFLOP\/s in them).*/\1/p')
      gshare=""
      [ -n "$grate" ] && gshare=" (the GEMMs at $(awk -v x="$grate" -v r="$rate" 'BEGIN {printf "%.0f%%", 100 * x / r}') of the SGEMM denominator)"
      profiles+=("$gname pangu-c $PREC: $prof$gshare")
    fi
    if [ $prec = fp32 ]; then secs=$psecs; else
      bsecs=$psecs
      [ -n "$secs" ] && ratios+=("$gname: pangu-c FP32 / BF16 step time = $(awk -v a="$secs" -v b="$psecs" 'BEGIN {printf "%.2f", a / b}')x")
    fi
  done
  [ -n "$secs" ] || continue
  # PyTorch reference forward
  if [ $have_torch = 1 ] && [ -s "x_$tag.nc" ]; then
    echo "PyTorch $torch_ver reference forward, $threads threads"
    env "${blas_env[@]}" /usr/bin/python3 - "$ref" "m_$tag.h5" "x_$tag.nc" "y_$tag.nc" "$threads" "y_${tag}_bf16.nc" "$repeat" <<'PY' >"torch_$tag.txt" 2>&1
import os, resource, sys, time
sys.path.insert(0, sys.argv[1])
import torch
import pangu_ref as P
torch.set_num_threads(int(sys.argv[5]))
torch.set_grad_enabled(False)
t0 = time.perf_counter()
m = P.load_h5(sys.argv[2])
up, sf, _ = P.read_state(sys.argv[3])
up, sf = torch.from_numpy(up), torch.from_numpy(sf)
r1 = resource.getrusage(resource.RUSAGE_SELF)
t1 = time.perf_counter()
times = []
while True:  # the median of up to `repeat` forwards; only one when the first takes a minute or more
    ts = time.perf_counter()
    with torch.no_grad():
        out_up, out_sf = m(up, sf)
    times.append(time.perf_counter() - ts)
    if len(times) >= int(sys.argv[7]) or times[0] >= 60:
        break
t2 = time.perf_counter()
r2 = resource.getrusage(resource.RUSAGE_SELF)
rss = r2.ru_maxrss / 1024  # kB on Linux
cpu = (r2.ru_utime + r2.ru_stime - r1.ru_utime - r1.ru_stime) / (t2 - t1)
times.sort()
n = len(times)
med = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
spread = f" (median of {n}: {times[0]:.2f} to {times[-1]:.2f} s)" if n > 1 else " (one forward)"
print(f"torch load {t1 - t0:.2f} s, step {med:.2f} s, peak RSS {rss:.0f} MB, "
      f"{torch.get_num_threads()} threads, CPU {100 * cpu:.0f}%{spread}", flush=True)
# agreement with pangu-c's outputs (after the RSS reading: not counted)
for path, label in ((sys.argv[4], "pangu"), (sys.argv[6], "pangu BF16")):
    if not os.path.exists(path):
        continue
    try:
        pu, ps, _ = P.read_state(path)
        eu = (out_up - torch.from_numpy(pu)).abs() / m.upper_std[:, :, None, None]
        es = (out_sf - torch.from_numpy(ps)).abs() / m.surface_std[:, None, None]
        du, ds = eu.max().item(), es.max().item()
        # RMS over each field (one variable at one level), the worst field
        rms = max(eu.pow(2).mean(dim=(2, 3)).sqrt().max().item(), es.pow(2).mean(dim=(1, 2)).sqrt().max().item())
        print(f"max |torch - {label}| / std: upper {du:.2e}, surface {ds:.2e}; worst field RMS {rms:.2e}")
    except Exception as e:  # a different output layout: say so, do not fail the bench
        print(f"output comparison skipped: {e}")
PY
    trc=$?
    cat "torch_$tag.txt"
    tsecs=$(sed -n 's/^torch load .* step \([0-9.]*\) s,.*/\1/p' "torch_$tag.txt")
    trss=$(sed -n 's/^torch load .* peak RSS \([0-9]*\) MB.*/\1/p' "torch_$tag.txt")
    if [ $trc != 0 ] || [ -z "$tsecs" ]; then
      rows+=("| $gname | PyTorch $torch_ver FP32 | failed (exit $trc, see out/bench/torch_$tag.txt) | | | |")
    else
      tgfs=$(awk -v f="$gflop" -v s="$tsecs" 'BEGIN {printf "%.1f", f / s}')
      tshare=$(awk -v x="$tgfs" -v r="$rate" 'BEGIN {printf "%.0f%%", 100 * x / r}')
      rows+=("| $gname | PyTorch $torch_ver FP32 | $tsecs | $tgfs | $tshare | $trss |")
      cpus+=("PyTorch $gname $(sed -n 's/^torch load .* CPU \([0-9]*%\).*/\1/p' "torch_$tag.txt")")
      ratios+=("$gname: PyTorch / pangu-c step time = $(awk -v a="$tsecs" -v b="$secs" 'BEGIN {printf "%.2f", a / b}')x")
      [ -n "$bsecs" ] && ratios+=("$gname: PyTorch FP32 / pangu-c BF16 step time = $(awk -v a="$tsecs" -v b="$bsecs" 'BEGIN {printf "%.2f", a / b}')x")
    fi
  fi
  # onnxruntime (npm onnxruntime-node) on the reference exported to ONNX
  if [ "${BENCH_ONNX:-1}" = 1 ] && [ $have_torch = 1 ]; then
    echo "onnxruntime, $threads threads"
    BENCH_REPEAT=$repeat bash "$top/tests/bench_onnx.sh" "$g" "$threads" "$out" "$pangu" "y_$tag.nc" >"onnx_bench_$tag.txt" 2>&1
    grep -v '^ONNX_' "onnx_bench_$tag.txt" | tail -4
    res=$(grep '^ONNX_RESULT' "onnx_bench_$tag.txt" | tail -1)
    if [ -n "$res" ]; then
      ov=$(echo "$res" | sed -n 's/.* version=\([^ ]*\).*/\1/p')
      os=$(echo "$res" | sed -n 's/.* step_s=\([^ ]*\).*/\1/p')
      orss=$(echo "$res" | sed -n 's/.* rss_mb=\([^ ]*\).*/\1/p')
      ocpu=$(echo "$res" | sed -n 's/.* cpu=\([^ ]*\).*/\1/p')
      odiff=$(echo "$res" | sed -n 's/.* maxdiff=\([^ ]*\).*/\1/p')
      ogfs=$(awk -v f="$gflop" -v s="$os" 'BEGIN {printf "%.1f", f / s}')
      oshare=$(awk -v x="$ogfs" -v r="$rate" 'BEGIN {printf "%.0f%%", 100 * x / r}')
      rows+=("| $gname | onnxruntime $ov FP32 | $os | $ogfs | $oshare | $orss |")
      cpus+=("onnxruntime $gname $ocpu")
      ratios+=("$gname: onnxruntime / pangu-c step time = $(awk -v a="$os" -v b="$secs" 'BEGIN {printf "%.2f", a / b}')x (outputs differ by at most $odiff of each variable's std)")
    else
      notes+=("$gname: onnxruntime: $(sed -n 's/^ONNX_SKIPPED //p' "onnx_bench_$tag.txt" | tail -1)")
    fi
  elif [ "${BENCH_ONNX:-1}" = 1 ]; then
    notes+=("$gname: onnxruntime: needs the PyTorch reference to export the model, skipped")
  fi
done
[ -n "$torch_note" ] && notes+=("$torch_note")

# Optional: training samples/s and peak memory (demo architecture at 32 x 64,
# full architecture at 181 x 384, synthetic data).
train_rows=()
if [ "${BENCH_TRAIN:-0}" = 1 ]; then
  for spec in "32,64 small 24 2,2,2,2 20 4" "181,384 full 192 2,6,6,2 2 1"; do
    # shellcheck disable=SC2086  # split the spec into fields
    set -- $spec
    g=$1; tag=t${g/,/x}
    mkdir -p "$tag"
    [ -s "$tag/era5_pl_201901.nc" ] || "$pangu" synth --grid "$g" --start 2019-01-01 --hours 30 --format cds2024 --out "$tag" 2>/dev/null
    "$pangu" init --preset "$2" --grid "$g" --dim "$3" --depths "$4" --lead 6 --out "$tag/init.h5" 2>/dev/null
    echo "== training, $g grid, C = $3, batch $6, $5 steps"
    /usr/bin/time -f "%e %M" -o ttrain.txt "$pangu" train --init "$tag/init.h5" --input "$tag/era5_pl_201901.nc $tag/era5_sfc_201901.nc" \
      --train-start 2019-01-01 --train-end 2019-01-02 --steps "$5" --batch "$6" \
      --output "$tag/out.h5" --checkpoint "$tag/ck.h5" --checkpoint-every 1000 2>train.txt
    sps=$(grep '^step' train.txt | tail -1 | sed -n 's/.*  \([0-9.]*\) samples\/s.*/\1/p')
    train_rows+=("| ${g/,/ x } | C = $3, depths $4 | $6 | ${sps:-?} | $(awk '{printf "%.0f", $2 / 1024}' ttrain.txt) |")
  done
fi

# Cost against the number of tokens: the full architecture (C = 192, depths
# 2,6,6,2) at 5.625, 1.5 and 1 degrees, BENCH_REPEAT steps each in FP32 and BF16; the
# 0.25-degree row is the main table's. Longitude windows that divide these
# grids' token counts (the preset's 12 needs W a multiple of 96): 8, 10, 9.
scale_rows=()
if [ "${BENCH_SCALING:-1}" = 1 ]; then
  for spec in "5.625 32,64 2,6,8" "1.5 121,240 2,6,10" "1 181,360 2,6,9" "0.25 721,1440 main"; do
    # shellcheck disable=SC2086  # split the spec into fields
    set -- $spec
    deg=$1 g=$2 win=$3 tag=s${2/,/x}
    if [ "$win" = main ]; then  # from the main table's run
      [ -s "time_${g/,/x}.txt" ] && [ -s "m_${g/,/x}.h5" ] || continue
      tag=${g/,/x} win="2,6,12"
      model="m_$tag.h5"
    else
      model="m_$tag.h5"
      "$pangu" init --preset full --grid "$g" --window "$win" --seed 1 --out "$model" 2>/dev/null || { notes+=("scaling $g: init failed"); continue; }
      rm -rf "synth_$tag"; mkdir -p "synth_$tag"
      "$pangu" synth --grid "$g" --start 2019-01-01 --hours 1 --format cds2024 --out "synth_$tag" 2>/dev/null
      echo "== scaling: $deg degrees ($g), window $win"
      for prec in fp32 bf16; do
        [ $prec = bf16 ] && [ "${BENCH_BF16:-1}" != 1 ] && continue
        sfx=$tag; [ $prec = bf16 ] && sfx=${tag}_bf16
        /usr/bin/time -v -o "time_$sfx.txt" "$pangu" step --overwrite --repeat "$repeat" --precision $prec --model "$model" \
          --input "synth_$tag/era5_pl_201901.nc" --input "synth_$tag/era5_sfc_201901.nc" --time 2019-01-01T00 \
          --output "y_$sfx.nc" 2>"step_$sfx.txt"
        grep -v '^$' "step_$sfx.txt" | tail -1
      done
    fi
    tokens=$("$pangu" info "$model" | awk '/token grid/ {print $3 * $5 * $7}')
    gflop=$("$pangu" info "$model" | awk '/FLOPs per step/ {print $4}')
    f32=$(sed -n 's/.* step \([0-9.]*\) s.*/\1/p' "step_$tag.txt" 2>/dev/null | tail -1)
    b16=$(sed -n 's/.* step \([0-9.]*\) s.*/\1/p' "step_${tag}_bf16.txt" 2>/dev/null | tail -1)
    r32=$(awk -F: '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "time_$tag.txt" 2>/dev/null)
    r16=$(awk -F: '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "time_${tag}_bf16.txt" 2>/dev/null)
    us=$(awk -v s="$f32" -v t="$tokens" 'BEGIN {if (s != "" && t > 0) printf "%.1f", 1e6 * s / t; else print "-"}')
    usb=$(awk -v s="$b16" -v t="$tokens" 'BEGIN {if (s != "" && t > 0) printf "%.1f", 1e6 * s / t; else print "-"}')
    scale_rows+=("| $deg | ${g/,/ x } | $win | $tokens | $gflop | ${f32:--} | $us | ${r32:--} | ${b16:--} | $usb | ${r16:--} |")
  done
fi

# Kernels by CPU (issue 18; BENCH_KERNELS=0 skips): the CPU, the FP32
# kernel the step chooses (avx512 / avx2 / blas) and its blocking (pangu tune
# --show); pangu-c's AVX2 kernel against OpenBLAS's AVX2 (Haswell) SGEMM on
# the model's shapes, in one sgemm-bench run; and the 181 x 384 step under
# each kernel choice (PANGU_NO_AVX512=1: avx2 as on a CPU without AVX-512;
# PANGU_NO_AVX2=1: OpenBLAS), each as a share of the best SGEMM rate of this
# run ($rate) and of the Haswell SGEMM rate. --no-tune: the blocking from
# the cache sizes, reproducible (not pangu tune's cache).
if [ "${BENCH_KERNELS:-1}" = 1 ] && [ -s m_181x384.h5 ]; then
  echo
  echo "== kernels: this CPU, the kernel choice, AVX2 against OpenBLAS Haswell"
  "$pangu" --no-tune tune --show | tee kernels_show.txt
  OPENBLAS_CORETYPE=HASWELL "$sgemm" "$threads" | tee sgemm_haswell.txt
  hsw_med=$(awk '/^sgemm median/ {print $3}' sgemm_haswell.txt)
  hsw_best=$(awk '/^sgemm median/ {print $6}' sgemm_haswell.txt)
  a2_med=$(awk '/^avx2 median/ {print $3}' sgemm_haswell.txt)
  a2_best=$(awk '/^avx2 median/ {print $6}' sgemm_haswell.txt)
  # per shape: the AVX2 kernel's rate / SGEMM's on the same shape, measured one after the other
  shape_ratios=$(awk '/^sgemm (qkv|proj|fc1|fc2)/ {s[$2 " " $3] = $(NF - 3)} /^avx2  / {k = $2 " " $3; if (k in s) printf "%s%s %.2f", (n++ ? ", " : ""), k, $(NF - 7) / s[k]}' sgemm_haswell.txt)
  kin=()
  if [ -s x_181x384.nc ]; then kin=(--input x_181x384.nc)
  else kin=(--input synth_181x384/era5_pl_201901.nc --input synth_181x384/era5_sfc_201901.nc --time 2019-01-01T00); fi
  kgflop=$("$pangu" info m_181x384.h5 | awk '/FLOPs per step/ {print $4}')
  krows=()
  for kern in avx512 avx2 blas; do
    kenv=()
    [ $kern = avx2 ] && kenv=(PANGU_NO_AVX512=1)
    [ $kern = blas ] && kenv=(PANGU_NO_AVX2=1)
    if [ $kern = avx512 ] && ! grep -q '^kernel: avx512' kernels_show.txt; then continue; fi
    if [ $kern = avx2 ] && grep -q '^kernel: blas' kernels_show.txt; then continue; fi
    env "${kenv[@]}" "$pangu" --no-tune step --overwrite --profile --repeat "$repeat" --model m_181x384.h5 "${kin[@]}" \
      --output "y_k_$kern.nc" 2>"step_k_$kern.txt"
    ks=$(sed -n 's/.* step \([0-9.]*\) s.*/\1/p' "step_k_$kern.txt" | tail -1)
    [ -n "$ks" ] || { krows+=("| $kern | failed (out/bench/step_k_$kern.txt) | | | | |"); continue; }
    kg=$(awk -v f="$kgflop" -v s="$ks" 'BEGIN {printf "%.1f", f / s}')
    kp=$(sed -n 's/^pangu step: profile: linear-layer GEMMs [0-9.]* s of the step (\([0-9]*%\), \([0-9.]*\) GFLOP\/s in them); window attention [0-9.]* s (\([0-9]*%\), [0-9.]* GFLOP\/s); everything else [0-9.]* s (\([0-9]*%\)).*/GEMMs \1 at \2 GFLOP\/s, attention \3, rest \4/p' "step_k_$kern.txt" | tail -1)
    krows+=("| $kern | $ks | $kg | $(awk -v x="$kg" -v r="$rate" 'BEGIN {printf "%.0f%%", 100 * x / r}') | $(awk -v x="$kg" -v r="$hsw_best" 'BEGIN {if (r > 0) printf "%.0f%%", 100 * x / r}') | ${kp:--} |")
    echo "kernel $kern: step $ks s, $kg GFLOP/s; $kp"
  done
  {
    echo "Kernels by CPU: $(sed -n 's/^cpu: //p' kernels_show.txt); $(sed -n 's/^caches: //p' kernels_show.txt);" \
      "$(sed -n 's/^kernel: //p' kernels_show.txt); $(grep '^blocking' kernels_show.txt | sed 's/ (from the caches.*//' | paste -sd ',' - | sed 's/,/, /g')."
    echo "AVX2 kernel against OpenBLAS SGEMM with OPENBLAS_CORETYPE=HASWELL (the model's 8 shapes, one run, $threads threads):" \
      "median $a2_med against $hsw_med GFLOP/s ($(awk -v a="$a2_med" -v b="$hsw_med" 'BEGIN {if (b > 0) printf "%.2f", a / b}')x), best $a2_best against $hsw_best;" \
      "per shape (AVX2 / SGEMM): $shape_ratios."
    echo
    echo "| 181 x 384 step, kernel | step s | GFLOP/s | share of best SGEMM ($rate) | share of Haswell SGEMM ($hsw_best) | profile |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${krows[@]}"
  } > kernels.md
  cat kernels.md
  notes+=("$(cat kernels.md)")
fi

# The forecast job's overhead (planning, reading and writing against model
# time; writing runs on a thread beside the model) on the demo models at
# 32 x 64 with hourly leads, the worst case: every call writes a lead and
# each takes milliseconds. And the eval rate at 0.25 degrees: seconds per
# (field, time) for a synthetic numerical forecast against synthetic truth.
fc_line="" fcf_line="" eval_line=""
if [ "${BENCH_JOBS:-1}" = 1 ]; then
  if [ -s "$top/models/demo_6h.h5" ]; then
    echo "== forecast job: demo models, 32 x 64, 3 initial times, hourly leads to 7 days"
    rm -rf fcb; mkdir -p fcb && "$pangu" synth --grid 32,64 --start 2019-03-19 --hours 200 --step-hours 6 --out fcb 2>/dev/null
    "$pangu" forecast --model-1h "$top/models/demo_1h.h5" --model-3h "$top/models/demo_3h.h5" --model-6h "$top/models/demo_6h.h5" \
      --model-24h "$top/models/demo_24h.h5" --input "fcb/era5_pl_*.nc fcb/era5_sfc_*.nc" --init 2019-03-20T00/2019-03-22T00/24 \
      --leads 1-168/1 --output 'fcb/fc_{init:%Y%m%d%H}.nc' 2>fc.txt
    fc_line=$(grep "model calls" fc.txt | sed 's/^pangu forecast: //')
    size1=$(du -sk fcb/fc_*.nc | awk '{s += $1} END {printf "%.0f", s / 1024}')
    echo "$fc_line"
    # the same job writing uncompressed files: deflate's share of the writer
    rm -f fcb/fc_*.nc
    "$pangu" forecast --model-1h "$top/models/demo_1h.h5" --model-3h "$top/models/demo_3h.h5" --model-6h "$top/models/demo_6h.h5" \
      --model-24h "$top/models/demo_24h.h5" --input "fcb/era5_pl_*.nc fcb/era5_sfc_*.nc" --init 2019-03-20T00/2019-03-22T00/24 \
      --leads 1-168/1 --deflate 0 --output 'fcb/fc_{init:%Y%m%d%H}.nc' 2>fc0.txt
    size0=$(du -sk fcb/fc_*.nc | awk '{s += $1} END {printf "%.0f", s / 1024}')
    fc0=$(grep "model calls" fc0.txt | sed 's/^pangu forecast: //')
    [ -n "$fc0" ] && fc_line="$fc_line ($size1 MB of files); with --deflate 0: $fc0 ($size0 MB)"
    echo "$fc_line"
  fi
  if [ -s m_181x384.h5 ]; then
    echo "== forecast job: the full architecture at 181 x 384 (the main table's model as a 24 h model), leads 24-168/24, a 7-day job"
    rm -rf fcf; mkdir -p fcf && "$pangu" synth --grid 181,384 --start 2019-01-01T00 --hours 1 --out fcf 2>/dev/null
    "$pangu" forecast --model-24h m_181x384.h5 --input "fcf/era5_pl_201901.nc fcf/era5_sfc_201901.nc" \
      --init 2019-01-01T00 --leads 24-168/24 --output 'fcf/fc_{init:%Y%m%d%H}.nc' 2>fcf.txt
    fcf_line=$(grep "model calls" fcf.txt | sed 's/^pangu forecast: //')
    echo "$fcf_line"
  fi
  if [ "${BENCH_FULL:-1}" = 1 ]; then
    echo "== eval at 0.25 degrees: a synthetic NWP forecast (0-24 h, 6-hourly) against synthetic truth"
    rm -rf evb; mkdir -p evb/truth evb/nwp
    "$pangu" synth --grid 721,1440 --start 2019-01-01T00 --hours 25 --step-hours 6 --format cds2024 --out evb/truth 2>/dev/null &&
      "$pangu" synth --forecast-from 2019-01-01T00 --hours 24 --step-hours 6 --grid 721,1440 --format cds2024 --out evb/nwp 2>/dev/null
    /usr/bin/time -v -o time_eval.txt "$pangu" eval --forecast evb/nwp/nwp_2019010100.nc --truth evb/truth/era5_pl_201901.nc \
      --truth evb/truth/era5_sfc_201901.nc --output evb/scores.csv 2>eval.txt
    tail -1 eval.txt
    esecs=$(awk '/Elapsed \(wall clock\)/ {n = split($NF, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' time_eval.txt)
    erss=$(awk -F: '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' time_eval.txt)
    ecpu=$(awk -F': ' '/Percent of CPU/ {print $2}' time_eval.txt)
    npairs=$(sed -n 's/^pangu eval: \([0-9]*\) (forecast, truth) pairs.*/\1/p' eval.txt)
    if [ -n "$esecs" ] && [ -n "$npairs" ] && [ "$npairs" -gt 0 ]; then
      eval_line="$(awk -v s="$esecs" -v p="$npairs" 'BEGIN {printf "%.3f", s / (p * 69)}') s per (field, time):"
      eval_line="$eval_line $npairs (forecast, truth) pairs x 69 fields (z q t u v x 13 levels, msl u10 v10 t2m) in $esecs s"
      eval_line="$eval_line (reading both compressed files, 4 regions, rmse bias mae wind_rmse), CPU $ecpu, peak RSS $erss MB"
    else
      eval_line="eval at 0.25 degrees failed: see out/bench/eval.txt"
    fi
    echo "$eval_line"
  fi
fi

# The released models' layout at full size: pangu_ref.py official-onnx writes
# a 721 x 1440, C = 192 file laid out as pangu_weather_24.onnx with random
# weights (1.2 GB; never committed; kept in out/bench/released for reuse),
# with the compact structure in its expanded biases and without (--full-bias).
# pangu import's wall time and peak memory against the full-grid step; the
# step of each imported model beside the format-1 model of the same size, run
# again right before them so that the machine's drift does not enter the
# ratio; the step straight from the .onnx (imported in memory) for its peak.
rel_rows=()
if [ "${BENCH_RELEASED:-1}" != 1 ]; then notes+=("released models: skipped (BENCH_RELEASED=0)")
elif [ "${BENCH_FULL:-1}" != 1 ]; then notes+=("released models: skipped with the full grid (BENCH_FULL=0)")
elif [ $have_torch != 1 ] || ! /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
  notes+=("released models: skipped (needs pangu_ref.py with python3-torch and python3-onnx)")
elif [ ! -s x_721x1440.nc ] || [ ! -s m_721x1440.h5 ]; then notes+=("released models: skipped (no full-grid model or input)")
else
  echo
  echo "== the released models' layout at 721 x 1440, C = 192 (pangu_ref.py official-onnx, random weights)"
  rel_secs() { sed -n 's/.* step \([0-9.]*\) s.*/\1/p' "$1" | tail -1; }
  rel_rss() { awk -F: '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"; }
  rel_wall() { awk '/Elapsed \(wall clock\)/ {n = split($NF, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$1"; }
  /usr/bin/time -v -o time_rel_f1.txt "$pangu" step --overwrite --repeat "$repeat" --model m_721x1440.h5 --input x_721x1440.nc \
    --output y_rel_f1.nc 2>step_rel_f1.txt
  f1=$(rel_secs step_rel_f1.txt)
  echo "format 1 (pangu init --preset full), again: step $f1 s, peak RSS $(rel_rss time_rel_f1.txt) MB"
  rel_rows+=("| pangu init --preset full (format 1) | step | $f1 | 1.00 | $(rel_rss time_rel_f1.txt) |")
  for form in compact full; do
    f=released/$form/pangu_weather_24.onnx
    if [ ! -s "$f" ]; then
      mkdir -p released/$form
      fb=(); [ $form = full ] && fb=(--full-bias)
      echo "pangu_ref.py official-onnx ${fb[*]} (about a minute)"
      /usr/bin/python3 "$ref/pangu_ref.py" official-onnx --config '{"grid": [721, 1440], "dim": 192}' "${fb[@]}" \
        --seed 3 --std 0.02 --out "$f.tmp.onnx" && mv "$f.tmp.onnx" "$f"
    fi
    [ -s "$f" ] || { notes+=("released models: official-onnx ($form) failed"); continue; }
    fmb=$(du -m "$f" | cut -f1)
    /usr/bin/time -v -o time_import_$form.txt "$pangu" import --onnx "$f" --out released/m_$form.h5 2>import_$form.txt
    cat import_$form.txt
    iw=$(rel_wall time_import_$form.txt) ir=$(rel_rss time_import_$form.txt)
    rel_rows+=("| import, $form bias ($fmb MB file) | pangu import | $iw | $(awk -v a="$iw" -v b="$f1" 'BEGIN {printf "%.2f", a / b}') | $ir |")
    # The released layout's statistics are the random model's own, not the
    # format-1 model's: its input comes from pangu_ref.py state on it.
    if [ ! -s released/x_$form.nc ]; then
      /usr/bin/python3 "$ref/pangu_ref.py" state --model released/m_$form.h5 --out released/x_$form.nc.tmp.nc --seed 11 &&
        mv released/x_$form.nc.tmp.nc released/x_$form.nc
    fi
    /usr/bin/time -v -o time_rel_$form.txt "$pangu" step --overwrite --repeat "$repeat" --model released/m_$form.h5 \
      --input released/x_$form.nc --output y_rel_$form.nc 2>step_rel_$form.txt
    s2=$(rel_secs step_rel_$form.txt)
    grep '^pangu step:' step_rel_$form.txt | head -1
    if [ -z "$s2" ]; then
      rel_rows+=("| imported, $form bias | step | failed: $(head -1 step_rel_$form.txt) | | |")
      notes+=("released models: the $form-bias step failed (step_rel_$form.txt)")
    else
      rel_rows+=("| imported, $form bias | step | $s2 | $(awk -v a="$s2" -v b="$f1" 'BEGIN {printf "%.2f", a / b}') | $(rel_rss time_rel_$form.txt) |")
    fi
    if [ $form = compact ]; then
      /usr/bin/time -v -o time_rel_onnx.txt "$pangu" step --model "$f" --input released/x_$form.nc --output y_rel_onnx.nc 2>step_rel_onnx.txt
      s3=$(rel_secs step_rel_onnx.txt)
      if [ -z "$s3" ]; then
        rel_rows+=("| the .onnx itself, compact bias (imported in memory) | step, one | failed: $(head -1 step_rel_onnx.txt) | | |")
        notes+=("released models: the step from the .onnx failed (step_rel_onnx.txt)")
      else
        rel_rows+=("| the .onnx itself, compact bias (imported in memory) | step, one | $s3 | $(awk -v a="$s3" -v b="$f1" 'BEGIN {printf "%.2f", a / b}') | $(rel_rss time_rel_onnx.txt) |")
      fi
    fi
  done
fi

echo
{
  echo "| grid | impl | step s | GFLOP/s | share of SGEMM | peak RSS MB |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "SGEMM (OpenBLAS, C = A B^T, M = 4320, the model's 8 linear-layer shapes, $threads threads):" \
       "$blas_note. Share's denominator: $rate GFLOP/s."
  [ -n "$f32_rate" ] && echo "FP32 GEMM (pangu-c's packed AVX-512 kernel, which the FP32 step uses, the same shapes): best $f32_rate GFLOP/s, median $f32_med GFLOP/s."
  [ -n "$bf_rate" ] && echo "BF16 GEMM (pangu-c's ${bf_kern:-AVX512_BF16} kernel, the same shapes): best $bf_rate GFLOP/s, median $bf_med GFLOP/s."
  [ -n "$sb_line" ] && echo "$sb_line"
  for r in "${ratios[@]}"; do echo "$r"; done
  [ ${#profiles[@]} -gt 0 ] && { echo "Step profiles (pangu step --profile; thread-seconds / threads as shares of the step):"; printf -- '- %s\n' "${profiles[@]}"; }
  [ ${#cpus[@]} -gt 0 ] && echo "CPU use ($threads threads; well under ${threads}00% means the cores were shared or idle):" \
    "$(printf '%s, ' "${cpus[@]}" | sed 's/, $//')."
  [ ${#cpus[@]} -gt 0 ] && printf '%s\n' "${cpus[@]}" | awk -v t="$threads" '{c = $NF; sub(/%/, "", c); if (c + 0 < 80 * t) low = 1}
    END {if (low) print "WARNING: a run got under 80% of its " t " cores: other processes were competing; its times are not clean."}'
  for n in "${notes[@]}"; do echo "$n"; done
  if [ ${#train_rows[@]} -gt 0 ]; then
    echo
    echo "| training grid | architecture | batch | samples/s | peak RSS MB |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${train_rows[@]}"
  fi
  if [ ${#scale_rows[@]} -gt 0 ]; then
    echo
    echo "| degrees | grid | window | tokens | GFLOP | FP32 s | FP32 us/token | FP32 RSS MB | BF16 s | BF16 us/token | BF16 RSS MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${scale_rows[@]}"
  fi
  if [ ${#rel_rows[@]} -gt 0 ]; then
    echo
    echo "The released models' layout at 721 x 1440, C = 192 (random weights; wall s for import, the step's median otherwise):"
    echo
    echo "| model | what | s | / format-1 step | peak RSS MB |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rel_rows[@]}"
  fi
  [ -n "$fc_line" ] && { echo; echo "Forecast job on the demo models (32 x 64, 3 initial times, hourly leads to 7 days): $fc_line."; }
  [ -n "$fcf_line" ] && { echo; echo "Forecast job, full architecture at 181 x 384 (one initial time, leads 24-168/24): $fcf_line."; }
  [ -n "$eval_line" ] && { echo; echo "Eval at 0.25 degrees: $eval_line."; }
  echo
  echo "Step times: the median of $repeat steps in one process per implementation and grid (once where" \
       "the first takes a minute or more: PyTorch on 721 x 1440); $threads threads;" \
       "$(lscpu | sed -n 's/^Model name: *//p'); $(date -u +%Y-%m-%d);" \
       "load average at start ${load0:-?}, at end $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)."
} | tee results.md
[ "${BENCH_CONTENTION:-1}" != 1 ] || "$top/tests/bench_threads.sh" "$pangu" # 1 vs 2 threads, quiet and beside a busy process (BENCH_CONTENTION=0: skip)
