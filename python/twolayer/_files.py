"""Atomic file writes: a reader sees either the old file or the complete new one, never a partial one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _file_mode() -> int:
    """The permissions a new file gets from open(), which mkstemp's private 0o600 would otherwise replace."""
    umask = os.umask(0o022)  # reading the umask means setting it; done once, at import
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file beside `path` for binary writing; replace `path` with it when the block succeeds.

    The temporary file lives in the same directory so that `os.replace` is a rename on one file system. Its data is
    flushed and fsynced before the rename, so a crash cannot leave `path` pointing at unwritten blocks. If the block
    raises (Ctrl-C included), the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    if (
        not path.parent.is_dir()
    ):  # else mkstemp's error would name the temporary file, not the one asked for
        raise FileNotFoundError(f"cannot write {path}: the directory {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
