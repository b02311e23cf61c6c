"""What a training run did, as :func:`~twolayer.training.train` returns it: :class:`History`, and
its JSON file, written atomically and read back within bounds and checked."""

from __future__ import annotations

import json
import math
import os
import reprlib
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ._files import atomic_write, open_regular
from ._history_size import MAX_HISTORY_BYTES
from ._losses import INLINE_LOSSES, losses_path, read_losses, write_losses
from .settings import NetSettings, TrainSettings

__all__ = ["MAX_HISTORY_BYTES", "History"]

_T = TypeVar("_T")


def _recording_the_settings(cls: type[_T]) -> type[_T]:
    """`cls`, the History class, given a field for each setting of :class:`TrainSettings` and
    :class:`NetSettings` that a run records, before ``dataclass`` reads the fields: the setting's
    annotation, unless `cls` gives its own (holding the value completed), and its default, unless
    it is in every history. In order: the fields without a default, then the others; the settings
    first in each."""
    own: dict[str, Any] = dict(cls.__dict__.get("__annotations__", {}))
    recorded = [
        spec
        for spec in (*TrainSettings.declared().values(), *NetSettings.declared().values())
        if spec.recorded
    ]
    required = {s.name: own.pop(s.name, s.annotation) for s in recorded if s.in_every_history}
    optional = {s.name: own.pop(s.name, s.annotation) for s in recorded if not s.in_every_history}
    for spec in recorded:
        if not spec.in_every_history:
            setattr(cls, spec.name, spec.default)
    facts = {name: kind for name, kind in own.items() if not hasattr(cls, name)}
    results = {name: kind for name, kind in own.items() if name not in facts}
    cls.__annotations__ = {**required, **facts, **optional, **results}
    return cls


@dataclass
@_recording_the_settings
class History:
    """What a training run did: its settings, the loss of every mini-batch and the accuracies of
    every evaluation.

    ``train_acc_list[k]``, ``val_acc_list[k]`` (empty without a validation set) and
    ``test_acc_list[k]`` were measured right after the update of iteration ``epoch_iters[k]`` (so
    the first ones follow a single update, as in the book), ``epoch_times[k]`` seconds into the run:
    once per epoch by default, every `eval_every` iterations if set, on `eval_samples` samples of
    each set if set. ``final_train_acc``, ``final_val_acc`` and ``final_test_acc`` are measured on
    the whole sets after the last iteration (None when the run was interrupted or diverged, or for a
    set that was not there). ``train_size`` is the number of samples trained on. ``wall_time`` is
    the whole run in seconds, evaluations included.

    Every setting of :class:`~twolayer.settings.TrainSettings` and
    :class:`~twolayer.settings.NetSettings` that a run records is a field, from its declaration
    (``learning_rate``, ``hidden_size``, ``optimizer``, ...); a history.json written before a
    setting was added reads as the setting's default.
    """

    # The settings a history holds completed: all the iterations, however the run's length was
    # given, and the number of samples trained on.
    iters_num: int
    train_size: int
    # What the data and the network made of the settings.
    input_size: int
    output_size: int
    test_size: int
    iter_per_epoch: float
    # Results.
    train_loss_list: list[float] = field(default_factory=list)
    train_acc_list: list[float] = field(default_factory=list)
    val_acc_list: list[float] = field(default_factory=list)
    test_acc_list: list[float] = field(default_factory=list)
    epoch_iters: list[int] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)
    final_train_acc: float | None = None
    final_val_acc: float | None = None
    final_test_acc: float | None = None
    wall_time: float = 0.0
    interrupted: bool = False
    diverged: bool = False

    if TYPE_CHECKING:  # the settings' fields, added from their declarations, are Any to mypy

        def __getattr__(self, name: str) -> Any: ...

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The history as JSON (non-finite losses as null, since JSON has no NaN); also written to
        `path` if given, where a run of more than a million iterations keeps its losses beside
        it (``history.losses.npy`` beside ``history.json``: 8 bytes each), the JSON naming it."""
        data = asdict(self)
        data["train_loss_list"] = [x if math.isfinite(x) else None for x in self.train_loss_list]
        if path is not None and len(self.train_loss_list) > INLINE_LOSSES:  # beside, compactly
            losses = losses_path(Path(path))
            write_losses(losses, self.train_loss_list)  # first: the JSON never names a missing file
            data["train_loss_list"] = losses.name
        # One line per field, lists included: readable, and 10,000 losses do not make 10,000 lines.
        lines = (
            f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False, default=_numpy_scalar)}"
            for key, value in data.items()
        )
        text = "{\n" + ",\n".join(lines) + "\n}\n"
        if path is not None:
            with atomic_write(path) as f:
                f.write(text.encode())
        return text

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> History:
        """Read a history that :meth:`to_json` wrote.

        Raises ValueError, naming the file, when it is larger than :data:`MAX_HISTORY_BYTES`
        (checked before reading it), is not JSON, or does not hold a consistent history; OSError
        when it cannot be read.
        """
        path = Path(path)
        too_large = f"{path} is larger than a training history can be ({MAX_HISTORY_BYTES:,} bytes)"
        with open_regular(path) as f:  # a FIFO or a directory is refused, not waited on
            if os.fstat(f.fileno()).st_size > MAX_HISTORY_BYTES:
                raise ValueError(too_large)
            text = f.read(MAX_HISTORY_BYTES + 1)  # at most that, should the file have grown since
        if len(text) > MAX_HISTORY_BYTES:
            raise ValueError(too_large)
        try:
            data = json.loads(text, parse_constant=_reject_constant)
            if isinstance(data, dict) and isinstance(data.get("train_loss_list"), str):
                data["train_loss_list"] = _losses_beside(path, data)
            return _history_from_dict(data)
        # JSONDecodeError and UnicodeError are ValueErrors.
        except (ValueError, TypeError, RecursionError) as exc:
            raise ValueError(f"{path} is not a valid training history: {exc}") from None


def _losses_beside(path: Path, data: dict[str, Any]) -> list[float | None]:
    """The losses of a long run, from the file beside `path` that its JSON names: that file only,
    of at most its ``iters_num`` losses."""
    expected = losses_path(path)
    if data["train_loss_list"] != expected.name:
        raise ValueError(
            f"train_loss_list must name {expected.name!r}, got {data['train_loss_list']!r}"
        )
    iters = data.get("iters_num")
    if not isinstance(iters, int) or isinstance(iters, bool) or iters < 0:
        raise ValueError(f"iters_num must be an int >= 0, got {reprlib.repr(iters)}")
    return read_losses(expected, iters)


def _numpy_scalar(value: Any) -> Any:
    """A NumPy scalar setting (``train_size=np.int64(300)``) as the Python number JSON can hold."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Reading a history back: the JSON type each field's annotation allows.
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "int": _is_int,
    "float": _is_real,
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int | None": lambda v: v is None or _is_int(v),
    "float | None": lambda v: v is None or _is_real(v),
    "list[int]": lambda v: isinstance(v, list) and all(_is_int(x) for x in v),
    "list[float]": lambda v: isinstance(v, list) and all(_is_real(x) for x in v),
}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _history_from_dict(data: Any) -> History:
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    known = {f.name: f for f in fields(History)}
    unknown = sorted(set(data) - set(known))
    missing = [
        n
        for n, f in known.items()
        if n not in data and f.default is MISSING and f.default_factory is MISSING
    ]
    if unknown or missing:
        raise ValueError(f"unknown fields {unknown}" if unknown else f"missing fields {missing}")
    for name, value in data.items():
        # JSON has no NaN: non-finite losses are null.
        if name == "train_loss_list" and isinstance(value, list):
            value = [0.0 if x is None else x for x in value]
        if not _JSON_TYPES[str(known[name].type)](value):
            raise ValueError(f"{name} must be {known[name].type}, got {reprlib.repr(value)}")
    data = {
        **data,
        "train_loss_list": [math.nan if x is None else x for x in data.get("train_loss_list", [])],
    }
    history = History(**data)
    _check_consistent(history)
    return history


# The words each setting of words may be, to check a history read back.
_CHOICES = {
    name: spec.constraint.choices
    for name, spec in TrainSettings.declared().items()
    if spec.constraint.choices is not None
}


def _check_consistent(h: History) -> None:
    evaluations = len(h.epoch_iters)
    problems = [
        *(
            (getattr(h, name) not in choices, f"{name} must be one of {choices}")
            for name, choices in _CHOICES.items()
        ),
        (
            min(h.batch_size, h.train_size, h.test_size) < 1,
            "batch_size, train_size and test_size must be >= 1",
        ),
        (min(h.iters_num, h.validation_size) < 0, "iters_num and validation_size must be >= 0"),
        (
            not h.iter_per_epoch > 0 or not h.learning_rate > 0,
            "iter_per_epoch and learning_rate must be > 0",
        ),
        (len(h.train_loss_list) > h.iters_num, "more losses than iters_num"),
        (
            {len(h.train_acc_list), len(h.test_acc_list), len(h.epoch_times)} != {evaluations}
            or len(h.val_acc_list) != (evaluations if h.validation_size else 0),
            "the accuracy lists, epoch_iters and epoch_times must have one entry per evaluation",
        ),
        (
            any(b <= a for a, b in zip(h.epoch_iters, h.epoch_iters[1:]))
            or any(not 0 <= i < len(h.train_loss_list) for i in h.epoch_iters),
            "epoch_iters must be increasing iterations of the run",
        ),
    ]
    accuracies = [*h.train_acc_list, *h.val_acc_list, *h.test_acc_list]
    accuracies += [
        a for a in (h.final_train_acc, h.final_val_acc, h.final_test_acc) if a is not None
    ]
    problems.append((any(not 0 <= a <= 1 for a in accuracies), "accuracies must lie in [0, 1]"))
    for failed, message in problems:
        if failed:
            raise ValueError(message)
