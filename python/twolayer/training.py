"""The book's training loop (ch04 train_neuralnet.py) as a function: mini-batch SGD on a
TwoLayerNet.

Python drives the loop as the book writes it (sampling, evaluation, history); the C++ core does the
arithmetic of every step. Beyond the book's loop: shuffling once per epoch (the chapter's footnote
on mini-batches), training on a subset with a validation set held out (chapter 6's overfitting and
hyperparameter experiments), and cheaper evaluation, less often or on fewer samples (the book's
later ``Trainer``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import numpy as np

from . import _resuming
from ._run_setup import Pair, RunState, keep, new_history, prepare
from ._training_loop import DivergedError, run_loop
from .history import MAX_HISTORY_BYTES, History
from .net import TwoLayerNet
from .settings import BOOK_ITERS_NUM, RunSettings, SettingError, TrainSettings

__all__ = [
    "BOOK_ITERS_NUM",
    "MAX_HISTORY_BYTES",
    "DivergedError",
    "History",
    "check_settings",
    "train",
]


def train(
    net: TwoLayerNet,
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    *,
    progress: bool = True,
    **settings: Any,
) -> History:
    """Train `net` in place with the book's mini-batch loop; the :class:`History` of the run.

    The settings are :class:`~twolayer.settings.TrainSettings`' (the signature lists them with their
    defaults). Each iteration takes a mini-batch of `batch_size` samples (`sampling`: "replacement",
    the book's ``rng.choice(train_size, batch_size)``, or "shuffle", the training set permuted every
    epoch and walked through in consecutive batches, the last one short when `batch_size` does not
    divide it), computes the gradient (`gradient`: "backprop" or "numerical"), steps `optimizer`
    (:mod:`twolayer.optimizers`; "sgd", the book's) and records the mini-batch loss. The run lasts
    `iters_num` iterations or `epochs` epochs (not both; default 10,000 iterations).
    `validation_size` samples of the training set are held out, never trained on, and `train_size`
    of the rest are trained on (default: all). Accuracy on the training, validation and test sets is
    measured at the first iteration of every epoch as in the book, or every `eval_every`
    iterations, on `eval_samples` samples of each set drawn once (default: all), and on the whole
    sets after the last iteration. All the sampling comes from `seed` (None: a fresh one); the
    network's initial weights are its own. docs/training.md tells the details.

    `net` may be any network with the book's interface (``params``, ``gradient``,
    ``numerical_gradient``, ``loss``, ``accuracy``). Images are (N, D), labels (N,) or one-hot
    (N, C), as :func:`~twolayer.datasets.load_mnist` gives. `progress`: a line per evaluation on
    stdout saying what was measured (``train acc, test acc | 0.9436, 0.9421``) and a tqdm bar on a
    terminal; False is silent. Ctrl-C, even within a long numerical gradient, returns the history so
    far with ``interrupted`` set, `net` as it was after the last iteration recorded.

    Checkpoints (docs/training.md): `checkpoint`, a file the run's whole state is written to on
    Ctrl-C, and every `checkpoint_every` iterations; `stop_after` N pauses the run there, its
    checkpoint written. `resume`, such a file, continues its run on the same data to its planned
    end, bit for bit as if never stopped (`net` of its sizes; no training setting given);
    :class:`~twolayer.checkpoint.CheckpointError` if it is damaged, of another version or data.

    Raises :class:`DivergedError` (its ``history`` holds the run) when the loss becomes NaN or
    infinite; :class:`~twolayer.settings.SettingError` (a ValueError; also a TypeError for a value
    of the wrong type), naming the setting, for a bad setting (see :func:`check_settings`);
    ValueError for images and labels that differ in number.
    """
    declared = {**TrainSettings.declared(), **RunSettings.declared()}
    unknown = sorted(set(settings) - set(declared))
    if unknown:
        raise TypeError(f"train() got an unexpected keyword argument {unknown[0]!r}")
    keeping = RunSettings(**{k: settings.pop(k) for k in RunSettings.declared() if k in settings})
    _check_data(x_train, t_train, x_test, t_test)
    data = (x_train, t_train), (x_test, t_test)
    if keeping.resume is not None:
        return _run(_resumed(net, data, keeping, settings), keeping, data, progress)
    checked = _checked(net, settings, len(x_train), len(x_test))
    return _run(_started(net, data, checked), keeping, data, progress)


def train_checked(
    net: Any,
    train_set: Pair,
    test_set: Pair,
    settings: TrainSettings,
    keeping: RunSettings,
    *,
    progress: bool = True,
) -> History:
    """:func:`train`'s run of `settings` that its caller has checked, against these data and this
    network too (``check_data``, ``check_net``): the command line's path, which checks its flags
    before it writes anything, so that they are checked once."""
    data = train_set, test_set
    return _run(_started(net, data, settings), keeping, data, progress)


def _checked(net: Any, settings: dict[str, Any], n_train: int, n_test: int) -> TrainSettings:
    """`settings` checked, against the data's sizes and the network's dtype and sizes too."""
    checked = TrainSettings(**settings)
    checked.check_data(n_train, n_test)
    input_size, hidden_size = net.params["W1"].shape
    sizes = (input_size, hidden_size, net.params["W2"].shape[1])
    checked.check_net(net.params["W1"].dtype, sizes, n_train)
    return checked


def _started(net: Any, data: tuple[Pair, Pair], settings: TrainSettings) -> RunState:
    """A new run of `settings`, about to take its first step."""
    run = prepare(net, *data, settings, np.random.SeedSequence(settings.seed))
    run.history = new_history(net, settings, len(run.fit[0]), len(data[1][0]))
    return run


def _resumed(
    net: Any, data: tuple[Pair, Pair], keeping: RunSettings, given: dict[str, Any]
) -> RunState:
    """The run of the checkpoint `keeping.resume`, where it stood."""
    if given:
        raise SettingError(
            next(iter(given)),
            f"resume continues the checkpoint's own settings: give no training setting, got "
            f"{', '.join(given)}",
        )
    assert keeping.resume is not None
    saved = _resuming.read(keeping.resume, data)
    checked = _resuming.settings_of(saved)
    checked.check_data(len(data[0][0]), len(data[1][0]))
    run = prepare(net, *data, checked, _resuming.seed_of(saved))
    _resuming.restore_into(run, saved)
    return run


def _run(run: RunState, keeping: RunSettings, data: tuple[Pair, Pair], progress: bool) -> History:
    """`run` taken to its end (or its pause, or a Ctrl-C), kept as `keeping` says."""
    keep(run, keeping, data)
    run_loop(run, progress)
    return run.history


def _signature() -> inspect.Signature:
    """train's signature as help() and inspect show it: the data, every training setting with its
    default (from their declarations), then `progress`."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    data = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=kind)
        for name, kind in (("net", "TwoLayerNet"), *((n, "np.ndarray") for n in _DATA_NAMES))
    ]
    settings = [
        inspect.Parameter(f.name, keyword, default=f.default, annotation=f.type)
        for f in (*fields(TrainSettings), *fields(RunSettings))
    ]
    progress = inspect.Parameter("progress", keyword, default=True, annotation="bool")
    return inspect.Signature([*data, *settings, progress], return_annotation="History")


_DATA_NAMES = ("x_train", "t_train", "x_test", "t_test")
setattr(train, "__signature__", _signature())  # noqa: B010 (a function has no typed __signature__)


def check_settings(
    settings: Mapping[str, Any], *, data_sizes: tuple[int, int] | None = None
) -> None:
    """Raise the error :func:`train` would raise for `settings`, without training: to reject a bad
    setting before a run, or a series of runs, starts.

    `settings` are keyword arguments of :func:`train` (any of them; the others take train's
    defaults). `data_sizes`, the number of training and test samples, also checks `train_size`,
    `validation_size` and `eval_samples` against the data. Raises
    :class:`~twolayer.settings.SettingError` naming the setting in its message and its
    ``setting``: a TypeError too for an unknown setting or one of the wrong type, a ValueError for
    a value out of range.
    """
    checked = TrainSettings.from_mapping(settings, "training")
    if data_sizes is not None:
        checked.check_data(*data_sizes)


def _check_data(
    x_train: np.ndarray, t_train: np.ndarray, x_test: np.ndarray, t_test: np.ndarray
) -> None:
    for name, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
        if len(x) == 0 or len(x) != len(t):
            raise ValueError(
                f"x_{name} and t_{name} must hold the same number (> 0) of samples, got {len(x)} "
                f"and {len(t)}"
            )
