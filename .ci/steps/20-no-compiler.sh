#!/usr/bin/env bash
# pip install . with no C++ compiler (CXX names one that does not exist) fails with twolayer's one
# line saying what to install, not CMake's generic error.
set -euo pipefail
. .ci/lib.sh
new_venv no-compiler
status=0
CXX=/nonexistent/c++ install_package no-compiler . >"$CI_WORK/no-compiler.log" 2>&1 || status=$?
cat "$CI_WORK/no-compiler.log"
[[ $status != 0 ]] || { echo "the build succeeded without a compiler" >&2; exit 1; }
for text in "twolayer needs a C++17 compiler and found none" "sudo apt install g++" \
  "sudo dnf install gcc-c++" "xcode-select --install" "Visual Studio Build Tools"; do
  grep -qF "$text" "$CI_WORK/no-compiler.log" || { echo "the error lacks: $text" >&2; exit 1; }
done
# One line: all of it on the line that says what is missing.
grep "twolayer needs a C++17 compiler" "$CI_WORK/no-compiler.log" | grep -qF "Visual Studio Build Tools" \
  || { echo "the message is split over several lines" >&2; exit 1; }
echo "== the build failed with the message, as it should"
