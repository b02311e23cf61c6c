"""The book's figures 4-11 (mini-batch loss) and 4-12 (accuracy per epoch), and a trained
network's weights, mistakes and confusion matrix, drawn with matplotlib.

Figures are built on ``matplotlib.figure.Figure`` directly rather than through pyplot, so no
display, backend choice or global state is involved; they render with Agg, and in a notebook a
returned figure shows as an image. Like scikit-learn's displays, ``plot_loss`` and ``plot_accuracy``
take ``ax=`` to draw into axes of the caller's instead.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._canvas import new_figure, save_figure
from ._net_figures import confusion_matrix, plot_confusion, plot_misclassified, plot_weights

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ._canvas import FigureLike
    from .history import History

__all__ = [
    "confusion_matrix",
    "plot_accuracy",
    "plot_confusion",
    "plot_halving",
    "plot_history",
    "plot_loss",
    "plot_misclassified",
    "plot_sweep_curves",
    "plot_sweep_finals",
    "plot_weights",
]


def plot_loss(
    train_loss_list: Sequence[float],
    path: str | os.PathLike[str] | None = None,
    *,
    first: int = 1000,
    ax: Axes | Sequence[Axes] | None = None,
) -> FigureLike:
    """Figure 4-11: the mini-batch loss over all iterations, and beside it over the first `first`
    when there are more.

    `ax`: None for a new figure; or Axes to draw the panels into, one (all iterations only) or two.
    Saved as PNG to `path` when given. Returns the figure drawn into.
    """
    loss = np.asarray(train_loss_list, dtype=float)
    panels = [(len(loss), "all iterations")]
    if len(loss) > first:
        panels.append((first, f"first {first:,} iterations"))
    if ax is None:
        axes = list(
            new_figure(figsize=(5 * len(panels), 4)).subplots(1, len(panels), squeeze=False)[0]
        )
    else:
        axes = list(ax) if isinstance(ax, Sequence) else [ax]
        if not 1 <= len(axes) <= 2:
            raise ValueError(f"ax must be one Axes or two, got {len(axes)}")
    for panel, (n, title) in zip(axes, panels):
        _plot_curve(panel, loss[:n])
        panel.set(title=title, xlabel="iteration", ylabel="loss")
        panel.set_ylim(bottom=0)
    return save_figure(axes[0].figure, path)


_MOST_POINTS = 20_000  # beyond, a line drawn is a solid band: drawn as one, in bounded memory


def _plot_curve(panel: Axes, loss: np.ndarray) -> None:
    """The loss of every iteration; a long run's as the band from each stretch's least to its
    greatest loss, and their mean, so that the figure of a run of millions of iterations takes
    what one of 20,000 does."""
    if len(loss) <= _MOST_POINTS:
        panel.plot(np.arange(len(loss)), loss, linewidth=0.6)
        return
    width = -(-len(loss) // _MOST_POINTS)
    padded = np.full(width * _MOST_POINTS, np.nan)
    padded[: len(loss)] = loss
    stretches = padded.reshape(_MOST_POINTS, width)
    starts = np.arange(_MOST_POINTS) * width
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a stretch of NaN only: drawn as a gap
        low, high = np.nanmin(stretches, axis=1), np.nanmax(stretches, axis=1)
        mean = np.nanmean(stretches, axis=1)
    panel.fill_between(starts, low, high, alpha=0.35, linewidth=0)
    panel.plot(starts, mean, linewidth=0.6)


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
    """Figure 4-12: train (solid), validation (dotted, if given), test (dashed) accuracy in [0, 1].

    Without `iterations`, measurement k is drawn at epoch k, as the book draws it. With
    `iterations`, the number of updates made before each measurement, and `iter_per_epoch`, the x
    axis is in epochs; in iterations when the run is shorter than an epoch (or `iter_per_epoch` is
    not given). The epoch ticks are whole numbers.

    Drawn into `ax` when given, else into a new figure. Saved as PNG to `path` when given. Returns
    the figure drawn into.
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
        ax = new_figure(figsize=(6, 4)).subplots()
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
    return save_figure(ax.figure, path)


def plot_history(history: History, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw a run's loss.png (figure 4-11) and accuracy.png (figure 4-12) into `out_dir` and return
    their paths.

    The accuracy figure has every measurement the run made, the final one included, and validation
    when the run held a validation set out.
    """
    out_dir = Path(out_dir)
    train_acc, val_acc, test_acc = (
        history.train_acc_list,
        history.val_acc_list,
        history.test_acc_list,
    )
    # epoch_iters[k] is the index of the iteration just done.
    updates = [i + 1 for i in history.epoch_iters]
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


def plot_sweep_curves(
    curves: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
    metric: str,
    path: str | os.PathLike[str] | None = None,
    *,
    settings: int | None = None,
) -> FigureLike:
    """A sweep's accuracy per epoch for each setting: the mean over its seeds, the spread (min to
    max) shaded.

    `curves`: (legend label, the run records of one setting), in the order to draw them, best
    first; each record as :func:`twolayer.sweep.run_one` makes it, with `metric`
    (``"final_val_acc"`` or ``"final_test_acc"``) measured. `settings`: how many settings the
    sweep had, when `curves` shows only the best of them. Saved as PNG to `path` when given.
    """
    ax = new_figure(figsize=(7, 4.5)).subplots()
    curve_key = metric[len("final_") :] + "_list"
    for label, done in curves:
        # Each evaluation's accuracy, then the final one, at the iteration it was measured.
        iters = np.array([*done[0]["epoch_iters"], done[0]["iterations"] - 1])
        epochs = iters / done[0]["iter_per_epoch"]
        values = np.array([[*r[curve_key], r[metric]] for r in done])
        (line,) = ax.plot(epochs, values.mean(axis=0), label=label)
        ax.fill_between(
            epochs, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2
        )
    total = len(curves) if settings is None else settings
    best = f"the {len(curves)} best of {total} settings" if total > len(curves) else "each setting"
    ax.set(
        xlabel="epochs",
        ylabel=_accuracy_name(metric),
        ylim=(0, 1),
        title=f"{best}: mean over seeds, spread shaded",
    )
    if curves:
        ax.legend(loc="lower right", fontsize="small")
    return save_figure(ax.figure, path)


def plot_sweep_finals(
    records: Sequence[Mapping[str, Any]],
    metric: str,
    settings: Mapping[str, str],
    path: str | os.PathLike[str] | None = None,
) -> FigureLike:
    """A sweep's final accuracy against each setting it varied: every run a dot, the mean per value
    a line; a log axis for numbers spanning a factor of ten or more.

    `records`: finished runs that measured `metric`; `settings`: the varied settings' names (keys
    of each record's ``settings``) and the labels of their axes (their flags). Saved as PNG to
    `path` when given.
    """
    figure = new_figure(figsize=(4 * max(len(settings), 1), 3.5))
    axes = figure.subplots(1, max(len(settings), 1), sharey=True, squeeze=False)[0]
    for ax, (name, label) in zip(axes, settings.items()):
        xs = [r["settings"].get(name) for r in records]
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
        order = sorted(set(xs), key=lambda x: x if numeric else str(x))
        position = {x: (x if numeric else i) for i, x in enumerate(order)}
        ax.scatter([position[x] for x in xs], [r[metric] for r in records], s=12, alpha=0.5)
        means = [np.mean([r[metric] for r, x2 in zip(records, xs) if x2 == x]) for x in order]
        ax.plot([position[x] for x in order], means, marker="o", color="black", linewidth=1)
        if numeric and order and min(order) > 0 and max(order) / min(order) >= 10:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(order)), [str(x) for x in order])
        ax.set(xlabel=label, ylim=(0, 1))
    axes[0].set_ylabel(f"final {_accuracy_name(metric)}")
    return save_figure(figure, path)


def plot_halving(
    records: Sequence[Mapping[str, Any]], path: str | os.PathLike[str] | None = None
) -> FigureLike:
    """A successive-halving sweep: every trial's validation accuracy against iterations, those
    stopped ending at their rung (``"rung"`` of each record), those run to the end drawn bold.

    `records`: the records of runs.jsonl (see :mod:`twolayer.sweep.halving`), each with
    ``epoch_iters`` and ``val_acc_list``. Saved as PNG to `path` when given."""
    ax = new_figure(figsize=(7, 4.5)).subplots()
    measured = [r for r in records if r.get("val_acc_list")]
    for r in measured:
        full = r["status"] == "done"
        ax.plot(
            r["epoch_iters"],
            r["val_acc_list"],
            linewidth=1.8 if full else 0.8,
            alpha=1.0 if full else 0.45,
            color="C1" if full else "C0",
        )
    finished = sum(r["status"] == "done" for r in records)
    ax.set(
        xlabel="iterations",
        ylabel="validation accuracy",
        ylim=(0, 1),
        title=f"successive halving: {len(records)} trials, {finished} run to the end",
    )
    return save_figure(ax.figure, path)


def _accuracy_name(metric: str) -> str:
    """``"val accuracy"`` for ``"final_val_acc"``."""
    return metric[len("final_") :].replace("_", " ").replace("acc", "accuracy")
