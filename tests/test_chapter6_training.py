"""Chapter 6's settings through train, History, the command line and the sweep: the optimizers, their
settings, weight decay and the named initial weights."""

from __future__ import annotations

import json

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.cli import main
from twolayer.history import History
from twolayer.reference import mnist_like_batch
from twolayer.settings import SettingError
from twolayer.sweep import check_settings, plan_runs
from twolayer.training import train


class BookStyleNet:
    """A network with the book's interface only (so train takes the book's steps, optimizer.update
    on its params), computing with a TwoLayerNet."""

    def __init__(self, net: TwoLayerNet) -> None:
        self._net = net
        self.params = net.params
        self.weight_decay_lambda = net.weight_decay_lambda  # as the book's MultiLayerNet has it

    def gradient(self, x, t):
        return self._net.gradient(x, t)

    def numerical_gradient(self, x, t):
        return self._net.numerical_gradient(x, t)

    def loss(self, x, t):
        return self._net.loss(x, t)

    def accuracy(self, x, t):
        return self._net.accuracy(x, t)


def data(n=600):
    rng = np.random.default_rng(8)
    x = mnist_like_batch(rng, n, 30, np.float32)
    return x, rng.integers(0, 4, n), x[:100], rng.integers(0, 4, 100)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"])
def test_train_takes_each_optimizer_fused_as_the_books_loop_does(optimizer):
    settings = dict(
        iters_num=60, batch_size=50, learning_rate=0.02, optimizer=optimizer, momentum=0.8,
        decay_rate=0.9, beta1=0.8, beta2=0.99, seed=1, progress=False,
    )  # fmt: skip
    make = lambda: TwoLayerNet(30, 8, 4, "he", activation="relu", seed=2, weight_decay_lambda=1e-3)  # noqa: E731
    fused_net, book_net = make(), make()
    fused = train(fused_net, *data(), **settings)
    book = train(BookStyleNet(book_net), *data(), **settings)
    np.testing.assert_allclose(fused.train_loss_list, book.train_loss_list, rtol=1e-9)
    for key in fused_net.params:
        np.testing.assert_allclose(fused_net.params[key], book_net.params[key], rtol=0, atol=1e-12)
    assert fused.train_loss_list[-1] < fused.train_loss_list[0]
    assert (fused.optimizer, fused.momentum, fused.decay_rate, fused.beta1, fused.beta2) == (
        optimizer, 0.8, 0.9, 0.8, 0.99,
    )  # fmt: skip
    assert fused.weight_decay_lambda == 1e-3 and book.weight_decay_lambda == 1e-3


def test_the_history_keeps_the_settings_and_older_ones_load(tmp_path):
    history = train(TwoLayerNet(30, 8, 4, seed=0), *data(), iters_num=5, optimizer="adam", learning_rate=1e-3, beta2=0.99, progress=False)  # fmt: skip
    history.to_json(tmp_path / "h.json")
    again = History.from_json(tmp_path / "h.json")
    assert (again.optimizer, again.beta2, again.learning_rate) == ("adam", 0.99, 1e-3)
    saved = json.loads((tmp_path / "h.json").read_text())
    for name in ("optimizer", "momentum", "decay_rate", "beta1", "beta2", "weight_decay_lambda"):
        del saved[name]  # a history from before chapter 6
    (tmp_path / "old.json").write_text(json.dumps(saved))
    old = History.from_json(tmp_path / "old.json")
    assert (old.optimizer, old.momentum, old.weight_decay_lambda) == ("sgd", 0.9, 0.0)
    saved["optimizer"] = "lion"
    (tmp_path / "bad.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="optimizer must be one of"):
        History.from_json(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"optimizer": "adamw"}, ValueError, r"optimizer must be one of \('sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'\), got 'adamw'"),
        ({"optimizer": 3}, TypeError, "optimizer must be one of"),
        ({"momentum": 1.0}, ValueError, "momentum must be finite and >= 0 and < 1, got 1.0"),
        ({"momentum": -0.5}, ValueError, "momentum must be finite and >= 0 and < 1, got -0.5"),
        ({"beta1": 1}, ValueError, "beta1 must be finite and >= 0 and < 1, got 1"),
        ({"beta2": float("nan")}, ValueError, "beta2 must be finite and >= 0 and < 1, got nan"),
        ({"decay_rate": float("inf")}, ValueError, "decay_rate must be finite and >= 0 and < 1, got inf"),
    ],
)  # fmt: skip
def test_bad_optimizer_settings_are_refused_before_training(settings, error, message):
    net = TwoLayerNet(30, 8, 4, seed=0)
    before = net.params["W1"].copy()
    with pytest.raises(error, match=message) as info:
        train(net, *data(), iters_num=5, progress=False, **settings)
    assert isinstance(info.value, SettingError)
    np.testing.assert_array_equal(net.params["W1"], before)


def test_bad_network_settings_name_themselves():
    with pytest.raises(ValueError, match="weight_decay_lambda must be finite and >= 0, got -0.1"):
        TwoLayerNet(30, 8, 4, weight_decay_lambda=-0.1)
    with pytest.raises(ValueError, match="weight_decay_lambda must be finite and >= 0, got inf"):
        TwoLayerNet(30, 8, 4, weight_decay_lambda=float("inf"))
    with pytest.raises(ValueError, match="weight_init_std must be a number or one of 'he', 'relu', 'xavier', 'sigmoid', got 'lecun'"):  # fmt: skip
        TwoLayerNet(30, 8, 4, "lecun")
    assert TwoLayerNet(30, 8, 4, "He", seed=0).params["W1"].std() == pytest.approx(
        np.sqrt(2 / 30), rel=0.15
    )


def test_twolayer_train_with_chapter_6s_flags(mnist_dir, tmp_path, capsys):
    out = tmp_path / "out"
    flags = "train --optimizer adam --lr 0.001 --weight-decay-lambda 1e-4 --weight-init-std he --iters 30 --seed 0"
    assert main([*flags.split(), "--data-dir", str(mnist_dir), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "weight_decay_lambda=0.0001)" in stdout and "backprop gradient, adam" in stdout
    history = History.from_json(out / "history.json")
    assert (history.optimizer, history.learning_rate, history.weight_decay_lambda) == (
        "adam",
        0.001,
        1e-4,
    )
    net = TwoLayerNet.load(out / "params.npz")
    assert net.weight_decay_lambda == 1e-4


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("--optimizer adamw", "argument --optimizer: invalid choice: 'adamw' (choose from sgd, momentum, nesterov, adagrad, rmsprop, adam)"),
        ("--momentum 1", "argument --momentum: must be a finite number >= 0 and < 1, got '1'"),
        ("--weight-decay-lambda=-1e-4", "argument --weight-decay-lambda: must be a finite number >= 0, got '-1e-4'"),
        ("--weight-init-std kaiming", "argument --weight-init-std: must be a number or one of he, relu, xavier, sigmoid, got 'kaiming'"),
    ],
)  # fmt: skip
def test_bad_chapter_6_flags_are_usage_errors(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", *flags.split(), "--out", str(tmp_path / "out")])
    assert info.value.code == 2
    assert message in capsys.readouterr().err.replace("'sgd', 'momentum', 'nesterov', 'adagrad', 'rmsprop', 'adam'", "sgd, momentum, nesterov, adagrad, rmsprop, adam")  # fmt: skip


def test_every_chapter_6_setting_is_sweepable():
    space = {
        "optimizer": ["sgd", "adam"], "momentum": [0.5], "decay_rate": [0.9], "beta1": [0.8], "beta2": [0.99],
        "weight_decay_lambda": [0.0, 1e-4], "weight_init_std": ["he", 0.01],
    }  # fmt: skip
    runs = plan_runs(space)
    assert len(runs) == 8
    for run in runs:
        check_settings(run.settings)
    drawn = plan_runs(
        {"weight_decay_lambda": __import__("twolayer").sweep.LogRange(1e-8, 1e-4)}, trials=20
    )
    assert all(1e-8 <= r.settings["weight_decay_lambda"] <= 1e-4 for r in drawn)
    with pytest.raises(SettingError, match="beta2 must be finite and >= 0 and < 1"):
        check_settings({"optimizer": "adam", "beta2": 1.5})


def test_a_sweep_over_optimizers_runs_each(mnist_dir, tmp_path):
    from twolayer.sweep import sweep

    result = sweep(
        {"optimizer": ["sgd", "adam"], "learning_rate": [0.01], "iters_num": [40], "weight_decay_lambda": [1e-4]},
        out=tmp_path / "runs", data_dir=mnist_dir, progress=False,
    )  # fmt: skip
    finals = {r["settings"]["optimizer"]: r["final_test_acc"] for r in result.records}
    assert set(finals) == {"sgd", "adam"} and finals["sgd"] != finals["adam"]


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_a_run_with_an_optimizer_paused_and_resumed_equals_the_run_never_paused(
    optimizer, tmp_path
):
    settings = dict(iters_num=40, batch_size=50, learning_rate=0.01, optimizer=optimizer, seed=3, progress=False)  # fmt: skip
    make = lambda: TwoLayerNet(30, 8, 4, "he", seed=2, weight_decay_lambda=1e-3)  # noqa: E731
    straight_net, paused_net = make(), make()
    straight = train(straight_net, *data(), **settings)
    path = tmp_path / "run.ckpt"
    train(paused_net, *data(), checkpoint=path, stop_after=17, **settings)
    resumed_net = make()
    resumed = train(resumed_net, *data(), resume=path, progress=False)
    assert resumed.train_loss_list == straight.train_loss_list
    for key in straight_net.params:
        np.testing.assert_array_equal(resumed_net.params[key], straight_net.params[key])
