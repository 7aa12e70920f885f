#!/bin/bash
# Every shipped configuration in configs/ runs as shipped, with only what a
# test machine lacks overridden on the command line (the models, the data,
# fewer initial times and leads, outputs in a temporary directory): a key
# the code no longer knows, a bad value or a missing section fails here.
# Usage: tests/configs_test.sh bin/pangu
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }
cd "$top" || exit 1
echo "shipped configurations"
demo=(--model-1h models/demo_1h.h5 --model-3h models/demo_3h.h5 --model-6h models/demo_6h.h5 --model-24h models/demo_24h.h5)
"$pangu" synth --grid 32,64 --start 2021-01-01T00 --hours 30 --step-hours 1 --output "$t/s2021" >/dev/null 2>&1
"$pangu" synth --grid 32,64 --start 2018-01-01T00 --hours 192 --step-hours 12 --output "$t/s2018" >/dev/null 2>&1
in2021="$t/s2021/era5_pl_*.nc $t/s2021/era5_sfc_*.nc"

"$pangu" forecast --config configs/forecast_research.ini --input "$in2021" --init 2021-01-01T00 --leads 6-24/6 \
  --members 3 --output "$t/research/fc_{init:%Y%m%d%H}.nc" 2>"$t/err"; rc=$?
[ $rc -eq 0 ] && [ -s "$t/research/fc_2021010100.nc" ] && [ -s "$t/research/fc_2021010100_m02.nc" ] &&
  ok "configs/forecast_research.ini (3 members, 4 leads)" || bad "configs/forecast_research.ini (exit $rc: $(tail -1 "$t/err"))"
# forecast_research.ini from a clean clone: the commands its header names, as written (in a copy of the
# tree's models and configs, bin/pangu this one), the forecast with fewer members and leads but every
# initial time, so the inputs the synth line makes must cover them all
mkdir -p "$t/clone/bin" && ln -s "$pangu" "$t/clone/bin/pangu" && ln -s "$top/models" "$t/clone/models" && cp -r configs "$t/clone/"
documented=$(sed -n 's/^;   \(bin\/pangu .*\)$/\1/p' configs/forecast_research.ini)
if [ "$(echo "$documented" | wc -l)" -eq 2 ] && echo "$documented" | head -1 | grep -q "^bin/pangu synth " &&
   (cd "$t/clone" && eval "$(echo "$documented" | head -1)" >/dev/null 2>"$t/err" &&
    eval "$(echo "$documented" | tail -1) --members 2 --leads 6-24/6" 2>"$t/err"); then
  n=$(ls "$t/clone/out/research/" | grep -c "^fc_20210[0-9]*00\.nc$")
  [ "$n" -eq 10 ] && ok "configs/forecast_research.ini from a clean clone: its header's synth and forecast lines (10 initial times)" ||
    bad "configs/forecast_research.ini from a clean clone: $n of 10 forecasts"
else bad "configs/forecast_research.ini from a clean clone (the header's commands: $documented; $(tail -1 "$t/err"))"; fi
"$pangu" forecast --config configs/forecast_full.ini "${demo[@]}" --input "$in2021" --init 2021-01-01T00 --leads 6,30 \
  --output "$t/full/pangu_{init:%Y%m%d%H}.nc" 2>"$t/err"; rc=$?
[ $rc -eq 0 ] && [ -s "$t/full/pangu_2021010100.nc" ] && ok "configs/forecast_full.ini (the demo models in place of the released ones)" ||
  bad "configs/forecast_full.ini (exit $rc: $(tail -1 "$t/err"))"
"$pangu" forecast --config configs/reproduce_2018.ini "${demo[@]}" --input "$t/s2018/era5_pl_*.nc $t/s2018/era5_sfc_*.nc" \
  --init 2018-01-01T00/2018-01-02T00/12 --output "$t/repro/pangu_{init:%Y%m%d%H}.nc" 2>"$t/err"; rc=$?
[ $rc -eq 0 ] && [ -s "$t/repro/pangu_2018010200.nc" ] && [ -s "$t/repro/pangu_2018010100.nc" ] &&
  ok "configs/reproduce_2018.ini (3 initial times, 3 and 5 days)" || bad "configs/reproduce_2018.ini (exit $rc: $(tail -1 "$t/err"))"
for h in 1 3 6 24; do
  "$pangu" init --preset small --dim 8 --depths 2,2,2,2 --heads 2,4,4,2 --lead $h \
    --stats models/demo_stats.nc --output "$t/init_${h}h.h5" >/dev/null 2>&1
  "$pangu" train --config configs/demo/train_${h}h.ini --init "$t/init_${h}h.h5" --input "$in2021" \
    --train-start 2021-01-01T00 --train-end 2021-01-01T05 --valid-start 2021-01-01T06 --valid-end 2021-01-01T06 --steps 2 \
    --warmup 1 --output "$t/m_${h}h.h5" --checkpoint "$t/ck_${h}h.h5" --log "$t/log_${h}h.csv" 2>"$t/err"; rc=$?
  [ $rc -eq 0 ] && [ -s "$t/m_${h}h.h5" ] && ok "configs/demo/train_${h}h.ini (2 steps)" ||
    bad "configs/demo/train_${h}h.ini (exit $rc: $(tail -1 "$t/err"))"
done
echo "configs: $pass passed, $fail failed"
[ $fail -eq 0 ]
