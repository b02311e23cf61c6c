"""A pure NumPy implementation of the same network, written the way the book writes it.

It is the yardstick for the C++ core: the tests check every C++ result against it, and ``bench/``
times it side by side with the core. Nothing here is fast on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
from numpy.typing import DTypeLike, NDArray

PARAM_KEYS = ("W1", "b1", "W2", "b2")


def init_params(
    input_size: int, hidden_size: int, output_size: int, weight_init_std: float, seed: int | None
) -> dict[str, NDArray[Any]]:
    """The book's initial parameters (float64): ``weight_init_std * randn`` weights, zero biases.

    ``seed=None`` draws from NumPy's global generator, as the book does; otherwise from
    ``np.random.default_rng(seed)``.
    """
    randn: Callable[..., NDArray[Any]]
    if seed is None:
        randn = np.random.randn
    else:
        rng = np.random.default_rng(seed)
        randn = lambda *shape: rng.standard_normal(shape)  # noqa: E731
    return {
        "W1": weight_init_std * randn(input_size, hidden_size),
        "b1": np.zeros(hidden_size),
        "W2": weight_init_std * randn(hidden_size, output_size),
        "b2": np.zeros(output_size),
    }


def sigmoid(x: NDArray[Any]) -> NDArray[Any]:
    return 1 / (1 + np.exp(-x))


def softmax(x: NDArray[Any]) -> NDArray[Any]:
    x = x - x.max(axis=-1, keepdims=True)  # exp never overflows
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy_error(y: NDArray[Any], t: NDArray[Any]) -> float:
    """The book's loss: rows of t are read through their argmax, then ``-mean(log(y[n, t_n] + 1e-7))``."""
    if y.ndim == 1:
        y, t = y.reshape(1, -1), np.reshape(t, (1, -1))
    if t.size == y.size and t.ndim == y.ndim:  # rows; labels of a one-class net are not rows
        t = t.argmax(axis=1)
    n = y.shape[0]
    return float(-np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n)


def numerical_gradient(f: Callable[[], float], x: NDArray[Any], h: float = 1e-4) -> NDArray[Any]:
    """Central differences of f() over every entry of x, perturbing x in place and restoring it."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        saved = x[idx]
        x[idx] = saved + h
        f_plus = f()
        x[idx] = saved - h
        f_minus = f()
        x[idx] = saved
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


class ReferenceNet:
    """The two-layer network in NumPy: the same API and the same numbers as ``twolayer.TwoLayerNet``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        dtype: DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        self.dtype = np.dtype(dtype)
        sizes = (input_size, hidden_size, output_size)
        self.params = {
            k: v.astype(self.dtype) for k, v in init_params(*sizes, weight_init_std, seed).items()
        }

    @classmethod
    def from_params(cls, params: Mapping[str, NDArray[Any]]) -> ReferenceNet:
        """A reference net holding copies of the given parameters (of any TwoLayerNet)."""
        net = cls.__new__(cls)
        net.params = {k: np.array(params[k]) for k in PARAM_KEYS}
        net.dtype = net.params["W1"].dtype
        return net

    def _forward(self, x: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        p = self.params
        z1 = sigmoid(np.dot(x, p["W1"]) + p["b1"])
        y = softmax(np.dot(z1, p["W2"]) + p["b2"])
        return z1, y

    def predict(self, x: NDArray[Any]) -> NDArray[Any]:
        return self._forward(x)[1]

    def loss(self, x: NDArray[Any], t: NDArray[Any]) -> float:
        return cross_entropy_error(self.predict(x), t)

    def accuracy(self, x: NDArray[Any], t: NDArray[Any]) -> float:
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.sum(y == t) / x.shape[0])

    def gradient(self, x: NDArray[Any], t: NDArray[Any]) -> dict[str, NDArray[Any]]:
        """Backpropagation, with the book's ``dy = (y - t) / N`` (integer labels become one-hot rows)."""
        p = self.params
        z1, y = self._forward(x)
        if t.ndim == 1:
            t = np.eye(y.shape[1], dtype=y.dtype)[t]
        dy = (y - t) / x.shape[0]
        da1 = np.dot(dy, p["W2"].T) * z1 * (1 - z1)
        return {
            "W1": np.dot(x.T, da1),
            "b1": da1.sum(axis=0),
            "W2": np.dot(z1.T, dy),
            "b2": dy.sum(axis=0),
        }

    def numerical_gradient(self, x: NDArray[Any], t: NDArray[Any], h: float = 1e-4) -> dict[str, NDArray[Any]]:
        """The book's numerical gradient: every parameter perturbed by ±h in turn, the whole loss
        evaluated each time."""
        return {k: numerical_gradient(lambda: self.loss(x, t), self.params[k], h) for k in PARAM_KEYS}

