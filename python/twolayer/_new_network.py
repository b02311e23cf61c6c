"""A new :class:`~twolayer.TwoLayerNet`: its settings checked (without allocating), the C++
network allocated, and the book's initial parameters."""

from __future__ import annotations

import sys
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from . import _core
from .settings import WEIGHT_INIT_SCALES, NetSettings, SettingError, Size

__all__ = ["check_settings", "initial_params", "new_core"]

_CORE_BY_DTYPE: dict[np.dtype[Any], type[_core.Net64] | type[_core.Net32]] = {
    np.dtype(np.float64): _core.Net64,
    np.dtype(np.float32): _core.Net32,
}
_SIZE = Size()


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


def _describe(dtype: np.dtype[Any], sizes: tuple[int, int, int]) -> tuple[str, int]:
    """("a D-H-C network (n parameters, b bytes)", b)."""
    D, H, C = sizes
    count = D * H + H + H * C + C
    nbytes = count * dtype.itemsize
    return f"a {D}-{H}-{C} network ({count} parameters, {nbytes} bytes)", nbytes


def new_core(
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


def _scale(weight_init_std: float | str, inputs: int) -> float:
    """The standard deviation of a layer of `inputs` inputs' initial weights."""
    if isinstance(weight_init_std, str):
        return float(np.sqrt(WEIGHT_INIT_SCALES[weight_init_std] / inputs))
    return weight_init_std
