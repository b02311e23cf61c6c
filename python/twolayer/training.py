"""The book's training loop (ch04 train_neuralnet.py) as a function: mini-batch SGD on a TwoLayerNet.

Python drives the loop as the book writes it (sampling, evaluation, history); the C++ core does the arithmetic of
every step. Beyond the book's loop: shuffling once per epoch (the chapter's footnote on mini-batches), training on a
subset with a validation set held out (chapter 6's overfitting and hyperparameter experiments), and cheaper
evaluation, less often or on fewer samples (the book's later ``Trainer``).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import math
import numbers
import os
import reprlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ._core import PARAM_NAMES
from ._files import atomic_write, open_regular
from ._progress import progress_bar
from .net import TwoLayerNet

__all__ = ["MAX_HISTORY_BYTES", "DivergedError", "History", "check_settings", "train"]

_GRADIENTS = ("backprop", "numerical")
_SAMPLINGS = ("replacement", "shuffle")
# The book's settings in ch04/train_neuralnet.py, where ours default to them.
BOOK_ITERS_NUM = 10000
BOOK_HIDDEN_SIZE = 50
# A history takes about 20 bytes of JSON per iteration, so this bound allows runs of some three million iterations
# while keeping what a corrupt or hostile file can make the reader parse to a few hundred MB of Python objects.
MAX_HISTORY_BYTES = 64 * 2**20

Pair = tuple[np.ndarray, np.ndarray]  # images and labels of one set


@dataclass
class History:
    """What a training run did: its settings, the loss of every mini-batch and the accuracies of every evaluation.

    ``train_acc_list[k]``, ``val_acc_list[k]`` (empty without a validation set) and ``test_acc_list[k]`` were
    measured right after the update of iteration ``epoch_iters[k]`` (so the first ones follow a single update, as in
    the book), ``epoch_times[k]`` seconds into the run: once per epoch by default, every `eval_every` iterations if
    set, on `eval_samples` samples of each set if set. ``final_train_acc``, ``final_val_acc`` and ``final_test_acc``
    are measured on the whole sets after the last iteration (None when the run was interrupted or diverged, or for a
    set that was not there). ``train_size`` is the number of samples trained on. ``wall_time`` is the whole run in
    seconds, evaluations included.
    """

    # Settings.
    iters_num: int
    batch_size: int
    learning_rate: float
    gradient: str
    seed: int | None
    input_size: int
    hidden_size: int
    output_size: int
    dtype: str
    train_size: int
    test_size: int
    iter_per_epoch: float
    # Settings with defaults, so that histories saved before they existed still load.
    epochs: int | None = None
    sampling: str = "replacement"
    validation_size: int = 0
    eval_every: int | None = None
    eval_samples: int | None = None
    activation: str = "sigmoid"
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

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The history as JSON (non-finite losses as null, since JSON has no NaN); also written to `path` if given."""
        data = asdict(self)
        data["train_loss_list"] = [x if math.isfinite(x) else None for x in self.train_loss_list]
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

        Raises ValueError, naming the file, when it is larger than :data:`MAX_HISTORY_BYTES` (checked before reading
        it), is not JSON, or does not hold a consistent history; OSError when it cannot be read.
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
            return _history_from_dict(json.loads(text, parse_constant=_reject_constant))
        except (
            ValueError,
            TypeError,
            RecursionError,
        ) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
            raise ValueError(f"{path} is not a valid training history: {exc}") from None


class DivergedError(FloatingPointError):
    """The mini-batch loss became NaN or infinite. ``history`` holds the run up to that iteration."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


def train(
    net: TwoLayerNet, x_train: np.ndarray, t_train: np.ndarray, x_test: np.ndarray, t_test: np.ndarray, *,
    iters_num: int | None = None, epochs: int | None = None, batch_size: int = 100, learning_rate: float = 0.1,
    gradient: str = "backprop", seed: int | None = None, sampling: str = "replacement", train_size: int | None = None,
    validation_size: int = 0, eval_every: int | None = None, eval_samples: int | None = None, progress: bool = True,
) -> History:  # fmt: skip
    """Train `net` in place with the book's mini-batch SGD and return the :class:`History` of the run.

    Each iteration takes a mini-batch of `batch_size` samples (`sampling`: "replacement", the book's
    ``rng.choice(train_size, batch_size)``, or "shuffle", the training set permuted every epoch and walked through
    in consecutive batches, the last one short when `batch_size` does not divide it), computes the gradient
    (`gradient`: "backprop" or "numerical"), updates ``net.params[key] -= learning_rate * grad[key]`` and records the
    mini-batch loss. The run lasts `iters_num` iterations or `epochs` epochs (not both; default 10,000 iterations).
    `validation_size` samples of the training set are held out, never trained on, and `train_size` of the rest are
    trained on (default: all). Accuracy on the training, validation and test sets is measured at the first iteration
    of every epoch as in the book, or every `eval_every` iterations, on `eval_samples` samples of each set drawn once
    (default: all), and on the whole sets after the last iteration. All the sampling comes from `seed` (None: a fresh
    one); the network's initial weights are its own. docs/training.md tells the details.

    `net` may be any network with the book's interface (``params``, ``gradient``, ``numerical_gradient``, ``loss``,
    ``accuracy``). Images are (N, D), labels (N,) or one-hot (N, C), as :func:`~twolayer.datasets.load_mnist` gives.
    `progress`: a line per evaluation on stdout saying what was measured (``train acc, test acc | 0.9436, 0.9421``)
    and a tqdm bar on a terminal; False is silent. Ctrl-C, even within a long numerical gradient, returns the history
    so far with ``interrupted`` set, `net` as it was after the last iteration recorded.

    Raises :class:`DivergedError` (its ``history`` holds the run) when the loss becomes NaN or infinite; ValueError or
    TypeError, naming the setting, for a bad setting (see :func:`check_settings`) or images and labels that differ in
    number.
    """
    _check_data(x_train, t_train, x_test, t_test)
    settings: dict[str, Any] = {
        "iters_num": iters_num, "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
        "gradient": gradient, "seed": seed, "sampling": sampling, "train_size": train_size,
        "validation_size": validation_size, "eval_every": eval_every, "eval_samples": eval_samples,
    }  # fmt: skip
    check_settings(settings, data_sizes=(len(x_train), len(x_test)))
    settings["seed"] = None if seed is None else int(seed)  # JSON cannot hold a NumPy integer
    batch_rng, split_rng, eval_rng = _generators(settings["seed"])
    fit, validation = _hold_out(x_train, t_train, split_rng, train_size, validation_size)
    fused = _takes_fused_steps(net, gradient)
    if fused:
        fit = _as_core_reads(net, *fit)
    history = _new_history(net, settings, len(fit[0]), len(x_test))
    # Evaluated in this order: train, val, test.
    whole_sets = {
        "train": fit,
        **({"val": validation} if validation else {}),
        "test": (x_test, t_test),
    }
    eval_sets = _evaluation_sets(whole_sets, eval_samples, eval_rng)
    batches = _batch_indices(sampling, batch_rng, len(fit[0]), batch_size)
    _run(net, history, fit, batches, eval_sets, whole_sets, progress, fused)
    return history


def _new_history(net: Any, settings: dict[str, Any], fit_size: int, test_size: int) -> History:
    """The History of a run about to start: its settings completed (the number of iterations, the
    samples trained on) and the network's sizes, read from ``params`` so that the book's own network
    class works too."""
    iter_per_epoch = _iter_per_epoch(settings["sampling"], fit_size, settings["batch_size"])
    if settings["iters_num"] is None:
        epochs = settings["epochs"]
        iters = BOOK_ITERS_NUM if epochs is None else math.ceil(epochs * iter_per_epoch)
        settings["iters_num"] = iters
    settings.update(learning_rate=float(settings["learning_rate"]), train_size=fit_size)
    input_size, hidden_size = net.params["W1"].shape
    return History(
        **settings,
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
    net: Any, x_train: np.ndarray, t_train: np.ndarray, batch: np.ndarray, learning_rate: float, gradient: str,
    losses: list[float], fused: bool, ctrl_c: _CtrlCDeferral,
) -> None:  # fmt: skip
    """One iteration of the book's SGD on the rows `batch` of the training set: the gradient, the update of every
    parameter, and the loss of the mini-batch after the update, appended to `losses`. `fused`: all of it in one call
    of ``net.train_step``, which gathers the batch itself; the same parameters and loss, to rounding.

    A Ctrl-C during the update and the loss is held back (by `ctrl_c`) until both are done, so that the parameters are
    never left half updated and `losses` always has one entry per update made.
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
    """Whether each step is one call of ``net.train_step``: for this package's net with backprop. Any other net, the
    book's own class included, and a subclass with its own ``gradient`` or ``loss`` (which the fused step would not
    call) take the book's steps."""
    if not isinstance(net, TwoLayerNet) or gradient != "backprop":
        return False
    return type(net).gradient is TwoLayerNet.gradient and type(net).loss is TwoLayerNet.loss


def _as_core_reads(net: TwoLayerNet, x: np.ndarray, t: np.ndarray) -> Pair:
    """The training set in types the core reads in place (float32 or float64 images; int64 labels or target rows of
    the net's dtype), converted once for the run rather than at every step. Other types are left for the core to
    refuse."""
    if x.dtype.kind in "iuf" and x.dtype not in (np.float32, np.float64):
        x = x.astype(net.dtype)
    if t.ndim == 2 and t.dtype.kind in "iuf":
        t = t.astype(net.dtype, copy=False)
    elif t.ndim == 1 and (t.dtype.kind == "i" or t.dtype.kind == "u" and t.dtype.itemsize < 8):
        t = t.astype(
            np.int64, copy=False
        )  # (uint64 labels past int64's range are left for the core to refuse)
    return np.ascontiguousarray(x), np.ascontiguousarray(t)


def check_settings(
    settings: Mapping[str, Any], *, data_sizes: tuple[int, int] | None = None
) -> None:
    """Raise the error :func:`train` would raise for `settings`, without training: to reject a bad setting before a
    run, or a series of runs, starts.

    `settings` are keyword arguments of :func:`train` (any of them; the others take train's defaults).
    `data_sizes`, the number of training and test samples, also checks `train_size`, `validation_size` and
    `eval_samples` against the data. Raises TypeError for an unknown setting or one of the wrong type, ValueError for
    a value out of range; the message names the setting.
    """
    defaults = _setting_defaults()
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise TypeError(
            f"unknown training setting {', '.join(unknown)}; the settings are {', '.join(defaults)}"
        )
    s = {**defaults, **settings}
    for name, (minimum, optional) in _INT_SETTINGS.items():
        if not (optional and s[name] is None):
            _check_int(name, s[name], minimum=minimum)
    if s["iters_num"] is not None and s["epochs"] is not None:
        raise ValueError(
            f"give iters_num or epochs, not both; got iters_num={s['iters_num']}, epochs={s['epochs']}"
        )
    rate = s["learning_rate"]
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"learning_rate must be a real number, got {type(rate).__name__}")
    if not (math.isfinite(rate) and float(rate) > 0):
        raise ValueError(f"learning_rate must be finite and > 0, got {rate}")
    for name, choices in (("gradient", _GRADIENTS), ("sampling", _SAMPLINGS)):
        if not isinstance(s[name], str) or s[name] not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {s[name]!r}")
    if data_sizes is not None:
        _check_sizes(s, *data_sizes)


# Integer settings: their minimum, and whether None is allowed.
_INT_SETTINGS = {
    "iters_num": (0, True), "epochs": (1, True), "batch_size": (1, False), "seed": (0, True),
    "train_size": (1, True), "validation_size": (0, False), "eval_every": (1, True), "eval_samples": (1, True),
}  # fmt: skip


@functools.cache
def _setting_defaults() -> dict[str, Any]:
    """train's settings and their defaults, from its signature: the one place they are written."""
    parameters = inspect.signature(train).parameters.values()
    return {
        p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY and p.name != "progress"
    }


def _check_sizes(s: Mapping[str, Any], n_train: int, n_test: int) -> None:
    held_out = s["validation_size"]
    if held_out >= n_train:
        raise ValueError(
            f"validation_size must leave samples to train on: at most {n_train - 1:,} of the {n_train:,} training "
            f"samples, got {held_out:,}"
        )
    available = n_train - held_out
    if s["train_size"] is not None and s["train_size"] > available:
        less = f" less validation_size {held_out:,}" if held_out else ""
        raise ValueError(
            f"train_size must be at most {available:,} (the {n_train:,} training samples{less}), got {s['train_size']:,}"
        )
    if s["eval_samples"] is not None:
        sizes = {"training": s["train_size"] or available, "test": n_test}
        if held_out:
            sizes["validation"] = held_out
        smallest = min(sizes, key=sizes.__getitem__)
        if s["eval_samples"] > sizes[smallest]:
            raise ValueError(
                f"eval_samples must be at most {sizes[smallest]:,}, the size of the {smallest} set, "
                f"got {s['eval_samples']:,}"
            )


def _check_data(
    x_train: np.ndarray, t_train: np.ndarray, x_test: np.ndarray, t_test: np.ndarray
) -> None:
    for name, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
        if len(x) == 0 or len(x) != len(t):
            raise ValueError(
                f"x_{name} and t_{name} must hold the same number (> 0) of samples, got {len(x)} and {len(t)}"
            )


def _generators(
    seed: int | None,
) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Generators for the batches, the split and the evaluation samples, all from `seed`.

    The batches come from ``default_rng(seed)`` itself, so that a run without split or evaluation samples draws the
    book's batches; the others from independent children of its seed sequence, which leave that stream untouched.
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
    """The samples to train on and the validation set, disjoint, drawn with `rng` (rows kept in data order); the
    whole training set, not copied, when neither size is given."""
    if train_size is None and validation_size == 0:
        return (x, t), None
    order = rng.permutation(len(x))
    held = np.sort(order[:validation_size])
    fit = np.sort(
        order[validation_size : None if train_size is None else validation_size + train_size]
    )
    return (x[fit], t[fit]), ((x[held], t[held]) if validation_size else None)


def _iter_per_epoch(sampling: str, train_size: int, batch_size: int) -> Fraction:
    """Exact: in floats, 7 epochs of 29 / 7 iterations came to 29.000000000000004, and 30 iterations."""
    if sampling == "shuffle":
        return Fraction(-(-train_size // batch_size))
    return max(Fraction(train_size, batch_size), Fraction(1))  # the book's


def _batch_indices(
    sampling: str, rng: np.random.Generator, train_size: int, batch_size: int
) -> Iterator[np.ndarray]:
    """The row indices of each mini-batch, endlessly."""
    if sampling == "replacement":
        while True:
            # The book's rng.choice(train_size, batch_size): the same draws (NumPy's choice with replacement
            # calls integers), without choice's checks, 4 µs of every step.
            yield rng.integers(0, train_size, batch_size)
    while True:
        order = rng.permutation(train_size)
        for start in range(0, train_size, batch_size):
            yield order[
                start : start + batch_size
            ]  # the last one short if batch_size does not divide train_size


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
    net: Any, history: History, fit: Pair, batches: Iterator[np.ndarray], eval_sets: dict[str, Pair],
    whole_sets: dict[str, Pair], progress: bool, fused: bool,
) -> None:  # fmt: skip
    """The loop: fills `history` in place."""
    shown = _Progress(progress, history)
    interval = history.eval_every or history.iter_per_epoch
    start = time.perf_counter()
    next_evaluation = 0.0  # the (fractional) iteration at which the next evaluation is due
    try:
        with _CtrlCDeferral().installed() as ctrl_c:
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
                        f"training diverged at iteration {i}: the mini-batch loss is {loss}; try a learning rate smaller "
                        f"than {history.learning_rate}, and check the data for NaN or Inf",
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
    """What a run shows: a line per evaluation on stdout, saying what was measured (through tqdm while a bar is
    drawn, so it redraws below them; flushed for logs and pipes otherwise), and a tqdm bar on a terminal."""

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
        when = (
            f"iteration {i:,}: " if self.per_iterations else ""
        )  # else once per epoch, as the book prints them
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


class _CtrlCDeferral:
    """Holds SIGINT back inside ``with`` blocks (one update and one mini-batch loss: well under a second), then
    delivers it to the handler that was in place; outside them a SIGINT goes to that handler at once.

    One handler serves the whole run (``installed()``): setting a handler and restoring it around every step cost
    20 µs a step, 0.2 s of the book's 10,000 steps. Only the main thread receives signals; elsewhere, or when the
    handler in place was not set from Python (and could not be restored), it does nothing.
    """

    def __init__(self) -> None:
        self._holding = False
        self._held: list[Any] = []  # the frame of a SIGINT received while holding
        self._previous: Any = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[_CtrlCDeferral]:
        previous = signal.getsignal(signal.SIGINT)
        if threading.current_thread() is not threading.main_thread() or previous is None:
            yield self
            return
        self._previous = signal.signal(signal.SIGINT, self._received)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _received(self, signum: int, frame: Any) -> None:
        if self._holding:
            self._held.append(frame)
        else:
            self._deliver(signum, frame)

    def _deliver(self, signum: int, frame: Any) -> None:
        if callable(self._previous):
            self._previous(signum, frame)  # default_int_handler raises KeyboardInterrupt here
        elif self._previous == signal.SIG_DFL:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.raise_signal(signal.SIGINT)
        # SIG_IGN: ignored, as it would have been

    def __enter__(self) -> None:
        self._holding = True

    def __exit__(self, *exc: object) -> None:
        self._holding = False
        if self._held:
            frame = self._held.pop()
            self._held.clear()
            self._deliver(signal.SIGINT, frame)


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _numpy_scalar(value: Any) -> Any:
    """A NumPy scalar setting (``train_size=np.int64(300)``) as the Python number JSON can hold."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# Reading a history back: the JSON type each field's annotation allows.
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(
        value
    )


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
        if name == "train_loss_list" and isinstance(
            value, list
        ):  # JSON has no NaN: non-finite losses are null
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


def _check_consistent(h: History) -> None:
    evaluations = len(h.epoch_iters)
    problems = [
        (h.gradient not in _GRADIENTS, f"gradient must be one of {_GRADIENTS}"),
        (h.sampling not in _SAMPLINGS, f"sampling must be one of {_SAMPLINGS}"),
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
