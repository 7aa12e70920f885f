#!/bin/bash
# make portable-check: the build a CPU other than x86-64 gets (-DPANGU_PORTABLE:
# no AVX-512, AVX2, BF16 or AMX code; the kernel files' entries are the plain
# twins through fast/gemm_entry.h, never chosen). It must say so, refuse BF16
# clearly, and step to the same bits as the x86 build on OpenBLAS.
#   tests/portable_test.sh bin-portable/pangu bin/pangu
set -u
portable=${1:-bin-portable/pangu} native=${2:-bin/pangu}
fx="$(cd "$(dirname "$0")" && pwd)/fixtures"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "  ok: $1"; else fail=$((fail + 1)); echo "  FAILED: $1"; fi; }
echo "portable tests"
$portable tune --show > "$t/show" 2>&1
check "tune --show: kernel blas, no bf16, no AMX" "grep -q '^kernel: blas (FP32); bf16: no; amx_bf16: no' '$t/show'"
$portable step --model "$fx/small.h5" --input "$fx/small_in.nc" --output "$t/bf16.nc" --precision bf16 2> "$t/err"; rc=$?
check "--precision bf16: exit 2 with a reason (rc $rc: $(head -c 160 "$t/err"))" "[ $rc = 2 ] && grep -q 'bf16 needs the x86-64 kernels (AVX512_BF16), which this build lacks' '$t/err' && [ ! -e '$t/bf16.nc' ]"
for fxn in small custom; do
  $portable step --model "$fx/$fxn.h5" --input "$fx/${fxn}_in.nc" --output "$t/p_$fxn.nc" --threads 2 2>/dev/null
  PANGU_NO_AVX2=1 $native step --model "$fx/$fxn.h5" --input "$fx/${fxn}_in.nc" --output "$t/n_$fxn.nc" --threads 2 2>/dev/null
  ncdump -p 9,17 "$t/p_$fxn.nc" | tail -n +2 | grep -v -e history -e pangu_request > "$t/p.txt"
  ncdump -p 9,17 "$t/n_$fxn.nc" | tail -n +2 | grep -v -e history -e pangu_request > "$t/n.txt"
  check "$fxn step: the x86 build's OpenBLAS bits ($(grep -c . "$t/p.txt") lines of ncdump -p 9,17)" \
    "[ -s '$t/p.txt' ] && cmp -s '$t/p.txt' '$t/n.txt'"
done
echo "portable: $pass passed, $fail failed"
[ $fail = 0 ]
