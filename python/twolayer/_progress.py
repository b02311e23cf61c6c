"""What a long call shows while it works: tqdm progress bars (on a terminal, or in a Jupyter
notebook when ipywidgets is installed), and a training run's lines and bar."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .history import History

__all__ = ["RunProgress", "progress_bar"]


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


class RunProgress:
    """What a run shows: a line per evaluation on stdout, saying what was measured (through tqdm
    while a bar is drawn, so it redraws below them; flushed for logs and pipes otherwise), and a
    tqdm bar on a terminal."""

    def __init__(self, enabled: bool, history: History):
        self.bar = None
        if enabled:
            self.bar = progress_bar(
                total=history.iters_num,
                initial=len(history.train_loss_list),  # a resumed run's iterations done
                desc="train",
                unit="it",
                dynamic_ncols=True,
            )
        self.write: Callable[[str], None] = _ignore
        if self.bar is not None:
            self.write = self.bar.write
        elif enabled:
            self.write = _print_flushed
        self.where = (
            "" if history.eval_samples is None else f" on {history.eval_samples:,} samples each"
        )
        self.per_iterations = history.eval_every is not None
        self.accuracies: dict[str, float] = {}

    def evaluation(self, i: int, accuracies: dict[str, float]) -> None:
        self.accuracies = accuracies
        # Without eval_every, once per epoch, as the book prints them.
        when = f"iteration {i:,}: " if self.per_iterations else ""
        names = ", ".join(f"{name} acc" for name in accuracies)
        self.write(
            f"{when}{names}{self.where} | {', '.join(f'{a:.4f}' for a in accuracies.values())}"
        )

    def iteration(self, loss: float) -> None:
        if self.bar is not None:
            measured = ", ".join(f"{name} acc {a:.4f}" for name, a in self.accuracies.items())
            self.bar.set_postfix_str(f"loss {loss:.4f}, {measured}{self.where}", refresh=False)
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _ignore(line: str) -> None:
    pass


def _print_flushed(line: str) -> None:
    print(line, flush=True)
