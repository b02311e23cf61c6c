"""The book's optimizers (``common/optimizer.py``, chapter 6): SGD, Momentum, Nesterov, AdaGrad,
RMSprop and Adam.

Each class has the book's constructor, defaults and ``update(params, grads)``, which updates a dict
of parameter arrays in place with NumPy, as the book's loop and ``Trainer`` call it, for any
network. The same object also drives :meth:`twolayer.TwoLayerNet.train_step` (``net.train_step(x, t,
optimizer=adam)``), where the C++ core applies the same formula, to rounding the same parameters, in
the pass that computes the gradient.

The state (Momentum's and Nesterov's velocity ``v``, AdaGrad's and RMSprop's squared sums ``h``,
Adam's moments ``m`` and ``v``, and Adam's step count ``iter``) is created at the first update, as
the book's is. It is one array laid out like the parameters (for a ``TwoLayerNet``: W1 b1 W2 b2,
then again for Adam's second moment), which both paths update in place; the book's names are dicts
of views of it. :meth:`Optimizer.state_dict` and :meth:`Optimizer.load_state_dict` copy it out and
back in, so that a run can continue exactly where it stopped.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, MutableMapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .settings import SETTINGS

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AdaGrad",
    "Adam",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "create",
]

# The book adds this to the square root of the squared gradients so that 0 never divides.
_ROOT_EPSILON = 1e-7


def _setting(name: str, value: Any) -> float:
    """`value` checked as the training setting of that name is (``lr`` as ``learning_rate``): the
    rules of :mod:`twolayer.settings`, the errors naming `name`."""
    spec = SETTINGS["learning_rate" if name == "lr" else name]
    number: float = spec.constraint.check(name, value)
    return number


class Optimizer:
    """What the book's optimizers share: the learning rate ``lr``, the state and its layout."""

    name: ClassVar[str]
    """The optimizer's name in ``train(optimizer=...)`` and ``twolayer train --optimizer``."""
    buffers: ClassVar[tuple[str, ...]] = ()
    """The names of the state's parameter-shaped buffers, in the order of the flat state."""
    settings_names: ClassVar[tuple[str, ...]] = ("lr",)

    def __init__(self, lr: float) -> None:
        self.lr = _setting("lr", lr)
        self._lock = threading.Lock()  # held by each update and fused step
        self._flat: NDArray[Any] | None = None  # the whole state, one allocation
        self._layout: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def settings(self) -> dict[str, float]:
        """The constructor's arguments, by name: ``{"lr": 0.001, "beta1": 0.9, "beta2": 0.999}``."""
        return {name: getattr(self, name) for name in self.settings_names}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.settings.items())})"

    def update(
        self, params: MutableMapping[str, NDArray[Any]], grads: Mapping[str, NDArray[Any]]
    ) -> None:
        """Update every array of `params` in place from `grads`, by the book's formula (NumPy, one
        key at a time)."""
        with self._lock:
            state = self._state(params)
            self._begin_step()
            for key in params:
                p = params[key]
                self._update(p, grads[key], *(buffer[key] for buffer in state))
                params[key] = p  # assigned back, as the book's `params[key] -= ...` does

    def _update(self, p: NDArray[Any], g: NDArray[Any], *state: NDArray[Any]) -> None:
        raise NotImplementedError

    def _begin_step(self) -> None:
        """Called before update's arithmetic (Adam counts its steps)."""

    def _stepped(self) -> None:
        """Called after a fused step of the core (Adam counts its steps)."""

    def _core_settings(self) -> dict[str, Any]:
        """The settings the core reads besides lr."""
        return {name: getattr(self, name) for name in self.settings_names if name != "lr"}

    def _state(self, params: Mapping[str, NDArray[Any]]) -> list[dict[str, NDArray[Any]]]:
        """The state's buffers as dicts of views keyed like `params`, created (zeros) at the first
        call."""
        layout = tuple((key, tuple(np.shape(params[key]))) for key in params)
        if self._flat is None:
            dtype = np.result_type(*(params[key] for key in params))
            self._allocate(layout, dtype)
        elif layout != self._layout:
            raise ValueError(
                f"this {type(self).__name__} holds the state of parameters "
                f"{_describe(self._layout)}, "
                f"got {_describe(layout)}: use one optimizer per network"
            )
        return self._views()

    def _allocate(
        self, layout: tuple[tuple[str, tuple[int, ...]], ...], dtype: np.dtype[Any]
    ) -> None:
        size = sum(math.prod(shape) for _, shape in layout)
        self._layout = layout
        self._flat = np.zeros(len(self.buffers) * size, dtype)
        for name, views in zip(self.buffers, self._views()):  # noqa: B905 (strict= is Python 3.10+)
            setattr(self, name, views)

    def _views(self) -> list[dict[str, NDArray[Any]]]:
        if self._flat is None:
            return []
        size = sum(math.prod(shape) for _, shape in self._layout)
        buffers = []
        for b in range(len(self.buffers)):
            views, start = {}, b * size
            for key, shape in self._layout:
                count = math.prod(shape)
                views[key] = self._flat[start : start + count].reshape(shape)
                start += count
            buffers.append(views)
        return buffers

    def _for_core(self, params: Mapping[str, NDArray[Any]]) -> NDArray[Any] | None:
        """The flat state for a fused step on `params` (a TwoLayerNet's), created at the first
        step."""
        if not self.buffers:
            return None
        self._state(params)
        if self._flat is not None and self._flat.dtype != params["W1"].dtype:
            raise ValueError(
                f"this {type(self).__name__}'s state is {self._flat.dtype}, "
                "the network's parameters "
                f"{params['W1'].dtype}: use one optimizer per network"
            )
        return self._flat

    def state_dict(self) -> dict[str, Any]:
        """Everything the optimizer holds, copied: its name, settings, state (None before the first
        update) and the layout of the parameters it updates (names and shapes); ``iter`` too for
        Adam."""
        with self._lock:
            return self._copied_state()

    def _copied_state(self) -> dict[str, Any]:
        return {
            "optimizer": self.name,
            **self.settings,
            **self._counters(),
            "state": None if self._flat is None else self._flat.copy(),
            "layout": [(key, list(shape)) for key, shape in self._layout],
        }

    def _counters(self) -> dict[str, int]:
        return {}

    def load_state_dict(self, saved: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (settings, state, Adam's ``iter``), after
        checking all of it."""
        with self._lock:
            self._restore(saved)

    def _restore(self, saved: Mapping[str, Any]) -> None:
        if saved.get("optimizer") != self.name:
            raise ValueError(
                f"the state is of optimizer {saved.get('optimizer')!r}, not {self.name!r}"
            )
        settings = {name: _setting(name, saved[name]) for name in self.settings_names}
        counters = self._checked_counters(saved)
        state, layout = saved.get("state"), saved.get("layout")
        checked = _checked_layout(layout)
        if state is not None:
            size = sum(math.prod(shape) for _, shape in checked)
            state = np.asarray(state)
            if state.dtype not in (np.float32, np.float64) or state.shape != (
                len(self.buffers) * size,
            ):
                raise ValueError(
                    f"the state must be float32 or float64 of shape ({len(self.buffers) * size},), "
                    f"got {state.dtype}{list(state.shape)}"
                )
        for name, value in {**settings, **counters}.items():
            setattr(self, name, value)
        self._flat, self._layout = None, ()
        for name in self.buffers:
            setattr(self, name, None)
        if state is not None:
            self._allocate(checked, state.dtype)
            assert self._flat is not None
            self._flat[...] = state

    def _checked_counters(self, saved: Mapping[str, Any]) -> dict[str, int]:
        return {}

    # Pickles and copies hold what state_dict holds: the flat state, with the views made anew.
    def __getstate__(self) -> dict[str, Any]:
        return self.state_dict()

    def __setstate__(self, saved: dict[str, Any]) -> None:
        self._lock = threading.Lock()
        self._flat, self._layout = None, ()
        for name in self.settings_names:
            setattr(self, name, saved[name])
        self.load_state_dict(saved)


def _describe(layout: tuple[tuple[str, tuple[int, ...]], ...]) -> str:
    return ", ".join(f"{key}{list(shape)}" for key, shape in layout) or "none"


def _checked_layout(layout: Any) -> tuple[tuple[str, tuple[int, ...]], ...]:
    try:
        checked = tuple((str(key), tuple(int(n) for n in shape)) for key, shape in layout)
    except (TypeError, ValueError):
        raise ValueError(
            f"the layout must be a list of (name, shape) pairs, got {layout!r}"
        ) from None
    if any(n < 0 for _, shape in checked for n in shape):
        raise ValueError(f"the layout's shapes must not be negative, got {layout!r}")
    return checked


class SGD(Optimizer):
    """Stochastic gradient descent: ``W -= lr * g``."""

    name = "sgd"

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _update(self, p: NDArray[Any], g: NDArray[Any], *state: NDArray[Any]) -> None:
        p -= self.lr * g


class _WithMomentum(Optimizer):
    """Momentum's and Nesterov's constructor and velocity ``v``."""

    buffers, settings_names = ("v",), ("lr", "momentum")
    v: dict[str, NDArray[Any]] | None = None

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = _setting("momentum", momentum)


class Momentum(_WithMomentum):
    """Momentum SGD: ``v = momentum * v - lr * g; W += v``."""

    name = "momentum"

    def _update(self, p: NDArray[Any], g: NDArray[Any], *state: NDArray[Any]) -> None:
        (v,) = state
        v[...] = self.momentum * v - self.lr * g
        p += v


class Nesterov(_WithMomentum):
    """Nesterov's accelerated gradient, as the book writes it:
    ``v *= momentum; v -= lr * g; W += momentum² * v; W -= (1 + momentum) * lr * g``."""

    name = "nesterov"

    def _update(self, p: NDArray[Any], g: NDArray[Any], *state: NDArray[Any]) -> None:
        (v,) = state
        v *= self.momentum
        v -= self.lr * g
        p += self.momentum * self.momentum * v
        p -= (1 + self.momentum) * self.lr * g


class AdaGrad(Optimizer):
    """AdaGrad: ``h += g * g; W -= lr * g / (sqrt(h) + 1e-7)``."""

    name, buffers = "adagrad", ("h",)
    h: dict[str, NDArray[Any]] | None = None

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _update(self, p: NDArray[Any], g: NDArray[Any], *state: NDArray[Any]) -> None:
        (h,) = state
        h += g * g
        p -= self.lr * g / (np.sqrt(h) + _ROOT_EPSILON)


class RMSprop(Optimizer):
    """RMSprop: ``h *= decay_rate; h += (1 - decay_rate) * g * g;
    W -= lr * g / (sqrt(h) + 1e-7)``."""

    name, buffers, settings_names = "rmsprop", ("h",), ("lr", "decay_rate")
    h: dict[str, NDArray[Any]] | None = None

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99) -> None:
        super().__init__(lr)
        self.decay_rate = _setting("decay_rate", decay_rate)

    def _update(self, p: NDArray[Any], g: NDArray[Any], *state: NDArray[Any]) -> None:
        (h,) = state
        h *= self.decay_rate
        h += (1 - self.decay_rate) * g * g
        p -= self.lr * g / (np.sqrt(h) + _ROOT_EPSILON)


class Adam(Optimizer):
    """Adam as the book writes it: at step ``iter`` (from 1),
    ``lr_t = lr * sqrt(1 - beta2**iter) / (1 - beta1**iter)``; ``m += (1 - beta1) * (g - m);
    v += (1 - beta2) * (g**2 - v); W -= lr_t * m / (sqrt(v) + 1e-7)``."""

    name, buffers, settings_names = "adam", ("m", "v"), ("lr", "beta1", "beta2")
    m: dict[str, NDArray[Any]] | None = None
    v: dict[str, NDArray[Any]] | None = None

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        super().__init__(lr)
        self.beta1 = _setting("beta1", beta1)
        self.beta2 = _setting("beta2", beta2)
        self.iter = 0
        self._lr_t = 0.0

    def _begin_step(self) -> None:
        self.iter += 1
        self._lr_t = (
            self.lr * math.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        )

    def _update(self, p: NDArray[Any], g: NDArray[Any], *state: NDArray[Any]) -> None:
        m, v = state
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g * g - v)
        p -= self._lr_t * m / (np.sqrt(v) + _ROOT_EPSILON)

    def _core_settings(self) -> dict[str, Any]:
        return {**super()._core_settings(), "iter": self.iter + 1}

    def _stepped(self) -> None:
        self.iter += 1

    def _counters(self) -> dict[str, int]:
        return {"iter": self.iter}

    def _checked_counters(self, saved: Mapping[str, Any]) -> dict[str, int]:
        count = saved.get("iter")
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"Adam's iter must be an int >= 0, got {count!r}")
        return {"iter": int(count)}


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam)
}
"""The optimizers by name, in the book's order (the core's, ``_core.OPTIMIZERS``)."""


def create(name: str, lr: float, **settings: Any) -> Optimizer:
    """The optimizer `name` (one of :data:`OPTIMIZERS`) with learning rate `lr` and those of
    `settings` it takes (``momentum``, ``decay_rate``, ``beta1``, ``beta2``); the others are
    ignored, so that one set of training settings serves every optimizer."""
    cls = OPTIMIZERS[SETTINGS["optimizer"].check(name)]
    taken = {key: value for key, value in settings.items() if key in cls.settings_names}
    return cls(lr, **taken)
