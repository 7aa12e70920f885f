#!/bin/bash
# Robustness of every writing command: one job at a time per output (two
# forecast jobs on one output pattern never mix), temporaries removed on
# SIGINT/SIGTERM and (after kill -9) by the next run, a full disk (ulimit -f)
# is one line, exit 2 and no file, reports and synthetic data sets appear
# whole or not at all, truncated NetCDF refused by every reader. The demo
# models on synthetic truth on their grid (the plausibility checks pass).
# Usage: tests/robust_test.sh bin/pangu
set -u
unset PANGU_NO_PLAUSIBILITY_CHECK
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
M="$top/models" fx="$top/tests/fixtures"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
. "$top/tests/lib.sh"

echo "robustness tests"
"$pangu" synth --grid 32,64 --start 2020-01-31T00 --hours 48 --step-hours 6 --format legacy --out truth >/dev/null 2>&1
tp="truth/era5_pl_*.nc" ts="truth/era5_sfc_*.nc"
# fc DIR LEADS [more options]: a 24 h model forecast from two initial times into DIR/f_YYYYMMDDHH.nc
fc() {
  local d=$1 leads=$2; shift 2
  "$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$tp" --input "$ts" --init 2020-01-31T00/2020-01-31T12/12 \
    --leads "$leads" --output "$d/f_{init:%Y%m%d%H}.nc" "$@"
}
nsteps() { ncdump -h "$1" 2>/dev/null | sed -n 's/^\ttime = .*(\([0-9]*\) currently).*/\1/p'; } # the record axis: the valid time
complete() { ncdump -h "$1" 2>/dev/null | grep -q ':complete = "yes"'; }
# wait_for GLOB [TENTHS]: until a file matches (at most TENTHS/10 s)
wait_for() { for _ in $(seq "${2:-300}"); do compgen -G "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }

# ---- 1. concurrency: two different jobs (5 and 4 leads) on one output pattern, started at once
good=0 detail=""
for try in 1 2 3 4 5; do
  d=conc$try
  mkdir $d
  fc $d 24-120/24 >/dev/null 2>$d.a & a=$!
  fc $d 24-96/24 >/dev/null 2>$d.b & b=$!
  wait $a; ra=$?
  wait $b; rb=$?
  if [ $ra -eq 0 ]; then win=5 loser=$d.b rl=$rb; else win=4 loser=$d.a rl=$ra; fi
  one=$(( (ra == 0) + (rb == 0) ))
  files_ok=1
  for f in $d/f_2020013100.nc $d/f_2020013112.nc; do
    complete $f && [ "$(nsteps $f)" = $win ] || files_ok=0
  done
  if [ $one -eq 1 ] && [ $rl -eq 2 ] && [ "$(wc -l <$loser)" -eq 1 ] &&
     grep -Eq "being written by another job \(pid [0-9]+|complete, but for another request|completed meanwhile by another job" $loser &&
     [ $files_ok -eq 1 ] && [ -z "$(leftovers $d)" ]; then
    good=$((good + 1))
  fi
  detail="$detail [exits $ra $rb: $(cut -c1-90 $loser | head -1)]"
done
check "two forecast jobs on one output pattern at once, 5 tries: each time both files are one job's, complete, and the other job fails with one line, nothing left ($good of 5:$detail)" \
  '[ $good -eq 5 ]'

# a job holding the lock (flock(1) on the lock file with a pid in it): the forecast fails at once, naming it
mkdir held
echo 4242 >held/f_2020013100.nc.lock
flock held/f_2020013100.nc.lock sleep 60 & holder=$!
wait_for "held/f_2020013100.nc.lock" 10
sleep 0.3
refused "forecast on an output another job writes" "held/f_2020013100.nc: being written by another job \(pid 4242" held -- \
  fc held 24
kill $holder 2>/dev/null; wait $holder 2>/dev/null
rm -f held/f_2020013100.nc.lock
# train: the checkpoint is locked for the whole run
mkdir heldtr
echo 4243 >heldtr/ck.h5.lock
flock heldtr/ck.h5.lock sleep 60 & holder=$!
sleep 0.3
refused "train on a checkpoint another job writes" "ck.h5: being written by another job \(pid 4243" heldtr -- \
  "$pangu" train --init "$M/demo_6h.h5" --input "$tp" --input "$ts" --train-start 2020-01-31T00 --train-end 2020-02-01T00 \
  --steps 2 --batch 1 --output heldtr/tr.h5 --checkpoint heldtr/ck.h5
kill $holder 2>/dev/null; wait $holder 2>/dev/null

# ---- 2. signals: SIGTERM and SIGINT during a forecast remove its temporaries and locks, and it dies of the signal
for sig in TERM INT; do
  d=sig$sig
  mkdir $d
  env --default-signal=INT "$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$tp" --input "$ts" --init 2020-01-31T00 \
    --leads 24-2400/24 --output "$d/f.nc" >/dev/null 2>$d.err & pid=$!
  wait_for "$d/f.nc.tmp.*"
  sleep 0.5
  kill -$sig $pid
  wait $pid; rc=$?
  num=$(kill -l $sig)
  check "SIG$sig during a forecast: dies of it (exit $rc), no temporary, lock or output left ($(leftovers $d))" \
    '[ $rc -eq $((128 + num)) ] && [ -z "$(ls -A $d)" ]'
done
# kill -9: the temporary and lock stay; a rerun of the same job removes them and completes
d=kill9
mkdir $d
"$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$tp" --input "$ts" --init 2020-01-31T00 --leads 24-2400/24 \
  --output "$d/f.nc" >/dev/null 2>&1 & pid=$!
wait_for "$d/f.nc.tmp.*"
sleep 0.5
kill -9 $pid; wait $pid 2>/dev/null
stale=$(ls $d | tr '\n' ' ')
"$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$tp" --input "$ts" --init 2020-01-31T00 --leads 24-48/24 \
  --output "$d/f.nc" >/dev/null 2>$d.err; rc=$?
check "kill -9 of a forecast leaves a temporary ($stale); the rerun removes it and completes: $(ls $d | tr '\n' ' ')" \
  '[ -n "$(echo "$stale" | grep "f.nc.tmp.$pid")" ] && [ $rc -eq 0 ] && complete $d/f.nc && [ "$(ls $d)" = f.nc ]'
# train: SIGTERM and SIGINT stop it with a checkpoint (its own handler); no temporary or lock left
for sig in TERM INT; do
  d=tr$sig
  mkdir $d
  env --default-signal=INT "$pangu" train --init "$M/demo_6h.h5" --input "$tp" --input "$ts" --train-start 2020-01-31T00 \
    --train-end 2020-02-01T12 --steps 400 --batch 1 --checkpoint-every 1 --output $d/tr.h5 --checkpoint $d/ck.h5 \
    --log $d/log.csv >/dev/null 2>$d.err & pid=$!
  wait_for "$d/ck.h5" 600
  kill -$sig $pid
  wait $pid; rc=$?
  check "SIG$sig during train: stops (exit $rc) with a checkpoint, no temporary or lock left ($(leftovers $d))" \
    '[ -z "$(leftovers $d)" ] && [ -s $d/ck.h5 ] && [ ! -e $d/tr.h5 ]'
done
# kill -9 of train during checkpoints, then a resumed run: stale temporaries of the job removed
d=trkill
mkdir $d
"$pangu" train --init "$M/demo_6h.h5" --input "$tp" --input "$ts" --train-start 2020-01-31T00 --train-end 2020-02-01T12 \
  --steps 400 --batch 1 --checkpoint-every 1 --output $d/tr.h5 --checkpoint $d/ck.h5 >/dev/null 2>&1 & pid=$!
wait_for "$d/ck.h5.tmp.*" 600
kill -9 $pid; wait $pid 2>/dev/null
touch $d/ck.h5.tmp.$pid # a checkpoint being written when killed (it may just have been renamed)
"$pangu" train --init "$M/demo_6h.h5" --input "$tp" --input "$ts" --train-start 2020-01-31T00 --train-end 2020-02-01T12 \
  --steps 400 --run-steps 1 --batch 1 --checkpoint-every 1 --output $d/tr.h5 --checkpoint $d/ck.h5 --resume yes >/dev/null 2>$d.err; rc=$?
check "kill -9 of train, then a resumed run: exit $rc, stale temporary removed ($(ls $d | tr '\n' ' ')$(head -c 200 $d.err))" \
  '[ $rc -eq 0 ] && [ -z "$(leftovers $d)" ]'

# ---- 3-5. a full disk (files limited to 40 KB by ulimit -f): one line, exit 2, nothing left
ncks -O -d time,0,0 truth/era5_pl_202001.nc x_pl.nc && ncks -O -d time,0,0 truth/era5_sfc_202001.nc x_sf.nc &&
ncks -O -d time,1,1 truth/era5_pl_202001.nc y_pl.nc && ncks -O -d time,1,1 truth/era5_sfc_202001.nc y_sf.nc
fc . 24-48/24 >/dev/null 2>&1 # forecasts to verify: ./f_2020013100.nc, ./f_2020013112.nc
mkdir out
full="cannot|disk full|File too large|gnuplot failed"
refused "step on a full disk" "$full" . -- limited 8 "$pangu" step --model "$M/demo_24h.h5" --input x_pl.nc --input x_sf.nc \
  --output out/s.nc
refused "grad on a full disk" "$full" . -- limited 8 "$pangu" grad --model "$M/demo_6h.h5" --input x_pl.nc --input x_sf.nc \
  --target y_pl.nc --target y_sf.nc --output out/g.h5
refused "import on a full disk" "$full" . -- limited 8 "$pangu" import --onnx "$fx/released/pangu_weather_24.onnx" \
  --output out/im.h5
refused "init on a full disk" "$full" . -- limited 8 "$pangu" init --preset tiny --out out/in.h5
progress="^pangu stats: [0-9]+ of [0-9]+ times" refused "stats on a full disk" "$full" . -- limited 8 "$pangu" stats --input "$tp" --input "$ts" --output out/st.nc
"$pangu" synth --grid 33,64 --start 2020-01-31T00 --hours 6 --step-hours 6 --format legacy --out rgin >/dev/null 2>&1
refused "regrid on a full disk" "$full" . -- limited 8 "$pangu" regrid --factor 2 --input rgin/era5_pl_202001.nc \
  --output out/rg.nc
refused "eval on a full disk: no CSV" "$full" . -- limited 8 "$pangu" eval --forecast "f_*.nc" --truth "$tp" --truth "$ts" \
  --output out/sc.csv --quiet
# 45 KB: the CSV of one lead (about 35 KB) fits, the map data of the report (about 50 KB each) do not: no CSV,
# report.md, html, PNGs or data
mkdir one && fc one 24 >/dev/null 2>&1
refused "eval --report on a full disk: no CSV, report, figures or data" "$full" . -- limited 45 "$pangu" eval \
  --forecast "one/f_*.nc" --truth "$tp" --truth "$ts" --output out/sc.csv --report out/rep --quiet
if command -v gnuplot >/dev/null; then
  # gnuplot dying on a full disk after half a PNG: the report is refused, nothing left
  mkdir fakebin
  printf '#!/bin/sh\nprintf "\\211PNG" >rmse_z500.png\necho "gnuplot: cannot write rmse_z500.png: No space left on device" >&2\nexit 1\n' \
    >fakebin/gnuplot
  chmod +x fakebin/gnuplot
  refused "eval --report with gnuplot failing on a full disk: no CSV, report or broken PNG" "gnuplot failed.*No space left" . -- \
    env PATH="$t/fakebin:$PATH" "$pangu" eval --forecast "f_*.nc" --truth "$tp" --truth "$ts" --output out/sc.csv --report out/rep --quiet
  # SIGTERM while gnuplot draws: no CSV, no report, no temporary directory or lock
  printf '#!/bin/sh\nexec sleep 20\n' >fakebin/gnuplot
  env PATH="$t/fakebin:$PATH" "$pangu" eval --forecast "f_*.nc" --truth "$tp" --truth "$ts" --output out/sc.csv \
    --report out/rep --quiet 2>/dev/null & pid=$!
  wait_for "out/rep/.report.tmp.*/data/figures.gp"
  kill -TERM $pid; wait $pid; rc=$?
  check "SIGTERM during eval --report: exit $rc, no CSV, report, temporary or lock left ($(ls -A out out/rep 2>/dev/null | tr '\n' ' '))" \
    '[ $rc -eq 143 ] && [ ! -e out/sc.csv ] && [ -z "$(ls -A out/rep)" ] && [ -z "$(leftovers out)" ]'
  rm -rf fakebin out/rep
  # a report rerun into the same directory replaces the earlier one (its data/ directory too)
  "$pangu" eval --forecast "f_*.nc" --truth "$tp" --truth "$ts" --output rr.csv --report rr --quiet 2>/dev/null &&
    "$pangu" eval --forecast "f_2020013100.nc" --truth "$tp" --truth "$ts" --output rr.csv --report rr --quiet 2>rr.err; rc=$?
  check "eval --report twice into one directory: exit $rc, the second report in place, nothing left ($(head -c 200 rr.err))" \
    '[ $rc -eq 0 ] && grep -q "1 forecast files" rr/report.md && [ -s rr/data/figures.gp ] && [ -z "$(leftovers rr)" ]'
  rm -rf rr rr.csv rr.err
fi
# the progress lines of forecast, train and synth may come before the error line
progress='calls [0-9]+/[0-9]+|^step [0-9]+/|parameters, .* training pairs|written, [0-9]+ files' \
refused "forecast on a full disk" "$full" . -- limited 8 "$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$tp" \
  --input "$ts" --init 2020-01-31T00 --leads 24 --output out/fc.nc
progress='calls [0-9]+/[0-9]+|^step [0-9]+/|parameters, .* training pairs|written, [0-9]+ files' \
refused "train on a full disk" "$full" . -- limited 8 "$pangu" train --init "$M/demo_6h.h5" --input "$tp" --input "$ts" \
  --train-start 2020-01-31T00 --train-end 2020-02-01T00 --steps 1 --batch 1 --output out/tr.h5 --checkpoint out/ck.h5 \
  --log out/tr.csv
progress='calls [0-9]+/[0-9]+|^step [0-9]+/|parameters, .* training pairs|written, [0-9]+ files' \
refused "synth on a full disk: no partial data set" "$full" . -- limited 100 "$pangu" synth --grid 32,64 --start 2020-01-31T00 \
  --hours 48 --step-hours 6 --format cds2024 --out out/ds
progress='written, [0-9]+ files' \
refused "synth --forecast-from on a full disk" "$full" . -- limited 8 "$pangu" synth --grid 32,64 --forecast-from 2020-01-31T00 \
  --hours 24 --step-hours 6 --format cds2024 --out out/nwp
# synth killed by SIGTERM while writing: no partial data set either
env --default-signal=INT "$pangu" synth --grid 64,128 --start 2020-01-01T00 --hours 1400 --step-hours 1 --format cds2024 \
  --out synthsig >/dev/null 2>&1 & pid=$!
wait_for "synthsig/.synth.tmp.*/*" 300
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM during synth: exit $rc, no file of the data set left ($(ls -A synthsig | tr '\n' ' '))" \
  '[ $rc -eq 143 ] && [ -z "$(ls -A synthsig)" ]'

# ---- 6. truncated NetCDF: every reader refuses it
head -c 700000 truth/era5_pl_202001.nc >cut_pl.nc
refused "stats of a truncated NetCDF-3 file" "cut_pl.nc.*(truncated|shorter)" . -- "$pangu" stats --input cut_pl.nc \
  --input truth/era5_sfc_202001.nc --output out/st.nc
refused "eval against a truncated NetCDF-3 truth" "cut_pl.nc.*(truncated|shorter)" . -- "$pangu" eval --forecast f_2020013100.nc \
  --truth cut_pl.nc --truth "$ts" --output out/sc.csv
refused "regrid of a truncated NetCDF-3 file" "cut_pl.nc.*(truncated|shorter)" . -- "$pangu" regrid --factor 2 --input cut_pl.nc \
  --output out/rg.nc
refused "step from a truncated NetCDF-3 file" "cut_pl.nc.*(truncated|shorter)" . -- "$pangu" step --model "$M/demo_24h.h5" \
  --input cut_pl.nc --input "$ts" --time 2020-01-31T00 --output out/s.nc

# ---- 7. a complete output of an earlier step: an error before the step, unless --overwrite
"$pangu" step --model "$M/demo_24h.h5" --input x_pl.nc --input x_sf.nc --output out/s.nc >/dev/null 2>&1
refused "step onto a complete output of an earlier step" "out/s.nc: a complete forecast file is there already: --overwrite" \
  . -- "$pangu" step --model "$M/demo_6h.h5" --input x_pl.nc --input x_sf.nc --output out/s.nc
"$pangu" step --model "$M/demo_6h.h5" --input x_pl.nc --input x_sf.nc --output out/s.nc --overwrite 2>err; rc=$?
check "step --overwrite rewrites it (now the 6 h step)" \
  '[ $rc -eq 0 ] && ncdump -v forecast_period out/s.nc | grep -q "forecast_period = 6 ;" && ! ls out/s.nc.tmp.* >/dev/null 2>&1'

# ---- 8. a failed command leaves no output directory it created (forecast, synth)
refused "forecast that fails after creating its output directories: none left" "no time 2021-01-01T00:00:00" . -- \
  "$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$tp" --input "$ts" --init 2021-01-01T00 --leads 24 \
  --output 'new/sub/f_{init:%Y%m%d%H}.nc'
refused "synth into a new directory on a full disk: none left" "$full" . -- limited 8 "$pangu" synth --grid 32,64 \
  --start 2020-01-01T00 --hours 24 --step-hours 6 --format legacy --out newsyn/a

# ---- 9. "complete already" means the same request; one file per initial time; outputs never replace inputs or
# files of another kind; the inputs of a command share one grid (issue 28)
mkdir req
F() { "$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$tp" --input "$ts" --leads 24 "$@"; }
refused "forecast of three initial times into one file: refused before any work, naming both times" \
  "output 'req/fixed.nc' gives 2020-01-31T00:00:00 and 2020-01-31T12:00:00 one file, req/fixed.nc" req -- \
  F --init 2020-01-31T00/2020-02-01T00/12 --output req/fixed.nc
F --init 2020-01-31T12 --output req/r.nc >/dev/null 2>&1
refused "a rerun for another initial time onto a complete file: an error naming the file and both times (the file keeps 12 UTC)" \
  "req/r.nc: complete, but for another request \(init: the file's 2020-01-31T12:00:00, this run's 2020-01-31T00:00:00\)" \
  req -- F --init 2020-01-31T00 --output req/r.nc
F --init 2020-01-31T12 --output req/r.nc >/dev/null 2>req.err; rc=$?
check "the same request again: skipped ($(head -c 120 req.err))" '[ $rc -eq 0 ] && grep -q "complete already, skipped" req.err'
# an input rewritten in place to the same size (a corrected file, the same name): another request, not skipped
mkdir req/in && cp $ts req/in/
G() { "$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$tp" --input 'req/in/*.nc' --leads 24 --init 2020-01-31T12 \
  --output req/g.nc "$@"; }
G >/dev/null 2>&1
G >/dev/null 2>req.err; rc=$?
check "the same inputs again (size and modification time): skipped" '[ $rc -eq 0 ] && grep -q "complete already, skipped" req.err'
g_in=$(ls req/in/*.nc | head -1) g_size=$(stat -c %s "$(ls req/in/*.nc | head -1)")
printf '\177' | dd of="$g_in" bs=1 seek=$((g_size - 5)) conv=notrunc 2>/dev/null
refused "an input rewritten in place to the same size: another request, the input named (the file keeps its forecast)" \
  "req/g.nc: complete, but for another request \(inputs: the file's .*era5_sfc_[0-9]*.nc \($g_size bytes, modified .*this run's" \
  req -- G
# under a long directory name the changed input is the second, past where a whole list would be cut:
# the message shows the input that differs, both times
long=req/$(printf 'a%.0s' $(seq 1 200)) && mkdir -p "$long" && cp $tp $ts "$long/"
H() { "$pangu" forecast --model-24h "$M/demo_24h.h5" --input "$long/era5_pl_*.nc" --input "$long/era5_sfc_*.nc" --leads 24 \
  --init 2020-01-31T12 --output req/h.nc "$@"; }
H >/dev/null 2>&1
touch -d '2001-02-03 04:05:06 UTC' "$long"/era5_sfc_*.nc
refused "a long list of inputs: the one that differs named, both times" \
  "req/h.nc: complete, but for another request \(inputs: the file's .*/era5_sfc_[0-9]*.nc \([0-9]+ bytes, modified [0-9T:.-]+Z\).*this run's .*/era5_sfc_[0-9]*.nc \([0-9]+ bytes, modified 2001-02-03T04:05:06.000000000Z\)" \
  req -- H
F --init 2020-01-31T00 --output req/r.nc --overwrite >/dev/null 2>&1; rc=$?
check "--overwrite rewrites it for the new initial time (exit $rc)" \
  '[ $rc -eq 0 ] && ncdump -v forecast_reference_time req/r.nc | grep -Eq "forecast_reference_time = 1052616 ;"'
ncatted -h -a pangu_request,global,o,c,"pangu-c forecast request 1; models: 24h x; leads: 24" req/r.nc
refused "a file whose request is of an older pangu-c (no initial time or inputs): an error suggesting --overwrite" \
  "req/r.nc: complete, but for another request \(written by an older pangu-c.*--overwrite" req -- \
  F --init 2020-01-31T00 --output req/r.nc
cp "$M/demo_24h.h5" req/keep.h5
refused "step --output onto a model file: refused, the model unchanged" "req/keep.h5: exists and is not a forecast file" req -- \
  "$pangu" step --model "$M/demo_24h.h5" --input x_pl.nc --input x_sf.nc --output req/keep.h5
refused "step --overwrite onto a model file: refused all the same" "req/keep.h5: exists and is not a forecast file" req -- \
  "$pangu" step --model "$M/demo_24h.h5" --input x_pl.nc --input x_sf.nc --output req/keep.h5 --overwrite
cp "$M/demo_6h.h5" req/m.h5
refused "train --init m.h5 --output m.h5: refused, the model unchanged" "req/m.h5 is also an input \(req/m.h5\)" req -- \
  "$pangu" train --init req/m.h5 --input "$tp" --input "$ts" --train-start 2020-01-31T00 --train-end 2020-02-01T00 \
  --steps 1 --batch 1 --output req/m.h5 --checkpoint req/ck.h5
refused "train --checkpoint onto its initial model: refused" "req/m.h5 is also an input" req -- \
  "$pangu" train --init req/m.h5 --input "$tp" --input "$ts" --train-start 2020-01-31T00 --train-end 2020-02-01T00 \
  --steps 1 --batch 1 --output req/tr.h5 --checkpoint req/m.h5
cp x_sf.nc req/f_2020013112.nc # an input (the same data as the truth's) named as the second initial time's output
refused "forecast whose second initial time's output is one of its inputs: refused before the first is written" \
  "req/f_2020013112.nc is also an input \(req/f_2020013112.nc\)" req -- \
  F --input req/f_2020013112.nc --init 2020-01-31T00/2020-01-31T12/12 --output 'req/f_{init:%Y%m%d%H}.nc'
"$pangu" synth --grid 16,32 --start 2020-01-31T00 --hours 48 --step-hours 6 --format legacy --out small >/dev/null 2>&1
sp="small/era5_pl_*.nc" ss="small/era5_sfc_*.nc"
grids="is on a (16 x 32|32 x 64) grid \(latitude x longitude\), .* on (32 x 64|16 x 32): the inputs of one command share one grid"
refused "step with inputs of two grids (32 x 64 first)" "$grids" req -- "$pangu" step --model "$M/demo_24h.h5" \
  --input x_pl.nc --input x_sf.nc --input "$sp" --input "$ss" --time 2020-01-31T00 --output req/s.nc
refused "step with inputs of two grids (16 x 32 first)" "$grids" req -- "$pangu" step --model "$M/demo_24h.h5" \
  --input "$sp" --input "$ss" --input x_pl.nc --input x_sf.nc --time 2020-01-31T00 --output req/s.nc
refused "stats with the 16 x 32 files first, then 32 x 64" "$grids" req -- "$pangu" stats --input "$sp" --input "$ss" \
  --input "$tp" --input "$ts" --output req/st.nc
refused "train with --input given twice, the second of another grid" "$grids" req -- "$pangu" train \
  --init "$M/demo_6h.h5" --input "$tp $ts" --input "$sp $ss" --train-start 2020-01-31T00 --train-end 2020-02-01T00 \
  --steps 1 --batch 1 --output req/tr.h5 --checkpoint req/ck.h5

# ---- 10. an ONNX file nested 5,100 messages deep (graph > node > attribute > graph ...; field numbers of
# onnx/onnx onnx/onnx.proto: ModelProto.graph 7, GraphProto.node 1, NodeProto.attribute 5,
# AttributeProto.g 6): one line and exit 2 from import and step, no crash (protobuf-c's unpack recursed)
mkdir -p deep
python3 - <<'EOF2'
def field(num, payload):
    n, out = len(payload), bytearray([num << 3 | 2])
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0)); n >>= 7
        if not n: break
    return bytes(out) + payload
g = b""
for _ in range(1700):
    g = field(1, field(5, field(6, g)))
open("deep/pangu_weather_24.onnx", "wb").write(bytes([0x08, 8]) + field(7, g))
EOF2
refused "import of an ONNX file nested 5,100 deep" "nested more than 100 deep" deep -- "$pangu" import \
  --onnx deep/pangu_weather_24.onnx --output deep/m.h5
refused "step with that file as --model" "nested more than 100 deep" deep -- "$pangu" step \
  --model deep/pangu_weather_24.onnx --input "$tp" --input "$ts" --time 2020-01-31T00 --output deep/s.nc

summary "robust tests"
