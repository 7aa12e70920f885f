#!/bin/bash
# Threads that do not fight (make bench; issue 17): the demo's hierarchical
# forecast (configs/demo/run.sh: the 1, 3, 6 and 24 h demo models, 32 x 64,
# 5 initial times, leads 6-168/6) with --threads 1 and --threads 2, on a quiet
# machine and with one other busy process (a shell busy-loop), as a user runs
# it: pangu's own defaults, no OMP_*, GOMP_* or OPENBLAS_* variables.
#
#   tests/bench_threads.sh [bin/pangu]
#
# Environment:
#   BENCH_THREADS_REPEAT=N  runs per case, the median reported (default 5);
#                           the cases are interleaved (1, 2, 1, 2, ...) so
#                           that a change of the machine's load hits both
#   BENCH_THREADS_TOL=X     FAIL when the 2-thread median exceeds the 1-thread
#                           median by more than this fraction (default 0.15:
#                           the spread of repeated runs on a shared 2-core
#                           machine) and by more than the 1-thread runs' spread
#
# Prints the four medians (wall seconds of the whole process), the ratios
# 2 threads / 1 thread, the load average before each phase, and a FAIL line
# (exit 1) when 2 threads are slower than 1 by more than the noise.  Other
# processes on the machine (load above ~0 in the quiet phase) make the
# "quiet" phase busy too: the load is printed so that it can be judged.
set -u
pangu=$(cd "$(dirname "${1:-bin/pangu}")" && pwd)/$(basename "${1:-bin/pangu}")
top=$(cd "$(dirname "$0")/.." && pwd)
repeat=${BENCH_THREADS_REPEAT:-5}
tol=${BENCH_THREADS_TOL:-0.15}
out="$top/out/bench/threads"
[ -x "$pangu" ] || { echo "bench_threads: $pangu not built" >&2; exit 1; }
for h in 1 3 6 24; do
  [ -s "$top/models/demo_${h}h.h5" ] || { echo "bench_threads: models/demo_${h}h.h5 missing (make demo-models), skipped"; exit 0; }
done
rm -rf "$out"
mkdir -p "$out"
busy=""
trap '[ -n "$busy" ] && kill "$busy" 2>/dev/null; rm -rf "$out/fc"' EXIT
# As a user runs it: no thread or wait-policy settings from the environment.
unset OMP_NUM_THREADS OMP_WAIT_POLICY OMP_DYNAMIC OMP_PROC_BIND OMP_PLACES GOMP_SPINCOUNT \
  OPENBLAS_NUM_THREADS GOTO_NUM_THREADS
export PANGU_NO_PLAUSIBILITY_CHECK=1
"$pangu" synth --grid 32,64 --start 2020-01-31T00 --hours 432 --step-hours 6 --format legacy \
  --output "$out/truth" >"$out/synth.log" 2>&1 || { cat "$out/synth.log"; echo "bench_threads: pangu synth failed" >&2; exit 1; }
m="$top/models/demo"

# one forecast: its wall seconds on stdout
run() {
  rm -rf "$out/fc"
  mkdir -p "$out/fc"
  local t0 t1
  t0=$(date +%s.%N)
  "$pangu" forecast --threads "$1" --model-1h "${m}_1h.h5" --model-3h "${m}_3h.h5" --model-6h "${m}_6h.h5" \
    --model-24h "${m}_24h.h5" --input "$out/truth/era5_pl_*.nc" --input "$out/truth/era5_sfc_*.nc" \
    --init 2020-02-01T00/2020-02-09T00/48 --leads 6-168/6 --output "$out/fc/h_{init:%Y%m%d%H}.nc" \
    >>"$out/forecast.log" 2>&1 || { echo "bench_threads: pangu forecast --threads $1 failed (see $out/forecast.log)" >&2; return 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {print hi - lo}'; }

declare -A med all sp
for phase in quiet busy; do
  if [ $phase = busy ]; then
    bash -c 'while :; do :; done' &
    busy=$!
    sleep 1 # the busy loop running before the first run
  fi
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "== $phase (load average $load), $repeat runs each, interleaved"
  t1s=() t2s=()
  for i in $(seq "$repeat"); do
    a=$(run 1) || exit 1
    b=$(run 2) || exit 1
    t1s+=("$a") t2s+=("$b")
  done
  med[$phase,1]=$(median "${t1s[@]}") med[$phase,2]=$(median "${t2s[@]}")
  all[$phase,1]="${t1s[*]}" all[$phase,2]="${t2s[*]}"
  sp[$phase]=$(spread "${t1s[@]}")
  echo "$phase 1 thread:  ${t1s[*]}"
  echo "$phase 2 threads: ${t2s[*]}"
  if [ $phase = busy ]; then
    kill "$busy" 2>/dev/null
    wait "$busy" 2>/dev/null
    busy=""
  fi
done
echo
echo "Demo hierarchical forecast (32 x 64, 5 initial times x 28 leads, 140 model calls), wall s, median of $repeat:"
status=0
for phase in quiet busy; do
  r=$(awk -v a="${med[$phase,2]}" -v b="${med[$phase,1]}" 'BEGIN {printf "%.2f", a / b}')
  printf '%-6s 1 thread %6.2f s   2 threads %6.2f s   ratio 2/1 %s\n' "$phase" "${med[$phase,1]}" "${med[$phase,2]}" "$r"
  if awk -v a="${med[$phase,2]}" -v b="${med[$phase,1]}" -v t="$tol" -v s="${sp[$phase]}" \
    'BEGIN {exit !(a > b * (1 + t) && a - b > s)}'; then
    echo "FAIL: $phase: 2 threads (${med[$phase,2]} s) slower than 1 thread (${med[$phase,1]} s) by more than the noise" \
      "(${tol} and the 1-thread spread ${sp[$phase]} s)"
    status=1
  fi
done
echo "(load average at end $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; pangu's defaults, no OMP_/OPENBLAS_ variables)"
exit $status
