"""The book's training loop over a run prepared by :mod:`twolayer._run_setup`: a step on each
mini-batch, the evaluations, the checkpoints, and Ctrl-C, which stops the run between steps with
its history kept."""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

from . import _resuming
from ._core import PARAM_NAMES
from ._interrupt import CtrlCDeferral
from ._progress import RunProgress
from ._run_setup import Pair, RunState
from .history import History

__all__ = ["DivergedError", "run_loop"]


class DivergedError(FloatingPointError):
    """The mini-batch loss became NaN or infinite. ``history`` holds the run up to that
    iteration."""

    __module__ = "twolayer.training"  # where it is public, and what tracebacks name

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


def run_loop(run: RunState, progress: bool) -> None:
    """The loop, from where `run` stands: fills its history in place."""
    history = run.history
    shown = RunProgress(progress, history)
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
                # stacklevel 4: train's caller (above train, its _run and this loop)
                warnings.warn(f"the checkpoint was not written: {exc}", stacklevel=4)
    finally:
        history.wall_time = time.perf_counter() - start
        shown.close()


def _sgd_step(run: RunState, learning_rate: float, gradient: str, ctrl_c: CtrlCDeferral) -> None:
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


def _evaluation(
    run: RunState, i: int, start: float, shown: RunProgress, ctrl_c: CtrlCDeferral
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


def _evaluate(net: Any, sets: dict[str, Pair]) -> dict[str, float]:
    return {name: net.accuracy(x, t) for name, (x, t) in sets.items()}


def _write_checkpoint(run: RunState) -> None:
    assert run.checkpoint is not None
    _resuming.checkpoint_of(run).write(run.checkpoint)
