"""twolayer.net: the C++ TwoLayerNet against the NumPy reference, in both dtypes, with either
activation and on both kernel sets; and bad input, which every method either refuses, with an
error that names the argument (and the expected and actual shape or dtype), or answers rightly.

Every bad-input case runs in a forked child (``isolation.in_child``): a segfault, an abort, a
sanitizer report or a hang fails that case instead of the whole run. What happens with NaN and Inf
is documented by the tests at the end.
"""

from __future__ import annotations

import copy
import io
import json
import math
import multiprocessing
import pickle
from typing import Any, Callable

import numpy as np
import pytest
from isolation import Case, expect_error, in_child, run_python, sanitized

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


def _copies(net):
    """The three ways to copy a network: pickle, copy.deepcopy and copy.copy."""
    return {
        "pickle": pickle.loads(pickle.dumps(net)),
        "deepcopy": copy.deepcopy(net),
        "copy": copy.copy(net),
    }


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_copies_are_equal_and_independent(dtype, activation):
    net = TwoLayerNet(6, 4, 3, dtype=dtype, seed=1, activation=activation)
    x = np.random.default_rng(2).random((5, 6))
    for how, twin in _copies(net).items():
        assert (
            type(twin) is TwoLayerNet and twin.dtype == dtype and twin.activation == activation
        ), how
        assert (twin.input_size, twin.hidden_size, twin.output_size) == (6, 4, 3), how
        for key in net.params:
            np.testing.assert_array_equal(twin.params[key], net.params[key], err_msg=how)
            assert not np.shares_memory(twin.params[key], net.params[key]), how
        np.testing.assert_array_equal(twin.predict(x), net.predict(x), err_msg=how)
        twin.params["W1"] += (
            1  # changing the copy changes not the original, and the copy's views are its own
        )
        assert not np.array_equal(twin.params["W1"], net.params["W1"]), how
        np.testing.assert_array_equal(twin.predict(x), twin._core.predict(x), err_msg=how)
        assert not np.array_equal(twin.predict(x), net.predict(x)), how


def _predict_in_child(pickled: bytes, x: np.ndarray) -> np.ndarray:
    return pickle.loads(pickled).predict(x)


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_pickled_net_predicts_the_same_in_another_process(start_method, dtype):
    net = TwoLayerNet(6, 4, 3, dtype=dtype, seed=1)
    x = np.random.default_rng(2).random((5, 6))
    with multiprocessing.get_context(start_method).Pool(1) as pool:
        in_child = pool.apply(_predict_in_child, (pickle.dumps(net), x))
    np.testing.assert_array_equal(in_child, net.predict(x))


def test_damaged_pickles_are_clear_errors():
    pickled = pickle.dumps(TwoLayerNet(6, 4, 3, seed=1))
    saved = io.BytesIO()
    TwoLayerNet(6, 4, 3, seed=1).save(saved)
    damaged = pickled.replace(saved.getvalue()[-40:], bytes(40))
    with pytest.raises(
        ValueError, match="cannot unpickle a TwoLayerNet .damaged, or pickled by another version"
    ):
        pickle.loads(damaged)
    with pytest.raises(
        ValueError, match="format is 'twolayer.TwoLayerNet/9', expected 'twolayer.TwoLayerNet/3'"
    ):
        pickle.loads(pickle.dumps(_PickledByANewerVersion()))


class _PickledByANewerVersion:
    """Pickles as a TwoLayerNet would, whose save format is a newer one."""

    def __reduce__(self):
        saved = io.BytesIO()
        np.savez(saved, format=np.str_("twolayer.TwoLayerNet/9"))
        return (twolayer.net._from_saved, (TwoLayerNet, saved.getvalue()))


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
        pytest.skip(
            "this CPU has no AVX2 or FMA: the portable kernels are the only ones (and "
            "every other test runs on them)"
        )
    net.save(tmp_path / "net.npz")
    np.savez(tmp_path / "data.npz", x=x, t=t, h=h)
    results = {}
    for name, simd in (("avx2", "1"), ("portable", "0")):
        out = tmp_path / f"{name}.npz"
        child = run_python(
            RUN_ON_KERNELS,
            str(tmp_path / "net.npz"),
            str(tmp_path / "data.npz"),
            str(out),
            env={"TWOLAYER_SIMD": simd},
        )
        assert child.returncode == 0, child.stderr
        with np.load(out) as saved:
            results[name] = dict(saved)
    return results


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_the_net_gives_the_same_results_on_either_kernel_set(
    tmp_path, dtype, activation, tol, assert_close
):
    rng = np.random.default_rng(3)
    net = TwoLayerNet(784, 50, 10, weight_init_std=0.5, activation=activation, dtype=dtype, seed=0)
    net.params["b1"] = rng.normal(size=50)
    x, t = mnist_like_batch(rng, 600, 784, np.float32), rng.integers(0, 10, 600)
    fast, portable = results_on_both_kernel_sets(tmp_path, net, x, t).values()
    for key in ("predict", "gradient W1", "gradient b1", "gradient W2", "gradient b2"):
        assert_close(fast[key], portable[key], dtype, key, scale=100)
    # And the portable kernels against the NumPy reference, as test_passes_match_reference does for AVX2.
    ref = ReferenceNet.from_params(net.params, activation=activation)
    assert_close(portable["predict"], ref.predict(x), dtype, "portable predict")
    for key, g in ref.gradient(x, t).items():
        assert_close(portable["gradient " + key], g, dtype, f"portable gradient {key}")
    assert abs(fast["loss"] - portable["loss"]) < tol.rtol * 100 * abs(portable["loss"])
    assert abs(fast["accuracy"] - portable["accuracy"]) <= 1 / 600


def test_a_nan_in_w2_spoils_every_sample_on_either_kernel_set(tmp_path, dtype):
    # Hidden unit 7 is off for every sample (ReLU of -1): its output 0 still multiplies its row of
    # W2, and 0·NaN is NaN, as in NumPy.
    rng = np.random.default_rng(5)
    net = TwoLayerNet(784, 50, 10, activation="relu", dtype=dtype, seed=0)
    net.params["W1"][:, 7] = 0
    net.params["b1"][7] = -1
    net.params["W2"][7, 3] = np.nan
    x, t = mnist_like_batch(rng, 20, 784, np.float32), rng.integers(0, 10, 20)
    assert np.isnan(ReferenceNet.from_params(net.params, activation="relu").predict(x)).all()
    for name, results in results_on_both_kernel_sets(tmp_path, net, x, t).items():
        assert np.isnan(results["predict"]).all(), name
        assert np.isnan(results["loss"]), name
        assert np.isnan(results["gradient W1"]).any(), name


# The AVX2 numerical gradient evaluates perturbed losses through exp(a + b) = exp(a)·exp(b) when
# the logits move by less than 2^-10, and whole otherwise: small weights and steps take the first
# path, large output weights or steps the second.
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize(
    "w2_scale, h", [(1.0, 1e-4), (5.0, 1e-3), (1.0, 1e-2)], ids=["factored", "whole-w", "whole-h"]
)
def test_the_numerical_gradient_is_the_same_on_either_kernel_set(
    tmp_path, w2_scale, h, activation, relative_error
):
    rng = np.random.default_rng(4)
    net = TwoLayerNet(60, 11, 7, weight_init_std=1.0, activation=activation, seed=0)
    net.params["W2"] *= w2_scale
    net.params["b2"] = rng.normal(size=7)
    x, t = mnist_like_batch(rng, 13, 60), rng.integers(0, 7, 13)
    fast, portable = results_on_both_kernel_sets(tmp_path, net, x, t, h).values()
    for key in PARAM_NAMES:
        simd = fast["numerical " + key]
        assert relative_error(simd, portable["numerical " + key]) < 1e-8, key
        assert relative_error(simd, portable["naive " + key]) < 1e-7, key


# --- Bad input ----------------------------------------------------------------------------------

D, H, C, N = 5, 4, 3, 6  # distinct sizes, so that messages show which one they mean


def make_net(dtype: Any = np.float64) -> TwoLayerNet:
    return TwoLayerNet(D, H, C, weight_init_std=0.5, dtype=dtype, seed=1)


def make_batch() -> tuple[np.ndarray, np.ndarray]:
    """Small integers, a third of them zero: every dtype under test holds them exactly."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 4, size=(N, D)).astype(np.float64)
    t = np.array([0, 2, 1, 1, 0, 2])
    return x, t


# --- The methods that take a batch, all called the same way -------------------------------------

BATCH_METHODS: dict[str, Callable[[TwoLayerNet, Any, Any], Any]] = {
    "predict": lambda net, x, t: net.predict(x),
    "loss": lambda net, x, t: net.loss(x, t),
    "accuracy": lambda net, x, t: net.accuracy(x, t),
    "gradient": lambda net, x, t: net.gradient(x, t),
    "numerical_gradient": lambda net, x, t: net.numerical_gradient(x, t),
    "numerical_gradient_naive": lambda net, x, t: net.numerical_gradient(x, t, method="naive"),
}
TARGET_METHODS = {k: v for k, v in BATCH_METHODS.items() if k != "predict"}


def _masked() -> np.ma.MaskedArray:
    x = np.ma.masked_array(make_batch()[0])
    x[1, 2] = np.ma.masked
    return x


# fmt: off
BAD_X = [
    Case("3-d", lambda: np.zeros((2, 3, D)), ValueError, r"x must have shape \(N, 5\).*got \(2, 3, 5\)"),
    Case("wrong-features", lambda: np.zeros((N, D + 1)), ValueError, r"x must have shape \(N, 5\).*got \(6, 6\)"),
    Case("single-sample-wrong-length", lambda: np.zeros(D - 1), ValueError, r"x must have shape \(N, 5\) or \(5,\), got \(4,\)"),
    Case("scalar", lambda: 1.5, ValueError, r"x must have shape \(N, 5\).*got \(\)"),
    Case("empty-batch", lambda: np.zeros((0, D)), ValueError, r"x must hold at least one row, got \(0, 5\)"),
    Case("empty-sample", lambda: np.zeros(0), ValueError, r"x must have shape .*got \(0,\)"),
    Case("bool", lambda: np.ones((N, D), bool), TypeError, r"x must hold real numbers, got dtype bool"),
    Case("complex", lambda: np.ones((N, D), complex), TypeError, r"x must hold real numbers, got dtype complex128"),
    Case("object", lambda: np.ones((N, D), object), TypeError, r"x must hold real numbers, got dtype object"),
    Case("str", lambda: np.full((N, D), "1"), TypeError, r"x must hold real numbers, got dtype <U1"),
    Case("none", lambda: None, TypeError, r"x must hold real numbers, got dtype object"),
    Case("datetime", lambda: np.zeros((N, D), "M8[s]"), TypeError, r"x must hold real numbers, got dtype datetime64\[s\]"),
    Case("structured", lambda: np.zeros((N, D), [("a", "f8")]), TypeError, r"x must hold real numbers, got dtype \[\('a', '<f8'\)\]"),
    Case("ragged-list", lambda: [[0.0] * D, [0.0] * (D - 1)], ValueError, r"x must be an array of numbers: .*inhomogeneous"),
    Case("masked-entries", _masked, TypeError, r"x is a masked array with masked entries"),
]
# fmt: on


@pytest.mark.parametrize("method", BATCH_METHODS)
@pytest.mark.parametrize("case", BAD_X, ids=[c.id for c in BAD_X])
def test_bad_x(case: Case, method: str) -> None:
    call = BATCH_METHODS[method]
    expect_error(lambda: call(make_net(), case.value(), make_batch()[1]), case.exc, case.message)


@pytest.mark.parametrize("method", BATCH_METHODS)
def test_huge_batch_is_a_clean_memory_error(method: str) -> None:
    """2**40 copies of one row as a stride-0 view: the contiguous copy the core needs cannot be
    allocated, and that must be a MemoryError (the bindings dereferenced a null array here)."""

    def run():
        x = np.broadcast_to(np.zeros(D, np.float16), (2**40, D))
        t = np.broadcast_to(np.int64(0), (2**40,))
        return BATCH_METHODS[method](make_net(), x, t)

    expect_error(run, MemoryError, r"Unable to allocate .* \(1099511627776, 5\)")


LABELS_MSG = r"t must be labels of shape \(6,\) or rows of shape \(6, 3\) to match x, got "
# fmt: off
BAD_T = [
    Case("too-few-labels", lambda: np.zeros(N - 2, int), ValueError, LABELS_MSG + r"\(4,\)"),
    Case("too-many-labels", lambda: np.zeros(N + 1, int), ValueError, LABELS_MSG + r"\(7,\)"),
    Case("rows-of-wrong-width", lambda: np.eye(C + 1)[np.zeros(N, int)], ValueError, LABELS_MSG + r"\(6, 4\)"),
    Case("rows-too-few", lambda: np.eye(C)[np.zeros(N - 1, int)], ValueError, LABELS_MSG + r"\(5, 3\)"),
    Case("3-d", lambda: np.zeros((N, C, 1)), ValueError, LABELS_MSG + r"\(6, 3, 1\)"),
    Case("scalar", lambda: 1, ValueError, LABELS_MSG + r"\(\)"),
    Case("label-too-large", lambda: np.array([0, 1, 3, 0, 0, 0]), ValueError, r"t\[2\] = 3 is not a class label: expected 0 <= label < 3"),
    Case("label-negative", lambda: np.array([0, 1, 2, -1, 0, 0]), ValueError, r"t\[3\] = -1 is not a class label"),
    Case("label-uint64-past-int64", lambda: np.full(N, 2**64 - 1, np.uint64), ValueError, r"t\[0\] = 18446744073709551615 is not a class label"),
    Case("labels-float", lambda: np.zeros(N), TypeError, r"t of shape \(6,\) holds class labels and must be of an integer dtype, got float64"),
    Case("labels-bool", lambda: np.zeros(N, bool), TypeError, r"t must hold real numbers, got dtype bool"),
    Case("rows-bool", lambda: np.eye(C, dtype=bool)[np.zeros(N, int)], TypeError, r"t must hold real numbers, got dtype bool"),
    Case("complex", lambda: np.zeros(N, complex), TypeError, r"t must hold real numbers, got dtype complex128"),
    Case("object", lambda: np.zeros(N, object), TypeError, r"t must hold real numbers, got dtype object"),
    Case("str", lambda: np.array(list("012012")), TypeError, r"t must hold real numbers, got dtype <U1"),
    Case("none", lambda: None, TypeError, r"t must hold real numbers, got dtype object"),
    Case("ragged-list", lambda: [[0, 1, 0], [1]], ValueError, r"t must be an array of numbers"),
]
# fmt: on


@pytest.mark.parametrize("method", TARGET_METHODS)
@pytest.mark.parametrize("case", BAD_T, ids=[c.id for c in BAD_T])
def test_bad_t(case: Case, method: str) -> None:
    call = TARGET_METHODS[method]
    expect_error(lambda: call(make_net(), make_batch()[0], case.value()), case.exc, case.message)


# fmt: off
SINGLE_T = [
    Case("row-of-wrong-width", lambda: np.zeros(C + 1, int), ValueError, r"t must be labels of shape \(1,\) or rows of shape \(1, 3\) to match x, got \(4,\)"),
    Case("label-out-of-range", lambda: 3, ValueError, r"t\[0\] = 3 is not a class label"),
    Case("two-labels", lambda: [0, 1], ValueError, r"got \(2,\)"),
]
# fmt: on


@pytest.mark.parametrize("case", SINGLE_T, ids=[c.id for c in SINGLE_T])
def test_bad_t_for_one_sample(case: Case) -> None:
    expect_error(lambda: make_net().loss(make_batch()[0][0], case.value()), case.exc, case.message)


# --- Everything else: the constructor, params, numerical_gradient's options -------------------


def _assign(key: Any, value: Any) -> Callable[[], None]:
    def run():
        make_net().params[key] = value

    return run


def _assign_all(values: Any) -> Callable[[], None]:
    def run():
        net = make_net()
        net.params = values

    return run


def _params_of(**overrides: Any) -> dict:
    params = {k: np.array(v) for k, v in make_net().params.items()}
    params.update(overrides)
    return params


# fmt: off
OTHER = [
    # TwoLayerNet(input_size, hidden_size, output_size, weight_init_std, *, dtype, seed)
    Case("init-zero-size", lambda: TwoLayerNet(0, H, C), ValueError, r"input_size must be positive, got 0"),
    Case("init-negative-size", lambda: TwoLayerNet(D, -3, C), ValueError, r"hidden_size must be positive, got -3"),
    Case("init-float-size", lambda: TwoLayerNet(D, H, 2.5), TypeError, r"output_size must be an int, got float"),
    Case("init-str-size", lambda: TwoLayerNet("784", H, C), TypeError, r"input_size must be an int, got str"),
    Case("init-bool-size", lambda: TwoLayerNet(D, True, C), TypeError, r"hidden_size must be an int, got bool"),
    Case("init-sizes-overflow", lambda: TwoLayerNet(2**62, 2**62, 2), ValueError, r"a 4611686018427387904-4611686018427387904-2 network .* is too large to allocate"),
    Case("init-inputs-past-32-bits", lambda: TwoLayerNet(2**32, 1, 1, dtype=np.float32), ValueError, r"a 4294967296-1-1 network .* too large"),
    Case("init-size-past-size_t", lambda: TwoLayerNet(2**64, 1, 1), ValueError, r"a 18446744073709551616-1-1 network .* too large"),
    Case("init-float16", lambda: TwoLayerNet(D, H, C, dtype=np.float16), TypeError, r"dtype must be float64 or float32, got .*float16"),
    Case("init-int-dtype", lambda: TwoLayerNet(D, H, C, dtype="int32"), TypeError, r"dtype must be float64 or float32, got .*int32"),
    Case("init-junk-dtype", lambda: TwoLayerNet(D, H, C, dtype="junk"), TypeError, r"dtype must be float64 or float32, got 'junk'"),
    Case("init-std-str", lambda: TwoLayerNet(D, H, C, "0.01"), ValueError, r"weight_init_std must be a number or one of 'he', 'relu', 'xavier', 'sigmoid', got '0.01'"),
    Case("init-std-none", lambda: TwoLayerNet(D, H, C, None), TypeError, r"weight_init_std must be a real number, got NoneType"),
    Case("init-decay-negative", lambda: TwoLayerNet(D, H, C, weight_decay_lambda=-1e-4), ValueError, r"weight_decay_lambda must be >= 0, got -0.0001"),
    Case("init-decay-nan", lambda: TwoLayerNet(D, H, C, weight_decay_lambda=float("nan")), ValueError, r"weight_decay_lambda must be finite, got nan"),
    Case("init-decay-str", lambda: TwoLayerNet(D, H, C, weight_decay_lambda="0"), TypeError, r"weight_decay_lambda must be a real number, got str"),
    Case("init-std-array", lambda: TwoLayerNet(D, H, C, np.ones(2)), TypeError, r"weight_init_std must be a real number, got ndarray"),
    Case("init-std-nan", lambda: TwoLayerNet(D, H, C, float("nan")), ValueError, r"weight_init_std must be finite, got nan"),
    Case("init-seed-negative", lambda: TwoLayerNet(D, H, C, seed=-1), ValueError, r"seed must be None or .* got -1"),
    Case("init-seed-str", lambda: TwoLayerNet(D, H, C, seed="abc"), TypeError, r"seed must be None or .* got 'abc'"),
    # params: a fixed set of four arrays of fixed shapes
    Case("params-unknown-key", _assign("W3", np.zeros((H, C))), KeyError, r"'W3' is not a parameter; the parameters are W1, b1, W2, b2"),
    Case("params-unhashable-key", _assign(["W1"], 0), KeyError, r"\['W1'\] is not a parameter"),
    Case("params-get-unknown-key", lambda: make_net().params["w1"], KeyError, r"'w1' is not a parameter"),
    Case("params-del", lambda: make_net().params.__delitem__("W1"), TypeError, r"cannot be removed"),
    Case("params-pop", lambda: make_net().params.pop("b1"), TypeError, r"cannot be removed"),
    Case("params-update-unknown", lambda: make_net().params.update(W9=1), KeyError, r"'W9' is not a parameter"),
    Case("params-transposed", _assign("W1", np.zeros((H, D))), ValueError, r"params\['W1'\] must have shape \(5, 4\), got \(4, 5\)"),
    Case("params-scalar", _assign("b1", 0.0), ValueError, r"params\['b1'\] must have shape \(4,\), got \(\)"),
    Case("params-broadcastable-row", _assign("W2", np.zeros(C)), ValueError, r"params\['W2'\] must have shape \(4, 3\), got \(3,\)"),
    Case("params-complex", _assign("W2", np.zeros((H, C), complex)), TypeError, r"params\['W2'\] must hold real numbers, got dtype complex128"),
    Case("params-bool", _assign("b2", np.zeros(C, bool)), TypeError, r"params\['b2'\] must hold real numbers, got dtype bool"),
    Case("params-object", _assign("b2", np.zeros(C, object)), TypeError, r"params\['b2'\] must hold real numbers, got dtype object"),
    Case("params-str", _assign("b2", ["0", "0", "0"]), TypeError, r"params\['b2'\] must hold real numbers, got dtype <U1"),
    Case("params-ragged", _assign("b2", [0, [1, 2], 0]), ValueError, r"params\['b2'\] must be an array of numbers"),
    Case("params-replace-not-a-mapping", _assign_all([1, 2]), TypeError, r"params must be assigned a mapping with keys W1, b1, W2, b2, got list"),
    Case("params-replace-missing-key", _assign_all({"W1": np.zeros((D, H))}), KeyError, r"missing: b1, W2, b2; unknown: none"),
    Case("params-replace-unknown-key", _assign_all(dict(_params_of(), W3=0)), KeyError, r"missing: none; unknown: 'W3'"),
    Case("params-replace-wrong-shape", _assign_all(_params_of(b2=np.zeros(C + 1))), ValueError, r"params\['b2'\] must have shape \(3,\), got \(4,\)"),
    # numerical_gradient(x, t, *, method, h)
    Case("method-unknown", lambda: make_net().numerical_gradient(*make_batch(), method="fast"), ValueError, r"method must be 'incremental' or 'naive', got 'fast'"),
    Case("method-case", lambda: make_net().numerical_gradient(*make_batch(), method="Naive"), ValueError, r"method must be .* got 'Naive'"),
    Case("method-int", lambda: make_net().numerical_gradient(*make_batch(), method=1), TypeError, r"method must be 'incremental' or 'naive', got 1"),
    Case("method-none", lambda: make_net().numerical_gradient(*make_batch(), method=None), TypeError, r"method must be .* got None"),
    Case("h-zero", lambda: make_net().numerical_gradient(*make_batch(), h=0), ValueError, r"h must be a positive finite number .* got 0\.0"),
    Case("h-negative", lambda: make_net().numerical_gradient(*make_batch(), h=-1e-4), ValueError, r"h must be a positive .* got -0\.0001"),
    Case("h-subnormal", lambda: make_net().numerical_gradient(*make_batch(), h=1e-320), ValueError, r"h must be .* at least 2\.2250738585072014e-308 .* got 1e-320"),
    Case("h-nan", lambda: make_net().numerical_gradient(*make_batch(), h=float("nan")), ValueError, r"h must be finite, got nan"),
    Case("h-inf", lambda: make_net().numerical_gradient(*make_batch(), h=float("inf")), ValueError, r"h must be finite, got inf"),
    Case("h-str", lambda: make_net().numerical_gradient(*make_batch(), h="1e-4"), TypeError, r"h must be a real number, got str"),
    Case("h-bool", lambda: make_net().numerical_gradient(*make_batch(), h=True), TypeError, r"h must be a real number, got bool"),
    Case("h-array", lambda: make_net().numerical_gradient(*make_batch(), h=np.array([1e-4])), TypeError, r"h must be a real number, got ndarray"),
    Case("h-complex", lambda: make_net().numerical_gradient(*make_batch(), h=1e-4j), TypeError, r"h must be a real number, got complex"),
]
# fmt: on


@pytest.mark.parametrize("case", OTHER, ids=[c.id for c in OTHER])
def test_bad_argument(case: Case) -> None:
    expect_error(case.value, case.exc, case.message)


@pytest.mark.skipif(
    sanitized(), reason="ASan reports a failed operator new as a fatal error instead of throwing"
)
def test_init_too_large_for_memory() -> None:
    # 2**48 parameters: more than any address space holds, so the allocation fails everywhere
    # (even where the kernel overcommits memory) and must come back as a MemoryError.
    expect_error(
        lambda: TwoLayerNet(2**24, 2**24, 2),
        MemoryError,
        r"not enough memory for a 16777216-16777216-2 network \(281475027042306 parameters",
    )


def test_failed_params_replacement_changes_nothing() -> None:
    def run():
        net = make_net()
        before = {k: v.copy() for k, v in net.params.items()}
        values = {k: v + 1 for k, v in before.items()}
        values["b2"] = np.zeros(C + 1)  # the last one checked is wrong
        with pytest.raises(ValueError, match=r"params\['b2'\]"):
            net.params = values
        return before, dict(net.params)

    before, after = in_child(run)
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


def test_params_replacement_copies_into_the_views() -> None:
    def run():
        net, other = make_net(), TwoLayerNet(D, H, C, seed=7)
        view = net.params["W1"]
        net.params = other.params
        x = make_batch()[0]
        return view is net.params["W1"], view.copy(), net.predict(x), other.predict(x)

    same_view, view, mine, theirs = in_child(run)
    assert same_view
    np.testing.assert_array_equal(view, TwoLayerNet(D, H, C, seed=7).params["W1"])
    np.testing.assert_array_equal(mine, theirs)


# --- Odd layouts and dtypes: the same answer as a plain C-contiguous array ---------------------


def _with_metadata(dtype: Any) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x.astype(np.dtype(dtype, metadata={"unit": "pixel"}))


def _read_only(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x.flags.writeable = False
    return x


def _strided(x: np.ndarray) -> np.ndarray:
    wide = np.zeros((2 * x.shape[0], 3 * x.shape[1]))
    wide[::2, ::3] = x
    return wide[::2, ::3]


def _broadcast_row(x: np.ndarray) -> np.ndarray:
    """Every row the same, as a stride-0 view; its plain twin is make_layout_twin below."""
    return np.broadcast_to(x[0], x.shape)


X_LAYOUTS: dict[str, Callable[[np.ndarray], Any]] = {
    "fortran": np.asfortranarray,
    "transposed-view": lambda x: np.ascontiguousarray(x.T).T,
    "strided": _strided,
    "reversed-rows": lambda x: x[::-1].copy()[::-1],
    "reversed-columns": lambda x: x[:, ::-1].copy()[:, ::-1],
    "read-only": _read_only,
    "float32": lambda x: x.astype(np.float32),
    "float16": lambda x: x.astype(np.float16),
    "longdouble": lambda x: x.astype(np.longdouble),
    "int64": lambda x: x.astype(np.int64),
    "int8": lambda x: x.astype(np.int8),
    "uint8": lambda x: x.astype(np.uint8),
    "big-endian-float64": lambda x: x.astype(">f8"),
    "big-endian-float32": lambda x: x.astype(">f4"),
    "float32-with-metadata": _with_metadata(np.float32),
    "float64-with-metadata": _with_metadata(np.float64),
    "list": lambda x: x.tolist(),
    "masked-none-masked": lambda x: np.ma.masked_array(x),
}

T_LAYOUTS: dict[str, Callable[[np.ndarray], Any]] = {
    "labels-reversed": lambda t: t[::-1].copy()[::-1],
    "labels-strided": lambda t: np.repeat(t, 2)[::2],
    "labels-read-only": _read_only,
    "labels-int8": lambda t: t.astype(np.int8),
    "labels-uint8": lambda t: t.astype(np.uint8),
    "labels-uint64": lambda t: t.astype(np.uint64),
    "labels-big-endian": lambda t: t.astype(">i4"),
    "labels-list": lambda t: t.tolist(),
    "one-hot-float64": lambda t: np.eye(C)[t],
    "one-hot-fortran": lambda t: np.asfortranarray(np.eye(C)[t]),
    "one-hot-int": lambda t: np.eye(C, dtype=int)[t],
    "one-hot-float32": lambda t: np.eye(C, dtype=np.float32)[t],
    "one-hot-float16": lambda t: np.eye(C, dtype=np.float16)[t],
    "one-hot-transposed-view": lambda t: np.ascontiguousarray(np.eye(C)[t].T).T,
}


def _all_results(net: TwoLayerNet, x: Any, t: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, call in BATCH_METHODS.items():
        result = call(net, x, t)
        out[name] = (
            {k: np.array(v) for k, v in result.items()} if isinstance(result, dict) else result
        )
    return out


def _assert_same(got: dict, expected: dict) -> None:
    for name in expected:
        if isinstance(expected[name], dict):
            for key in expected[name]:
                np.testing.assert_array_equal(
                    got[name][key], expected[name][key], err_msg=f"{name} {key}"
                )
        else:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


@pytest.mark.parametrize("layout", X_LAYOUTS)
def test_x_layouts_give_the_same_answer(layout: str, dtype: np.dtype) -> None:
    def run():
        net = make_net(dtype)
        x, t = make_batch()
        return _all_results(net, X_LAYOUTS[layout](x), t), _all_results(net, x, t)

    _assert_same(*in_child(run))


@pytest.mark.parametrize("layout", T_LAYOUTS)
def test_t_layouts_give_the_same_answer(layout: str, dtype: np.dtype) -> None:
    def run():
        net = make_net(dtype)
        x, t = make_batch()
        plain = np.eye(C)[t] if layout.startswith("one-hot") else t
        return _all_results(net, x, T_LAYOUTS[layout](t)), _all_results(net, x, plain)

    _assert_same(*in_child(run))


def test_broadcast_rows_give_the_same_answer(dtype: np.dtype) -> None:
    def run():
        net = make_net(dtype)
        x, t = make_batch()
        view = _broadcast_row(x)
        return _all_results(net, view, t), _all_results(net, np.array(view), t)

    _assert_same(*in_child(run))


def test_plain_arrays_agree_with_the_reference(dtype: np.dtype, tol: Any) -> None:
    """The yardstick of the layout tests above: the plain case is right."""

    def run():
        net = make_net(dtype)
        x, t = make_batch()
        return dict(net.params), _all_results(net, x, t)

    params, got = in_child(run)
    x, t = make_batch()
    ref = ReferenceNet.from_params({k: v.astype(np.float64) for k, v in params.items()})
    np.testing.assert_allclose(got["predict"], ref.predict(x), rtol=tol.rtol, atol=tol.atol)
    np.testing.assert_allclose(got["loss"], ref.loss(x, t), rtol=tol.rtol)
    assert got["accuracy"] == ref.accuracy(x, t)
    expected = ref.gradient(x, t)
    numerical = ref.numerical_gradient(x, t)
    for key in expected:
        np.testing.assert_allclose(
            got["gradient"][key], expected[key], rtol=10 * tol.rtol, atol=tol.atol, err_msg=key
        )
        for method in ("numerical_gradient", "numerical_gradient_naive"):
            np.testing.assert_allclose(
                got[method][key],
                numerical[key],
                rtol=10 * tol.rtol,
                atol=1e-9,
                err_msg=f"{method} {key}",
            )


# --- NaN and Inf: never a crash; what happens, documented --------------------------------------


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


def test_case_ids_are_unique() -> None:
    for table in (BAD_X, BAD_T, SINGLE_T, OTHER):
        ids = [case.id for case in table]
        assert len(ids) == len(set(ids)), ids
    assert sum(map(len, (BAD_X, BAD_T, SINGLE_T, OTHER))) >= 40


# train_step against the book's step on the same net: net.gradient, then params[key] -= lr · grad.
# Run in a child so that both kernel sets are covered (TWOLAYER_SIMD=0: the portable ones).
# Reports, per case, the largest difference of each parameter in units of its largest value,
# and of the loss, between the two paths.
TRAIN_STEP_AGAINST_BOOK_STEP = """
import json, sys
import numpy as np
from twolayer import TwoLayerNet
from twolayer.reference import mnist_like_batch
dtype = np.dtype(sys.argv[1])
rng = np.random.default_rng(5)
report = {}
for n_set, n_batch, h, c, x_dtype, targets, gather, activation in [
    (7, 7, 5, 3, np.float64, "labels", False, "sigmoid"),
    (100, 100, 50, 10, np.float32, "labels", False, "sigmoid"),
    (600, 100, 50, 10, np.float32, "labels", True, "sigmoid"),
    (600, 100, 50, 10, np.float64, "one-hot", True, "relu"),
    (2000, 1500, 6, 5, np.float32, "rows", True, "relu"),
    (40, 70, 8, 4, np.float64, "labels", True, "sigmoid"),
    (300, 300, 20, 4, np.float32, "labels", False, "relu"),
]:
    d = 784 if h == 50 else 30
    x = mnist_like_batch(rng, n_set, d, x_dtype)
    labels = rng.integers(0, c, n_set)
    t = {"labels": labels, "one-hot": np.eye(c)[labels], "rows": rng.random((n_set, c))}[targets]
    new = lambda: TwoLayerNet(d, h, c, weight_init_std=0.5, dtype=dtype, seed=1, activation=activation)
    fused, book = new(), new()
    indices = rng.integers(0, n_set, n_batch) if gather else None
    rows = indices if gather else slice(None)
    losses = []
    for step in range(3):
        losses.append(fused.train_step(x, t, 0.3, indices=indices))
        grads = book.gradient(x[rows], t[rows])
        for key in grads:
            book.params[key] -= 0.3 * grads[key]
        losses.append(book.loss(x[rows], t[rows]))
    moved = {k: float(np.abs(book.params[k] - new().params[k]).max()) for k in grads}
    diff = {k: float(np.abs(fused.params[k] - book.params[k]).max() / np.abs(book.params[k]).max())
            for k in grads}
    diff["loss"] = abs(losses[-2] - losses[-1]) / abs(losses[-1])
    report[f"{n_set}-{n_batch}-{targets}-{'gather' if gather else 'whole'}-{activation}"] = (diff, moved)
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


@pytest.mark.parametrize(
    "indices, error, message",
    [
        ([0, 5, 10], ValueError, r"indices\[2\] = 10 is not a row of x: expected 0 <= index < 10"),
        ([-1], ValueError, r"indices\[0\] = -1 is not a row of x"),
        (
            np.array([3, 2**64 - 1], np.uint64),
            ValueError,
            r"indices\[1\] = 18446744073709551615 is not",
        ),
        ([], TypeError, r"indices must be an array of integers, got dtype float64"),
        (np.array([], np.int64), ValueError, "indices must select at least one row, got none"),
        ([1.0, 2.0], TypeError, "indices must be an array of integers, got dtype float64"),
        ([True, False], TypeError, "indices must be an array of integers, got dtype bool"),
        ([[1, 2]], ValueError, r"indices must be 1-D, got shape \(1, 2\)"),
        (["a"], TypeError, "indices must be an array of integers, got dtype <U1"),
    ],
    ids=["past-end", "negative", "uint64", "empty-list", "empty", "float", "bool", "2-D", "str"],
)
def test_train_step_refuses_bad_indices(dtype, indices, error, message):
    rng = np.random.default_rng(7)
    x, t = mnist_like_batch(rng, 10, 6), rng.integers(0, 3, 10)
    net = TwoLayerNet(6, 4, 3, dtype=dtype, seed=0)
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(error, match=message):
        net.train_step(x, t, 0.1, indices=indices)
    assert all(np.array_equal(before[k], net.params[k]) for k in before)  # nothing moved


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.zeros((4, 6)), [0, 1, 2, 7], 0.1), ValueError, r"t\[3\] = 7 is not a class label"),
        ((np.zeros((4, 6)), [0, 1, 2, 1], 0.0), ValueError, "learning_rate must be finite and > 0"),
        ((np.zeros((4, 6)), [0, 1, 2, 1], "0.1"), TypeError, "learning_rate must be a real number"),
        ((np.zeros((4, 5)), [0, 1, 2, 1], 0.1), ValueError, r"x must have shape \(N, 6\)"),
    ],
    ids=["label", "rate", "rate-type", "x-shape"],
)
def test_train_step_refuses_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        TwoLayerNet(6, 4, 3, seed=0).train_step(*args)


def test_train_step_refuses_a_rate_beyond_the_nets_dtype():
    net = TwoLayerNet(6, 4, 3, dtype=np.float32, seed=0)
    with pytest.raises(
        ValueError,
        match=r"learning_rate must be finite in float32 \(at most 3.40282e\+38\), got 1e\+39",
    ):
        net.train_step(np.zeros((4, 6)), [0, 1, 2, 1], 1e39)
    assert math.isfinite(
        TwoLayerNet(6, 4, 3, seed=0).train_step(np.zeros((4, 6)), [0, 1, 2, 1], 1e39)
    )


def test_train_step_checks_only_the_labels_it_gathers():
    # A label outside the batch is never read, so it is not an error; one inside is.
    x, t = np.zeros((5, 6)), np.array([0, 1, 2, 99, 1])
    net = TwoLayerNet(6, 4, 3, seed=0)
    assert math.isfinite(net.train_step(x, t, 0.1, indices=[0, 4]))
    with pytest.raises(ValueError, match=r"t\[3\] = 99 is not a class label"):
        net.train_step(x, t, 0.1, indices=[0, 3])


def test_train_step_reads_targets_of_any_type_as_their_batch(dtype):
    # Only the batch's targets are taken and converted (not the whole set's at every step): labels
    # of any integer type and one-hot rows of any float type make the same step.
    rng = np.random.default_rng(8)
    x, labels = mnist_like_batch(rng, 500, 30), rng.integers(0, 4, 500)
    indices = rng.integers(0, 500, 64)
    targets = [labels, labels.astype(np.uint8), labels.astype(np.int32)]
    targets += [np.eye(4, dtype=t)[labels] for t in (np.float32, np.float64)]
    results = []
    for t in targets:
        net = TwoLayerNet(30, 7, 4, dtype=dtype, seed=3)
        loss = net.train_step(x, t, 0.5, indices=indices)
        results.append((loss, {k: v.copy() for k, v in net.params.items()}))
    for loss, params in results[1:]:
        assert loss == results[0][0]
        assert all(np.array_equal(params[k], results[0][1][k]) for k in params)
