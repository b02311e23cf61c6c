"""A pure NumPy implementation of the same network, written the way the book writes it.

It is the yardstick for the C++ core: the tests check every C++ result against it, and ``bench/``
times it side by side with the core. Nothing here is fast on purpose. Besides the network: the
book's numerical gradient and training loop, for any network with the book's API, and random
MNIST-like batches to feed them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ._core import PARAM_NAMES
from .net import initial_params


def sigmoid(x: NDArray[Any]) -> NDArray[Any]:
    return 1 / (1 + np.exp(-x))


def relu(x: NDArray[np.floating]) -> NDArray[np.floating]:
    """The book's Relu layer (ch05 layers.py): entries with x <= 0 become 0."""
    out = x.copy()
    out[x <= 0] = 0
    return out


ACTIVATIONS = {"sigmoid": sigmoid, "relu": relu}


def softmax(x: NDArray[Any]) -> NDArray[Any]:
    x = x - x.max(axis=-1, keepdims=True)  # exp never overflows
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy_error(y: NDArray[Any], t: NDArray[Any]) -> float:
    """The book's loss: rows of t are read through their argmax, then ``-mean(log(y[n, t_n] +
    1e-7))``."""
    if y.ndim == 1:
        y, t = y.reshape(1, -1), np.reshape(t, (1, -1))
    if t.size == y.size and t.ndim == y.ndim:  # rows; labels of a one-class net are not rows
        t = t.argmax(axis=1)
    n = y.shape[0]
    return float(-np.sum(np.log(y[np.arange(n), t] + 1e-7)) / n)


def numerical_gradient(
    f: Callable[[], float], x: NDArray[Any], h: float = 1e-4, indices: Sequence[int] | None = None
) -> NDArray[Any]:
    """The book's central differences of f() over every entry of x (or over the flat `indices` of
    x only, returned in their order), perturbing x in place and restoring it."""
    flat = x.reshape(-1)  # a view: perturbing it perturbs x
    grad = np.zeros(flat.size if indices is None else len(indices), dtype=x.dtype)
    for out, i in enumerate(range(flat.size) if indices is None else indices):
        saved = flat[i]
        flat[i] = saved + h
        f_plus = f()
        flat[i] = saved - h
        f_minus = f()
        flat[i] = saved
        grad[out] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(x.shape) if indices is None else grad


def train_like_the_book(
    net: Any,
    x_train: NDArray[Any],
    t_train: NDArray[Any],
    batches: Sequence[NDArray[Any]],
    learning_rate: float = 0.1,
    *,
    numerical: bool = False,
    iter_per_epoch: int | None = None,
    x_test: NDArray[Any] | None = None,
    t_test: NDArray[Any] | None = None,
) -> tuple[list[float], list[float], list[float]]:
    """ch04/train_neuralnet.py on any network with the book's API: SGD on the given mini-batches
    (index arrays into x_train), recording each mini-batch's loss and, every `iter_per_epoch`
    iterations if given, the accuracy on all of the train and test images.
    Returns (train_loss_list, train_acc_list, test_acc_list)."""
    train_loss_list: list[float] = []
    train_acc_list: list[float] = []
    test_acc_list: list[float] = []
    for i, batch_mask in enumerate(batches):
        x_batch = x_train[batch_mask]
        t_batch = t_train[batch_mask]
        grad = (
            net.numerical_gradient(x_batch, t_batch)
            if numerical
            else net.gradient(x_batch, t_batch)
        )
        for key in PARAM_NAMES:
            net.params[key] -= learning_rate * grad[key]
        train_loss_list.append(net.loss(x_batch, t_batch))
        if iter_per_epoch and i % iter_per_epoch == 0:
            train_acc_list.append(net.accuracy(x_train, t_train))
            test_acc_list.append(net.accuracy(x_test, t_test))
    return train_loss_list, train_acc_list, test_acc_list


def mnist_like_batch(
    rng: np.random.Generator, n: int, d: int, dtype: DTypeLike = np.float64
) -> NDArray[Any]:
    """n random inputs of size d in [0, 1] with about 81% zeros, like normalised MNIST pixels."""
    x = rng.random((n, d))
    x[rng.random((n, d)) < 0.81] = 0
    return x.astype(dtype)


class ReferenceNet:
    """The two-layer network in NumPy: the same API and the same numbers as
    ``twolayer.TwoLayerNet``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        activation: str = "sigmoid",
        dtype: DTypeLike = np.float64,
        seed: int | None = None,
    ) -> None:
        self.activation = activation
        self.dtype = np.dtype(dtype)
        sizes = (input_size, hidden_size, output_size)
        self.params = {
            k: v.astype(self.dtype)
            for k, v in initial_params(*sizes, weight_init_std, seed).items()
        }

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, NDArray[Any]],
        dtype: DTypeLike | None = None,
        *,
        activation: str = "sigmoid",
    ) -> ReferenceNet:
        """A reference net holding copies of the given parameters (of any TwoLayerNet), converted
        to `dtype` if given, with the given activation."""
        net = cls.__new__(cls)
        net.activation = activation
        net.params = {k: np.array(params[k], dtype=dtype) for k in PARAM_NAMES}
        net.dtype = net.params["W1"].dtype
        return net

    def _forward(self, x: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        p = self.params
        z1 = ACTIVATIONS[self.activation](np.dot(x, p["W1"]) + p["b1"])
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
        """Backpropagation, with the book's ``dy = (y - t) / N`` (integer labels become one-hot
        rows)."""
        z1, y = self._forward(x)
        if t.ndim == 1:
            t = np.eye(y.shape[1], dtype=y.dtype)[t]
        return self._backward(x, z1, (y - t) / x.shape[0])

    def exact_gradient(self, x: NDArray[Any], t: NDArray[Any]) -> dict[str, NDArray[Any]]:
        """The exact derivative of the book's loss ``-mean(log(y[n, t_n] + 1e-7))`` for integer
        labels t: backpropagation with each sample's term scaled by r_n = y_n / (y_n + 1e-7), y_n
        the probability of its label (the ``+ 1e-7`` is what backprop's ``y - t`` leaves out)."""
        z1, y = self._forward(x)
        n = x.shape[0]
        y_label = y[np.arange(n), t]
        r = y_label / (y_label + 1e-7)
        return self._backward(x, z1, r[:, None] * (y - np.eye(y.shape[1])[t]) / n)

    def _backward(
        self, x: NDArray[Any], z1: NDArray[Any], dy: NDArray[Any]
    ) -> dict[str, NDArray[Any]]:
        """The parameters' gradients from the gradient dy of the loss by the logits."""
        da1 = np.dot(dy, self.params["W2"].T)
        if self.activation == "relu":  # the book's Relu.backward: dout[mask] = 0, mask = (x <= 0)
            da1[z1 <= 0] = 0
        else:
            da1 *= z1 * (1 - z1)
        return {
            "W1": np.dot(x.T, da1),
            "b1": da1.sum(axis=0),
            "W2": np.dot(z1.T, dy),
            "b2": dy.sum(axis=0),
        }

    def numerical_gradient(
        self, x: NDArray[Any], t: NDArray[Any], h: float = 1e-4
    ) -> dict[str, NDArray[Any]]:
        """The book's numerical gradient: every parameter perturbed by ±h in turn, the whole loss
        evaluated each time."""
        return {
            k: numerical_gradient(lambda: self.loss(x, t), self.params[k], h) for k in PARAM_NAMES
        }
