"""Execute a notebook in a fresh kernel with some of its parameters replaced, and check that it ran and showed its
figures. CI runs examples/chapter4.ipynb this way, on short settings.

Usage: python .ci/notebook.py NOTEBOOK NAME=VALUE...

Each NAME=VALUE is a Python assignment, run in a cell inserted after the cell tagged "parameters" (as papermill
does). The notebook is executed in a temporary directory, so the files it writes go there; the stored notebook is
left as it is (without outputs). Fails on any error, and when a cell ending in a plot_* call did not display a PNG.
"""

from __future__ import annotations

import sys
import tempfile
import time

import nbclient
import nbformat


def main(path: str, assignments: list[str]) -> int:
    notebook = nbformat.read(path, as_version=4)
    if any(
        cell.get("outputs") or cell.get("execution_count")
        for cell in notebook.cells
        if cell.cell_type == "code"
    ):
        print(
            f"{path} is stored with outputs; clear them (Jupyter: Edit > Clear Outputs of All Cells)"
        )
        return 1
    tagged = [
        i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])
    ]
    if len(tagged) != 1:
        print(f"{path} must have one cell tagged 'parameters', has {len(tagged)}")
        return 1
    notebook.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell("\n".join(assignments)))

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        client = nbclient.NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": directory}},
        )
        client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    print(
        f"{path}: {len(notebook.cells)} cells ran in {time.perf_counter() - start:.0f} s with {assignments}"
    )

    missing = [
        cell.source.splitlines()[-1]
        for cell in notebook.cells
        if cell.cell_type == "code"
        and cell.source.splitlines()[-1].startswith("plot_")
        and not any("image/png" in output.get("data", {}) for output in cell.outputs)
    ]
    for line in missing:
        print(f"no image shown by the cell ending in: {line}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
