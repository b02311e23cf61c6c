"""Running a plan: the runs not yet in runs.jsonl handed to an executor, a bar and a line per
finished run, Ctrl-C stopping cleanly, and the reports written at the end."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import functools
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .._progress import progress_bar
from .lock import holding
from .log import DIVERGED, FAILED, INTERRUPTED, RUNS_FILE, RunLog
from .plan import Run, Space, label, plan_runs
from .report import finals, write_reports
from .worker import run_one

__all__ = ["SweepOptions", "SweepResult", "run_sweep", "sweep"]


@dataclass
class SweepResult:
    """What a sweep did: the record of every finished run (this call's and earlier ones'), the runs
    still to do (left by Ctrl-C or a broken executor), the files it wrote and its summary."""

    records: list[dict[str, Any]]
    remaining: int
    interrupted: bool
    files: list[Path] = field(default_factory=list)
    summary: str = ""
    """summary.md's text: a table of the settings, best first."""


@dataclass(frozen=True)
class SweepOptions:
    """How a sweep runs its plan, whether every run goes to the end (:func:`run_sweep`) or trials
    are halved (:func:`~twolayer.sweep.halving_sweep`).

    `executor` runs the runs (default: one after another in this process); `slots` is how many it
    runs at once, and runs are submitted that many at a time (default: all at once). Each run uses
    `threads` threads of the core (default: the worker's setting) and loads MNIST from `data_dir`
    (default: each worker's cache). `progress`: a bar on a terminal, and a line per finished run
    on stdout."""

    executor: cf.Executor | None = None
    slots: int | None = None
    threads: int | None = None
    data_dir: str | os.PathLike[str] | None = None
    progress: bool = True

    @classmethod
    def of(cls, options: SweepOptions | None, chosen: Mapping[str, Any]) -> SweepOptions:
        """`options` (default: the defaults) with the fields named in `chosen` replaced; TypeError
        naming a keyword that is not a field."""
        return dataclasses.replace(options or cls(), **chosen)

    @property
    def directory(self) -> str | None:
        """`data_dir` as the workers take it: a string (a path travels to a Dask worker as one)."""
        return None if self.data_dir is None else os.fspath(self.data_dir)


def sweep(
    space: Space,
    *,
    out: str | os.PathLike[str],
    seeds: int | Sequence[int] = 1,
    trials: int | None = None,
    search_seed: int = 0,
    options: SweepOptions | None = None,
    **chosen: Any,
) -> SweepResult:
    """Plan the runs of `space` (see :func:`plan_runs`) and run them (see :func:`run_sweep`, which
    takes `options` and its fields as keywords).

    Returns a :class:`SweepResult`; writes runs.jsonl, summary.md, summary.csv and the figures into
    `out`."""
    runs = plan_runs(space, seeds=seeds, trials=trials, search_seed=search_seed)
    return run_sweep(runs, out=out, options=options, **chosen)


def run_sweep(
    runs: Sequence[Run],
    *,
    out: str | os.PathLike[str],
    options: SweepOptions | None = None,
    **chosen: Any,
) -> SweepResult:
    """Run those of `runs` that runs.jsonl in `out` does not hold yet, appending each record as it
    arrives, then write summary.md, summary.csv and the figures of all of them.

    `options` (a :class:`SweepOptions`), or its fields as keywords (``executor=pool, slots=2``),
    say how the runs run.

    Only one sweep at a time uses `out`: another one holding it raises
    :class:`~twolayer.sweep.lock.FolderBusyError` at once. Only this process writes there; the
    executor's workers only send records back.

    Ctrl-C, or SIGTERM, stops the sweep: runs not yet started are cancelled, those in progress are
    waited for (a second Ctrl-C abandons them), and every finished run is kept. A broken executor
    (a local worker process killed) raises ``concurrent.futures.BrokenExecutor`` after the reports
    are written; in both cases the same call resumes."""
    how = SweepOptions.of(options, chosen)
    with sweep_folder(out) as folder:
        return _run_locked(runs, folder, how)


@contextlib.contextmanager
def sweep_folder(out: str | os.PathLike[str]) -> Iterator[Path]:
    """`out`, made if need be and held for the block (FolderBusyError at once when another sweep
    holds it), with SIGTERM stopping the sweep as Ctrl-C does: what every kind of sweep runs in."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with holding(folder), _terminate_as_ctrl_c():
        yield folder


def _run_locked(runs: Sequence[Run], out: Path, how: SweepOptions) -> SweepResult:
    """run_sweep's work, in a folder this process holds: only this process writes into it."""
    log = RunLog(out / RUNS_FILE)
    finished = log.read(runs)
    todo = [run for run in runs if run.key not in finished]
    bar = _Progress(len(runs), len(runs) - len(todo), how.progress)
    call = functools.partial(run_one, threads=how.threads, data_dir=how.directory)

    def keep(run: Run, record: dict[str, Any], running: int) -> None:
        log.append(record)
        finished[run.key] = record
        bar.update(run, record, running)

    interrupted = False
    try:
        interrupted = _execute(todo, call, how.executor, how.slots, keep)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close(interrupted)
        records = [finished[run.key] for run in runs if run.key in finished]
        report = write_reports(out, records, runs)
    remaining = len(runs) - len(records)
    return SweepResult(records, remaining, interrupted, [log.path, *report.files], report.summary)


Keep = Callable[[Run, dict[str, Any], int], None]


@contextlib.contextmanager
def _terminate_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (a ``kill``, a stopping service or batch system) stops the sweep as Ctrl-C does:
    its workers ended, its finished runs kept and its reports written. Only the main thread can
    set a handler; elsewhere SIGTERM keeps its own."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    """Pass the stop on as the Ctrl-C it stands for: to local workers (which stop their runs
    cleanly, see worker._interruptible), and to this process's own SIGINT handler (train's, in a
    run here), or a KeyboardInterrupt where SIGINT is ignored (a job started in the background).
    Not on Windows, where os.kill with SIGINT would terminate a worker, and a console's Ctrl-C
    reaches every process in it already."""
    for child in multiprocessing.active_children() if os.name == "posix" else ():
        if child.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(child.pid, signal.SIGINT)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and hasattr(signal, "raise_signal"):
        signal.raise_signal(signal.SIGINT)
    else:
        raise KeyboardInterrupt


def _execute(
    todo: Sequence[Run],
    call: Callable[..., dict[str, Any]],
    executor: cf.Executor | None,
    slots: int | None,
    keep: Keep,
) -> bool:
    """Run `todo`, handing each finished run's record to `keep`; return True when Ctrl-C stopped the
    sweep."""
    if executor is None:
        for run in todo:
            record = call(run.settings, run.seed)
            if record["status"] == INTERRUPTED:
                return True
            keep(run, record, 0)
        return False
    waiting = iter(todo)
    in_flight: dict[cf.Future[dict[str, Any]], Run] = {}

    def submit_more() -> None:
        room = (slots or len(todo)) - len(in_flight)
        for run in itertools.islice(waiting, max(room, 0)):
            in_flight[executor.submit(call, run.settings, run.seed)] = run

    try:
        submit_more()
        while in_flight:
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for future in done:
                _settle(future, in_flight.pop(future), keep, len(in_flight))
            submit_more()
    except KeyboardInterrupt:
        for future in cf.as_completed(cancel_waiting(in_flight)):
            _settle(future, in_flight[future], keep, 0)
        return True
    return False


def cancel_waiting(in_flight: Iterable[cf.Future[Any]]) -> list[cf.Future[Any]]:
    """Cancel the runs of `in_flight` not started yet, when Ctrl-C stops a sweep; those that have
    started, said on stderr, to be waited for."""
    going = [future for future in in_flight if not future.cancel()]
    if going:
        print(
            f"\ntwolayer sweep: stopping; waiting for {len(going)} run(s) in progress "
            "(Ctrl-C again to abandon them)",
            file=sys.stderr,
            flush=True,
        )
    return going


def failure(run: Run, error: BaseException) -> dict[str, Any]:
    """The record of a run that raised `error` on the executor (a Dask worker that died too
    often, say) rather than return its own."""
    return {
        "settings": run.settings,
        "seed": run.seed,
        "status": FAILED,
        "error": f"{type(error).__name__}: {error}",
        "wall_time": None,
    }


def _settle(future: cf.Future[dict[str, Any]], run: Run, keep: Keep, running: int) -> None:
    """Keep a finished run's record; a run the executor lost (a Dask worker that died too often) as
    failed."""
    if future.cancelled():
        return
    error = future.exception()
    if error is None:
        record = future.result()
        if record["status"] != INTERRUPTED:
            keep(run, record, running)
    elif isinstance(error, cf.BrokenExecutor):
        raise error  # every other run is lost too: stop, and let the caller say so
    elif not isinstance(error, KeyboardInterrupt):  # Ctrl-C between runs is not the run's fault
        keep(run, failure(run, error), running)


class _Progress:
    """One bar for the sweep (runs done, running, diverged, failed; time left) and a line per
    finished run."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self.counts = {DIVERGED: 0, FAILED: 0}
        self.started, self.done_here = time.perf_counter(), 0
        self.bar = None
        if enabled:
            self.bar = progress_bar(
                total=total, initial=done, desc="sweep", unit="run", dynamic_ncols=True
            )
            if done:
                self._write(
                    f"{done} of {total} runs found in {RUNS_FILE}; running the other {total - done}"
                )

    def update(self, run: Run, record: Mapping[str, Any], running: int) -> None:
        self.done += 1
        self.done_here += 1
        if record["status"] in self.counts:
            self.counts[record["status"]] += 1
        run_text = f"{label(run.settings)}, seed {run.seed}"
        line = f"[{self.done}/{self.total}] {run_text}: {_outcome(record)}"
        if self.bar is not None:
            failures = ", ".join(f"{status} {n}" for status, n in self.counts.items())
            self.bar.set_postfix_str(f"running {running}, {failures}", refresh=False)
            self.bar.update()
            self.bar.write(line)
        elif self.enabled:
            left = (time.perf_counter() - self.started) / self.done_here * (self.total - self.done)
            self._write(f"{line}; {left:.0f} s left")

    def _write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self, interrupted: bool) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.enabled and interrupted:
            print(f"Interrupted: {self.done} of {self.total} runs finished and kept.", flush=True)


def _outcome(record: Mapping[str, Any]) -> str:
    """``test acc 0.9512, train acc 0.9530 in 12.3 s``, or what went wrong."""
    if record["status"] == FAILED:
        return f"failed: {record['error']}"
    if record["status"] == DIVERGED:
        return "diverged"
    measured = ", ".join(f"{name} {value:.4f}" for name, value in finals(record).items())
    return f"{measured} in {record['wall_time']:.1f} s"
