#!/usr/bin/env bash
# The oldest supported Python (3.9, pyenv's) with the oldest supported NumPy, matplotlib and tqdm
# (the lower bounds in pyproject.toml): the package and the whole suite.
set -euo pipefail
. .ci/lib.sh
new_venv oldest "$(pyenv_python 3.9)"
python -c 'import sys; assert sys.version_info[:2] == (3, 9), sys.version'
echo "numpy==1.23.5" >"$CI_WORK/oldest-constraints.txt"
echo "matplotlib==3.6.3" >>"$CI_WORK/oldest-constraints.txt"
echo "tqdm==4.60.0" >>"$CI_WORK/oldest-constraints.txt"
install_package oldest -c "$CI_WORK/oldest-constraints.txt" ".[test]"
python -c 'import numpy; assert numpy.__version__ == "1.23.5", numpy.__version__'
python -m pytest
