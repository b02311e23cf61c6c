"""A run of millions of iterations: what train writes, plot reads, in bounded memory; its losses
beside its history.json, verified on read."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
from isolation import measured

from twolayer.history import History

ITERS = 3_500_000

# Written in a child, then re-plotted there, the plot's memory growth measured.
_WRITE = textwrap.dedent(
    f"""
    import gc
    from twolayer.cli import main
    from twolayer.history import History
    out = OUT
    losses = np.random.default_rng(0).random({ITERS}).tolist()
    losses[7] = float("nan")
    History(iters_num={ITERS}, batch_size=100, learning_rate=0.1, gradient="backprop",
        seed=0, input_size=784, hidden_size=50, output_size=10, dtype="float64", train_size=60000,
        test_size=10000, iter_per_epoch=600.0, train_loss_list=losses, train_acc_list=[0.5],
        test_acc_list=[0.5], epoch_iters=[0], epoch_times=[1.0]).to_json(out + "/history.json")
    del losses
    gc.collect()
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="peak memory from the resource module")
def test_a_3_5_million_iteration_history_is_written_and_replotted_in_bounded_memory(tmp_path):
    plot = "assert main(['plot', out + '/history.json']) == 0"
    result = measured(plot, setup=_WRITE.replace("OUT", repr(str(tmp_path))), timeout=300)
    assert result["error"] is None, result
    assert (tmp_path / "loss.png").exists()
    assert (tmp_path / "history.losses.npy").stat().st_size < 8 * ITERS + 1024
    assert (tmp_path / "history.json").stat().st_size < 2**20  # the evaluations only
    assert result["growth_mb"] < 400, result  # reading and drawing 3.5 million losses
    again = History.from_json(tmp_path / "history.json")
    assert len(again.train_loss_list) == ITERS and np.isnan(again.train_loss_list[7])


def _long(tmp_path, iters: int = 1_000_001) -> History:
    history = History(
        iters_num=iters, batch_size=1, learning_rate=0.1, gradient="backprop", seed=0,
        input_size=2, hidden_size=2, output_size=2, dtype="float64", train_size=10, test_size=10,
        iter_per_epoch=10.0, train_loss_list=[0.5] * iters,
    )  # fmt: skip
    history.to_json(tmp_path / "history.json")
    return history


def test_short_histories_keep_their_losses_inline(tmp_path):
    history = _long(tmp_path, 1000)
    assert json.loads((tmp_path / "history.json").read_text())["train_loss_list"] == [0.5] * 1000
    assert not (tmp_path / "history.losses.npy").exists()
    assert History.from_json(tmp_path / "history.json") == history


def _append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def _rewrite(path, **changes) -> None:
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, **changes}))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: _rewrite(p / "history.json", train_loss_list="../x.npy"), "must name"),
        (lambda p: _rewrite(p / "history.json", iters_num=10), "at most 10 float64 losses"),
        (lambda p: (p / "history.losses.npy").write_bytes(b"\x93NUMPY junk"), "not a run's losses"),
        (lambda p: np.save(p / "history.losses.npy", np.zeros(5, np.int64)), "float64 losses"),
        (lambda p: _append(p / "history.losses.npy", b"\0" * 8), "bytes long, as its header"),
        (lambda p: (p / "history.losses.npy").unlink(), "No such file"),
    ],
    ids=["another file", "more than iters_num", "not npy", "int64", "longer", "missing"],
)
def test_the_losses_beside_are_verified_on_read(tmp_path, damage, message):
    _long(tmp_path)
    damage(tmp_path)
    with pytest.raises((ValueError, OSError), match=message):
        History.from_json(tmp_path / "history.json")
