#!/bin/bash
# onnxruntime as a peer in make bench: the PyTorch reference exported to ONNX
# and run by onnxruntime-node (CPU) on one grid: the median of BENCH_REPEAT
# runs in one session (default 1; make bench sets it).
#
#   tests/bench_onnx.sh GRID THREADS OUTDIR PANGU [REF.nc]
#
#   GRID     H,W of the full architecture, e.g. 181,384
#   THREADS  onnxruntime intra-op threads (the calling thread included)
#   OUTDIR   work folder (make bench: out/bench); reuses OUTDIR/m_HxW.h5 and
#            OUTDIR/x_HxW.nc (bench.sh's model and input state) when present,
#            else makes them (pangu init --preset full --grid GRID --seed 1;
#            pangu_ref.py state --seed 1)
#   PANGU    bin/pangu
#   REF.nc   an output to compare with (make bench: pangu step's y_HxW.nc);
#            without it the export also runs the PyTorch forward and the
#            comparison is with that
#
# Environment:
#   BENCH_ONNX_INSTALL=1  npm install --ignore-scripts onnxruntime-node@1 into
#                         OUTDIR/node_modules when it is not there yet
#                         (otherwise a missing onnxruntime-node skips the peer)
#   BENCH_ONNX_LARGE=1    also export a graph past protobuf's 2 GiB limit
#                         (721 x 1440: torch writes the constants as ONNX
#                         external data files); default: skip it, and say so
#
# Output: the export's and the run's lines, then one machine-readable line:
#   ONNX_RESULT step_s=8.41 rss_mb=3217 cpu=195% version=1.30.0 maxdiff=6.5e-06 session_s=3.2 ref=y_181x384.nc
#   ONNX_SKIPPED reason
# Logs in OUTDIR: onnx_export_HxW.txt, onnx_HxW.txt, onnx_cmp_HxW.txt; the
# export itself in OUTDIR/onnx_HxW/ (reused while the model's tensors, the
# state, the export scripts and options are the same: a re-made model file
# with the same seed does not cost another export).  Always exits 0 unless called wrongly.
set -u
if [ $# -lt 4 ]; then
  echo "usage: tests/bench_onnx.sh GRID THREADS OUTDIR PANGU [REF.nc]" >&2
  exit 2
fi
grid=$1
threads=$2
mkdir -p "$3" || exit 2
outdir=$(cd "$3" && pwd)
pangu=$(cd "$(dirname "$4")" && pwd)/$(basename "$4")
refout=${5:-}
[ -n "$refout" ] && refout=$(cd "$(dirname "$refout")" && pwd)/$(basename "$refout")
here=$(cd "$(dirname "$0")" && pwd)
ref=$(cd "$here/../../shared/reference" 2>/dev/null && pwd)
tag=${grid/,/x}
gname=${grid/,/ x }
cd "$outdir" || exit 2

skip() {
  echo "onnxruntime: $1, skipped"
  echo "ONNX_SKIPPED $1"
  exit 0
}

# 1. onnxruntime-node
if ! command -v node >/dev/null; then
  skip "node not installed (apt-get install nodejs npm)"
fi
if [ ! -f node_modules/onnxruntime-node/package.json ]; then
  if [ "${BENCH_ONNX_INSTALL:-0}" = 1 ]; then
    echo "onnxruntime: npm install --ignore-scripts onnxruntime-node@1 into $outdir/node_modules"
    # --prefix: install here even if a folder above has a package.json
    if ! npm install --prefix "$outdir" --ignore-scripts --no-audit --no-fund onnxruntime-node@1 >npm_onnx.txt 2>&1; then
      tail -5 npm_onnx.txt
      skip "npm install onnxruntime-node failed (see $outdir/npm_onnx.txt)"
    fi
  else
    echo "onnxruntime: not installed (BENCH_ONNX_INSTALL=1 make bench installs it from npm), skipped"
    echo "ONNX_SKIPPED onnxruntime-node not installed"
    exit 0
  fi
fi
if ! err=$(node -e 'require("onnxruntime-node")' 2>&1); then
  skip "onnxruntime-node does not load: $(echo "$err" | grep -m1 -i error)"
fi

# 2. the exporter: the PyTorch reference
if [ -z "$ref" ] || [ ! -f "$ref/pangu_ref.py" ]; then
  skip "reference pangu_ref.py not found (../shared/reference), nothing to export"
fi
if ! /usr/bin/python3 -c 'import torch, h5py, netCDF4' 2>/dev/null; then
  skip "PyTorch not installed (the export needs it)"
fi

# 3. model and input state (bench.sh's when there)
if [ ! -s "m_$tag.h5" ]; then
  "$pangu" init --preset full --grid "$grid" --seed 1 --out "m_$tag.h5" 2>"onnx_init_$tag.txt" ||
    { cat "onnx_init_$tag.txt"; skip "$gname: pangu init failed"; }
fi
if [ ! -s "x_$tag.nc" ]; then
  /usr/bin/python3 "$ref/pangu_ref.py" state --model "m_$tag.h5" --out "x_$tag.nc" --seed 1 ||
    skip "$gname: pangu_ref.py state failed"
fi

# 4. export (reused when made from the same model tensors, state and exporter)
edir="onnx_$tag"
exp_args=()
if [ -z "$refout" ] || [ ! -s "$refout" ]; then exp_args+=(--reference); fi
[ "${BENCH_ONNX_LARGE:-0}" = 1 ] && exp_args+=(--external-data)
OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/onnx_export.py" export --reuse --model "m_$tag.h5" --state "x_$tag.nc" \
  --out "$edir" --threads "$threads" "${exp_args[@]}" >"onnx_export_$tag.txt" 2>&1
erc=$?
grep -v -e 'Warning' -e '_C._jit' -e '^ *$' "onnx_export_$tag.txt" | grep -v "^ONNX_SKIPPED"
reason=$(sed -n 's/^ONNX_SKIPPED //p' "onnx_export_$tag.txt")
if [ -n "$reason" ]; then
  [ "${BENCH_ONNX_LARGE:-0}" = 1 ] || reason="$reason (BENCH_ONNX_LARGE=1: export it with ONNX external data files)"
  skip "$gname: $reason"
fi
if [ $erc != 0 ] || [ ! -s "$edir/io.json" ]; then
  tail -3 "onnx_export_$tag.txt"
  skip "$gname: the ONNX export failed (exit $erc, see $outdir/onnx_export_$tag.txt)"
fi

# 5. the inference
rm -f "$edir"/onnx_*.bin
node "$here/onnx_run.mjs" "$edir" "$threads" "$outdir" "${BENCH_REPEAT:-1}" >"onnx_$tag.txt" 2>&1
rrc=$?
cat "onnx_$tag.txt"
line=$(grep '^onnxruntime .*: session .* step ' "onnx_$tag.txt" | tail -1)
if [ $rrc != 0 ] || [ -z "$line" ]; then
  skip "$gname: onnxruntime failed (exit $rrc, see $outdir/onnx_$tag.txt)"
fi
version=$(echo "$line" | sed -n 's/^onnxruntime \([^:]*\):.*/\1/p')
session=$(echo "$line" | sed -n 's/.* session \([0-9.]*\) s,.*/\1/p')
step=$(echo "$line" | sed -n 's/.* step \([0-9.]*\) s,.*/\1/p')
rss=$(echo "$line" | sed -n 's/.* peak RSS \([0-9]*\) MB.*/\1/p')
cpu=$(echo "$line" | sed -n 's/.* CPU \([0-9]*%\).*/\1/p')

# 6. agreement with pangu-c's output (or PyTorch's)
if [ -n "$refout" ] && [ -s "$refout" ]; then
  cmp_ref=$refout; cmp_name=$(basename "$refout")
else
  cmp_ref=torch; cmp_name=torch
fi
/usr/bin/python3 "$here/onnx_export.py" compare "$edir" --ref "$cmp_ref" >"onnx_cmp_$tag.txt" 2>&1
grep -v '^MAXDIFF' "onnx_cmp_$tag.txt" | tail -3
maxdiff=$(sed -n 's/^MAXDIFF //p' "onnx_cmp_$tag.txt")
echo "ONNX_RESULT step_s=$step rss_mb=$rss cpu=$cpu version=$version maxdiff=${maxdiff:-na} session_s=$session ref=$cmp_name"
