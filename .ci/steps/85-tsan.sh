#!/usr/bin/env bash
# The C++ tests of the core (tests/cpp), above all the thread pool's (many short calls, late and
# held workers, thread-count changes while calling), built with ThreadSanitizer: any data race
# fails the step.
set -euo pipefail
echo "== tsan: C++ tests with ThreadSanitizer"
start=$SECONDS
# halt_on_error: the first report ends the test with a non-zero status, failing CTest.
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# ThreadSanitizer must really catch a race here, or a clean run would prove nothing.
racy=$(mktemp -d)
printf '%s\n' '#include <thread>' 'int value = 0;' \
  'int main() { std::thread t([] { ++value; }); ++value; t.join(); return value == 3; }' >"$racy/race.cpp"
c++ -std=c++17 -fsanitize=thread -g "$racy/race.cpp" -o "$racy/race" -pthread
if "$racy/race" 2>/dev/null; then
  echo "ThreadSanitizer did not report a deliberate data race" >&2
  exit 1
fi
bash .ci/cpp-tests.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread"
echo "== tsan: clean in $((SECONDS - start)) s"
