"""TwoLayerNet.train_step: the book's step (gradient, then params[key] -= lr · grad) fused in the
core, on both kernel sets; its indices and arguments checked."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from isolation import run_python
from net_cases import avx2_kernels_run_here

from twolayer import TwoLayerNet
from twolayer.reference import mnist_like_batch

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
    if simd == "1" and not avx2_kernels_run_here():
        pytest.skip(
            "no AVX2 kernels here (not built in, or no AVX2 and FMA): only the portable ones"
        )
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
