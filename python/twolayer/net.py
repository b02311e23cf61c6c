"""The book's ``TwoLayerNet``, its parameters held and its passes run by the C++ core."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, BinaryIO, Callable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import _core, serialization
from ._core import PARAM_NAMES
from .optimizers import Optimizer
from .settings import (
    SETTINGS,
    WEIGHT_INIT_SCALES,
    NetSettings,
    Real,
    SettingError,
    Size,
    check_learning_rate,
)

ACTIVATIONS: tuple[str, ...] = _core.ACTIVATIONS
"""The hidden layer's activations: ``"sigmoid"`` (the book's chapter 4 net) and ``"relu"``
(chapter 5's)."""
_CORE_BY_DTYPE: dict[np.dtype[Any], type[_core.Net64] | type[_core.Net32]] = {
    np.dtype(np.float64): _core.Net64,
    np.dtype(np.float32): _core.Net32,
}


class Params(MutableMapping[str, NDArray[Any]]):
    """The parameters ``W1 b1 W2 b2`` as NumPy views of the C++ buffers.

    The arrays are the network's own memory: ``params["W1"] -= lr * g`` and any other in-place
    update change the network. Assigning ``params["W1"] = array`` copies the values in (the view
    stays bound to the network); the shape must match. Keys cannot be added or removed.
    """

    def __init__(self, views: tuple[NDArray[Any], ...]) -> None:
        self._views = dict(zip(PARAM_NAMES, views))

    def __getitem__(self, key: str) -> NDArray[Any]:
        return self._view(key)

    def __setitem__(self, key: str, value: ArrayLike) -> None:
        view = self._view(key)
        if value is view:  # the book's `params[key] -= ...` assigns the updated view back
            return
        view[...] = self._checked(key, value)

    def _view(self, key: str) -> NDArray[Any]:
        try:
            return self._views[key]
        except (KeyError, TypeError):  # TypeError: an unhashable key
            raise KeyError(
                f"{key!r} is not a parameter; the parameters are {', '.join(PARAM_NAMES)}"
            ) from None

    def _checked(self, key: str, value: ArrayLike) -> np.ndarray:
        """value as an array that may be copied into params[key], or a clear error."""
        name = f"params[{key!r}]"
        array = _as_array(value, name)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
        view = self._views[key]
        if array.shape != view.shape:
            raise ValueError(f"{name} must have shape {view.shape}, got {array.shape}")
        return array

    def _assign_all(self, values: Any) -> None:
        """Copy a whole mapping W1 b1 W2 b2 in, after checking every entry (all or nothing)."""
        if not isinstance(values, Mapping):
            raise TypeError(
                f"params must be assigned a mapping with keys {', '.join(PARAM_NAMES)}, "
                f"got {type(values).__name__}"
            )
        keys = set(values.keys())
        if keys != set(PARAM_NAMES):
            missing = [k for k in PARAM_NAMES if k not in keys]
            unknown = sorted(repr(k) for k in keys - set(PARAM_NAMES))
            raise KeyError(
                f"params must be assigned exactly the keys {', '.join(PARAM_NAMES)}; "
                f"missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}"
            )
        arrays = {k: self._checked(k, values[k]) for k in PARAM_NAMES}
        for key, array in arrays.items():
            if array is not self._views[key]:
                self._views[key][...] = array

    def __delitem__(self, key: str) -> None:
        raise TypeError("the parameters of a TwoLayerNet cannot be removed")

    def __iter__(self) -> Iterator[str]:
        return iter(PARAM_NAMES)

    def __len__(self) -> int:
        return len(PARAM_NAMES)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in self._views.items())
        return f"Params({{{items}}})"


def _real(name: str, value: Any) -> float:
    """value as a finite float; bools, strings, arrays and complex numbers are refused."""
    number: float = _FINITE.check(name, value)
    return number


_FINITE = Real()
_SIZE = Size()


def _step(h: Any) -> float:
    """h as the step of central differences: a finite float of at least the smallest normal double
    (a subnormal h makes 1/2h overflow to inf, and the differences 0·inf = NaN)."""
    step = _real("h", h)
    if not step >= sys.float_info.min:
        raise ValueError(
            f"h must be a positive finite number of at least {sys.float_info.min!r} "
            f"(the smallest normal double), got {step!r}"
        )
    return step


def _check_seed(seed: Any) -> None:
    if seed is None:
        return
    try:
        np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"seed must be None or what np.random.default_rng accepts (a non-negative int, say), "
            f"got {seed!r}"
        ) from None


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
        self._core = _new_core(dtype, sizes, activation, decay)
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
        x, single = _batch(x, self.input_size)
        y: NDArray[Any] = self._core.predict(x)
        return y[0] if single else y

    def loss(self, x: ArrayLike, t: ArrayLike) -> float:
        """The book's cross-entropy, the batch mean of ``-log(y[n, t_n] + 1e-7)``."""
        x, t = _batch_and_targets(x, t, self.input_size, self.output_size)
        return self._core.loss(x, t)

    def accuracy(self, x: ArrayLike, t: ArrayLike) -> float:
        """The fraction of samples whose most probable class is their label."""
        x, t = _batch_and_targets(x, t, self.input_size, self.output_size)
        return self._core.accuracy(x, t)

    def gradient(self, x: ArrayLike, t: ArrayLike) -> dict[str, NDArray[Any]]:
        """The loss gradient by backpropagation: a dict ``W1 b1 W2 b2`` of new arrays.

        The result is also kept in ``self.grads``; later calls never overwrite its arrays.
        """
        x, t = _batch_and_targets(x, t, self.input_size, self.output_size)
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
            x, t = _batch_and_targets(x, t, self.input_size, self.output_size)
        else:
            x, t = _as_array(x, "x"), _as_array(t, "t")
            indices = _as_array(indices, "indices")
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
        h = _step(h)
        x, t = _batch_and_targets(x, t, self.input_size, self.output_size)
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


def initial_params(
    input_size: int,
    hidden_size: int,
    output_size: int,
    weight_init_std: float | str,
    seed: int | None,
) -> dict[str, NDArray[Any]]:
    """The book's initial parameters (float64): ``weight_init_std * randn`` weights, zero biases;
    a name of WEIGHT_INIT_SCALES gives each layer ``sqrt(scale / its inputs) * randn`` (He's,
    Xavier's), as the book's ``MultiLayerNet`` does.

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
        "W1": _scale(weight_init_std, input_size) * randn(input_size, hidden_size),
        "b1": np.zeros(hidden_size),
        "W2": _scale(weight_init_std, hidden_size) * randn(hidden_size, output_size),
        "b2": np.zeros(output_size),
    }


def check_settings(
    input_size: Any,
    hidden_size: Any,
    output_size: Any,
    weight_init_std: Any,
    activation: Any,
    dtype: Any,
    seed: Any,
    weight_decay_lambda: Any = 0.0,
) -> tuple[tuple[int, int, int], float | str, str, np.dtype[Any], float]:
    """``TwoLayerNet``'s arguments checked, without allocating: (sizes, weight_init_std,
    activation, dtype, weight_decay_lambda), or the TypeError or ValueError the constructor
    raises."""
    declared = NetSettings.declared()
    sizes = (
        _SIZE.check("input_size", input_size),
        declared["hidden_size"].check(hidden_size),
        _SIZE.check("output_size", output_size),
    )
    # The book compares the names of initial weights in lower case.
    std = weight_init_std.lower() if isinstance(weight_init_std, str) else weight_init_std
    std = declared["weight_init_std"].check(std)
    decay = declared["weight_decay_lambda"].check(weight_decay_lambda)
    activation = declared["activation"].check(activation)
    _check_seed(seed)
    dtype = np.dtype(declared["dtype"].check(dtype))
    what, nbytes = _describe(dtype, sizes)
    if nbytes > sys.maxsize:
        raise SettingError("hidden_size", f"{what} is too large to allocate")
    return sizes, std, activation, dtype, decay


def _scale(weight_init_std: float | str, inputs: int) -> float:
    """The standard deviation of a layer of `inputs` inputs' initial weights."""
    if isinstance(weight_init_std, str):
        return float(np.sqrt(WEIGHT_INIT_SCALES[weight_init_std] / inputs))
    return weight_init_std


def _describe(dtype: np.dtype[Any], sizes: tuple[int, int, int]) -> tuple[str, int]:
    """("a D-H-C network (n parameters, b bytes)", b)."""
    D, H, C = sizes
    count = D * H + H + H * C + C
    nbytes = count * dtype.itemsize
    return f"a {D}-{H}-{C} network ({count} parameters, {nbytes} bytes)", nbytes


def _new_core(
    dtype: np.dtype[Any], sizes: tuple[int, int, int], activation: str, weight_decay_lambda: float
) -> _core.Net64 | _core.Net32:
    """The C++ net, or an error that says which network could not be allocated."""
    what = _describe(dtype, sizes)[0]
    try:
        return _CORE_BY_DTYPE[dtype](*sizes, activation, weight_decay_lambda)
    except MemoryError:
        raise MemoryError(f"not enough memory for {what}") from None
    except ValueError:  # the core's own overflow check
        raise ValueError(f"{what} is too large to allocate") from None


def _as_array(value: ArrayLike, name: str) -> np.ndarray:
    """value as an array; errors name the argument. Masked entries would be silently used, so a
    masked array with any is refused."""
    if np.ma.isMaskedArray(value) and np.ma.is_masked(value):
        raise TypeError(f"{name} is a masked array with masked entries; fill or drop them first")
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name} must be an array of numbers: {exc}") from None


def _batch(x: ArrayLike, input_size: int) -> tuple[np.ndarray, bool]:
    """x as an array; a single sample (D,) becomes a batch of one."""
    x = _as_array(x, "x")
    if x.ndim == 1:
        if x.shape[0] != input_size:
            raise ValueError(
                f"x must have shape (N, {input_size}) or ({input_size},), got {x.shape}"
            )
        return x[np.newaxis], True
    return x, False


def _batch_and_targets(
    x: ArrayLike, t: ArrayLike, input_size: int, output_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Like _batch; with a single sample, t is one label (a scalar, or of shape (1,)) or one row
    of shape (C,)."""
    x, single = _batch(x, input_size)
    t = _as_array(t, "t")
    if single:
        if t.ndim == 0:
            t = t.reshape(1)
        elif t.ndim == 1 and t.shape[0] == output_size:
            t = t.reshape(1, -1)
    return x, t
