"""bench/run.py's results drawn, for those who would rather look than read: PNG figures beside the
JSON. `NAME-scaling.png`: the scaling rows, the gradient's time against the batch and against the
hidden size, each implementation measured beside twolayer, log axes. `NAME-runs.png`: each whole
training run's time beside its FMA limit (the run's multiply-adds at the measured peak)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none opened
import matplotlib.pyplot as plt  # noqa: E402

from twolayer._files import atomic_write  # noqa: E402

LABELS = {"ours": "twolayer", "numpy": "NumPy", "torch": "PyTorch"}
# One colour per size, one line style per implementation: each size's lines side by side.
MARKERS = {"ours": "o", "numpy": "s", "torch": "^"}
LINES = {"ours": "-", "numpy": "--", "torch": ":"}
SMOKE = " (smoke test: not a measurement)"


def draw(results: dict[str, Any], json_path: Path) -> list[Path]:
    """The figures of the rows there are (--only runs some), written beside `json_path`; their
    paths."""
    rows, quick = results["rows"], results["quick"]
    suffix = SMOKE if quick else ""
    written = []
    scaling = [r for r in rows if r["benchmark"] == "scaling: gradient"]
    if scaling:
        written.append(_save(scaling_figure(scaling, suffix), json_path, "scaling"))
    runs = [r for r in rows if r["benchmark"] == "the book's full run"]
    if runs:
        written.append(_save(runs_figure(runs, suffix), json_path, "runs"))
    return written


def _save(figure: Any, json_path: Path, what: str) -> Path:
    path = json_path.with_name(f"{json_path.stem}-{what}.png")
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=100)
    plt.close(figure)
    return path


def scaling_figure(rows: list[dict[str, Any]], suffix: str = "") -> Any:
    """Per dtype (a row of panels): seconds against the batch, one line per implementation and
    hidden size; and seconds against the hidden size, one line per implementation and batch."""
    dtypes = sorted({r["dtype"] for r in rows}, reverse=True)  # float64 first
    figure, axes = plt.subplots(len(dtypes), 2, figsize=(11, 4.2 * len(dtypes)), squeeze=False)
    for (by_batch, by_hidden), dtype in zip(axes, dtypes):
        of_dtype = [r for r in rows if r["dtype"] == dtype]
        _lines(by_batch, of_dtype, x="batch", each="hidden")
        _lines(by_hidden, of_dtype, x="hidden", each="batch")
        by_batch.set_title(f"gradient, {dtype}: time against the batch")
        by_hidden.set_title(f"gradient, {dtype}: time against the hidden size")
    figure.suptitle(f"Scaling{suffix}")
    figure.tight_layout()
    return figure


def _lines(ax: Any, rows: list[dict[str, Any]], x: str, each: str) -> None:
    """Seconds against row[x] on log axes, a line per implementation and value of row[each]."""
    names = [n for n in LABELS if any(n in r["seconds"] for r in rows)]
    for name in names:
        for i, value in enumerate(sorted({r[each] for r in rows})):
            points = sorted(
                (r[x], r["seconds"][name])
                for r in rows
                if r[each] == value and name in r["seconds"]
            )
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, marker=MARKERS[name], linestyle=LINES[name], color=f"C{i}",
                        label=f"{LABELS[name]}, {each} {value:,}")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x if x == "batch" else "hidden size")
    ax.set_ylabel("seconds per gradient (median)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")


def runs_figure(rows: list[dict[str, Any]], suffix: str = "") -> Any:
    """Per dtype, a bar per implementation of the book's full run (seconds, log axis), and the FMA
    limit of twolayer's train as a dashed line."""
    figure, axes = plt.subplots(1, len(rows), figsize=(5.5 * len(rows), 4.2), squeeze=False)
    for ax, row in zip(axes[0], rows):
        runs = row["runs"]
        names = list(runs)
        ax.bar(range(len(names)), [runs[n]["seconds"] for n in names], color="tab:blue")
        ax.set_xticks(range(len(names)), [_run_label(n) for n in names], rotation=20, ha="right")
        limit = runs.get("ours, train", {}).get("limit")
        if limit:
            ax.axhline(limit["seconds_at_peak"], color="tab:red", linestyle="--", label="FMA limit")
            ax.legend(fontsize="small")
        ax.set_yscale("log")
        ax.set_ylabel("seconds (median)")
        ax.set_title(f"the book's full run, {row['dtype']}")
        ax.grid(True, axis="y", which="both", alpha=0.3)
    figure.suptitle(f"Whole runs against the FMA limit{suffix}")
    figure.tight_layout()
    return figure


def _run_label(name: str) -> str:
    base, _, rest = name.partition(", ")
    return LABELS.get(base, base) + (f", {rest}" if rest else "")
