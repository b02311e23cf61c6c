"""Saving and loading a TwoLayerNet as an ``.npz`` file: its sizes, activation, dtype and parameters.

Use :meth:`TwoLayerNet.save` and :meth:`TwoLayerNet.load`; this module holds their logic.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from . import _core
from ._files import atomic_write

if TYPE_CHECKING:
    from .net import TwoLayerNet

__all__ = ["FORMAT", "load", "save"]

FORMAT = "twolayer.TwoLayerNet/2"
"""Stored under the key ``format``: it marks the file as ours, and its version tells old layouts from new. Version 2
added ``activation``: a version 1 reader refuses such files rather than load a ReLU network as a sigmoid one."""
_FORMAT_BEFORE_ACTIVATION = "twolayer.TwoLayerNet/1"
"""Files of version 1 hold sigmoid networks, the only kind there was."""

Net = TypeVar("Net", bound="TwoLayerNet")


def save(net: TwoLayerNet, path: str | os.PathLike[str]) -> None:
    """Write `net` to the npz file `path` (exactly that name: no suffix is added), atomically.

    The file holds ``format``, ``sizes`` (input, hidden, output), ``activation``, ``dtype`` and the arrays
    ``W1 b1 W2 b2``. It is
    written to a temporary file beside `path` and renamed over it once complete, so an existing file at `path` is
    replaced whole or not at all.
    """
    sizes = np.array([net.input_size, net.hidden_size, net.output_size], dtype=np.int64)
    with atomic_write(path) as f:
        np.savez(
            f, format=np.str_(FORMAT), sizes=sizes, activation=np.str_(net.activation), dtype=np.str_(net.dtype.name),
            **net.params,
        )  # fmt: skip


def load(path: str | os.PathLike[str], cls: type[Net]) -> Net:
    """A new `cls` (a TwoLayerNet class) with the sizes, activation, dtype and parameters saved in `path` by :func:`save`.

    Raises FileNotFoundError if `path` does not exist, and ValueError naming `path` if it is not such a file, is
    damaged, holds an activation this version does not know, or holds parameters whose shapes or dtypes disagree
    with its sizes and dtype. Files written before the activation was recorded load as sigmoid networks.
    """
    path = Path(path)
    # Opened here rather than by np.load, which leaves its own file open when the zip turns out damaged.
    with open(path, "rb") as file:
        try:
            # A damaged header can also make NumPy warn and go on guessing: that is damage too.
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                data = np.load(file, allow_pickle=False)
                if not isinstance(data, np.lib.npyio.NpzFile):
                    raise ValueError("it is a single .npy array")
                contents = {key: data[key] for key in data.files}
        except MemoryError:
            raise
        # A file of another kind, or a truncated or corrupted one. Besides ValueError, EOFError and BadZipFile,
        # damaged bytes make zipfile raise NotImplementedError (a compression method or version it lacks),
        # RuntimeError (an encryption flag) or OSError (an impossible offset), and np.load's header parser
        # tokenize.TokenError, SyntaxError or TypeError: whatever it is, the file is not readable.
        except Exception as exc:
            raise ValueError(f"{path} is not a readable npz file: {exc}") from None

    found = str(contents["format"]) if "format" in contents else None
    if found not in (FORMAT, _FORMAT_BEFORE_ACTIVATION):
        raise ValueError(f"{path} is not a TwoLayerNet saved by twolayer: its format is {found!r}, expected {FORMAT!r}")
    sizes, dtype = contents.get("sizes", np.empty(0)), str(contents.get("dtype", ""))
    if sizes.shape != (3,) or sizes.dtype.kind not in "iu" or (sizes < 1).any() or dtype not in ("float32", "float64"):
        raise ValueError(f"{path}: damaged header: sizes {sizes.tolist()}, dtype {dtype!r}")

    if found == FORMAT and "activation" not in contents:
        raise ValueError(f"{path}: damaged header: the activation is missing")
    activation = str(contents["activation"]) if found == FORMAT else "sigmoid"
    if activation not in _core.ACTIVATIONS:
        raise ValueError(
            f"{path}: the network's activation is {activation!r}, which this version of twolayer does not know "
            f"(it knows {', '.join(map(repr, _core.ACTIVATIONS))})"
        )

    # A fixed seed, so that loading never draws from NumPy's global generator; the weights are overwritten below.
    net = cls(*(int(n) for n in sizes), activation=activation, dtype=dtype, seed=0)
    for key, view in net.params.items():
        if key not in contents:
            raise ValueError(f"{path}: the parameter {key} is missing")
        array = contents[key]
        if array.shape != view.shape or array.dtype != view.dtype:
            raise ValueError(
                f"{path}: {key} is {array.dtype}{list(array.shape)}, expected {view.dtype}{list(view.shape)} "
                f"for sizes {sizes.tolist()} and dtype {dtype}"
            )
        net.params[key] = array
    return net
