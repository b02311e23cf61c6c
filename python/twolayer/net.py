"""The book's ``TwoLayerNet``, its parameters held and its passes run by the C++ core."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _core, serialization
from ._arguments import as_array, batch, batch_and_targets, difference_step
from ._core import PARAM_NAMES
from ._new_network import check_settings, initial_params, new_core
from ._params import Params
from .optimizers import Optimizer
from .settings import SETTINGS, check_learning_rate

__all__ = ["ACTIVATIONS", "Params", "TwoLayerNet", "check_settings", "initial_params"]

ACTIVATIONS: tuple[str, ...] = _core.ACTIVATIONS
"""The hidden layer's activations: ``"sigmoid"`` (the book's chapter 4 net) and ``"relu"``
(chapter 5's)."""


class TwoLayerNet:
    """A two-layer network: affine, sigmoid (or ReLU), affine, softmax, with the cross-entropy loss.

    The API is the book's (``ch04/two_layer_net.py``; ``ch05/two_layer_net.py`` with ReLU).
    ``params`` and ``grads`` are dicts keyed ``W1 b1 W2 b2``; the arrays in ``params`` are views of
    the C++ buffers, so the book's update ``net.params[key] -= learning_rate * grads[key]`` trains
    the C++ network in place.

    Parameters
    ----------
    input_size, hidden_size, output_size
        The layer sizes (D, H, C), e.g. 784, 50, 10 for MNIST.
    weight_init_std
        Weights start as ``weight_init_std * randn(...)``, biases at zero, as in the book. Or, as
        the book's chapter 6 ``MultiLayerNet`` takes it, ``"he"`` (or ``"relu"``): standard
        deviation ``sqrt(2 / n)`` for each layer, n its number of inputs; ``"xavier"`` (or
        ``"sigmoid"``): ``sqrt(1 / n)`` (in any case, as the book compares them).
    weight_decay_lambda
        The book's weight decay λ (chapter 6): the loss gains ``0.5 * λ * (ΣW1² + ΣW2²)`` and the
        gradients of W1 and W2 gain ``λ * W`` (not the biases'), in every pass and the fused step.
        0 (the default) is none.
    activation
        The hidden layer's: ``"sigmoid"`` (chapter 4's network) or ``"relu"`` (chapter 5's).
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
        weight_init_std: float | str = 0.01,
        *,
        activation: str = "sigmoid",
        dtype: DTypeLike = np.float64,
        seed: int | None = None,
        weight_decay_lambda: float = 0.0,
    ) -> None:
        sizes, weight_init_std, activation, dtype, decay = check_settings(
            input_size,
            hidden_size,
            output_size,
            weight_init_std,
            activation,
            dtype,
            seed,
            weight_decay_lambda,
        )
        self._core = new_core(dtype, sizes, activation, decay)
        self._params = Params(self._core.params)
        self.grads: dict[str, NDArray[Any]] = {}

        self._params.update(initial_params(*sizes, weight_init_std, seed))

    @property
    def params(self) -> Params:
        """The parameters ``W1 b1 W2 b2``: NumPy views of the C++ buffers (see ``Params``).

        Assigning a whole mapping, ``net.params = other.params`` or a dict of four arrays,
        copies its values in after checking every key, shape and dtype; the views stay bound.
        """
        return self._params

    @params.setter
    def params(self, values: Mapping[str, ArrayLike]) -> None:
        if values is not self._params:
            self._params._assign_all(values)

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
    def activation(self) -> str:
        """The hidden layer's activation: ``"sigmoid"`` or ``"relu"``."""
        activation: str = self._core.activation
        return activation

    @property
    def weight_decay_lambda(self) -> float:
        """The weight decay λ: ``0.5 * λ * (ΣW1² + ΣW2²)`` in the loss, ``λ * W`` in the weights'
        gradients."""
        decay: float = self._core.weight_decay_lambda
        return decay

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the parameters: float64 or float32."""
        return self.params["W1"].dtype

    def __repr__(self) -> str:
        decay = self.weight_decay_lambda
        shown = f", weight_decay_lambda={decay!r}" if decay else ""
        return (
            f"TwoLayerNet(input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size}, activation={self.activation}, "
            f"dtype={self.dtype.name}{shown})"
        )

    def _params_snapshot(self) -> dict[str, NDArray[Any]]:
        """A copy of the parameters ``W1 b1 W2 b2`` as the net is after some whole call: taken under
        the lock that every call into the core holds, so that another thread's `train_step` is never
        seen half done."""
        return dict(zip(PARAM_NAMES, self._core.params_copy()))

    def save(self, file: str | os.PathLike[str] | BinaryIO) -> None:
        """Save the sizes, activation, dtype, weight decay and parameters as npz to `file`, a path
        (written atomically) or a binary file object (:mod:`twolayer.serialization`)."""
        header = serialization.Header(
            self._core.sizes, self.dtype.name, self.activation, self.weight_decay_lambda
        )
        serialization.write(file, header, self._params_snapshot())

    @classmethod
    def load(cls, file: str | os.PathLike[str] | BinaryIO) -> TwoLayerNet:
        """A network restored from a path or binary file object written by :meth:`save`; ValueError
        naming the file if it is not one."""
        with serialization.reading(file) as saved:
            # A fixed seed, so that loading never draws from NumPy's global generator; the weights
            # are read over the initial ones.
            header = saved.header
            net = cls(
                *header.sizes,
                activation=header.activation,
                dtype=header.dtype,
                seed=0,
                weight_decay_lambda=header.weight_decay_lambda,
            )
            saved.read_into(net.params)
        return net

    # Copies and pickles go through the save format, so they hold exactly what a saved file holds
    # (sizes, dtype, parameters; not the last gradient in `grads`) and a pickle is checked as a file
    # is when it is loaded.
    def __reduce__(self) -> tuple[Any, ...]:
        return (_from_saved, (type(self), self._saved()))

    def __copy__(self) -> TwoLayerNet:
        """An independent copy: a shallow copy would share the C++ parameter buffers, so it is a
        full one."""
        return _from_saved(type(self), self._saved())

    def __deepcopy__(self, memo: dict[int, Any]) -> TwoLayerNet:
        return _from_saved(type(self), self._saved())

    def _saved(self) -> bytes:
        buffer = io.BytesIO()
        self.save(buffer)
        return buffer.getvalue()

    def predict(self, x: ArrayLike) -> NDArray[Any]:
        """Softmax probabilities, shape (N, C); shape (C,) for a single sample x of shape (D,)."""
        x, single = batch(x, self.input_size)
        y: NDArray[Any] = self._core.predict(x)
        return y[0] if single else y

    def loss(self, x: ArrayLike, t: ArrayLike) -> float:
        """The book's cross-entropy, the batch mean of ``-log(y[n, t_n] + 1e-7)``."""
        x, t = batch_and_targets(x, t, self.input_size, self.output_size)
        return self._core.loss(x, t)

    def accuracy(self, x: ArrayLike, t: ArrayLike) -> float:
        """The fraction of samples whose most probable class is their label."""
        x, t = batch_and_targets(x, t, self.input_size, self.output_size)
        return self._core.accuracy(x, t)

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray[Any]]:
        """The loss gradient by backpropagation: a dict ``W1 b1 W2 b2`` of new arrays.

        The result is also kept in ``self.grads``; later calls never overwrite its arrays.
        """
        x, t = batch_and_targets(x, t, self.input_size, self.output_size)
        self.grads = dict(zip(PARAM_NAMES, self._core.gradient(x, t)))
        return self.grads

    def train_step(
        self,
        x: ArrayLike,
        t: ArrayLike,
        learning_rate: float | None = None,
        *,
        optimizer: Optimizer | None = None,
        indices: ArrayLike | None = None,
        return_loss: bool = True,
    ) -> float | None:
        """One step of an optimizer in a single call into the core: the gradient by
        backpropagation and the update of every parameter, without creating the gradient arrays
        (``self.grads`` is left as it was).

        Give `learning_rate` for the book's SGD, ``params[key] -= learning_rate * grad[key]``, or
        `optimizer`, one of :mod:`twolayer.optimizers` (``Adam(lr=0.001)``), whose formula,
        settings and state the core uses and updates (the same parameters and state as its
        ``update``, to rounding). Returns the mini-batch loss after the update, as the book's loop
        records it (``net.loss(x_batch, t_batch)``); ``return_loss=False`` skips that forward pass
        and returns None. With `indices` (integers), the batch is rows ``indices`` of `x` and `t`,
        gathered inside the core, so the caller never copies it.
        """
        if indices is None:
            x, t = batch_and_targets(x, t, self.input_size, self.output_size)
        else:
            x, t = as_array(x, "x"), as_array(t, "t")
            indices = as_array(indices, "indices")
        # An optimizer's state and step count change together, one step at a time.
        held = optimizer._lock if isinstance(optimizer, Optimizer) else contextlib.nullcontext()
        with held:
            name, rate, state, settings = self._step_of(learning_rate, optimizer)
            loss = self._core.train_step(
                x,
                t,
                rate,
                optimizer=name,
                state=state,
                settings=settings,
                indices=indices,
                return_loss=bool(return_loss),
            )
            if optimizer is not None:
                optimizer._stepped()
        return loss

    def _step_of(
        self, learning_rate: float | None, optimizer: Optimizer | None
    ) -> tuple[str, float, NDArray[Any] | None, dict[str, Any]]:
        """What the core's train_step needs: the optimizer's name, rate, flat state and other
        settings (an optimizer's are its own to check)."""
        if (learning_rate is None) == (optimizer is None):
            raise TypeError("give train_step a learning_rate or an optimizer (one of them)")
        if optimizer is None:
            return "sgd", self._learning_rate(learning_rate), None, {}
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                "optimizer must be one of twolayer.optimizers' (SGD, Adam, ...), "
                f"got {type(optimizer).__name__}"
            )
        state = optimizer._for_core(self.params)
        rate = self._learning_rate(optimizer.lr)
        return optimizer.name, rate, state, optimizer._core_settings()

    def _learning_rate(self, learning_rate: Any) -> float:
        """`learning_rate` checked (this is the boundary for callers of train_step, train's
        included): the setting's own rule, and the range of the net's dtype, in which the core
        takes it."""
        return check_learning_rate(SETTINGS["learning_rate"].check(learning_rate), self.dtype)

    def numerical_gradient(
        self, x: ArrayLike, t: ArrayLike, *, method: str = "incremental", h: float = 1e-4
    ) -> dict[str, NDArray[Any]]:
        """The loss gradient by central differences ``(f(θ+h) - f(θ-h)) / 2h``, per parameter.

        ``method="naive"`` is the book's algorithm: perturb one parameter, evaluate the whole
        loss, restore. ``"incremental"`` (the default) evaluates the same differences but
        recomputes only what each perturbation changes (one hidden unit, of only the samples
        whose input is non-zero; or one logit), so it is hundreds of times faster. Both are real
        finite differences of the loss, formed in float64 for both dtypes. Returns a dict of new
        arrays, also kept in ``self.grads``. Ctrl-C interrupts it within a fraction of a second.
        """
        if not isinstance(method, str):
            raise TypeError(f"method must be 'incremental' or 'naive', got {method!r}")
        h = difference_step(h)
        x, t = batch_and_targets(x, t, self.input_size, self.output_size)
        self.grads = dict(zip(PARAM_NAMES, self._core.numerical_gradient(x, t, method, h)))
        return self.grads


def _from_saved(cls: type[TwoLayerNet], saved: bytes) -> TwoLayerNet:
    """The network held by `saved`, the bytes :meth:`TwoLayerNet.save` wrote (the unpickling
    function)."""
    if not isinstance(saved, bytes):
        raise TypeError(
            f"cannot unpickle a TwoLayerNet: expected the bytes of a saved network, got "
            f"{type(saved).__name__}"
        )
    try:
        return cls.load(io.BytesIO(saved))
    except ValueError as exc:
        raise ValueError(
            f"cannot unpickle a TwoLayerNet (damaged, or pickled by another version of twolayer): "
            f"{exc}"
        ) from None
