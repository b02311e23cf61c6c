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

import math
import os
from dataclasses import dataclass
from fractions import Fraction
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
from ._declarations import DeclaredSettings, Setting, setting
from ._history_size import MAX_HISTORY_BYTES, most_evaluations

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
    "iter_per_epoch",
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
class NetSettings(DeclaredSettings):
    """The settings of a :class:`~twolayer.TwoLayerNet` that a run may choose (its input and
    output sizes come from the data)."""

    hidden_size: int = setting(
        BOOK_HIDDEN_SIZE,
        Size(),
        "hidden layer size (default: %(default)s)",
        flag="--hidden",
        metavar="H",
        in_every_history=True,
    )
    weight_init_std: float | str = setting(
        0.01,
        Either(Real(), OneOf(tuple(WEIGHT_INIT_SCALES))),
        "weights start as this times randn; or he (relu): sqrt(2/n), xavier (sigmoid): "
        "sqrt(1/n) for each layer, n its inputs (default: %(default)s)",
        metavar="S",
        recorded=False,  # a network does not keep it
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
    dtype: str = setting(
        "float64", DType(), "the network's dtype (default: %(default)s)", in_every_history=True
    )


_GRADIENTS = ("backprop", "numerical")
_SAMPLINGS = ("replacement", "shuffle")
_OPTIONAL_COUNT = Int(1, optional=True)
_FRACTION = Real(at_least=0, below=1)  # a momentum, a decay rate, a beta


@dataclass(frozen=True)
class TrainSettings(DeclaredSettings):
    """The settings of :func:`~twolayer.training.train`, checked when made."""

    iters_num: int | None = setting(
        None,
        Int(0, optional=True),
        f"iterations (default: {BOOK_ITERS_NUM})",
        flag="--iters",
        metavar="N",
        flag_constraint=Int(1),
        in_every_history=True,
    )
    epochs: int | None = setting(
        None, _OPTIONAL_COUNT, "epochs, instead of --iters", metavar="N", flag_constraint=Int(1)
    )
    batch_size: int = setting(
        100, Int(1), "mini-batch size (default: %(default)s)", metavar="N", in_every_history=True
    )
    learning_rate: float = setting(
        0.1,
        Real(above=0),
        "learning rate (default: %(default)s)",
        flag="--lr",
        metavar="LR",
        in_every_history=True,
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
        in_every_history=True,
    )
    seed: int | None = setting(
        None,
        Int(0, optional=True),
        "seed of the initial weights and of all the sampling (default: random)",
        flag_constraint=Int(0),
        in_every_history=True,
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
        in_every_history=True,
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

    def fit_size(self, n_train: int) -> int:
        """The number of samples a run trains on, of `n_train` training samples."""
        return self.train_size or n_train - self.validation_size

    def iterations(self, per_epoch: Fraction) -> int:
        """The number of iterations of a run of epochs of `per_epoch` iterations (see
        :func:`iter_per_epoch`), the last epoch whole."""
        if self.iters_num is not None:
            return self.iters_num
        return BOOK_ITERS_NUM if self.epochs is None else math.ceil(self.epochs * per_epoch)

    def check_data(self, n_train: int, n_test: int) -> None:
        """Raise SettingError for what the data cannot give, `n_train` training and `n_test` test
        samples: sizes beyond them, or more evaluations than a history can hold."""
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
        self._check_evaluations(self.fit_size(n_train))

    def _check_evaluations(self, fit_size: int) -> None:
        """Raise SettingError for a run on `fit_size` samples whose history.json would exceed the
        bound its reader holds it to: too many evaluations for its length."""
        per_epoch = iter_per_epoch(self.sampling, fit_size, self.batch_size)
        iterations, every = self.iterations(per_epoch), self.eval_every or per_epoch
        evaluations = math.ceil(iterations / every)  # (every is at least one iteration)
        most = most_evaluations(iterations, self.seed)
        if evaluations > most:
            name = "eval_every" if self.eval_every else "epochs" if self.epochs else "iters_num"
            raise SettingError(
                name,
                f"{name}: a run of {iterations:,} iterations evaluated every {float(every):g} "
                f"makes {evaluations:,} evaluations, more than its history.json can hold within "
                f"{MAX_HISTORY_BYTES:,} bytes (at most {most:,}): evaluate less often, or train "
                f"for fewer iterations",
            )

    def check_net(self, dtype: Any, sizes: tuple[int, int, int], n_train: int) -> None:
        """Raise SettingError for a setting a network of `dtype` and `sizes` (input, hidden,
        output) cannot train with on `n_train` training samples: a learning rate beyond the
        dtype's range (the core takes it in the network's dtype), or a mini-batch larger than this
        machine's memory."""
        check_learning_rate(self.learning_rate, dtype)
        samples = self.batch_size
        if self.sampling == "shuffle":  # a batch is never more than the samples trained on
            samples = min(samples, self.fit_size(n_train))
        each, memory = batch_bytes(dtype, sizes), physical_memory()
        # Not even one sample fitting is the network's size, which its own check refuses.
        if memory is not None and each <= memory < samples * each:
            raise SettingError(
                "batch_size",
                f"batch_size {self.batch_size:,} needs about {samples * each / 2**30:,.1f} GiB "
                f"for a mini-batch, more than this machine's {memory / 2**30:,.1f} GiB of memory "
                f"(at most {memory // each:,} samples)",
            )


def iter_per_epoch(sampling: str, fit_size: int, batch_size: int) -> Fraction:
    """The iterations of an epoch of `fit_size` samples: exact, since in floats 7 epochs of 29 / 7
    iterations came to 29.000000000000004, and 30 iterations."""
    if sampling == "shuffle":
        return Fraction(-(-fit_size // batch_size))
    return max(Fraction(fit_size, batch_size), Fraction(1))  # the book's


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
class RunSettings(DeclaredSettings):
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
class SweepSettings(DeclaredSettings):
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
