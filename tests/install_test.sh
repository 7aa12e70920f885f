#!/bin/bash
# make install into a temporary prefix, then the installed copy as a user of
# the site would take it: a C program (tests/api_example.c) built with
# `pkg-config --cflags --libs pangu`, its step equal to the installed
# `pangu step`'s to the bit, its forecast job equal to `pangu forecast`'s;
# only pangu_* exported; --version and a man page of the installed copy;
# the static library; DESTDIR staging; make uninstall leaving the prefix empty;
# in a clean shell (env -i) the loader's error without a module, and the
# program built and run after `module load pangu` with Environment Modules and
# with Lmod (the real tools), or with a run path linked in.
# Usage: tests/install_test.sh   (from make check; MAKE, BUILD, BIN as there)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/tests/fixtures"
make=${MAKE:-make}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "  ok: $1"; }
bad() { fail=$((fail + 1)); echo "  FAILED: $1"; }
p="$t/prefix"
mkdir -p "$p"
cd "$top" || exit 2

echo "install tests"
if $make -s DEPS=0 install PREFIX="$p" >"$t/install.log" 2>&1; then
  ok "make install PREFIX=$p"
else
  bad "make install ($(tail -5 "$t/install.log"))"
  echo "install: $pass passed, $fail failed"; exit 1
fi
version=$(sed -n 's/^#define PANGU_VERSION "\(.*\)"/\1/p' util/util.h)
want="bin/pangu include/pangu.h lib/libpangu.a lib/libpangu.so lib/libpangu.so.1 lib/libpangu.so.1.0.0 lib/pkgconfig/pangu.pc share/man/man1/pangu.1 share/man/man1/pangu-forecast.1 share/modulefiles/pangu/$version share/modulefiles/pangu/$version.lua"
missing=""
for f in $want; do [ -e "$p/$f" ] || missing="$missing $f"; done
if [ -z "$missing" ] && [ "$(readlink "$p/lib/libpangu.so")" = libpangu.so.1 ] &&
   [ "$(readlink "$p/lib/libpangu.so.1")" = libpangu.so.1.0.0 ] &&
   readelf -d "$p/lib/libpangu.so.1.0.0" | grep -q 'SONAME.*\[libpangu.so.1\]'; then
  ok "installed: $(cd "$p" && find . -type f -o -type l | wc -l) files; libpangu.so -> libpangu.so.1 -> libpangu.so.1.0.0 (soname libpangu.so.1)"
else bad "installed files (missing:$missing; $(cd "$p" && find . | tr '\n' ' '))"; fi
# only the public API leaves the shared library, and all of the header's functions do
exported=$(nm -D --defined-only "$p/lib/libpangu.so.1.0.0" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort)
declared=$(sed -n 's/^PANGU_API [^(]*[ *]\(pangu_[a-z_0-9]*\)(.*/\1/p' "$p/include/pangu.h" | sort)
others=$(echo "$exported" | grep -v '^pangu_' || true)
if [ -z "$others" ] && [ -n "$declared" ] && [ "$exported" = "$declared" ]; then
  ok "nm -D: the $(echo "$exported" | wc -l) functions of pangu.h exported, nothing else (model_*, util_* hidden)"
else bad "exported symbols (others: $(echo $others | head -c 200); not as declared: $(diff <(echo "$exported") <(echo "$declared") | tr '\n' ' '))"; fi

export PKG_CONFIG_PATH="$p/lib/pkgconfig"
if cc -std=c11 -Wall -Wextra -Werror -o "$t/api_example" tests/api_example.c $(pkg-config --cflags --libs pangu) 2>"$t/cc.log" &&
   LD_LIBRARY_PATH="$p/lib" ldd "$t/api_example" | grep -q "libpangu.so.1 => $p/lib/libpangu.so.1"; then
  ok "cc api_example.c \$(pkg-config --cflags --libs pangu): $(pkg-config --cflags --libs pangu | tr -s ' ')"
else bad "building the example against the installed library ($(head -c 400 "$t/cc.log"))"; fi

# the example's step on the arrays equals the installed pangu step's file, to the bit
raw() { # raw float32 of the 9 variables of a step file, in model order
  for v in z q t u v msl u10 v10 t2m; do ncks -C -O -b "$t/v.bin" -v "$v" "$1" "$t/v.nc" >/dev/null 2>&1 && cat "$t/v.bin"; done
}
if LD_LIBRARY_PATH="$p/lib" "$t/api_example" "$fx/tiny.h5" "$fx/tiny_in.nc" "$t/api.f32" >"$t/api.out" 2>"$t/api.err" &&
   "$p/bin/pangu" step --model "$fx/tiny.h5" --input "$fx/tiny_in.nc" --output "$t/step.nc" 2>"$t/step.err" &&
   raw "$t/step.nc" >"$t/step.f32" && [ "$(stat -c %s "$t/api.f32")" -eq $(((5 * 5 + 4) * 24 * 48 * 4)) ] &&
   cmp -s "$t/api.f32" "$t/step.f32"; then
  ok "pangu_step on the arrays = the installed pangu step, to the bit ($(head -1 "$t/api.out" | cut -c1-110))"
else bad "the example's step against pangu step ($(cat "$t/api.err" "$t/step.err" | head -c 400); sizes $(stat -c %s "$t/api.f32" "$t/step.f32" 2>/dev/null | tr '\n' ' '))"; fi

# the forecast job through the library = pangu forecast (data and request; history differs)
data() { ncdump -p 9,17 -v z,t2m "$1" | sed -n '/^data:/,$p'; }
req() { ncdump -h "$1" | grep ':pangu_request'; }
if LD_LIBRARY_PATH="$p/lib" "$t/api_example" "$fx/tiny.h5" "$fx/tiny_in.nc" "$t/api2.f32" "$t/api_fc.nc" 1900-01-01T00 6,12 \
     >"$t/fc_api.out" 2>"$t/fc_api.err" &&
   "$p/bin/pangu" forecast --model-6h "$fx/tiny.h5" --input "$fx/tiny_in.nc" --init 1900-01-01T00 --leads 6,12 \
     --output "$t/cli_fc.nc" 2>"$t/fc_cli.err" &&
   [ -n "$(req "$t/api_fc.nc")" ] && [ "$(req "$t/api_fc.nc")" = "$(req "$t/cli_fc.nc")" ] &&
   [ -n "$(data "$t/api_fc.nc")" ] && [ "$(data "$t/api_fc.nc")" = "$(data "$t/cli_fc.nc")" ]; then
  ok "pangu_forecast = the installed pangu forecast (leads 6, 12: same data, same recorded request)"
else bad "the example's forecast job against pangu forecast ($(cat "$t/fc_api.err" "$t/fc_cli.err" | tail -4 | head -c 400))"; fi

# errors: a status and one message naming the file
LD_LIBRARY_PATH="$p/lib" "$t/api_example" "$t/no_such_model.h5" "$fx/tiny_in.nc" "$t/x.f32" >/dev/null 2>"$t/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "no_such_model.h5" "$t/err" && [ "$(wc -l <"$t/err")" -eq 1 ] && [ ! -e "$t/x.f32" ]; then
  ok "a missing model: exit 2, $(cat "$t/err")"
else bad "a missing model (exit $rc: $(cat "$t/err"))"; fi

# A program built with pkg-config as docs/library.md shows, in a clean shell (env -i): it does not start
# without LD_LIBRARY_PATH, it does after `module load pangu` of the installed modulefile (Environment
# Modules reads the Tcl file, Lmod the .lua beside it), and with a run path linked in, without a module.
clean() { env -i HOME="$t" PATH=/usr/bin:/bin bash -c "$1" >"$t/clean.out" 2>&1; }
build_run() { # the example built with pkg-config (and $1: extra link flags) in $t/ex, run on the fixture into $t/ex.f32
  echo "rm -f '$t/ex' '$t/ex.f32' && cc -std=c11 -o '$t/ex' '$top/tests/api_example.c' \$(pkg-config --cflags --libs pangu) $1 &&
    '$t/ex' '$fx/tiny.h5' '$fx/tiny_in.nc' '$t/ex.f32' >/dev/null && cmp '$t/ex.f32' '$t/api.f32'"
}
if clean "export PKG_CONFIG_PATH='$p/lib/pkgconfig'; $(build_run '')"; then bad "without a module or run path the example ran: $(tail -2 "$t/clean.out")"
elif grep -q "libpangu.so.1: cannot open shared object file" "$t/clean.out"; then
  ok "env -i, built with pkg-config, no module: $(grep -o 'error while loading.*' "$t/clean.out")"
else bad "without a module: not the loader's message ($(tail -2 "$t/clean.out"))"; fi
if clean "export PKG_CONFIG_PATH='$p/lib/pkgconfig'; $(build_run "-Wl,-rpath,\$(pkg-config --variable=libdir pangu)")"; then
  ok "env -i, no module, linked with -Wl,-rpath,\$(pkg-config --variable=libdir pangu): runs, the same step"
else bad "the run path ($(tail -3 "$t/clean.out"))"; fi
lmod_init=/usr/share/lmod/lmod/init/bash # Debian's lmod, or the copy .ci/deps.sh unpacks beside environment-modules
[ -e "$lmod_init" ] || lmod_init=${LMOD_DEB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pangu-c/lmod}/usr/share/lmod/lmod/init/bash
for tool in "Environment Modules:/usr/share/modules/init/bash:$version" "Lmod:$lmod_init:$version.lua"; do
  name=${tool%%:*} init=${tool#*:} init=${init%:*} file=${tool##*:}
  if [ ! -e "$init" ]; then bad "$name: no $init (.ci/deps.sh build installs it)"; continue; fi
  manls=$(env -i PATH=/usr/bin:/bin man -w ls 2>&1)
  if clean "source '$init' && module use '$p/share/modulefiles' && module load pangu && $(build_run '') &&
        [ \"\$(command -v pangu)\" = '$p/bin/pangu' ] && [ \"\$PANGU_ROOT\" = '$p' ] &&
        [ \"\$(man -w pangu-forecast)\" = '$p/share/man/man1/pangu-forecast.1' ] && [ \"\$(man -w ls 2>&1)\" = '$manls' ] &&
        module show pangu 2>&1 | grep -q 'modulefiles/pangu/$file:\$' && module unload pangu &&
        [ \"\$PATH\" = /usr/bin:/bin ] && [ -z \"\${LD_LIBRARY_PATH:-}\" ] && [ -z \"\${PANGU_ROOT:-}\" ]"; then
    ok "$name ($init): module use; module load pangu (reads pangu/$file): built with pkg-config, runs, same step; pangu, man pangu-forecast (and man ls still) found; unload restores PATH"
  else bad "$name: module load pangu ($(tail -4 "$t/clean.out" | tr '\n' ' '))"; fi
done

# the installed binary and manual
if "$p/bin/pangu" --version | head -1 | grep -q "^pangu (pangu-c) $(pkg-config --modversion pangu)$" &&
   MANWIDTH=80 man -l "$p/share/man/man1/pangu-forecast.1" 2>/dev/null | grep -q -- "--overwrite"; then
  ok "installed pangu --version ($("$p/bin/pangu" --version | head -1)) and man -l pangu-forecast.1"
else bad "installed --version or man page"; fi

# the man pages: each titled PANGU-COMMAND(1), NAME "pangu-COMMAND - " and the command's summary, an EXAMPLES section
badman=""
for c in $("$p/bin/pangu" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
  page=$(MANWIDTH=200 man -l "$p/share/man/man1/pangu-$c.1" 2>/dev/null) title=$(echo "PANGU-$c(1)" | tr a-z A-Z)
  { [ "$(echo "$page" | head -1 | awk '{print $1}')" = "$title" ] &&
    echo "$page" | grep -A1 '^NAME$' | grep -qxF "       pangu-$c - $("$p/bin/pangu" help --summary "$c")" &&
    echo "$page" | grep -A3 '^EXAMPLES$' | grep -q "^              pangu "; } || badman="$badman $c"
done
if [ -z "$badman" ] && MANWIDTH=200 man -l "$p/share/man/man1/pangu.1" | grep -q '^EXAMPLES$'; then
  ok "man -l: $(ls "$p/share/man/man1" | wc -l) pages, titled PANGU-COMMAND(1), NAME $(MANWIDTH=200 man -l "$p/share/man/man1/pangu-forecast.1" | grep -A1 '^NAME$' | tail -1 | sed 's/^ *//'), EXAMPLES"
else bad "man pages without their title, NAME or EXAMPLES:$badman"; fi
# the EXAMPLES are commands that work: those needing neither the network, the released weights, IBTrACS (nor
# minutes: train), in their order, with the installed pangu, from a directory holding a clone's models/,
# tests/ and configs/ (HOME there: pangu tune's cache is the test's)
mkdir -p "$t/examples/home" && ln -s "$top/models" "$top/tests" "$top/configs" "$t/examples/"
for page in synth step info init plan forecast grad eval regrid stats tune; do
  sed -n '/^\.nf$/,/^\.fi$/p' "cli/man/pangu-$page.h2m" | grep -v '^\.[nf][fi]$' | sed -e 's/\\-/-/g' -e 's/\\e/\\/g'
done | sed -e ':a' -e '/\\$/{N;s/\\\n *//;ba}' | grep -v 'released\|pangu fetch\|pangu_weather\|ibtracs' >"$t/examples/examples.sh"
if (cd "$t/examples" && HOME="$t/examples/home" XDG_CACHE_HOME="$t/examples/home/.cache" PATH="$p/bin:$PATH" OMP_NUM_THREADS=2 bash -e -x examples.sh >examples.log 2>&1); then
  ok "the man pages' examples: $(grep -c '^pangu ' "$t/examples/examples.sh") commands run ($(cut -d' ' -f2 "$t/examples/examples.sh" | sort -u | tr '\n' ' '))"
else bad "a man page's example failed: $(grep '^+ pangu' "$t/examples/examples.log" | tail -1 | cut -c1-200): $(tail -2 "$t/examples/examples.log")"; fi

# static: the archive and pkg-config --static, no libpangu.so needed at run time
if cc -std=c11 -o "$t/api_static" tests/api_example.c $(pkg-config --cflags pangu) "$p/lib/libpangu.a" \
     $(pkg-config --static --libs pangu | sed 's/-lpangu\b//') 2>"$t/cc.log" &&
   ! readelf -d "$t/api_static" | grep -q libpangu &&
   "$t/api_static" "$fx/tiny.h5" "$fx/tiny_in.nc" "$t/static.f32" >/dev/null 2>&1 && cmp -s "$t/static.f32" "$t/api.f32"; then
  ok "static link (libpangu.a + pkg-config --static --libs pangu): same step"
else bad "static link ($(head -c 400 "$t/cc.log"))"; fi

# DESTDIR stages under another root with the final prefix recorded
if $make -s DEPS=0 install PREFIX=/opt/pangu DESTDIR="$t/stage" >"$t/stage.log" 2>&1 &&
   [ -x "$t/stage/opt/pangu/bin/pangu" ] && grep -q '^prefix=/opt/pangu$' "$t/stage/opt/pangu/lib/pkgconfig/pangu.pc" &&
   grep -qx 'set root {/opt/pangu}' "$t/stage/opt/pangu/share/modulefiles/pangu/$version" &&
   grep -qx 'local root = "/opt/pangu"' "$t/stage/opt/pangu/share/modulefiles/pangu/$version.lua" &&
   $make -s DEPS=0 uninstall PREFIX=/opt/pangu DESTDIR="$t/stage" >>"$t/stage.log" 2>&1 &&
   [ -z "$(find "$t/stage/opt/pangu" -mindepth 1)" ]; then
  ok "DESTDIR staging: pangu.pc and the modulefiles say /opt/pangu; uninstall with DESTDIR empties it"
else bad "DESTDIR ($(tail -3 "$t/stage.log"))"; fi

# uninstall removes what install put, and nothing of a neighbour's
touch "$p/lib/other.so"
if $make -s DEPS=0 uninstall PREFIX="$p" >"$t/un.log" 2>&1 && [ "$(cd "$p" && find . -mindepth 1)" = "./lib
./lib/other.so" ]; then
  rm "$p/lib/other.so" && rmdir "$p/lib"
  ok "make uninstall: the prefix empty again (a file not installed by it kept)"
else bad "uninstall left: $(cd "$p" && find . -mindepth 1 | tr '\n' ' ') ($(tail -3 "$t/un.log"))"; fi

echo "install: $pass passed, $fail failed"
[ $fail -eq 0 ]
