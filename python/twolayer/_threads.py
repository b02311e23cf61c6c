"""How many threads the C++ core uses."""

from __future__ import annotations

import os
import warnings

from . import _core

ENV_VAR = "TWOLAYER_NUM_THREADS"


def set_num_threads(n: int) -> None:
    """Let the C++ core use up to ``n`` threads (``n >= 1``), the calling thread included."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads the C++ core may use."""
    return _core.get_num_threads()


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _default_num_threads() -> int:
    value = os.environ.get(ENV_VAR)
    if value is None:
        return _cpu_count()
    try:
        n = int(value)
        if n < 1:
            raise ValueError
    except ValueError:
        warnings.warn(
            f"{ENV_VAR}={value!r} is not a positive integer; using {_cpu_count()} threads",
            RuntimeWarning,
            stacklevel=3,
        )
        return _cpu_count()
    return n


_core.set_num_threads(_default_num_threads())
