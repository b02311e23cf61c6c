"""Checkpoints: a run stopped by Ctrl-C at any moment and resumed equals the run never stopped, bit
for bit; bad checkpoints are clear errors that overwrite nothing."""

from __future__ import annotations

import io
import json
import signal
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twolayer import TwoLayerNet
from twolayer.checkpoint import FORMAT, Checkpoint, CheckpointError
from twolayer.settings import SettingError
from twolayer.training import History, train

RNG = np.random.default_rng(7)
X_TRAIN, T_TRAIN = RNG.random((120, 8)), RNG.integers(0, 4, 120)
X_TEST, T_TEST = RNG.random((30, 8)), RNG.integers(0, 4, 30)
DATA = (X_TRAIN, T_TRAIN, X_TEST, T_TEST)

RUNS: list[dict[str, Any]] = [
    {"iters_num": 40, "batch_size": 16, "learning_rate": 0.5, "seed": 1},
    {
        "epochs": 5,
        "batch_size": 25,
        "learning_rate": 0.5,
        "sampling": "shuffle",
        "validation_size": 20,
        "eval_samples": 15,
        "seed": 2,
    },
    {"iters_num": 12, "batch_size": 10, "gradient": "numerical", "eval_every": 5, "seed": 3},
]


class Interrupted(TwoLayerNet):
    """A network that sends itself SIGINT at its `at`-th call of a step, a gradient or an
    accuracy: the moments of a run where Ctrl-C lands (held back inside a step, at once in the
    others)."""

    at = -1
    calls = 0

    def _tick(self) -> None:
        type(self).calls += 1
        if type(self).calls == type(self).at:
            signal.raise_signal(signal.SIGINT)

    def train_step(self, *args: Any, **kwargs: Any) -> Any:
        self._tick()
        return super().train_step(*args, **kwargs)

    def numerical_gradient(self, *args: Any, **kwargs: Any) -> Any:
        self._tick()
        return super().numerical_gradient(*args, **kwargs)

    def accuracy(self, *args: Any, **kwargs: Any) -> Any:
        self._tick()
        return super().accuracy(*args, **kwargs)


def _net(cls: type[TwoLayerNet] = TwoLayerNet) -> TwoLayerNet:
    return cls(8, 6, 4, seed=5)


def _same(a: History, b: History, net_a: TwoLayerNet, net_b: TwoLayerNet) -> None:
    for key in ("W1", "b1", "W2", "b2"):
        assert np.array_equal(net_a.params[key], net_b.params[key]), key
    for name in ("train_loss_list", "train_acc_list", "val_acc_list", "test_acc_list"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.epoch_iters == b.epoch_iters
    assert (a.final_train_acc, a.final_val_acc, a.final_test_acc) == (
        b.final_train_acc,
        b.final_val_acc,
        b.final_test_acc,
    )
    assert not b.interrupted


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    run=st.sampled_from(RUNS),
    moments=st.lists(st.integers(1, 80), min_size=1, max_size=3),
)
def test_a_run_stopped_at_any_moments_and_resumed_equals_the_run_never_stopped(
    tmp_path: Path, run: dict[str, Any], moments: list[int]
) -> None:
    whole = _net()
    expected = train(whole, *DATA, progress=False, **run)
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.unlink(missing_ok=True)
    for k, at in enumerate(moments):  # stopped, resumed and stopped again, and so on
        Interrupted.calls, Interrupted.at = 0, at
        net = _net(Interrupted)
        chosen = run if k == 0 else {"resume": checkpoint}
        history = train(net, *DATA, progress=False, checkpoint=checkpoint, **chosen)
        if not history.interrupted:
            break
    Interrupted.at = -1
    if history.interrupted:
        net = _net()
        history = train(net, *DATA, progress=False, resume=checkpoint)
    _same(expected, history, whole, net)


def _stopped_run(tmp_path: Path) -> Path:
    """The checkpoint of a run stopped at its 7th step."""
    checkpoint = tmp_path / "run.ckpt"
    Interrupted.calls, Interrupted.at = 0, 7
    history = train(_net(Interrupted), *DATA, progress=False, checkpoint=checkpoint, **RUNS[0])
    Interrupted.at = -1
    assert history.interrupted and checkpoint.exists()
    return checkpoint


def test_checkpoints_every_n_iterations_resume_to_the_same_end(tmp_path: Path) -> None:
    whole = _net()
    expected = train(whole, *DATA, progress=False, **RUNS[1])
    checkpoint = tmp_path / "run.ckpt"
    train(_net(), *DATA, progress=False, checkpoint=checkpoint, checkpoint_every=7, **RUNS[1])
    stopped_at = Checkpoint.read(checkpoint).iteration
    assert stopped_at == expected.iters_num // 7 * 7
    net = _net()
    _same(expected, train(net, *DATA, progress=False, resume=checkpoint), whole, net)


def test_a_checkpoint_of_other_data_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    checkpoint = _stopped_run(tmp_path)
    before = checkpoint.read_bytes()
    other = X_TRAIN.copy()
    other[0, 0] += 1e-9
    with pytest.raises(CheckpointError, match="other data"):
        train(_net(), other, T_TRAIN, X_TEST, T_TEST, progress=False, resume=checkpoint)
    assert checkpoint.read_bytes() == before


def _rewritten(path: Path, change: Any) -> None:
    """`path` with each member's bytes passed through `change(name, data)`."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, change(name, data))


def test_a_checkpoint_of_another_format_version_is_refused(tmp_path: Path) -> None:
    checkpoint = _stopped_run(tmp_path)
    _rewritten(
        checkpoint,
        lambda name, data: data.replace(FORMAT.encode(), b"twolayer.Checkpoint/0"),
    )
    with pytest.raises(CheckpointError, match=r"format 'twolayer.Checkpoint/0'.*reads"):
        train(_net(), *DATA, progress=False, resume=checkpoint)


def test_a_checkpoint_of_format_1_with_its_losses_inline_resumes(tmp_path: Path) -> None:
    whole = _net()
    expected = train(whole, *DATA, progress=False, **RUNS[0])
    checkpoint = _stopped_run(tmp_path)
    with zipfile.ZipFile(checkpoint) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    state = json.loads(members.pop("checkpoint.json"))
    losses = np.load(io.BytesIO(members.pop("losses.npy")))
    state["format"], state["history"]["train_loss_list"] = "twolayer.Checkpoint/1", losses.tolist()
    with zipfile.ZipFile(checkpoint, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("checkpoint.json", json.dumps(state))
        for name, data in members.items():
            archive.writestr(name, data)
    net = _net()
    _same(expected, train(net, *DATA, progress=False, resume=checkpoint), whole, net)


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.999])
def test_a_damaged_checkpoint_is_refused_naming_it(tmp_path: Path, cut: float) -> None:
    checkpoint = _stopped_run(tmp_path)
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CheckpointError, match=str(checkpoint)):
        Checkpoint.read(checkpoint)


def test_flipped_bytes_in_a_checkpoint_are_refused_or_change_nothing_read(
    tmp_path: Path,
) -> None:
    checkpoint = _stopped_run(tmp_path)
    original = Checkpoint.read(checkpoint)
    data = checkpoint.read_bytes()
    damaged_path, refused = tmp_path / "damaged.ckpt", 0
    for at in range(0, len(data), max(1, len(data) // 60)):
        damaged = bytearray(data)
        damaged[at] ^= 0xFF
        damaged_path.write_bytes(bytes(damaged))
        try:
            saved = Checkpoint.read(damaged_path)
        except CheckpointError:
            refused += 1
            continue
        # A flip in a zip field that nothing reads (a date) leaves the same checkpoint.
        assert saved.state == original.state
        assert all(np.array_equal(saved.params[k], original.params[k]) for k in saved.params)
    assert refused > 40


def test_a_foreign_member_or_a_pickle_is_refused(tmp_path: Path) -> None:
    checkpoint = _stopped_run(tmp_path)
    with zipfile.ZipFile(checkpoint, "a") as archive:
        archive.writestr("extra.pkl", b"\x80\x04.")
    with pytest.raises(CheckpointError, match="extra.pkl"):
        Checkpoint.read(checkpoint)
    checkpoint = _stopped_run(tmp_path)
    data = io.BytesIO()
    np.lib.format.write_array(data, np.array([object()]), allow_pickle=True)
    with zipfile.ZipFile(checkpoint, "a") as archive:
        archive.writestr("pending.npy", data.getvalue())
    with pytest.raises(CheckpointError):
        Checkpoint.read(checkpoint)


def test_resume_takes_the_checkpoints_settings_and_network_only(tmp_path: Path) -> None:
    checkpoint = _stopped_run(tmp_path)
    with pytest.raises(SettingError, match="learning_rate"):
        train(_net(), *DATA, progress=False, resume=checkpoint, learning_rate=0.1)
    with pytest.raises(ValueError, match="sizes"):
        train(TwoLayerNet(8, 7, 4), *DATA, progress=False, resume=checkpoint)
    with pytest.raises(FileNotFoundError):
        train(_net(), *DATA, progress=False, resume=tmp_path / "none.ckpt")
    with pytest.raises(SettingError, match="checkpoint_every"):
        train(_net(), *DATA, progress=False, checkpoint_every=3)


@pytest.mark.parametrize(
    ("sizes", "iters_num", "member"),
    [((784, 200, 10), 30, "net.npz"), ((8, 6, 4), 140_000, "losses.npy")],
    ids=["784-200-10 net", "140,000 losses"],
)
def test_checkpoints_with_members_larger_than_one_read_resume(
    tmp_path: Path, sizes: tuple[int, int, int], iters_num: int, member: str
) -> None:
    # The bounded reader takes at most 1 MiB at a time: a 784-200-10 float64 net is 1.3 MB, and
    # 140,000 losses 1.1 MB. checkpoint.json does not grow with the iterations.
    rng = np.random.default_rng(3)
    n_in, _, n_out = sizes
    data = (rng.random((40, n_in)), rng.integers(0, n_out, 40))
    data += (rng.random((5, n_in)), rng.integers(0, n_out, 5))
    run: dict[str, Any] = {"iters_num": iters_num, "batch_size": 2, "seed": 4}
    run["eval_every"] = iters_num // 10  # checkpoint.json grows with the evaluations only
    whole = TwoLayerNet(*sizes, seed=1)
    expected = train(whole, *data, progress=False, **run)
    checkpoint = tmp_path / "run.ckpt"
    stopped = TwoLayerNet(*sizes, seed=1)
    train(stopped, *data, progress=False, checkpoint=checkpoint, stop_after=iters_num - 5, **run)
    with zipfile.ZipFile(checkpoint) as archive:
        assert archive.getinfo(member).file_size > 1 << 20
        assert archive.getinfo("checkpoint.json").file_size < 1 << 16
    net = TwoLayerNet(*sizes, seed=1)
    _same(expected, train(net, *data, progress=False, resume=checkpoint), whole, net)
