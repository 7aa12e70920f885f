#!/bin/bash
# layers_test: model/ calls only downward and reads in screens (issue 29).
# From the object files
# of model/ (nm: each file's defined and undefined symbols), the file-level
# call graph (A -> B when A uses a symbol B defines) must have no circle,
# and the #include graph of model/'s sources neither; and no function of
# model/ is longer than 120 lines (tests/function_length.sh). Prints the layers,
# bottom first (a file's layer: 1 + the highest layer it calls).
#
#   tests/layers_test.sh [bin/pangu]   (objects from BUILD, default build/)
set -u
cd "$(dirname "$0")/.."
build=${BUILD:-build}
objs=$(find "$build/model" -name '*.o' | sort)
[ -n "$objs" ] || { echo "layers_test: no objects under $build/model (make bin/pangu first)"; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for o in $objs; do
    f=${o#"$build"/}; f=${f%.o}.c
    nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 {print $3, f}' >>"$tmp/defs"
    nm -u "$o" | awk -v f="$f" '{print $NF, f}' >>"$tmp/uses"
done
# edges "caller callee", one per pair of files
awk 'NR == FNR {def[$1] = $2; next} ($1 in def) && def[$1] != $2 {print $2, def[$1]}' "$tmp/defs" "$tmp/uses" |
    sort -u >"$tmp/calls"
# includes among model/'s own files: "file header"
for s in $(find model -name '*.c' -o -name '*.h' | sort); do
    d=$(dirname "$s")
    sed -n 's/^#include "\(.*\)"/\1/p' "$s" | while read -r h; do
        p=$(realpath -m --relative-to=. "$d/$h")
        case $p in model/*) echo "$s $p" ;; esac
    done
done | sort -u >"$tmp/includes"
fail=0
for g in calls includes; do
    # tsort prints "tsort: -: input contains a loop:" and the loop's members on stderr
    if ! awk '{print $1, $2}' "$tmp/$g" | tsort >/dev/null 2>"$tmp/err"; then
        echo "FAIL: model/ $g graph has a circle:"; sed 's/^/  /' "$tmp/err"; fail=1
    fi
done
long=$(tests/function_length.sh 120 $(find model -name '*.c' | sort))
if [ -n "$long" ]; then echo "FAIL: functions of model/ over 120 lines:"; echo "$long" | sed 's/^/  /'; fail=1; fi
[ $fail = 0 ] || exit 1
# layers, bottom first
awk '{callee[$1] = callee[$1] " " $2; files[$1]; files[$2]}
     function layer(f,   n, i, c, l, m) {
         if (f in memo) return memo[f]
         m = 0; n = split(callee[f], c, " ")
         for (i = 1; i <= n; i++) { l = layer(c[i]); if (l > m) m = l }
         return memo[f] = m + 1
     }
     END { for (f in files) print layer(f), f }' "$tmp/calls" | sort -n -k1,1 -k2 |
    awk '{line[$1] = line[$1] " " $2} END {for (l = 1; l in line; l++) printf "layer %d:%s\n", l, line[l]}'
echo "PASS: model/ calls and includes only downward, no function over 120 lines ($(wc -l <"$tmp/calls") file-to-file call edges)"
