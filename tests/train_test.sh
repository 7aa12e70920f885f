#!/bin/bash
# pangu train end to end on a series a random 'teacher' model generates:
# the loss falls, a stopped and resumed run equals an uninterrupted one,
# and bad configurations fail clearly. Usage: tests/train_test.sh bin/pangu
set -u
# The states here are random (pangu_ref.py state) or synthetic and the models
# random: their values need not fit each model's statistics, which the
# plausibility checks compare (tests/plausible_test.sh tests those).
export PANGU_NO_PLAUSIBILITY_CHECK=1
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
fx="$(cd "$(dirname "$0")" && pwd)/fixtures"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "  ok: $1"; else fail=$((fail + 1)); echo "  FAILED: $1"; fi; }
echo "train tests"
$pangu init --preset tiny --lead 1 --seed 9 --std 0.03 --out teacher.h5 2>/dev/null
# the initial state as pangu step writes states (lead 0), so that ncrcat joins it with the steps
$pangu forecast --model-1h teacher.h5 --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 0 --output s0.nc 2>/dev/null
for k in $(seq 1 30); do $pangu step --model teacher.h5 --input s$((k - 1)).nc --output s$k.nc 2>/dev/null; done
ncrcat -O $(for k in $(seq 0 30); do echo s$k.nc; done) series.nc
$pangu init --preset tiny --lead 1 --seed 1 --out init.h5 2>/dev/null
# (the parts A_* so that a case can change one: a flag given twice is an error)
A_init="--init init.h5" A_period="--train-start 1900-01-01T00 --train-end 1900-01-01T20" A_optim="--steps 40 --lr 2e-3"
A_rest="--input series.nc --valid-start 1900-01-01T21 --valid-end 1900-01-02T05 --batch 2 --validate-every 10 --checkpoint-every 15"
A="$A_init $A_period $A_optim $A_rest"
$pangu train $A --output a.h5 --checkpoint cka.h5 --log a.csv 2>err; rc=$?
check "train runs and writes the model ($(tail -1 err))" '[ $rc -eq 0 ] && [ -s a.h5 ] && [ $(wc -l <a.csv) -eq 41 ]'
v10=$(awk -F, '$1 == 10 {print $3}' a.csv); v40=$(awk -F, '$1 == 40 {print $3}' a.csv)
check "validation loss falls ($v10 at step 10, $v40 at step 40)" "awk -v a=$v10 -v b=$v40 'BEGIN { exit !(b < a) }'"
check "the trained model forecasts" '$pangu step --model a.h5 --input "$fx/tiny_in.nc" --output f.nc 2>/dev/null'
$pangu train $A --output b.h5 --checkpoint ckb.h5 --log b.csv --run-steps 17 2>/dev/null
check "run_steps stops with a checkpoint and no model" '[ -s ckb.h5 ] && [ ! -e b.h5 ]'
$pangu train $A --output b.h5 --checkpoint ckb.h5 --log b.csv --resume yes 2>/dev/null
check "resumed run: same losses as an uninterrupted run" 'cmp -s <(cut -d, -f1-4 a.csv) <(cut -d, -f1-4 b.csv)'
check "resumed run: the same model, bit for bit" 'h5diff -q a.h5 b.h5'
$pangu train $A_init $A_optim $A_rest --output c.h5 --checkpoint ckc.h5 --train-start 2001-01-01 --train-end 2001-02-01 2>err; rc=$?
check "no training pairs in the period: $(cat err)" '[ $rc -eq 2 ] && grep -q "no (t, t + 1 h) pairs" err && [ ! -e c.h5 ]'
$pangu train --init init.h5 --input series.nc --steps 5 2>err; rc=$?
check "a missing key is named: $(cat err)" '[ $rc -eq 2 ] && grep -q "missing key" err'
printf '[optim]\nsteps = 5\nbatch_size = 2\n' >bad.ini
$pangu train --config bad.ini 2>err; rc=$?
check "unknown key with its line: $(cat err)" '[ $rc -eq 2 ] && grep -q "bad.ini:3: unknown key" err'
$pangu init --preset tiny --lead 1 --dim 8 --seed 1 --out other.h5 2>/dev/null
$pangu train $A_period $A_optim $A_rest --init other.h5 --output d.h5 --checkpoint ckb.h5 --resume yes 2>err; rc=$?
check "a checkpoint from another configuration: $(cat err)" '[ $rc -eq 2 ] && grep -q "is not the configured one" err && [ ! -e d.h5 ]'
cp cka.h5 ckn.h5
$pangu train $A_init $A_period $A_rest --output n.h5 --checkpoint ckn.h5 --lr 1e30 --warmup 1 --steps 45 --resume yes 2>err; rc=$?
check "a non-finite loss stops, keeps the last checkpoint: $(cat err)" \
  '[ $rc -eq 2 ] && grep -q "non-finite loss at step" err && h5diff -q cka.h5 ckn.h5 && [ ! -e n.h5 ]'
# Numbers and settings checked strictly, each refused with its name, nothing written.
for bad in "--min-lr -1|--min-lr '-1': expected a number from 0" "--steps abc|--steps 'abc'" "--steps 5x|--steps '5x'" \
           "--resume maybe|--resume 'maybe': expected yes or no" "--lr nan|--lr 'nan'" "--lr 0|--lr '0'" \
           "--batch 0|--batch '0'" "--drop-path 1|--drop-path '1'" "--min-lr 1|min_lr 1 is above lr" \
           "--valid-end 1900-01-02T05|give both valid_start and valid_end" "--checkpoint ./s.h5|checkpoint and output are the same file"; do
  args=${bad%%|*} want=${bad#*|} ck="--checkpoint cks.h5"
  case $args in --checkpoint*) ck= ;; esac # (given twice would be the error)
  $pangu train --init init.h5 --input series.nc --train-start 1900-01-01T00 --train-end 1900-01-01T20 --steps 3 \
    --output s.h5 $ck $args 2>err; rc=$?
  check "train $args refused: $(cat err)" '[ $rc -eq 2 ] && [ $(wc -l <err) -eq 1 ] && grep -q -- "$want" err && [ ! -e s.h5 ] && [ ! -e cks.h5 ]'
done

# kill -9 at 10 moments, each followed by a resumed run: the final model and
# the log equal an uninterrupted run's, and no temporary file is left.
K="--init init.h5 --input series.nc --train-start 1900-01-01T00 --train-end 1900-01-01T20 --valid-start 1900-01-01T21
   --valid-end 1900-01-02T05 --steps 24 --batch 2 --lr 2e-3 --validate-every 8 --checkpoint-every 5"
t0=$(date +%s%N)
$pangu train $K --output u.h5 --checkpoint cku.h5 --log u.csv 2>/dev/null
dur=$(( ($(date +%s%N) - t0) / 1000000 ))  # ms: the kills spread over an uninterrupted run's time
same=0 moments=""
for k in 1 2 3 4 5 6 7 8 9 10; do
  ms=$((dur * k / 11))
  rm -f k.h5 ckk.h5 k.csv
  $pangu train $K --output k.h5 --checkpoint ckk.h5 --log k.csv 2>/dev/null &
  victim=$!
  sleep "$(awk -v m=$ms 'BEGIN {printf "%.3f", m / 1000}')"
  kill -9 $victim 2>/dev/null
  wait $victim 2>/dev/null
  at=$( [ -s k.csv ] && tail -1 k.csv | cut -d, -f1 || echo 0)
  $pangu train $K --output k.h5 --checkpoint ckk.h5 --log k.csv --resume yes 2>/dev/null
  if h5diff -q u.h5 k.h5 >/dev/null 2>&1 && cmp -s <(cut -d, -f1-4 u.csv) <(cut -d, -f1-4 k.csv) && [ -z "$(ls | grep '\.tmp\.')" ]; then
    same=$((same + 1)); moments="$moments $at"
  else
    moments="$moments $at(differs: $(h5diff -q u.h5 k.h5 >/dev/null 2>&1 && echo model-same || echo model-differs) $(cmp -s <(cut -d, -f1-4 u.csv) <(cut -d, -f1-4 k.csv) && echo log-same || echo log-differs) $(ls | grep '\.tmp\.' | tr '\n' ' ')killed $victim)"
  fi
done
check "kill -9 at 10 moments (logged steps$moments), resumed: model and log as uninterrupted, no temporary left ($same of 10)" '[ $same -eq 10 ]'
echo "train: $pass passed, $fail failed"
[ $fail -eq 0 ]
