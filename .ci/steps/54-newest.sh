#!/usr/bin/env bash
# The newest Python that pyenv has here (3.13) with the newest dependencies: the package and the
# whole suite, scikit-learn's estimator included.
set -euo pipefail
. .ci/lib.sh
new_venv newest "$(pyenv_python 3.13)"
install_package newest ".[test,sklearn]"
TWOLAYER_TEST_REQUIRES=sklearn python -m pytest
