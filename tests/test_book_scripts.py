"""The book's chapter 4 and 5 scripts, written the book's way, with only their imports pointing at twolayer.

Each runs twice, on the C++ TwoLayerNet and on the NumPy ReferenceNet, and the numbers must agree.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer._core import PARAM_NAMES
from twolayer.datasets import load_mnist
from twolayer.reference import ReferenceNet, train_like_the_book


def two_layer_net_usage(Net):
    """The book's try-out of TwoLayerNet: dummy inputs, dummy labels t = np.random.rand(100, 10)."""
    np.random.seed(0)
    net = Net(input_size=784, hidden_size=100, output_size=10)
    shapes = [net.params[k].shape for k in PARAM_NAMES]
    x = np.random.rand(100, 784)
    y = net.predict(x)
    t = np.random.rand(100, 10)
    loss = net.loss(x, t)
    grads = net.gradient(x, t)
    return shapes, y, loss, grads


def train_neuralnet(Net, mnist_dir, iters_num):
    """train_neuralnet.py: one-hot labels, np.random.choice batches, the in-place SGD update."""
    (x_train, t_train), (x_test, t_test) = load_mnist(
        normalize=True, one_hot_label=True, data_dir=mnist_dir, download=False
    )
    np.random.seed(1)
    network = Net(input_size=784, hidden_size=50, output_size=10)
    train_size, batch_size, learning_rate = x_train.shape[0], 100, 0.1
    batches = [np.random.choice(train_size, batch_size) for _ in range(iters_num)]
    train_loss_list = train_like_the_book(network, x_train, t_train, batches, learning_rate)[0]
    return train_loss_list, network.accuracy(x_test[:2000], t_test[:2000])


def gradient_check(TwoLayerNet, mnist_dir):
    """ch05/gradient_check.py, whose TwoLayerNet (ch05/two_layer_net.py) is the ReLU network."""
    (x_train, t_train), (x_test, t_test) = load_mnist(  # noqa: RUF059 (the book's line)
        normalize=True, one_hot_label=True, data_dir=mnist_dir, download=False
    )
    np.random.seed(0)
    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    x_batch = x_train[:3]
    t_batch = t_train[:3]
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    grad_backprop = network.gradient(x_batch, t_batch)
    for key in grad_numerical.keys():  # noqa: SIM118 (the book's line)
        diff = np.average(np.abs(grad_backprop[key] - grad_numerical[key]))
        print(key + ":" + str(diff))


def test_two_layer_net_usage_gives_the_same_numbers():
    shapes, y, loss, grads = two_layer_net_usage(TwoLayerNet)
    ref_shapes, ref_y, ref_loss, ref_grads = two_layer_net_usage(ReferenceNet)
    assert shapes == ref_shapes == [(784, 100), (100,), (100, 10), (10,)]
    np.testing.assert_allclose(y, ref_y, rtol=1e-12)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for key in grads:
        np.testing.assert_allclose(grads[key], ref_grads[key], rtol=1e-9, atol=1e-15)


def test_train_neuralnet_gives_the_same_numbers(mnist_dir):
    losses, accuracy = train_neuralnet(TwoLayerNet, mnist_dir, 300)
    ref_losses, ref_accuracy = train_neuralnet(ReferenceNet, mnist_dir, 300)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-9)
    assert accuracy == ref_accuracy
    assert np.mean(losses[-20:]) < 0.85 * np.mean(losses[:20])  # the book's SGD loop learns
    assert accuracy > 0.3  # chance is 0.1; the book's curve leaves its plateau after ~300 steps


def test_gradient_check_of_chapter_5_prints_the_books_differences(mnist_dir, capsys):
    """With ReLU, the differences are of the book's order: about 1e-10 for W1 up to 1e-7 for b2 (the 1e-7
    inside the book's log, which backprop leaves out, dominates b2)."""
    printed = {}
    for Net in (TwoLayerNet, ReferenceNet):
        gradient_check(functools.partial(Net, activation="relu"), mnist_dir)
        lines = capsys.readouterr().out.splitlines()
        assert [re.sub(":.*", "", line) for line in lines] == ["W1", "b1", "W2", "b2"]
        printed[Net] = {key: float(value) for key, value in (line.split(":") for line in lines)}
    ours, reference = printed[TwoLayerNet], printed[ReferenceNet]
    orders = {
        "W1": 1e-10,
        "b1": 1e-9,
        "W2": 1e-9,
        "b2": 1e-7,
    }  # measured: 4.6e-10, 2.8e-9, 6.1e-9, 1.4e-7
    for key, order in orders.items():
        assert order / 10 < ours[key] < order * 10, (key, ours[key])
        assert ours[key] == pytest.approx(reference[key], rel=1e-2), key
