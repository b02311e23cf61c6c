"""Files: atomic writes (a reader sees either the old file or the complete new one, never a partial
one), and reads of regular files only (a FIFO or a device would block or never end)."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: stale temporary files are told by their age alone
    fcntl = None  # type: ignore[assignment]


def _file_mode() -> int:
    """The permissions a new file gets from open(), which mkstemp's private 0o600 would otherwise
    replace."""
    umask = os.umask(0o022)  # reading the umask means setting it; done once, at import
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()
_TEMP_SUFFIX = ".tmp"
# mkstemp's names: the prefix, 8 random characters of [a-z0-9_], the suffix.
_TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp\Z")
# A temporary file untouched for this long, and not locked, is a dead writer's. The lock alone
# tells; the age covers the moment between mkstemp and taking it. Without locks (Windows), only a
# day's age does.
_STALE_SECONDS = 60.0 if fcntl is not None else 86400.0


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file beside `path` for binary writing; replace `path` with it when the block
    succeeds.

    The temporary file lives in the same directory so that `os.replace` is a rename on one file
    system. Its data is flushed and fsynced before the rename, so a crash cannot leave `path`
    pointing at unwritten blocks. If the block raises (Ctrl-C included), the temporary file is
    removed and `path` is untouched. An OSError names `path`, never the temporary file. Temporary
    files that a killed writer left in the directory are removed first.
    """
    path = Path(path)
    # Checked first: mkstemp's error would name the temporary file, not the one asked for.
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the directory {path.parent} does not exist")
    _remove_stale_temporaries(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            if fcntl is not None:
                # Held until closed: the mark of a live writer (see _remove_stale_temporaries).
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename in (None, tmp):
            raise _naming(exc, path) from None
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """`exc` (its subclass kept: PermissionError, OSError for ENOSPC...) naming `path` instead of a
    temporary file."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, os.fspath(path))


def _remove_stale_temporaries(directory: Path) -> None:
    """Remove the temporary files of atomic_write in `directory` whose writer has died (a crash,
    SIGKILL): unlocked and untouched for a while. Only names of atomic_write's pattern; a file in
    use by a live writer is left alone."""
    try:
        entries = [
            e
            for e in os.scandir(directory)
            if e.name.endswith(_TEMP_SUFFIX) and _TEMP_NAME.match(e.name)
        ]
    except OSError:
        return
    now = time.time()
    for entry in entries:
        with contextlib.suppress(OSError):
            if (
                not entry.is_file(follow_symlinks=False)
                or now - entry.stat().st_mtime < _STALE_SECONDS
            ):
                continue
            if fcntl is None:
                os.unlink(entry.path)
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: a live writer holds it
                os.unlink(entry.path)
            finally:
                os.close(fd)


_NOT_REGULAR = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened for binary reading if it is a regular file (a link to one will do); else
    ValueError naming it.

    Opened without blocking, so that a FIFO with no writer is refused at once instead of waiting for
    one; the mode is checked on the open file, so that it cannot change between the check and the
    read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if sys.platform == "win32" and Path(path).is_dir():  # Windows cannot open one to look at it
        raise ValueError(f"{path} is a directory, not a file")
    fd = os.open(path, flags)  # FileNotFoundError and the like name the file themselves
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
            raise ValueError(f"{path} is {kind}, not a file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
