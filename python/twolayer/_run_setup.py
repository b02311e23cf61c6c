"""A training run about to start, and where a run under way stands (:class:`RunState`): the sets
it trains and evaluates on (the validation set held out, the evaluation samples drawn), its
mini-batches and optimizer, all drawn from its seed, and its :class:`~twolayer.history.History`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import optimizers
from ._batches import Batches
from .history import History
from .net import TwoLayerNet
from .settings import RunSettings, TrainSettings, iter_per_epoch

__all__ = ["Pair", "RunState", "keep", "new_history", "prepare"]

Pair = tuple[np.ndarray, np.ndarray]  # images and labels of one set


@dataclass
class RunState:
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


def prepare(
    net: Any, train_set: Pair, test_set: Pair, settings: TrainSettings, root: np.random.SeedSequence
) -> RunState:
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
    return RunState(
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


def keep(run: RunState, keeping: RunSettings, data: tuple[Pair, Pair]) -> None:
    """Set where and how often `run` writes its checkpoint: a resumed run where it was read, unless
    given another file."""
    run.checkpoint = keeping.resume if keeping.checkpoint is None else keeping.checkpoint
    run.checkpoint_every, run.stop_after = keeping.checkpoint_every, keeping.stop_after
    run.data = data


def new_history(net: Any, settings: TrainSettings, fit_size: int, test_size: int) -> History:
    """The History of a run about to start: its settings completed (the number of iterations, the
    samples trained on) and the network's sizes, read from ``params`` so that the book's own
    network class works too."""
    recorded = {
        name: getattr(settings, name)
        for name, spec in TrainSettings.declared().items()
        if spec.recorded
    }
    per_epoch = iter_per_epoch(settings.sampling, fit_size, settings.batch_size)
    input_size, hidden_size = net.params["W1"].shape
    recorded.update(
        iters_num=settings.iterations(per_epoch),
        train_size=fit_size,
        input_size=input_size,
        hidden_size=hidden_size,
        output_size=net.params["W2"].shape[1],
        dtype=net.params["W1"].dtype.name,
        test_size=test_size,
        iter_per_epoch=float(per_epoch),
        # A network without an activation or weight decay is taken for chapter 4's.
        activation=str(getattr(net, "activation", "sigmoid")),
        weight_decay_lambda=float(getattr(net, "weight_decay_lambda", 0.0)),
    )
    return History(**recorded)


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
