#!/bin/bash
# mpirun -np 2 spreads initial times over ranks; the files must equal a
# one-process run. Usage: tests/mpi_test.sh bin-mpi/pangu
set -u
# The states here are random (pangu_ref.py state) or synthetic and the models
# random: their values need not fit each model's statistics, which the
# plausibility checks compare (tests/plausible_test.sh tests those).
export PANGU_NO_PLAUSIBILITY_CHECK=1
pangu=$(cd "$(dirname "${1:-bin-mpi/pangu}")" && pwd)/$(basename "${1:-bin-mpi/pangu}")
fx="$(cd "$(dirname "$0")" && pwd)/fixtures"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "  ok: $1"; else fail=$((fail + 1)); echo "  FAILED: $1"; fi; }
if ! command -v mpirun >/dev/null; then echo "mpi: mpirun not installed, skipped"; echo "mpi: 0 passed, 0 failed"; exit 0; fi
mpi="mpirun --oversubscribe --allow-run-as-root --mca btl self,vader -np"
export OMPI_MCA_rmaps_base_oversubscribe=1 OMP_NUM_THREADS=1
echo "mpi tests"
for h in 6 24; do $pangu init --preset tiny --lead $h --seed $h --out m$h.h5 2>/dev/null; done
# Four initial times, 6 h apart, in one file.
# the initial state as pangu step writes states (lead 0), so that ncrcat joins it with the steps
$pangu forecast --model-6h m6.h5 --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 0 --output s0.nc 2>/dev/null
for k in 1 2 3; do $pangu step --model m6.h5 --input s$((k - 1)).nc --output s$k.nc 2>/dev/null; done
ncrcat -O s0.nc s1.nc s2.nc s3.nc series.nc
args="--model-6h m6.h5 --model-24h m24.h5 --input series.nc --leads 0-48/6" inits="--init 1900-01-01T00/1900-01-01T18/6"
$mpi 1 $pangu forecast $args $inits --output 'one_{init:%d%H}.nc' 2>/dev/null
$mpi 2 $pangu forecast $args $inits --output 'two_{init:%d%H}.nc' 2>log2; rc=$?
check "mpirun -np 2 finishes" '[ $rc -eq 0 ] && [ $(ls two_*.nc | wc -l) -eq 4 ]'
same=1
# (but the history: the command lines differ)
for f in one_*.nc; do cmp -s <(ncdump "$f" | sed 1d | grep -v ":history = ") <(ncdump "two_${f#one_}" | sed 1d | grep -v ":history = ") || same=0; done
check "outputs identical to the one-process run" '[ $same -eq 1 ]'
$mpi 2 $pangu forecast $args --init 1900-01-03T00 --output 'bad_{init:%d%H}.nc' 2>/dev/null; rc=$?
check "a failing rank makes every rank exit 2" '[ $rc -eq 2 ]'
# Data-parallel training: 2 ranks x batch 1 is one rank x batch 2.
$pangu init --preset tiny --lead 6 --seed 3 --out init6.h5 2>/dev/null
T="--init init6.h5 --input series.nc --train-start 1900-01-01T00 --train-end 1900-01-01T12 --steps 3 --lr 1e-3"
$mpi 1 $pangu train $T --batch 2 --output one.h5 --checkpoint ck1.h5 --log one.csv 2>/dev/null
$mpi 2 $pangu train $T --batch 1 --output two.h5 --checkpoint ck2.h5 --log two.csv 2>/dev/null; rc=$?
check "training on 2 ranks finishes" '[ $rc -eq 0 ] && [ -s two.h5 ]'
check "2 ranks x batch 1: the same losses as 1 rank x batch 2" \
  'paste -d, one.csv two.csv | awk -F, "NR > 1 { d = \$2 - \$7; if (d < 0) d = -d; if (d > 1e-5 * \$2) bad = 1 } END { exit bad }"'
# Absolute: parameters whose exact gradient is 0 (key biases) move by Adam-normalised rounding noise.
check "2 ranks x batch 1: the same model (1e-6 absolute)" 'h5diff -q -d 1e-6 one.h5 two.h5'
echo "mpi: $pass passed, $fail failed"
[ $fail -eq 0 ]
