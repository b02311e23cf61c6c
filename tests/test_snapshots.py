"""Snapshots of a net that other threads are training: `save`, pickling and `copy.deepcopy` each give the net as it
was after some whole step, never a mix of two steps or a half-updated array."""

from __future__ import annotations

import copy
import hashlib
import io
import pickle
import threading

import numpy as np
import pytest

from twolayer import TwoLayerNet

STEPS_PER_THREAD, THREADS = 60, 4


def _digest(params) -> str:
    h = hashlib.sha256()
    for key in ("W1", "b1", "W2", "b2"):
        h.update(np.ascontiguousarray(params[key]).tobytes())
    return h.hexdigest()


def _saved_and_loaded(net: TwoLayerNet) -> TwoLayerNet:
    buffer = io.BytesIO()
    net.save(buffer)
    buffer.seek(0)
    return TwoLayerNet.load(buffer)


@pytest.mark.parametrize(
    "snapshot",
    [_saved_and_loaded, lambda net: pickle.loads(pickle.dumps(net)), copy.deepcopy],
    ids=["save", "pickle", "deepcopy"],
)
def test_snapshots_during_training_on_4_threads_are_whole_steps(snapshot, dtype):
    rng = np.random.default_rng(0)
    x, t = rng.random((100, 784)), rng.integers(0, 10, 100)
    net = TwoLayerNet(784, 200, 10, dtype=dtype, seed=0)
    # Every step is the same step, so the net after k steps is the same whichever threads took them.
    reference = copy.deepcopy(net)
    whole_steps = {_digest(reference.params)}
    for _ in range(STEPS_PER_THREAD * THREADS):
        reference.train_step(x, t, 0.1, return_loss=False)
        whole_steps.add(_digest(reference.params))

    def steps() -> None:
        for _ in range(STEPS_PER_THREAD):
            net.train_step(x, t, 0.1, return_loss=False)

    trainers = [threading.Thread(target=steps) for _ in range(THREADS)]
    for trainer in trainers:
        trainer.start()
    snapshots = []
    while any(trainer.is_alive() for trainer in trainers) or not snapshots:
        snapshots.append(_digest(snapshot(net).params))
    for trainer in trainers:
        trainer.join()

    assert _digest(net.params) == _digest(reference.params)  # the steps themselves were whole
    torn = [i for i, digest in enumerate(snapshots) if digest not in whole_steps]
    assert not torn, f"{len(torn)} of {len(snapshots)} snapshots match no whole step"
