"""The IDX format of MNIST's files: arrays read from a file or assembled from a download's bytes as
they come, gzipped or not, bounded and hashed as they go (docs/reliability.md)."""

from __future__ import annotations

import hashlib
import math
import os
import struct
import zlib
from typing import Any, BinaryIO

import numpy as np

from ._files import open_regular

# IDX type codes; multi-byte values are big-endian.
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
_MAX_DEFLATE_RATIO = 1032  # deflate's most: a 258-byte match in one 2-bit code, 8 * 258 / 2
CHUNK = 1 << 18  # bytes read, or decompressed, at a time


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, gzipped or not, into an array of the shape and type its header gives
    (native byte order).

    The file is read in chunks, never past the size its header gives, and that size must fit the
    file: its size when uncompressed, at most what gzip can expand it to (1032 times) when gzipped.
    Raises ValueError naming the file when it is not IDX, its size disagrees with its header, or its
    gzip stream is damaged or truncated.
    """
    with open_regular(path) as file:
        size = os.fstat(file.fileno()).st_size
        gzipped = file.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        file.seek(0)
        stream = IdxStream(str(path), max_payload=size * _MAX_DEFLATE_RATIO if gzipped else size)
        stream.feed_file(file)
    return stream.finish()


class IdxStream:
    """An IDX array assembled from the bytes of its file as they come (gzipped or not), bounded and
    hashed as it goes.

    At most `max_payload` uncompressed bytes are accepted: a header that gives more, or data that
    goes on past what the header gives, is refused at once, before any more is decompressed or
    stored. With `shape`, the header must give exactly that shape of uint8. Every refusal is a
    ValueError naming `source`.
    """

    def __init__(self, source: str, max_payload: int, shape: tuple[int, ...] | None = None) -> None:
        self.source, self.max_payload, self.shape = source, max_payload, shape
        self.sha256 = hashlib.sha256()  # of the uncompressed IDX file
        self._start = b""  # the first bytes, until there are enough to tell gzip from plain
        # A zlib decompressor for gzip; False for a plain file; None until known.
        self._inflate: Any = None
        self._head = b""  # the start of the IDX file, until it holds the whole header
        self._array: np.ndarray | None = None  # allocated once the header is known
        self._data = memoryview(b"")  # the bytes of _array
        self._filled = 0

    def feed_file(self, file: BinaryIO) -> None:
        while chunk := file.read(CHUNK):
            self.feed(chunk)

    def feed(self, raw: bytes) -> None:
        """Take the next bytes of the file."""
        if self._inflate is None:
            self._start += raw
            if len(self._start) < len(GZIP_MAGIC):
                return
            raw, self._start = self._start, b""
            self._inflate = zlib.decompressobj(wbits=31) if raw.startswith(GZIP_MAGIC) else False
        if self._inflate is False:
            self._take(raw)
            return
        # Decompressed a chunk at a time, so that a bomb is caught within a chunk of the end the
        # header gives.
        while True:
            if self._inflate.eof and raw:
                raise ValueError(f"{self.source}: unexpected bytes after the end of the gzip data")
            try:
                payload = self._inflate.decompress(raw, CHUNK)
            except zlib.error as exc:
                raise ValueError(f"{self.source}: damaged or truncated gzip data ({exc})") from None
            self._take(payload)
            raw = self._inflate.unconsumed_tail or self._inflate.unused_data
            if not raw and len(payload) < CHUNK:
                return

    def _take(self, payload: bytes) -> None:
        """Store the next uncompressed bytes, refusing any past the end of the data the header
        gives."""
        if self._array is None:
            self._head += payload
            header = _idx_header(self._head, self.source, complete=False)
            if header is None:
                return
            offset = self._allocate(*header)
            self.sha256.update(self._head[:offset])
            payload, self._head = self._head[offset:], b""
        end = self._filled + len(payload)
        if end > len(self._data):
            raise ValueError(f"{self.source}: {self._sizes()}, but the data goes on past them")
        self._data[self._filled : end] = payload
        self._filled = end
        self.sha256.update(payload)

    def _allocate(self, dtype: np.dtype, shape: tuple[int, ...], offset: int) -> int:
        """Allocate the array the header gives, once checked; return where its data starts."""
        if self.shape is not None and (shape != self.shape or dtype != np.uint8):
            raise ValueError(
                f"{self.source}: expected an IDX array of shape {self.shape}, "
                f"got {shape} of {dtype}"
            )
        size = offset + math.prod(shape) * dtype.itemsize
        if size > self.max_payload:
            raise ValueError(
                f"{self.source}: the IDX header gives shape {shape} of {dtype.name}, "
                f"{size} bytes in all, more than the {self.max_payload} this file can hold"
            )
        try:
            self._array = np.empty(shape, dtype)
        # Found by fuzzing: sizes with a 0 among them, whose product without it overflows.
        except ValueError:
            raise ValueError(
                f"{self.source}: the IDX header gives shape {shape}, too large"
            ) from None
        self._data = self._array.reshape(-1).view(np.uint8).data
        return offset

    def _sizes(self) -> str:
        assert self._array is not None
        size = 4 + 4 * self._array.ndim + len(self._data)
        shape, dtype = self._array.shape, self._array.dtype.name
        return f"the IDX header gives shape {shape} of {dtype}, {size} bytes in all"

    def finish(self) -> np.ndarray:
        """The array, once the file has ended; ValueError if it ended early."""
        if self._inflate and not self._inflate.eof:
            raise ValueError(
                f"{self.source}: damaged or truncated gzip data "
                "(it ends before its end-of-stream mark)"
            )
        if self._array is None:  # there is no whole header: this raises, saying why
            _idx_header(self._start + self._head, self.source, complete=True)
        assert self._array is not None
        if self._filled != len(self._data):
            got = 4 + 4 * self._array.ndim + self._filled
            raise ValueError(f"{self.source}: {self._sizes()}, but there are {got} bytes")
        return self._array.astype(self._array.dtype.newbyteorder("="), copy=False)


def _idx_header(
    head: bytes, source: str, complete: bool
) -> tuple[np.dtype, tuple[int, ...], int] | None:
    """The dtype, shape and data offset that the IDX header at the start of `head` gives: 00 00, a
    type code, ndim, then ndim big-endian uint32 sizes. None if `head` is too short to tell, unless
    it is `complete` (then an error)."""
    if len(head) < 4 and not complete:
        return None
    if len(head) < 4 or head[:2] != b"\0\0" or head[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{source}: not an IDX file (starts with {head[:4].hex(' ') or 'nothing'}; "
            "expected 00 00, a type code, the number of dimensions)"
        )
    ndim = head[3]
    offset = 4 + 4 * ndim
    if len(head) >= offset:
        return np.dtype(_IDX_DTYPES[head[2]]), struct.unpack(f">{ndim}I", head[4:offset]), offset
    if complete:
        raise ValueError(
            f"{source}: truncated IDX header "
            f"({ndim} dimensions need {offset} bytes, got {len(head)})"
        )
    return None
