#!/usr/bin/env bash
# Types and style: mypy --strict, stubtest (the stub against the built extension), ruff's lint and
# format check, clang-format's check of the C++. The tools' versions are pinned in pyproject.toml's
# lint dependency group, so a new release never fails a commit that passed.
set -euo pipefail
. .ci/lib.sh
new_venv lint
# With the sklearn extra, so that stubtest imports twolayer.sklearn; pyproject.toml's mypy settings
# (scikit-learn has no types) hold for stubtest too.
install_package lint ".[sklearn]"
python -m pip install -q --group lint
mypy --strict -p twolayer
python -m mypy.stubtest twolayer --allowlist .ci/stubtest-allowlist.txt --mypy-config-file pyproject.toml
ruff check .
ruff format --check .
find cpp tests/cpp \( -name '*.cpp' -o -name '*.hpp' \) -print0 | xargs -0 clang-format --dry-run -Werror

# The AVX2 files define nothing outside namespace twolayer::avx2, even unoptimised, where every
# inline function they use is emitted beside the baseline files' copies and the linker keeps any
# one of them: a standard-library one compiled for AVX2 would then run on CPUs without it.
objects=$(mktemp -d)
for source in cpp/core/*_avx2.cpp; do
  g++ -O0 -mavx2 -mfma -std=c++17 -Icpp/core -c "$source" -o "$objects/avx2.o"
  outside=$(nm -C --defined-only "$objects/avx2.o" | awk '$2 ~ /^[A-Zuvw]$/' | grep -v ' twolayer::avx2::' || true)
  [[ -z $outside ]] || { echo "$source defines symbols outside twolayer::avx2:" >&2; echo "$outside" >&2; exit 1; }
done
echo "AVX2 files at -O0: nothing defined outside twolayer::avx2"
