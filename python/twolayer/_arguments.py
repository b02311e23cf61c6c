"""What a caller gives :class:`~twolayer.TwoLayerNet`'s passes, made what the core takes: arrays
(one sample promoted to a batch of one) and the step of central differences. Errors name the
argument; the bindings check the arrays' dtypes, shapes and labels."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._constraints import Real

__all__ = ["as_array", "batch", "batch_and_targets", "difference_step"]

_FINITE = Real()


def as_array(value: ArrayLike, name: str) -> np.ndarray:
    """value as an array; errors name the argument. Masked entries would be silently used, so a
    masked array with any is refused."""
    if np.ma.isMaskedArray(value) and np.ma.is_masked(value):
        raise TypeError(f"{name} is a masked array with masked entries; fill or drop them first")
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name} must be an array of numbers: {exc}") from None


def batch(x: ArrayLike, input_size: int) -> tuple[np.ndarray, bool]:
    """x as an array; a single sample (D,) becomes a batch of one."""
    x = as_array(x, "x")
    if x.ndim == 1:
        if x.shape[0] != input_size:
            raise ValueError(
                f"x must have shape (N, {input_size}) or ({input_size},), got {x.shape}"
            )
        return x[np.newaxis], True
    return x, False


def batch_and_targets(
    x: ArrayLike, t: ArrayLike, input_size: int, output_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Like batch; with a single sample, t is one label (a scalar, or of shape (1,)) or one row
    of shape (C,)."""
    x, single = batch(x, input_size)
    t = as_array(t, "t")
    if single:
        if t.ndim == 0:
            t = t.reshape(1)
        elif t.ndim == 1 and t.shape[0] == output_size:
            t = t.reshape(1, -1)
    return x, t


def difference_step(h: Any) -> float:
    """h as the step of central differences: a finite float (bools, strings, arrays and complex
    numbers refused) of at least the smallest normal double (a subnormal h makes 1/2h overflow to
    inf, and the differences 0·inf = NaN)."""
    step: float = _FINITE.check("h", h)
    if not step >= sys.float_info.min:
        raise ValueError(
            f"h must be a positive finite number of at least {sys.float_info.min!r} "
            f"(the smallest normal double), got {step!r}"
        )
    return step
