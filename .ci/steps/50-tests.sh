#!/usr/bin/env bash
# The package installed as the README says, the README's test command, and the C++ tests.
set -euo pipefail
. .ci/lib.sh
new_venv tests
install_package tests ".[test]"
# pytest exits non-zero on any failure and with code 5 when it collects no test.
python -m pytest
bash .ci/cpp-tests.sh
