"""Run code in a fresh Jupyter kernel, as a notebook would, and hand back what each cell displayed."""

from __future__ import annotations

from typing import Any

import pytest


def run_cells(*sources: str, timeout: int = 120) -> list[list[dict[str, Any]]]:
    """Execute `sources` as the cells of a new notebook in a fresh IPython kernel; the outputs of each cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in sources]
    )
    nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3").execute()
    return [cell.outputs for cell in notebook.cells]
