"""twolayer.training: the book's loop, its history, progress output, divergence and Ctrl-C."""

from __future__ import annotations

import io
import json
import math
import signal
import threading
import time

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet
from twolayer.training import DivergedError, History, train


@pytest.fixture(scope="module")
def small(mnist):
    """1,000 training and 500 test samples of real MNIST: enough for the loop's logic, fast to evaluate."""
    (x_train, t_train), (x_test, t_test) = mnist
    return x_train[:1000], t_train[:1000], x_test[:500], t_test[:500]


def book_loop(network, x_train, t_train, *, iters_num, batch_size, learning_rate, seed):
    """ch04/train_neuralnet.py, with the sampling from np.random.default_rng(seed): the mini-batch losses."""
    rng = np.random.default_rng(seed)
    train_loss_list = []
    for _ in range(iters_num):
        batch_mask = rng.choice(x_train.shape[0], batch_size)
        x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
        grad = network.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= learning_rate * grad[key]
        train_loss_list.append(network.loss(x_batch, t_batch))
    return train_loss_list


def test_short_mnist_run_learns(mnist):
    (x_train, t_train), (x_test, t_test) = mnist
    net = TwoLayerNet(784, 50, 10, seed=0)
    history = train(net, x_train[:10000], t_train[:10000], x_test, t_test, iters_num=300, learning_rate=0.5, seed=0)
    assert history.final_test_acc > 0.8  # chance is 0.1
    assert history.final_test_acc == net.accuracy(x_test, t_test)
    assert np.mean(history.train_loss_list[-20:]) < np.mean(history.train_loss_list[:20]) / 3


def test_matches_the_books_loop_on_the_reference_network(small):
    x_train, t_train, x_test, t_test = small
    settings = dict(iters_num=30, batch_size=50, learning_rate=0.3, seed=7)
    history = train(TwoLayerNet(784, 20, 10, seed=3), x_train, t_train, x_test, t_test, progress=False, **settings)
    expected = book_loop(ReferenceNet(784, 20, 10, seed=3), x_train, t_train, **settings)
    np.testing.assert_allclose(history.train_loss_list, expected, rtol=1e-9)


def test_numerical_gradient_run_agrees_with_backprop(small):
    x_train, t_train, x_test, t_test = small
    nets, histories = {}, {}
    for gradient in ("backprop", "numerical"):
        nets[gradient] = TwoLayerNet(784, 4, 10, weight_init_std=0.1, seed=5)
        histories[gradient] = train(
            nets[gradient], x_train, t_train, x_test, t_test,
            iters_num=5, batch_size=20, learning_rate=1.0, gradient=gradient, seed=5, progress=False,
        )  # fmt: skip
    assert histories["numerical"].gradient == "numerical"
    np.testing.assert_allclose(histories["numerical"].train_loss_list, histories["backprop"].train_loss_list, rtol=1e-6)
    for key in ("W1", "b1", "W2", "b2"):
        # Central differences are off by O(h^2) = 1e-8 per step, against updates of about 1e-2.
        np.testing.assert_allclose(nets["numerical"].params[key], nets["backprop"].params[key], rtol=0, atol=1e-6)


def test_history_contents(small):
    x_train, t_train, x_test, t_test = small
    net = TwoLayerNet(784, 10, 10, dtype=np.float32, seed=0)
    history = train(net, x_train, t_train, x_test, t_test, iters_num=25, batch_size=100, seed=1, progress=False)
    assert (history.iters_num, history.batch_size, history.learning_rate, history.gradient, history.seed) == (
        25, 100, 0.1, "backprop", 1,
    )  # fmt: skip
    assert (history.input_size, history.hidden_size, history.output_size, history.dtype) == (784, 10, 10, "float32")
    assert (history.train_size, history.test_size, history.iter_per_epoch) == (1000, 500, 10.0)
    assert len(history.train_loss_list) == 25 and all(isinstance(x, float) for x in history.train_loss_list)
    assert history.epoch_iters == [0, 10, 20]  # i % iter_per_epoch == 0, as in the book
    assert len(history.train_acc_list) == len(history.test_acc_list) == len(history.epoch_times) == 3
    assert all(0 <= a <= 1 for a in history.train_acc_list + history.test_acc_list)
    assert 0 < history.epoch_times[0] < history.epoch_times[-1] < history.wall_time
    assert history.final_train_acc == net.accuracy(x_train, t_train)
    assert not history.interrupted and not history.diverged

    data = json.loads(history.to_json())
    assert data["train_loss_list"] == history.train_loss_list and data["epoch_iters"] == [0, 10, 20]
    assert History(**data) == history


@pytest.mark.parametrize(
    ("train_size", "batch_size", "epoch_iters"),
    [(1000, 300, [0, 4, 7, 10]), (100, 300, list(range(12)))],
    ids=["not-dividing", "batch-larger-than-data"],
)
def test_one_evaluation_per_epoch(small, train_size, batch_size, epoch_iters):
    x_train, t_train, x_test, t_test = small
    history = train(
        TwoLayerNet(784, 5, 10, seed=0), x_train[:train_size], t_train[:train_size], x_test, t_test,
        iters_num=12, batch_size=batch_size, seed=0, progress=False,
    )  # fmt: skip
    assert history.epoch_iters == epoch_iters


def test_same_seeds_same_run(small):
    runs = [
        train(TwoLayerNet(784, 10, 10, seed=2), *small, iters_num=15, seed=s, progress=False) for s in (4, np.int64(4))
    ]
    assert runs[1].seed == 4 and type(runs[1].seed) is int
    assert runs[0].train_loss_list == runs[1].train_loss_list
    other = train(TwoLayerNet(784, 10, 10, seed=2), *small, iters_num=15, seed=5, progress=False)
    assert other.train_loss_list != runs[0].train_loss_list


def test_plain_progress_lines(small, capsys):
    train(TwoLayerNet(784, 5, 10, seed=0), *small, iters_num=25, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("train acc, test acc | 0.") for line in lines)
    assert all(len(line.split("|")[1].split(",")[1].strip()) == 6 for line in lines)  # 0.1234

    train(TwoLayerNet(784, 5, 10, seed=0), *small, iters_num=25, seed=0, progress=False)
    assert capsys.readouterr() == ("", "")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal(small, monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    train(TwoLayerNet(784, 5, 10, seed=0), *small, iters_num=25, seed=0)
    screen = terminal.getvalue()
    assert "25/25" in screen and "loss" in screen and "test acc" in screen
    # The epoch lines go to stdout, through tqdm so that the bar is redrawn below them.
    assert capsys.readouterr().out.count("train acc, test acc | ") == 3


def test_divergence_stops_with_a_clear_error(small):
    net = TwoLayerNet(784, 20, 10, dtype=np.float32, seed=0)
    with pytest.raises(DivergedError, match=r"diverged at iteration \d+: the mini-batch loss is nan") as info:
        train(net, *small, iters_num=50, learning_rate=1e38, seed=0, progress=False)  # float32 overflows
    history = info.value.history
    assert history.diverged and not math.isfinite(history.train_loss_list[-1]) and len(history.train_loss_list) < 50
    assert history.final_test_acc is None
    assert json.loads(history.to_json())["train_loss_list"][-1] is None  # JSON has no NaN


class InterruptedNet(TwoLayerNet):
    """Raises KeyboardInterrupt, as Ctrl-C does, in the gradient of iteration `at`."""

    def __init__(self, *args, at, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls, self.at = 0, at

    def gradient(self, x, t):
        if self.calls == self.at:
            raise KeyboardInterrupt
        self.calls += 1
        return super().gradient(x, t)


def test_ctrl_c_keeps_the_history(small):
    history = train(InterruptedNet(784, 5, 10, seed=0, at=13), *small, iters_num=100, seed=0, progress=False)
    assert history.interrupted and not history.diverged
    assert len(history.train_loss_list) == 13 and history.epoch_iters == [0, 10]
    assert history.final_test_acc is None and history.wall_time > 0


def test_real_ctrl_c_during_a_long_numerical_gradient(mnist):
    (x_train, t_train), (x_test, t_test) = mnist
    net = TwoLayerNet(784, 100, 10, seed=0)
    main = threading.main_thread().ident
    timer = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        # Far more iterations than fit in the half second before the signal (about 100 a second here).
        history = train(net, x_train, t_train, x_test, t_test, iters_num=10000, gradient="numerical", progress=False)
    finally:
        timer.cancel()
        timer.join()
    assert history.interrupted
    assert time.perf_counter() - start < 5
    assert all(np.isfinite(net.params[key]).all() for key in net.params)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"gradient": "adam"}, ValueError, r"gradient must be one of \('backprop', 'numerical'\), got 'adam'"),
        ({"iters_num": -1}, ValueError, "iters_num must be >= 0, got -1"),
        ({"iters_num": 10.0}, TypeError, "iters_num must be an int, got float"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"learning_rate": 0}, ValueError, "learning_rate must be finite and > 0, got 0"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate must be finite and > 0, got nan"),
        ({"learning_rate": "0.1"}, TypeError, "learning_rate must be a real number, got str"),
        ({"seed": -1}, ValueError, "seed must be >= 0, got -1"),
        ({"seed": 1.5}, TypeError, "seed must be an int, got float"),
    ],
)
def test_rejects_bad_settings(small, kwargs, error, message):
    with pytest.raises(error, match=message):
        train(TwoLayerNet(784, 5, 10), *small, **kwargs)


def test_rejects_mismatched_data(small):
    x_train, t_train, x_test, t_test = small
    with pytest.raises(ValueError, match="x_test and t_test must hold the same number .* got 500 and 499"):
        train(TwoLayerNet(784, 5, 10), x_train, t_train, x_test, t_test[:499])
