#!/usr/bin/env bash
# GCC without the AVX2 kernels (TWOLAYER_AVX2=OFF): the portable kernels alone, as every non-x86
# machine runs them. The package and the whole suite, then the C++ tests.
set -euo pipefail
. .ci/lib.sh
new_venv portable
install_package portable -Ccmake.define.TWOLAYER_AVX2=OFF ".[test]"
cmake_cache_has portable 'TWOLAYER_AVX2:[A-Z]+=OFF'
python -m pytest
bash .ci/cpp-tests.sh -DTWOLAYER_AVX2=OFF
