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
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from . import optimizers
from ._batches import Batches
from ._core import PARAM_NAMES
from ._interrupt import CtrlCDeferral
from ._progress import progress_bar
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
        return _resumed(net, data, keeping, settings, progress)
    checked = _checked(net, settings, len(x_train), len(x_test))
    run = _prepare(net, *data, checked, np.random.SeedSequence(checked.seed))
    run.history = _new_history(net, checked, len(run.fit[0]), len(x_test))
    _keep(run, keeping, data)
    _run(run, progress)
    return run.history


def _checked(net: Any, settings: dict[str, Any], n_train: int, n_test: int) -> TrainSettings:
    """`settings` checked, against the data's sizes and the network's dtype and sizes too."""
    checked = TrainSettings(**settings)
    checked.check_data(n_train, n_test)
    input_size, hidden_size = net.params["W1"].shape
    sizes = (input_size, hidden_size, net.params["W2"].shape[1])
    checked.check_net(net.params["W1"].dtype, sizes, n_train)
    return checked


def _resumed(
    net: Any, data: tuple[Pair, Pair], keeping: RunSettings, given: dict[str, Any], progress: bool
) -> History:
    """The run of the checkpoint `keeping.resume`, continued."""
    from . import _resuming  # (it imports this module's parts)

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
    run = _prepare(net, *data, checked, _resuming.seed_of(saved))
    _resuming.restore_into(run, saved)
    _keep(run, keeping, data)
    if run.checkpoint is None:
        run.checkpoint = keeping.resume
    _run(run, progress)
    return run.history


def _keep(run: _RunState, keeping: RunSettings, data: tuple[Pair, Pair]) -> None:
    """Set where and how often `run` writes its checkpoint."""
    run.checkpoint, run.checkpoint_every = keeping.checkpoint, keeping.checkpoint_every
    run.stop_after, run.data = keeping.stop_after, data


def _prepare(
    net: Any, train_set: Pair, test_set: Pair, settings: TrainSettings, root: np.random.SeedSequence
) -> _RunState:
    """A run of `settings` on these data about to start (its history still to be made): the sets
    it trains and evaluates on and its mini-batches, all drawn from `root`."""
    batch_rng, split_rng, eval_rng = _generators(root)
    fit_set, validation = _hold_out(
        *train_set, split_rng, settings.train_size, settings.validation_size
    )
    fused = _takes_fused_steps(net, settings.gradient)
    if fused:
        fit_set = _as_core_reads(net, *fit_set)
    # Evaluated in this order: train, val, test.
    whole_sets = {"train": fit_set, **({"val": validation} if validation else {}), "test": test_set}
    return _RunState(
        net=net,
        settings=settings,
        fit=fit_set,
        batches=Batches(settings.sampling, batch_rng, len(fit_set[0]), settings.batch_size),
        eval_sets=_evaluation_sets(whole_sets, settings.eval_samples, eval_rng),
        whole_sets=whole_sets,
        fused=fused,
        entropy=root.entropy,  # type: ignore[arg-type]  # an int: SeedSequence(None) draws one
        optimizer=_optimizer_of(settings),
    )


def _optimizer_of(settings: TrainSettings) -> optimizers.Optimizer | None:
    """The run's optimizer, with its settings; None for the book's plain SGD, which keeps no
    state."""
    if settings.optimizer == "sgd":
        return None
    return optimizers.create(
        settings.optimizer,
        settings.learning_rate,
        momentum=settings.momentum,
        decay_rate=settings.decay_rate,
        beta1=settings.beta1,
        beta2=settings.beta2,
    )


@dataclass
class _RunState:
    """A run under way: what it trains and evaluates on, and where it stands (the iterations done
    are its history's losses)."""

    net: Any
    settings: TrainSettings
    fit: Pair
    batches: Batches
    eval_sets: dict[str, Pair]
    whole_sets: dict[str, Pair]
    fused: bool
    entropy: int
    history: History = field(init=False)
    next_evaluation: float = 0.0  # the (fractional) iteration at which the next evaluation is due
    checkpoint: Path | None = None
    checkpoint_every: int | None = None
    stop_after: int | None = None
    data: tuple[Pair, Pair] | None = None  # what the checkpoint's fingerprint is of
    optimizer: optimizers.Optimizer | None = None  # None: the book's plain SGD
    fingerprint: str = ""  # computed when the first checkpoint is written


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
        # A network without an activation or weight decay is taken for chapter 4's.
        activation=str(getattr(net, "activation", "sigmoid")),
        weight_decay_lambda=float(getattr(net, "weight_decay_lambda", 0.0)),
    )


def _sgd_step(run: _RunState, learning_rate: float, gradient: str, ctrl_c: CtrlCDeferral) -> None:
    """One iteration of the book's SGD (or of ``run.optimizer``, its ``update`` as the book's loop
    calls it) on the next mini-batch of the training set: the gradient, the update of every
    parameter, and the loss of the mini-batch after the update, appended to the history's losses.
    Fused (``run.fused``): all of it in one call of ``net.train_step``, which gathers the batch
    itself; the same parameters and loss, to rounding.

    A Ctrl-C while the batch is drawn, or during the update and the loss, is held back (by
    `ctrl_c`) until they are done, so that the parameters are never left half updated, the losses
    always have one entry per update made, and a batch drawn is used by the next step made.
    """
    net, (x_train, t_train), losses = run.net, run.fit, run.history.train_loss_list
    optimizer = run.optimizer
    if run.fused:
        with ctrl_c:
            batch = run.batches.draw()
            if optimizer is None:
                losses.append(net.train_step(x_train, t_train, learning_rate, indices=batch))
            else:
                losses.append(net.train_step(x_train, t_train, optimizer=optimizer, indices=batch))
            run.batches.done()
        return
    with ctrl_c:
        batch = run.batches.draw()
    x_batch, t_batch = x_train[batch], t_train[batch]
    grad = (
        net.gradient(x_batch, t_batch)
        if gradient == "backprop"
        else net.numerical_gradient(x_batch, t_batch)
    )
    with ctrl_c:
        if optimizer is None:
            for key in PARAM_NAMES:
                net.params[key] -= learning_rate * grad[key]
        else:
            optimizer.update(net.params, grad)
        losses.append(net.loss(x_batch, t_batch))
        run.batches.done()


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
    root: np.random.SeedSequence,
) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Generators for the batches, the split and the evaluation samples, all from `root` (the
    seed's).

    The batches come from ``default_rng(seed)`` itself, so that a run without split or evaluation
    samples draws the book's batches; the others from independent children of its seed sequence,
    which leave that stream untouched.
    """
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


def _run(run: _RunState, progress: bool) -> None:
    """The loop, from where `run` stands: fills its history in place."""
    history = run.history
    shown = _Progress(progress, history)
    start = time.perf_counter() - history.wall_time
    first = len(history.train_loss_list)
    try:
        with CtrlCDeferral().installed() as ctrl_c:
            if first and first - 1 >= run.next_evaluation:  # stopped before its evaluation
                _evaluation(run, first - 1, start, shown, ctrl_c)
            last = min(history.iters_num, run.stop_after or history.iters_num)
            for i in range(first, last):
                _sgd_step(run, history.learning_rate, history.gradient, ctrl_c)
                loss = history.train_loss_list[-1]
                if not math.isfinite(loss):
                    history.diverged = True
                    raise DivergedError(
                        f"training diverged at iteration {i}: the mini-batch loss is {loss}; try a "
                        f"learning rate smaller than {history.learning_rate}, and check the data "
                        f"for NaN or Inf",
                        history,
                    )
                if i >= run.next_evaluation:
                    _evaluation(run, i, start, shown, ctrl_c)
                shown.iteration(loss)
                if run.checkpoint_every and (i + 1) % run.checkpoint_every == 0:
                    history.wall_time = time.perf_counter() - start
                    _write_checkpoint(run)
            if last < history.iters_num:  # paused: the run continues from its checkpoint
                raise KeyboardInterrupt
            if history.iters_num > 0:
                for name, accuracy in _evaluate(run.net, run.whole_sets).items():
                    setattr(history, f"final_{name}_acc", accuracy)
    except KeyboardInterrupt:
        history.interrupted = True
        history.wall_time = time.perf_counter() - start
        if run.checkpoint is not None:
            try:
                _write_checkpoint(run)
            except OSError as exc:  # the run's history is still returned
                warnings.warn(f"the checkpoint was not written: {exc}", stacklevel=3)
    finally:
        history.wall_time = time.perf_counter() - start
        shown.close()


def _evaluation(
    run: _RunState, i: int, start: float, shown: _Progress, ctrl_c: CtrlCDeferral
) -> None:
    """The evaluation due after iteration `i`, recorded whole (Ctrl-C held back while it is)."""
    history = run.history
    accuracies = _evaluate(run.net, run.eval_sets)
    with ctrl_c:
        for name, accuracy in accuracies.items():
            getattr(history, f"{name}_acc_list").append(accuracy)
        history.epoch_iters.append(i)
        history.epoch_times.append(time.perf_counter() - start)
        run.next_evaluation += history.eval_every or history.iter_per_epoch
    shown.evaluation(i, accuracies)


def _write_checkpoint(run: _RunState) -> None:
    from . import _resuming

    assert run.checkpoint is not None
    _resuming.checkpoint_of(run).write(run.checkpoint)


class _Progress:
    """What a run shows: a line per evaluation on stdout, saying what was measured (through tqdm
    while a bar is drawn, so it redraws below them; flushed for logs and pipes otherwise), and a
    tqdm bar on a terminal."""

    def __init__(self, enabled: bool, history: History):
        self.bar = None
        if enabled:
            self.bar = progress_bar(
                total=history.iters_num,
                initial=len(history.train_loss_list),  # a resumed run's iterations done
                desc="train",
                unit="it",
                dynamic_ncols=True,
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
