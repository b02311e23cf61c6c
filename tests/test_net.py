"""The C++ TwoLayerNet against the NumPy reference, in both dtypes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import twolayer
from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet

from conftest import mnist_like_batch
from isolation import run_python

# (N, D, H, C): tiny, odd, the book's MNIST net, and batches that span several row chunks.
SHAPES = [(1, 4, 3, 2), (7, 13, 5, 3), (100, 784, 50, 10), (300, 20, 8, 4), (1500, 30, 6, 5)]
# Relative tolerance on max |difference| / max |value|, per dtype.
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 2e-5}


def assert_close(actual, expected, dtype, what=""):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, what
    scale = max(np.abs(expected).max(), 1e-30)
    worst = np.abs(actual - expected).max() / scale
    assert worst <= RTOL[np.dtype(dtype)], f"{what}: max relative difference {worst:.3g}"


def make_pair(shape, dtype, seed=0, std=0.5):
    """A C++ net with random (not tiny) weights and biases, and a reference copy of it."""
    n, d, h, c = shape
    net = TwoLayerNet(d, h, c, weight_init_std=std, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    net.params["b1"] = rng.normal(size=h)
    net.params["b2"] = rng.normal(size=c)
    return net, ReferenceNet.from_params(net.params)


def batch(shape, dtype, seed=0):
    n, d, h, c = shape
    rng = np.random.default_rng(seed + 2)
    return mnist_like_batch(rng, n, d, dtype), rng.integers(0, c, n)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("x_dtype", [np.float64, np.float32], ids=["x64", "x32"])
def test_passes_match_reference(shape, dtype, x_dtype):
    net, ref = make_pair(shape, dtype)
    x, t = batch(shape, x_dtype)
    assert_close(net.predict(x), ref.predict(x), dtype, "predict")
    assert net.predict(x).dtype == dtype
    assert_close(net.loss(x, t), ref.loss(x, t), dtype, "loss")
    assert net.accuracy(x, t) == pytest.approx(ref.accuracy(x, t), abs=1.5 / shape[0])
    grads, expected = net.gradient(x, t), ref.gradient(x, t)
    assert list(grads) == ["W1", "b1", "W2", "b2"]
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


def test_target_rows_are_read_as_the_book_reads_them(dtype):
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


def test_single_sample_is_a_batch_of_one(dtype):
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
        for threads in (1, 2, 3):
            twolayer.set_num_threads(threads)
            assert twolayer.get_num_threads() == threads
            results.append((net.predict(x), net.loss(x, t), net.accuracy(x, t), net.gradient(x, t)))
    finally:
        twolayer.set_num_threads(previous)
    y1, loss1, acc1, g1 = results[0]
    for y, loss, acc, g in results[1:]:
        np.testing.assert_array_equal(y, y1)
        assert loss == loss1 and acc == acc1
        for key in g:  # partial sums over threads are added in another order
            assert_close(g[key], g1[key], dtype, f"gradient {key}")


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
    assert repr(net) == "TwoLayerNet(input_size=784, hidden_size=50, output_size=10, dtype=float32)"
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {"W1": (784, 50), "b1": (50,), "W2": (50, 10), "b2": (10,)}


# The results of one net on the AVX2 kernels (the default) or on the portable ones
# (TWOLAYER_SIMD=0), each computed in a fresh interpreter since the choice is made at start-up.
RUN_ON_KERNELS = """
import sys
import numpy as np
from twolayer import TwoLayerNet
net, data = TwoLayerNet.load(sys.argv[1]), np.load(sys.argv[2])
x, t, h = data["x"], data["t"], float(data["h"])
results = {"predict": net.predict(x), "loss": net.loss(x, t), "accuracy": net.accuracy(x, t)}
results.update({"gradient " + k: g for k, g in net.gradient(x, t).items()})
if h:
    results.update({"numerical " + k: g for k, g in net.numerical_gradient(x, t, h=h).items()})
    naive = net.numerical_gradient(x, t, method="naive", h=h)
    results.update({"naive " + k: g for k, g in naive.items()})
np.savez(sys.argv[3], **results)
"""


def cpu_has_avx2_and_fma() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line.split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


def results_on_both_kernel_sets(tmp_path, net, x, t, h=0.0):
    """{"avx2": results, "portable": results} of RUN_ON_KERNELS for net on the batch (x, t)."""
    if not cpu_has_avx2_and_fma():
        pytest.skip("this CPU has no AVX2 or FMA: the portable kernels are the only ones (and "
                    "every other test runs on them)")
    net.save(tmp_path / "net.npz")
    np.savez(tmp_path / "data.npz", x=x, t=t, h=h)
    results = {}
    for name, simd in (("avx2", "1"), ("portable", "0")):
        out = tmp_path / f"{name}.npz"
        child = run_python(RUN_ON_KERNELS, str(tmp_path / "net.npz"), str(tmp_path / "data.npz"),
                           str(out), env={"TWOLAYER_SIMD": simd})
        assert child.returncode == 0, child.stderr
        with np.load(out) as saved:
            results[name] = dict(saved)
    return results


def test_the_net_gives_the_same_results_on_either_kernel_set(tmp_path, dtype):
    rng = np.random.default_rng(3)
    net = TwoLayerNet(784, 50, 10, weight_init_std=0.5, dtype=dtype, seed=0)
    net.params["b1"] = rng.normal(size=50)
    x, t = mnist_like_batch(rng, 600, 784, np.float32), rng.integers(0, 10, 600)
    fast, portable = results_on_both_kernel_sets(tmp_path, net, x, t).values()
    tolerance = RTOL[np.dtype(dtype)] * 100
    for key in ("predict", "gradient W1", "gradient b1", "gradient W2", "gradient b2"):
        worst = np.abs(fast[key] - portable[key]).max() / np.abs(portable[key]).max()
        assert worst < tolerance, key
    assert abs(fast["loss"] - portable["loss"]) < tolerance * abs(portable["loss"])
    assert abs(fast["accuracy"] - portable["accuracy"]) <= 1 / 600


# The AVX2 numerical gradient evaluates perturbed losses through exp(a + b) = exp(a)·exp(b) when
# the logits move by less than 2^-10, and whole otherwise: small weights and steps take the first
# path, large output weights or steps the second.
@pytest.mark.parametrize("w2_scale, h", [(1.0, 1e-4), (5.0, 1e-3), (1.0, 1e-2)],
                         ids=["factored", "whole-w", "whole-h"])
def test_the_numerical_gradient_is_the_same_on_either_kernel_set(tmp_path, w2_scale, h):
    rng = np.random.default_rng(4)
    net = TwoLayerNet(60, 11, 7, weight_init_std=1.0, seed=0)
    net.params["W2"] *= w2_scale
    net.params["b2"] = rng.normal(size=7)
    x, t = mnist_like_batch(rng, 13, 60), rng.integers(0, 7, 13)
    fast, portable = results_on_both_kernel_sets(tmp_path, net, x, t, h).values()
    for key in ("W1", "b1", "W2", "b2"):
        simd = fast["numerical " + key]
        scale = np.abs(portable["numerical " + key]).max()
        assert np.abs(simd - portable["numerical " + key]).max() / scale < 1e-8, key
        naive = portable["naive " + key]
        assert np.abs(simd - naive).max() / np.abs(naive).max() < 1e-7, key


# train_step against the book's step on the same net: net.gradient, then params[key] -= lr · grad.
# Run in a child so that both kernel sets are covered (TWOLAYER_SIMD=0: the portable ones).
# Reports, per case, the largest difference of each parameter in units of its largest value,
# and of the loss, between the two paths.
TRAIN_STEP_AGAINST_BOOK_STEP = """
import json, sys
import numpy as np
from twolayer import TwoLayerNet
dtype = np.dtype(sys.argv[1])
rng = np.random.default_rng(5)
report = {}
for n_set, n_batch, h, c, x_dtype, targets, gather in [
    (7, 7, 5, 3, np.float64, "labels", False),
    (100, 100, 50, 10, np.float32, "labels", False),
    (600, 100, 50, 10, np.float32, "labels", True),
    (600, 100, 50, 10, np.float64, "one-hot", True),
    (2000, 1500, 6, 5, np.float32, "rows", True),
    (40, 70, 8, 4, np.float64, "labels", True),
]:
    d = 784 if h == 50 else 30
    x = rng.random((n_set, d)).astype(x_dtype)
    x[rng.random((n_set, d)) < 0.81] = 0
    labels = rng.integers(0, c, n_set)
    t = {"labels": labels, "one-hot": np.eye(c)[labels], "rows": rng.random((n_set, c))}[targets]
    fused, book = (TwoLayerNet(d, h, c, weight_init_std=0.5, dtype=dtype, seed=1) for _ in range(2))
    indices = rng.integers(0, n_set, n_batch) if gather else None
    rows = indices if gather else slice(None)
    losses = []
    for step in range(3):
        losses.append(fused.train_step(x, t, 0.3, indices=indices))
        grads = book.gradient(x[rows], t[rows])
        for key in grads:
            book.params[key] -= 0.3 * grads[key]
        losses.append(book.loss(x[rows], t[rows]))
    moved = {k: float(np.abs(book.params[k] - TwoLayerNet(d, h, c, weight_init_std=0.5, dtype=dtype,
             seed=1).params[k]).max()) for k in grads}
    diff = {k: float(np.abs(fused.params[k] - book.params[k]).max() / np.abs(book.params[k]).max())
            for k in grads}
    diff["loss"] = abs(losses[-2] - losses[-1]) / abs(losses[-1])
    report[f"{n_set}-{n_batch}-{targets}-{'gather' if gather else 'whole'}"] = (diff, moved)
print(json.dumps(report))
"""


@pytest.mark.parametrize("simd", ["1", "0"], ids=["avx2", "portable"])
def test_train_step_is_the_books_step(dtype, simd):
    if simd == "1" and not cpu_has_avx2_and_fma():
        pytest.skip("this CPU has no AVX2 or FMA: the portable kernels are the only ones")
    child = run_python(TRAIN_STEP_AGAINST_BOOK_STEP, dtype.name, env={"TWOLAYER_SIMD": simd})
    assert child.returncode == 0, child.stderr
    eps = np.finfo(dtype).eps
    for case, (diff, moved) in json.loads(child.stdout).items():
        # The same rounding as the book's update; and the parameters did move, by far more.
        assert all(diff[key] <= 4 * eps for key in diff), (case, diff)
        assert all(step > 1000 * eps for step in moved.values()), (case, moved)


def test_train_step_without_the_loss_makes_the_same_step(dtype):
    rng = np.random.default_rng(6)
    x, t = mnist_like_batch(rng, 300, 40), rng.integers(0, 4, 300)
    nets = [TwoLayerNet(40, 9, 4, dtype=dtype, seed=2) for _ in range(2)]
    assert nets[0].train_step(x, t, 0.5, return_loss=False) is None
    loss = nets[1].train_step(x, t, 0.5)
    assert loss == nets[1].loss(x, t)
    assert all(np.array_equal(nets[0].params[k], nets[1].params[k]) for k in nets[0].params)
    assert nets[0].grads == {}  # no gradient arrays handed out


@pytest.mark.parametrize("indices, error, message", [
    ([0, 5, 10], ValueError, r"indices\[2\] = 10 is not a row of x: expected 0 <= index < 10"),
    ([-1], ValueError, r"indices\[0\] = -1 is not a row of x"),
    (np.array([3, 2**64 - 1], np.uint64), ValueError, r"indices\[1\] = 18446744073709551615 is not"),
    ([], TypeError, r"indices must be an array of integers, got dtype float64"),
    (np.array([], np.int64), ValueError, "indices must select at least one row, got none"),
    ([1.0, 2.0], TypeError, "indices must be an array of integers, got dtype float64"),
    ([True, False], TypeError, "indices must be an array of integers, got dtype bool"),
    ([[1, 2]], ValueError, r"indices must be 1-D, got shape \(1, 2\)"),
    (["a"], TypeError, "indices must be an array of integers, got dtype <U1"),
], ids=["past-end", "negative", "uint64", "empty-list", "empty", "float", "bool", "2-D", "str"])
def test_train_step_refuses_bad_indices(dtype, indices, error, message):
    rng = np.random.default_rng(7)
    x, t = mnist_like_batch(rng, 10, 6), rng.integers(0, 3, 10)
    net = TwoLayerNet(6, 4, 3, dtype=dtype, seed=0)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(error, match=message):
        net.train_step(x, t, 0.1, indices=indices)
    assert all(np.array_equal(before[k], net.params[k]) for k in before)  # nothing moved


@pytest.mark.parametrize("args, error, message", [
    ((np.zeros((4, 6)), [0, 1, 2, 7], 0.1), ValueError, r"t\[3\] = 7 is not a class label"),
    ((np.zeros((4, 6)), [0, 1, 2, 1], 0.0), ValueError, "learning_rate must be finite and > 0"),
    ((np.zeros((4, 6)), [0, 1, 2, 1], "0.1"), TypeError, "learning_rate must be a real number"),
    ((np.zeros((4, 5)), [0, 1, 2, 1], 0.1), ValueError, r"x must have shape \(N, 6\)"),
], ids=["label", "rate", "rate-type", "x-shape"])
def test_train_step_refuses_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        TwoLayerNet(6, 4, 3, seed=0).train_step(*args)


def test_train_step_checks_only_the_labels_it_gathers():
    # A label outside the batch is never read, so it is not an error; one inside is.
    x, t = np.zeros((5, 6)), np.array([0, 1, 2, 99, 1])
    net = TwoLayerNet(6, 4, 3, seed=0)
    assert math.isfinite(net.train_step(x, t, 0.1, indices=[0, 4]))
    with pytest.raises(ValueError, match=r"t\[3\] = 99 is not a class label"):
        net.train_step(x, t, 0.1, indices=[0, 3])
