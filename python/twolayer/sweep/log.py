"""runs.jsonl: a line per finished run, appended as each finishes, the statuses it records, and
the schema every record read back is checked against."""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._files import atomic_write, open_regular
from .plan import Run

__all__ = [
    "DIVERGED",
    "DONE",
    "FAILED",
    "INTERRUPTED",
    "RECORDS_PER_RUN",
    "RUNS_FILE",
    "SCHEMA",
    "STOPPED",
    "RunLog",
    "check_record",
    "record_bound",
]

RUNS_FILE = "runs.jsonl"
DONE, DIVERGED, FAILED, INTERRUPTED = "done", "diverged", "failed", "interrupted"
STOPPED = "stopped"  # not promoted by successive halving (sweep/halving.py)
RECORDS_PER_RUN = 1
"""Lines a run may leave in runs.jsonl; with the plan's runs, the bound on the lines read."""

# A record's fixed part (settings, error message, worker) and the bytes of one number in a list, as
# json.dumps writes them (``0.9512345678901234, ``): with a run's evaluations, a line's bound.
_RECORD_BYTES = 64 * 1024
_NUMBER_BYTES = 32
_LISTS = 4  # train, validation, test accuracies and the iterations they were measured at


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _accuracy(value: Any) -> bool:
    return _is_number(value) and 0 <= value <= 1


def _optional(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or test(value)


def _list_of(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(map(test, value))


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(value: Any) -> bool:
    return isinstance(value, str)


# Each field a record may hold: whether it must be there, and what its value may be. A new field
# (a sweep's rung, say) is one more line here.
SCHEMA: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "settings": (True, lambda v: isinstance(v, dict) and all(map(_text, v)), "a JSON object"),
    "seed": (True, _count, "a non-negative integer"),
    "status": (
        True,
        lambda v: v in (DONE, DIVERGED, FAILED, STOPPED),
        f"{DONE!r}, {DIVERGED!r}, {FAILED!r} or {STOPPED!r}",
    ),
    "error": (False, _optional(_text), "text or null"),
    "rung": (False, _count, "a non-negative integer"),  # successive halving's
    "rung_epochs": (False, lambda v: _is_number(v) and v > 0, "a positive number"),
    "score": (False, _optional(_accuracy), "a number in [0, 1] or null"),
    "worker": (False, _optional(_text), "text or null"),
    "threads": (False, _optional(_count), "a non-negative integer or null"),
    "iterations": (False, _count, "a non-negative integer"),
    "iter_per_epoch": (False, lambda v: _is_number(v) and v > 0, "a positive number"),
    "wall_time": (
        False,
        _optional(lambda v: _is_number(v) and v >= 0),
        "a non-negative number or null",
    ),
    "epoch_iters": (False, _list_of(_count), "a list of non-negative integers"),
    **{
        f"{part}_acc_list": (False, _list_of(_accuracy), "a list of numbers in [0, 1]")
        for part in ("train", "val", "test")
    },
    **{
        f"final_{part}_acc": (False, _optional(_accuracy), "a number in [0, 1] or null")
        for part in ("train", "val", "test")
    },
}
# What a finished run's record holds besides: the measures that rank it.
_DONE_NEEDS = ("final_train_acc", "final_test_acc", "wall_time")


def check_record(record: Any) -> None:
    """Raise ValueError saying what is wrong with `record`, a run's record read back: an unknown
    field, a missing one, or a value of the wrong type or out of range."""
    if not isinstance(record, dict):
        raise ValueError(f"a record is a JSON object, got {type(record).__name__}")
    unknown = sorted(set(record) - set(SCHEMA))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    needed = [name for name, (required, _, _) in SCHEMA.items() if required]
    if record.get("status") == DONE:
        needed += _DONE_NEEDS
    for name in needed:
        if name not in record:
            raise ValueError(f"no {name!r}")
    for name, value in record.items():
        _, valid, expected = SCHEMA[name]
        if not valid(value):
            raise ValueError(f"{name!r} must be {expected}, got {json.dumps(value)[:60]}")


def record_bound(settings: Mapping[str, Any]) -> int:
    """The most bytes a line of a run with `settings` can take: its lists have at most an
    evaluation per iteration, and two more (the first and the last)."""
    from ..settings import BOOK_ITERS_NUM, TrainSettings

    defaults = TrainSettings.declared()
    iters = settings.get("iters_num")
    if iters is None:
        epochs = settings.get("epochs")
        if epochs is None:
            iters = BOOK_ITERS_NUM
        else:
            train_size = settings.get("train_size") or _MNIST_TRAIN
            batch = settings.get("batch_size", defaults["batch_size"].default)
            iters = epochs * -(-train_size // batch)
    return _RECORD_BYTES + _LISTS * _NUMBER_BYTES * (int(iters) + 2)


_MNIST_TRAIN = 60000


class RunLog:
    """The records in runs.jsonl, keyed by run.

    Each record is appended by a single ``write`` of one whole line, then fsynced, so a crash can
    tear at most the last line; reading drops such a line (rewriting the file atomically without it)
    before anything is appended after it. A line torn anywhere else, or a record that is not a
    run's (see :func:`check_record`), means the file was edited: ValueError naming its line, and the
    sweep does nothing until the line is mended or removed (a run treated as not done would be run
    again, its new record then beside the bad one)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
        """The records of the file, which a sweep of `runs` bounds: at most RECORDS_PER_RUN lines a
        run, each within the bound of the longest run's record. ValueError for a file beyond it,
        a link or anything but a regular file."""
        if not os.path.lexists(self.path):
            return {}
        if stat.S_ISLNK(os.lstat(self.path).st_mode):
            raise ValueError(
                f"{self.path} is a symbolic link; runs.jsonl must be the sweep's own file"
            )
        line_bound = max((record_bound(run.settings) for run in runs), default=_RECORD_BYTES)
        lines_bound = RECORDS_PER_RUN * len(runs)
        records: dict[str, dict[str, Any]] = {}
        complete: list[bytes] = []
        with open_regular(self.path) as f:
            while line := f.readline(line_bound + 1):
                number = len(complete) + 1
                if not line.endswith(b"\n"):
                    if len(line) > line_bound:
                        raise ValueError(
                            f"{self.path}, line {number}: longer than a run's record "
                            f"({line_bound:,} bytes)"
                        )
                    break  # torn: the run will run again
                if number > lines_bound:
                    raise ValueError(
                        f"{self.path}: more than the {lines_bound} records that this sweep's "
                        f"{len(runs)} runs make; was this folder used by another sweep? Give "
                        "another --out"
                    )
                records.update(self._parse(number, line))
                complete.append(line)
            torn = bool(line)
        if torn:  # a run cut short while its line was being written: it will run again
            with atomic_write(self.path) as out:
                out.writelines(complete)
        return records

    def _parse(self, number: int, line: bytes) -> dict[str, dict[str, Any]]:
        try:
            record = json.loads(line)
            check_record(record)
            return {Run(record["settings"], record["seed"]).key: record}
        except ValueError as exc:
            raise ValueError(
                f"{self.path}, line {number}: not a run record ({exc}): {line[:80]!r}"
            ) from None

    def append(self, record: Mapping[str, Any]) -> None:
        data = (json.dumps(record, allow_nan=False) + "\n").encode()
        fd = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666
        )
        try:
            written = 0
            # One write in practice; a partial one continues where it stopped.
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
