"""The figure class of twolayer's plots: a matplotlib Figure that Jupyter shows as an image.

Imported only once matplotlib is needed. A Figure made without pyplot (as twolayer makes them, to
stay clear of backends and global state) has no display in a notebook but its text, ``<Figure size
1000x400 with 2 Axes>``, unless pyplot happened to be imported: IPython registers its image
formatter then. ``_repr_png_`` makes it an image always.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

__all__ = ["DisplayFigure"]


class DisplayFigure(Figure):
    """A matplotlib Figure that IPython and Jupyter display as a PNG image."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()
