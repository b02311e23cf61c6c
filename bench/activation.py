"""The activation section: ReLU (chapter 5's net) against the sigmoid on the same batch and weights,
each ReLU result checked against the NumPy reference."""

from __future__ import annotations

import numpy as np
from calls import book_numerical_subset, picked
from common import (
    TOLERANCE,
    Bench,
    Row,
    agrees,
    fmt_ratio,
    fmt_time,
    markdown_table,
    relative_difference,
)

from twolayer import TwoLayerNet
from twolayer._core import PARAM_NAMES
from twolayer.reference import ReferenceNet


def bench_activations(bench: Bench) -> list[Row]:
    """ReLU (chapter 5's net) against the sigmoid, side by side on the same batch and weights: the gradient
    in both dtypes and the numerical gradient. Each ReLU result is checked against the NumPy reference."""
    x_train, t_train = bench.data.x_train, bench.data.t_train
    batch = np.random.default_rng(6).choice(len(x_train), 100)
    x, t = x_train[batch], t_train[batch]
    rows = []
    for what, dtype in (
        ("gradient, batch 100", np.float64),
        ("gradient, batch 100", np.float32),
        ("numerical_gradient, batch 100", np.float64),
    ):
        nets = {
            f: TwoLayerNet(784, 50, 10, activation=f, dtype=dtype, seed=0)
            for f in ("sigmoid", "relu")
        }
        ref = ReferenceNet.from_params(nets["relu"].params, activation="relu")
        if what.startswith("gradient"):
            times, agreement = compare_activation_gradients(bench, nets, ref, x, t, what, dtype)
        else:
            times, agreement = compare_activation_numerical_gradients(bench, nets, ref, x, t)
        rows.append(
            {
                "benchmark": f"activation: {what}",
                "case": "sigmoid and ReLU, float32 pixels",
                "dtype": np.dtype(dtype).name,
                "seconds": times,
                "agreement": agreement,
            }
        )
    return rows


def compare_activation_gradients(bench: Bench, nets, ref, x, t, what, dtype):
    """The gradient's times per activation, and ReLU's gradient checked against the NumPy reference."""
    times = bench.timed(
        {f: (lambda n=n: n.gradient(x, t)) for f, n in nets.items()},
        20 if bench.quick else 400,
        0 if bench.quick else 3,
    )
    difference = relative_difference(nets["relu"].gradient(x, t), ref.gradient(x, t))
    return times, {
        "relu": bench.check(f"relu {what} {np.dtype(dtype).name}", difference, TOLERANCE[dtype])
    }


def compare_activation_numerical_gradients(bench: Bench, nets, ref, x, t):
    """The numerical gradient's times per activation, and ReLU's checked on a few parameters of each
    array against the book's algorithm in NumPy."""
    times = bench.timed(
        {f: (lambda n=n: n.numerical_gradient(x, t)) for f, n in nets.items()},
        2 if bench.quick else 5,
        0 if bench.quick else 10,
    )
    picks = {
        key: np.random.default_rng(7).choice(ref.params[key].size, 4, replace=False)
        for key in PARAM_NAMES
    }
    difference = relative_difference(
        picked(nets["relu"].numerical_gradient(x, t), picks),
        book_numerical_subset(ref, x, t, picks),
    )
    return times, {
        "relu": bench.check(
            "relu numerical gradient against the book's algorithm in NumPy", difference, 1e-6
        )
    }


def activation_table(rows: list[Row], bench: Bench) -> str:
    header = ["benchmark", "dtype", "sigmoid", "ReLU", "sigmoid / ReLU", "ReLU agrees with NumPy"]
    cells = [
        [row["benchmark"].removeprefix("activation: "), row["dtype"]]
        + [fmt_time(row["seconds"]["sigmoid"]), fmt_time(row["seconds"]["relu"])]
        + [fmt_ratio(row["seconds"]["sigmoid"] / row["seconds"]["relu"]), agrees(row)]
        for row in rows
    ]
    return markdown_table(header, "llrrrl", cells)
