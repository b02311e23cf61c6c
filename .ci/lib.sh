# Shared by the CI steps (.ci/steps/*.sh): sourced, not run.
# $CI_WORK is a scratch folder for the whole run; each step makes its own virtual environments in it.

# new_venv NAME [PYTHON]: a fresh virtual environment $CI_WORK/NAME with an up-to-date pip, activated.
new_venv() {
  local dir=$CI_WORK/$1 python=${2:-python3}
  "$python" -m venv "$dir"
  # shellcheck disable=SC1091
  . "$dir/bin/activate"
  python -m pip install -q --upgrade pip
}

# install_package NAME [PIP ARGS...] SPEC: pip-installs SPEC (".[test]", say) into the active
# environment, building in a folder of the step's own so that steps running at once never share a
# build tree.
install_package() {
  local name=$1
  shift
  python -m pip install -q -Cbuild-dir="$CI_WORK/build-$name" "$@"
}
