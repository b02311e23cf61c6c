"""A long run's mini-batch losses beside its history.json, as float64 ``.npy``: 8 bytes an
iteration instead of JSON's 20 or so, read back within the bound its history's ``iters_num`` sets.

A history of up to :data:`INLINE_LOSSES` losses keeps them in its JSON (readable, as the book's
runs of 10,000 iterations are); a longer one names this file instead, so that what ``train`` writes
``plot`` reads however long the run, the JSON staying within its own bound."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._files import atomic_write, open_regular

__all__ = ["INLINE_LOSSES", "LOSSES_SUFFIX", "losses_path", "read_losses", "write_losses"]

INLINE_LOSSES = 1_000_000
"""The most losses a history.json holds itself: about 22 MB of its 64 MiB bound, leaving the rest
to the evaluations."""
LOSSES_SUFFIX = ".losses.npy"
_FLOAT = np.dtype("<f8")


def losses_path(history: Path) -> Path:
    """The losses' file of the history at `history`: ``history.json`` -> ``history.losses.npy``."""
    return history.with_name(history.stem + LOSSES_SUFFIX)


def write_losses(path: Path, losses: Sequence[float]) -> None:
    with atomic_write(path) as f:
        np.lib.format.write_array(f, np.asarray(losses, dtype=_FLOAT), allow_pickle=False)


def read_losses(path: Path, most: int) -> list[float | None]:
    """The losses in `path`, non-finite ones as None (as the JSON holds them), if it is a regular
    file holding a 1-D float64 array of at most `most` losses and nothing else; else ValueError."""
    with open_regular(path) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version != (1, 0):
                raise ValueError(f"format version {version}, not (1, 0)")
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        except ValueError as exc:
            raise ValueError(f"{path} is not a run's losses: {exc}") from None
        if dtype != _FLOAT or len(shape) != 1 or fortran or not 0 <= shape[0] <= most:
            raise ValueError(
                f"{path} must hold at most {most:,} float64 losses, got {dtype} of shape {shape}"
            )
        size = f.tell() + shape[0] * _FLOAT.itemsize
        if os.fstat(f.fileno()).st_size != size:
            raise ValueError(f"{path} is not {size:,} bytes long, as its header says")
        data = np.frombuffer(f.read(shape[0] * _FLOAT.itemsize), dtype=_FLOAT)
    return [x if math.isfinite(x) else None for x in data.tolist()]
