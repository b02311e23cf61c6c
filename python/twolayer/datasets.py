"""MNIST as the book's ``load_mnist`` returns it, read from the four standard IDX files and verified.

Every file is checked against the SHA-256 of its uncompressed IDX payload, so the gzip layer (which differs between
mirrors) does not matter, and a truncated, corrupt or wrong file is never used. In the cache directory, the parsed
arrays are also kept as ``.npy`` files, re-checked against the same digests when read back.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import sys
import urllib.request
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._files import atomic_write
from ._progress import progress_bar
from .images import image_to_mnist

__all__ = ["MIRRORS", "cache_dir", "image_to_mnist", "load_mnist", "read_idx"]

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""Base URLs tried in turn for a missing file; ``$TWOLAYER_MNIST_URL`` replaces them with a single one."""


@dataclass(frozen=True)
class _IdxSpec:
    name: str  # file name, without the ".gz"
    shape: tuple[int, ...]
    sha256: str  # of the uncompressed IDX file


# Keyed as in the book's dataset/mnist.py.
_MNIST = {
    "train_img": _IdxSpec(
        "train-images-idx3-ubyte", (60000, 28, 28), "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
    ),
    "train_label": _IdxSpec(
        "train-labels-idx1-ubyte", (60000,), "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
    ),
    "test_img": _IdxSpec(
        "t10k-images-idx3-ubyte", (10000, 28, 28), "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
    ),
    "test_label": _IdxSpec(
        "t10k-labels-idx1-ubyte", (10000,), "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    ),
}
_NUM_CLASSES = 10

# IDX type codes; multi-byte values are big-endian.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``, 60,000 training and 10,000 test samples.

    Parameters
    ----------
    normalize
        True: images as float32 in [0, 1]. False: uint8 in [0, 255].
    flatten
        True: images of shape (N, 784). False: (N, 1, 28, 28).
    one_hot_label
        True: labels as float32 one-hot rows of shape (N, 10). False: uint8 labels of shape (N,).
    data_dir
        Directory holding the four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped with a ``.gz`` suffix or not).
        Default: :func:`cache_dir`, where parsed ``.npy`` copies are also kept so that the next load is quick. In a
        `data_dir` of yours, nothing is written but downloads, and the IDX files are read and verified every time.
    download
        Download missing or corrupt files into `data_dir` from :data:`MIRRORS` (or ``$TWOLAYER_MNIST_URL``).

    Raises
    ------
    FileNotFoundError
        A file is missing (and `download` is False), or no mirror gave a valid copy. The message names the directory,
        the files to put there and, for each attempt, why it failed.
    ValueError
        A file is present but damaged or not the genuine MNIST file, and `download` is False.
    """
    directory = cache_dir() if data_dir is None else Path(data_dir)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} is a file, not a directory for the MNIST files")
    data = {key: _load_array(directory, spec, download, keep_parsed=data_dir is None) for key, spec in _MNIST.items()}

    for key in ("train_img", "test_img"):
        images = data[key]
        if normalize:
            images = images.astype(np.float32)
            images /= 255
        data[key] = images.reshape(len(images), -1) if flatten else images.reshape(len(images), 1, *images.shape[1:])
    if one_hot_label:
        for key in ("train_label", "test_label"):
            data[key] = np.eye(_NUM_CLASSES, dtype=np.float32)[data[key]]
    return (data["train_img"], data["train_label"]), (data["test_img"], data["test_label"])


def cache_dir() -> Path:
    """The directory :func:`load_mnist` uses when `data_dir` is not given.

    ``$TWOLAYER_DATA`` if set; otherwise the platform's user cache directory: ``$XDG_CACHE_HOME/twolayer`` (default
    ``~/.cache/twolayer``) on Linux, ``~/Library/Caches/twolayer`` on macOS, ``%LOCALAPPDATA%\\twolayer\\Cache`` on
    Windows.
    """
    if os.environ.get("TWOLAYER_DATA"):
        return Path(os.environ["TWOLAYER_DATA"]).expanduser()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "twolayer" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "twolayer"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "twolayer"


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzipped or not, into an array of the shape and type its header gives (native byte order).

    Raises ValueError naming the file when it is not IDX, its size disagrees with its header, or its gzip stream is
    damaged or truncated.
    """
    path = Path(path)
    return _parse_idx(_gunzip(path.read_bytes(), str(path)), str(path))


def _gunzip(raw: bytes, source: str) -> bytes:
    """`raw` uncompressed if it starts with the gzip magic number, else `raw` itself."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{source}: damaged or truncated gzip data ({exc})") from None


def _parse_idx(payload: bytes, source: str) -> np.ndarray:
    """The array in an uncompressed IDX `payload`: 00 00, a type code, ndim, ndim big-endian uint32 sizes, the data."""
    if len(payload) < 4 or payload[:2] != b"\0\0" or payload[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{source}: not an IDX file (starts with {payload[:4].hex(' ') or 'nothing'}; "
            "expected 00 00, a type code, the number of dimensions)"
        )
    dtype = np.dtype(_IDX_DTYPES[payload[2]])
    ndim = payload[3]
    offset = 4 + 4 * ndim
    if len(payload) < offset:
        raise ValueError(f"{source}: truncated IDX header ({ndim} dimensions need {offset} bytes, got {len(payload)})")
    shape = struct.unpack(f">{ndim}I", payload[4:offset])
    size = offset + math.prod(shape) * dtype.itemsize
    if len(payload) != size:
        raise ValueError(
            f"{source}: the IDX header gives shape {shape} of {dtype.name}, {size} bytes in all, "
            f"but there are {len(payload)} bytes"
        )
    return np.frombuffer(payload, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def _decode(raw: bytes, spec: _IdxSpec, source: str) -> np.ndarray:
    """The verified uint8 array of `spec` in the file contents `raw`; ValueError naming `source` if it is not it."""
    payload = _gunzip(raw, source)
    array = _parse_idx(payload, source)
    if array.shape != spec.shape:
        raise ValueError(f"{source}: expected an IDX array of shape {spec.shape}, got {array.shape}")
    digest = hashlib.sha256(payload).hexdigest()
    if digest != spec.sha256:
        raise ValueError(f"{source}: SHA-256 of the uncompressed data is {digest}, expected {spec.sha256}")
    return array


def _load_array(directory: Path, spec: _IdxSpec, download: bool, keep_parsed: bool) -> np.ndarray:
    """The array of `spec` from its IDX file in `directory`, else a download; with `keep_parsed`, through a .npy."""
    if keep_parsed and (array := _read_parsed(directory, spec)) is not None:
        return array
    array, problems = _read_local(directory, spec)
    if array is None:
        if not download:
            error = ValueError if problems else FileNotFoundError
            raise error(_unavailable_message(directory, spec, problems, "pass download=True to fetch it"))
        array = _download(directory, spec, problems)
    if keep_parsed:
        _write_parsed(directory, spec, array)
    return array


def _read_local(directory: Path, spec: _IdxSpec) -> tuple[np.ndarray | None, list[str]]:
    """The verified array in the .gz or plain IDX file of `spec`, or None; and why each file present was rejected."""
    problems = []
    for path in (directory / f"{spec.name}.gz", directory / spec.name):
        if path.is_file():
            try:
                return _decode(path.read_bytes(), spec, str(path)), problems
            except ValueError as exc:
                problems.append(str(exc))
    return None, problems


def _download(directory: Path, spec: _IdxSpec, problems: list[str]) -> np.ndarray:
    """Fetch, verify and save the file of `spec` into `directory`; only a verified copy ever gets its real name."""
    directory.mkdir(parents=True, exist_ok=True)
    override = os.environ.get("TWOLAYER_MNIST_URL")
    for base in (override,) if override else MIRRORS:
        url = f"{base.rstrip('/')}/{spec.name}.gz"
        try:
            raw = _http_get(url)
            array = _decode(raw, spec, url)
        # URLError, HTTPError and socket errors are OSErrors; IncompleteRead is an HTTPException; a bad URL is a
        # ValueError.
        except (OSError, http.client.HTTPException, ValueError) as exc:
            problems.append(f"{url}: {exc}")
            continue
        # A server may send the file uncompressed; name it for what it is.
        with atomic_write(directory / (f"{spec.name}.gz" if raw.startswith(_GZIP_MAGIC) else spec.name)) as f:
            f.write(raw)
        return array
    raise FileNotFoundError(_unavailable_message(directory, spec, problems, "check the network or $TWOLAYER_MNIST_URL"))


def _http_get(url: str) -> bytes:
    """The body at `url`, with a progress bar on a terminal."""
    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        bar = progress_bar(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=url.rsplit("/", 1)[-1])
        chunks = []
        try:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    body = b"".join(chunks)
    # http.client ends a body cut short without an error; say so rather than blame the data.
    if total is not None and len(body) != total:
        raise ConnectionError(f"the connection closed after {len(body)} of {total} bytes")
    return body


def _unavailable_message(directory: Path, spec: _IdxSpec, problems: list[str], remedy: str) -> str:
    files = ", ".join(s.name for s in _MNIST.values())
    lines = [f"no valid copy of the MNIST file {spec.name} in {directory}"]
    lines += [f"  {problem}" for problem in problems] or [f"  neither {spec.name}.gz nor {spec.name} is there"]
    lines.append(
        f"Put the four MNIST files ({files}; gzipped with a .gz suffix or not) in {directory}, "
        f"or pass data_dir= (CLI: --data-dir) or set $TWOLAYER_DATA to where they are, or {remedy}."
    )
    return "\n".join(lines)


def _parsed_path(directory: Path, spec: _IdxSpec) -> Path:
    return directory / f"{spec.name}.npy"


def _read_parsed(directory: Path, spec: _IdxSpec) -> np.ndarray | None:
    """The array a previous load kept, or None if there is none or it does not match the digest of `spec`."""
    try:
        # A damaged .npy header makes np.load raise more than ValueError (TokenError, SyntaxError,
        # TypeError), or warn and guess: whatever goes wrong, the copy is rebuilt from the IDX file.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            array = np.load(_parsed_path(directory, spec), allow_pickle=False)
    except Exception:  # absent or damaged: rebuild it from the IDX file
        return None
    if array.dtype != np.uint8 or array.shape != spec.shape:
        return None
    # A uint8 IDX header is determined by the shape, so the cached array can be checked against the file's digest.
    header = struct.pack(f">2xBB{array.ndim}I", 0x08, array.ndim, *array.shape)
    if hashlib.sha256(header + array.tobytes()).hexdigest() != spec.sha256:
        return None
    return array


def _write_parsed(directory: Path, spec: _IdxSpec, array: np.ndarray) -> None:
    try:
        with atomic_write(_parsed_path(directory, spec)) as f:
            np.save(f, array, allow_pickle=False)
    except OSError:
        pass  # a read-only cache directory: the .npy only saves time, so go without it
