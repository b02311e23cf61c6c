"""A run under way as a :class:`~twolayer.checkpoint.Checkpoint`, and back: what
:func:`~twolayer.training.train` writes when it stops and reads to continue."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._core import PARAM_NAMES
from .checkpoint import Checkpoint, CheckpointError, fingerprint, restore, state_of
from .history import _history_from_dict
from .serialization import Header
from .settings import SettingError, TrainSettings

if TYPE_CHECKING:
    from ._run_setup import Pair, RunState

__all__ = ["checkpoint_of", "read", "restore_into", "seed_of", "settings_of"]


def checkpoint_of(run: RunState) -> Checkpoint:
    """Where `run` stands, after its last iteration done."""
    net, batches = run.net, run.batches
    input_size, hidden_size = net.params["W1"].shape
    header = Header(
        (int(input_size), int(hidden_size), int(net.params["W2"].shape[1])),
        net.params["W1"].dtype.name,
        str(getattr(net, "activation", "sigmoid")),
    )
    arrays = {}
    if batches.order is not None:
        arrays["order"] = batches.order
    if batches.pending is not None:
        arrays["pending"] = np.asarray(batches.pending, np.int64)
    # The losses as an array: checkpoint.json keeps what grows with the evaluations only, within
    # the bound that history.json has.
    arrays["losses"] = np.array(run.history.train_loss_list, np.float64)
    history = json.loads(replace(run.history, train_loss_list=[]).to_json())
    state = {
        "iteration": len(run.history.train_loss_list),
        "settings": asdict(run.settings),
        "history": history,
        "entropy": run.entropy,
        "batch_rng": state_of(batches.rng),
        "position": batches.position,
        "next_evaluation": run.next_evaluation,
        "fingerprint": _fingerprint(run),
    }
    if run.optimizer is not None:  # its settings and counters in JSON, its state an array
        saved = run.optimizer.state_dict()
        if saved["state"] is not None:
            arrays["optimizer_state"] = saved["state"]
        state["optimizer"] = {**saved, "state": None}
    params = {key: np.array(net.params[key]) for key in PARAM_NAMES}
    return Checkpoint(header, params, state, arrays)


def _fingerprint(run: RunState) -> str:
    if not run.fingerprint and run.data is not None:
        run.fingerprint = fingerprint((*run.data[0], *run.data[1]))
    return run.fingerprint


def read(path: str | os.PathLike[str], data: tuple[Pair, Pair]) -> Checkpoint:
    """The checkpoint in `path`, once it is known to be of these `data`."""
    saved = Checkpoint.read(path)
    expected = fingerprint((*data[0], *data[1]))
    if saved.state.get("fingerprint") != expected:
        raise CheckpointError(
            f"{path} is the checkpoint of a run on other data: give the data it was trained on "
            f"(the same training and test images and labels)"
        )
    saved.state["fingerprint"] = expected
    return saved


def settings_of(saved: Checkpoint) -> TrainSettings:
    try:
        settings: TrainSettings = TrainSettings.from_mapping(
            saved.state.get("settings", {}), "training"
        )
    except (SettingError, TypeError) as exc:
        raise CheckpointError(f"a damaged checkpoint: its settings: {exc}") from None
    return settings


def seed_of(saved: Checkpoint) -> np.random.SeedSequence:
    entropy = saved.state.get("entropy")
    if isinstance(entropy, bool) or not isinstance(entropy, int) or entropy < 0:
        raise CheckpointError(f"a damaged checkpoint: its seed's entropy is {entropy!r}")
    return np.random.SeedSequence(entropy)


def restore_into(run: RunState, saved: Checkpoint) -> None:
    """Set `run`, just prepared from the checkpoint's settings and seed, to where it stood: the
    network's parameters, the history, the mini-batches' generator and position."""
    _restore_network(run.net, saved.header, saved.params)
    recorded = saved.state.get("history")
    if "losses" in saved.arrays and isinstance(recorded, dict):
        losses = saved.arrays["losses"].tolist()
        recorded = {
            **recorded,
            "train_loss_list": [x if math.isfinite(x) else None for x in losses],
        }
    try:
        history = _history_from_dict(recorded)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"a damaged checkpoint: its history: {exc}") from None
    if len(history.train_loss_list) != saved.iteration:
        raise CheckpointError("a damaged checkpoint: its history and iteration disagree")
    history.interrupted = False
    run.history = history
    batches = run.batches
    restore(batches.rng, _mapping(saved.state.get("batch_rng")))
    position, due = saved.state.get("position"), saved.state.get("next_evaluation")
    order, pending = saved.arrays.get("order"), saved.arrays.get("pending")
    if (
        not isinstance(position, int)
        or not isinstance(due, (int, float))
        or (order is not None and sorted(order.tolist()) != list(range(batches.train_size)))
        or (pending is not None and not (0 <= pending).all() & (pending < batches.train_size).all())
    ):
        raise CheckpointError("a damaged checkpoint: where its mini-batches stand")
    batches.position, batches.order, batches.pending = position, order, pending
    run.next_evaluation = float(due)
    _restore_optimizer(run.optimizer, saved)
    run.fingerprint = saved.state["fingerprint"]  # checked against the data by read


def _restore_optimizer(optimizer: Any, saved: Checkpoint) -> None:
    """The optimizer's settings, counters and state (``load_state_dict`` checks them all)."""
    recorded = saved.state.get("optimizer")
    if (optimizer is None) != (recorded is None):
        raise CheckpointError("a damaged checkpoint: its optimizer's state is missing")
    if optimizer is None:
        return
    try:
        optimizer.load_state_dict(
            {**_mapping(recorded), "state": saved.arrays.get("optimizer_state")}
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"a damaged checkpoint: its optimizer's state: {exc}") from None


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CheckpointError("a damaged checkpoint: its generator's state")
    return value


def _restore_network(net: Any, header: Header, params: dict[str, np.ndarray]) -> None:
    activation = str(getattr(net, "activation", "sigmoid"))
    for key in PARAM_NAMES:
        mine = net.params[key]
        if mine.shape != params[key].shape or mine.dtype != params[key].dtype:
            raise ValueError(
                f"the network's {key} is {mine.dtype}{list(mine.shape)}, the checkpoint's "
                f"{params[key].dtype}{list(params[key].shape)}: resume on a network of sizes "
                f"{list(header.sizes)}, dtype {header.dtype}"
            )
    if activation != header.activation:
        raise ValueError(
            f"the network's activation is {activation!r}, the checkpoint's {header.activation!r}"
        )
    for key in PARAM_NAMES:
        net.params[key][...] = params[key]
