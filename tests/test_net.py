"""twolayer.net: the C++ TwoLayerNet against the NumPy reference, in both dtypes and with either
activation; its initial weights, sizes and repr. Elsewhere: the kernel sets (test_kernel_sets.py),
bad input (test_bad_input.py), the bindings' layouts and dtypes (test_bindings.py), NaN and Inf
(test_nonfinite.py), train_step (test_train_step.py), copies and pickles (test_serialization.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import twolayer
from twolayer import TwoLayerNet
from twolayer._core import PARAM_NAMES
from twolayer.reference import ReferenceNet, mnist_like_batch

# (N, D, H, C): tiny, odd, the book's MNIST net, and batches that span several row chunks.
SHAPES = [(1, 4, 3, 2), (7, 13, 5, 3), (100, 784, 50, 10), (300, 20, 8, 4), (1500, 30, 6, 5)]


def make_pair(shape, dtype, seed=0, std=0.5, activation="sigmoid"):
    """A C++ net with random (not tiny) weights and biases, and a reference copy of it."""
    n, d, h, c = shape
    net = TwoLayerNet(d, h, c, weight_init_std=std, activation=activation, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    net.params["b1"] = rng.normal(size=h)
    net.params["b2"] = rng.normal(size=c)
    return net, ReferenceNet.from_params(net.params, activation=activation)


def batch(shape, dtype, seed=0):
    n, d, h, c = shape
    rng = np.random.default_rng(seed + 2)
    return mnist_like_batch(rng, n, d, dtype), rng.integers(0, c, n)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("x_dtype", [np.float64, np.float32], ids=["x64", "x32"])
def test_passes_match_reference(shape, dtype, x_dtype, activation, assert_close):
    net, ref = make_pair(shape, dtype, activation=activation)
    assert net.activation == activation
    x, t = batch(shape, x_dtype)
    assert_close(net.predict(x), ref.predict(x), dtype, "predict")
    assert net.predict(x).dtype == dtype
    assert_close(net.loss(x, t), ref.loss(x, t), dtype, "loss")
    assert net.accuracy(x, t) == pytest.approx(ref.accuracy(x, t), abs=1.5 / shape[0])
    grads, expected = net.gradient(x, t), ref.gradient(x, t)
    assert list(grads) == list(PARAM_NAMES) == ["W1", "b1", "W2", "b2"]
    for key in grads:
        assert grads[key].dtype == dtype
        assert_close(grads[key], expected[key], dtype, f"gradient {key}")


def test_accuracy_counts_exactly():
    net, ref = make_pair((500, 10, 6, 4), np.float64)
    x, _ = batch((500, 10, 6, 4), np.float64)
    predicted = ref.predict(x).argmax(axis=1)
    t = predicted.copy()
    t[:123] = (t[:123] + 1) % 4  # 123 wrong answers
    assert net.accuracy(x, t) == (500 - 123) / 500


def test_target_rows_are_read_as_the_book_reads_them(dtype, assert_close):
    """Loss and accuracy take each row's argmax; the gradient uses the rows as they are."""
    shape = (100, 784, 50, 10)
    net, ref = make_pair(shape, dtype)
    x, labels = batch(shape, dtype)
    dummy = np.random.default_rng(5).random((100, 10))  # the book's t = np.random.rand(100, 10)
    assert_close(net.loss(x, dummy), ref.loss(x, dummy), dtype, "loss")
    assert net.loss(x, dummy) == net.loss(x, dummy.argmax(axis=1))
    assert net.accuracy(x, dummy) == ref.accuracy(x, dummy)
    for key, g in ref.gradient(x, dummy.astype(dtype)).items():
        assert_close(net.gradient(x, dummy)[key], g, dtype, f"gradient {key}")
    one_hot = np.eye(10)[labels]
    for key, g in net.gradient(x, labels).items():
        assert_close(net.gradient(x, one_hot)[key], g, dtype, f"one-hot gradient {key}")


def test_single_sample_is_a_batch_of_one(dtype, assert_close):
    net, ref = make_pair((1, 12, 5, 3), dtype)
    x = np.random.default_rng(0).random(12)
    y = net.predict(x)
    assert y.shape == (3,)
    assert_close(y, ref.predict(x[None])[0], dtype, "predict")
    assert net.loss(x, 2) == net.loss(x[None], [2])
    assert net.loss(x, np.eye(3)[2]) == net.loss(x[None], [2])
    assert net.accuracy(x, 1) == float(ref.predict(x[None])[0].argmax() == 1)
    assert net.accuracy(x, 1) + net.accuracy(x, 0) + net.accuracy(x, 2) == 1.0


def test_results_do_not_depend_on_the_thread_count(dtype):
    shape = (3000, 40, 16, 10)
    net, _ = make_pair(shape, dtype)
    x, t = batch(shape, dtype)
    previous = twolayer.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3, 4):
            twolayer.set_num_threads(threads)
            assert twolayer.get_num_threads() == threads
            results.append((net.predict(x), net.loss(x, t), net.accuracy(x, t), net.gradient(x, t)))
    finally:
        twolayer.set_num_threads(previous)
    y1, loss1, acc1, g1 = results[0]
    for y, loss, acc, g in results[1:]:
        np.testing.assert_array_equal(y, y1)
        assert loss == loss1 and acc == acc1
        for key in g:  # 12 chunks: rounds of 2, 3 or 4 of them, added in chunk order all the same
            np.testing.assert_array_equal(g[key], g1[key], err_msg=f"gradient {key}")


def test_init_is_the_books():
    np.random.seed(0)
    expected = {"W1": 0.01 * np.random.randn(784, 50), "W2": 0.01 * np.random.randn(50, 10)}
    np.random.seed(0)
    net = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)
    np.testing.assert_array_equal(net.params["W1"], expected["W1"])
    np.testing.assert_array_equal(net.params["W2"], expected["W2"])
    assert not net.params["b1"].any() and not net.params["b2"].any()
    assert net.dtype == np.float64


def test_seeded_init_is_reproducible_and_shared_by_both_dtypes():
    a = TwoLayerNet(20, 8, 3, seed=42)
    b = TwoLayerNet(20, 8, 3, seed=42, dtype=np.float32)
    c = TwoLayerNet(20, 8, 3, seed=43)
    np.testing.assert_array_equal(b.params["W1"], a.params["W1"].astype(np.float32))
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    assert a.params["W1"].std() == pytest.approx(0.01, rel=0.2)


def test_sizes_and_repr():
    net = TwoLayerNet(784, 50, 10, dtype=np.float32)
    assert (net.input_size, net.hidden_size, net.output_size) == (784, 50, 10)
    assert net.dtype == np.float32
    assert repr(net) == (
        "TwoLayerNet(input_size=784, hidden_size=50, output_size=10, activation=sigmoid, dtype=float32)"
    )
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {"W1": (784, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}


def test_relu_is_chapter_5s_network(dtype, assert_close):
    """Sigmoid by default; ReLU on the same parameters gives other outputs, and cuts off every
    unit whose pre-activation is negative: with all biases and weights negative, every hidden
    output is 0 and the prediction is softmax(b2)."""
    assert TwoLayerNet(4, 3, 2).activation == "sigmoid"
    sigmoid_net, _ = make_pair((5, 6, 4, 3), dtype)
    relu_net, _ = make_pair((5, 6, 4, 3), dtype, activation="relu")
    x, _ = batch((5, 6, 4, 3), dtype)
    assert not np.allclose(sigmoid_net.predict(x), relu_net.predict(x))
    relu_net.params["W1"] = -np.abs(relu_net.params["W1"])
    relu_net.params["b1"] = -np.abs(relu_net.params["b1"]) - 0.1
    b2 = relu_net.params["b2"].astype(np.float64)
    expected = np.exp(b2 - b2.max()) / np.exp(b2 - b2.max()).sum()
    assert_close(relu_net.predict(x), np.tile(expected, (5, 1)), dtype, "predict of a dead layer")
    assert not relu_net.gradient(x, [0, 1, 2, 0, 1])["W1"].any()  # no unit lets a gradient through


def test_relu_passes_nan_through_as_the_book_does(dtype):
    """The book's Relu zeroes x <= 0 only: a NaN pre-activation stays NaN (a max with 0 would hide it)."""
    net, _ = make_pair((2, 3, 4, 2), dtype, activation="relu")
    net.params["b1"][0] = np.nan
    assert np.isnan(net.predict(np.ones((2, 3)))).all()


@pytest.mark.parametrize(
    "value, error", [("tanh", ValueError), ("ReLU", ValueError), (None, TypeError), (1, TypeError)]
)
def test_unknown_activation_is_refused(value, error):
    with pytest.raises(
        error, match=r"activation must be 'sigmoid' or 'relu', got " + repr(repr(value))[1:-1]
    ):
        TwoLayerNet(4, 3, 2, activation=value)
