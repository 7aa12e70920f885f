#!/bin/bash
# The Pangu-Weather paper's headline table with the released models: the
# forecasts of configs/reproduce_2018.ini (730 initial times of 2018, 3 and 5
# days), scored against ERA5 with the paper's conventions (latitude-weighted
# global RMSE, the mean of per-time RMSEs: pangu eval --rmse-per-time), and
# printed beside the numbers the authors publish.
#   configs/reproduce/run.sh --models DIR --input "ERA5 GLOBS" [--init SPEC] [--out DIR] [--pangu bin/pangu]
# DIR holds pangu_weather_{1,3,6,24}.onnx (or .h5 imports of them); --init
# narrows the period (default: all of 2018 at 00 and 12 UTC); a rerun skips
# the forecasts already finished.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pangu=bin/pangu models="" input="" init="" out=out/reproduce
while [ $# -gt 0 ]; do
  case "$1" in
    --pangu) pangu=$2 ;;
    --models) models=$2 ;;
    --input) input=$2 ;;
    --init) init=$2 ;;
    --out) out=$2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift 2 || { echo "run.sh: option $1 needs a value" >&2; exit 2; }
done
[ -n "$models" ] && [ -n "$input" ] || { echo "run.sh: needs --models DIR and --input \"ERA5 files\"" >&2; exit 2; }
model_args=()
for h in 1 3 6 24; do
  f="$models/pangu_weather_$h.onnx"
  [ -e "$f" ] || f="$models/pangu_weather_$h.h5"
  [ -e "$f" ] || { echo "run.sh: $models has no pangu_weather_$h.onnx (or .h5)" >&2; exit 2; }
  model_args+=(--model-${h}h "$f")
done
mkdir -p "$out"
args=(--config "$here/../reproduce_2018.ini" "${model_args[@]}" --input "$input" --output "$out/pangu_{init:%Y%m%d%H}.nc")
[ -n "$init" ] && args+=(--init "$init")
echo "== forecasts (pangu forecast --config configs/reproduce_2018.ini)"
"$pangu" forecast "${args[@]}"
echo "== scores: global latitude-weighted RMSE, mean of per-time RMSEs (the paper's convention)"
truth=()
for g in $input; do truth+=(--truth "$g"); done
"$pangu" eval --forecast "$out/pangu_*.nc" "${truth[@]}" --name pangu --rmse-per-time --regions global \
  --levels 500,850 --output "$out/scores.csv" --quiet
n=$(ls "$out"/pangu_*.nc | wc -l)
awk -F, -v n="$n" '
  BEGIN {
    # Pangu-Weather (Bi et al. 2023), RMSE on the 2018 test year as its repository publishes them
    split("z 500 Z500 (m2 s-2) 134.5 296.7;t 850 T850 (K) 1.14 1.79;t2m 0 T2M (K) 1.05 1.53;u10 0 U10 (m s-1) 1.61 2.53", rows, ";")
  }
  $1 == "pangu" && $5 == "global" && $6 == "rmse" { v[$2 "," $3 "," $4] = $7 }
  END {
    printf "\nRMSE, global, latitude-weighted, mean of per-time RMSEs (%d initial times)\n\n", n
    print "| variable | paper 3 d | paper 5 d | pangu-c 3 d | pangu-c 5 d |"
    print "|---|---|---|---|---|"
    for (i = 1; i <= 4; i++) {
      k = split(rows[i], f, " ")
      name = f[3]; for (j = 4; j <= k - 2; j++) name = name " " f[j]
      lv = f[2] == "0" ? "" : f[2]   # surface fields have no level in scores.csv
      a = v[f[1] "," lv ",72"]; b = v[f[1] "," lv ",120"]
      fmt = f[1] == "z" ? "%.1f" : "%.2f"
      printf "| %s | %s | %s | %s | %s |\n", name, f[k - 1], f[k], a == "" ? "-" : sprintf(fmt, a), b == "" ? "-" : sprintf(fmt, b)
    }
  }' "$out/scores.csv"
echo
echo "reproduce: $out/scores.csv from $n forecasts"
