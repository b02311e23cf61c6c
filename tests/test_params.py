"""params are views of the C++ buffers; grads are fresh arrays."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet


@pytest.fixture
def net(dtype):
    return TwoLayerNet(6, 4, 3, weight_init_std=0.5, dtype=dtype, seed=0)


def test_params_are_views_that_stay_bound(net):
    views = {k: net.params[k] for k in net.params}
    for key, view in views.items():
        assert net.params[key] is view
        assert not view.flags.owndata and view.flags.writeable and view.flags.c_contiguous
    x = np.random.default_rng(0).random((5, 6))
    before = net.predict(x)
    net.params["W1"] *= 2  # in place, reaches C++
    assert net.params["W1"] is views["W1"]
    after = net.predict(x)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, ReferenceNet.from_params(net.params).predict(x), rtol=1e-5)


def test_the_books_sgd_update_reaches_the_core(net):
    x = np.random.default_rng(1).random((20, 6))
    t = x[:, :3].argmax(axis=1)  # learnable labels
    losses = [net.loss(x, t)]
    for _ in range(100):
        grad = net.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 2.0 * grad[key]
        losses.append(net.loss(x, t))
    assert losses[-1] < 0.9 * losses[0]


def test_assignment_copies_values_into_the_buffer(net):
    view = net.params["b1"]
    source = np.array([1.0, 2.0, 3.0, 4.0])
    net.params["b1"] = source
    assert net.params["b1"] is view
    np.testing.assert_array_equal(view, source)
    source[0] = 99  # the net holds a copy
    assert view[0] == 1.0
    net.params["b1"] = [5, 6, 7, 8]  # any real array-like
    np.testing.assert_array_equal(view, [5, 6, 7, 8])


def test_wrong_assignments_are_refused(net):
    with pytest.raises(ValueError, match=r"params\['W1'\] must have shape \(6, 4\), got \(4, 6\)"):
        net.params["W1"] = np.zeros((4, 6))
    with pytest.raises(KeyError, match="'W3' is not a parameter"):
        net.params["W3"] = np.zeros(3)
    with pytest.raises(KeyError):
        net.params["W3"]
    with pytest.raises(TypeError, match="complex"):
        net.params["b2"] = np.zeros(3, complex)
    with pytest.raises(TypeError, match="cannot be removed"):
        del net.params["b2"]
    assert len(net.params) == 4 and list(net.params) == ["W1", "b1", "W2", "b2"]


def test_views_keep_the_net_alive(dtype):
    net = TwoLayerNet(6, 4, 3, dtype=dtype, seed=0)
    w1 = net.params["W1"]
    expected = w1.copy()
    del net
    gc.collect()
    TwoLayerNet(6, 4, 3, dtype=dtype, seed=1)  # would reuse freed memory
    np.testing.assert_array_equal(w1, expected)


def test_gradients_are_fresh_arrays_kept_in_grads(net):
    rng = np.random.default_rng(2)
    x, t = rng.random((8, 6)), rng.integers(0, 3, 8)
    first = net.gradient(x, t)
    assert net.grads is first
    snapshot = {k: v.copy() for k, v in first.items()}
    second = net.numerical_gradient(2 * x, t)
    assert net.grads is second
    for key in first:
        np.testing.assert_array_equal(first[key], snapshot[key])
        assert not np.shares_memory(first[key], second[key])
        assert not np.shares_memory(first[key], net.params[key])
