# CDO as a test oracle (source it): cdo_stable ARGS... runs `cdo ARGS...`
# until two runs agree. CDO (2.1 in Debian 12) runs chained operators in
# threads; with two inputs in one chain it now and then crashes (SIGSEGV,
# "NetCDF: Not a valid ID") or returns wrong values, with or without -L
# (measured here: 1 to 3 runs in 150 with three chains at once). A reference
# value counts only when two runs agree; four tries, else status 1.
# A call whose last argument names a .nc/.grb2/.grib2 file (and that is no
# -output*/info/griddes call) writes that file; any other prints on stdout.
# The first agreeing run's stderr is passed on (tests check for warnings).
cdo_stable() {
  local last="${!#}" a b i e1 e2
  e1=$(mktemp) e2=$(mktemp)
  if [[ "$last" == *.nc || "$last" == *.grb2 || "$last" == *.grib2 ]] &&
     [[ "$*" != *output* && "$*" != *info* && "$*" != *griddes* ]]; then
    local args=("${@:1:$(($# - 1))}") hist=""
    [[ "$last" == *.nc ]] && hist=--no_history
    for i in 1 2 3 4; do
      command cdo -L $hist "${args[@]}" "$last.r1" 2>"$e1" || :
      command cdo -L $hist "${args[@]}" "$last.r2" 2>"$e2" || :
      if [ -s "$last.r1" ] && cmp -s "$last.r1" "$last.r2"; then
        mv "$last.r1" "$last"; rm -f "$last.r2"; cat "$e1" >&2; rm -f "$e1" "$e2"; return 0
      fi
    done
    rm -f "$last.r1" "$last.r2" "$e1" "$e2"
    return 1
  fi
  # A run counts only when it exits 0 and prints no libcdi "cdf_inq:ncid=..." dump
  # line, which CDO printed twice in a row instead of a value on a busy
  # machine (CI, eval_test's ensemble chain).
  local ra rb
  for i in 1 2 3 4; do
    a=$(command cdo -L "$@" 2>"$e1"); ra=$?; b=$(command cdo -L "$@" 2>"$e2"); rb=$?
    if [ $ra = 0 ] && [ $rb = 0 ] && [ -n "$a" ] && [ "$a" = "$b" ] && [[ "$a" != *cdf_inq* ]]; then
      printf '%s\n' "$a"; cat "$e1" >&2; rm -f "$e1" "$e2"; return 0
    fi
  done
  rm -f "$e1" "$e2"
  return 1
}
