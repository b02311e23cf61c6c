"""A sweep's reports: summary.md, summary.csv and the figures, rewritten whole (atomically) after
every sweep."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from ..settings import SETTINGS
from .log import DIVERGED, DONE, FAILED, STOPPED
from .plan import Run, label, settings_key

__all__ = [
    "CURVES_PNG",
    "FINALS_PNG",
    "SUMMARY_CSV",
    "SUMMARY_MD",
    "Report",
    "finals",
    "summarise",
    "write_reports",
]

SUMMARY_MD, SUMMARY_CSV = "summary.md", "summary.csv"
CURVES_PNG, FINALS_PNG = "accuracy.png", "final-accuracy.png"
Records = Sequence[Mapping[str, Any]]
Rows = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Report:
    """The files a sweep's reports were written to, and the summary.md they hold."""

    files: list[Path]
    summary: str


def write_reports(out: Path, records: Records, runs: Sequence[Run]) -> Report:
    """Write summary.md, summary.csv and (with matplotlib) the figures of `records` into `out`."""
    rows, metric = summarise(records, runs)
    swept, fixed = _swept(runs)
    texts = {
        SUMMARY_MD: _markdown(rows, metric, swept, fixed, len(runs)),
        SUMMARY_CSV: _csv(rows, metric),
    }
    for name, text in texts.items():
        with atomic_write(out / name) as f:
            f.write(text.encode())
    files = [out / name for name in texts]
    files.append(_plot_curves(out / CURVES_PNG, rows, records, metric, swept))
    if swept:
        files.append(_plot_finals(out / FINALS_PNG, records, metric, swept))
    return Report(files, texts[SUMMARY_MD])


def summarise(
    records: Sequence[Mapping[str, Any]], runs: Sequence[Run]
) -> tuple[list[dict[str, Any]], str]:
    """One row per setting (runs, done, diverged, failed, mean and standard deviation over seeds of
    each final accuracy, mean wall time), best first by the selection metric; and that metric: the
    final validation accuracy when the runs measured one, else the final test accuracy."""
    groups: dict[str, tuple[dict[str, Any], list[Mapping[str, Any]]]] = {}
    for run in runs:
        groups.setdefault(settings_key(run.settings), (run.settings, []))
    for record in records:
        groups[settings_key(record["settings"])][1].append(record)
    planned = Counter(settings_key(run.settings) for run in runs)
    metric = _selection_metric(records)
    rows = []
    for key, (settings, group) in groups.items():
        done = [r for r in group if r["status"] == DONE]
        row: dict[str, Any] = {"settings": settings, "runs": planned[key]}
        row.update(
            {
                status: sum(r["status"] == status for r in group)
                for status in (DONE, DIVERGED, FAILED, STOPPED)
            }
        )
        for key in dict.fromkeys(k for r in done for k in finals(r)):
            row[key] = _mean_std(
                [r[_final_key(key)] for r in done if r.get(_final_key(key)) is not None]
            )
        row["wall time"] = _mean_std([r["wall_time"] for r in done])[0]
        row["reached"] = _reached(group, metric)
        rows.append(row)
    # The settings run to the end by their metric; then those successive halving stopped, by the
    # rung they reached and their metric there.
    rows.sort(
        key=lambda row: (-(row.get(_metric_name(metric), (None,))[0] or -1.0), row["reached"])
    )
    return rows, metric


def _reached(group: Sequence[Mapping[str, Any]], metric: str) -> tuple[float, float]:
    """(minus the epochs of the furthest rung, minus the best metric there) over the stopped
    runs of one setting: (0, 0) where none was stopped."""
    stopped = [r for r in group if r["status"] == STOPPED and r.get("rung_epochs") is not None]
    if not stopped:
        return 0.0, 0.0
    values = metric.removeprefix("final_") + "_list"
    return min((-float(r["rung_epochs"]), -float((r.get(values) or [0.0])[-1])) for r in stopped)


def _stopped(rows: Sequence[Mapping[str, Any]]) -> str:
    """``, 5 stopped early``: the trials successive halving did not promote, if any."""
    stopped = sum(row[STOPPED] for row in rows)
    return f", {stopped} stopped early" if stopped else ""


def _final_key(name: str) -> str:
    return "final_" + name.replace(" ", "_")


_TEST_CHOOSES = (
    "; no validation set was held out (--validation-size), so test data ranks the settings, which "
    "ch. 6 warns against."
)


def _selection_metric(records: Iterable[Mapping[str, Any]]) -> str:
    # As in ch. 6: validation data choose the settings; test data only when no validation set was
    # held out.
    measured_val = any(r.get("final_val_acc") is not None for r in records)
    return "final_val_acc" if measured_val else "final_test_acc"


def _mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None where there are too few values)."""
    if not values:
        return None, None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else None


def _swept(runs: Sequence[Run]) -> tuple[list[str], dict[str, Any]]:
    """(the settings that vary between runs, {setting: value} of those that do not)."""
    names = list(dict.fromkeys(name for run in runs for name in run.settings))
    values = {name: {json.dumps(run.settings.get(name)) for run in runs} for name in names}
    swept = [name for name in names if len(values[name]) > 1]
    return swept, {name: runs[0].settings[name] for name in names if name not in swept}


def _markdown(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    swept: Sequence[str],
    fixed: Mapping[str, Any],
    planned: int,
) -> str:
    finished = {status: sum(row[status] for row in rows) for status in (DONE, DIVERGED, FAILED)}
    lines = [
        "# Sweep summary",
        "",
        f"{planned} runs of {len(rows)} settings: "
        + ", ".join(f"{n} {status}" for status, n in finished.items())
        + _stopped(rows)
        + f", {planned - sum(finished.values()) - sum(row[STOPPED] for row in rows)} not run yet.",
        f"Every run: {label(fixed)}." if fixed else "",
        f"Ranked by the mean final {_metric_name(metric)} over seeds (± sample standard deviation)"
        + ("." if metric == "final_val_acc" else _TEST_CHOOSES)
        + (" Then the settings stopped early, by the rung they reached." if _stopped(rows) else ""),
        "",
    ]
    metrics = _metric_order(rows, metric)
    header = ["rank", *(SETTINGS[name].label for name in swept), "done", *metrics, "time (s)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for rank, row in enumerate(rows, 1):
        cells = [str(rank), *(str(row["settings"].get(name, "")) for name in swept)]
        failures = "".join(f", {row[s]} {s}" for s in (DIVERGED, FAILED) if row[s])
        if row[STOPPED] and not row[DONE]:
            epochs, value = (-x for x in row["reached"])
            unit = "epoch" if epochs == 1 else "epochs"
            failures += f", stopped at {epochs:g} {unit} ({_metric_name(metric)} {value:.4f})"
        cells.append(f"{row[DONE]}/{row['runs']}{failures}")
        cells += [_plus_minus(*row.get(name, (None, None))) for name in metrics]
        cells.append("" if row["wall time"] is None else f"{row['wall time']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _metric_order(rows: Sequence[Mapping[str, Any]], metric: str) -> list[str]:
    """The final accuracies the rows hold, the selection metric first."""
    names = dict.fromkeys(key for row in rows for key in row if key.endswith(" acc"))
    return sorted(names, key=lambda name: name != _metric_name(metric))


def _plus_minus(mean: float | None, std: float | None) -> str:
    if mean is None:
        return ""
    return f"{mean:.4f}" if std is None else f"{mean:.4f} ± {std:.4f}"


def _csv(rows: Sequence[Mapping[str, Any]], metric: str) -> str:
    names = list(dict.fromkeys(name for row in rows for name in row["settings"]))
    metrics = _metric_order(rows, metric)
    stats = [f"{name.replace(' ', '_')}_{stat}" for name in metrics for stat in ("mean", "std")]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["rank", *names, "runs", DONE, DIVERGED, FAILED, *stats, "wall_time_mean"])
    for rank, row in enumerate(rows, 1):
        values = [v for name in metrics for v in row.get(name, (None, None))]
        counts = [row[key] for key in ("runs", DONE, DIVERGED, FAILED)]
        settings = [row["settings"].get(n) for n in names]
        writer.writerow([rank, *settings, *counts, *values, row["wall time"]])
    return text.getvalue()


def finals(record: Mapping[str, Any]) -> dict[str, float]:
    """``{"train acc": 0.95, "test acc": 0.94}``: the final accuracies a record holds, by name."""
    return {
        _metric_name(k): v
        for k, v in record.items()
        if k.startswith("final_") and k.endswith("_acc") and v is not None
    }


def _metric_name(key: str) -> str:
    return key[len("final_") :].replace("_", " ")


_CURVES_SHOWN = 10  # more lines than this make a legend nobody can read


def _plot_curves(
    path: Path, rows: Rows, records: Records, metric: str, swept: Sequence[str]
) -> Path:
    from ..plotting import plot_sweep_curves

    measured = [(row, runs) for row in rows if (runs := _measured(row, records, metric))]
    curves = [(label(row["settings"], swept), runs) for row, runs in measured[:_CURVES_SHOWN]]
    plot_sweep_curves(curves, metric, path, settings=len(rows))
    return path


def _measured(row: Mapping[str, Any], records: Records, metric: str) -> list[Mapping[str, Any]]:
    """The finished runs of the row's settings that measured `metric` (a setting without a
    validation set has no validation accuracy)."""
    key = settings_key(row["settings"])
    return [
        r
        for r in records
        if r["status"] == DONE and r.get(metric) is not None and settings_key(r["settings"]) == key
    ]


def _plot_finals(path: Path, records: Records, metric: str, swept: Sequence[str]) -> Path:
    from ..plotting import plot_sweep_finals

    done = [r for r in records if r["status"] == DONE and r.get(metric) is not None]
    plot_sweep_finals(done, metric, {name: SETTINGS[name].label for name in swept}, path)
    return path
