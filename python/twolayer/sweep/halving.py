"""Successive halving (Jamieson and Talwalkar): every trial trains to the first rung, the best 1/ETA
by validation accuracy continue from their checkpoints to the next, and so on to the full run.

Rungs are numbers of epochs: the full run's `epochs` divided by ETA, ETA², ... down to at least one
(27 epochs, ETA 3: rungs 1, 3, 9, 27). A trial's score at a rung is its validation accuracy there.
Ties go to the trial planned first, so the promotions depend only on the scores, never on the
executor or the order the runs finish in. The sweep's process alone writes the sweep's folder:
workers get a trial's checkpoint as bytes and give the next one back.

The folder holds, besides runs.jsonl (a record per trial once its fate is known: ``"rung"`` says
how far it went, ``"status"`` is ``"stopped"`` for a trial not promoted), ``rungs.jsonl`` (a line
per trial and rung reached) and ``checkpoints/``, so that the same call after Ctrl-C finishes the
same search.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .._files import atomic_write
from ..settings import SettingError, TrainSettings, iter_per_epoch
from .log import DIVERGED, DONE, FAILED, INTERRUPTED, RUNS_FILE, STOPPED, RunLog
from .plan import Run, label
from .report import write_reports
from .running import SweepOptions, SweepResult, cancel_waiting, failure, sweep_folder
from .worker import _interruptible, _thread_count, fresh_run, new_record

__all__ = ["RUNGS_FILE", "check_halving", "halving_sweep", "promoted", "rungs"]

RUNGS_FILE = "rungs.jsonl"


def rungs(epochs: int, eta: int) -> list[Fraction]:
    """The rungs of a run of `epochs` epochs: epochs / eta**k for k = K-1 ... 0, the smallest at
    least one epoch. SettingError if ETA < 2 or the budget does not reach two rungs."""
    if isinstance(eta, bool) or not isinstance(eta, int) or eta < 2:
        raise SettingError("halving", f"halving (ETA) must be an integer >= 2, got {eta!r}")
    if epochs < eta:
        raise SettingError(
            "halving",
            f"halving {eta} needs at least two rungs: --epochs of at least {eta} (one epoch, "
            f"then {eta}), got {epochs}",
        )
    count = int(math.floor(math.log(epochs, eta) + 1e-9)) + 1
    return [Fraction(epochs, eta**k) for k in reversed(range(count))]


def check_halving(runs: Sequence[Run], eta: int) -> list[Fraction]:
    """The rungs of `runs` with halving factor `eta`; SettingError naming the setting when there is
    no validation set, no single --epochs, ETA < 2 or too short a budget for two rungs."""
    return rungs(_common_epochs(runs), eta)


def promoted(scores: Sequence[float], eta: int) -> list[int]:
    """The indices of the trials that continue from a rung where trial i scored ``scores[i]``
    (NaN: stopped by divergence or failure): the best ``len // eta`` (at least one), ties to the
    lower index, in index order."""
    ranked = sorted(
        (i for i, s in enumerate(scores) if not math.isnan(s)), key=lambda i: (-scores[i], i)
    )
    return sorted(ranked[: max(1, len(scores) // eta)])


def halving_sweep(
    runs: Sequence[Run],
    *,
    out: str | os.PathLike[str],
    eta: int,
    options: SweepOptions | None = None,
    **chosen: Any,
) -> SweepResult:
    """Run `runs` with successive halving of factor `eta` (`options`, or its fields as keywords,
    as for :func:`~twolayer.sweep.run_sweep`, and like it holding `out` against another sweep and
    stopped by Ctrl-C or SIGTERM). Every run needs a validation set and the same `epochs`
    (SettingError otherwise). Returns a :class:`SweepResult` whose summary ranks the trials that
    ran to the end; writes runs.jsonl, rungs.jsonl, checkpoints/, the reports and halving.png."""
    ladder = check_halving(runs, eta)
    how = SweepOptions.of(options, chosen)
    with sweep_folder(out) as folder:
        return _halve_locked(runs, folder, eta, ladder, how)


def _halve_locked(
    runs: Sequence[Run], out: Path, eta: int, ladder: Sequence[Fraction], how: SweepOptions
) -> SweepResult:
    """halving_sweep's work, in a folder this process holds: only this process writes into it."""
    (out / "checkpoints").mkdir(exist_ok=True)
    ledger, log = _Ledger(out / RUNGS_FILE), RunLog(out / RUNS_FILE)
    finished = log.read(runs)
    reached = ledger.read()
    alive = list(range(len(runs)))
    interrupted = False
    try:
        for k, rung in enumerate(ladder):
            todo = [i for i in alive if (runs[i].key, k) not in reached]
            if how.progress and todo:
                print(
                    f"Rung {k + 1} of {len(ladder)} ({rung} epochs): {len(todo)} trials", flush=True
                )
            for i, record in _execute(runs, todo, k, rung, ladder[-1], out, how):
                ledger.append(runs[i].key, k, record)
                reached[runs[i].key, k] = record
                if how.progress:
                    print(
                        f"  {label(runs[i].settings)}, seed {runs[i].seed}: {_said(record)}",
                        flush=True,
                    )
            records = [reached[runs[i].key, k] for i in alive]
            last = k == len(ladder) - 1
            kept = [] if last else promoted([_score(r) for r in records], eta)
            for j, i in enumerate(alive):
                if j not in kept and runs[i].key not in finished:
                    final = _final(records[j], k, rung)
                    log.append(final)
                    finished[runs[i].key] = final
            alive = [alive[j] for j in kept]
    except KeyboardInterrupt:
        interrupted = True
    records = [finished[run.key] for run in runs if run.key in finished]
    report = write_reports(out, records, runs)
    from ..plotting import plot_halving

    plot_halving(records, out / "halving.png")
    files = [log.path, ledger.path, *report.files, out / "halving.png"]
    return SweepResult(records, len(runs) - len(records), interrupted, files, report.summary)


def _common_epochs(runs: Sequence[Run]) -> int:
    epochs = {run.settings.get("epochs") for run in runs}
    if len(epochs) != 1 or None in epochs:
        raise SettingError(
            "epochs",
            f"halving needs one --epochs value for every trial, got {sorted(map(str, epochs))}",
        )
    if any(not run.settings.get("validation_size") for run in runs):
        raise SettingError(
            "validation_size",
            "halving ranks trials by validation accuracy: give a --validation-size",
        )
    return int(next(iter(epochs)))  # type: ignore[arg-type]


def _score(record: Mapping[str, Any]) -> float:
    if record["status"] != DONE or record.get("score") is None:
        return math.nan
    return float(record["score"])


def _final(record: Mapping[str, Any], k: int, rung: Fraction) -> dict[str, Any]:
    """A trial's record for runs.jsonl, once its fate is known at rung `k`."""
    final = {key: value for key, value in record.items() if key != "score"}
    paused = record["status"] == DONE and record.get("final_val_acc") is None
    final.update(rung=k, rung_epochs=float(rung), status=STOPPED if paused else record["status"])
    return final


def _said(record: Mapping[str, Any]) -> str:
    if record["status"] in (FAILED, DIVERGED):
        return f"{record['status']}: {record.get('error')}"
    return f"val acc {record['score']:.4f} in {record['wall_time']:.1f} s"


def _checkpoint_path(out: Path, run: Run) -> Path:
    return out / "checkpoints" / f"{hashlib.sha256(run.key.encode()).hexdigest()[:20]}.zip"


def _execute(
    runs: Sequence[Run],
    todo: Sequence[int],
    k: int,
    rung: Fraction,
    full: Fraction,
    out: Path,
    how: SweepOptions,
) -> Any:
    """Train the trials `todo` to `rung`, each from its checkpoint of the rung before; yield (index,
    record) as each is done, its new checkpoint written. KeyboardInterrupt once the runs in progress
    are back (their work is lost; the same rung runs again)."""

    def arguments(i: int) -> tuple[Any, ...]:
        saved = _checkpoint_path(out, runs[i]).read_bytes() if k else None
        stop = None if rung == full else rung
        return (runs[i].settings, runs[i].seed, stop, saved, how.threads, how.directory)

    def kept(i: int, record: dict[str, Any]) -> dict[str, Any]:
        data = record.pop("checkpoint", None)
        if data is not None:
            with atomic_write(_checkpoint_path(out, runs[i])) as f:
                f.write(data)
        return record

    if how.executor is None:
        for i in todo:
            record = run_rung(*arguments(i))
            if record["status"] == INTERRUPTED:
                raise KeyboardInterrupt
            yield i, kept(i, record)
        return
    for i, record in _on_executor(how.executor, how.slots, todo, arguments, runs):
        yield i, kept(i, record)


def _on_executor(
    executor: cf.Executor,
    slots: int | None,
    todo: Sequence[int],
    arguments: Any,
    runs: Sequence[Run],
) -> Any:
    """(index, record) of each trial of `todo` as `executor` finishes it, `slots` at a time."""
    waiting = iter(todo)
    in_flight: dict[cf.Future[dict[str, Any]], int] = {}
    try:
        while True:
            while len(in_flight) < (slots or len(todo)):
                upcoming = next(waiting, None)
                if upcoming is None:
                    break
                in_flight[executor.submit(run_rung, *arguments(upcoming))] = upcoming
            if not in_flight:
                return
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for future in sorted(done, key=in_flight.__getitem__):
                i = in_flight.pop(future)
                record = _record_of(future, runs[i])
                if record["status"] == INTERRUPTED:
                    raise KeyboardInterrupt
                yield i, record
    except KeyboardInterrupt:
        cf.wait(cancel_waiting(in_flight))
        raise


def _record_of(future: cf.Future[dict[str, Any]], run: Run) -> dict[str, Any]:
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, (cf.BrokenExecutor, KeyboardInterrupt)):
        raise error
    return failure(run, error)


def run_rung(
    settings: Mapping[str, Any],
    seed: int,
    rung: Fraction | None,
    saved: bytes | None,
    threads: int | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """Train trial `settings`, `seed` from checkpoint `saved` (None: the start) to `rung` epochs
    (None: its end); its record (as run_one's), its validation accuracy there as ``score`` and its
    new checkpoint's bytes as ``checkpoint``."""
    from ..training import DivergedError, train

    record = new_record(settings, seed)
    try:
        net, data, train_settings = fresh_run(settings, seed, data_dir)
        for array in data:
            _freeze(array)
        with tempfile.TemporaryDirectory() as folder, _interruptible(), _thread_count(threads):
            path = Path(folder) / "checkpoint.zip"
            chosen: dict[str, Any] = {**train_settings, "seed": seed}
            if saved is not None:
                path.write_bytes(saved)
                chosen = {"resume": path}
            stop = None if rung is None else _stop_iteration(train_settings, len(data[0]), rung)
            try:
                history = train(
                    net, *data, checkpoint=path, stop_after=stop, progress=False, **chosen
                )
            finally:
                record["checkpoint"] = path.read_bytes() if path.exists() else None
        if history.interrupted and len(history.train_loss_list) != stop:
            record["status"] = INTERRUPTED
    except DivergedError as exc:
        history, record["status"], record["error"] = exc.history, DIVERGED, str(exc)
    except Exception as exc:  # the run's failure, recorded; the sweep goes on
        record.update(status=FAILED, error=f"{type(exc).__name__}: {exc}", wall_time=None)
        record.pop("checkpoint", None)
        return record
    record.update(_results(history))
    last = history.final_val_acc if rung is None else (history.val_acc_list or [math.nan])[-1]
    record["score"] = None if last is None or math.isnan(last) else last
    return record


def _stop_iteration(train_settings: Mapping[str, Any], n_train: int, rung: Fraction) -> int:
    """The iterations a run of `train_settings` on `n_train` images takes to `rung` epochs, and one
    more, so that its evaluation after `rung` epochs is made."""
    declared = TrainSettings.declared()
    sampling, batch_size = (
        train_settings.get(name, declared[name].default) for name in ("sampling", "batch_size")
    )
    fit_size = train_settings.get("train_size") or n_train - train_settings["validation_size"]
    per_epoch = iter_per_epoch(sampling, fit_size, batch_size)
    return math.ceil(rung * per_epoch) + 1


def _results(history: Any) -> dict[str, Any]:
    """What a trial's record keeps of its history."""
    names = ("epoch_iters", "train_acc_list", "val_acc_list", "test_acc_list", "wall_time")
    finals = ("final_train_acc", "final_val_acc", "final_test_acc")
    return {
        "iterations": len(history.train_loss_list),
        "iter_per_epoch": history.iter_per_epoch,
        **{name: getattr(history, name) for name in (*names, *finals)},
    }


def _freeze(array: Any) -> None:
    """Make the worker's MNIST, kept for its next runs, read-only with all it views, so that its
    fingerprint is computed once per worker (see :func:`twolayer.checkpoint.fingerprint`)."""
    while isinstance(array, np.ndarray):
        array.setflags(write=False)
        array = array.base


class _Ledger:
    """rungs.jsonl: a line per trial and rung reached, its record there (appended as RunLog
    appends); a line torn by a crash, the last, is dropped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._log = RunLog(path)

    def read(self) -> dict[tuple[str, int], dict[str, Any]]:
        if not self.path.exists():
            return {}
        reached = {}
        lines = self.path.read_bytes().split(b"\n")
        if lines[-1]:  # a line torn by a crash: dropped before anything is appended after it
            with atomic_write(self.path) as f:
                f.writelines(line + b"\n" for line in lines[:-1])
        for number, line in enumerate(lines[:-1], 1):
            try:
                entry = json.loads(line)
                reached[entry["key"], int(entry["rung"])] = entry["record"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{self.path}, line {number}: not a rung record ({exc})") from None
        return reached

    def append(self, key: str, rung: int, record: Mapping[str, Any]) -> None:
        self._log.append({"key": key, "rung": rung, "record": record})
