"""The scikit-learn section of bench/run.py: twolayer.sklearn.TwoLayerClassifier against
scikit-learn's MLPClassifier on the same work, side by side.

    python bench/run.py --only scikit-learn              # 3 repeats of each: about a minute
    python bench/run.py --only scikit-learn --threads 1  # all on one thread

The work: MNIST (float32 pixels in [0, 1]), 50 logistic hidden units, plain SGD (no momentum) at
learning rate 0.1 on batches of 100 shuffled every epoch, no regularisation, 3 epochs; the weights
start as each estimator's default (MLPClassifier's Glorot; TwoLayerClassifier's 0.1 * randn). A
third contender does the same epochs in one call of train, which shows what the estimator's call
per epoch costs. Each runs on the run's threads (the core's; BLAS's, through threadpoolctl, for
MLPClassifier). They fit in turns, repeat k of each from random_state k: the row holds the median
fit time of each and their test accuracies, and the run fails if TwoLayerClassifier's mean test
accuracy is more than 1 point below MLPClassifier's (10 points in --quick's 3,000 samples).
Without the sklearn extra the section has no rows.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from typing import Any

import numpy as np
from common import Bench, Row, fmt_ratio, fmt_time, markdown_table

from twolayer import TwoLayerNet
from twolayer.training import train

EPOCHS = 3
BENCHMARK = "scikit-learn: against MLPClassifier"
CONTENDERS = ("TwoLayerClassifier", "train, one call", "MLPClassifier")


class OneTrainCall:
    """The same epochs in one call of train: what the estimator's call of train per epoch, and
    train's evaluation of the training set after each, cost."""

    def __init__(self, seed: int, weight_init_std: float) -> None:
        self.seed, self.weight_init_std = seed, weight_init_std
        self.net: TwoLayerNet | None = None

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        self.net = TwoLayerNet(x.shape[1], 50, 10, self.weight_init_std, seed=self.seed)
        labels = y.astype(np.int64)
        train(
            self.net, x, labels, x[:1], labels[:1], epochs=EPOCHS, batch_size=100,
            learning_rate=0.1, sampling="shuffle", seed=self.seed, eval_samples=1, progress=False,
        )  # fmt: skip

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        assert self.net is not None
        return self.net.accuracy(x, y)


def contenders(seed: int) -> dict[str, Any]:
    """The three set to the same work."""
    from sklearn.neural_network import MLPClassifier

    from twolayer.sklearn import TwoLayerClassifier

    ours = TwoLayerClassifier(
        hidden_size=50, activation="sigmoid", learning_rate=0.1, batch_size=100,
        sampling="shuffle", max_iter=EPOCHS, random_state=seed,
    )  # fmt: skip
    return {
        "TwoLayerClassifier": ours,
        "train, one call": OneTrainCall(seed, ours.get_params()["weight_init_std"]),
        "MLPClassifier": MLPClassifier(
            hidden_layer_sizes=(50,), activation="logistic", solver="sgd", learning_rate="constant",
            learning_rate_init=0.1, momentum=0.0, nesterovs_momentum=False, batch_size=100,
            alpha=0.0, shuffle=True, max_iter=EPOCHS, n_iter_no_change=EPOCHS + 1,
            random_state=seed,
        ),
    }  # fmt: skip


def bench_sklearn(bench: Bench) -> list[Row]:
    """The row of fit times and test accuracies (no row without scikit-learn)."""
    if importlib.util.find_spec("sklearn") is None:
        return []
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    x_train, x_test = bench.data.x_train, bench.data.x_test
    y_train, y_test = bench.data.t_train.argmax(axis=1), bench.data.t_test.argmax(axis=1)
    seconds: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    accuracy: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    with threadpool_limits(bench.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 3 epochs end at max_iter: the work
        for seed in range(1 if bench.quick else 3):
            for name, contender in contenders(seed).items():
                time.sleep(bench.settle)
                start = time.perf_counter()
                contender.fit(x_train, y_train)
                seconds[name].append(time.perf_counter() - start)
                accuracy[name].append(float(contender.score(x_test, y_test)))
    gap = float(np.mean(accuracy["MLPClassifier"]) - np.mean(accuracy["TwoLayerClassifier"]))
    what = "scikit-learn: TwoLayerClassifier's test accuracy below MLPClassifier's"
    return [
        {
            "benchmark": BENCHMARK,
            "case": f"{len(x_train):,} images, 784-50-10 logistic, SGD lr 0.1, batch 100, "
            f"{EPOCHS} epochs",
            "dtype": "float32 pixels",
            "seconds": {name: float(np.median(s)) for name, s in seconds.items()},
            "fits": seconds,
            "test_accuracy": accuracy,
            "agreement": {"accuracy": bench.check(what, gap, 0.1 if bench.quick else 0.01)},
        }
    ]


def sklearn_table(rows: list[Row], bench: Bench) -> str:
    """Each contender's median fit and mean test accuracy, and MLPClassifier's time over each."""
    cells = []
    for row in rows:
        s = row["seconds"]
        for name in CONTENDERS:
            accuracy = float(np.mean(row["test_accuracy"][name]))
            ratio = fmt_ratio(s["MLPClassifier"] / s[name])
            cells.append([row["case"], name, fmt_time(s[name]), ratio, f"{100 * accuracy:.2f}%"])
    header = ["scikit-learn", "estimator", "fit (median)", "MLPClassifier / it", "test accuracy"]
    return markdown_table(header, "llrrr", cells)
