#!/usr/bin/env bash
# The C++ tests of the core (tests/cpp), built with CMake and run by CTest. Extra CMake arguments
# pass through: `.ci/cpp-tests.sh -DCMAKE_CXX_COMPILER=clang++`.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(mktemp -d)
cmake -S . -B "$build" -DTWOLAYER_BUILD_TESTS=ON -DTWOLAYER_WERROR=ON "$@" >/dev/null
cmake --build "$build" -j 2
ctest --test-dir "$build" --output-on-failure
