#!/bin/sh
# make notebooks: execute the notebooks of notebooks-export/ on a pangu eval
# output folder (default out/demo: forecasts, truth/, scores.csv) and export
# each as HTML and as Markdown (figures in NAME_files/) next to it; the
# executed notebooks go to notebooks-export/executed/. Needs Debian's
# jupyter-nbconvert, python3-ipykernel, python3-matplotlib and python3-netcdf4
# (.ci/deps.sh notebooks). Python is used here only, never by pangu itself.
set -eu
out=$(cd "${1:-out/demo}" 2>/dev/null && pwd) || { echo "notebooks: ${1:-out/demo}: no such folder" >&2; exit 2; }
[ -s "$out/scores.csv" ] || { echo "notebooks: $out/scores.csv missing (make demo, or pangu eval --output)" >&2; exit 2; }
cd "$(dirname "$0")"
# Debian's nbconvert and its python3 kernel, whatever python3 comes first in PATH
nbconvert=/usr/bin/jupyter-nbconvert
[ -x "$nbconvert" ] || nbconvert="jupyter nbconvert"
export PANGU_OUT="$out" PYDEVD_DISABLE_FILE_VALIDATION=1
start=$(date +%s)
mkdir -p executed
for nb in *.ipynb; do
  name=${nb%.ipynb}
  t0=$(date +%s)
  $nbconvert --log-level=WARN --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --ExecutePreprocessor.kernel_name=python3 --output-dir executed "$nb"
  rm -rf "${name}_files"
  $nbconvert --log-level=WARN --to html --output-dir . "executed/$nb"
  $nbconvert --log-level=WARN --to markdown --output-dir . "executed/$nb"
  echo "notebooks: $name.ipynb on $out -> notebooks-export/$name.html, $name.md ($(( $(date +%s) - t0 )) s)"
done
echo "notebooks: done in $(( $(date +%s) - start )) s"
