"""A training run's whole state in one file, so that the run can continue exactly where it stopped:
:class:`Checkpoint`, written atomically and read back within bounds and checked.

The file is a zip archive of stored (uncompressed) members: ``checkpoint.json`` (the format, the
iteration, the settings, the history so far, the generators' states, the data's fingerprint, the
optimizer's settings), ``net.npz`` (the network, in :mod:`twolayer.serialization`'s format, read
by the same reader as :meth:`TwoLayerNet.load`) and ``.npy`` arrays (the mini-batches' losses, 8
bytes each however long the run, the optimizer's state, the shuffled order of the epoch under way,
a mini-batch drawn but not yet stepped on). No pickle.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import weakref
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write, open_regular
from .history import MAX_HISTORY_BYTES
from .serialization import (
    Header,
    _BoundedReads,
    _npy_header,
    _read_data,
    _read_member,
    _reading,
    _Refusal,
)
from .serialization import reading as read_net
from .serialization import write as write_net

__all__ = ["FORMAT", "Checkpoint", "CheckpointError", "fingerprint"]

FORMAT = "twolayer.Checkpoint/2"
"""Stored under ``format`` in checkpoint.json: a checkpoint of another version is refused."""
_READABLE = (FORMAT, "twolayer.Checkpoint/1")  # format 1 kept the losses in checkpoint.json

_JSON = "checkpoint.json"
_NET = "net.npz"
_ARRAYS = ("optimizer_state", "order", "pending", "losses")  # each an optional .npy member
_MAX_JSON = MAX_HISTORY_BYTES + (1 << 20)  # the history, and a little besides


class CheckpointError(ValueError):
    """A checkpoint refused: damaged, of another format version, or of other data or settings."""


@dataclass
class Checkpoint:
    """A run stopped after `iteration` iterations: everything :func:`~twolayer.training.train`
    needs to continue it.

    ``state`` holds what JSON holds (settings, history, generators' states, the evaluation due
    next, the fingerprint of the data, the optimizer's settings); ``arrays`` the optimizer's state,
    the shuffled order and the pending mini-batch, where there are any."""

    header: Header
    params: dict[str, np.ndarray]
    state: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def iteration(self) -> int:
        return int(self.state["iteration"])

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write the checkpoint to `path`, atomically: an existing file is replaced whole or not at
        all."""
        net = io.BytesIO()
        write_net(net, self.header, self.params)
        text = json.dumps({"format": FORMAT, **self.state}, allow_nan=False).encode()
        with atomic_write(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(_JSON, text)
            archive.writestr(_NET, net.getvalue())
            for name, array in self.arrays.items():
                data = io.BytesIO()
                np.lib.format.write_array(data, np.ascontiguousarray(array), allow_pickle=False)
                archive.writestr(f"{name}.npy", data.getvalue())

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """The checkpoint in `path`. Raises FileNotFoundError if there is none, CheckpointError
        naming `path` if it is damaged, not a checkpoint, or of another format version.

        Nothing is read before it is checked, as :meth:`TwoLayerNet.load` does: the zip directory
        (known members only, stored, all within the file), checkpoint.json (at most about
        :data:`~twolayer.history.MAX_HISTORY_BYTES`), the network through
        :func:`twolayer.serialization.reading`, each array's .npy header.
        """
        path = Path(path)
        try:
            with open_regular(path) as file, _reading(path):
                size = file.seek(0, io.SEEK_END)
                file.seek(0)
                archive = zipfile.ZipFile(_BoundedReads(file))
                members = _checked_members(archive, path, size)
                state = _read_state(archive, members[_JSON], path)
                header, params = _read_network(archive, members[_NET])
                arrays = {
                    name: _read_array(archive, members[f"{name}.npy"], path)
                    for name in _ARRAYS
                    if f"{name}.npy" in members
                }
        except ValueError as exc:
            message = str(exc).replace("is not a readable npz file", "is not a readable checkpoint")
            raise CheckpointError(
                message if str(path) in message else f"{path}: {message}"
            ) from None
        return cls(header, params, state, arrays)


def _checked_members(archive: zipfile.ZipFile, path: Path, size: int) -> dict[str, Any]:
    members = {info.filename: info for info in archive.infolist()}
    known = {_JSON, _NET, *(f"{name}.npy" for name in _ARRAYS)}
    if _JSON not in members or _NET not in members:
        raise _Refusal(f"{path} is not a twolayer checkpoint: it lacks {_JSON} or {_NET}")
    unknown = sorted(set(members) - known)
    if unknown:
        raise _Refusal(f"{path}: damaged checkpoint: it also holds {', '.join(unknown)}")
    for info in members.values():
        if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
            raise _Refusal(f"{path}: damaged checkpoint: {info.filename} is not stored as it is")
    if sum(info.file_size for info in members.values()) > size:
        raise _Refusal(f"{path}: damaged checkpoint: its members are larger than the file")
    if members[_JSON].file_size > _MAX_JSON:
        raise _Refusal(f"{path}: damaged checkpoint: {_JSON} is larger than {_MAX_JSON:,} bytes")
    return members


def _read_state(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> dict[str, Any]:
    state = json.loads(_read_member(archive, info), parse_constant=_reject_constant)
    if not isinstance(state, dict):
        raise _Refusal(f"{path}: damaged checkpoint: {_JSON} is not an object")
    found = state.pop("format", None)
    if found not in _READABLE:
        raise _Refusal(
            f"{path} is a checkpoint of format {found!r}; this version of twolayer reads {FORMAT!r}"
        )
    iteration = state.get("iteration")
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise _Refusal(f"{path}: damaged checkpoint: iteration {iteration!r}")
    return state


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _read_network(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo
) -> tuple[Header, dict[str, np.ndarray]]:
    """The network member, read as TwoLayerNet.load reads a file (its size is within the file's)."""
    data = io.BytesIO(_read_member(archive, info))
    data.name = _NET  # named so in its errors
    with read_net(data) as saved:
        params = {key: np.empty(shape, saved.header.dtype) for key, shape in saved.header.shapes()}
        saved.read_into(params)
    return saved.header, params


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """A one-dimensional float or integer array, once its .npy header agrees with its size."""
    with archive.open(info) as member:
        shape, fortran_order, dtype = _npy_header(member)
        offset = member.tell()
    nbytes = math.prod(shape) * dtype.itemsize
    if len(shape) != 1 or dtype.kind not in "fi" or dtype.hasobject:
        raise _Refusal(f"{path}: damaged checkpoint: {info.filename} is {dtype}{list(shape)}")
    if info.file_size != offset + nbytes:
        raise _Refusal(f"{path}: damaged checkpoint: {info.filename} is not {nbytes} bytes")
    return _read_data(archive, info, np.empty(shape, dtype), fortran_order)


def fingerprint(arrays: Iterable[np.ndarray]) -> str:
    """A digest of `arrays` (their dtypes, shapes and bytes): what tells one run's data from
    another's. An array that is read-only, as is all it views, is hashed once (its digest kept while
    it lives): MNIST is 0.2 s of hashing on a quiet machine, paid by every checkpoint otherwise."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        digest.update(_digest(np.asarray(array)).encode())
    return digest.hexdigest()


_DIGESTS: dict[int, tuple[weakref.ref[np.ndarray], str]] = {}


def _immutable(array: np.ndarray) -> bool:
    """Whether `array` and every array it views are read-only, down to memory of their own or
    bytes."""
    viewed: Any = array
    while isinstance(viewed, np.ndarray):
        if viewed.flags.writeable:
            return False
        viewed = viewed.base
    return viewed is None or isinstance(viewed, bytes)


def _digest(array: np.ndarray) -> str:
    fixed = _immutable(array)
    if fixed and (known := _DIGESTS.get(id(array))) is not None and known[0]() is array:
        return known[1]
    digest = hashlib.blake2b(digest_size=16)
    contiguous = np.ascontiguousarray(array)
    digest.update(f"{contiguous.dtype.str}{contiguous.shape}".encode())
    digest.update(contiguous.data.cast("B"))
    if fixed:
        key = id(array)

        def forget(_: object) -> None:
            _DIGESTS.pop(key, None)

        _DIGESTS[key] = (weakref.ref(array, forget), digest.hexdigest())
    return digest.hexdigest()


def state_of(generator: np.random.Generator) -> dict[str, Any]:
    """The generator's bit_generator state, as JSON holds it."""
    return dict(generator.bit_generator.state)


def restore(generator: np.random.Generator, state: Mapping[str, Any]) -> None:
    """Set `generator` to `state` (of :func:`state_of`); CheckpointError if it is not one."""
    try:
        generator.bit_generator.state = dict(state)
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"a damaged generator state: {exc}") from None
