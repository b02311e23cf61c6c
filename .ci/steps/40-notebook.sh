#!/usr/bin/env bash
# examples/chapter4.ipynb executed in a fresh Jupyter kernel on short settings, so that it cannot rot.
set -euo pipefail
. .ci/lib.sh
new_venv notebook
install_package notebook ".[notebook]" nbclient nbformat ipykernel
mnist=${TWOLAYER_MNIST_DIR:-$PWD/../shared/mnist}
python .ci/notebook.py examples/chapter4.ipynb \
  "DATA_DIR = '$mnist'" "ITERS = 1200" "NUMERICAL_ITERS = 40" "OVERFIT_EPOCHS = 30"
