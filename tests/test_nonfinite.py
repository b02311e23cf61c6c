"""NaN and Inf in inputs, targets and parameters: never a crash; what happens, documented. Each case
runs in a forked child (``isolation.in_child``)."""

from __future__ import annotations

import numpy as np
from isolation import in_child
from net_cases import C, N, make_batch, make_net

from twolayer.reference import ReferenceNet


def test_nan_in_a_sample_stays_in_that_sample(dtype: np.dtype) -> None:
    """A NaN in x[n] makes row n of predict NaN and the loss NaN; the other rows are untouched.
    The accuracy reads a NaN row as np.argmax does (class 0, the first NaN), and the gradient is
    NaN in every parameter the sample reaches (W1 only in the rows of its non-zero inputs: see
    the zero-input note below)."""
    x, t = make_batch()
    x[3, 1] = np.nan
    t[3] = 0  # so that the NaN row counts as right, as np.argmax reads it

    def run():
        net = make_net(dtype)
        return (
            dict(net.params),
            net.predict(x),
            net.loss(x, t),
            net.accuracy(x, t),
            net.gradient(x, t),
        )

    params, y, loss, accuracy, grads = in_child(run)
    assert np.isnan(y[3]).all() and np.isfinite(np.delete(y, 3, axis=0)).all()
    assert np.isnan(loss)
    ref = ReferenceNet.from_params({k: v.astype(np.float64) for k, v in params.items()})
    assert accuracy == ref.accuracy(x, t)
    # the same count by hand: the five clean rows as the reference labels them, plus the NaN row
    clean = np.delete(np.arange(N), 3)
    right = np.argmax(ref.predict(x[clean]), axis=1) == t[clean]
    assert accuracy == (right.sum() + 1) / N
    assert (
        np.isnan(grads["b2"]).all() and np.isnan(grads["W2"]).all() and np.isnan(grads["b1"]).all()
    )
    # W1 row i collects x[n, i]·δ[n]: NaN exactly where sample 3 has a non-zero input
    np.testing.assert_array_equal(np.isnan(grads["W1"]).all(axis=1), x[3] != 0)
    assert np.isfinite(grads["W1"][x[3] == 0]).all()


def test_inf_inputs_saturate_the_sigmoid_like_the_reference(dtype: np.dtype) -> None:
    """±Inf in x drives the hidden units to 0 or 1 (NaN where it meets a zero weight): finite
    probabilities, exactly as the NumPy reference computes them."""

    def run():
        net = make_net(dtype)
        x, _ = make_batch()
        x[0, 0], x[2, 4] = np.inf, -np.inf
        return dict(net.params), net.predict(x)

    params, y = in_child(run)
    x, _ = make_batch()
    x[0, 0], x[2, 4] = np.inf, -np.inf
    ref = ReferenceNet.from_params({k: v.astype(np.float64) for k, v in params.items()})
    with np.errstate(over="ignore", invalid="ignore"):
        expected = ref.predict(x)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_nan_parameters_reach_only_samples_with_a_nonzero_input(dtype: np.dtype) -> None:
    """The core skips zero inputs (most MNIST pixels): it reads 0·w as 0 even for w = NaN or Inf,
    where NumPy gives NaN. So a NaN in W1[i] spoils exactly the samples whose x[n, i] != 0; a
    NaN in b1, W2 or b2 spoils every sample."""

    def run():
        net = make_net(dtype)
        x, t = make_batch()
        net.params["W1"][2, 1] = np.nan
        y_w1 = net.predict(x)
        net.params["W1"][2, 1] = 0
        net.params["b2"][0] = np.inf
        return y_w1, net.predict(x), net.loss(x, t)

    y_w1, y_b2, loss_b2 = in_child(run)
    x, _ = make_batch()
    np.testing.assert_array_equal(np.isnan(y_w1).all(axis=1), x[:, 2] != 0)
    assert np.isfinite(y_w1[x[:, 2] == 0]).all()
    assert np.isnan(y_b2).any(axis=1).all()  # softmax of a row holding +Inf: Inf - Inf = NaN
    assert np.isnan(loss_b2)


def test_nan_in_target_rows_follows_numpy_argmax(dtype: np.dtype) -> None:
    """Target rows are read through their argmax by the loss and the accuracy, as np.argmax reads
    them (a NaN counts as the largest); the gradient uses rows as they are, dy = (y - t) / N, so
    the NaN spreads to what its class and its sample reach."""

    def run():
        net = make_net(dtype)
        x, t = make_batch()
        rows = np.eye(C)[t]
        rows[1] = [np.nan, 0, 0]
        return dict(net.params), net.loss(x, rows), net.accuracy(x, rows), net.gradient(x, rows)

    params, loss, accuracy, grads = in_child(run)
    x, t = make_batch()
    rows = np.eye(C)[t]
    rows[1] = [np.nan, 0, 0]
    ref = ReferenceNet.from_params({k: v.astype(np.float64) for k, v in params.items()})
    np.testing.assert_allclose(loss, ref.loss(x, rows), rtol=1e-6)
    assert accuracy == ref.accuracy(x, rows)
    expected = ref.gradient(x, rows)
    for key in ("W2", "b2", "b1"):  # the NaN of class 0 reaches W2[:, 0], b2[0] and all of b1
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert np.isnan(grads["b2"][0]) and np.isfinite(grads["b2"][1:]).all()
    np.testing.assert_array_equal(np.isnan(grads["W1"]).all(axis=1), x[1] != 0)


def test_huge_logits_stay_finite(dtype: np.dtype) -> None:
    """Softmax subtracts the row maximum and the sigmoid never overflows: logits of ±1e30 give
    finite probabilities that sum to 1, the book's loss of at most -log(1e-7), finite gradients."""

    def run():
        net = make_net(dtype)
        x, t = make_batch()
        net.params["W2"][...] = 1e30 * np.sign(net.params["W2"])
        net.params["b1"][...] = 1e30  # every hidden unit at exactly 1: logits of ±1e30
        return net.predict(x), net.loss(x, t), net.gradient(x, t)

    y, loss, grads = in_child(run)
    assert np.isfinite(y).all() and np.isfinite(loss) and loss <= -np.log(1e-7) + 1e-6
    np.testing.assert_allclose(y.sum(axis=1), 1, rtol=1e-6)
    assert all(np.isfinite(g).all() for g in grads.values())
