"""How many threads the C++ core uses."""

from __future__ import annotations

import operator
import os
import warnings

from . import _core
from ._cpus import available_cpus
from ._version import __version__

ENV_VAR = "TWOLAYER_NUM_THREADS"
OMP_VAR = "OMP_NUM_THREADS"  # the convention of NumPy's BLAS, scikit-learn and PyTorch


# More threads than this cannot help on any machine and would only cost memory (each worker gets
# its own scratch space).
MAX_THREADS = 1024


def set_num_threads(n: int) -> None:
    """Let the C++ core use up to ``n`` threads (``1 <= n <= 1024``), the calling thread included.

    Takes effect at the next call into the core. If the system refuses to start that many
    threads, the core runs on those it could start.
    """
    if isinstance(n, bool):
        raise TypeError("n must be an int, got bool")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an int, got {type(n).__name__}") from None
    _core.set_num_threads(check_thread_count(n))


def check_thread_count(n: int, name: str = "n") -> int:
    """`n` if the core may use that many threads, else a ValueError naming `name` (the command
    line, whose errors name the option already, passes "")."""
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{name} must be between 1 and {MAX_THREADS}, got {n}".lstrip())
    return n


def get_num_threads() -> int:
    """The number of threads the C++ core may use."""
    return _core.get_num_threads()


def _from_env(name: str) -> int | None:
    """The thread count in environment variable `name`; None when it is unset, or (with a
    warning) when it is not a count. OMP_NUM_THREADS may list counts for nested levels ("4,2"):
    the first is the outer level's."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    first = value.split(",")[0] if name == OMP_VAR else value
    try:
        n = check_thread_count(int(first))
    except ValueError:
        warnings.warn(
            f"{name}={value!r} is not an integer from 1 to {MAX_THREADS}; ignoring it",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return n


def default_num_threads() -> int:
    """The thread count the core starts with: $TWOLAYER_NUM_THREADS, else $OMP_NUM_THREADS, else
    the CPUs this process may use (its affinity mask, capped by its cgroup's CPU quota)."""
    for name in (ENV_VAR, OMP_VAR):
        n = _from_env(name)
        if n is not None:
            return n
    return min(available_cpus(), MAX_THREADS)


def _register_with_threadpoolctl() -> None:
    """Make the core's pool one of the libraries threadpoolctl lists and limits, when threadpoolctl
    (3.5 or later, which has ``register``) is installed: whoever calls threadpool_limits has it."""
    try:
        import threadpoolctl  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return
    if not hasattr(threadpoolctl, "register"):
        return

    class TwolayerController(threadpoolctl.LibController):  # type: ignore[misc]
        """threadpoolctl's controller of the core: found among the loaded libraries as the
        extension (twolayer/_core*.so) that exports twolayer_get_num_threads."""

        user_api = "twolayer"
        internal_api = "twolayer"
        filename_prefixes = ("_core",)
        check_symbols = ("twolayer_get_num_threads",)

        def get_num_threads(self) -> int:
            return get_num_threads()

        def set_num_threads(self, num_threads: int) -> None:
            set_num_threads(num_threads)

        def get_version(self) -> str:
            return __version__

    threadpoolctl.register(TwolayerController)


_core.set_num_threads(default_num_threads())
_register_with_threadpoolctl()
