"""Optional tqdm progress bars: on a terminal when tqdm is installed, in a Jupyter notebook when ipywidgets is
too; absent otherwise."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def progress_bar(*, file: TextIO | None = None, **kwargs: Any) -> Any | None:
    """Return a `tqdm` bar writing to `file` (default stderr) when it is a terminal, tqdm's notebook widget in a
    Jupyter kernel, or None otherwise or when tqdm (or, in a notebook, ipywidgets) is missing.

    Callers treat None as "report progress some other way, or not at all", so that logs, pipes and notebooks never
    fill with carriage-return redraws.
    """
    if _in_jupyter_kernel():
        try:
            from tqdm import notebook
        except ImportError:
            return None
        # IProgress is the ipywidgets bar, None without ipywidgets (the bar would then fail half made).
        return notebook.tqdm(**kwargs) if notebook.IProgress is not None else None
    file = sys.stderr if file is None else file
    isatty = getattr(file, "isatty", None)
    if isatty is None or not isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(file=file, **kwargs)


def _in_jupyter_kernel() -> bool:
    """Whether this is an IPython kernel serving a notebook (where stderr is no terminal, but widgets show)."""
    ipython = sys.modules.get("IPython")  # never imported here: a kernel has done so already
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"
