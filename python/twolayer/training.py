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
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, fields
from fractions import Fraction
from typing import Any

import numpy as np

from ._core import PARAM_NAMES
from ._interrupt import CtrlCDeferral
from ._progress import progress_bar
from .history import MAX_HISTORY_BYTES, History
from .net import TwoLayerNet
from .settings import BOOK_ITERS_NUM, TrainSettings

__all__ = [
    "BOOK_ITERS_NUM",
    "MAX_HISTORY_BYTES",
    "DivergedError",
    "History",
    "check_settings",
    "train",
]

Pair = tuple[np.ndarray, np.ndarray]  # images and labels of one set


class DivergedError(FloatingPointError):
    """The mini-batch loss became NaN or infinite. ``history`` holds the run up to that
    iteration."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


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
    """Train `net` in place with the book's mini-batch SGD and return the :class:`History` of the
    run.

    The settings are :class:`~twolayer.settings.TrainSettings`' (the signature lists them with their
    defaults). Each iteration takes a mini-batch of `batch_size` samples (`sampling`: "replacement",
    the book's ``rng.choice(train_size, batch_size)``, or "shuffle", the training set permuted every
    epoch and walked through in consecutive batches, the last one short when `batch_size` does not
    divide it), computes the gradient (`gradient`: "backprop" or "numerical"), updates
    ``net.params[key] -= learning_rate * grad[key]`` and records the mini-batch loss. The run lasts
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

    Raises :class:`DivergedError` (its ``history`` holds the run) when the loss becomes NaN or
    infinite; :class:`~twolayer.settings.SettingError` (a ValueError; also a TypeError for a value
    of the wrong type), naming the setting, for a bad setting (see :func:`check_settings`);
    ValueError for images and labels that differ in number.
    """
    unknown = sorted(set(settings) - set(TrainSettings.declared()))
    if unknown:
        raise TypeError(f"train() got an unexpected keyword argument {unknown[0]!r}")
    _check_data(x_train, t_train, x_test, t_test)
    checked = TrainSettings(**settings)
    checked.check_data(len(x_train), len(x_test))
    input_size, hidden_size = net.params["W1"].shape
    sizes = (input_size, hidden_size, net.params["W2"].shape[1])
    checked.check_net(net.params["W1"].dtype, sizes, len(x_train))
    return _fit(net, (x_train, t_train), (x_test, t_test), checked, progress)


def _fit(
    net: Any, train_set: Pair, test_set: Pair, settings: TrainSettings, progress: bool
) -> History:
    """The run of :func:`train`, its `settings` checked against these data."""
    batch_rng, split_rng, eval_rng = _generators(settings.seed)
    fit_set, validation = _hold_out(
        *train_set, split_rng, settings.train_size, settings.validation_size
    )
    fused = _takes_fused_steps(net, settings.gradient)
    if fused:
        fit_set = _as_core_reads(net, *fit_set)
    history = _new_history(net, settings, len(fit_set[0]), len(test_set[0]))
    # Evaluated in this order: train, val, test.
    whole_sets = {"train": fit_set, **({"val": validation} if validation else {}), "test": test_set}
    eval_sets = _evaluation_sets(whole_sets, settings.eval_samples, eval_rng)
    batches = _batch_indices(settings.sampling, batch_rng, len(fit_set[0]), settings.batch_size)
    _run(net, history, fit_set, batches, eval_sets, whole_sets, progress, fused)
    return history


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
        for f in fields(TrainSettings)
    ]
    progress = inspect.Parameter("progress", keyword, default=True, annotation="bool")
    return inspect.Signature([*data, *settings, progress], return_annotation="History")


_DATA_NAMES = ("x_train", "t_train", "x_test", "t_test")
setattr(train, "__signature__", _signature())  # noqa: B010 (a function has no typed __signature__)


def _new_history(net: Any, settings: TrainSettings, fit_size: int, test_size: int) -> History:
    """The History of a run about to start: its settings completed (the number of iterations, the
    samples trained on) and the network's sizes, read from ``params`` so that the book's own
    network class works too."""
    recorded = asdict(settings)
    iter_per_epoch = _iter_per_epoch(settings.sampling, fit_size, settings.batch_size)
    if settings.iters_num is None:
        epochs = settings.epochs
        iters = BOOK_ITERS_NUM if epochs is None else math.ceil(epochs * iter_per_epoch)
        recorded["iters_num"] = iters
    recorded["train_size"] = fit_size
    input_size, hidden_size = net.params["W1"].shape
    return History(
        **recorded,
        input_size=input_size,
        hidden_size=hidden_size,
        output_size=net.params["W2"].shape[1],
        dtype=net.params["W1"].dtype.name,
        test_size=test_size,
        iter_per_epoch=float(iter_per_epoch),
        # A network without an activation is taken for chapter 4's.
        activation=str(getattr(net, "activation", "sigmoid")),
    )


def _sgd_step(
    net: Any,
    x_train: np.ndarray,
    t_train: np.ndarray,
    batch: np.ndarray,
    learning_rate: float,
    gradient: str,
    losses: list[float],
    fused: bool,
    ctrl_c: CtrlCDeferral,
) -> None:
    """One iteration of the book's SGD on the rows `batch` of the training set: the gradient, the
    update of every parameter, and the loss of the mini-batch after the update, appended to
    `losses`. `fused`: all of it in one call of ``net.train_step``, which gathers the batch itself;
    the same parameters and loss, to rounding.

    A Ctrl-C during the update and the loss is held back (by `ctrl_c`) until both are done, so that
    the parameters are never left half updated and `losses` always has one entry per update made.
    """
    if fused:
        with ctrl_c:
            losses.append(net.train_step(x_train, t_train, learning_rate, indices=batch))
        return
    x_batch, t_batch = x_train[batch], t_train[batch]
    grad = (
        net.gradient(x_batch, t_batch)
        if gradient == "backprop"
        else net.numerical_gradient(x_batch, t_batch)
    )
    with ctrl_c:
        for key in PARAM_NAMES:
            net.params[key] -= learning_rate * grad[key]
        losses.append(net.loss(x_batch, t_batch))


def _takes_fused_steps(net: Any, gradient: str) -> bool:
    """Whether each step is one call of ``net.train_step``: for this package's net with backprop.
    Any other net, the book's own class included, and a subclass with its own ``gradient`` or
    ``loss`` (which the fused step would not call) take the book's steps."""
    if not isinstance(net, TwoLayerNet) or gradient != "backprop":
        return False
    return type(net).gradient is TwoLayerNet.gradient and type(net).loss is TwoLayerNet.loss


def _as_core_reads(net: TwoLayerNet, x: np.ndarray, t: np.ndarray) -> Pair:
    """The training set in types the core reads in place (float32 or float64 images; int64 labels or
    target rows of the net's dtype), converted once for the run rather than at every step. Other
    types are left for the core to refuse."""
    if x.dtype.kind in "iuf" and x.dtype not in (np.float32, np.float64):
        x = x.astype(net.dtype)
    if t.ndim == 2 and t.dtype.kind in "iuf":
        t = t.astype(net.dtype, copy=False)
    elif t.ndim == 1 and (t.dtype.kind == "i" or t.dtype.kind == "u" and t.dtype.itemsize < 8):
        # (uint64 labels past int64's range are left for the core to refuse)
        t = t.astype(np.int64, copy=False)
    return np.ascontiguousarray(x), np.ascontiguousarray(t)


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


def _generators(
    seed: int | None,
) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Generators for the batches, the split and the evaluation samples, all from `seed`.

    The batches come from ``default_rng(seed)`` itself, so that a run without split or evaluation
    samples draws the book's batches; the others from independent children of its seed sequence,
    which leave that stream untouched.
    """
    root = np.random.SeedSequence(seed)
    split, evaluation = root.spawn(2)
    return (
        np.random.default_rng(root),
        np.random.default_rng(split),
        np.random.default_rng(evaluation),
    )


def _hold_out(
    x: np.ndarray,
    t: np.ndarray,
    rng: np.random.Generator,
    train_size: int | None,
    validation_size: int,
) -> tuple[Pair, Pair | None]:
    """The samples to train on and the validation set, disjoint, drawn with `rng` (rows kept in data
    order); the whole training set, not copied, when neither size is given."""
    if train_size is None and validation_size == 0:
        return (x, t), None
    order = rng.permutation(len(x))
    held = np.sort(order[:validation_size])
    fit = np.sort(
        order[validation_size : None if train_size is None else validation_size + train_size]
    )
    return (x[fit], t[fit]), ((x[held], t[held]) if validation_size else None)


def _iter_per_epoch(sampling: str, train_size: int, batch_size: int) -> Fraction:
    """Exact: in floats, 7 epochs of 29 / 7 iterations came to 29.000000000000004, and 30
    iterations."""
    if sampling == "shuffle":
        return Fraction(-(-train_size // batch_size))
    return max(Fraction(train_size, batch_size), Fraction(1))  # the book's


def _batch_indices(
    sampling: str, rng: np.random.Generator, train_size: int, batch_size: int
) -> Iterator[np.ndarray]:
    """The row indices of each mini-batch, endlessly."""
    if sampling == "replacement":
        while True:
            # The book's rng.choice(train_size, batch_size): the same draws (NumPy's choice with
            # replacement calls integers), without choice's checks, 4 µs of every step.
            yield rng.integers(0, train_size, batch_size)
    while True:
        order = rng.permutation(train_size)
        for start in range(0, train_size, batch_size):
            # The last one short if batch_size does not divide train_size.
            yield order[start : start + batch_size]


def _evaluation_sets(
    sets: dict[str, Pair], eval_samples: int | None, rng: np.random.Generator
) -> dict[str, Pair]:
    """`eval_samples` samples of each set, drawn once for the whole run, or the whole sets."""
    if eval_samples is None:
        return sets
    rows = {
        name: np.sort(rng.choice(len(x), eval_samples, replace=False))
        for name, (x, _) in sets.items()
    }
    return {name: (x[rows[name]], t[rows[name]]) for name, (x, t) in sets.items()}


def _evaluate(net: Any, sets: dict[str, Pair]) -> dict[str, float]:
    return {name: net.accuracy(x, t) for name, (x, t) in sets.items()}


def _run(
    net: Any,
    history: History,
    fit: Pair,
    batches: Iterator[np.ndarray],
    eval_sets: dict[str, Pair],
    whole_sets: dict[str, Pair],
    progress: bool,
    fused: bool,
) -> None:
    """The loop: fills `history` in place."""
    shown = _Progress(progress, history)
    interval = history.eval_every or history.iter_per_epoch
    start = time.perf_counter()
    next_evaluation = 0.0  # the (fractional) iteration at which the next evaluation is due
    try:
        with CtrlCDeferral().installed() as ctrl_c:
            for i in range(history.iters_num):
                _sgd_step(
                    net,
                    *fit,
                    next(batches),
                    history.learning_rate,
                    history.gradient,
                    history.train_loss_list,
                    fused,
                    ctrl_c,
                )
                loss = history.train_loss_list[-1]
                if not math.isfinite(loss):
                    history.diverged = True
                    raise DivergedError(
                        f"training diverged at iteration {i}: the mini-batch loss is {loss}; try a "
                        f"learning rate smaller than {history.learning_rate}, and check the data "
                        f"for NaN or Inf",
                        history,
                    )
                if i >= next_evaluation:
                    next_evaluation += interval
                    accuracies = _evaluate(net, eval_sets)
                    for name, accuracy in accuracies.items():
                        getattr(history, f"{name}_acc_list").append(accuracy)
                    history.epoch_iters.append(i)
                    history.epoch_times.append(time.perf_counter() - start)
                    shown.evaluation(i, accuracies)
                shown.iteration(loss)
            if history.iters_num > 0:
                for name, accuracy in _evaluate(net, whole_sets).items():
                    setattr(history, f"final_{name}_acc", accuracy)
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        history.wall_time = time.perf_counter() - start
        shown.close()


class _Progress:
    """What a run shows: a line per evaluation on stdout, saying what was measured (through tqdm
    while a bar is drawn, so it redraws below them; flushed for logs and pipes otherwise), and a
    tqdm bar on a terminal."""

    def __init__(self, enabled: bool, history: History):
        self.bar = None
        if enabled:
            self.bar = progress_bar(
                total=history.iters_num, desc="train", unit="it", dynamic_ncols=True
            )
        self.write: Callable[[str], None] = _ignore
        if self.bar is not None:
            self.write = self.bar.write
        elif enabled:
            self.write = _print_flushed
        self.where = (
            "" if history.eval_samples is None else f" on {history.eval_samples:,} samples each"
        )
        self.per_iterations = history.eval_every is not None
        self.accuracies: dict[str, float] = {}

    def evaluation(self, i: int, accuracies: dict[str, float]) -> None:
        self.accuracies = accuracies
        # Without eval_every, once per epoch, as the book prints them.
        when = f"iteration {i:,}: " if self.per_iterations else ""
        names = ", ".join(f"{name} acc" for name in accuracies)
        self.write(
            f"{when}{names}{self.where} | {', '.join(f'{a:.4f}' for a in accuracies.values())}"
        )

    def iteration(self, loss: float) -> None:
        if self.bar is not None:
            measured = ", ".join(f"{name} acc {a:.4f}" for name, a in self.accuracies.items())
            self.bar.set_postfix_str(f"loss {loss:.4f}, {measured}{self.where}", refresh=False)
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _ignore(line: str) -> None:
    pass


def _print_flushed(line: str) -> None:
    print(line, flush=True)
