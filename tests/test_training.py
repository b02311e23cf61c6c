"""twolayer.training: the book's loop, its history, progress output, divergence and Ctrl-C."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from recording import RecordingNet, id_data

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet, train_like_the_book
from twolayer.training import DivergedError, History, check_settings, train


@pytest.fixture(scope="module")
def small(mnist):
    """1,000 training and 500 test samples of real MNIST: enough for the loop's logic, fast to evaluate."""
    (x_train, t_train), (x_test, t_test) = mnist
    return x_train[:1000], t_train[:1000], x_test[:500], t_test[:500]


def book_loop(network, x_train, t_train, *, iters_num, batch_size, learning_rate, seed):
    """ch04/train_neuralnet.py, with the sampling from np.random.default_rng(seed): the mini-batch losses."""
    rng = np.random.default_rng(seed)
    batches = [rng.choice(x_train.shape[0], batch_size) for _ in range(iters_num)]
    return train_like_the_book(network, x_train, t_train, batches, learning_rate)[0]


def test_short_mnist_run_learns(mnist):
    (x_train, t_train), (x_test, t_test) = mnist
    net = TwoLayerNet(784, 50, 10, seed=0)
    history = train(
        net,
        x_train[:10000],
        t_train[:10000],
        x_test,
        t_test,
        iters_num=300,
        learning_rate=0.5,
        seed=0,
    )
    assert history.final_test_acc > 0.8  # chance is 0.1
    assert history.final_test_acc == net.accuracy(x_test, t_test)
    assert np.mean(history.train_loss_list[-20:]) < np.mean(history.train_loss_list[:20]) / 3


def test_matches_the_books_loop_on_the_reference_network(small):
    x_train, t_train, x_test, t_test = small
    settings = dict(iters_num=30, batch_size=50, learning_rate=0.3, seed=7)
    history = train(
        TwoLayerNet(784, 20, 10, seed=3),
        x_train,
        t_train,
        x_test,
        t_test,
        progress=False,
        **settings,
    )
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
    np.testing.assert_allclose(
        histories["numerical"].train_loss_list, histories["backprop"].train_loss_list, rtol=1e-6
    )
    for key in ("W1", "b1", "W2", "b2"):
        # Central differences are off by O(h^2) = 1e-8 per step, against updates of about 1e-2.
        np.testing.assert_allclose(
            nets["numerical"].params[key], nets["backprop"].params[key], rtol=0, atol=1e-6
        )


def test_history_contents(small):
    x_train, t_train, x_test, t_test = small
    net = TwoLayerNet(784, 10, 10, dtype=np.float32, seed=0)
    history = train(
        net, x_train, t_train, x_test, t_test, iters_num=25, batch_size=100, seed=1, progress=False
    )
    assert (history.iters_num, history.batch_size, history.learning_rate, history.gradient, history.seed) == (
        25, 100, 0.1, "backprop", 1,
    )  # fmt: skip
    assert (history.input_size, history.hidden_size, history.output_size, history.dtype) == (
        784,
        10,
        10,
        "float32",
    )
    assert history.activation == "sigmoid"
    assert (history.train_size, history.test_size, history.iter_per_epoch) == (1000, 500, 10.0)
    assert len(history.train_loss_list) == 25 and all(
        isinstance(x, float) for x in history.train_loss_list
    )
    assert history.epoch_iters == [0, 10, 20]  # i % iter_per_epoch == 0, as in the book
    assert (
        len(history.train_acc_list) == len(history.test_acc_list) == len(history.epoch_times) == 3
    )
    assert all(0 <= a <= 1 for a in history.train_acc_list + history.test_acc_list)
    assert 0 < history.epoch_times[0] < history.epoch_times[-1] < history.wall_time
    assert history.final_train_acc == net.accuracy(x_train, t_train)
    assert not history.interrupted and not history.diverged

    data = json.loads(history.to_json())
    assert data["train_loss_list"] == history.train_loss_list and data["epoch_iters"] == [0, 10, 20]
    assert History(**data) == history


def test_a_relu_run_records_its_activation(small):
    net = TwoLayerNet(784, 10, 10, activation="relu", seed=0)
    history = train(net, *small, iters_num=3, batch_size=10, seed=1, progress=False)
    assert history.activation == "relu"
    assert json.loads(history.to_json())["activation"] == "relu"


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
        train(TwoLayerNet(784, 10, 10, seed=2), *small, iters_num=15, seed=s, progress=False)
        for s in (4, np.int64(4))
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
    with pytest.raises(
        DivergedError, match=r"diverged at iteration \d+: the mini-batch loss is nan"
    ) as info:
        train(
            net, *small, iters_num=50, learning_rate=1e38, seed=0, progress=False
        )  # float32 overflows
    history = info.value.history
    assert (
        history.diverged
        and not math.isfinite(history.train_loss_list[-1])
        and len(history.train_loss_list) < 50
    )
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
    history = train(
        InterruptedNet(784, 5, 10, seed=0, at=13), *small, iters_num=100, seed=0, progress=False
    )
    assert history.interrupted and not history.diverged
    assert len(history.train_loss_list) == 13 and history.epoch_iters == [0, 10]
    assert history.final_test_acc is None and history.wall_time > 0


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
        ({"sampling": "random"}, ValueError, r"sampling must be one of \('replacement', 'shuffle'\), got 'random'"),
        ({"sampling": None}, ValueError, "sampling must be one of .*, got None"),
        ({"iters_num": 10, "epochs": 2}, ValueError, "give iters_num or epochs, not both; got iters_num=10, epochs=2"),
        ({"epochs": 0}, ValueError, "epochs must be >= 1, got 0"),
        ({"epochs": 2.5}, TypeError, "epochs must be an int, got float"),
        ({"eval_every": 0}, ValueError, "eval_every must be >= 1, got 0"),
        ({"eval_samples": 0}, ValueError, "eval_samples must be >= 1, got 0"),
        ({"eval_samples": 10.0}, TypeError, "eval_samples must be an int, got float"),
        ({"train_size": 0}, ValueError, "train_size must be >= 1, got 0"),
        ({"validation_size": -1}, ValueError, "validation_size must be >= 0, got -1"),
        ({"validation_size": None}, TypeError, "validation_size must be an int, got NoneType"),
        ({"train_size": 1001}, ValueError, r"train_size must be at most 1,000 \(the 1,000 training samples\), got 1,001"),
        (
            {"train_size": 901, "validation_size": 100}, ValueError,
            r"train_size must be at most 900 \(the 1,000 training samples less validation_size 100\), got 901",
        ),
        (
            {"validation_size": 1000}, ValueError,
            "validation_size must leave samples to train on: at most 999 of the 1,000 training samples, got 1,000",
        ),
        ({"eval_samples": 501}, ValueError, "eval_samples must be at most 500, the size of the test set, got 501"),
        (
            {"eval_samples": 21, "validation_size": 20}, ValueError,
            "eval_samples must be at most 20, the size of the validation set, got 21",
        ),
        (
            {"eval_samples": 31, "train_size": 30}, ValueError,
            "eval_samples must be at most 30, the size of the training set, got 31",
        ),
        ({"nesterov": 0.9}, TypeError, "unexpected keyword argument 'nesterov'"),
    ],
)  # fmt: skip
def test_rejects_bad_settings(small, kwargs, error, message):
    net = TwoLayerNet(784, 5, 10, seed=0)
    before = {key: value.copy() for key, value in net.params.items()}
    with pytest.raises(error, match=message):
        train(net, *small, **kwargs)
    assert all(
        np.array_equal(net.params[key], before[key]) for key in before
    )  # rejected before any step
    if "nesterov" not in kwargs:  # the same check, up front, for a series of runs
        with pytest.raises(error, match=message):
            check_settings(kwargs, data_sizes=(1000, 500))


def test_check_settings_without_data_checks_what_it_can():
    check_settings({})  # train's defaults
    check_settings(
        {"train_size": 10**9, "validation_size": 10**9, "eval_samples": 10**9}
    )  # no data to compare with
    with pytest.raises(ValueError, match="train_size must be at most 60,000"):
        check_settings({"train_size": 10**9}, data_sizes=(60000, 10000))
    with pytest.raises(
        TypeError, match="unknown training setting gamma, nesterov; the settings are iters_num, "
    ):
        check_settings({"gamma": 0.9, "nesterov": True, "batch_size": 10})


def test_rejects_mismatched_data(small):
    x_train, t_train, x_test, t_test = small
    with pytest.raises(
        ValueError, match="x_test and t_test must hold the same number .* got 500 and 499"
    ):
        train(TwoLayerNet(784, 5, 10), x_train, t_train, x_test, t_test[:499])


def test_shuffle_uses_each_sample_once_per_epoch():
    net = RecordingNet()
    history = train(
        net, *id_data(103), sampling="shuffle", batch_size=10, epochs=3, seed=0, progress=False
    )
    assert history.iter_per_epoch == 11 and history.iters_num == 33 and len(net.trained) == 33
    epochs = [net.trained[11 * e : 11 * (e + 1)] for e in range(3)]
    for batches in epochs:
        assert [len(batch) for batch in batches] == [10] * 10 + [
            3
        ]  # the short last batch used as it is
        assert sorted(np.concatenate(batches)) == list(range(103))
    orders = [np.concatenate(batches) for batches in epochs]
    assert not np.array_equal(orders[0], orders[1])  # shuffled anew each epoch
    assert not np.array_equal(orders[0], np.arange(103))
    assert history.epoch_iters == [0, 11, 22]  # one evaluation per epoch

    again = RecordingNet()
    train(again, *id_data(103), sampling="shuffle", batch_size=10, epochs=3, seed=0, progress=False)
    assert all(
        np.array_equal(a, b) for a, b in zip(net.trained, again.trained)
    )  # same seed, same batches
    other = RecordingNet()
    train(other, *id_data(103), sampling="shuffle", batch_size=10, epochs=3, seed=1, progress=False)
    assert not all(np.array_equal(a, b) for a, b in zip(net.trained, other.trained))


@pytest.mark.parametrize("sampling", ["replacement", "shuffle"])
def test_validation_samples_are_never_trained_on(sampling):
    net = RecordingNet()
    history = train(
        net, *id_data(103), sampling=sampling, train_size=50, validation_size=20, batch_size=8, iters_num=200,
        seed=3, progress=False,
    )  # fmt: skip
    assert (history.train_size, history.validation_size) == (50, 20)
    trained = set(np.concatenate(net.trained))
    # Each evaluation measures the training, validation and test sets, in that order.
    train_rows, val_rows, test_rows = (set(ids) for ids in net.measured[:3])
    assert len(train_rows) == 50 and len(val_rows) == 20 and test_rows == set(range(-20, 0))
    assert trained == train_rows  # 200 batches of 8 cover all 50 samples
    assert not trained & val_rows
    assert len(history.val_acc_list) == len(history.train_acc_list) == len(history.epoch_iters)
    assert history.final_val_acc == 0.5

    again = RecordingNet()
    train(again, *id_data(103), sampling=sampling, train_size=50, validation_size=20, batch_size=8, iters_num=1,
          seed=3, progress=False)  # fmt: skip
    assert set(again.measured[1]) == val_rows  # the same seed holds the same samples out
    other = RecordingNet()
    train(
        other,
        *id_data(103),
        sampling=sampling,
        validation_size=20,
        iters_num=1,
        seed=4,
        progress=False,
    )
    assert set(other.measured[1]) != val_rows
    assert len(other.measured[0]) == 83  # without train_size, all that is not held out


def test_eval_samples_keep_their_subset_within_a_run():
    net = RecordingNet()
    history = train(
        net,
        *id_data(103),
        validation_size=30,
        eval_samples=7,
        eval_every=2,
        iters_num=10,
        seed=5,
        progress=False,
    )
    assert history.epoch_iters == [0, 2, 4, 6, 8]
    evaluations, final = net.measured[:15], net.measured[15:]
    for k in range(3):  # train, validation, test
        subsets = evaluations[k::3]
        assert len(subsets) == 5 and all(np.array_equal(subset, subsets[0]) for subset in subsets)
        assert len(set(subsets[0])) == 7 and set(subsets[0]) <= set(final[k])
    assert [len(ids) for ids in final] == [73, 30, 20]  # the final accuracies are on the whole sets
    other = RecordingNet()
    train(
        other,
        *id_data(103),
        validation_size=30,
        eval_samples=7,
        iters_num=1,
        seed=6,
        progress=False,
    )
    assert not np.array_equal(other.measured[2], evaluations[2])  # drawn with the seed


@pytest.mark.parametrize(
    ("sampling", "size", "batch_size", "epochs", "iters_num", "iter_per_epoch"),
    [
        ("replacement", 1000, 300, 2, 7, 1000 / 300),
        ("shuffle", 1000, 300, 2, 8, 4.0),
        ("shuffle", 1000, 300, 1, 4, 4.0),
        # In floats, 7 × 29 / 7 is 29.000000000000004: 7 epochs must not take a 30th iteration.
        ("replacement", 29, 7, 7, 29, 29 / 7),
    ],
)
def test_epochs_set_the_number_of_iterations(
    sampling, size, batch_size, epochs, iters_num, iter_per_epoch
):
    net = RecordingNet()
    history = train(
        net,
        *id_data(size),
        sampling=sampling,
        batch_size=batch_size,
        epochs=epochs,
        seed=0,
        progress=False,
    )
    assert (history.epochs, history.iters_num, len(net.trained)) == (epochs, iters_num, iters_num)
    assert history.iter_per_epoch == pytest.approx(iter_per_epoch)


def test_default_is_the_books_run_and_whole_sets_are_not_copied():
    net = RecordingNet()
    x_train, t_train, x_test, t_test = id_data(103)
    history = train(net, x_train, t_train, x_test, t_test, iters_num=3, seed=0, progress=False)
    assert (history.iters_num, history.sampling, history.validation_size, history.train_size) == (
        3,
        "replacement",
        0,
        103,
    )
    rng = np.random.default_rng(0)
    assert all(np.array_equal(batch, rng.choice(103, 100)) for batch in net.trained)


def test_progress_lines_say_what_was_measured(capsys):
    train(RecordingNet(), *id_data(103), validation_size=30, eval_samples=10, iters_num=1, seed=0)
    assert (
        capsys.readouterr().out
        == "train acc, val acc, test acc on 10 samples each | 0.5000, 0.5000, 0.5000\n"
    )
    train(RecordingNet(), *id_data(103), eval_every=4, iters_num=9, seed=0)
    assert capsys.readouterr().out.splitlines() == [
        f"iteration {i}: train acc, test acc | 0.5000, 0.5000" for i in (0, 4, 8)
    ]


def test_progress_bar_says_what_was_measured(monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    train(RecordingNet(), *id_data(103), validation_size=30, eval_samples=10, iters_num=5, seed=0)
    assert (
        "train acc 0.5000, val acc 0.5000, test acc 0.5000 on 10 samples each"
        in terminal.getvalue()
    )


def test_overfitting_on_300_images(mnist):
    """Chapter 6's overfitting, in short: 300 training images learnt perfectly, far better than unseen ones.

    The README's figure is the same run over 200 epochs on the whole test set."""
    (x_train, t_train), (x_test, t_test) = mnist
    history = train(
        TwoLayerNet(784, 50, 10, seed=0), x_train, t_train, x_test[:2000], t_test[:2000], sampling="shuffle",
        train_size=300, validation_size=100, epochs=60, learning_rate=1.0, seed=0, progress=False,
    )  # fmt: skip
    assert history.iters_num == 180 and len(history.val_acc_list) == 60
    assert history.final_train_acc >= 0.99
    assert history.final_val_acc < 0.9 and history.final_test_acc < 0.85
    assert max(history.test_acc_list) < 0.85


class BookStepsNet:
    """A TwoLayerNet behind the book's interface only: not a TwoLayerNet, so train takes the book's steps with it."""

    def __init__(self, net: TwoLayerNet):
        self.net = net
        self.params = net.params

    def gradient(self, x, t):
        return self.net.gradient(x, t)

    def loss(self, x, t):
        return self.net.loss(x, t)

    def accuracy(self, x, t):
        return self.net.accuracy(x, t)


@pytest.mark.parametrize(
    "dtype, labels, settings",
    [
        (np.float64, "labels", dict(iters_num=40, batch_size=50)),
        (np.float32, "one-hot", dict(iters_num=40, batch_size=100)),
        (
            np.float64,
            "one-hot",
            dict(epochs=2, sampling="shuffle", batch_size=64, validation_size=200, eval_every=7),
        ),
        (
            np.float32,
            "labels",
            dict(iters_num=30, train_size=500, eval_samples=300, batch_size=300),
        ),
    ],
    ids=["f64-labels", "f32-one-hot", "f64-shuffle-validation", "f32-subsets"],
)
def test_the_fused_step_and_the_books_steps_give_the_same_history(small, dtype, labels, settings):
    x_train, t_train, x_test, t_test = small
    if labels == "one-hot":
        t_train, t_test = np.eye(10)[t_train], np.eye(10)[t_test]
    fused_net, book_net = (TwoLayerNet(784, 30, 10, dtype=dtype, seed=4) for _ in range(2))
    data = (x_train, t_train, x_test, t_test)
    fused = train(fused_net, *data, learning_rate=0.4, seed=9, progress=False, **settings)
    book = train(
        BookStepsNet(book_net), *data, learning_rate=0.4, seed=9, progress=False, **settings
    )
    assert fused_net.grads == {} and book_net.grads != {}  # each took the path it should
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(fused.train_loss_list, book.train_loss_list, rtol=rtol)
    assert len(fused.train_loss_list) == book.iters_num
    for name in (
        "train_acc_list",
        "val_acc_list",
        "test_acc_list",
        "epoch_iters",
        "final_train_acc",
        "final_val_acc",
        "final_test_acc",
    ):
        assert getattr(fused, name) == getattr(book, name), name
    for key in fused_net.params:
        np.testing.assert_allclose(
            fused_net.params[key], book_net.params[key], rtol=rtol, atol=rtol
        )
