#!/usr/bin/env bash
# Types and style: mypy --strict, stubtest (the stub against the built extension), ruff's lint and
# format check, clang-format's check of the C++. The tools' versions are pinned in pyproject.toml's
# lint dependency group, so a new release never fails a commit that passed.
set -euo pipefail
. .ci/lib.sh
new_venv lint
install_package lint .
python -m pip install -q --group lint
mypy --strict -p twolayer
python -m mypy.stubtest twolayer --allowlist .ci/stubtest-allowlist.txt
ruff check .
ruff format --check .
find cpp tests/cpp \( -name '*.cpp' -o -name '*.hpp' \) -print0 | xargs -0 clang-format --dry-run -Werror
