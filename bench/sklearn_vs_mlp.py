"""twolayer.sklearn.TwoLayerClassifier against scikit-learn's MLPClassifier on the same work.

    python bench/sklearn_vs_mlp.py              # MNIST, 3 repeats of each: about a minute, 2 cores
    python bench/sklearn_vs_mlp.py --quick      # 3,000 samples, one repeat: proves that it runs
    python bench/sklearn_vs_mlp.py --threads 1  # all on one thread (threadpoolctl's limits)

The work: MNIST (float32 pixels in [0, 1]), 50 logistic hidden units, plain SGD (no momentum) at
learning rate 0.1 on batches of 100 shuffled every epoch, no regularisation, 3 epochs; the weights
start as each estimator's default (MLPClassifier's Glorot; TwoLayerClassifier's 0.1 * randn). A
third row does the same epochs in one call of train, which shows what the estimator's call per
epoch costs. Each uses every CPU it is given (the core's threads; NumPy's BLAS for MLPClassifier).
They fit in turns, repeat k of each from random_state k, in this one process; the report is the
median fit time of each and the ratio, and the test accuracy of each (the mean over the repeats).
`--threads N` limits all to N threads through threadpoolctl, which limits the core as it limits
BLAS. Needs the sklearn extra.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import twolayer
from twolayer import TwoLayerNet
from twolayer.datasets import cache_dir, load_mnist
from twolayer.sklearn import TwoLayerClassifier
from twolayer.training import train

EPOCHS = 3
WEIGHT_INIT_STD = TwoLayerClassifier().get_params()["weight_init_std"]
DEFAULT_MNIST = Path(os.environ.get("TWOLAYER_MNIST_DIR") or cache_dir())


class OneTrainCall:
    """The same epochs in one call of train: what the estimator's call of train per epoch, and
    train's evaluation of the training set after each, cost."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.net: TwoLayerNet | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        self.net = TwoLayerNet(x.shape[1], 50, 10, WEIGHT_INIT_STD, seed=self.seed)
        train(
            self.net,
            x,
            y.astype(np.int64),
            x[:1],
            y[:1].astype(np.int64),
            epochs=EPOCHS,
            batch_size=100,
            learning_rate=0.1,
            sampling="shuffle",
            seed=self.seed,
            eval_samples=1,
            progress=False,
        )

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        assert self.net is not None
        return self.net.accuracy(x, y)


def estimators(seed: int) -> dict[str, Any]:
    """The estimators set to the same work (the weights start as each one's default)."""
    return {
        "TwoLayerClassifier": TwoLayerClassifier(
            hidden_size=50,
            activation="sigmoid",
            learning_rate=0.1,
            batch_size=100,
            sampling="shuffle",
            max_iter=EPOCHS,
            random_state=seed,
        ),
        "train, one call": OneTrainCall(seed),
        "MLPClassifier": MLPClassifier(
            hidden_layer_sizes=(50,),
            activation="logistic",
            solver="sgd",
            learning_rate="constant",
            learning_rate_init=0.1,
            momentum=0.0,
            nesterovs_momentum=False,
            batch_size=100,
            alpha=0.0,
            shuffle=True,
            max_iter=EPOCHS,
            n_iter_no_change=EPOCHS + 1,
            random_state=seed,
        ),
    }


def run(data: tuple[np.ndarray, ...], repeats: int) -> dict[str, Any]:
    """Fit times and test accuracies of each estimator, repeat by repeat."""
    x_train, y_train, x_test, y_test = data
    seconds: dict[str, list[float]] = {name: [] for name in estimators(0)}
    accuracy: dict[str, list[float]] = {name: [] for name in estimators(0)}
    for seed in range(repeats):
        for name, estimator in estimators(seed).items():
            with warnings.catch_warnings():  # 3 epochs end at max_iter: that is the work
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                estimator.fit(x_train, y_train)
                seconds[name].append(time.perf_counter() - start)
            accuracy[name].append(float(estimator.score(x_test, y_test)))
    ours, theirs = (float(np.median(seconds[n])) for n in ("TwoLayerClassifier", "MLPClassifier"))
    return {
        "benchmark": "scikit-learn: TwoLayerClassifier against MLPClassifier",
        "case": f"{len(x_train):,} samples, 784-50-10 logistic, SGD lr 0.1, batch 100, "
        f"{EPOCHS} epochs",
        "repeats": repeats,
        "threads": twolayer.get_num_threads(),
        "seconds": seconds,
        "test_accuracy": accuracy,
        "median_seconds": {name: float(np.median(s)) for name, s in seconds.items()},
        "speedup": theirs / ours,
        "accuracy_gap_points": 100
        * (
            float(np.mean(accuracy["TwoLayerClassifier"]))
            - float(np.mean(accuracy["MLPClassifier"]))
        ),
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        "| estimator | fit (median) | test accuracy |",
        "|---|--:|--:|",
    ]
    for name, seconds in result["median_seconds"].items():
        accuracy = float(np.mean(result["test_accuracy"][name]))
        lines.append(f"| {name} | {seconds:.2f} s | {100 * accuracy:.2f}% |")
    lines.append(
        f"\nTwoLayerClassifier fits {result['speedup']:.1f}x faster; accuracy "
        f"{result['accuracy_gap_points']:+.2f} points ({result['case']}, {result['repeats']} "
        f"repeats, {result['threads']} threads)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="the MNIST folder")
    parser.add_argument("--repeats", type=int, default=3, help="fits of each estimator")
    parser.add_argument("--quick", action="store_true", help="3,000 samples, one repeat")
    parser.add_argument("--threads", type=int, help="limit both estimators to this many threads")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args(argv)
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir=args.mnist, download=False)
    data: tuple[np.ndarray, ...] = (x_train, y_train, x_test, y_test)
    if args.quick:
        data = (x_train[:3000], y_train[:3000], x_test[:1000], y_test[:1000])
    with threadpool_limits(args.threads):
        result = run(data, 1 if args.quick else args.repeats)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
