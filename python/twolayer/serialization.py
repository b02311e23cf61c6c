"""The file format of a saved TwoLayerNet: an ``.npz`` file of its header (sizes, dtype,
activation, weight decay) and its parameters, written whole and read within bounds.

:meth:`TwoLayerNet.save` and :meth:`TwoLayerNet.load` build on it: this module knows the file, not
the network, so it imports nothing of the net's.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
import zipfile
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np

from . import _core
from ._files import atomic_write, open_regular

__all__ = ["FORMAT", "Header", "Saved", "reading", "write"]

FORMAT = "twolayer.TwoLayerNet/3"
"""Stored under the key ``format``: it marks the file as ours, and its version tells old layouts
from new. Version 2 added ``activation``: a version 1 reader refuses such files rather than load a
ReLU network as a sigmoid one. Version 3 added ``weight_decay_lambda``, for the same reason."""
_FORMAT_BEFORE_ACTIVATION = "twolayer.TwoLayerNet/1"
"""Files of version 1 hold sigmoid networks, the only kind there was."""
_FORMAT_BEFORE_DECAY = "twolayer.TwoLayerNet/2"
"""Files of version 1 and 2 hold networks without weight decay."""


@dataclass(frozen=True)
class Header:
    """What a file says of its network: the sizes (input, hidden, output), dtype, activation and
    weight decay λ (0 in files from before it was saved)."""

    sizes: tuple[int, int, int]
    dtype: str
    activation: str
    weight_decay_lambda: float = 0.0

    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        d, h, c = self.sizes
        shapes = [(d, h), (h,), (h, c), (c,)]
        return list(zip(_core.PARAM_NAMES, shapes))  # noqa: B905 (strict= is Python 3.10+)


def write(
    path: str | os.PathLike[str] | BinaryIO, header: Header, params: Mapping[str, np.ndarray]
) -> None:
    """Write a network of `header` and `params` to the npz file `path` (exactly that name: no
    suffix is added), atomically; or to a binary file object opened for writing, at its current
    position.

    The file holds ``format``, ``sizes`` (input, hidden, output), ``activation``, ``dtype``,
    ``weight_decay_lambda`` and the arrays ``W1 b1 W2 b2``. It is written to a temporary file
    beside `path` and renamed over it once complete, so an existing file at `path` is replaced
    whole or not at all.
    """
    contents: dict[str, Any] = {  # Any: NumPy's stub would match a key with allow_pickle
        "format": np.str_(FORMAT),
        "sizes": np.array(header.sizes, dtype=np.int64),
        "activation": np.str_(header.activation),
        "dtype": np.str_(header.dtype),
        "weight_decay_lambda": np.float64(header.weight_decay_lambda),
        **params,
    }
    if not isinstance(path, (str, os.PathLike)):
        np.savez(_binary(path), **contents)
        return
    with atomic_write(path) as f:
        np.savez(f, **contents)


def _binary(file: BinaryIO) -> BinaryIO:
    """`file`, a file object; TypeError if it was opened in text mode (NumPy's error would not say
    so)."""
    if isinstance(file, io.TextIOBase):
        raise TypeError(f"the file must be opened in binary mode ('rb' or 'wb'), got {file!r}")
    return file


_NPY_MAGIC = b"\x93NUMPY"
_HEADER_KEYS = ("format", "sizes", "dtype", "activation", "weight_decay_lambda")
_DTYPES = ("float32", "float64")
_MAX_HEADER_MEMBER = (
    4096  # bytes: format, sizes, dtype and the like are .npy files of about 150 bytes
)
_MAX_READ = 1 << 20  # bytes read at a time; a TwoLayerNet file's zip directory is under 1 KiB


@contextlib.contextmanager
def reading(path: str | os.PathLike[str] | BinaryIO) -> Iterator[Saved]:
    """Open the network file `path` (a path, or a seekable binary file object) that :func:`write`
    wrote, and yield it as :class:`Saved`, its header checked, for the caller to build the network
    the header describes and read the parameters into it.

    Nothing is read before it is checked: first the zip directory (every member one of ours, stored
    uncompressed, all of them within the file), then the header (``format``, ``sizes``,
    ``dtype``, ``activation``), then the header of each parameter's .npy; the parameters are read
    only by :meth:`Saved.read_into`. So the network a file describes is never larger than the
    file.

    Raises FileNotFoundError if `path` does not exist, ValueError naming `path` if it is not such a
    file, is damaged, or holds parameters whose shapes or dtypes disagree with its sizes and dtype.
    """
    opened: contextlib.AbstractContextManager[IO[bytes]]
    if isinstance(path, (str, os.PathLike)):
        path = Path(path)
        # Opened here rather than by zipfile, so that it is closed whatever goes wrong.
        opened = open_regular(path)  # a FIFO or a directory is refused, not waited on
    else:  # a seekable binary file object, named in errors by its name or its type
        opened = contextlib.nullcontext(_binary(path))
        path = Path(str(getattr(path, "name", None) or f"the {type(path).__name__}"))
    with opened as file:
        with _reading(path):
            if file.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                raise ValueError("it is a single .npy array")
            archive = zipfile.ZipFile(_BoundedReads(file))  # reads the zip directory only
            header = _read_header(archive, path, file.seek(0, io.SEEK_END))
            params = {
                key: _param_layout(archive, key, shape, header, path)
                for key, shape in header.shapes()
            }
        yield Saved(header, path, archive, params)


@dataclass(frozen=True)
class Saved:
    """A network file being read: its checked `header`, and its parameters, to be read by
    :meth:`read_into` into the arrays of the network built for them."""

    header: Header
    path: Path
    _archive: zipfile.ZipFile
    _params: dict[str, tuple[zipfile.ZipInfo, bool]]

    def read_into(self, params: MutableMapping[str, np.ndarray]) -> None:
        """Read each parameter into ``params[key]``, which has the shape and dtype of the header."""
        with _reading(self.path):
            for key, (info, fortran_order) in self._params.items():
                params[key] = _read_data(self._archive, info, params[key], fortran_order)


class _Refusal(ValueError):
    """A file refused by a check of ours, its message complete (naming the file)."""


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn whatever reading a damaged or foreign file raises into a ValueError naming it."""
    try:
        # A damaged .npy header can make NumPy warn and go on guessing: that is damage too.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield
    except _Refusal as exc:
        raise ValueError(str(exc)) from None
    except MemoryError:
        raise
    # Besides ValueError, EOFError and BadZipFile, damaged bytes make zipfile raise
    # NotImplementedError (a compression method or version it lacks), RuntimeError (an encryption
    # flag) or OSError (an impossible offset), and NumPy's .npy header parser tokenize.TokenError,
    # SyntaxError or TypeError: whatever it is, the file is not readable.
    except Exception as exc:
        raise ValueError(f"{path} is not a readable npz file: {exc}") from None


class _BoundedReads:
    """A binary file whose reads return at most _MAX_READ bytes, and refuse to go further: a zip
    directory that claims more is refused before it is read (zipfile reads it whole)."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.seek, self.tell, self.seekable = file.seek, file.tell, file.seekable

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and 0 <= size <= _MAX_READ:
            return self._file.read(size)
        data = self._file.read(_MAX_READ + 1)
        if len(data) > _MAX_READ:
            raise ValueError(
                f"its zip directory or a header in it is larger than {_MAX_READ} bytes"
            )
        return data


def _read_header(archive: zipfile.ZipFile, path: Path, file_size: int) -> Header:
    """The checked header of a TwoLayerNet file of `file_size` bytes, once its zip directory is
    checked; nothing else is read."""
    members = {info.filename: info for info in archive.infolist()}
    values = {}
    for key in _HEADER_KEYS:
        if (info := members.get(f"{key}.npy")) is not None:
            if info.file_size > _MAX_HEADER_MEMBER:
                raise _Refusal(
                    f"{path}: damaged header: {key} is {info.file_size} bytes, "
                    f"more than {_MAX_HEADER_MEMBER}"
                )
            values[key] = _read_small(archive, info)
    found = str(values["format"]) if "format" in values else None
    if found not in (FORMAT, _FORMAT_BEFORE_DECAY, _FORMAT_BEFORE_ACTIVATION):
        raise _Refusal(
            f"{path} is not a TwoLayerNet saved by twolayer: "
            f"its format is {found!r}, expected {FORMAT!r}"
        )
    unknown = sorted(set(members) - {f"{key}.npy" for key in (*_HEADER_KEYS, *_core.PARAM_NAMES)})
    if unknown:
        raise _Refusal(f"{path}: damaged: it also holds {', '.join(unknown)}")
    # As save writes them: every member stored as it is, and all of them within the file, so that
    # the network the directory describes is never larger than the file.
    for info in members.values():
        if info.compress_type != zipfile.ZIP_STORED:
            raise _Refusal(
                f"{path}: {info.filename} is compressed; "
                "a TwoLayerNet file stores its arrays as they are"
            )
        if info.compress_size != info.file_size:
            raise _Refusal(
                f"{path}: {info.filename} is {info.file_size} bytes in the zip directory, "
                f"but {info.compress_size} stored"
            )
    stored = sum(info.compress_size for info in members.values())
    if stored > file_size:
        raise _Refusal(
            f"{path}: its members are {stored} bytes in the zip directory, "
            f"more than the file's {file_size}"
        )
    sizes, dtype = values.get("sizes", np.empty(0)), str(values.get("dtype", ""))
    if (
        sizes.shape != (3,)
        or sizes.dtype.kind not in "iu"
        or (sizes < 1).any()
        or dtype not in _DTYPES
    ):
        raise _Refusal(f"{path}: damaged header: sizes {sizes.tolist()}, dtype {dtype!r}")
    sizes_read = (int(sizes[0]), int(sizes[1]), int(sizes[2]))
    activation = _read_activation(values, found, path)
    return Header(sizes_read, dtype, activation, _read_decay(values, found, path))


def _read_activation(values: dict[str, np.ndarray], found: str, path: Path) -> str:
    """The header's activation; sigmoid in files from before it was saved."""
    if found != _FORMAT_BEFORE_ACTIVATION and "activation" not in values:
        raise _Refusal(f"{path}: damaged header: the activation is missing")
    activation = str(values["activation"]) if found != _FORMAT_BEFORE_ACTIVATION else "sigmoid"
    if activation not in _core.ACTIVATIONS:
        raise _Refusal(
            f"{path}: the network's activation is {activation!r}, which this version of twolayer "
            f"does not know (it knows {', '.join(map(repr, _core.ACTIVATIONS))})"
        )
    return activation


def _read_decay(values: dict[str, np.ndarray], found: str, path: Path) -> float:
    """The header's weight decay λ: a finite float64 >= 0; 0 in files from before it was saved."""
    decay = values.get("weight_decay_lambda")
    if found != FORMAT:
        if decay is not None:
            raise _Refusal(f"{path}: damaged header: a {found} file holds no weight_decay_lambda")
        return 0.0
    if decay is None or decay.shape != () or decay.dtype != np.float64 or not 0 <= decay < np.inf:
        shown = None if decay is None else decay.tolist()
        raise _Refusal(f"{path}: damaged header: weight_decay_lambda {shown!r}")
    return float(decay)


def _npy_header(member: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The shape, order and dtype in the header of the .npy file `member`, read up to the start of
    its data."""
    version = np.lib.format.read_magic(member)
    read_header = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in read_header:
        raise ValueError(f"a .npy file of version {version}, not 1.0 or 2.0")
    return read_header[version](member)


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """The array in the .npy entry `info`, already known to be small, once its header agrees with
    its size."""
    with archive.open(info) as member:
        shape, fortran_order, dtype = _npy_header(member)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size:
            raise ValueError(
                f"{info.filename} claims {nbytes} bytes of data in a {info.file_size}-byte entry"
            )
        array = np.frombuffer(member.read(nbytes), dtype).reshape(
            shape, order="F" if fortran_order else "C"
        )
        member.read()  # to the end, where zipfile checks the CRC-32
    return array


def _param_layout(
    archive: zipfile.ZipFile, key: str, shape: tuple[int, ...], header: Header, path: Path
) -> tuple[zipfile.ZipInfo, bool]:
    """The zip entry of parameter `key` and whether it is in Fortran order, once its .npy header and
    its size agree with the `shape` and dtype that the file's header implies; only that .npy header
    is read."""
    try:
        info = archive.getinfo(f"{key}.npy")
    except KeyError:
        raise _Refusal(f"{path}: the parameter {key} is missing") from None
    dtype = np.dtype(header.dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    with archive.open(info) as member:
        found_shape, fortran_order, found_dtype = _npy_header(member)
        data_offset = member.tell()
    if found_shape != shape or found_dtype != dtype:
        raise _Refusal(
            f"{path}: {key} is {found_dtype}{list(found_shape)}, expected {dtype}{list(shape)} "
            f"for sizes {list(header.sizes)} and dtype {dtype}"
        )
    size = data_offset + nbytes
    if info.file_size != size:
        raise _Refusal(
            f"{path}: {key}.npy is {info.file_size} bytes in the zip directory, expected {size}"
        )
    return info, fortran_order


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """The whole of the member `info`, whose size is checked already, read at most _MAX_READ bytes
    at a time (the bounded reader refuses more)."""
    chunks = []
    with archive.open(info) as member:
        while chunk := member.read(_MAX_READ):
            chunks.append(chunk)
    return b"".join(chunks)


def _read_data(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, like: np.ndarray, fortran_order: bool
) -> np.ndarray:
    """The array in the .npy entry `info`, of the shape and dtype of `like` (already checked), read
    in chunks."""
    array = np.empty(like.shape, like.dtype, order="F" if fortran_order else "C")
    data = (array.T if fortran_order else array).data.cast("B")
    with archive.open(info) as member:
        # Past the .npy header, checked already (a seek would skip the CRC-32 check).
        member.read(info.file_size - len(data))
        for start in range(0, len(data), _MAX_READ):
            chunk = member.read(min(_MAX_READ, len(data) - start))
            data[start : start + len(chunk)] = chunk
            if len(chunk) < min(_MAX_READ, len(data) - start):
                raise EOFError(f"{info.filename} ends early")
        member.read(1)  # reaches the end, where zipfile checks the CRC-32
    return array
