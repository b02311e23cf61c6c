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

import concurrent.futures as cf
import contextlib
import csv
import functools
import importlib
import inspect
import io
import itertools
import json
import math
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from ._cpus import available_cpus
from ._files import atomic_write
from ._progress import progress_bar
from ._threads import get_num_threads, set_num_threads

__all__ = ["LogRange", "SweepResult", "dask_executor", "local_executor", "sweep"]

RUNS_FILE, SUMMARY_MD, SUMMARY_CSV = "runs.jsonl", "summary.md", "summary.csv"
CURVES_PNG, FINALS_PNG = "accuracy.png", "final-accuracy.png"
DONE, DIVERGED, FAILED, INTERRUPTED = "done", "diverged", "failed", "interrupted"
# Settings of the network rather than of train(); the rest of the network's arguments come from the
# data.
_NET_SETTINGS = ("hidden_size", "weight_init_std", "dtype", "activation")
_NOT_SETTINGS = ("seed", "progress")  # train() keywords that a sweep sets itself


@dataclass(frozen=True)
class LogRange:
    """A range sampled log-uniformly by random search; integers when both ends are integers (hidden
    sizes)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        for end in (self.low, self.high):
            if isinstance(end, bool) or not isinstance(end, (int, float)) or not math.isfinite(end):
                raise TypeError(
                    f"a range's ends must be finite numbers, got {self.low!r}:{self.high!r}"
                )
        if not 0 < self.low <= self.high:
            raise ValueError(
                f"a log-uniform range needs 0 < low <= high, got {self.low!r}:{self.high!r}"
            )

    @classmethod
    def parse(cls, text: str) -> LogRange:
        """``"1e-4:1"`` or ``"10:200"``."""
        low, sep, high = text.partition(":")
        if not sep:
            raise ValueError(f"a range is written LOW:HIGH, got {text!r}")
        return cls(_number(low, text), _number(high, text))

    def sample(self, rng: np.random.Generator) -> float | int:
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        if isinstance(self.low, int) and isinstance(self.high, int):
            return min(max(round(value), self.low), self.high)
        return float(
            f"{value:.3g}"
        )  # three significant digits: readable in tables, enough for a learning rate


def _number(text: str, whole: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"a range is written LOW:HIGH with two numbers, got {whole!r}") from None


Space = Mapping[str, Union[Sequence[Any], LogRange]]


@dataclass(frozen=True)
class Run:
    """One training run of a sweep: its settings (train and network keywords) and its seed."""

    settings: dict[str, Any]
    seed: int

    @property
    def key(self) -> str:
        """What identifies the run in runs.jsonl: settings and seed, in a canonical form."""
        return json.dumps({"settings": self.settings, "seed": self.seed}, sort_keys=True)


@dataclass
class SweepResult:
    """What a sweep did: the record of every finished run (this call's and earlier ones'), the runs
    still to do (left by Ctrl-C or a broken executor), and the files it wrote."""

    records: list[dict[str, Any]]
    remaining: int
    interrupted: bool
    files: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# The plan: which runs a space and seeds make, checked before any run starts


def setting_names() -> dict[str, Any]:
    """The settings a sweep can vary, and their defaults: ``train``'s keywords, the network's."""
    from .net import TwoLayerNet
    from .training import BOOK_HIDDEN_SIZE, train

    names = {
        p.name: p.default
        for p in inspect.signature(train).parameters.values()
        if p.kind is p.KEYWORD_ONLY and p.name not in _NOT_SETTINGS
    }
    for p in inspect.signature(TwoLayerNet).parameters.values():
        if p.name in _NET_SETTINGS:
            names[p.name] = BOOK_HIDDEN_SIZE if p.default is p.empty else p.default
    return names


def plan_runs(
    space: Space, *, seeds: int | Sequence[int] = 1, trials: int | None = None, search_seed: int = 0
) -> list[Run]:
    """The runs of a sweep, each setting checked by ``train``'s own rules before any run starts.

    `space` maps setting names (``train`` keywords such as ``learning_rate``, and the network's
    ``hidden_size``, ``dtype``...) to lists of values. Without `trials` it is a grid: every
    combination, each with every seed. With `trials` it is a random search: `trials` settings, each
    value drawn from its list or :class:`LogRange` by a generator seeded with `search_seed` (so the
    same call plans the same runs, and a sweep can resume). `seeds` is a count (seeds 0, 1, ...) or
    a list of seeds, used for the initial weights and the mini-batches alike.

    Raises ValueError or TypeError naming the setting: an unknown name, an empty list, a range
    without `trials`, or a value ``train`` or the network rejects."""
    defaults = setting_names()
    values = {name: _values(name, choices, defaults, trials) for name, choices in space.items()}
    seed_list = _seed_list(seeds)
    if trials is None:
        lists = [
            v for v in values.values() if not isinstance(v, LogRange)
        ]  # all of them, in a grid
        combos = [dict(zip(values, combo)) for combo in itertools.product(*lists)]
    else:
        _check_count("trials", trials)
        rng = np.random.default_rng(search_seed)
        combos = [
            {name: _draw(v, rng, defaults[name]) for name, v in values.items()}
            for _ in range(trials)
        ]
    unique = list(
        {json.dumps(c, sort_keys=True): c for c in combos}.values()
    )  # a random search may repeat one
    for settings in unique:
        check_settings(settings)
    # Seed-major order: stopped early, a sweep has covered every setting at least once.
    return [Run(settings, seed) for seed in seed_list for settings in unique]


def _values(
    name: str, choices: Any, defaults: Mapping[str, Any], trials: int | None
) -> list[Any] | LogRange:
    if name not in defaults:
        raise ValueError(
            f"unknown setting {name!r}; the settings are {', '.join(sorted(defaults))}"
        )
    if isinstance(choices, (list, tuple)) and any(isinstance(c, LogRange) for c in choices):
        if len(choices) > 1:
            raise ValueError(f"{name}: give one range or a list of values, not both")
        choices = choices[0]  # a range as the command line gives it: in a list of one
    if isinstance(choices, LogRange):
        if trials is None:
            raise ValueError(
                f"{name}: a range ({choices.low}:{choices.high}) needs random search (trials)"
            )
        return choices
    if isinstance(choices, (str, bytes)) or not isinstance(choices, Iterable):
        raise TypeError(f"{name}: expected a list of values or a LogRange, got {choices!r}")
    listed = [_plain(value, defaults[name]) for value in choices]
    if not listed:
        raise ValueError(f"{name}: expected at least one value, got an empty list")
    return listed


def _plain(value: Any, default: Any) -> Any:
    """A value as JSON holds it: NumPy scalars as Python ones, ints as floats where the setting is a
    float (so that learning rate 1 and 1.0 are one setting), dtypes by their names (np.float32,
    np.dtype("f4") and "float32" are one setting)."""
    if _is_dtype(value) or (_is_dtype(default) and isinstance(value, str)):
        with contextlib.suppress(TypeError):  # not a dtype: the network's check says so
            return np.dtype(value).name
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _is_dtype(value: Any) -> bool:
    return isinstance(value, np.dtype) or (
        isinstance(value, type) and issubclass(value, np.generic)
    )


def _draw(values: list[Any] | LogRange, rng: np.random.Generator, default: Any) -> Any:
    if isinstance(values, LogRange):
        return _plain(values.sample(rng), default)
    return values[int(rng.integers(len(values)))]


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError("seeds must be a count or a list of seeds, got bool")
    if isinstance(seeds, (int, np.integer)):
        _check_count("seeds", int(seeds))
        return list(range(int(seeds)))
    seed_list = [_plain(s, 0) for s in seeds]
    if not seed_list or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seed_list
    ):
        raise ValueError(
            f"seeds must be a count >= 1 or a non-empty list of integers >= 0, got {seeds!r}"
        )
    if len(set(seed_list)) != len(seed_list):
        raise ValueError(f"seeds must not repeat, got {seeds!r}")
    return seed_list


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")


def check_settings(settings: Mapping[str, Any]) -> None:
    """Raise what the network or ``train`` would raise for `settings` on MNIST, without the data."""
    from .datasets import _MNIST, MNIST_CLASSES, MNIST_PIXELS
    from .net import check_settings as check_net
    from .training import check_settings as check_training

    net_settings, train_settings = _split(settings)
    mnist_sizes = (_MNIST["train_label"].shape[0], _MNIST["test_label"].shape[0])
    try:
        check_net(MNIST_PIXELS, output_size=MNIST_CLASSES, seed=None, **net_settings)
        check_training(train_settings, data_sizes=mnist_sizes)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"settings {_label(settings)}: {exc}") from None


def _split(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(network keywords, all of them, with setting_names' defaults; train keywords)."""
    defaults = setting_names()
    net = {name: settings.get(name, defaults[name]) for name in _NET_SETTINGS}
    return net, {k: v for k, v in settings.items() if k not in _NET_SETTINGS}


_SHORT = {
    "learning_rate": "lr",
    "hidden_size": "hidden",
    "batch_size": "batch",
    "iters_num": "iters",
}


def _label(settings: Mapping[str, Any], names: Iterable[str] | None = None) -> str:
    """``lr 0.1, hidden 50``: the settings named (default: all), as tables and legends show them."""
    shown = settings if names is None else [n for n in names if n in settings]
    return ", ".join(f"{_SHORT.get(name, name)} {settings[name]}" for name in shown) or "defaults"


# --------------------------------------------------------------------------------------------------
# One run, wherever it executes: only its settings come in and only its record goes out


def run_one(
    settings: Mapping[str, Any], seed: int, threads: int | None = None, data_dir: str | None = None
) -> dict[str, Any]:
    """Train a fresh network with `settings` and `seed` on `threads` threads of the core (default:
    as set), with MNIST from `data_dir` (default: the cache), and return the run's record for
    runs.jsonl.

    Never raises for the run's own sake: a diverged run is recorded as such, any other error as
    "failed" with its message. A Ctrl-C during training gives status "interrupted" (not recorded by
    a sweep)."""
    from .datasets import MNIST_CLASSES
    from .net import TwoLayerNet
    from .training import DivergedError, train

    record: dict[str, Any] = {
        "settings": dict(settings),
        "seed": seed,
        "status": DONE,
        "error": None,
    }
    record["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    start = time.perf_counter()
    try:
        (x_train, t_train), (x_test, t_test) = _mnist(data_dir)
        net_settings, train_settings = _split(settings)
        net = TwoLayerNet(x_train.shape[1], output_size=MNIST_CLASSES, seed=seed, **net_settings)
        with _interruptible(), _thread_count(threads):
            record["threads"] = get_num_threads()
            history = train(
                net, x_train, t_train, x_test, t_test, **train_settings, seed=seed, progress=False
            )
        record["status"] = INTERRUPTED if history.interrupted else DONE
    except DivergedError as exc:
        history, record["status"], record["error"] = exc.history, DIVERGED, str(exc)
    except Exception as exc:  # the run's failure, recorded; the sweep goes on
        record.update(
            status=FAILED,
            error=f"{type(exc).__name__}: {exc}",
            wall_time=time.perf_counter() - start,
        )
        return record
    results = asdict(history)
    record["iterations"] = len(history.train_loss_list)
    record["iter_per_epoch"] = history.iter_per_epoch
    record.update(
        {
            k: v
            for k, v in results.items()
            if k.endswith("_acc_list")
            or k.startswith("final_")
            or k in ("epoch_iters", "wall_time")
        }
    )
    return record


@functools.lru_cache(maxsize=1)
def _mnist(
    data_dir: str | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST, loaded once per worker process and kept for its next runs."""
    from .datasets import load_mnist

    return load_mnist(data_dir=data_dir)


@contextlib.contextmanager
def _thread_count(threads: int | None) -> Iterator[None]:
    """The core on `threads` threads (None: as it is) for the block; as it was afterwards, so that
    an in-process run leaves the caller's setting alone."""
    before = get_num_threads()
    if threads is not None:
        set_num_threads(threads)
    try:
        yield
    finally:
        set_num_threads(before)


_ignoring_ctrl_c_when_idle = False  # set in local worker processes by _init_worker


def _init_worker(threads: int) -> None:
    """Start a local worker process: its share of the cores, and Ctrl-C ignored between runs, so
    that a Ctrl-C stops the runs in progress (see _interruptible) but never kills a worker waiting
    for work."""
    global _ignoring_ctrl_c_when_idle
    set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _ignoring_ctrl_c_when_idle = True


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """In a local worker process, let Ctrl-C reach train() (which then stops cleanly) during the
    run.
    """
    if not _ignoring_ctrl_c_when_idle:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_executor(workers: int, threads_per_worker: int | None = None) -> cf.ProcessPoolExecutor:
    """`workers` local processes, each with `threads_per_worker` threads of the core (default: an
    equal share of the CPUs, at least one), so that the machine is not oversubscribed. Use it in a
    ``with`` block."""
    import multiprocessing

    _check_count("workers", workers)
    if threads_per_worker is None:
        threads_per_worker = max(1, available_cpus() // workers)
    _check_count("threads_per_worker", threads_per_worker)
    # "spawn": a fresh interpreter, not a fork of one whose core has threads running (and the same
    # on every OS).
    return cf.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads_per_worker,),
    )


@contextlib.contextmanager
def dask_executor(address: str, *, timeout: float = 10.0) -> Iterator[tuple[cf.Executor, int]]:
    """Connect to the Dask scheduler at `address` (``tcp://host:8786``); yield an executor that runs
    on its workers and how many runs they run at once (their threads). Close the connection at the
    end of the ``with`` block.

    Raises ImportError (saying how to install Dask) without it, ConnectionError when the scheduler
    cannot be reached or no worker joins it within `timeout` seconds."""
    try:  # imported by name: Dask has no type annotations to check against
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise ImportError(
            "running on a Dask cluster needs Dask, an optional extra: pip install 'twolayer[dask]'"
        ) from None
    try:
        client = distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConnectionError(
            f"cannot reach a Dask scheduler at {address!r} within {timeout} s: {exc}"
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"no Dask worker joined the scheduler at {address!r} within {timeout} s"
            ) from exc
        yield client.get_executor(pure=False), sum(client.nthreads().values())
    finally:
        client.close()


# --------------------------------------------------------------------------------------------------
# runs.jsonl: one line per finished run, appended as each finishes


class RunLog:
    """The records in runs.jsonl, keyed by run.

    Each record is appended by a single ``write`` of one whole line, then fsynced, so a crash can
    tear at most the last line; reading drops such a line (rewriting the file atomically without it)
    before anything is appended after it. A line torn anywhere else means the file was edited, and
    is an error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        lines = self.path.read_bytes().split(b"\n")
        complete, torn = lines[:-1], lines[-1]
        records = {}
        for number, line in enumerate(complete, 1):
            try:
                record = json.loads(line)
                records[Run(record["settings"], record["seed"]).key] = record
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{self.path}, line {number}: not a run record ({exc}): {line[:80]!r}"
                ) from None
        if torn:  # a run cut short while its line was being written: it will run again
            with atomic_write(self.path) as f:
                f.writelines(line + b"\n" for line in complete)
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        data = (json.dumps(record, allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            written = 0
            while written < len(
                data
            ):  # one write in practice; a partial one continues where it stopped
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------------
# Running a plan


def sweep(
    space: Space,
    *,
    out: str | os.PathLike[str],
    seeds: int | Sequence[int] = 1,
    trials: int | None = None,
    search_seed: int = 0,
    **options: Any,
) -> SweepResult:
    """Plan the runs of `space` (see :func:`plan_runs`) and run them (see :func:`run_sweep`, which
    takes `options`).

    Returns a :class:`SweepResult`; writes runs.jsonl, summary.md, summary.csv and the figures into
    `out`."""
    return run_sweep(
        plan_runs(space, seeds=seeds, trials=trials, search_seed=search_seed), out=out, **options
    )


def run_sweep(
    runs: Sequence[Run],
    *,
    out: str | os.PathLike[str],
    executor: cf.Executor | None = None,
    slots: int | None = None,
    threads: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> SweepResult:
    """Run those of `runs` that runs.jsonl in `out` does not hold yet, appending each record as it
    arrives, then write summary.md, summary.csv and the figures of all of them.

    `executor` runs them (default: one after another in this process); `slots` is how many it runs
    at once, and runs are submitted that many at a time (default: all at once). Each run uses
    `threads` threads of the core (default: the worker's setting) and loads MNIST from `data_dir`
    (default: each worker's cache). `progress`: a bar on a terminal, and a line per finished run on
    stdout.

    Ctrl-C stops the sweep: runs not yet started are cancelled, those in progress are waited for (a
    second Ctrl-C abandons them), and every finished run is kept. A broken executor (a local worker
    process killed) raises ``concurrent.futures.BrokenExecutor`` after the reports are written; in
    both cases the same call resumes."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log = RunLog(out / RUNS_FILE)
    finished = log.read()
    todo = [run for run in runs if run.key not in finished]
    bar = _Progress(len(runs), len(runs) - len(todo), progress)
    directory = None if data_dir is None else os.fspath(data_dir)
    call = functools.partial(run_one, threads=threads, data_dir=directory)

    def keep(run: Run, record: dict[str, Any], running: int) -> None:
        log.append(record)
        finished[run.key] = record
        bar.update(run, record, running)

    interrupted = False
    try:
        interrupted = _execute(todo, call, executor, slots, keep)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close(interrupted)
        records = [finished[run.key] for run in runs if run.key in finished]
        files = write_reports(out, records, runs)
    return SweepResult(records, len(runs) - len(records), interrupted, [log.path, *files])


Keep = Callable[[Run, dict[str, Any], int], None]
Records = Sequence[Mapping[str, Any]]
Rows = Sequence[Mapping[str, Any]]


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
        going = [future for future in in_flight if not future.cancel()]
        if going:
            print(
                f"\ntwolayer sweep: stopping; waiting for {len(going)} run(s) in progress "
                "(Ctrl-C again to abandon them)",
                file=sys.stderr,
                flush=True,
            )
        for future in cf.as_completed(going):
            _settle(future, in_flight[future], keep, 0)
        return True
    return False


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
    elif isinstance(
        error, cf.BrokenExecutor
    ):  # every other run is lost too: stop, and let the caller say so
        raise error
    elif not isinstance(
        error, KeyboardInterrupt
    ):  # Ctrl-C reached a worker between runs: not the run's fault
        failure = {"settings": run.settings, "seed": run.seed, "status": FAILED}
        keep(
            run,
            {**failure, "error": f"{type(error).__name__}: {error}", "wall_time": None},
            running,
        )


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
        run_text = f"{_label(run.settings)}, seed {run.seed}"
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
    finals = ", ".join(f"{name} {value:.4f}" for name, value in _finals(record).items())
    return f"{finals} in {record['wall_time']:.1f} s"


def _finals(record: Mapping[str, Any]) -> dict[str, float]:
    """``{"train acc": 0.95, "test acc": 0.94}``: the final accuracies a record holds, by name."""
    return {
        _metric_name(k): v
        for k, v in record.items()
        if k.startswith("final_") and k.endswith("_acc") and v is not None
    }


def _metric_name(key: str) -> str:
    return key[len("final_") :].replace("_", " ")


# --------------------------------------------------------------------------------------------------
# Reports: summary.md, summary.csv and the figures, rewritten whole (atomically) after every sweep


def write_reports(
    out: Path, records: Sequence[Mapping[str, Any]], runs: Sequence[Run]
) -> list[Path]:
    """Write summary.md, summary.csv and (with matplotlib) the figures of `records` into `out`;
    return the paths."""
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
    return files


def summarise(
    records: Sequence[Mapping[str, Any]], runs: Sequence[Run]
) -> tuple[list[dict[str, Any]], str]:
    """One row per setting (runs, done, diverged, failed, mean and standard deviation over seeds of
    each final accuracy, mean wall time), best first by the selection metric; and that metric: the
    final validation accuracy when the runs measured one, else the final test accuracy."""
    groups: dict[str, tuple[dict[str, Any], list[Mapping[str, Any]]]] = {}
    for run in runs:
        groups.setdefault(_settings_key(run.settings), (run.settings, []))
    for record in records:
        groups[_settings_key(record["settings"])][1].append(record)
    planned = Counter(_settings_key(run.settings) for run in runs)
    metric = _selection_metric(records)
    rows = []
    for key, (settings, group) in groups.items():
        done = [r for r in group if r["status"] == DONE]
        row: dict[str, Any] = {"settings": settings, "runs": planned[key]}
        row.update(
            {
                status: sum(r["status"] == status for r in group)
                for status in (DONE, DIVERGED, FAILED)
            }
        )
        for key in dict.fromkeys(k for r in done for k in _finals(r)):
            row[key] = _mean_std(
                [r[_final_key(key)] for r in done if r.get(_final_key(key)) is not None]
            )
        row["wall time"] = _mean_std([r["wall_time"] for r in done])[0]
        rows.append(row)
    rows.sort(key=lambda row: -(row.get(_metric_name(metric), (None,))[0] or -1.0))
    return rows, metric


def _settings_key(settings: Mapping[str, Any]) -> str:
    return json.dumps(settings, sort_keys=True)


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
        + f", {planned - sum(finished.values())} not run yet.",
        f"Every run: {_label(fixed)}." if fixed else "",
        f"Ranked by the mean final {_metric_name(metric)} over seeds (± sample standard deviation)"
        + ("." if metric == "final_val_acc" else _TEST_CHOOSES),
        "",
    ]
    metrics = _metric_order(rows, metric)
    header = ["rank", *(_SHORT.get(name, name) for name in swept), "done", *metrics, "time (s)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for rank, row in enumerate(rows, 1):
        cells = [str(rank), *(str(row["settings"].get(name, "")) for name in swept)]
        failures = "".join(f", {row[s]} {s}" for s in (DIVERGED, FAILED) if row[s])
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


_CURVES_SHOWN = 10  # more lines than this make a legend nobody can read


def _plot_curves(
    path: Path, rows: Rows, records: Records, metric: str, swept: Sequence[str]
) -> Path:
    """The selection accuracy per epoch of the best settings: the mean over seeds, the spread (min
    to max) shaded."""
    from .plotting import _new_figure, _save

    figure = _new_figure(figsize=(7, 4.5))
    ax = figure.subplots()
    curve_key = metric[len("final_") :] + "_list"
    measured = [(row, runs) for row in rows if (runs := _measured(row, records, metric))]
    shown = measured[:_CURVES_SHOWN]
    for row, done in shown:
        # Each epoch's accuracy, then the final one, at the iteration it was measured, in epochs.
        iters = np.array([*done[0]["epoch_iters"], done[0]["iterations"] - 1])
        epochs = iters / done[0]["iter_per_epoch"]
        values = np.array([[*r[curve_key], r[metric]] for r in done])
        (line,) = ax.plot(epochs, values.mean(axis=0), label=_label(row["settings"], swept))
        ax.fill_between(
            epochs, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2
        )
    best = (
        f"the {len(shown)} best of {len(rows)} settings"
        if len(rows) > len(shown)
        else "each setting"
    )
    ax.set(
        xlabel="epochs",
        ylabel=_metric_name(metric).replace("acc", "accuracy"),
        ylim=(0, 1),
        title=f"{best}: mean over seeds, spread shaded",
    )
    if shown:
        ax.legend(loc="lower right", fontsize="small")
    _save(figure, path)
    return path


def _measured(row: Mapping[str, Any], records: Records, metric: str) -> list[Mapping[str, Any]]:
    """The finished runs of the row's settings that measured `metric` (a setting without a
    validation set has no validation accuracy)."""
    key = _settings_key(row["settings"])
    return [
        r
        for r in records
        if r["status"] == DONE and r.get(metric) is not None and _settings_key(r["settings"]) == key
    ]


def _plot_finals(path: Path, records: Records, metric: str, swept: Sequence[str]) -> Path:
    """The final selection accuracy against each swept setting: every run a dot, the mean per value
    a line."""
    from .plotting import _new_figure, _save

    figure = _new_figure(figsize=(4 * len(swept), 3.5))
    axes = np.atleast_1d(figure.subplots(1, len(swept), sharey=True, squeeze=False)[0])
    done = [r for r in records if r["status"] == DONE and r.get(metric) is not None]
    for ax, name in zip(axes, swept):
        xs = [r["settings"].get(name) for r in done]
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
        order = sorted(set(xs), key=lambda x: x if numeric else str(x))
        position = {x: (x if numeric else i) for i, x in enumerate(order)}
        ax.scatter([position[x] for x in xs], [r[metric] for r in done], s=12, alpha=0.5)
        means = [np.mean([r[metric] for r, x2 in zip(done, xs) if x2 == x]) for x in order]
        ax.plot([position[x] for x in order], means, marker="o", color="black", linewidth=1)
        if numeric and order and min(order) > 0 and max(order) / min(order) >= 10:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(order)), [str(x) for x in order])
        ax.set(xlabel=name, ylim=(0, 1))
    axes[0].set_ylabel(f"final {_metric_name(metric).replace('acc', 'accuracy')}")
    _save(figure, path)
    return path
