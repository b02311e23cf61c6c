"""tqdm progress bars, shown on a terminal only."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def progress_bar(*, file: TextIO | None = None, **kwargs: Any) -> Any | None:
    """Return a `tqdm` bar writing to `file` (default stderr), or None when it is not a terminal.

    Callers treat None as "report progress some other way, or not at all", so that logs and pipes never fill with
    carriage-return redraws.
    """
    file = sys.stderr if file is None else file
    isatty = getattr(file, "isatty", None)
    if isatty is None or not isatty():
        return None
    from tqdm import tqdm

    return tqdm(file=file, **kwargs)
