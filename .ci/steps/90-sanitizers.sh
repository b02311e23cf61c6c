#!/usr/bin/env bash
# The suite again (less the bench's tests) against a build instrumented with AddressSanitizer and
# UndefinedBehaviorSanitizer.
set -euo pipefail
. .ci/lib.sh
work=$CI_WORK
echo "== sanitizers: build with AddressSanitizer and UndefinedBehaviorSanitizer"
start=$SECONDS
san=$work/venv-sanitize
python3 -m venv "$san"
"$san/bin/python" -m pip install --upgrade pip >/dev/null
"$san/bin/python" -m pip install \
  -Cbuild-dir="$work/build-sanitize" \
  -Ccmake.build-type=RelWithDebInfo \
  -Ccmake.define.TWOLAYER_SANITIZE=ON \
  -Cinstall.strip=false \
  ".[test]"

# The runtime must come first in the process, and libstdc++ with it so that C++ exceptions
# thrown through the instrumented extension unwind instead of aborting.
libasan=$(gcc -print-file-name=libasan.so)
libstdcxx=$(gcc -print-file-name=libstdc++.so)
for lib in "$libasan" "$libstdcxx"; do
  [[ -f $lib ]] || { echo "sanitizer runtime not found: $lib" >&2; exit 1; }
done
export LD_PRELOAD="$libasan $libstdcxx"
# detect_leaks=0: CPython itself leaks at exit (tests/test_leaks.py measures our leaks).
# allocator_may_return_null=1: a huge malloc returns NULL (NumPy raises MemoryError) instead of
# aborting. Any report stops the process with a non-zero status (halt_on_error), failing the step.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87
export PYTHONMALLOC=malloc

# The extension must really be instrumented, and a report must really fail a process.
core=$("$san/bin/python" -c "import twolayer._core as c; print(c.__file__)")
# (ldd's output is kept first: `ldd | grep -q` can fail under pipefail when grep exits early.)
libs=$(ldd "$core")
grep -q libasan <<<"$libs" || { echo "$core is not built with ASan" >&2; exit 1; }
grep -q libubsan <<<"$libs" || { echo "$core is not built with UBSan" >&2; exit 1; }
status=0
"$san/bin/python" -c "
import ctypes
small, big = ctypes.create_string_buffer(8), ctypes.create_string_buffer(64)
ctypes.memmove(big, small, 64)  # reads 56 bytes past the end of small
" 2>/dev/null || status=$?
[[ $status == 86 ]] || { echo "a deliberate overflow did not fail (status $status)" >&2; exit 1; }

# -s: pytest's capture would swallow the sanitizer's report. The bench's tests are left to the
# other legs: they run bench/'s Python around the same core calls as the rest of the suite, and are
# its slowest tests (a seventh of its time).
"$san/bin/python" -m pytest -s -q --ignore=tests/test_bench.py
echo "== sanitizers: clean in $((SECONDS - start)) s"
