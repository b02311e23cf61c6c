"""The book's gradient check: numerical against backpropagated gradients, and the two numerical
methods against each other.

The book's loss adds 1e-7 inside the log, so its exact derivative is the backpropagated one with
each sample's term scaled by r_n = y_n / (y_n + 1e-7), y_n the probability of the sample's label.
The numerical gradient is compared with that exact derivative, which leaves only the
central-difference error h²·f'''/6 and rounding; backprop differs from it by the 1 - r_n factors.
"""

from __future__ import annotations

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer._core import PARAM_NAMES
from twolayer.reference import ReferenceNet, mnist_like_batch


def exact_gradient(params, x, t, activation="sigmoid"):
    """The exact derivative of the book's loss, -mean(log(y[n, t_n] + 1e-7)), in float64."""
    reference = ReferenceNet.from_params(params, dtype=np.float64, activation=activation)
    return reference.exact_gradient(np.asarray(x, np.float64), t)


def setup(shape, dtype, std, seed=0, activation="sigmoid"):
    n, d, h, c = shape
    rng = np.random.default_rng(seed)
    net = TwoLayerNet(d, h, c, weight_init_std=std, activation=activation, dtype=dtype, seed=seed)
    if std > 0.1:  # a trained-looking net: biases and large weights
        net.params["b1"] = rng.normal(size=h)
        net.params["b2"] = rng.normal(size=c)
    return net, mnist_like_batch(rng, n, d), rng.integers(0, c, n)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("method", ["incremental", "naive"])
@pytest.mark.parametrize("std", [0.01, 1.0], ids=["book-init", "large-weights"])
def test_numerical_gradient_is_the_loss_derivative(dtype, method, std, activation, relative_error):
    net, x, t = setup((6, 9, 5, 4), dtype, std, seed=2, activation=activation)
    # No unit within h of ReLU's kink, where there is no derivative to compare with (seed 2 has
    # none; with the book's zero biases, an all-zero input row would put every unit on it).
    assert np.abs(x @ net.params["W1"] + net.params["b1"]).min() > 1e-4
    numerical = net.numerical_gradient(x, t, method=method)
    exact = exact_gradient(net.params, x, t, activation)
    for key in PARAM_NAMES:
        assert numerical[key].dtype == dtype
        # h² f'''/6 for h = 1e-4, plus the float32 rounding of the result.
        tolerance = 1e-8 if dtype == np.float64 else 3e-7
        assert relative_error(numerical[key], exact[key]) < tolerance, key


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_the_books_gradient_check_on_mnist_sizes(activation, relative_error):
    """ch05/gradient_check.py: a 784-50-10 net and a batch of 3."""
    net, x, t = setup((3, 784, 50, 10), np.float64, 0.01, activation=activation)
    backprop = net.gradient(x, t)
    numerical = net.numerical_gradient(x, t)
    naive = net.numerical_gradient(x, t, method="naive")
    exact = exact_gradient(net.params, x, t, activation)
    y_label = net.predict(x)[np.arange(3), t]
    epsilon_effect = (1e-7 / (y_label + 1e-7)).max()  # the largest 1 - r_n
    for key in PARAM_NAMES:
        assert relative_error(numerical[key], exact[key]) < 1e-8, key
        # The two methods evaluate the same differences; they differ only in rounding.
        assert relative_error(naive[key], numerical[key]) < 1e-8, key
        # Backprop differs from the loss's derivative by the 1 - r_n factors, about 1e-6 here.
        assert relative_error(backprop[key], numerical[key]) < 2 * epsilon_effect, key


def test_float32_numerical_gradient_is_a_gradient(relative_error):
    """A float32 loss cannot resolve a 1e-8 change: the differences are formed in float64, so the
    float32 net's numerical gradient equals the float64 one at the same parameters."""
    net32, x, t = setup((20, 50, 10, 5), np.float32, 1.0)
    net64 = TwoLayerNet(50, 10, 5)
    for key in PARAM_NAMES:
        net64.params[key] = net32.params[key]
    g32 = net32.numerical_gradient(x.astype(np.float32), t)
    g64 = net64.numerical_gradient(x.astype(np.float32), t)
    for key in PARAM_NAMES:
        assert relative_error(g32[key], g64[key]) < 1e-6, key
        assert np.count_nonzero(g32[key]) > 0.5 * g32[key].size, key


def test_other_step_sizes(dtype, relative_error):
    net, x, t = setup((5, 7, 4, 3), dtype, 1.0)
    exact = exact_gradient(net.params, x, t)
    for h in (1e-3, 1e-5):
        g = net.numerical_gradient(x, t, h=h)
        for key in PARAM_NAMES:
            assert relative_error(g[key], exact[key]) < (1e-5 if h == 1e-3 else 1e-6), (h, key)


def test_rows_as_targets_use_their_argmax(dtype):
    net, x, t = setup((6, 9, 5, 4), dtype, 1.0)
    rows = np.random.default_rng(3).random((6, 4))
    a = net.numerical_gradient(x, rows)
    b = net.numerical_gradient(x, rows.argmax(axis=1))
    for key in PARAM_NAMES:
        np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_the_reference_numerical_gradient_agrees(activation, relative_error):
    net, x, t = setup((4, 6, 3, 3), np.float64, 1.0, activation=activation)
    theirs = ReferenceNet.from_params(net.params, activation=activation).numerical_gradient(x, t)
    for method in ("naive", "incremental"):
        ours = net.numerical_gradient(x, t, method=method)
        for key in PARAM_NAMES:
            assert relative_error(ours[key], theirs[key]) < 1e-9, (method, key)


@pytest.mark.parametrize("method", ["incremental", "naive"])
def test_relu_kink_is_differenced_as_the_book_does(method, relative_error):
    """A ReLU unit within h of its kink: the book's whole recomputation moves its output by
    relu(a + h) - relu(a - h) = a + h, not 2h, so the difference is (a + h)/2h of the one-sided
    slope. Both methods must give the reference's value there, not backprop's."""
    net, x, t = setup((3, 8, 4, 3), np.float64, 1.0, activation="relu")
    a = 0.4e-4  # sample 0's unit 2 sits at a1 = a, 0 < a < h
    net.params["b1"][2] += a - (x[0] @ net.params["W1"][:, 2] + net.params["b1"][2])
    reference = ReferenceNet.from_params(net.params, activation="relu").numerical_gradient(x, t)
    backprop = net.gradient(x, t)
    sample_0 = net.gradient(x[:1], t[:1])["b1"][2] / 3  # sample 0's share of the b1 gradient
    assert abs(sample_0) > 1e-3  # the kink matters here
    ours = net.numerical_gradient(x, t, method=method)
    assert ours["b1"][2] == pytest.approx(reference["b1"][2], rel=1e-7, abs=1e-10)
    # To O(h): only part of the interval [a - h, a + h] is past the kink, so the curvature there
    # no longer cancels. The kink's own effect, |sample_0|·0.3 > 3e-4, is far larger.
    kinked = backprop["b1"][2] + sample_0 * ((a + 1e-4) / 2e-4 - 1)
    assert ours["b1"][2] == pytest.approx(kinked, abs=5e-5)
    for key in PARAM_NAMES:
        assert relative_error(ours[key], reference[key]) < 1e-7, key
