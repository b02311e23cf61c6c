"""The book's figures 4-11 (mini-batch loss) and 4-12 (accuracy per epoch), drawn with matplotlib.

matplotlib is an optional extra (``pip install twolayer[plot]``). Figures are built on ``matplotlib.figure.Figure``
directly rather than through pyplot, so no display, backend choice or global state is involved; they render with Agg,
and in a notebook a returned figure shows as an image. Like scikit-learn's displays, each function takes ``ax=`` to
draw into axes of the caller's instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np

from ._files import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    FigureLike = Union[Figure, SubFigure]

__all__ = ["plot_accuracy", "plot_loss"]


def plot_loss(
    train_loss_list: Sequence[float],
    path: str | os.PathLike[str] | None = None,
    *,
    first: int = 1000,
    ax: Axes | Sequence[Axes] | None = None,
) -> FigureLike:
    """Figure 4-11: the mini-batch loss over all iterations (left) and over the first `first` (right).

    `ax`: None for a new figure; or two Axes to draw the two panels into; or one Axes for the left panel alone.
    Saved as PNG to `path` when given. Returns the figure drawn into.
    """
    loss = np.asarray(train_loss_list, dtype=float)
    if ax is None:
        axes = list(_new_figure(figsize=(10, 4)).subplots(1, 2))
    else:
        axes = [ax] if not isinstance(ax, Sequence) else list(ax)
        if not 1 <= len(axes) <= 2:
            raise ValueError(f"ax must be one Axes or two, got {len(axes)}")
    for panel, n, title in zip(axes, (len(loss), first), ("all iterations", f"first {first:,} iterations")):
        panel.plot(np.arange(min(n, len(loss))), loss[:n], linewidth=0.6)
        panel.set(title=title, xlabel="iteration", ylabel="loss")
        panel.set_ylim(bottom=0)
    return _save(axes[0].figure, path)


def plot_accuracy(
    train_acc_list: Sequence[float],
    test_acc_list: Sequence[float],
    path: str | os.PathLike[str] | None = None,
    *,
    ax: Axes | None = None,
) -> FigureLike:
    """Figure 4-12: train (solid) and test (dashed) accuracy per epoch, y from 0 to 1.

    Drawn into `ax` when given, else into a new figure. Saved as PNG to `path` when given. Returns the figure drawn
    into.
    """
    if len(train_acc_list) != len(test_acc_list):
        raise ValueError(
            f"train_acc_list and test_acc_list must have the same length, got {len(train_acc_list)} "
            f"and {len(test_acc_list)}"
        )
    if ax is None:
        ax = _new_figure(figsize=(6, 4)).subplots()
    epochs = np.arange(len(train_acc_list))
    ax.plot(epochs, train_acc_list, marker="o", markersize=3, label="train acc")
    ax.plot(epochs, test_acc_list, marker="s", markersize=3, linestyle="--", label="test acc")
    ax.set(xlabel="epochs", ylabel="accuracy", ylim=(0, 1))
    ax.legend(loc="lower right")
    return _save(ax.figure, path)


def _new_figure(figsize: tuple[float, float]) -> Figure:
    try:
        import matplotlib.figure  # noqa: F401 (checked even when the module below was imported earlier)

        from ._figure import DisplayFigure
    except ImportError as exc:
        raise ImportError("drawing figures needs matplotlib, an optional extra: pip install 'twolayer[plot]'") from exc
    return DisplayFigure(figsize=figsize, layout="constrained")


def _save(figure: FigureLike | None, path: str | os.PathLike[str] | None) -> FigureLike:
    if figure is None:  # only an Axes removed from its figure has none
        raise ValueError("ax must belong to a figure")
    if path is not None:  # atomically: an interrupted or failed save leaves no partial image behind
        with atomic_write(path) as f:  # the whole figure, also when drawn into a subfigure's axes
            figure.figure.savefig(f, format="png", dpi=100)
    return figure
