#!/bin/sh
# Install the Debian packages pangu-c needs, only those missing.
# Usage: .ci/deps.sh [build|test|notebooks|all]   (test adds the PyTorch reference for
# regenerating fixtures; nothing else is downloaded). notebooks adds Debian's
# Jupyter, matplotlib and netCDF4-python for the optional notebooks.
set -e
# python3-xarray (with dask, netCDF4 and cfgrib) and libeccodes-tools: tests/files_test.sh opens the
# forecast files as xarray's and ecCodes' users do.
pkgs="build-essential pkg-config libnetcdf-dev libhdf5-dev libopenblas-dev libcunit1-dev libinih-dev libeccodes-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev help2man netcdf-bin nco hdf5-tools cdo gnuplot-nox libeccodes-tools python3-xarray python3-dask python3-netcdf4 python3-cfgrib"
# make install's modulefiles, tested with the real tools (tests/install_test.sh): Environment Modules,
# and Lmod's dependencies (Debian's lmod conflicts with environment-modules: it is unpacked below).
pkgs="$pkgs environment-modules lua5.3 lua-posix lua-filesystem lua-term lua-json tcl"
# eval report maps: Natural Earth coastlines (public domain) as PLplot ships them (eval/coast.c reads
# /usr/share/plplot*/globe.shp).
pkgs="$pkgs libplplot-data"
# pangu fetch: libcurl and cJSON; its tests: ecCodes tools (grib_filter, grib_copy) and Python for the local server
pkgs="$pkgs libcurl4-gnutls-dev libcjson-dev python3"
case "${1:-build}" in
  mpi) pkgs="$pkgs libopenmpi-dev openmpi-bin" ;;
  fuzz) pkgs="$pkgs clang libclang-rt-14-dev libomp-dev" ;;
esac
case "${1:-build}" in
  reference|all) pkgs="$pkgs python3-torch python3-h5py python3-netcdf4 python3-numpy python3-onnx" ;;
esac
case "${1:-build}" in
  notebooks|all) pkgs="$pkgs jupyter-nbconvert python3-nbconvert python3-nbformat python3-ipykernel python3-matplotlib python3-netcdf4 python3-numpy" ;;
esac
# Debian's lmod package unpacked beside the installed environment-modules (the two conflict as
# packages: both provide the module command): its init/bash points at the unpacked tree.
# Where: LMOD_DEB_DIR (tests/install_test.sh looks there), unless lmod itself is installed.
lmod_unpacked() {
  dir=${LMOD_DEB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pangu-c/lmod}
  [ -e /usr/share/lmod/lmod/init/bash ] || [ -e "$dir/usr/share/lmod/lmod/init/bash" ] && return 0
  echo "unpacking Debian's lmod into $dir" >&2
  mkdir -p "$dir" && (cd "$dir" && apt-get download lmod >/dev/null && dpkg-deb -x lmod_*.deb . && rm lmod_*.deb) &&
    sed -i "s#/usr/share/lmod#$dir/usr/share/lmod#g" "$dir/usr/share/lmod/lmod/init/bash"
}
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && { lmod_unpacked; exit 0; }
echo "installing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
lmod_unpacked
