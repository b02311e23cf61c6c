"""What every section of bench/run.py shares: the data, the machine, a `Bench` that times and checks
(and collects disagreements), and the tables' formatting. No state outside a `Bench`."""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import twolayer
from twolayer.datasets import cache_dir, load_mnist
from twolayer.reference import mnist_like_batch

# Where `twolayer train` keeps MNIST, unless $TWOLAYER_MNIST_DIR says otherwise.
DEFAULT_MNIST = Path(os.environ.get("TWOLAYER_MNIST_DIR") or cache_dir())
TOLERANCE = {np.float64: 1e-9, np.float32: 1e-3}  # for results of the same computation
# Seconds of rest between implementations (see Bench.timed); a full run's, --quick rests less.
SETTLE, QUICK_SETTLE = 0.2, 0.01
Row = dict[str, Any]  # one row of the tables and of the JSON's "rows"


@dataclass(frozen=True)
class Data:
    """MNIST as the book loads it (float32 pixels in [0, 1], one-hot float32 label rows), or its
    random stand-in; `from_files` says which, `source` says it in words."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    source: str
    from_files: bool

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.x_train, self.t_train, self.x_test, self.t_test


def load_data(mnist_dir: Path, quick: bool) -> Data:
    """MNIST from `mnist_dir`; random MNIST-like data (81% zeros) when the files are missing."""
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(
            normalize=True, one_hot_label=True, data_dir=mnist_dir, download=False
        )
        source, from_files = f"MNIST from {mnist_dir}", True
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        x_train, x_test = (mnist_like_batch(rng, n, 784, np.float32) for n in (60000, 10000))
        t_train, t_test = (
            np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)] for n in (60000, 10000)
        )
        source, from_files = f"random MNIST-like data (no MNIST files in {mnist_dir})", False
    if quick:  # small, so that the per-epoch accuracy of the quick book run stays quick
        x_train, t_train, x_test, t_test = (
            x_train[:3000],
            t_train[:3000],
            x_test[:1000],
            t_test[:1000],
        )
    return Data(x_train, t_train, x_test, t_test, source, from_files)


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine(threads: int, torch_version: str | None) -> dict[str, Any]:
    """The machine and the build as twolayer.show_config() reports them (the kernels the core
    runs, not what the CPU could run), for the JSON and the heading."""
    config = twolayer.show_config("dicts")
    runtime = config["runtime"]
    kernels = set(runtime["kernels"].values())
    return {
        "cpu": runtime["cpu"],
        "cpus_available": available_cpus(),
        "threads": threads,
        "kernels": kernels.pop() if len(kernels) == 1 else str(runtime["kernels"]),
        "kernels_because": runtime["kernels_because"],
        "python": config["python"]["version"],
        "numpy": config["numpy"]["version"],
        "twolayer": config["twolayer"]["version"],
        "torch": torch_version,
        "build": config["build"],
    }


@dataclass
class Bench:
    """A run's settings and data; times implementations side by side and checks that they agree,
    keeping the disagreements in `failures`."""

    data: Data
    quick: bool
    threads: int
    torch_ok: bool
    mnist: Path
    peak: dict[str, float] = field(default_factory=dict)  # GFLOP/s per dtype, bench_peak's
    failures: list[str] = field(default_factory=list)

    @property
    def settle(self) -> float:
        return QUICK_SETTLE if self.quick else SETTLE

    def timed(self, fns: dict[str, Callable[[], object]], repeats: int, min_seconds: float = 0.0):
        """Median seconds per call of each function. The functions take turns in blocks of calls
        (at least `repeats` calls each, more until `min_seconds` have passed), with a rest of
        `settle` seconds between blocks: after a call, OpenBLAS's and PyTorch's worker threads spin
        a while waiting for more work, and on a machine of few cores they would otherwise slow the
        next implementation down. One warm-up call each first."""
        for f in fns.values():
            f()
        samples: dict[str, list[float]] = {name: [] for name in fns}
        rounds = 5
        per_block = max(1, -(-repeats // rounds))
        block_seconds = min_seconds / rounds / max(len(fns), 1)
        for r in range(rounds):
            order = list(fns.items()) if r % 2 == 0 else list(fns.items())[::-1]
            for name, f in order:
                time.sleep(self.settle)
                block_start = time.perf_counter()
                calls = 0
                while calls < per_block or time.perf_counter() - block_start < block_seconds:
                    t0 = time.perf_counter()
                    f()
                    samples[name].append(time.perf_counter() - t0)
                    calls += 1
        return {name: float(np.median(s)) for name, s in samples.items()}

    def check(self, what: str, difference: float, tolerance: float) -> dict[str, Any]:
        ok = bool(difference <= tolerance)
        if not ok:
            self.failures.append(f"{what}: relative difference {difference:.3g} > {tolerance:.3g}")
        return {"max_relative_difference": difference, "tolerance": tolerance, "agree": ok}


def bench_peak(bench: Bench) -> dict[str, float]:
    """The machine's practical peak: a large NumPy matmul, GFLOP/s per dtype."""
    size = 256 if bench.quick else 2048
    peak = {}
    for dtype in (np.float64, np.float32):
        a = np.random.default_rng(5).random((size, size)).astype(dtype)
        seconds = bench.timed({"numpy": lambda: a @ a}, 3 if bench.quick else 5)["numpy"]
        peak[np.dtype(dtype).name] = 2 * size**3 / seconds / 1e9
    return peak


def relative_difference(a, b) -> float:
    """max |a - b| / max |b| over arrays (or dicts of arrays)."""
    if isinstance(b, dict):
        return max(relative_difference(a[k], b[k]) for k in b)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def tensor_to_numpy(value):
    return {k: np.asarray(v) for k, v in value.items()} if isinstance(value, dict) else value


def peak_memory(run: Callable[[], Any]) -> tuple[Any, float | None]:
    """run()'s result and the peak resident memory it added, in MB (Linux; None elsewhere)."""

    def status() -> dict[str, str]:
        lines = Path("/proc/self/status").read_text().splitlines()
        return dict(line.split(":", 1) for line in lines if ":" in line)

    try:
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark (VmHWM)
        before = int(status()["VmRSS"].split()[0])
    except OSError:
        return run(), None
    result = run()
    peak = int(status()["VmHWM"].split()[0])
    return result, max(peak - before, 0) / 1024


# ---------------------------------------------------------------------------------------------
# The tables


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def ratio(row: Row, other: str) -> float | None:
    s = row["seconds"]
    return s[other] / s["ours"] if other in s and "ours" in s else None


def fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:,.1f}×"


def agrees(row: Row) -> str:
    return "yes" if all(a["agree"] for a in row["agreement"].values()) else "**NO**"


def markdown_table(header: list[str], align: str, rows: list[list[str]]) -> str:
    """A markdown table: the `header` cells, `align` (a letter per column: l or r) and rows of cells."""
    separator = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = [" | ".join(header), *(" | ".join(cells) for cells in rows)]
    return "\n".join([f"| {lines[0]} |", separator, *(f"| {line} |" for line in lines[1:])])


def table(rows: list[Row]) -> str:
    """The main table: each row's implementations side by side, their ratios and agreement."""
    header = ["benchmark", "case", "dtype", "ours", "NumPy", "NumPy / ours", "PyTorch"]
    header += ["PyTorch / ours", "agree"]
    cells = [
        [row["benchmark"], row["case"], row["dtype"], fmt_time(row["seconds"].get("ours"))]
        + [fmt_time(row["seconds"].get("numpy")), fmt_ratio(ratio(row, "numpy"))]
        + [fmt_time(row["seconds"].get("torch")), fmt_ratio(ratio(row, "torch")), agrees(row)]
        for row in rows
    ]
    return markdown_table(header, "lllrrrrrl", cells)
