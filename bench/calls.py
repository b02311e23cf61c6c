"""The sections of single calls: `gradient` on one batch, `accuracy` over the test and training
sets, and `numerical_gradient` against the book's algorithm. Their rows go to the main table."""

from __future__ import annotations

import numpy as np
from common import TOLERANCE, Bench, Row, relative_difference, tensor_to_numpy
from nets import TorchNet

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet, numerical_gradient


def nets_for(dtype, torch_ok, train_on=None):
    """Our net, NumPy's and PyTorch's with the same weights; with `train_on` (x, t), after 30 steps
    of SGD on its first 3,000 samples, so that the predictions differ from sample to sample."""
    ours = TwoLayerNet(784, 50, 10, dtype=dtype, seed=0)
    if train_on is not None:
        x, t = train_on
        for i in range(30):
            ours.train_step(
                x[100 * i : 100 * i + 100], t[100 * i : 100 * i + 100], 0.1, return_loss=False
            )
    nets = {"ours": ours, "numpy": ReferenceNet.from_params(ours.params)}
    if torch_ok:
        nets["torch"] = TorchNet(ours.params, dtype)
    return nets


def compare(bench: Bench, nets, call, what, tolerance, timing, difference=None):
    """The median seconds of call(net) for each of `nets` (Bench.timed with `timing`: repeats and
    minimum seconds), and each result checked against the "numpy" net's: `difference`
    (relative_difference by default) within `tolerance`."""
    times = bench.timed({name: (lambda n=n: call(n)) for name, n in nets.items()}, *timing)
    difference = difference or (lambda a, b: relative_difference(tensor_to_numpy(a), b))
    expected = call(nets["numpy"])
    agreement = {
        name: bench.check(f"{what} {name}", difference(call(n), expected), tolerance)
        for name, n in nets.items()
        if name != "numpy"
    }
    return times, agreement


def bench_gradient(bench: Bench) -> list[Row]:
    x_train, t_train = bench.data.x_train, bench.data.t_train
    rng = np.random.default_rng(1)
    batch = rng.choice(len(x_train), 100)
    rows = []
    cases = [
        ("float64 net, float32 pixels (the book's)", np.float64, np.float32),
        ("float64 net, float64 pixels", np.float64, np.float64),
        ("float32 net, float32 pixels", np.float32, np.float32),
    ]
    for label, dtype, x_dtype in cases:
        x, t = x_train[batch].astype(x_dtype), t_train[batch]
        times, agreement = compare(
            bench,
            nets_for(dtype, bench.torch_ok),
            lambda n: n.gradient(x, t),
            f"gradient {label}",
            TOLERANCE[dtype],
            (20, 0) if bench.quick else (400, 3),
        )
        rows.append(
            {
                "benchmark": "gradient, batch 100",
                "case": label,
                "dtype": np.dtype(dtype).name,
                "seconds": times,
                "agreement": agreement,
            }
        )
    return rows


def bench_accuracy(bench: Bench) -> list[Row]:
    x_train, t_train, x_test, t_test = bench.data.arrays
    rows = []
    for dtype in (np.float64, np.float32):
        nets = nets_for(dtype, bench.torch_ok, train_on=(x_train, t_train))
        for label, x, t in (
            ("10,000 test images", x_test, t_test),
            ("60,000 train images", x_train, t_train),
        ):
            # Accuracy is a count: allow one sample to flip on a near-tie of two classes.
            times, agreement = compare(
                bench,
                nets,
                lambda n: n.accuracy(x, t),
                f"accuracy {label} {np.dtype(dtype).name}",
                1.0,
                (3, 0) if bench.quick else (15, 4),
                difference=lambda a, b: abs(a - b) * len(x),
            )
            y_ours, y_ref = nets["ours"].predict(x[:2000]), nets["numpy"].predict(x[:2000])
            agreement["ours predict"] = bench.check(
                f"predict {np.dtype(dtype).name}",
                relative_difference(y_ours, y_ref),
                TOLERANCE[dtype],
            )
            rows.append(
                {
                    "benchmark": "accuracy",
                    "case": f"{label} ({len(x):,} rows)" if bench.quick else label,
                    "dtype": np.dtype(dtype).name,
                    "seconds": times,
                    "agreement": agreement,
                }
            )
    return rows


def picked(grads, picks):
    """The picked entries (flat indices per array) of a dict of gradients, in order."""
    return np.concatenate([grads[key].reshape(-1)[index] for key, index in picks.items()])


def book_numerical_subset(net, x, t, picks):
    """The book's numerical gradient of net's picked parameters (flat indices per array), in order."""
    return np.concatenate(
        [
            numerical_gradient(lambda: net.loss(x, t), net.params[key], indices=index)
            for key, index in picks.items()
        ]
    )


def pick_parameters(rng, params, x, quick):
    """Flat indices of parameters spread over all four arrays, per array; for W1, in rows of pixels
    that the batch x has non-zero."""
    busy_pixels = np.flatnonzero((x != 0).sum(axis=0) > 0)
    per_key = {
        "W1": 4 if quick else 24,
        "b1": 2 if quick else 6,
        "W2": 2 if quick else 6,
        "b2": 1 if quick else 4,
    }
    picks = {}
    for key, count in per_key.items():
        if key == "W1":
            picks[key] = rng.choice(busy_pixels, count) * 50 + rng.integers(0, 50, count)
        else:
            picks[key] = rng.choice(params[key].size, count, replace=False)
    return picks


def bench_numerical_gradient(bench: Bench) -> list[Row]:
    """The incremental method over all parameters against the book's algorithm, which is timed on a
    subset of parameters and scaled: each parameter costs it two whole losses, so its time is
    exactly linear in the number of parameters."""
    x_train, t_train = bench.data.x_train, bench.data.t_train
    rng = np.random.default_rng(2)
    batch = rng.choice(len(x_train), 100)
    x, t = x_train[batch], t_train[batch]
    ours = TwoLayerNet(784, 50, 10, seed=0)
    ref = ReferenceNet.from_params(ours.params)
    total = sum(v.size for v in ours.params.values())
    picks = pick_parameters(rng, ours.params, x, bench.quick)
    times = bench.timed(
        {
            "ours": lambda: ours.numerical_gradient(x, t),
            "ours, the book's algorithm (subset)": lambda: book_numerical_subset(ours, x, t, picks),
            "numpy (subset)": lambda: book_numerical_subset(ref, x, t, picks),
        },
        2 if bench.quick else 5,
        0 if bench.quick else 10,
    )
    count = sum(len(index) for index in picks.values())
    scale = total / count
    ours_subset = picked(ours.numerical_gradient(x, t), picks)
    ref_subset = book_numerical_subset(ref, x, t, picks)
    agreement = {
        "ours": bench.check(
            "numerical gradient, ours against the book's algorithm in NumPy",
            relative_difference(ours_subset, ref_subset),
            1e-6,
        )
    }
    seconds = {
        "ours": times["ours"],
        "numpy": times["numpy (subset)"] * scale,
        "ours (naive)": times["ours, the book's algorithm (subset)"] * scale,
    }
    return [
        {
            "benchmark": "numerical_gradient, batch 100",
            "case": "float64 net, float32 pixels",
            "dtype": "float64",
            "seconds": seconds,
            "agreement": agreement,
            "note": f"NumPy and the C++ naive method timed on {count} of {total:,} parameters, scaled by {scale:.0f}",
        }
    ]
