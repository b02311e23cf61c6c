"""MNIST as the book's ``load_mnist`` returns it, read from the four standard IDX files and
verified.

Every file is checked against the SHA-256 of its uncompressed IDX payload, so the gzip layer (which
differs between mirrors) does not matter, and a truncated, corrupt or wrong file is never used. In
the cache directory, the parsed arrays are also kept as ``.npy`` files, re-checked against the same
digests when read back.

Nothing is read whole before it is checked: files and downloads are read in chunks, decompressed
into an array of the size the IDX header gives (which must be MNIST's), hashed as they come, and
refused as soon as they go past the size any genuine copy can have (docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import math
import os
import socket
import struct
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import atomic_write
from ._idx import CHUNK, GZIP_MAGIC, IdxStream, read_idx
from ._paths import closest_existing
from ._progress import progress_bar
from .images import image_to_mnist

__all__ = ["DOWNLOAD_TIMEOUT", "MIRRORS", "cache_dir", "image_to_mnist", "load_mnist", "read_idx"]

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
"""Base URLs tried in turn for a missing file; ``$TWOLAYER_MNIST_URL`` replaces them with one."""

DOWNLOAD_TIMEOUT = (60.0, 900.0)
"""Seconds a download may go without receiving data (stall), and the most one file's download may
take (deadline).

The deadline lets a 10 MB file arrive at 11 kB/s. ``$TWOLAYER_DOWNLOAD_TIMEOUT`` (``STALL`` or
``STALL,DEADLINE``) and :func:`load_mnist`'s `download_timeout` override them.
"""


@dataclass(frozen=True)
class _IdxSpec:
    name: str  # file name, without the ".gz"
    shape: tuple[int, ...]
    sha256: str  # of the uncompressed IDX file

    @property
    def payload_size(self) -> int:
        """The size of the uncompressed IDX file: its header, then one byte per value."""
        return 4 + 4 * len(self.shape) + math.prod(self.shape)

    @property
    def max_file_size(self) -> int:
        """The most bytes a copy can have: gzip's worst case for the payload, which is more than the
        payload itself.

        zlib's deflateBound() (stored blocks when nothing compresses), the 18 bytes of the gzip
        wrapper, and 1 KiB for its optional header fields (a file name, a comment).
        """
        n = self.payload_size
        return n + (n >> 12) + (n >> 14) + (n >> 25) + 7 + 18 + 1024


# Keyed as in the book's dataset/mnist.py.
_MNIST = {
    "train_img": _IdxSpec(
        "train-images-idx3-ubyte",
        (60000, 28, 28),
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train_label": _IdxSpec(
        "train-labels-idx1-ubyte",
        (60000,),
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "test_img": _IdxSpec(
        "t10k-images-idx3-ubyte",
        (10000, 28, 28),
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "test_label": _IdxSpec(
        "t10k-labels-idx1-ubyte",
        (10000,),
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}
MNIST_CLASSES = 10
MNIST_PIXELS = 28 * 28


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_label: bool = False,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool | None = None,
    download_timeout: float | tuple[float, float] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``, 60,000 training and 10,000 test
    samples.

    Parameters
    ----------
    normalize
        True: images as float32 in [0, 1]. False: uint8 in [0, 255].
    flatten
        True: images of shape (N, 784). False: (N, 1, 28, 28).
    one_hot_label
        True: labels as float32 one-hot rows of shape (N, 10). False: uint8 labels of shape (N,).
    data_dir
        A data folder of yours holding the four IDX files (``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
        gzipped with a ``.gz`` suffix or not): read and verified every time, never written (but
        for the downloads that ``download=True`` asks for). Default: ``$TWOLAYER_DATA`` if set,
        else the cache, :func:`cache_dir`, where missing files are downloaded and parsed ``.npy``
        copies kept so that the next load is quick.
    download
        Download missing or corrupt files from :data:`MIRRORS` (or ``$TWOLAYER_MNIST_URL``). The
        default, None, downloads into the cache only; True also into a data folder, creating it;
        False never.
    download_timeout
        Seconds a download may go without data, or a pair (that, the most seconds one file may
        take). Default: ``$TWOLAYER_DOWNLOAD_TIMEOUT`` if set, else :data:`DOWNLOAD_TIMEOUT`.

    Raises
    ------
    FileNotFoundError
        A file is missing (and not to be downloaded), or no mirror gave a valid copy; or the data
        folder does not exist (the message names its closest existing folder). The message names
        the directory, whether it is a data folder or the cache, the files to put there and, for
        each attempt, why it failed.
    ValueError
        A file is present but damaged or not the genuine MNIST file, and `download` is False; or a
        bad `download_timeout`.
    """
    timeouts = _download_timeouts(download_timeout)
    place = _data_place(data_dir, download)
    data = {key: _load_array(place, spec, timeouts) for key, spec in _MNIST.items()}
    return _as_the_book_does(data, normalize, flatten, one_hot_label)


def _as_the_book_does(
    data: dict[str, np.ndarray], normalize: bool, flatten: bool, one_hot_label: bool
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The four arrays in the formats that load_mnist's flags ask for."""
    for key in ("train_img", "test_img"):
        images = data[key]
        if normalize:
            images = images.astype(np.float32)
            images /= 255
        data[key] = (
            images.reshape(len(images), -1)
            if flatten
            else images.reshape(len(images), 1, *images.shape[1:])
        )
    if one_hot_label:
        for key in ("train_label", "test_label"):
            data[key] = np.eye(MNIST_CLASSES, dtype=np.float32)[data[key]]
    return (data["train_img"], data["train_label"]), (data["test_img"], data["test_label"])


def _download_timeouts(download_timeout: float | tuple[float, float] | None) -> tuple[float, float]:
    """(stall, deadline) from the argument, else from $TWOLAYER_DOWNLOAD_TIMEOUT, else the
    defaults."""
    value: object
    if download_timeout is None and (setting := os.environ.get("TWOLAYER_DOWNLOAD_TIMEOUT")):
        name, value = "$TWOLAYER_DOWNLOAD_TIMEOUT", setting
        try:
            numbers = [float(part) for part in setting.split(",")]
        except ValueError:
            numbers = []
    else:
        name, value = "download_timeout", download_timeout
        given = DOWNLOAD_TIMEOUT if download_timeout is None else download_timeout
        items = list(given) if isinstance(given, tuple) else [given]
        numbers = [n for n in items if isinstance(n, (int, float)) and not isinstance(n, bool)]
        numbers = numbers if len(numbers) == len(items) else []
    if not 1 <= len(numbers) <= 2 or not all(0 < n < math.inf for n in numbers):
        raise ValueError(
            f"{name} must be a positive number of seconds without data (the stall timeout), "
            "or two: that and the "
            f"most seconds one file may take; got {value!r}"
        )
    return numbers[0], numbers[1] if len(numbers) == 2 else DOWNLOAD_TIMEOUT[1]


@dataclass(frozen=True)
class _Place:
    """Where load_mnist reads: the cache (downloads and .npy copies kept there), or a data folder
    of the user's (only read, unless downloads into it were asked for)."""

    directory: Path
    is_cache: bool
    download: bool

    def describe(self) -> str:
        if self.is_cache:
            return f"the cache {self.directory} (where twolayer downloads MNIST)"
        return f"the data folder {self.directory} (read, never written)"


def _data_place(data_dir: str | os.PathLike[str] | None, download: bool | None) -> _Place:
    """The folder of `data_dir`, else of $TWOLAYER_DATA, else the cache; checked to be a folder,
    and to exist unless it is to be created for a download."""
    given = data_dir if data_dir is not None else os.environ.get("TWOLAYER_DATA") or None
    if given is None:
        place = _Place(cache_dir(), is_cache=True, download=download is not False)
    else:
        place = _Place(Path(given).expanduser(), is_cache=False, download=download is True)
    directory = place.directory
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} is a file, not a directory for the MNIST files")
    if not place.is_cache and not place.download and not directory.exists():
        raise FileNotFoundError(
            f"the data folder {directory} does not exist (the closest existing folder is "
            f"{closest_existing(directory)}); name the folder that holds the MNIST files, or pass "
            "download=True (CLI: --download) to create it and download them into it"
        )
    return place


def cache_dir() -> Path:
    """The cache: where :func:`load_mnist` downloads MNIST, and keeps parsed copies, when no data
    folder is named (neither `data_dir` nor ``$TWOLAYER_DATA``).

    ``$TWOLAYER_CACHE`` if set; otherwise the platform's user cache directory:
    ``$XDG_CACHE_HOME/twolayer`` (default ``~/.cache/twolayer``) on Linux,
    ``~/Library/Caches/twolayer`` on macOS, ``%LOCALAPPDATA%\\twolayer\\Cache`` on Windows.
    """
    if os.environ.get("TWOLAYER_CACHE"):
        return Path(os.environ["TWOLAYER_CACHE"]).expanduser()
    if sys.platform == "win32":
        return (
            Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
            / "twolayer"
            / "Cache"
        )
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "twolayer"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "twolayer"


def _verified(stream: IdxStream, spec: _IdxSpec) -> np.ndarray:
    """The array of a stream that has taken a whole file, if it is the genuine file of `spec`."""
    array = stream.finish()
    digest = stream.sha256.hexdigest()
    if digest != spec.sha256:
        raise ValueError(
            f"{stream.source}: SHA-256 of the uncompressed data is {digest}, expected {spec.sha256}"
        )
    return array


def _load_array(place: _Place, spec: _IdxSpec, timeouts: tuple[float, float]) -> np.ndarray:
    """The array of `spec` from its IDX file in the folder of `place`, else a download; in the
    cache, through a .npy."""
    directory = place.directory
    if place.is_cache and (array := _read_parsed(directory, spec)) is not None:
        return array
    array, problems = _read_local(directory, spec)
    if array is None:
        if not place.download:
            error = ValueError if problems else FileNotFoundError
            remedy = "pass download=True to fetch it" + (
                "" if place.is_cache else " into this folder (CLI: --download)"
            )
            raise error(_unavailable_message(place, spec, problems, remedy))
        array = _download(place, spec, problems, timeouts)
    if place.is_cache:
        _write_parsed(directory, spec, array)
    return array


def _read_local(directory: Path, spec: _IdxSpec) -> tuple[np.ndarray | None, list[str]]:
    """The verified array in the .gz or plain IDX file of `spec`, or None; and why each file present
    was rejected."""
    problems: list[str] = []
    for path in (directory / f"{spec.name}.gz", directory / spec.name):
        if path.is_file():
            try:
                return _read_verified(path, spec), problems
            except ValueError as exc:
                problems.append(str(exc))
    return None, problems


def _read_verified(path: Path, spec: _IdxSpec) -> np.ndarray:
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > spec.max_file_size:  # checked before reading anything
            raise ValueError(
                f"{path} is {size} bytes, more than any copy of {spec.name} can be "
                f"({spec.max_file_size} bytes: "
                f"{spec.payload_size} uncompressed, plus gzip's worst-case overhead)"
            )
        stream = IdxStream(str(path), spec.payload_size, spec.shape)
        stream.feed_file(file)
    return _verified(stream, spec)


def _download(
    place: _Place, spec: _IdxSpec, problems: list[str], timeouts: tuple[float, float]
) -> np.ndarray:
    """Fetch, verify and save the file of `spec` into the folder of `place`, trying each mirror in
    turn."""
    directory = place.directory
    directory.mkdir(parents=True, exist_ok=True)
    override = os.environ.get("TWOLAYER_MNIST_URL")
    for base in (override,) if override else MIRRORS:
        url = f"{base.rstrip('/')}/{spec.name}.gz"
        try:
            return _fetch(url, directory, spec, timeouts)
        # URLError, HTTPError, socket errors and timeouts are OSErrors; IncompleteRead is an
        # HTTPException; a bad URL or a refused body is a ValueError.
        except (OSError, http.client.HTTPException, ValueError) as exc:
            problems.append(
                message if (message := str(exc)).startswith(url) else f"{url}: {message}"
            )
    raise FileNotFoundError(
        _unavailable_message(place, spec, problems, "check the network or $TWOLAYER_MNIST_URL")
    )


def _fetch(url: str, directory: Path, spec: _IdxSpec, timeouts: tuple[float, float]) -> np.ndarray:
    """Download `url` into `directory` as the file of `spec`, verified as it comes: only a verified
    copy ever gets its real name, and a refused one leaves nothing behind."""
    stall, deadline = timeouts
    give_up_at = time.monotonic() + deadline
    stream = IdxStream(url, spec.payload_size, spec.shape)
    try:
        response = urllib.request.urlopen(url, timeout=stall)
    # While waiting for the headers. (socket.timeout: Python 3.9's is no TimeoutError.)
    except socket.timeout:  # noqa: UP041
        raise TimeoutError(f"no response for {stall:g} s (the stall timeout)") from None
    with response:
        chunks = _body(response, spec.max_file_size, stall, (deadline, give_up_at))
        start = b""
        for chunk in chunks:  # enough to tell gzip from plain, and name the file for what it is
            start += chunk
            if len(start) >= len(GZIP_MAGIC):
                break
        name = f"{spec.name}.gz" if start.startswith(GZIP_MAGIC) else spec.name
        with atomic_write(directory / name) as file:
            for chunk in itertools.chain([start], chunks):
                file.write(chunk)
                stream.feed(chunk)
            # Within the block: a refused file is never renamed into place.
            return _verified(stream, spec)


def _body(
    response: Any, max_size: int, stall: float, deadline: tuple[float, float]
) -> Iterator[bytes]:
    """The body of `response` as it arrives, with a progress bar on a terminal; stopped past
    `max_size` bytes, after `stall` seconds without data, or at the monotonic time ``deadline[1]``
    (``deadline[0]`` seconds from the start)."""
    total = int(response.headers.get("Content-Length") or 0) or None
    if total is not None and total > max_size:
        raise ValueError(
            f"the server announces {total} bytes, more than any copy can be ({max_size} bytes)"
        )
    bar = progress_bar(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=response.url.rsplit("/", 1)[-1],
    )
    received = 0
    try:
        while True:
            if time.monotonic() > deadline[1]:
                raise TimeoutError(
                    f"not complete after {deadline[0]:g} s (the deadline), {received} bytes in"
                )
            try:
                # read1: whatever has arrived, so that the deadline is checked between arrivals.
                chunk = response.read1(CHUNK)
            except socket.timeout:  # noqa: UP041 (see above)
                raise TimeoutError(
                    f"no data for {stall:g} s (the stall timeout), {received} bytes in"
                ) from None
            if not chunk:
                break
            received += len(chunk)
            if received > max_size:
                raise ValueError(
                    f"the body goes on past {max_size} bytes, more than any copy can be"
                )
            if bar is not None:
                bar.update(len(chunk))
            yield chunk
    finally:
        if bar is not None:
            bar.close()
    # http.client ends a body cut short without an error; say so rather than blame the data.
    if total is not None and received != total:
        raise ConnectionError(f"the connection closed after {received} of {total} bytes")


def _unavailable_message(place: _Place, spec: _IdxSpec, problems: list[str], remedy: str) -> str:
    files = ", ".join(s.name for s in _MNIST.values())
    lines = [f"no valid copy of the MNIST file {spec.name} in {place.describe()}"]
    lines += [f"  {problem}" for problem in problems] or [
        f"  neither {spec.name}.gz nor {spec.name} is there"
    ]
    four = f"the four MNIST files ({files}; gzipped with a .gz suffix or not)"
    if place.is_cache:
        lines.append(
            f"Put {four} in a data folder and name it with data_dir= (CLI: --data-dir) or "
            f"$TWOLAYER_DATA (a data folder is only read), or {remedy}."
        )
    else:
        lines.append(
            f"Put {four} in {place.directory}, or {remedy}, or name no data folder to read the "
            f"cache, {cache_dir()} ($TWOLAYER_CACHE), where twolayer downloads what is missing."
        )
    return "\n".join(lines)


def _parsed_path(directory: Path, spec: _IdxSpec) -> Path:
    return directory / f"{spec.name}.npy"


def _read_parsed(directory: Path, spec: _IdxSpec) -> np.ndarray | None:
    """The array a previous load kept, or None if there is none or it is not exactly the array of
    `spec`.

    Its .npy header is checked before its data is read, and the data against the digest of `spec`.
    """
    try:
        with open(_parsed_path(directory, spec), "rb") as file, warnings.catch_warnings():
            # A damaged header can make NumPy warn and go on guessing: that is damage too.
            warnings.simplefilter("error")
            version = np.lib.format.read_magic(file)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }
            shape, fortran_order, dtype = read_header[version](file)
            if (
                shape != spec.shape
                or dtype != np.uint8
                or os.fstat(file.fileno()).st_size != file.tell() + math.prod(shape)
            ):
                return None
            array = np.empty(shape, np.uint8)
            file.readinto(array.reshape(-1).data)
    # Absent, or damaged in any of the ways that make NumPy's header parser raise (ValueError,
    # KeyError, TokenError, SyntaxError, TypeError...): it is rebuilt from the IDX file.
    except Exception:
        return None
    if fortran_order:
        array = array.reshape(shape[::-1]).T
    # A uint8 IDX header is determined by the shape, so the cached array can be checked against the
    # file's digest.
    digest = hashlib.sha256(struct.pack(f">2xBB{array.ndim}I", 0x08, array.ndim, *array.shape))
    digest.update(np.ascontiguousarray(array).data)
    return array if digest.hexdigest() == spec.sha256 else None


def _write_parsed(directory: Path, spec: _IdxSpec, array: np.ndarray) -> None:
    try:
        with atomic_write(_parsed_path(directory, spec)) as f:
            np.save(f, array, allow_pickle=False)
    except OSError:
        pass  # a read-only cache directory: the .npy only saves time, so go without it
