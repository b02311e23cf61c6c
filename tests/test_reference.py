"""twolayer.reference, the NumPy yardstick of every other test, against the book's formulas written
out plainly: one sample and one entry at a time, with the standard library's math where it can."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.reference import (
    ReferenceNet,
    cross_entropy_error,
    mnist_like_batch,
    numerical_gradient,
    relu,
    sigmoid,
    softmax,
    train_like_the_book,
)


def plain_softmax(a):
    """The book's softmax of one vector: exp(a_k - max a) / sum_i exp(a_i - max a)."""
    top = max(a)
    e = [math.exp(v - top) for v in a]
    return [v / sum(e) for v in e]


def plain_predict(params, x, activation="sigmoid"):
    """The network's output for each sample, by sums over the weights, one entry at a time."""
    w1, b1, w2, b2 = (np.asarray(params[k], np.float64) for k in ("W1", "b1", "W2", "b2"))
    out = []
    for sample in x:
        a1 = [sum(sample[i] * w1[i, j] for i in range(len(sample))) + b1[j] for j in range(len(b1))]
        z1 = [1 / (1 + math.exp(-a)) if activation == "sigmoid" else max(a, 0.0) for a in a1]
        a2 = [sum(z1[j] * w2[j, k] for j in range(len(z1))) + b2[k] for k in range(len(b2))]
        out.append(plain_softmax(a2))
    return np.array(out)


def small_net(activation="sigmoid", seed=0):
    net = ReferenceNet(6, 4, 3, weight_init_std=0.8, activation=activation, seed=seed)
    rng = np.random.default_rng(seed + 10)
    net.params["b1"] = rng.normal(size=4)
    net.params["b2"] = rng.normal(size=3)
    x = mnist_like_batch(rng, 5, 6)
    x[:, 0] = 1.0  # every sample has a non-zero input
    return net, x, np.array([0, 2, 1, 1, 0])


def test_activations_are_the_books():
    x = np.array([-30.0, -1.5, 0.0, 0.25, 4.0])
    np.testing.assert_allclose(sigmoid(x), [1 / (1 + math.exp(-v)) for v in x], rtol=1e-15)
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 0.0, 0.25, 4.0])
    assert x[0] == -30.0  # relu works on a copy
    assert np.isnan(relu(np.array([np.nan]))).all()  # only x <= 0 becomes 0


def test_softmax_is_the_books_and_never_overflows():
    a = np.array([[0.3, 2.9, 4.0], [-1.0, 0.0, 1.0]])
    np.testing.assert_allclose(softmax(a), [plain_softmax(row) for row in a], rtol=1e-15)
    np.testing.assert_allclose(softmax(a[0]), plain_softmax(a[0]), rtol=1e-15)  # one vector
    huge = softmax(np.array([1010.0, 1000.0, 990.0]))
    assert np.isfinite(huge).all() and huge.sum() == pytest.approx(1)


def test_cross_entropy_is_the_books_on_labels_and_rows():
    y = softmax(np.random.default_rng(1).normal(size=(4, 3)))
    labels = np.array([2, 0, 1, 2])
    expected = -sum(math.log(y[n, labels[n]] + 1e-7) for n in range(4)) / 4
    assert cross_entropy_error(y, labels) == pytest.approx(expected, rel=1e-14)
    assert cross_entropy_error(y, np.eye(3)[labels]) == pytest.approx(expected, rel=1e-14)
    dummy = np.random.default_rng(2).random((4, 3))  # the book's t = np.random.rand(...): argmax
    assert cross_entropy_error(y, dummy) == cross_entropy_error(y, dummy.argmax(axis=1))
    one = -math.log(y[1, 0] + 1e-7)
    assert cross_entropy_error(y[1], np.eye(3)[0]) == pytest.approx(one, rel=1e-14)


def test_numerical_gradient_is_central_differences_and_restores_x():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    grad = numerical_gradient(lambda: float(np.sum(x**3)), x, h=1e-4)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=1e-7)  # d/dx x³, error h² = 1e-8
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(numerical_gradient(lambda: float(np.sum(x**3)), x, indices=[3, 0]),
                               [27.0, 3.0], rtol=1e-7)  # fmt: skip


def test_mnist_like_batch_looks_like_normalised_mnist():
    x = mnist_like_batch(np.random.default_rng(3), 400, 784, np.float32)
    assert x.shape == (400, 784) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    assert np.mean(x == 0) == pytest.approx(0.81, abs=0.01)


def test_init_is_the_nets_and_from_params_copies():
    net = TwoLayerNet(6, 4, 3, seed=5)
    ref = ReferenceNet(6, 4, 3, seed=5)
    for key in net.params:
        np.testing.assert_array_equal(ref.params[key], net.params[key])
    copied = ReferenceNet.from_params(net.params, np.float32, activation="relu")
    assert copied.dtype == np.float32 and copied.activation == "relu"
    assert all(v.dtype == np.float32 for v in copied.params.values())
    copied.params["W1"][0, 0] += 1
    assert copied.params["W1"][0, 0] != np.float32(net.params["W1"][0, 0])


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_predict_loss_and_accuracy_are_the_formulas(activation):
    net, x, t = small_net(activation)
    y = plain_predict(net.params, x, activation)
    np.testing.assert_allclose(net.predict(x), y, rtol=1e-12)
    expected_loss = -sum(math.log(y[n, t[n]] + 1e-7) for n in range(len(t))) / len(t)
    assert net.loss(x, t) == pytest.approx(expected_loss, rel=1e-12)
    right = sum(int(np.argmax(y[n]) == t[n]) for n in range(len(t)))
    assert net.accuracy(x, t) == right / len(t) == net.accuracy(x, np.eye(3)[t])


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_backprop_is_the_books_per_sample_formulas(activation):
    net, x, t = small_net(activation)
    p = net.params
    expected = {k: np.zeros_like(v) for k, v in p.items()}
    for n in range(len(x)):  # dy = (y - t) / N, then the chain rule, one sample at a time
        a1 = x[n] @ p["W1"] + p["b1"]
        z1 = 1 / (1 + np.exp(-a1)) if activation == "sigmoid" else np.where(a1 > 0, a1, 0.0)
        dy = (softmax(z1 @ p["W2"] + p["b2"]) - np.eye(3)[t[n]]) / len(x)
        slope = z1 * (1 - z1) if activation == "sigmoid" else (a1 > 0).astype(float)
        da1 = (p["W2"] @ dy) * slope
        expected["W2"] += np.outer(z1, dy)
        expected["b2"] += dy
        expected["W1"] += np.outer(x[n], da1)
        expected["b1"] += da1
    for key, grad in net.gradient(x, t).items():
        np.testing.assert_allclose(grad, expected[key], rtol=1e-12, atol=1e-15, err_msg=key)


def test_exact_gradient_is_the_numerical_gradient_of_the_books_loss():
    net, x, t = small_net()
    numerical = net.numerical_gradient(x, t, h=1e-5)
    exact, backprop = net.exact_gradient(x, t), net.gradient(x, t)
    for key in numerical:
        scale = np.abs(numerical[key]).max()
        assert np.abs(exact[key] - numerical[key]).max() < 1e-8 * scale, key
        assert np.abs(backprop[key] - numerical[key]).max() < 1e-4 * scale, key


@pytest.mark.parametrize("numerical", [False, True])
def test_train_like_the_book_is_the_books_loop(numerical):
    net, x, t = small_net()
    start = {k: v.copy() for k, v in net.params.items()}
    batches = [np.array([0, 1]), np.array([2, 3, 4]), np.array([4, 0])]
    losses, train_acc, test_acc = train_like_the_book(
        net, x, t, batches, 0.5, numerical=numerical, iter_per_epoch=2, x_test=x[:2], t_test=t[:2]
    )
    twin = ReferenceNet.from_params(start)
    for i, rows in enumerate(batches):  # params[key] -= lr * grad[key], then the batch's loss
        grad = (twin.numerical_gradient if numerical else twin.gradient)(x[rows], t[rows])
        for key in twin.params:
            twin.params[key] -= 0.5 * grad[key]
        assert losses[i] == pytest.approx(twin.loss(x[rows], t[rows]), rel=1e-12)
    for key in net.params:
        np.testing.assert_allclose(net.params[key], twin.params[key], rtol=1e-12)
    assert len(losses) == 3 and len(train_acc) == len(test_acc) == 2  # iterations 0 and 2
    assert test_acc[-1] == twin.accuracy(x[:2], t[:2])
