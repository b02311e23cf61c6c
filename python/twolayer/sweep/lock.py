"""One sweep per output folder: an advisory lock on a file in it, held while the sweep runs.

The lock is the operating system's (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows) on an
open file, so it goes with its holder however that ends, SIGKILL included: a later sweep never
finds a stale lock. The file holds the holder's host and process id, for the message of the sweep
that finds the folder taken."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_FILE", "FolderBusyError", "holding"]

LOCK_FILE = ".sweep.lock"
_HOLDER_BOUND = 256  # bytes of the holder's "host:pid" read back for the message


class FolderBusyError(RuntimeError):
    """Another sweep holds the output folder; ``holder`` says which (``host:pid``)."""

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(
            f"{folder} is in use by another sweep ({holder or 'a process that did not say'}); "
            "wait for it to finish, or give another --out"
        )
        self.holder = holder


@contextlib.contextmanager
def holding(folder: Path) -> Iterator[None]:
    """Hold `folder`'s lock for the block; FolderBusyError at once when another process holds it.

    The lock file is opened without following a symbolic link (where the OS can), so a link planted
    there is refused, as save refuses one."""
    path = folder / LOCK_FILE
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o644)
    try:
        if not _try_lock(fd):
            raise FolderBusyError(folder, _holder(fd))
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # a lock on the file's first byte, where the holder is written
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, _HOLDER_BOUND)
    except OSError:  # Windows: the locked byte cannot be read
        return ""
    return text.decode(errors="replace").strip()
