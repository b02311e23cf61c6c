"""Many training runs at once: a grid or a random search (ch. 6) over
:func:`~twolayer.training.train`'s settings.

>>> from twolayer.sweep import LogRange, sweep
>>> grid = {"learning_rate": [0.01, 0.1, 1], "hidden_size": [20, 50]}
>>> sweep(grid, out="lr-hidden", seeds=3)                                 # doctest: +SKIP
>>> sweep({"learning_rate": LogRange(1e-4, 1)}, out="random", trials=20)  # doctest: +SKIP

Every run is one ``train`` call on a fresh :class:`~twolayer.TwoLayerNet`, run by any
:class:`concurrent.futures.Executor`: in this process (the default), on local processes
(:func:`local_executor`), on a Dask cluster (:func:`dask_executor`) or anything else with
``submit``. Workers load MNIST themselves; only settings and results travel. Each finished run is
appended to ``runs.jsonl`` in the output directory; running the same sweep again skips the runs
found there, so an interrupted sweep resumes where it stopped."""

from __future__ import annotations

from .halving import RUNGS_FILE, check_halving, halving_sweep, promoted, rungs
from .lock import FolderBusyError
from .log import DIVERGED, DONE, FAILED, INTERRUPTED, RUNS_FILE, STOPPED, RunLog, check_record
from .plan import LogRange, Run, check_settings, parse_value, plan_runs, setting_names, settings_key
from .report import CURVES_PNG, FINALS_PNG, SUMMARY_CSV, SUMMARY_MD, summarise, write_reports
from .running import SweepOptions, SweepResult, run_sweep, sweep
from .worker import dask_executor, local_executor, run_one, share_of_cpus

__all__ = [
    "CURVES_PNG",
    "DIVERGED",
    "DONE",
    "FAILED",
    "FINALS_PNG",
    "FolderBusyError",
    "INTERRUPTED",
    "RUNGS_FILE",
    "RUNS_FILE",
    "STOPPED",
    "SUMMARY_CSV",
    "SUMMARY_MD",
    "LogRange",
    "Run",
    "RunLog",
    "SweepOptions",
    "SweepResult",
    "check_record",
    "check_halving",
    "check_settings",
    "dask_executor",
    "halving_sweep",
    "local_executor",
    "parse_value",
    "plan_runs",
    "promoted",
    "run_one",
    "run_sweep",
    "rungs",
    "setting_names",
    "settings_key",
    "share_of_cpus",
    "summarise",
    "sweep",
    "write_reports",
]
