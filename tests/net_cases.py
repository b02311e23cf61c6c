"""The small net and batch of the bad-input, layout and non-finite tests, the methods that take a
batch, and whether the AVX2 kernels can run here."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from twolayer import TwoLayerNet, show_config

D, H, C, N = 5, 4, 3, 6  # distinct sizes, so that messages show which one they mean


def make_net(dtype: Any = np.float64) -> TwoLayerNet:
    return TwoLayerNet(D, H, C, weight_init_std=0.5, dtype=dtype, seed=1)


def make_batch() -> tuple[np.ndarray, np.ndarray]:
    """Small integers, a third of them zero: every dtype under test holds them exactly."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 4, size=(N, D)).astype(np.float64)
    t = np.array([0, 2, 1, 1, 0, 2])
    return x, t


BATCH_METHODS: dict[str, Callable[[TwoLayerNet, Any, Any], Any]] = {
    "predict": lambda net, x, t: net.predict(x),
    "loss": lambda net, x, t: net.loss(x, t),
    "accuracy": lambda net, x, t: net.accuracy(x, t),
    "gradient": lambda net, x, t: net.gradient(x, t),
    "numerical_gradient": lambda net, x, t: net.numerical_gradient(x, t),
    "numerical_gradient_naive": lambda net, x, t: net.numerical_gradient(x, t, method="naive"),
}
TARGET_METHODS = {k: v for k, v in BATCH_METHODS.items() if k != "predict"}


def avx2_kernels_run_here() -> bool:
    """Whether this build has the AVX2 kernels and this CPU runs them, as the core reports it: where
    not, the portable kernels are the only ones (and every other test runs on them)."""
    config = show_config("dicts")
    return bool(config["build"]["avx2_kernels_built"] and config["runtime"]["cpu_has_avx2_fma"])
