#!/bin/sh
# Install the Debian packages pangu-c needs, only those missing.
# Usage: .ci/deps.sh [build|test|notebooks|all]   (test adds the PyTorch reference for
# regenerating fixtures; nothing else is downloaded). notebooks adds Debian's
# Jupyter, matplotlib and netCDF4-python for the optional notebooks.
set -e
# python3-xarray (with dask, netCDF4 and cfgrib) and libeccodes-tools: tests/files_test.sh opens the
# forecast files as xarray's and ecCodes' users do.
pkgs="build-essential pkg-config libnetcdf-dev libhdf5-dev libopenblas-dev libcunit1-dev libinih-dev libeccodes-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev help2man netcdf-bin nco hdf5-tools cdo gnuplot-nox libeccodes-tools python3-xarray python3-dask python3-netcdf4 python3-cfgrib"
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
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
