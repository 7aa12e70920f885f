#!/bin/sh
# pangu.pc for pkg-config, written to stdout at make install.
# Usage: lib/pc.sh PREFIX VERSION CC PKG=FALLBACK...
# A dependency goes to Requires.private when its .pc's static flags work
# here (well-formed, and a program links with them); otherwise its shared
# flags (or FALLBACK, the plain -l name, without a .pc) to Libs.private.
# Either way `pkg-config --static --libs pangu` links libpangu.a: Debian 12's
# eccodes.pc names libraries as -l/usr/lib/.../libpng.so and libcurl's lists
# static libraries Debian does not ship.
set -eu
prefix=$1 version=$2 cc=$3
shift 3
req="" libs=""
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
echo 'int main(void) { return 0; }' >"$t/m.c"
for dep in "$@"; do
  pkg=${dep%%=*} fallback=${dep#*=}
  if ! pkg-config --exists "$pkg" 2>/dev/null; then
    libs="$libs $fallback"
  elif static=$(pkg-config --static --libs "$pkg") && ! echo "$static" | grep -q -- '-l/' &&
       $cc -o "$t/m" "$t/m.c" $static >/dev/null 2>&1; then
    req="$req $pkg"
  else
    libs="$libs $(pkg-config --libs "$pkg")"
  fi
done
cat <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: pangu
Description: Pangu-Weather forecasts in C (pangu-c): models, a step on arrays, forecast jobs
Version: $version
Requires.private:$(echo "$req" | tr -s ' ')
Cflags: -I\${includedir}
Libs: -L\${libdir} -lpangu
Libs.private:$(echo "$libs" | tr -s ' ') -lgomp -lpthread -lm
PC
