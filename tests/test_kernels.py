"""The fast kernels against the plain loops beside them and against NumPy, one by one; and the whole
net on either set of kernels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer._core import kernels as K

from conftest import mnist_like_batch

IMPLEMENTATIONS = K.available()  # "portable", and "avx2" where the CPU has it
FAST = [name for name in IMPLEMENTATIONS if name != "portable"]
RTOL = {np.dtype(np.float64): 1e-13, np.dtype(np.float32): 1e-5}
# Sizes that exercise every path: empty and one-element rows, widths that are and are not whole
# vectors (4 doubles, 8 floats), more than one block of columns (13 vectors), and the MNIST net.
SHAPES = [(1, 1, 1), (3, 5, 2), (7, 13, 3), (16, 40, 8), (9, 17, 50), (5, 30, 53), (4, 20, 105),
          (100, 784, 50), (2, 9, 130)]


@pytest.fixture(params=FAST or [pytest.param("avx2", marks=pytest.mark.skip("no AVX2 kernels: not built in, or the CPU lacks AVX2 or FMA"))])
def fast(request):
    return request.param


def worst(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    return np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-300)


def ulps(actual, expected):
    """|actual - expected| in units in the last place of expected (both of expected's dtype)."""
    expected = np.asarray(expected)
    spacing = np.spacing(np.abs(expected)).astype(np.float64)
    return np.abs(np.asarray(actual, np.float64) - expected.astype(np.float64)) / spacing


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("x_dtype", [np.float64, np.float32], ids=["x64", "x32"])
def test_sparse_kernels_match_numpy_and_the_plain_loops(fast, dtype, x_dtype, shape):
    n, k, m = shape
    rng = np.random.default_rng(sum(shape))
    a = mnist_like_batch(rng, n, k, x_dtype)
    a[0, :] = 0  # a row without non-zeros
    w, b, d = (rng.standard_normal(s).astype(dtype) for s in ((k, m), (m,), (n, m)))
    a_wide = a.astype(np.float64)

    for impl in ("portable", fast):
        index, value, start = K.gather_nonzeros_by_rows(a, impl)
        assert np.array_equal(start, np.concatenate([[0], np.cumsum((a != 0).sum(axis=1))]))
        assert np.array_equal(index, np.nonzero(a)[1]) and np.array_equal(value, a[a != 0])

        out = K.sparse_affine_forward(a, w, b, impl)
        assert out.dtype == dtype
        assert worst(out, a_wide @ w + b) < RTOL[np.dtype(dtype)] * k
        assert np.array_equal(K.sparse_affine_forward(a, w, None, impl), K.sparse_affine_forward(a, w, 0 * b, impl))

        dw = rng.standard_normal((k, m)).astype(dtype)
        expected = dw + a_wide.T @ d
        K.sparse_affine_backward_weights(dw, a, d, impl)  # accumulates
        assert worst(dw, expected) < RTOL[np.dtype(dtype)] * n


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_dense_kernels_match_numpy(fast, dtype, shape):
    n, k, m = shape
    rng = np.random.default_rng(sum(shape) + 1)
    a, w, b, d = (rng.standard_normal(s).astype(dtype) for s in ((n, k), (k, m), (m,), (n, m)))
    for impl in ("portable", fast):
        assert worst(K.affine_forward(a, w, b, impl), a @ w + b) < RTOL[np.dtype(dtype)] * k
        assert worst(K.affine_forward(a, w, None, impl), a @ w) < RTOL[np.dtype(dtype)] * k
        dw = rng.standard_normal((k, m)).astype(dtype)
        expected = dw + a.T.astype(np.float64) @ d
        K.affine_backward_weights(dw, a, d, impl)
        assert worst(dw, expected) < RTOL[np.dtype(dtype)] * n


def test_exp_is_within_one_ulp(fast):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-745, 709.7, 100_000), rng.uniform(-2, 2, 100_000), [0.0, -0.0, 1e-300]])
    expected = np.array([math.exp(v) for v in x])
    y = K.exp(x, fast)
    normal = expected >= np.finfo(np.float64).tiny
    assert ulps(y[normal], expected[normal]).max() <= 1
    assert ulps(y[~normal], expected[~normal]).max() <= 1  # subnormal results, in their own ulps

    x32 = np.concatenate([rng.uniform(-103, 88.7, 100_000), rng.uniform(-2, 2, 100_000)]).astype(np.float32)
    expected32 = np.exp(x32.astype(np.float64)).astype(np.float32)  # correctly rounded, or nearly
    assert ulps(K.exp(x32, fast), expected32).max() <= 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_exp_and_log_special_values(impl, dtype):
    with np.errstate(all="ignore"):
        x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1000.0, -1000.0, 89.0, -104.0, 709.8, -745.2],
                     dtype=dtype)
        np.testing.assert_array_equal(K.exp(x, impl), np.exp(x))
        y = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1.0, 2.0, np.finfo(dtype).tiny,
                      np.finfo(dtype).smallest_subnormal, np.finfo(dtype).max], dtype=dtype)
        np.testing.assert_allclose(K.log(y, impl), np.log(y), rtol=2 * np.finfo(dtype).eps)
        assert np.isnan(K.log(y, impl)[[0, 2, 5]]).all()


def test_log_is_within_one_ulp(fast):
    rng = np.random.default_rng(1)
    x = np.concatenate([np.exp(rng.uniform(-740, 709, 100_000)), rng.uniform(0.5, 2, 100_000),
                        rng.uniform(1e-7, 1, 100_000), [5e-324, 1e-310]])
    assert ulps(K.log(x, fast), np.array([math.log(v) for v in x])).max() <= 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_sigmoid_and_softmax(impl, dtype):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(0, 10, 1001), [0, 50, -50, 800, -800, np.inf, -np.inf]]).astype(dtype)
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert worst(K.sigmoid(x, impl), expected) < 4 * np.finfo(dtype).eps
    assert np.isnan(K.sigmoid(np.array([np.nan], dtype), impl)).all()
    rows = rng.normal(0, 20, (37, 10)).astype(dtype)
    e = np.exp(rows.astype(np.float64) - rows.max(axis=1, keepdims=True))
    assert worst(K.softmax(rows, impl), e / e.sum(axis=1, keepdims=True)) < 8 * np.finfo(dtype).eps


@pytest.fixture
def kernels_in_use():
    """Restores the kernels the net uses after a test that switches them."""
    before = K.active()
    yield
    K.use(before)


def test_the_net_gives_the_same_results_on_either_kernels(fast, dtype, kernels_in_use):
    rng = np.random.default_rng(3)
    net = TwoLayerNet(784, 50, 10, weight_init_std=0.5, dtype=dtype, seed=0)
    net.params["b1"] = rng.normal(size=50)
    x, t = mnist_like_batch(rng, 600, 784, np.float32), rng.integers(0, 10, 600)
    results = {}
    for impl in ("portable", fast):
        K.use(impl)
        assert K.active() == impl
        results[impl] = (net.predict(x), net.loss(x, t), net.accuracy(x, t), net.gradient(x, t))
    (y0, loss0, acc0, g0), (y1, loss1, acc1, g1) = results.values()
    tolerance = RTOL[np.dtype(dtype)] * 100
    assert worst(y1, y0) < tolerance and abs(loss1 - loss0) < tolerance * abs(loss0)
    assert abs(acc1 - acc0) <= 1 / 600
    for key in g0:
        assert worst(g1[key], g0[key]) < tolerance, key


# The SIMD kernels evaluate perturbed losses through exp(a + b) = exp(a)·exp(b) when the logits
# move by less than 2^-10, and whole otherwise: small weights and steps take the first path,
# large output weights or steps the second.
@pytest.mark.parametrize("w2_scale, h", [(1.0, 1e-4), (5.0, 1e-3), (1.0, 1e-2)], ids=["factored", "whole-w", "whole-h"])
def test_numerical_gradient_on_either_kernels(fast, kernels_in_use, w2_scale, h):
    """The SIMD incremental method evaluates the same losses as the portable loops."""
    rng = np.random.default_rng(4)
    net = TwoLayerNet(60, 11, 7, weight_init_std=1.0, seed=0)
    net.params["W2"] *= w2_scale
    net.params["b2"] = rng.normal(size=7)
    x, t = mnist_like_batch(rng, 13, 60), rng.integers(0, 7, 13)
    K.use("portable")
    portable = net.numerical_gradient(x, t, h=h)
    naive = net.numerical_gradient(x, t, method="naive", h=h)
    K.use(fast)
    simd = net.numerical_gradient(x, t, h=h)
    for key in portable:
        assert worst(simd[key], portable[key]) < 1e-8, key
        assert worst(simd[key], naive[key]) < 1e-7, key
