#!/bin/bash
# pangu tune and the kernel choice from the command line: the cache written
# per CPU model under XDG_CACHE_HOME (a temporary one here), shown and used
# by other commands, ignored with --no-tune; a damaged cache refused by
# every command naming the file (exit 2); the step under each kernel choice
# (avx512 where the CPU has it, avx2 via PANGU_NO_AVX512, OpenBLAS via
# PANGU_NO_AVX2) equal within 1e-5 of each variable's std; precision auto
# (forecast and step alike) stays fp32 unless allow_bf16.
# Usage: tests/tune_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/tests/fixtures"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
export XDG_CACHE_HOME="$t/cache" PANGU_NO_PLAUSIBILITY_CHECK=1
pass=0 fail=0
ok() { echo "  ok: $1"; pass=$((pass + 1)); }
bad() { echo "  FAILED: $1"; fail=$((fail + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
echo "tune and kernel tests"

"$pangu" tune --show >"$t/show0.txt"
check "tune --show: the CPU, caches, kernel, blockings, the AMX tile path's state, the cache path under XDG_CACHE_HOME" \
  'grep -q "^cpu: ." "$t/show0.txt" && grep -q "^caches: L1d [0-9]* KB" "$t/show0.txt" && grep -q "^kernel: " "$t/show0.txt" &&
   grep -Eq "^amx tile path: (on|no|off|emulated): ." "$t/show0.txt" && grep -q "^tune cache: $XDG_CACHE_HOME/pangu-c/tune-" "$t/show0.txt"'
kern=$(sed -n 's/^kernel: \([a-z0-9]*\).*/\1/p' "$t/show0.txt")
if [ "$kern" != blas ]; then
  "$pangu" tune --seconds 0.5 >"$t/tune.txt" 2>"$t/tune.err"
  rc=$?
  f=$(ls "$XDG_CACHE_HOME"/pangu-c/tune-*.txt 2>/dev/null | head -1)
  check "tune writes the cache (key=value, this CPU, the chosen blocking)" \
    '[ $rc = 0 ] && [ -s "$f" ] && grep -q "^cpu=$(sed -n "s/^cpu: //p" "$t/show0.txt")\$" "$f" && grep -q "^${kern}_mc=[0-9]*\$" "$f" &&
     grep -q "^${kern}_kc=[0-9]*\$" "$f" && [ $(grep -c "mc .* kc .*GFLOP/s" "$t/tune.err") -ge 3 ]'
  # a blocking no default gives, to see the cache in use
  sed -i "s/^${kern}_mc=.*/${kern}_mc=30/; s/^${kern}_kc=.*/${kern}_kc=64/" "$f"
  "$pangu" tune --show >"$t/show1.txt"
  "$pangu" --no-tune tune --show >"$t/show2.txt"
  check "every command uses the cache; --no-tune does not" \
    'grep -q "^blocking $kern: mc 30 kc 64 " "$t/show1.txt" && ! grep -q "^blocking $kern: mc 30 kc 64 " "$t/show2.txt" &&
     grep -q "not used: --no-tune" "$t/show2.txt"'
  "$pangu" step --model "$fx/custom.h5" --input "$fx/custom_in.nc" --output "$t/a.nc" 2>/dev/null
  "$pangu" --no-tune step --model "$fx/custom.h5" --input "$fx/custom_in.nc" --output "$t/b.nc" 2>/dev/null
  check "the blocking does not change the step (tuned and --no-tune files equal)" \
    '[ -s "$t/a.nc" ] && [ -s "$t/b.nc" ] && cmp -s <(ncdump -v z,t2m "$t/a.nc" | sed 1d | grep -v history) <(ncdump -v z,t2m "$t/b.nc" | sed 1d | grep -v history)'
  cp "$f" "$t/good.txt"
  echo "avx2_mc=abc" >>"$f"
  "$pangu" info "$fx/tiny.h5" >/dev/null 2>"$t/err"
  rc=$?
  check "a damaged cache: exit 2, one line naming the file and the line" \
    '[ $rc = 2 ] && [ $(wc -l <"$t/err") = 1 ] && grep -q "$f line [0-9]*: " "$t/err"'
  "$pangu" --no-tune info "$fx/tiny.h5" >/dev/null 2>&1
  check "--no-tune runs despite a damaged cache" '[ $? = 0 ]'
  "$pangu" tune --seconds 0.5 >/dev/null 2>&1
  check "pangu tune replaces a damaged cache" '[ $? = 0 ] && ! grep -q abc "$f" && "$pangu" info "$fx/tiny.h5" >/dev/null 2>&1'
  cp "$t/good.txt" "$f"
fi

# the step under each kernel choice against the default one
"$pangu" --no-tune step --model "$fx/custom.h5" --input "$fx/custom_in.nc" --output "$t/k0.nc" 2>/dev/null
for k in avx2 blas; do
  envs=(PANGU_NO_AVX512=1); [ $k = blas ] && envs=(PANGU_NO_AVX2=1)
  env "${envs[@]}" "$pangu" --no-tune step --model "$fx/custom.h5" --input "$fx/custom_in.nc" --output "$t/k_$k.nc" 2>/dev/null
  d=$(/usr/bin/python3 - "$t/k0.nc" "$t/k_$k.nc" <<'PY' 2>/dev/null
import sys, netCDF4, numpy as np
a, b = netCDF4.Dataset(sys.argv[1]), netCDF4.Dataset(sys.argv[2])
w = 0.0
for v in ("z", "q", "t", "u", "v", "msl", "u10", "v10", "t2m"):
    x, y = np.asarray(a[v][:], dtype=np.float64), np.asarray(b[v][:], dtype=np.float64)
    w = max(w, float(np.max(np.abs(x - y)) / (np.std(x) + 1e-30)))
print("%.3g" % w)
PY
)
  check "step with the $k kernel set equals the default's within 1e-5 std (worst ${d:-?})" \
    '[ -n "$d" ] && awk -v d="$d" "BEGIN {exit !(d <= 1e-5)}"'
done

# forecast: precision auto is fp32 unless allow_bf16; auto is recorded as what ran
mkdir -p "$t/in"
"$pangu" synth --grid 32,64 --start 2019-03-19 --hours 6 --step-hours 6 --out "$t/in" 2>/dev/null
"$pangu" forecast --model-6h "$top/models/demo_6h.h5" --input "$t/in/era5_*.nc" --init 2019-03-19T00 --leads 6 \
  --output "$t/fc_{init:%Y%m%d%H}.nc" 2>"$t/fc.err"
check "forecast: precision auto without allow_bf16 runs fp32 and measures nothing" \
  'ncdump -h "$t/fc_2019031900.nc" | grep -q "precision: fp32" && [ "$(ls "$XDG_CACHE_HOME"/pangu-c 2>/dev/null | wc -l)" -le 1 ]'
"$pangu" forecast --model-6h "$top/models/demo_6h.h5" --input "$t/in/era5_*.nc" --init 2019-03-19T00 --leads 6 \
  --precision fast --output "$t/fx_{init:%Y%m%d%H}.nc" 2>"$t/err"
check "forecast: an unknown precision is refused (exit 2)" '[ $? = 2 ] && grep -q "precision" "$t/err"'
# step: the same vocabulary and the same auto rule as forecast's
st=(--model "$top/models/demo_6h.h5" --input "$t/in/era5_*.nc" --time 2019-03-19T00)
"$pangu" step "${st[@]}" --precision auto --output "$t/st_auto.nc" 2>"$t/err"; rc=$?
"$pangu" step "${st[@]}" --precision fp32 --output "$t/st_fp32.nc" 2>/dev/null
check "step: precision auto without allow_bf16 runs fp32, the same file as --precision fp32 ($(tail -1 "$t/err"))" \
  '[ $rc = 0 ] && ncdump -h "$t/st_auto.nc" | grep -q "fp32 GEMMs" &&
   cmp -s <(ncdump -v z,t2m "$t/st_auto.nc" | sed 1,/data:/d) <(ncdump -v z,t2m "$t/st_fp32.nc" | sed 1,/data:/d)'
"$pangu" step "${st[@]}" --precision auto --allow-bf16 yes --output "$t/st_ab.nc" 2>"$t/err"; rc=$?
"$pangu" forecast --model-6h "$top/models/demo_6h.h5" --input "$t/in/era5_*.nc" --init 2019-03-19T00 --leads 6 \
  --precision auto --allow-bf16 yes --output "$t/fab_{init:%Y%m%d%H}.nc" 2>/dev/null
sp=$(ncdump -h "$t/st_ab.nc" 2>/dev/null | grep -o "[a-z0-9]* GEMMs" | head -1)
fp=$(ncdump -h "$t/fab_2019031900.nc" 2>/dev/null | grep -o "precision: [a-z0-9]*" | head -1)
check "step: precision auto with allow_bf16 chooses as forecast does (step ${sp:-?}, forecast ${fp:-?})" \
  '[ $rc = 0 ] && [ -n "$sp" ] && [ "${sp% GEMMs}" = "${fp#precision: }" ]'
"$pangu" step "${st[@]}" --precision fast --output "$t/st_bad.nc" 2>"$t/err"; rc=$?
check "step: an unknown precision is refused naming all three ($(cat "$t/err"))" \
  '[ $rc = 2 ] && [ $(wc -l <"$t/err") = 1 ] && grep -q "precision .fast.: expected fp32 or bf16, or auto" "$t/err" && [ ! -e "$t/st_bad.nc" ]'

# A cache that cannot be read (anything but ENOENT: another user's HOME as batch systems leave it, a
# directory in its place) is as none: one warning naming it, the blocking from the cache sizes (issue 28).
cache_name=$(basename "$(sed -n 's/^tune cache: //p' "$t/show0.txt")")
from_sizes() { # every blocking line of tune --show equals the one from the caches
  [ "$(grep -c '^blocking' "$1")" -ge 1 ] &&
    ! grep '^blocking' "$1" | sed 's/^blocking [a-z0-9]*: mc \([0-9]*\) kc \([0-9]*\) (from the caches: mc \([0-9]*\) kc \([0-9]*\))$/\1 \2 \3 \4/' |
      awk '$1 != $3 || $2 != $4 || NF != 4 {bad = 1} END {exit !bad}'
}
unreadable() { # NAME ERRNO-TEXT env...: tune --show and info under that cache
  local name=$1 why=$2; shift 2
  env "$@" "$pangu" tune --show >"$t/u_show.txt" 2>"$t/u_show.err"; local rc1=$?
  env "$@" "$pangu" info "$fx/tiny.h5" >/dev/null 2>"$t/u_info.err"; local rc2=$?
  if [ $rc1 = 0 ] && [ $rc2 = 0 ] && [ "$(wc -l <"$t/u_info.err")" = 1 ] &&
     grep -q "^pangu: warning: cannot read the tune cache .*/pangu-c/$cache_name ($why): the kernels' blocking from the CPU's cache sizes instead\$" "$t/u_info.err" &&
     from_sizes "$t/u_show.txt"; then
    ok "$name: a warning, the blocking from the cache sizes ($(cat "$t/u_info.err"))"
  else bad "$name (exit $rc1, $rc2: $(cat "$t/u_show.err" "$t/u_info.err"))"; fi
}
: >"$t/plainfile"
unreadable "a cache path under a plain file (ENOTDIR)" "Not a directory" XDG_CACHE_HOME="$t/plainfile"
mkdir -p "$t/dircache/pangu-c/$cache_name"
unreadable "a directory in the cache's place (EISDIR)" "Is a directory" XDG_CACHE_HOME="$t/dircache"
# EACCES needs a user other than the cache's owner: root runs it as nobody (setpriv), when nobody can run pangu
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && chmod 755 "$t" &&
   setpriv --reuid=65534 --regid=65534 --clear-groups "$pangu" info "$fx/tiny.h5" >/dev/null 2>&1; then
  # the tuned cache of above (mc 30 kc 64), were it read
  mkdir -p "$t/other/pangu-c" && cp "$t/good.txt" "$t/other/pangu-c/$cache_name" 2>/dev/null; chmod 700 "$t/other/pangu-c"
  unreadable "another user's cache (EACCES)" "Permission denied" XDG_CACHE_HOME="$t/other" \
    setpriv --reuid=65534 --regid=65534 --clear-groups
else
  echo "  note: not root or no setpriv: the EACCES case (ENOTDIR and EISDIR above take the same path) not run"
fi

echo "tune: $pass passed, $fail failed"
[ $fail -eq 0 ]
