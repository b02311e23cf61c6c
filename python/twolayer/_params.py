"""The parameters of a :class:`~twolayer.TwoLayerNet` as a mapping of NumPy views of the C++
buffers, which assignments copy into."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._arguments import as_array
from ._core import PARAM_NAMES

__all__ = ["Params"]


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
        array = as_array(value, name)
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
