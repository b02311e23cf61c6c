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

# pyenv_python X.Y: the newest Python X.Y that pyenv has installed (under $PYENV_ROOT, `pyenv root`
# or ~/.pyenv, whichever is found first).
pyenv_python() {
  local root python
  root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
  python=$(ls -d "$root/versions/$1".*/bin/python 2>/dev/null | sort -V | tail -n 1)
  [[ -n $python ]] || { echo "no Python $1 in $root/versions" >&2; return 1; }
  echo "$python"
}

# cmake_cache_has NAME REGEX: fails unless a line of the CMake cache of install_package NAME's build
# matches REGEX whole (a build option really in effect, say, or the compiler really used).
cmake_cache_has() {
  grep -qxE "$2" "$CI_WORK/build-$1/CMakeCache.txt" || {
    echo "the $1 build's CMake cache lacks $2" >&2
    return 1
  }
}
