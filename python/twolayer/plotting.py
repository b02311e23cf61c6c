"""The book's figures 4-11 (mini-batch loss) and 4-12 (accuracy per epoch), drawn with matplotlib.

Figures are built on ``matplotlib.figure.Figure`` directly rather than through pyplot, so no display,
backend choice or global state is involved; they render with Agg.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_accuracy", "plot_loss"]


def plot_loss(
    train_loss_list: Sequence[float], path: str | os.PathLike[str] | None = None, *, first: int = 1000
) -> Figure:
    """Figure 4-11: the mini-batch loss over all iterations (left) and over the first `first` (right).

    Saved as PNG to `path` when given. Returns the figure.
    """
    loss = np.asarray(train_loss_list, dtype=float)
    figure = _new_figure(figsize=(10, 4))
    for ax, n, title in zip(
        figure.subplots(1, 2), (len(loss), first), ("all iterations", f"first {first:,} iterations")
    ):
        ax.plot(np.arange(min(n, len(loss))), loss[:n], linewidth=0.6)
        ax.set(title=title, xlabel="iteration", ylabel="loss")
        ax.set_ylim(bottom=0)
    return _save(figure, path)


def plot_accuracy(
    train_acc_list: Sequence[float], test_acc_list: Sequence[float], path: str | os.PathLike[str] | None = None
) -> Figure:
    """Figure 4-12: train (solid) and test (dashed) accuracy per epoch, y from 0 to 1.

    Saved as PNG to `path` when given. Returns the figure.
    """
    if len(train_acc_list) != len(test_acc_list):
        raise ValueError(
            f"train_acc_list and test_acc_list must have the same length, got {len(train_acc_list)} "
            f"and {len(test_acc_list)}"
        )
    figure = _new_figure(figsize=(6, 4))
    ax = figure.subplots()
    epochs = np.arange(len(train_acc_list))
    ax.plot(epochs, train_acc_list, marker="o", markersize=3, label="train acc")
    ax.plot(epochs, test_acc_list, marker="s", markersize=3, linestyle="--", label="test acc")
    ax.set(xlabel="epochs", ylabel="accuracy", ylim=(0, 1))
    ax.legend(loc="lower right")
    return _save(figure, path)


def _new_figure(figsize: tuple[float, float]) -> Figure:
    # Imported here: importing matplotlib takes a while, and most uses of the package draw nothing.
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _save(figure: Figure, path: str | os.PathLike[str] | None) -> Figure:
    if path is not None:  # atomically: an interrupted or failed save leaves no partial image behind
        with atomic_write(path) as f:
            figure.savefig(f, format="png", dpi=100)
    return figure
