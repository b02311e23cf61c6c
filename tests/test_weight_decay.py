"""Chapter 6's weight decay and initial weights on TwoLayerNet: the loss, the gradient, both numerical methods and the
fused step against NumPy and against each other; He's and Xavier's scales per layer."""

from __future__ import annotations

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer._core import PARAM_NAMES
from twolayer.reference import ReferenceNet, mnist_like_batch, numerical_gradient

LAMBDA = 0.05  # large, so that the decay's part is far above rounding


def setup(dtype, decay=LAMBDA, activation="sigmoid", shape=(40, 12, 6, 4)):
    n, d, h, c = shape
    rng = np.random.default_rng(4)
    net = TwoLayerNet(
        d, h, c, 0.5, activation=activation, dtype=dtype, seed=1, weight_decay_lambda=decay
    )
    net.params["b1"] = rng.normal(size=h)
    net.params["b2"] = rng.normal(size=c)
    return net, mnist_like_batch(rng, n, d), rng.integers(0, c, n)


def decay_loss(params, decay):
    """The book's MultiLayerNet.loss adds, per layer, 0.5 * λ * np.sum(W ** 2)."""
    w1, w2 = (np.asarray(params[k], np.float64) for k in ("W1", "W2"))
    return 0.5 * decay * np.sum(w1**2) + 0.5 * decay * np.sum(w2**2)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_loss_and_gradient_against_numpy(dtype, activation, assert_close):
    net, x, t = setup(dtype, activation=activation)
    reference = ReferenceNet.from_params(net.params, dtype=np.float64, activation=activation)
    assert_close(
        net.loss(x, t), reference.loss(x, t) + decay_loss(net.params, LAMBDA), dtype, "loss"
    )
    grads, expected = net.gradient(x, t), reference.gradient(x, t)
    for key in PARAM_NAMES:
        decay = LAMBDA * np.asarray(net.params[key], np.float64) if key.startswith("W") else 0
        assert_close(grads[key], expected[key] + decay, dtype, key)
    # The decay's part is far above the tolerance: without it, the gradient would be wrong.
    assert np.abs(grads["W1"] - expected["W1"]).max() > 1e-3


@pytest.mark.parametrize("method", ["incremental", "naive"])
def test_numerical_gradient_with_decay_against_numpy_and_backprop(dtype, method, relative_error):
    net, x, t = setup(dtype, shape=(8, 9, 5, 4))
    numerical = net.numerical_gradient(x, t, method=method)
    # The book's algorithm in NumPy on its whole loss, decay included.
    reference = ReferenceNet.from_params(net.params, dtype=np.float64)

    def f():
        return reference.loss(x, t) + decay_loss(reference.params, LAMBDA)

    backprop_like = TwoLayerNet(9, 5, 4, dtype=dtype, weight_decay_lambda=LAMBDA)
    backprop_like.params = net.params
    backprop = backprop_like.gradient(x, t)
    for key in PARAM_NAMES:
        book = numerical_gradient(f, reference.params[key])
        tolerance = 1e-7 if dtype == np.float64 else 3e-6
        assert relative_error(numerical[key], book) < tolerance, key
        # Backprop differs from the loss's derivative by the log's 1e-7 (see test_gradient_check.py).
        assert relative_error(numerical[key], backprop[key]) < 1e-4, key
    incremental, naive = net.numerical_gradient(x, t), net.numerical_gradient(x, t, method="naive")
    for key in PARAM_NAMES:
        assert relative_error(incremental[key], naive[key]) < 1e-7, key


def test_no_decay_changes_nothing(dtype):
    plain, _, _ = setup(dtype, decay=0.0)
    decayed, x, t = setup(dtype)
    assert plain.weight_decay_lambda == 0.0 and decayed.weight_decay_lambda == LAMBDA
    assert decayed.accuracy(x, t) == plain.accuracy(x, t)
    assert decayed.loss(x, t) == pytest.approx(
        plain.loss(x, t) + decay_loss(plain.params, LAMBDA), rel=1e-6
    )
    np.testing.assert_array_equal(decayed.gradient(x, t)["b2"], plain.gradient(x, t)["b2"])


@pytest.mark.parametrize("gather", [False, True])
def test_the_fused_sgd_step_with_decay_is_gradient_then_update(dtype, gather):
    stepped, x, t = setup(dtype)
    book, _, _ = setup(dtype)
    rows = np.arange(40)[::-1] if gather else None
    xb, tb = (x[rows], t[rows]) if gather else (x, t)
    for _ in range(5):
        loss = (
            stepped.train_step(x, t, 0.3, indices=rows) if gather else stepped.train_step(x, t, 0.3)
        )
        grads = book.gradient(xb, tb)
        for key in PARAM_NAMES:
            book.params[key] -= 0.3 * grads[key]
        assert loss == pytest.approx(book.loss(xb, tb), rel=1e-6)
    eps = np.finfo(dtype).eps
    for key in PARAM_NAMES:
        np.testing.assert_allclose(stepped.params[key], book.params[key], rtol=0, atol=8 * eps)


@pytest.mark.parametrize(
    ("name", "scale"), [("he", 2.0), ("relu", 2.0), ("He", 2.0), ("xavier", 1.0), ("Sigmoid", 1.0)]
)
def test_he_and_xavier_scales_per_layer(name, scale):
    net = TwoLayerNet(300, 40, 10, name, seed=5)
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(
        net.params["W1"], np.sqrt(scale / 300) * rng.standard_normal((300, 40))
    )
    np.testing.assert_array_equal(
        net.params["W2"], np.sqrt(scale / 40) * rng.standard_normal((40, 10))
    )
    assert not net.params["b1"].any() and not net.params["b2"].any()
    # From NumPy's global generator, as the book draws them.
    np.random.seed(0)
    book = TwoLayerNet(300, 40, 10, name)
    np.random.seed(0)
    np.testing.assert_array_equal(
        book.params["W1"], np.sqrt(scale / 300) * np.random.randn(300, 40)
    )
    assert net.params["W1"].std() == pytest.approx(np.sqrt(scale / 300), rel=0.02)


def test_a_number_is_still_the_std_of_both_layers():
    net = TwoLayerNet(30, 8, 4, 0.01, seed=2)
    rng = np.random.default_rng(2)
    np.testing.assert_array_equal(net.params["W1"], 0.01 * rng.standard_normal((30, 8)))
    np.testing.assert_array_equal(net.params["W2"], 0.01 * rng.standard_normal((8, 4)))
