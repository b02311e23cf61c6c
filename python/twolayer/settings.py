"""Every setting of the network and of a training run, declared once: name, default, bounds or
choices, help text and command-line flag.

Each setting is a field of a frozen dataclass, :class:`NetSettings` or :class:`TrainSettings`,
whose metadata holds its :class:`Setting`. Everything else is derived from these declarations: the
checks (done when a settings object is made, raising :class:`SettingError` with the setting's name
in ``.setting``), the flags and help of ``twolayer train`` and ``twolayer sweep``, the sweep's
canonical values, and the settings a run records. To add a setting, declare it here with
:func:`setting` and use it where it acts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._constraints import (
    Constraint,
    DType,
    Either,
    Int,
    OneOf,
    PathOf,
    Real,
    SettingError,
    SettingTypeError,
    Size,
)
from ._core import ACTIVATIONS, OPTIMIZERS

__all__ = [
    "BOOK_HIDDEN_SIZE",
    "BOOK_ITERS_NUM",
    "SETTINGS",
    "Constraint",
    "Either",
    "Int",
    "NetSettings",
    "OneOf",
    "PathOf",
    "Real",
    "RunSettings",
    "SweepSettings",
    "Setting",
    "SettingError",
    "SettingTypeError",
    "Size",
    "TrainSettings",
    "WEIGHT_INIT_SCALES",
    "batch_bytes",
    "check_learning_rate",
    "physical_memory",
    "setting",
]

# The book's settings in ch04/train_neuralnet.py, where ours default to them.
BOOK_ITERS_NUM = 10000
BOOK_HIDDEN_SIZE = 50
WEIGHT_INIT_SCALES: dict[str, float] = {"he": 2.0, "relu": 2.0, "xavier": 1.0, "sigmoid": 1.0}
"""The named initial weights of the book's chapter 6 (``MultiLayerNet``'s ``weight_init_std``):
each layer's weights have standard deviation ``sqrt(scale / n)``, n its number of inputs (He's for
ReLU, Xavier's for the sigmoid)."""


@dataclass(frozen=True)
class Setting:
    """One setting, as :func:`setting` declares it; `name` is its field's."""

    name: str
    default: Any
    constraint: Constraint
    help: str
    flag: str
    aliases: tuple[str, ...]
    metavar: str | None
    flag_constraint: Constraint

    def check(self, value: Any) -> Any:
        """`value` as the setting holds it, or SettingError naming the setting."""
        return self.constraint.check(self.name, value)

    def canonical(self, value: Any) -> Any:
        return self.constraint.canonical(value)

    @property
    def flags(self) -> tuple[str, ...]:
        """The flag, then its aliases: the book's name in both spellings where it differs."""
        book = ("--" + self.name.replace("_", "-"), "--" + self.name)
        names = (self.flag, *self.aliases, *book)
        return tuple(dict.fromkeys(names))

    @property
    def label(self) -> str:
        """The setting as tables, legends and axes name it: its flag without the dashes."""
        return self.flag[2:]


def setting(
    default: Any,
    constraint: Constraint,
    help: str,
    *,
    flag: str | None = None,
    aliases: tuple[str, ...] = (),
    metavar: str | None = None,
    flag_constraint: Constraint | None = None,
) -> Any:
    """A settings dataclass field: `default`, the values `constraint` allows, `help` (argparse's,
    ``%(default)s`` allowed), and the command line's `flag` (default: ``--the-name``) with
    `aliases`; `flag_constraint`, where the command line asks for more than the API (``--iters``
    of at least 1, since 0 iterations would train nothing)."""
    spec = {
        "default": default,
        "constraint": constraint,
        "help": help,
        "flag": flag,
        "aliases": aliases,
        "metavar": metavar,
        "flag_constraint": flag_constraint or constraint,
    }
    return field(default=default, metadata={"setting": spec})


class _Settings:
    """What both dataclasses share: each field checked when made, and their declarations."""

    def __post_init__(self) -> None:
        for spec in self.declared().values():
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))

    @classmethod
    def declared(cls) -> dict[str, Setting]:
        return _declared(cls)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], what: str) -> Any:
        """The settings `values` gives (the others at their defaults), checked; SettingTypeError
        naming the first unknown one."""
        declared = cls.declared()
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise SettingTypeError(
                unknown[0],
                f"unknown {what} setting {', '.join(unknown)}; the settings are "
                f"{', '.join(declared)}",
            )
        return cls(**values)


_DECLARED: dict[type, dict[str, Setting]] = {}  # by class, read once from its fields


def _declared(cls: type) -> dict[str, Setting]:
    if cls not in _DECLARED:
        declared = {}
        for f in dataclasses.fields(cls):
            spec = dict(f.metadata["setting"])
            spec["flag"] = spec["flag"] or "--" + f.name.replace("_", "-")
            declared[f.name] = Setting(name=f.name, **spec)
        _DECLARED[cls] = declared
    return _DECLARED[cls]


@dataclass(frozen=True)
class NetSettings(_Settings):
    """The settings of a :class:`~twolayer.TwoLayerNet` that a run may choose (its input and
    output sizes come from the data)."""

    hidden_size: int = setting(
        BOOK_HIDDEN_SIZE,
        Size(),
        "hidden layer size (default: %(default)s)",
        flag="--hidden",
        metavar="H",
    )
    weight_init_std: float | str = setting(
        0.01,
        Either(Real(), OneOf(tuple(WEIGHT_INIT_SCALES))),
        "weights start as this times randn; or he (relu): sqrt(2/n), xavier (sigmoid): "
        "sqrt(1/n) for each layer, n its inputs (default: %(default)s)",
        metavar="S",
    )
    weight_decay_lambda: float = setting(
        0.0,
        Real(at_least=0),
        "weight decay: 0.5*L*(sum W1^2 + sum W2^2) added to the loss, L*W to the weights' "
        "gradients (default: %(default)s)",
        metavar="L",
    )
    activation: str = setting(
        "sigmoid",
        OneOf(ACTIVATIONS, spelled_out=True),
        "the hidden layer's: sigmoid (chapter 4's network) or relu (chapter 5's) "
        "(default: %(default)s)",
    )
    dtype: str = setting("float64", DType(), "the network's dtype (default: %(default)s)")


_GRADIENTS = ("backprop", "numerical")
_SAMPLINGS = ("replacement", "shuffle")
_OPTIONAL_COUNT = Int(1, optional=True)
_FRACTION = Real(at_least=0, below=1)  # a momentum, a decay rate, a beta


@dataclass(frozen=True)
class TrainSettings(_Settings):
    """The settings of :func:`~twolayer.training.train`, checked when made."""

    iters_num: int | None = setting(
        None,
        Int(0, optional=True),
        f"iterations (default: {BOOK_ITERS_NUM})",
        flag="--iters",
        metavar="N",
        flag_constraint=Int(1),
    )
    epochs: int | None = setting(
        None, _OPTIONAL_COUNT, "epochs, instead of --iters", metavar="N", flag_constraint=Int(1)
    )
    batch_size: int = setting(100, Int(1), "mini-batch size (default: %(default)s)", metavar="N")
    learning_rate: float = setting(
        0.1,
        Real(above=0),
        "learning rate (default: %(default)s)",
        flag="--lr",
        metavar="LR",
    )
    optimizer: str = setting(
        "sgd",
        OneOf(OPTIMIZERS),
        "the update, one of the book's optimizers of chapter 6, whose own lr is 0.01, adam's "
        "0.001 (default: %(default)s)",
    )
    momentum: float = setting(
        0.9, _FRACTION, "momentum's and nesterov's momentum (default: %(default)s)", metavar="M"
    )
    decay_rate: float = setting(
        0.99, _FRACTION, "rmsprop's decay rate (default: %(default)s)", metavar="D"
    )
    beta1: float = setting(0.9, _FRACTION, "adam's beta1 (default: %(default)s)", metavar="B")
    beta2: float = setting(0.999, _FRACTION, "adam's beta2 (default: %(default)s)", metavar="B")
    gradient: str = setting(
        "backprop",
        OneOf(_GRADIENTS),
        "how to compute the gradient; numerical is the book's slow alternative "
        "(default: %(default)s)",
    )
    seed: int | None = setting(
        None,
        Int(0, optional=True),
        "seed of the initial weights and of all the sampling (default: random)",
        flag_constraint=Int(0),
    )
    sampling: str = setting(
        "replacement",
        OneOf(_SAMPLINGS),
        "mini-batches drawn with replacement (the book's), or the training set shuffled every "
        "epoch and walked through, each sample once per epoch (default: %(default)s)",
    )
    train_size: int | None = setting(
        None,
        _OPTIONAL_COUNT,
        "train on N samples (default: all)",
        metavar="N",
        flag_constraint=Int(1),
    )
    validation_size: int = setting(
        0,
        Int(0),
        "hold N training samples out, never trained on, and report their accuracy "
        "(default: %(default)s)",
        metavar="N",
    )
    eval_every: int | None = setting(
        None,
        _OPTIONAL_COUNT,
        "evaluate every K iterations (default: every epoch)",
        metavar="K",
        flag_constraint=Int(1),
    )
    eval_samples: int | None = setting(
        None,
        _OPTIONAL_COUNT,
        "evaluate on M samples of each set, drawn once (default: all)",
        metavar="M",
        flag_constraint=Int(1),
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iters_num is not None and self.epochs is not None:
            raise SettingError(
                "epochs",
                f"give iters_num or epochs, not both; got iters_num={self.iters_num}, "
                f"epochs={self.epochs}",
            )

    def check_data(self, n_train: int, n_test: int) -> None:
        """Raise SettingError for a size the data cannot give: `n_train` training and `n_test`
        test samples."""
        held_out = self.validation_size
        if held_out >= n_train:
            raise SettingError(
                "validation_size",
                f"validation_size must leave samples to train on: at most {n_train - 1:,} of "
                f"the {n_train:,} training samples, got {held_out:,}",
            )
        available = n_train - held_out
        if self.train_size is not None and self.train_size > available:
            less = f" less validation_size {held_out:,}" if held_out else ""
            raise SettingError(
                "train_size",
                f"train_size must be at most {available:,} (the {n_train:,} training "
                f"samples{less}), got {self.train_size:,}",
            )
        if self.eval_samples is not None:
            sizes = {"training": self.train_size or available, "test": n_test}
            if held_out:
                sizes["validation"] = held_out
            smallest = min(sizes, key=sizes.__getitem__)
            if self.eval_samples > sizes[smallest]:
                raise SettingError(
                    "eval_samples",
                    f"eval_samples must be at most {sizes[smallest]:,}, the size of the "
                    f"{smallest} set, got {self.eval_samples:,}",
                )

    def check_net(self, dtype: Any, sizes: tuple[int, int, int], n_train: int) -> None:
        """Raise SettingError for a setting a network of `dtype` and `sizes` (input, hidden,
        output) cannot train with on `n_train` training samples: a learning rate beyond the
        dtype's range (the core takes it in the network's dtype), or a mini-batch larger than this
        machine's memory."""
        check_learning_rate(self.learning_rate, dtype)
        samples = self.batch_size
        if self.sampling == "shuffle":  # a batch is never more than the samples trained on
            samples = min(samples, self.train_size or n_train - self.validation_size)
        each, memory = batch_bytes(dtype, sizes), physical_memory()
        # Not even one sample fitting is the network's size, which its own check refuses.
        if memory is not None and each <= memory < samples * each:
            raise SettingError(
                "batch_size",
                f"batch_size {self.batch_size:,} needs about {samples * each / 2**30:,.1f} GiB "
                f"for a mini-batch, more than this machine's {memory / 2**30:,.1f} GiB of memory "
                f"(at most {memory // each:,} samples)",
            )


def check_learning_rate(rate: float, dtype: Any) -> float:
    """`rate`, a checked learning rate, if the network's `dtype` holds it; else SettingError."""
    name = np.dtype(dtype).name
    largest = float(np.finfo(name).max)
    if rate > largest:
        raise SettingError(
            "learning_rate",
            f"learning_rate must be finite in {name} (at most {largest:.6g}), got {rate}",
        )
    return rate


def batch_bytes(dtype: Any, sizes: tuple[int, int, int]) -> int:
    """The memory of one sample of a training step: its index and label (int64), its image, and
    the hidden and output layers' activations and gradients (three of each) in `dtype`."""
    D, H, C = sizes
    itemsize: int = np.dtype(dtype).itemsize
    return 16 + itemsize * (D + 3 * H + 3 * C)


def physical_memory() -> int | None:
    """This machine's memory in bytes; None where the OS does not say (Windows)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


@dataclass(frozen=True)
class RunSettings(_Settings):
    """How a run is kept and continued: its checkpoints (:mod:`twolayer.checkpoint`). Not
    recorded in its history: they change how it is kept, not what it does."""

    checkpoint: Path | None = setting(
        None, PathOf(), "the checkpoint file a run writes when interrupted (default: none)"
    )
    checkpoint_every: int | None = setting(
        None,
        _OPTIONAL_COUNT,
        "also write the checkpoint every N iterations (default: only when interrupted)",
        metavar="N",
        flag_constraint=Int(1),
    )
    resume: Path | None = setting(
        None,
        PathOf(),
        "continue the run in DIR (its checkpoint) to its planned end, with its own settings",
        metavar="DIR",
    )
    stop_after: int | None = setting(
        None,
        _OPTIONAL_COUNT,
        "pause the run after N of its iterations, writing its checkpoint, to be resumed later",
        metavar="N",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("checkpoint_every", "stop_after"):
            if getattr(self, name) is not None and self.checkpoint is None and self.resume is None:
                raise SettingError(name, f"{name} needs a checkpoint file to write")


@dataclass(frozen=True)
class SweepSettings(_Settings):
    """How a sweep spends its runs (:mod:`twolayer.sweep`)."""

    halving: int | None = setting(
        None,
        Int(2, optional=True),
        "successive halving: each rung (1, ETA, ETA², ... epochs, up to --epochs) keeps the best "
        "1/ETA of the trials by validation accuracy (default: every trial runs to the end)",
        metavar="ETA",
        flag_constraint=Int(2),
    )


SETTINGS: dict[str, Setting] = {**TrainSettings.declared(), **NetSettings.declared()}
"""Every setting of what a run does, by name: training's, then the network's (a sweep varies
them; :class:`RunSettings` are apart)."""
