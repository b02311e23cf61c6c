#!/usr/bin/env bash
# GCC with the AVX2 kernels, as the README installs it: a plain `pip install .` (no extras) trains
# and draws its figures, inspects and serves the drawing page; then the test and sklearn extras, the
# whole suite (the page in headless Chromium among it), and the C++ tests.
set -euo pipefail
. .ci/lib.sh
new_venv tests
install_package tests .
out=$CI_WORK/train-out
twolayer train --iters 300 --data-dir "${TWOLAYER_MNIST_DIR:-$PWD/../shared/mnist}" --out "$out"
twolayer inspect "$out/params.npz" --data-dir "${TWOLAYER_MNIST_DIR:-$PWD/../shared/mnist}" --out "$out/inspect"
for figure in loss.png accuracy.png weights.png misclassified.png confusion.png inspect/weights.png \
  inspect/misclassified.png inspect/confusion.png; do
  head -c 8 "$out/$figure" | cmp -s - <(printf '\x89PNG\r\n\x1a\n') \
    || { echo "twolayer train or inspect wrote no PNG $figure" >&2; exit 1; }
done
# twolayer draw serves its page from the installed package and stops on Ctrl-C.
python - "$out/params.npz" <<'PY'
import signal, subprocess, sys, urllib.request

draw = subprocess.Popen(["twolayer", "draw", sys.argv[1], "--port", "0", "--no-browser"], stdout=subprocess.PIPE, text=True)
url = draw.stdout.readline().split(" at ")[1].split()[0]
for path in ("", "draw.js", "draw.css"):
    assert urllib.request.urlopen(url + path, timeout=10).status == 200, path
draw.send_signal(signal.SIGINT)
assert draw.wait(timeout=10) == 0, "twolayer draw did not stop cleanly on Ctrl-C"
print(f"twolayer draw served {url} and stopped on Ctrl-C")
PY
# The sklearn extra (and pandas, for scikit-learn's checks of feature names): its tests must run here.
install_package tests ".[test,sklearn]" pandas
# pytest exits non-zero on any failure and with code 5 when it collects no test.
TWOLAYER_TEST_REQUIRES="sklearn pandas" python -m pytest
bash .ci/cpp-tests.sh
