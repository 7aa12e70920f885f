#!/bin/bash
# End-to-end checks of the pangu command: normal use, and bad input that
# must give exit status 2, one clear line on stderr and no output file.
# Usage: tests/cli_test.sh bin/pangu
set -u
pangu=${1:-bin/pangu}
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/tests/fixtures"
t=$(mktemp -d)
. "$top/tests/lib.sh" # files_state, unchanged_since (and the counters)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }

# expect_fail NAME PATTERN OUTPUT -- command...: exit 2, PATTERN on stderr, no OUTPUT left.
expect_fail() {
  local name=$1 pattern=$2 out=$3; shift 4
  local before changed; before=$(files_state "$t" "$fx")
  "$@" >"$t/stdout" 2>"$t/stderr"; local rc=$?
  changed=$(unchanged_since "$before" "$t" "$fx")
  local lines; lines=$(wc -l <"$t/stderr")
  if [ $rc -eq 2 ] && grep -q -- "$pattern" "$t/stderr" && [ ! -e "$out" ] && [ "$lines" -eq 1 ] &&
     [ -z "$(ls "$(dirname "$out")" 2>/dev/null | grep '\.tmp\.' || true)" ] && [ -z "$changed" ]; then
    ok "$name: $(cat "$t/stderr")"
  else
    bad "$name (exit $rc, stderr: $(head -c 300 "$t/stderr"); files changed: $changed)"
  fi
}

echo "pangu command tests"
# init, info, step on the tiny fixture
if $pangu init --preset tiny --grid 24,48 --lead 3 --seed 5 --out "$t/m.h5" 2>/dev/null &&
   $pangu info "$t/m.h5" >"$t/info" && grep -q "lead time         3 h" "$t/info" && grep -q "FLOPs per step" "$t/info"; then
  ok "init and info"
else bad "init and info"; fi
if $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/out.nc" 2>"$t/err" &&
   ncdump -h "$t/out.nc" | grep -q ':Conventions = "CF-1.8"' &&
   [ "$(ncdump -v step "$t/out.nc" | sed -n 's/^ *step = \([0-9.]*\) ;/\1/p')" = "6" ] &&
   [ "$(ncdump -v valid_time "$t/out.nc" | sed -n 's/^ *valid_time = \([0-9.-]*\) ;/\1/p')" = "-2208967200000" ] &&
   [ "$(ncdump -t -v forecast_reference_time "$t/out.nc" | sed -n 's/^ *forecast_reference_time = "\(.*\)" ;/\1/p')" = "1900-01-01" ]; then
  ok "step writes the forecast layout: lead 6 h, valid 6 h after the input"
else bad "step writes the forecast layout: lead 6 h, valid 6 h after the input ($(cat "$t/err"); $(ncdump -t -v valid_time,forecast_reference_time "$t/out.nc" | tail -4 | tr "\n" " "))"; fi
# --profile: one more line, the GEMMs', attention's and the rest's shares add to 100% (+-2 rounding)
if $pangu step --profile --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/outp.nc" 2>"$t/errp" &&
   line=$(grep '^pangu step: profile: linear-layer GEMMs' "$t/errp") &&
   sum=$(echo "$line" | grep -o '([0-9-]*%' | tr -d '(%' | awk '{s += $1} END {print s}') &&
   [ "$sum" -ge 98 ] && [ "$sum" -le 102 ] &&
   cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/outp.nc" | sed 1,/data:/d); then
  ok "step --profile: $(echo "$line" | cut -c 22-)"
else bad "step --profile ($(cat "$t/errp"))"; fi
# --repeat: the median of the repeats, every repeat's output the same, the written one the single step's
if $pangu step --repeat 3 --profile --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/outr.nc" 2>"$t/errr" &&
   grep -q 'median of 3: .* outputs identical' "$t/errr" &&
   line=$(grep '^pangu step: profile: linear-layer GEMMs' "$t/errr") &&
   sum=$(echo "$line" | grep -o '([0-9-]*%' | tr -d '(%' | awk '{s += $1} END {print s}') &&
   [ "$sum" -ge 98 ] && [ "$sum" -le 102 ] &&
   cmp -s <(ncdump -v t2m,z "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m,z "$t/outr.nc" | sed 1,/data:/d); then
  ok "step --repeat 3: median time, outputs identical"
else bad "step --repeat 3 ($(cat "$t/errr"))"; fi
if $pangu step --repeat 0 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/outr0.nc" 2>"$t/errr0"; then
  bad "step --repeat 0 accepted"
elif grep -q "repeat .0.: expected a whole number from 1 to 100" "$t/errr0" && [ ! -e "$t/outr0.nc" ]; then ok "step --repeat 0 refused"
else bad "step --repeat 0: $(cat "$t/errr0")"; fi
# Two files: pressure levels in one, surface in the other, as the CDS delivers.
if command -v ncks >/dev/null 2>&1; then
  ncks -O -v z,q,t,u,v "$fx/tiny_in.nc" "$t/pl.nc" && ncks -O -v msl,u10,v10,t2m "$fx/tiny_in.nc" "$t/sfc.nc" &&
  $pangu step --model "$fx/tiny.h5" --input "$t/pl.nc" --input "$t/sfc.nc" --output "$t/out2.nc" 2>/dev/null &&
  cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/out2.nc" | sed 1,/data:/d) &&
  ok "step from separate pressure-level and surface files" || bad "step from separate files"
fi

# bad input
expect_fail "missing model" "absent.h5" "$t/o1.nc" -- \
  $pangu step --model "$t/absent.h5" --input "$fx/tiny_in.nc" --output "$t/o1.nc"
echo "not a model" >"$t/garbage.h5"
expect_fail "corrupt model" "not an HDF5" "$t/o2.nc" -- \
  $pangu step --model "$t/garbage.h5" --input "$fx/tiny_in.nc" --output "$t/o2.nc"
head -c 300000 "$fx/tiny.h5" >"$t/cut.h5"
expect_fail "truncated model" "cut.h5" "$t/o3.nc" -- \
  $pangu step --model "$t/cut.h5" --input "$fx/tiny_in.nc" --output "$t/o3.nc"
expect_fail "state on another grid" "grid is 32 x 64" "$t/o4.nc" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/small_in.nc" --output "$t/o4.nc"
if command -v ncks >/dev/null 2>&1; then
  ncks -O -d level,0,11 "$fx/small_in.nc" "$t/no50.nc"
  expect_fail "state lacking a model level" "level 50 hPa missing" "$t/o5.nc" -- \
    $pangu step --model "$fx/small.h5" --input "$t/no50.nc" --output "$t/o5.nc"
fi
expect_fail "missing input file" "nothing.nc" "$t/o6.nc" -- \
  $pangu step --model "$fx/tiny.h5" --input "$t/nothing.nc" --output "$t/o6.nc"
if command -v ncap2 >/dev/null 2>&1; then
  ncap2 -O -s 'u10(0,3,4)=0.0f/0.0f' "$fx/tiny_in.nc" "$t/nan.nc" 2>/dev/null
  expect_fail "NaN in the input" "'u10' holds 1 NaN" "$t/o7.nc" -- \
    $pangu step --model "$fx/tiny.h5" --input "$t/nan.nc" --output "$t/o7.nc"
fi
expect_fail "unwritable output directory" "cannot create" "$t/no/such/dir/o8.nc" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/no/such/dir/o8.nc"
expect_fail "configuration breaking the window rule" "not divisible by window" "$t/o9.h5" -- \
  $pangu init --preset tiny --grid 24,52 --out "$t/o9.h5"
expect_fail "unknown option" "unknown option" "$t/o10.nc" -- \
  $pangu step --model "$fx/tiny.h5" --inptu "$fx/tiny_in.nc" --output "$t/o10.nc"

# --precision: bf16 where the CPU has AVX512_BF16 (PANGU_NO_BF16=1 stands in for a CPU without it)
if PANGU_NO_BF16=0 $pangu step --precision bf16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/bf.nc" 2>"$t/err"; then
  if grep -Eq "lead 6 h, bf16( on AMX tiles)?:" "$t/err" && ncdump -h "$t/bf.nc" | grep -q "bf16 GEMMs" &&
     ! cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/bf.nc" | sed 1,/data:/d); then
    ok "step --precision bf16"
  else bad "step --precision bf16 ($(cat "$t/err"))"; fi
  # the AMX tile path, its tile instructions emulated in C (PANGU_AMX_EMULATE): the same forecast to BF16's summation order
  t2m() { ncdump -v t2m "$1" | sed 1,/data:/d | tr -s ' ,;' '\n\n\n' | grep -E '^-?[0-9]'; }
  if PANGU_AMX_EMULATE=1 $pangu step --precision bf16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/bfa.nc" 2>"$t/err" &&
     grep -q "lead 6 h, bf16 on emulated AMX tiles:" "$t/err" &&
     paste <(t2m "$t/bf.nc") <(t2m "$t/bfa.nc") | awk '{d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d; n++}
       END {exit !(n == 24 * 48 && m <= 0.01)}'; then
    ok "step --precision bf16 on the (emulated) AMX tile path: t2m within 0.01 K of AVX512_BF16's"
  else bad "step --precision bf16 on emulated AMX tiles ($(cat "$t/err"))"; fi
  if PANGU_NO_AMX=1 $pangu step --precision bf16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/bfn.nc" 2>"$t/err" &&
     grep -q "lead 6 h, bf16:" "$t/err"; then
    ok "PANGU_NO_AMX=1: BF16 on AVX512_BF16, not on AMX tiles"
  else bad "PANGU_NO_AMX=1 ($(cat "$t/err"))"; fi
else
  grep -q "AVX512_BF16" "$t/err" && echo "  note: this CPU has no AVX512_BF16: BF16 step not run" || bad "step --precision bf16 ($(cat "$t/err"))"
fi
if $pangu step --precision fp32 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/fp.nc" 2>/dev/null &&
   cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/fp.nc" | sed 1,/data:/d); then
  ok "step --precision fp32 is the default"
else bad "step --precision fp32 is the default"; fi
expect_fail "precision bf16 without AVX512_BF16" "needs a CPU with AVX512_BF16" "$t/o11.nc" -- \
  env PANGU_NO_BF16=1 $pangu step --precision bf16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/o11.nc"
expect_fail "unknown precision" "precision 'fp16': expected fp32 or bf16" "$t/o12.nc" -- \
  $pangu step --precision fp16 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/o12.nc"

# Every command documents its options: --help exits 0 and names each option it takes.
allhelp=1
for c in step info import init plan forecast stats grad train synth eval regrid fetch; do
  $pangu $c --help >"$t/help" 2>&1 || { allhelp=0; echo "    $c --help failed"; }
  $pangu help $c | cmp -s - "$t/help" || { allhelp=0; echo "    pangu help $c differs"; }
  grep -q -- "--output\|--leads\|--model" "$t/help" || { allhelp=0; echo "    $c --help lists no option"; }
done
[ $allhelp = 1 ] && ok "--help of every command (and pangu help COMMAND)" || bad "--help of every command"
if $pangu --version | grep -q "^pangu (pangu-c) [0-9]"; then ok "pangu --version: $($pangu --version | head -1)"; else bad "pangu --version"; fi
# the step's documented options are exactly those it takes
for o in $($pangu step --help | sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p' | grep -v -- "--config\|--threads\|--no-plausibility\|--help"); do
  $pangu step $o >/dev/null 2>"$t/err"; grep -q "unknown option" "$t/err" && { bad "step --help lists $o, which step refuses"; allhelp=2; }
done
[ $allhelp != 2 ] && ok "every option step --help lists is one it takes"
# older spellings: --out for --output, info M.h5 for --model
$pangu init --preset tiny --out "$t/alias.h5" 2>/dev/null && [ -s "$t/alias.h5" ] && ok "init --out (the older spelling of --output)" ||
  bad "init --out"
$pangu info --model "$t/alias.h5" | cmp -s - <($pangu info "$t/alias.h5") && ok "info --model M.h5 = info M.h5" || bad "info --model"
$pangu step --threads 1 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/th1.nc" 2>"$t/err" &&
  grep -q "1 threads" "$t/err" && cmp -s <(ncdump -v t2m "$t/out.nc" | sed 1,/data:/d) <(ncdump -v t2m "$t/th1.nc" | sed 1,/data:/d) &&
  ok "--threads 1: one thread, the same forecast" || bad "--threads 1 ($(cat "$t/err"))"
expect_fail "--threads 0" "--threads '0': expected a whole number from 1" "$t/th0.nc" -- \
  $pangu step --threads 0 --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/th0.nc"
expect_fail "an option given a number it cannot take" "std 'inf': expected a number" "$t/inf.h5" -- \
  $pangu init --std inf --output "$t/inf.h5"
expect_fail "the output is an input" "is also an input" "$t/none" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$fx/tiny_in.nc"
expect_fail "a device as the output" "not a regular file" "$t/none" -- \
  $pangu step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output /dev/null

# Memory is estimated before it is allocated: a grid the machine cannot hold fails at once.
expect_fail "a model larger than the machine" "more than this machine's" "$t/huge.h5" -- \
  timeout 20 $pangu init --preset full --grid 90000,180000 --out "$t/huge.h5"
echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
