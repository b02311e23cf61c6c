#!/usr/bin/env bash
# GCC with the AVX2 kernels, as the README installs it: a plain `pip install .` (no extras) trains
# and draws both figures; then the test and sklearn extras, the whole suite, and the C++ tests.
set -euo pipefail
. .ci/lib.sh
new_venv tests
install_package tests .
out=$CI_WORK/train-out
twolayer train --iters 300 --data-dir "${TWOLAYER_MNIST_DIR:-$PWD/../shared/mnist}" --out "$out"
for figure in loss.png accuracy.png; do
  head -c 8 "$out/$figure" | cmp -s - <(printf '\x89PNG\r\n\x1a\n') \
    || { echo "twolayer train wrote no PNG $figure" >&2; exit 1; }
done
# The sklearn extra (and pandas, for scikit-learn's checks of feature names): its tests must run here.
install_package tests ".[test,sklearn]" pandas
# pytest exits non-zero on any failure and with code 5 when it collects no test.
TWOLAYER_TEST_REQUIRES="sklearn pandas" python -m pytest
bash .ci/cpp-tests.sh
