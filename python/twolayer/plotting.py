"""The book's figures 4-11 (mini-batch loss) and 4-12 (accuracy per epoch), and a trained network's weights,
mistakes and confusion matrix, drawn with matplotlib.

Figures are built on ``matplotlib.figure.Figure`` directly rather than through pyplot, so no display,
backend choice or global state is involved; they render with Agg, and in a notebook a returned
figure shows as an image. Like scikit-learn's displays, ``plot_loss`` and ``plot_accuracy`` take
``ax=`` to draw into axes of the caller's instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from ._files import atomic_write

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from .training import History

    FigureLike = Union[Figure, SubFigure]

__all__ = [
    "confusion_matrix",
    "plot_accuracy",
    "plot_confusion",
    "plot_history",
    "plot_loss",
    "plot_misclassified",
    "plot_weights",
]


def plot_loss(
    train_loss_list: Sequence[float],
    path: str | os.PathLike[str] | None = None,
    *,
    first: int = 1000,
    ax: Axes | Sequence[Axes] | None = None,
) -> FigureLike:
    """Figure 4-11: the mini-batch loss over all iterations, and beside it over the first `first` when there are more.

    `ax`: None for a new figure; or Axes to draw the panels into, one (all iterations only) or two. Saved as PNG to
    `path` when given. Returns the figure drawn into.
    """
    loss = np.asarray(train_loss_list, dtype=float)
    panels = [(len(loss), "all iterations")]
    if len(loss) > first:
        panels.append((first, f"first {first:,} iterations"))
    if ax is None:
        axes = list(
            _new_figure(figsize=(5 * len(panels), 4)).subplots(1, len(panels), squeeze=False)[0]
        )
    else:
        axes = list(ax) if isinstance(ax, Sequence) else [ax]
        if not 1 <= len(axes) <= 2:
            raise ValueError(f"ax must be one Axes or two, got {len(axes)}")
    for panel, (n, title) in zip(axes, panels):
        panel.plot(np.arange(n), loss[:n], linewidth=0.6)
        panel.set(title=title, xlabel="iteration", ylabel="loss")
        panel.set_ylim(bottom=0)
    return _save(axes[0].figure, path)


def plot_accuracy(
    train_acc_list: Sequence[float],
    test_acc_list: Sequence[float],
    path: str | os.PathLike[str] | None = None,
    *,
    val_acc_list: Sequence[float] | None = None,
    iterations: Sequence[int] | None = None,
    iter_per_epoch: float | None = None,
    ax: Axes | None = None,
) -> FigureLike:
    """Figure 4-12: train (solid), validation (dotted, when given) and test (dashed) accuracy, y from 0 to 1.

    Without `iterations`, measurement k is drawn at epoch k, as the book draws it. With `iterations`, the number of
    updates made before each measurement, and `iter_per_epoch`, the x axis is in epochs; in iterations when the run
    is shorter than an epoch (or `iter_per_epoch` is not given). The epoch ticks are whole numbers.

    Drawn into `ax` when given, else into a new figure. Saved as PNG to `path` when given. Returns the figure drawn
    into.
    """
    val_acc_list = [] if val_acc_list is None else val_acc_list
    lines = {"train acc": train_acc_list, "val acc": val_acc_list, "test acc": test_acc_list}
    lengths = {"train_acc_list": len(train_acc_list), "test_acc_list": len(test_acc_list)}
    if len(val_acc_list):
        lengths["val_acc_list"] = len(val_acc_list)
    if iterations is not None:
        lengths["iterations"] = len(iterations)
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"the accuracy lists and iterations must have the same length, got {lengths}"
        )
    if iterations is None:
        x, unit = np.arange(len(train_acc_list), dtype=float), "epochs"
    elif iter_per_epoch is not None and len(iterations) and iterations[-1] >= iter_per_epoch:
        x, unit = np.asarray(iterations, dtype=float) / iter_per_epoch, "epochs"
    else:
        x, unit = np.asarray(iterations, dtype=float), "iterations"

    if ax is None:
        ax = _new_figure(figsize=(6, 4)).subplots()
    from matplotlib.ticker import MaxNLocator

    markevery = max(1, len(x) // 25)  # a marker on each of hundreds of points would hide the lines
    styles = {"train acc": ("o", "-"), "val acc": ("^", ":"), "test acc": ("s", "--")}
    for label, (marker, linestyle) in styles.items():
        if len(lines[label]):
            ax.plot(
                x,
                lines[label],
                marker=marker,
                markersize=3,
                markevery=markevery,
                linestyle=linestyle,
                label=label,
            )
    ax.set(xlabel=unit, ylabel="accuracy", ylim=(0, 1))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 0.5
    if ax.lines:  # none for a run interrupted before its first evaluation
        ax.legend(loc="lower right")
    return _save(ax.figure, path)


def plot_history(history: History, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw a run's loss.png (figure 4-11) and accuracy.png (figure 4-12) into `out_dir` and return their paths.

    The accuracy figure has every measurement the run made, the final one included, and validation when the run held
    a validation set out.
    """
    out_dir = Path(out_dir)
    train_acc, val_acc, test_acc = (
        history.train_acc_list,
        history.val_acc_list,
        history.test_acc_list,
    )
    updates = [
        i + 1 for i in history.epoch_iters
    ]  # epoch_iters[k] is the index of the iteration just done
    if history.final_train_acc is not None and history.final_test_acc is not None:
        updates = [*updates, len(history.train_loss_list)]
        train_acc, test_acc = (
            [*train_acc, history.final_train_acc],
            [*test_acc, history.final_test_acc],
        )
        if history.final_val_acc is not None:
            val_acc = [*val_acc, history.final_val_acc]
    paths = [out_dir / "loss.png", out_dir / "accuracy.png"]
    plot_loss(history.train_loss_list, paths[0])
    plot_accuracy(
        train_acc,
        test_acc,
        paths[1],
        val_acc_list=val_acc,
        iterations=updates,
        iter_per_epoch=history.iter_per_epoch,
    )
    return paths


def _new_figure(figsize: tuple[float, float]) -> Figure:
    # Imported here: importing matplotlib takes a while, and most uses of the package draw nothing.
    from ._figure import DisplayFigure

    return DisplayFigure(figsize=figsize, layout="constrained")


def _save(figure: FigureLike | None, path: str | os.PathLike[str] | None) -> FigureLike:
    if figure is None:  # only an Axes removed from its figure has none
        raise ValueError("ax must belong to a figure")
    if path is not None:  # atomically: an interrupted or failed save leaves no partial image behind
        with atomic_write(path) as f:  # the whole figure, also when drawn into a subfigure's axes
            figure.figure.savefig(f, format="png", dpi=100)
    return figure


# Last: the network's figures use the helpers above.
from ._net_figures import (  # noqa: E402
    confusion_matrix,
    plot_confusion,
    plot_misclassified,
    plot_weights,
)
