#!/usr/bin/env bash
# The core on other platforms than this one:
# - Windows headers and a non-glibc C++ library: the core cross-compiled with MinGW-w64 (a stand-in
#   for MSVC, which cannot run here), warnings as errors;
# - aarch64 (Apple Silicon, ARM Linux): the core and its C++ tests cross-compiled with GCC, the
#   tests run under qemu-aarch64. They check the portable kernels, which is all aarch64 runs.
set -euo pipefail
. .ci/lib.sh
root=$PWD

echo "== MinGW-w64: the core for x86_64 Windows"
cmake -S "$root" -B "$CI_WORK/build-mingw" -DCMAKE_SYSTEM_NAME=Windows -DCMAKE_SYSTEM_PROCESSOR=AMD64 \
  -DCMAKE_CXX_COMPILER=x86_64-w64-mingw32-g++-posix -DTWOLAYER_WERROR=ON >/dev/null
cmake --build "$CI_WORK/build-mingw" --target twolayer_core -j 2

echo "== aarch64: the core and the C++ tests, run under qemu"
cmake -S "$root" -B "$CI_WORK/build-aarch64" -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
  -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ -DTWOLAYER_BUILD_TESTS=ON -DTWOLAYER_WERROR=ON \
  "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64;-L;/usr/aarch64-linux-gnu" >/dev/null
cmake --build "$CI_WORK/build-aarch64" -j 2
# The tests must really be aarch64 programs (run through the emulator), not this machine's.
for test in "$CI_WORK"/build-aarch64/tests/cpp/test_*; do
  [[ -x $test && ! -d $test ]] || continue
  file "$test" | grep -q "ARM aarch64" || { echo "$test is not an aarch64 program" >&2; exit 1; }
done
ctest --test-dir "$CI_WORK/build-aarch64" --output-on-failure
