#!/usr/bin/env bash
# Clang (Debian's) with warnings as errors: the package and the whole suite, then the C++ tests.
set -euo pipefail
. .ci/lib.sh
new_venv clang
CXX=clang++ install_package clang -Ccmake.define.TWOLAYER_WERROR=ON ".[test]"
cmake_cache_has clang 'CMAKE_CXX_COMPILER:[A-Z]+=.*clang\+\+'
cmake_cache_has clang 'TWOLAYER_WERROR:[A-Z]+=ON'
python -m pytest
bash .ci/cpp-tests.sh -DCMAKE_CXX_COMPILER=clang++
