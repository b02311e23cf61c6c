"""The book's ``TwoLayerNet``, its parameters held and its passes run by the C++ core."""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator, MutableMapping
from typing import Any, Optional

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _core, serialization
from .reference import init_params

PARAM_KEYS = ("W1", "b1", "W2", "b2")
_CORE_BY_DTYPE = {np.dtype(np.float64): _core.Net64, np.dtype(np.float32): _core.Net32}


class Params(MutableMapping):
    """The parameters ``W1 b1 W2 b2`` as NumPy views of the C++ buffers.

    The arrays are the network's own memory: ``params["W1"] -= lr * g`` and any other in-place
    update change the network. Assigning ``params["W1"] = array`` copies the values in (the view
    stays bound to the network); the shape must match. Keys cannot be added or removed.
    """

    def __init__(self, views: tuple) -> None:
        self._views = dict(zip(PARAM_KEYS, views))

    def __getitem__(self, key: str) -> NDArray:
        return self._views[key]

    def __setitem__(self, key: str, value: ArrayLike) -> None:
        if key not in self._views:
            raise KeyError(f"{key!r} is not a parameter; the parameters are {', '.join(PARAM_KEYS)}")
        view = self._views[key]
        if value is view:  # the book's `params[key] -= ...` assigns the updated view back
            return
        array = np.asarray(value)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"params[{key!r}] must hold real numbers, got dtype {array.dtype}")
        if array.shape != view.shape:
            raise ValueError(f"params[{key!r}] must have shape {view.shape}, got {array.shape}")
        view[...] = array

    def __delitem__(self, key: str) -> None:
        raise TypeError("the parameters of a TwoLayerNet cannot be removed")

    def __iter__(self) -> Iterator[str]:
        return iter(PARAM_KEYS)

    def __len__(self) -> int:
        return len(PARAM_KEYS)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in self._views.items())
        return f"Params({{{items}}})"


def _size(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        size = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None
    if size < 1:
        raise ValueError(f"{name} must be positive, got {size}")
    return size


class TwoLayerNet:
    """A two-layer network: affine, sigmoid, affine, softmax, with the cross-entropy loss.

    The API is the book's (``ch04/two_layer_net.py``). ``params`` and ``grads`` are dicts keyed
    ``W1 b1 W2 b2``; the arrays in ``params`` are views of the C++ buffers, so the book's update
    ``net.params[key] -= learning_rate * grads[key]`` trains the C++ network in place.

    Parameters
    ----------
    input_size, hidden_size, output_size
        The layer sizes (D, H, C), e.g. 784, 50, 10 for MNIST.
    weight_init_std
        Weights start as ``weight_init_std * randn(...)``, biases at zero, as in the book.
    dtype
        ``np.float64`` (the book's) or ``np.float32``.
    seed
        ``None`` draws the weights from NumPy's global generator (so ``np.random.seed(0)``
        beforehand gives the book's initial weights); otherwise from
        ``np.random.default_rng(seed)``.

    Inputs ``x`` are batches of shape (N, D), or one sample of shape (D,). float32 and float64
    inputs are used in place, whatever the network's dtype; other real dtypes are converted.
    Targets ``t`` are integer labels (N,) or rows (N, C). The loss and the accuracy read rows
    through their argmax (so the book's dummy ``t = np.random.rand(100, 10)`` works); the
    gradient uses rows as they are, ``dy = (y - t) / N``, as the book does.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        weight_init_std: float = 0.01,
        *,
        dtype: DTypeLike = np.float64,
        seed: Optional[int] = None,
    ) -> None:
        sizes = (
            _size("input_size", input_size),
            _size("hidden_size", hidden_size),
            _size("output_size", output_size),
        )
        try:
            core_class = _CORE_BY_DTYPE[np.dtype(dtype)]
        except (TypeError, KeyError):
            raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from None
        self._core = core_class(*sizes)
        self.params = Params(self._core.params)
        self.grads: dict[str, NDArray] = {}

        self.params.update(init_params(*sizes, weight_init_std, seed))

    @property
    def input_size(self) -> int:
        return self._core.sizes[0]

    @property
    def hidden_size(self) -> int:
        return self._core.sizes[1]

    @property
    def output_size(self) -> int:
        return self._core.sizes[2]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters: float64 or float32."""
        return self.params["W1"].dtype

    def __repr__(self) -> str:
        return (
            f"TwoLayerNet(input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size}, dtype={self.dtype.name})"
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the sizes, dtype and parameters to the npz file `path`, atomically (:mod:`twolayer.serialization`)."""
        serialization.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TwoLayerNet:
        """A network restored from a file written by :meth:`save`; ValueError naming the file if it is not one."""
        return serialization.load(path, cls)

    def predict(self, x: ArrayLike) -> NDArray:
        """Softmax probabilities, shape (N, C); shape (C,) for a single sample x of shape (D,)."""
        x, single = _batch(x)
        y = self._core.predict(x)
        return y[0] if single else y

    def loss(self, x: ArrayLike, t: ArrayLike) -> float:
        """The book's cross-entropy, the batch mean of ``-log(y[n, t_n] + 1e-7)``."""
        x, t = _batch_and_targets(x, t)
        return self._core.loss(x, t)

    def accuracy(self, x: ArrayLike, t: ArrayLike) -> float:
        """The fraction of samples whose most probable class is their label."""
        x, t = _batch_and_targets(x, t)
        return self._core.accuracy(x, t)

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray]:
        """The loss gradient by backpropagation: a dict ``W1 b1 W2 b2`` of new arrays.

        The result is also kept in ``self.grads``; later calls never overwrite its arrays.
        """
        x, t = _batch_and_targets(x, t)
        self.grads = dict(zip(PARAM_KEYS, self._core.gradient(x, t)))
        return self.grads

    def numerical_gradient(
        self, x: ArrayLike, t: ArrayLike, *, method: str = "incremental", h: float = 1e-4
    ) -> dict[str, NDArray]:
        """The loss gradient by central differences ``(f(θ+h) - f(θ-h)) / 2h``, per parameter.

        ``method="naive"`` is the book's algorithm: perturb one parameter, evaluate the whole
        loss, restore. ``"incremental"`` (the default) evaluates the same differences but
        recomputes only what each perturbation changes (one hidden unit, of only the samples
        whose input is non-zero; or one logit), so it is hundreds of times faster. Both are real
        finite differences of the loss, formed in float64 for both dtypes. Returns a dict of new
        arrays, also kept in ``self.grads``. Ctrl-C interrupts it within a fraction of a second.
        """
        x, t = _batch_and_targets(x, t)
        h = float(h)
        self.grads = dict(zip(PARAM_KEYS, self._core.numerical_gradient(x, t, method, h)))
        return self.grads


def _batch(x: ArrayLike) -> tuple[np.ndarray, bool]:
    """x as an array; a single sample (D,) becomes a batch of one."""
    x = np.asarray(x)
    if x.ndim == 1:
        return x[np.newaxis], True
    return x, False


def _batch_and_targets(x: ArrayLike, t: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Like _batch; with a single sample, t is one label or one row."""
    x, single = _batch(x)
    t = np.asarray(t)
    if single and t.ndim <= 1:
        t = t.reshape(1, -1) if t.ndim == 1 else t.reshape(1)
    return x, t
