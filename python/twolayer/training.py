"""The book's training loop (ch04 train_neuralnet.py) as a function: mini-batch SGD on a TwoLayerNet.

Python drives the loop exactly as the book writes it; the C++ core does the arithmetic of every step.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ._files import atomic_write
from ._progress import progress_bar

if TYPE_CHECKING:
    from .net import TwoLayerNet

__all__ = ["DivergedError", "History", "train"]

_GRADIENTS = ("backprop", "numerical")


@dataclass
class History:
    """What a training run did: its settings, the loss of every mini-batch and the accuracies of every epoch.

    ``train_acc_list[k]`` and ``test_acc_list[k]`` were measured right after the update of iteration
    ``epoch_iters[k]`` (so the first pair follows a single update, as in the book), ``epoch_times[k]`` seconds into
    the run. ``final_train_acc`` and ``final_test_acc`` are measured after the last iteration (None when the run was
    interrupted or diverged). ``wall_time`` is the whole run in seconds, evaluations included.
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
    # Results.
    train_loss_list: list[float] = field(default_factory=list)
    train_acc_list: list[float] = field(default_factory=list)
    test_acc_list: list[float] = field(default_factory=list)
    epoch_iters: list[int] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)
    final_train_acc: float | None = None
    final_test_acc: float | None = None
    wall_time: float = 0.0
    interrupted: bool = False
    diverged: bool = False

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The history as JSON (non-finite losses as null, since JSON has no NaN); also written to `path` if given."""
        data = asdict(self)
        data["train_loss_list"] = [x if math.isfinite(x) else None for x in self.train_loss_list]
        # One line per field, lists included: readable, and 10,000 losses do not make 10,000 lines.
        fields = (f"  {json.dumps(key)}: {json.dumps(value, allow_nan=False)}" for key, value in data.items())
        text = "{\n" + ",\n".join(fields) + "\n}\n"
        if path is not None:
            with atomic_write(path) as f:
                f.write(text.encode())
        return text


class DivergedError(FloatingPointError):
    """The mini-batch loss became NaN or infinite. ``history`` holds the run up to that iteration."""

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
    iters_num: int = 10000,
    batch_size: int = 100,
    learning_rate: float = 0.1,
    gradient: str = "backprop",
    seed: int | None = None,
    progress: bool = True,
) -> History:
    """Train `net` in place with the book's mini-batch SGD and return the :class:`History` of the run.

    Each iteration draws `batch_size` training samples with replacement (``rng.choice(train_size, batch_size)``,
    ``rng = np.random.default_rng(seed)``), computes the gradient, updates
    ``net.params[key] -= learning_rate * grad[key]`` and records the mini-batch loss. Train and test accuracy are
    measured once per epoch of ``iter_per_epoch = max(train_size / batch_size, 1)`` iterations, at its first
    iteration: at ``i % iter_per_epoch == 0`` as in the book whenever `batch_size` divides the training set, and still
    once per epoch when it does not.

    Parameters
    ----------
    net
        A :class:`~twolayer.TwoLayerNet`, or any network with the book's interface (``params``, ``gradient``,
        ``numerical_gradient``, ``loss``, ``accuracy``).
    x_train, t_train, x_test, t_test
        Images (N, D) and labels (N,) or one-hot rows (N, C), as :func:`~twolayer.datasets.load_mnist` returns them.
    iters_num, batch_size, learning_rate
        The book's settings: 10000 iterations of 100 samples, learning rate 0.1.
    gradient
        "backprop", or "numerical" for the network's numerical gradient (much slower).
    seed
        Seed of the mini-batch sampling; None for a fresh random one. The network's initial weights are its own.
    progress
        True: a tqdm bar (iterations, loss, last accuracies, time left) on stderr when it is a terminal and tqdm is
        installed, and a ``train acc, test acc | 0.9436, 0.9421`` line per epoch on stdout. False: silent.

    Ctrl-C stops the run cleanly, even within a long numerical gradient: the history recorded so far is returned with
    ``interrupted`` set, and `net` keeps its parameters as they were after the last iteration the history recorded
    (an update is never left half done).

    Raises
    ------
    DivergedError
        The loss became NaN or infinite (a learning rate too large, or NaN in the data). Its ``history`` attribute
        holds the run, with ``diverged`` set.
    ValueError, TypeError
        A setting is out of range or of the wrong type, or images and labels differ in number.
    """
    if seed is not None:
        _check_int("seed", seed, minimum=0)
        seed = int(seed)  # not a NumPy integer, which JSON cannot hold
    _check_int("iters_num", iters_num, minimum=0)
    _check_int("batch_size", batch_size, minimum=1)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"learning_rate must be a real number, got {type(learning_rate).__name__}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be finite and > 0, got {learning_rate}")
    if gradient not in _GRADIENTS:
        raise ValueError(f"gradient must be one of {_GRADIENTS}, got {gradient!r}")
    for name, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
        if len(x) == 0 or len(x) != len(t):
            raise ValueError(
                f"x_{name} and t_{name} must hold the same number (> 0) of samples, got {len(x)} and {len(t)}"
            )

    train_size = len(x_train)
    input_size, hidden_size = net.params["W1"].shape  # from params, so the book's own network class works too
    iter_per_epoch = max(train_size / batch_size, 1)
    history = History(
        iters_num=iters_num,
        batch_size=batch_size,
        learning_rate=float(learning_rate),
        gradient=gradient,
        seed=seed,
        input_size=input_size,
        hidden_size=hidden_size,
        output_size=net.params["W2"].shape[1],
        dtype=net.params["W1"].dtype.name,
        train_size=train_size,
        test_size=len(x_test),
        iter_per_epoch=iter_per_epoch,
    )
    compute_gradient = net.gradient if gradient == "backprop" else net.numerical_gradient
    rng = np.random.default_rng(seed)
    bar = progress_bar(total=iters_num, desc="train", unit="it", dynamic_ncols=True) if progress else None
    report = _reporter(progress, bar)
    start = time.perf_counter()
    next_epoch = 0.0  # the (fractional) iteration at which the next epoch begins
    try:
        for i in range(iters_num):
            batch_mask = rng.choice(train_size, batch_size)
            x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]

            grad = compute_gradient(x_batch, t_batch)
            # A Ctrl-C here would leave some parameters updated and others not, and the history one iteration
            # short: it waits until the iteration is whole.
            with _ctrl_c_deferred():
                for key in ("W1", "b1", "W2", "b2"):
                    net.params[key] -= learning_rate * grad[key]
                loss = net.loss(x_batch, t_batch)
                history.train_loss_list.append(loss)
            if not math.isfinite(loss):
                history.diverged = True
                raise DivergedError(
                    f"training diverged at iteration {i}: the mini-batch loss is {loss}; "
                    f"try a learning rate smaller than {learning_rate}, and check the data for NaN or Inf",
                    history,
                )

            if i >= next_epoch:
                next_epoch += iter_per_epoch
                history.train_acc_list.append(net.accuracy(x_train, t_train))
                history.test_acc_list.append(net.accuracy(x_test, t_test))
                history.epoch_iters.append(i)
                history.epoch_times.append(time.perf_counter() - start)
                report(f"train acc, test acc | {history.train_acc_list[-1]:.4f}, {history.test_acc_list[-1]:.4f}")
            if bar is not None:
                train_acc, test_acc = history.train_acc_list[-1], history.test_acc_list[-1]
                bar.set_postfix_str(
                    f"loss {loss:.4f}, train acc {train_acc:.4f}, test acc {test_acc:.4f}", refresh=False
                )
                bar.update()
        if iters_num > 0:
            history.final_train_acc = net.accuracy(x_train, t_train)
            history.final_test_acc = net.accuracy(x_test, t_test)
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        history.wall_time = time.perf_counter() - start
        if bar is not None:
            bar.close()
    return history


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold SIGINT back for the duration of the block (one update and one mini-batch loss: well under a second), then
    deliver it to whatever handler was in place. Only the main thread receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is None:
        yield  # no signal comes here, or the handler in place was not set from Python and cannot be restored
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)


def _reporter(progress: bool, bar: Any | None) -> Callable[[str], None]:
    """Where per-epoch lines go: to stdout, through tqdm while a bar is drawn (so it redraws below them), flushed for
    logs and pipes otherwise; or nowhere."""
    if bar is not None:
        write: Callable[[str], None] = bar.write
        return write
    if progress:
        return lambda line: print(line, flush=True)
    return lambda line: None


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
