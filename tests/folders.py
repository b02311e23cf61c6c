"""Folders that refuse writes, for the tests of output locations: unwritable (for root too) and full."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*command: str) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[str]:
    """`folder` (existing) made unwritable for this process, whoever it runs as; yields how.

    Permission bits stop only a non-root user: root gets an immutable folder (chattr +i), else a read-only tmpfs
    mounted over it. Without either, the test is skipped, saying why."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield "permission bits"
        finally:
            folder.chmod(0o755)
    elif _run("chattr", "+i", str(folder)):
        try:
            yield "chattr +i"
        finally:
            _run("chattr", "-i", str(folder))
    elif _run("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)):
        try:
            yield "a read-only tmpfs"
        finally:
            _run("umount", str(folder))
    else:
        pytest.skip(
            "running as root with neither chattr +i nor mount permitted: no folder root cannot write"
        )


@contextlib.contextmanager
def full(folder: Path) -> Iterator[None]:
    """A tmpfs mounted on `folder` (existing) and filled up, so that writing any data into it fails with ENOSPC
    (creating an empty file still succeeds, as on a real full disk). Skipped where mounting is not permitted."""
    if not _run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)):
        pytest.skip(
            "mounting a tmpfs is not permitted here (it needs root): no full disk to test with"
        )
    try:
        with open(folder / "filler", "wb", buffering=0) as filler, contextlib.suppress(OSError):
            while True:
                filler.write(bytes(4096))
        yield
    finally:
        _run("umount", str(folder))


def state(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folder` with its size and modification time: what a write would change."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in [folder, *sorted(folder.rglob("*"))]
    }
