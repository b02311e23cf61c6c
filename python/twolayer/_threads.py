"""How many threads the C++ core uses."""

from __future__ import annotations

import operator
import os
import warnings

from . import _core

ENV_VAR = "TWOLAYER_NUM_THREADS"


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
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"n must be between 1 and {MAX_THREADS}, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads the C++ core may use."""
    return _core.get_num_threads()


def _cpu_count() -> int:
    try:
        count = len(os.sched_getaffinity(0))  # the CPUs this process may run on
    except AttributeError:  # pragma: no cover - not on Linux
        count = os.cpu_count() or 1
    return min(count, MAX_THREADS)


def _default_num_threads() -> int:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return _cpu_count()
    try:
        n = int(value)
        if not 1 <= n <= MAX_THREADS:
            raise ValueError
    except ValueError:
        warnings.warn(
            f"{ENV_VAR}={value!r} is not an integer from 1 to {MAX_THREADS}; "
            f"using {_cpu_count()} threads",
            RuntimeWarning,
            stacklevel=3,
        )
        return _cpu_count()
    return n


_core.set_num_threads(_default_num_threads())
