"""Where every figure of :mod:`twolayer.plotting` is made and written: a new figure that Jupyter
shows as an image, and its PNG, written atomically."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Union

from ._files import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure, SubFigure

    FigureLike = Union[Figure, SubFigure]

__all__ = ["FigureLike", "new_figure", "save_figure"]


def new_figure(figsize: tuple[float, float]) -> Figure:
    # Imported here: importing matplotlib takes a while, and most uses of the package draw nothing.
    from ._figure import DisplayFigure

    return DisplayFigure(figsize=figsize, layout="constrained")


def save_figure(figure: FigureLike | None, path: str | os.PathLike[str] | None) -> FigureLike:
    """`figure`, written to `path` as a PNG if given."""
    if figure is None:  # only an Axes removed from its figure has none
        raise ValueError("ax must belong to a figure")
    if path is not None:  # atomically: an interrupted or failed save leaves no partial image behind
        with atomic_write(path) as f:  # the whole figure, also when drawn into a subfigure's axes
            figure.figure.savefig(f, format="png", dpi=100)
    return figure
