"""The user's folders: an output folder checked for writing before any work, a fallback for results
whose final write fails, and the closest existing folder to name when one does not exist."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class UnwritableError(ValueError):
    """An output folder that cannot be written, its message naming the folder and the reason (a
    usage error)."""


def closest_existing(path: Path) -> Path:
    """`path` itself if it exists, else its nearest ancestor that does; the current folder by its
    full name, where that is the one (a relative `path` ends there, and "." would tell the user
    nothing)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return Path.cwd() if candidate == Path() else candidate
    return Path.cwd()


def check_output_dir(path: str | os.PathLike[str]) -> None:
    """Raise UnwritableError unless files can be written in the folder `path`, or it can be created.

    Checked by doing it: a file is created and removed in `path`, or in its closest existing
    ancestor if `path` does not exist yet (nothing is created there). Permission bits alone would
    miss a read-only mount, an immutable folder or root's privileges.
    """
    path = Path(path)
    existing = closest_existing(path)
    if not existing.is_dir():
        what = (
            "is a file, not a folder"
            if existing == path
            else f"cannot be created: {existing} is a file"
        )
        raise UnwritableError(f"{path} {what}")
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".twolayer-check."):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if existing == path:
            raise UnwritableError(f"cannot write in {path}: {reason}") from None
        raise UnwritableError(
            f"cannot create {path}: cannot write in {existing}: {reason}"
        ) from None


def write_or_fall_back(
    out: Path, write: Callable[[Path], T], prefix: str = "twolayer-out-"
) -> tuple[T, str | None]:
    """``write(out)``; if that fails with an OSError (a full disk, a folder removed),
    ``write(fallback)`` into a new folder in the system's temporary folder, so that nothing finished
    is lost.

    Returns the result and, after a fallback, a line saying what failed and where the results are;
    an OSError if the fallback fails too.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        return write(out), None
    except OSError as exc:
        failure = str(exc)
    fallback = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        result = write(fallback)
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(fallback)  # only if empty
        raise
    return result, f"could not write into {out} ({failure}); the results are in {fallback} instead"
