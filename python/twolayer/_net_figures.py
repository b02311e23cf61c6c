"""Figures of what a trained network learned and where it fails: its first layer's weights, the test
digits it gets wrong, its confusion matrix. Public through :mod:`twolayer.plotting`, which they
share their figure and saving helpers with.

Each gallery is one image in one Axes (tiles with a one-pixel gap) rather than an Axes per tile: a
thousand hidden units then draw as fast as fifty, and ``ax=`` is one Axes like the other figures'.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._canvas import new_figure, save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ._canvas import FigureLike

__all__ = ["confusion_matrix", "plot_confusion", "plot_misclassified", "plot_weights"]


class Net(Protocol):
    """What the figures read of a network: the book's interface."""

    @property
    def params(self) -> Mapping[str, NDArray[Any]]: ...

    def predict(self, x: ArrayLike) -> NDArray[Any]: ...


def plot_weights(
    net: Net,
    path: str | os.PathLike[str] | None = None,
    *,
    ax: Axes | None = None,
) -> FigureLike:
    """W1's columns as square tiles (28×28 for MNIST), one per hidden unit, in a near-square grid.

    All tiles share one colour scale, symmetric about 0 (red: the unit is excited by ink there,
    blue: inhibited), so tiles compare with each other. Drawn into `ax` when given, else into a new
    figure; saved as PNG to `path` when given. Returns the figure drawn into.
    """
    w1 = np.asarray(net.params["W1"], dtype=np.float64)
    inputs, hidden = w1.shape
    side = math.isqrt(inputs)
    if side * side != inputs:
        raise ValueError(f"net's inputs must form a square picture (784 for MNIST), got {inputs}")
    columns = math.ceil(math.sqrt(hidden))
    mosaic = _mosaic(w1.T.reshape(hidden, side, side), columns)
    limit = float(np.nanmax(np.abs(mosaic))) or 1.0
    if ax is None:
        size = min(4 + columns * 0.25, 12)  # tiles of at least 25 pixels up to about 40 columns
        ax = new_figure(figsize=(size + 1, size)).subplots()
    image = ax.imshow(mosaic, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_title(f"W1: the weights into each of the {hidden:,} hidden units")
    ax.set_axis_off()
    _colorbar(ax, image, "weight")
    return save_figure(ax.figure, path)


def plot_misclassified(
    net: Net,
    x: ArrayLike,
    t: ArrayLike,
    path: str | os.PathLike[str] | None = None,
    *,
    count: int = 40,
    ax: Axes | None = None,
) -> FigureLike:
    """The first `count` digits of `x` that the net gets wrong, each with its true label, the net's
    guess and the probability it gives that guess (``3→5 0.87``: a 3 taken for a 5 with probability
    0.87).

    `x`: (N, 784) pictures; `t`: their labels (N,) or one-hot rows (N, C). Drawn into `ax` when
    given, else into a new figure; saved as PNG to `path` when given. Returns the figure drawn into.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    x, labels, y = _predictions(net, x, t)
    guesses = y.argmax(axis=1)
    wrong = np.flatnonzero(guesses != labels)[:count]
    side = math.isqrt(x.shape[1])
    columns, gap = 10, side // 2  # the gap holds the labels
    rows = max(1, math.ceil(len(wrong) / columns))
    if ax is None:
        ax = new_figure(figsize=(columns * 1.0, rows * 1.05 + 0.5)).subplots()
    if len(wrong):
        tiles = _mosaic(x[wrong].reshape(-1, side, side), columns, gap)
        ax.imshow(tiles, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    for k, i in enumerate(wrong):
        row, column = divmod(k, columns)
        label = f"{labels[i]}→{guesses[i]} {y[i, guesses[i]]:.2f}"
        x_at, y_at = column * (side + gap) + side / 2, row * (side + gap) + side
        ax.text(x_at, y_at, label, ha="center", va="top", fontsize=8)
    shown = f"the first {len(wrong)}" if len(wrong) else "none"
    ax.set_title(
        f"Misclassified: {int((guesses != labels).sum()):,} of {len(x):,} ({shown} shown), "
        "true→guess p"
    )
    ax.set_axis_off()
    return save_figure(ax.figure, path)


def confusion_matrix(net: Net, x: ArrayLike, t: ArrayLike) -> NDArray[np.int64]:
    """Counts (C, C): entry [i, j] is how many samples of `x` labelled i the net takes for j.

    Its sum is N, and its trace over N is ``net.accuracy(x, t)``.
    """
    _, labels, y = _predictions(net, x, t)
    classes = y.shape[1]
    counts = np.bincount(labels * classes + y.argmax(axis=1), minlength=classes * classes)
    return counts.reshape(classes, classes)


def plot_confusion(
    net: Net,
    x: ArrayLike,
    t: ArrayLike,
    path: str | os.PathLike[str] | None = None,
    *,
    ax: Axes | None = None,
) -> FigureLike:
    """The confusion matrix of the net on `x` (rows: the true label, columns: the guess), each count
    written in its cell, with the accuracy of each class (its diagonal count over its row's) beside
    the rows.

    `t`: labels (N,) or one-hot rows (N, C). Drawn into `ax` when given, else into a new figure;
    saved as PNG to `path` when given. Returns the figure drawn into.
    """
    counts = confusion_matrix(net, x, t)
    classes = len(counts)
    per_class = np.diag(counts) / np.maximum(counts.sum(axis=1), 1)
    if ax is None:
        ax = new_figure(figsize=(7.5, 6)).subplots()
    from matplotlib.colors import PowerNorm

    # A square root scale: the diagonal's counts are a hundred times the mistakes', which would all
    # look white.
    ax.imshow(counts, cmap="Blues", norm=PowerNorm(0.5, vmin=0, vmax=max(int(counts.max()), 1)))
    dark = 0.3 * counts.max()  # 55% of the way to the darkest blue on the square root scale
    for (i, j), n in np.ndenumerate(counts):
        if n:
            colour = "white" if n > dark else "black"
            ax.text(j, i, str(n), ha="center", va="center", fontsize=7, color=colour)
    ticks = np.arange(classes)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set(xlabel="guess", ylabel="true label")
    accuracy = float(np.trace(counts)) / max(int(counts.sum()), 1)
    ax.set_title(f"Confusion on {int(counts.sum()):,} samples: accuracy {accuracy:.4f}")
    right = ax.secondary_yaxis("right")
    right.set_yticks(ticks, [f"{a:.1%}" for a in per_class])
    right.set_ylabel("accuracy of the class")
    return save_figure(ax.figure, path)


def _predictions(
    net: Net, x: ArrayLike, t: ArrayLike
) -> tuple[NDArray[Any], NDArray[np.int64], NDArray[Any]]:
    """(x, labels, probabilities): x as an array, t as integer labels checked against the net's
    classes."""
    x = np.asarray(x)
    y = np.asarray(net.predict(x))  # the net checks x's shape
    if y.ndim != 2:
        raise ValueError(f"x must have shape (N, {y.shape[-1] if y.ndim else 'D'}), got {x.shape}")
    t = np.asarray(t)
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    if labels.shape != (len(x),):
        raise ValueError(
            f"t must have shape ({len(x)},) or ({len(x)}, {y.shape[1]}), got {t.shape}"
        )
    if labels.dtype.kind not in "iu" and not (
        labels.dtype.kind == "f" and np.all(labels == np.round(labels))
    ):
        raise ValueError(f"t must hold integer labels, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= y.shape[1]):
        raise ValueError(
            f"t's labels must be from 0 to {y.shape[1] - 1}, got {labels.min()} to {labels.max()}"
        )
    return x, labels, y


def _mosaic(tiles: NDArray[Any], columns: int, gap: int = 1) -> NDArray[np.float64]:
    """(K, S, S) tiles in a grid of `columns`, `gap` pixels of NaN (drawn as background) between
    them."""
    count, side, _ = tiles.shape
    rows = math.ceil(count / columns)
    step = side + gap
    mosaic = np.full((rows * step - gap, columns * step - gap), np.nan)
    for k, tile in enumerate(tiles):
        row, column = divmod(k, columns)
        mosaic[row * step : row * step + side, column * step : column * step + side] = tile
    return mosaic


def _colorbar(ax: Axes, image: Any, label: str) -> None:
    figure = ax.figure
    if figure is not None:
        figure.colorbar(image, ax=ax, shrink=0.8, label=label)
