#!/usr/bin/env bash
# The code's measures: a short README, no function over 60 lines outside the tests, rooms a reader
# can hold and no import circle (.ci/layout.py), and nothing test-only in the extension.
set -euo pipefail
. .ci/lib.sh
new_venv measures
python -m pip install -q lizard
install_package measures .

lines=$(wc -l <README.md)
echo "README.md: $lines lines (at most 250)"
(( lines <= 250 )) || { echo "README.md is a user guide of at most 250 lines" >&2; exit 1; }

# -L: function length in lines; -C: a cyclomatic complexity high enough never to be the reason.
echo "functions over 60 lines outside tests/ (lizard):"
lizard -L 60 -C 1000 -w python cpp bench

python .ci/layout.py

python - <<'PY'
import types

import twolayer._core as core

names = [n for n in dir(core) if not n.startswith("__")]
print("twolayer._core:", names)
modules = [n for n in names if isinstance(getattr(core, n), types.ModuleType)]
hooks = [n for n in names if any(word in n.lower() for word in ("kernel", "test", "debug", "simd"))]
assert not modules and not hooks, f"test-only parts of the extension: {modules + hooks}"
PY
