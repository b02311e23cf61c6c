"""tqdm progress bars: on a terminal, or in a Jupyter notebook when ipywidgets is installed."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def progress_bar(*, file: TextIO | None = None, **kwargs: Any) -> Any | None:
    """Return a `tqdm` bar writing to `file` (default stderr) when it is a terminal, tqdm's notebook
    widget in a Jupyter kernel with ipywidgets, or None otherwise.

    Callers treat None as "report progress some other way, or not at all", so that logs, pipes and
    notebooks never fill with carriage-return redraws.
    """
    if _in_jupyter_kernel():
        from tqdm import notebook

        # IProgress is the ipywidgets bar, None without ipywidgets (the bar would then fail half
        # made).
        has_widgets = getattr(notebook, "IProgress", None) is not None
        return notebook.tqdm(**kwargs) if has_widgets else None
    file = sys.stderr if file is None else file
    isatty = getattr(file, "isatty", None)
    if isatty is None or not isatty():
        return None
    from tqdm import tqdm

    return tqdm(file=file, **kwargs)


def _in_jupyter_kernel() -> bool:
    """Whether this is an IPython kernel serving a notebook (where stderr is no terminal, but
    widgets show)."""
    ipython = sys.modules.get("IPython")  # never imported here: a kernel has done so already
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"
