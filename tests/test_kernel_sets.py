"""The two kernel sets, AVX2/FMA and portable, give the same results: each computed in a fresh
interpreter, since the core picks its kernels at start-up (TWOLAYER_SIMD=0: the portable ones)."""

from __future__ import annotations

import numpy as np
import pytest
from isolation import run_python
from net_cases import avx2_kernels_run_here

from twolayer import TwoLayerNet
from twolayer._core import PARAM_NAMES
from twolayer.reference import ReferenceNet, mnist_like_batch

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


def results_on_both_kernel_sets(tmp_path, net, x, t, h=0.0):
    """{"avx2": results, "portable": results} of RUN_ON_KERNELS for net on the batch (x, t)."""
    if not avx2_kernels_run_here():
        pytest.skip(
            "no AVX2 kernels here (not built in, or the CPU lacks AVX2 or FMA): the portable "
            "kernels are the only ones (and every other test runs on them)"
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
