#!/usr/bin/env bash
# The fuzz targets (fuzz/): the IDX reader, the npz loader, the array entry points and the image
# converter, a minute each with a fixed seed, after the inputs that once failed. Only a crash, a
# hang or an unexpected exception fails.
set -euo pipefail
. .ci/lib.sh
new_venv fuzz
install_package fuzz ".[fuzz]"
for target in idx npz arrays image; do
  echo "== fuzz: $target"
  FUZZ_OUT=$CI_WORK/fuzz bash fuzz/run.sh "$target" 60
done
