"""twolayer.show_config(): how this installation was built and what it runs, for bug reports.

The build and the kernel sets come from the C++ core itself (``_core.build_info()``), so a build
without the AVX2 kernels, a CPU without AVX2 and ``TWOLAYER_SIMD=0`` each read as what they are.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _core
from ._cpus import available_cpus
from ._threads import get_num_threads
from ._version import __version__

# The CPU's model name is on the first lines of /proc/cpuinfo: read no more than this of it.
CPUINFO_BYTES = 64 * 1024
SIMD_VAR = "TWOLAYER_SIMD"


def show_config(mode: Literal["stdout", "dicts"] = "stdout") -> dict[str, Any]:
    """How twolayer was built and what it runs here, as numpy.show_config() does for NumPy.

    Returns a dict of sections (``twolayer``, ``build``, ``runtime``, ``python``, ``numpy``,
    ``threadpools``); with ``mode="stdout"`` (the default) also prints it, for pasting into a bug
    report. ``runtime["kernels"]`` names the kernel set each dtype runs ("avx2" or "portable") and
    ``runtime["kernels_because"]`` says why. Reads only; changes nothing.
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    core = _core.build_info()
    config: dict[str, Any] = {
        "twolayer": {"version": __version__, "location": str(Path(__file__).resolve().parent)},
        "build": {k: core[k] for k in ("compiler", "build_type", "cplusplus")}
        | {
            "avx2_kernels_built": core["avx2_built"],
            "native": core["native"],
            "sanitizers": core["sanitized"],
        },
        "runtime": _runtime(core),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": platform.platform(),
        },
        "numpy": {"version": np.__version__},
        "threadpools": _threadpools(),
    }
    if mode == "stdout":
        print(_as_text(config))
    return config


def _runtime(core: dict[str, Any]) -> dict[str, Any]:
    kernels = dict(core["kernels"])
    return {
        "cpu": _cpu_name(),
        "machine": platform.machine(),
        "cpu_has_avx2_fma": core["cpu_avx2_fma"],
        "kernels": kernels,
        "kernels_because": _because(core, kernels),
        SIMD_VAR: os.environ.get(SIMD_VAR),
        "threads": get_num_threads(),
        "cpus_available": available_cpus(),
    }


def _because(core: dict[str, Any], kernels: dict[str, str]) -> str:
    if set(kernels.values()) == {"avx2"}:
        return "the AVX2/FMA kernels are built in and this CPU has AVX2 and FMA"
    if not core["avx2_built"]:
        return "built without the AVX2 kernels: TWOLAYER_AVX2=OFF, or not an x86-64 build"
    if not core["cpu_avx2_fma"]:
        return "this CPU or its OS lacks AVX2 or FMA"
    return f"{SIMD_VAR}=0 (or off) turned the AVX2 kernels off when the core started"


def _cpu_name() -> str:
    """The CPU's model name where the system says it, else the platform's processor name."""
    try:
        with open("/proc/cpuinfo", "rb") as f:
            head = f.read(CPUINFO_BYTES).decode("utf-8", "replace")
    except OSError:
        head = ""
    for line in head.splitlines():
        if line.startswith("model name") and ":" in line:
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _threadpools() -> list[dict[str, Any]] | str:
    """threadpoolctl's view of the thread pools loaded (NumPy's BLAS, twolayer's core, ...)."""
    try:
        from threadpoolctl import threadpool_info  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return "threadpoolctl is not installed"
    return [dict(pool) for pool in threadpool_info()]


def _as_text(value: Any, indent: str = "") -> str:
    """A nested dict or list as indented "key: value" lines."""
    lines = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        label = f"{indent}{key}:" if isinstance(value, dict) else f"{indent}-"
        if isinstance(item, (dict, list)) and item:
            lines += [label, _as_text(item, indent + "  ")]
        else:
            lines.append(f"{label} {item}")
    return "\n".join(lines)
