#!/usr/bin/env bash
# The oldest supported Python (3.9, pyenv's) with the oldest supported NumPy, matplotlib and tqdm
# and scikit-learn (the lower bounds in pyproject.toml): the package and the whole suite.
set -euo pipefail
. .ci/lib.sh
new_venv oldest "$(pyenv_python 3.9)"
python -c 'import sys; assert sys.version_info[:2] == (3, 9), sys.version'
# pyparsing as of matplotlib 3.6: its parser uses names that pyparsing 3.3 deprecates, and the
# suite turns warnings into errors.
cat >"$CI_WORK/oldest-constraints.txt" <<'PINS'
numpy==1.24.4
matplotlib==3.6.3
tqdm==4.60.0
pyparsing==3.0.9
scikit-learn==1.6.1
PINS
install_package oldest -c "$CI_WORK/oldest-constraints.txt" ".[test,sklearn]"
python -c 'import numpy; assert numpy.__version__ == "1.24.4", numpy.__version__'
TWOLAYER_TEST_REQUIRES=sklearn python -m pytest
