#!/bin/bash
# The Pangu-Weather paper's cyclone tracks (Bi et al., Nature 2023, Fig. 4c):
# every storm of 2018 tracked from the 00 and 12 UTC initial times through
# the released models' forecasts (pangu track), the tracks scored against
# IBTrACS v04 (pangu eval --tracks, homogeneous sample) and the mean direct
# position errors at 3 and 5 days printed beside the paper's.
#   configs/reproduce/tracks.sh --best-track IBTrACS.csv (--forecasts "GLOBS" | --models DIR --input "ERA5 GLOBS")
#                               [--hres "GLOBS"] [--land-sea-mask FILE] [--init SPEC] [--out DIR] [--pangu bin/pangu] [--dry-run]
# --best-track: IBTrACS v04 CSV as NCEI publishes it (ibtracs.ALL.list.v04r01.csv or the year's basin files);
# --forecasts: pangu forecasts of 2018 with msl, u10, v10, z and u, v at 850 and 200 hPa every 6 h to 120 h;
# or --models (pangu_weather_{1,3,6,24}.onnx or .h5) and --input (ERA5) to make them first (configs/reproduce_2018.ini
# with 6-hourly leads); --hres: ECMWF-HRES forecasts of the same initial times, tracked as a second source;
# --land-sea-mask: ERA5's lsm on the forecast grid, for the tracker's 10 m wind test over land (the paper's);
# --dry-run: check the inputs and print the commands. A rerun keeps the tracks already in DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pangu=bin/pangu best="" forecasts="" models="" input="" hres="" lsm="" init="" out=out/reproduce_tracks dry=0
fail() { echo "tracks.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1; shift; continue ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --pangu|--best-track|--forecasts|--models|--input|--hres|--land-sea-mask|--init|--out) [ $# -ge 2 ] || fail "option $1 needs a value" ;;
    *) fail "unknown option '$1' (see --help)" ;;
  esac
  case "$1" in
    --pangu) pangu=$2 ;; --best-track) best=$2 ;; --forecasts) forecasts=$2 ;; --models) models=$2 ;;
    --input) input=$2 ;; --hres) hres=$2 ;; --land-sea-mask) lsm=$2 ;; --init) init=$2 ;; --out) out=$2 ;;
  esac
  shift 2
done

# ---- the inputs, before any work
[ -n "$best" ] || fail "needs --best-track IBTrACS.csv (IBTrACS v04 CSV from NCEI)"
[ -r "$best" ] || fail "--best-track $best: cannot read"
head -c 4 "$best" | grep -q '^SID,' || fail "--best-track $best: not an IBTrACS v04 CSV (its first line begins with SID,SEASON,NUMBER,...)"
[ -x "$pangu" ] || fail "--pangu $pangu: not an executable (make bin/pangu)"
if [ -n "$forecasts" ] && [ -n "$models" ]; then fail "give --forecasts or --models, not both"; fi
[ -n "$forecasts" ] || [ -n "$models" ] || fail "needs --forecasts \"GLOBS\" (pangu forecasts of 2018) or --models DIR --input \"ERA5 GLOBS\""
# matching FILES_SPEC: every existing file of the blank-separated globs, or none
matching() { local g f; for g in $1; do for f in $g; do [ -e "$f" ] && echo "$f"; done; done; return 0; }
if [ -n "$models" ]; then
  [ -n "$input" ] || fail "--models needs --input \"ERA5 GLOBS\" (the initial states)"
  model_args=()
  for h in 1 3 6 24; do
    f="$models/pangu_weather_$h.onnx"
    [ -e "$f" ] || f="$models/pangu_weather_$h.h5"
    [ -e "$f" ] || fail "--models $models: no pangu_weather_$h.onnx (or .h5)"
    model_args+=(--model-${h}h "$f")
  done
  [ -n "$(matching "$input")" ] || fail "--input \"$input\": no file matches"
  forecasts="$out/forecasts/pangu_*.nc"
else
  [ -n "$(matching "$forecasts")" ] || fail "--forecasts \"$forecasts\": no file matches"
fi
if [ -n "$hres" ]; then [ -n "$(matching "$hres")" ] || fail "--hres \"$hres\": no file matches"; fi
if [ -n "$lsm" ]; then [ -r "$lsm" ] || fail "--land-sea-mask $lsm: cannot read"; fi

# ---- the commands (printed; run unless --dry-run)
run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  [ $dry -eq 1 ] || "$@"
}
# track NAME FILES_SPEC: the tracks of one source, kept when a rerun finds them
track() {
  local csv="$out/tracks_$1.csv" args=() f
  if [ -s "$csv" ]; then echo "== tracks of $1: $csv exists (delete it to track again)"; return; fi
  echo "== tracks of $1 (pangu track from the best track's positions at each initial time)"
  while IFS= read -r f; do args+=(--forecast "$f"); done < <(matching "$2")
  if [ $dry -eq 0 ] && ! "$pangu" track --help >/dev/null 2>&1; then fail "$pangu has no track command (a pangu-c with issue 30's tracker)"; fi
  [ -n "$lsm" ] && args+=(--land-sea-mask "$lsm")
  run "$pangu" track "${args[@]}" --best-track "$best" --name "$1" --output "$csv" --quiet
}
[ $dry -eq 1 ] || mkdir -p "$out"
if [ -n "$models" ]; then
  echo "== forecasts (configs/reproduce_2018.ini, 6-hourly to 5 days, the fields the tracker reads)"
  [ $dry -eq 1 ] || mkdir -p "$out/forecasts"
  args=(--config "$here/../reproduce_2018.ini" "${model_args[@]}" --input "$input" --leads 6-120/6
        --variables z,u,v,msl,u10,v10 --levels 850,200 --output "$out/forecasts/pangu_{init:%Y%m%d%H}.nc")
  [ -n "$init" ] && args+=(--init "$init")
  run "$pangu" forecast "${args[@]}"
fi
track pangu "$forecasts"
sources=(--tracks "$out/tracks_pangu.csv")
if [ -n "$hres" ]; then track hres "$hres"; sources+=(--tracks "$out/tracks_hres.csv"); fi
echo "== scores (homogeneous sample: the storms, initial times and leads every source has)"
run "$pangu" eval "${sources[@]}" --best-track "$best" --output "$out/track_scores.csv" --report "$out/tracks_report" --quiet
[ $dry -eq 0 ] || exit 0

# ---- the paper's Fig. 4c beside these
storms=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["sid"] }' "$out/tracks_pangu.csv" | sort -u | wc -l)
awk -F, -v storms="$storms" '
  NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  { v[$c["source"] "," $c["lead_hours"]] = $c["dpe_mean_km"]; n[$c["source"] "," $c["lead_hours"]] = $c["n"] }
  function cell(s, l) { return (s "," l) in v && v[s "," l] != "" ? sprintf("%.2f (n %d)", v[s "," l], n[s "," l]) : "-" }
  END {
    print "\nMean direct position error (km), homogeneous sample (Bi et al. 2023, Fig. 4c: 88 cyclones of 2018)\n"
    print "| lead | paper Pangu-Weather | paper ECMWF-HRES | pangu-c pangu | pangu-c hres |"
    print "|---|---|---|---|---|"
    printf "| 3 days | 120.29 | 162.28 | %s | %s |\n", cell("pangu", 72), cell("hres", 72)
    printf "| 5 days | 195.65 | 272.10 | %s | %s |\n", cell("pangu", 120), cell("hres", 120)
    printf "\nstorms tracked by pangu: %d (paper: 88)\n", storms
  }' "$out/track_scores.csv"
echo "reproduce: $out/track_scores.csv, report in $out/tracks_report"
