"""The scaling section: the gradient over batch and hidden sizes against NumPy, in GFLOP/s against
the machine's peak."""

from __future__ import annotations

import numpy as np
from common import (
    TOLERANCE,
    Bench,
    Row,
    fmt_ratio,
    fmt_time,
    markdown_table,
    ratio,
    relative_difference,
)

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet


def bench_scaling(bench: Bench) -> list[Row]:
    """The gradient over batch and hidden sizes, float64 and float32 pixels and nets, against NumPy;
    GFLOP/s counted as the dense products' 2·N·(2·D·H + 3·H·C) flops over the time (for the
    sparse kernels, 'dense-equivalent' GFLOP/s)."""
    x_train, t_train = bench.data.x_train, bench.data.t_train
    rows = []
    batches = (1, 100) if bench.quick else (1, 100, 1000, 10000)
    hiddens = (50,) if bench.quick else (50, 100, 1000)
    for dtype in (np.float64, np.float32):
        for hidden in hiddens:
            for n in batches:
                ours = TwoLayerNet(784, hidden, 10, dtype=dtype, seed=0)
                ref = ReferenceNet.from_params(ours.params)
                batch = np.random.default_rng(4).choice(len(x_train), n)
                x, t = x_train[batch].astype(dtype), t_train[batch]
                work = n * hidden * 784 * 10  # scalar multiply-adds of the first layer, roughly
                repeats = 3 if bench.quick else max(3, min(200, int(2e9 / work)))
                times = bench.timed(
                    {"ours": lambda: ours.gradient(x, t), "numpy": lambda: ref.gradient(x, t)},
                    repeats,
                    0 if bench.quick else 1,
                )
                flops = 2 * n * (2 * 784 * hidden + 3 * hidden * 10)
                agreement = {
                    "ours": bench.check(
                        f"scaling gradient {np.dtype(dtype).name} N={n} H={hidden}",
                        relative_difference(ours.gradient(x, t), ref.gradient(x, t)),
                        TOLERANCE[dtype],
                    )
                }
                rows.append(
                    {
                        "benchmark": "scaling: gradient",
                        "case": f"batch {n}, hidden {hidden}",
                        "dtype": np.dtype(dtype).name,
                        "batch": n,
                        "hidden": hidden,
                        "seconds": times,
                        "gflops": {k: flops / v / 1e9 for k, v in times.items()},
                        "agreement": agreement,
                    }
                )
    return rows


def scaling_table(rows: list[Row], bench: Bench) -> str:
    """The scaling rows, GFLOP/s with their share of the measured peak; in --quick mode without the
    share (the peak of a small matmul on a busy machine is no yardstick)."""
    peak, quick = bench.peak, bench.quick
    share = "" if quick else " (% of peak)"
    header = ["dtype", "batch", "hidden", "ours", "NumPy", "NumPy / ours"]
    header += [f"ours GFLOP/s{share}", f"NumPy GFLOP/s{share}"]
    cells = []
    for row in rows:
        p, g, s = peak[row["dtype"]], row["gflops"], row["seconds"]
        cells.append(
            [row["dtype"], f"{row['batch']:,}", f"{row['hidden']:,}", fmt_time(s["ours"])]
            + [fmt_time(s["numpy"]), fmt_ratio(ratio(row, "numpy"))]
            + [
                f"{g[k]:.1f}" + ("" if quick else f" ({100 * g[k] / p:.0f}%)")
                for k in ("ours", "numpy")
            ]
        )
    return markdown_table(header, "lrrrrrrr", cells)
