"""twolayer.optimizers and the fused step with each of them: the book's formulas, their state, bad settings."""

from __future__ import annotations

import copy
import json
import math
import pickle

import numpy as np
import pytest
from isolation import run_python

from twolayer import TwoLayerNet, _core, optimizers
from twolayer.optimizers import OPTIMIZERS, SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from twolayer.reference import mnist_like_batch

# Each optimizer of the book's common/optimizer.py stated once more in NumPy, one parameter array
# at a time, for the tests to compare with: (state buffers, the step at iteration k from 1).
NUMPY_STATEMENTS = """
import math
import numpy as np

def sgd(o, p, g, s, k):
    p -= o["lr"] * g

def momentum(o, p, g, s, k):
    s[0][...] = o["momentum"] * s[0] - o["lr"] * g
    p += s[0]

def nesterov(o, p, g, s, k):
    m, v = o["momentum"], s[0]
    v *= m
    v -= o["lr"] * g
    p += m * m * v
    p -= (1 + m) * o["lr"] * g

def adagrad(o, p, g, s, k):
    s[0] += g * g
    p -= o["lr"] * g / (np.sqrt(s[0]) + 1e-7)

def rmsprop(o, p, g, s, k):
    s[0] *= o["decay_rate"]
    s[0] += (1 - o["decay_rate"]) * g * g
    p -= o["lr"] * g / (np.sqrt(s[0]) + 1e-7)

def adam(o, p, g, s, k):
    b1, b2 = o["beta1"], o["beta2"]
    lr_t = o["lr"] * np.sqrt(1.0 - b2**k) / (1.0 - b1**k)
    s[0] += (1 - b1) * (g - s[0])
    s[1] += (1 - b2) * (g**2 - s[1])
    p -= lr_t * s[0] / (np.sqrt(s[1]) + 1e-7)

BUFFERS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}
"""

# In a child, so that both kernel sets are covered (TWOLAYER_SIMD=0: the portable ones): for each case, a net
# trained 30 steps by train_step with an optimizer and a twin trained by net.gradient and the NumPy statements; the
# largest difference of the parameters and the state, in units of eps times their largest value.
FUSED_AGAINST_NUMPY = (
    NUMPY_STATEMENTS
    + """
import json, sys
from twolayer import TwoLayerNet, optimizers
from twolayer.reference import mnist_like_batch
dtype = np.dtype(sys.argv[1])
eps = np.finfo(dtype).eps
rng = np.random.default_rng(7)
x = mnist_like_batch(rng, 300, 30, np.float32)
t = rng.integers(0, 4, 300)
report = {}
settings = {"lr": 0.05, "momentum": 0.8, "decay_rate": 0.95, "beta1": 0.85, "beta2": 0.99}
for name in optimizers.OPTIMIZERS:
    for gather in (False, True):
        for decay in (0.0, 0.01):
            make = lambda: TwoLayerNet(30, 7, 4, 0.3, seed=3, dtype=dtype, weight_decay_lambda=decay)
            fused, twin = make(), make()
            opt = optimizers.create(name, **settings)
            state = [{k: np.zeros_like(v) for k, v in twin.params.items()} for _ in range(BUFFERS[name])]
            for k in range(1, 31):
                rows = rng.integers(0, 300, 100 if k % 2 else 60)  # one chunk and two
                if gather:
                    fused.train_step(x, t, optimizer=opt, indices=rows)
                else:
                    fused.train_step(x[rows], t[rows], optimizer=opt)
                grads = twin.gradient(x[rows], t[rows])
                for key in twin.params:
                    globals()[name](settings, twin.params[key], grads[key], [b[key] for b in state], k)
            worst = lambda a, b: float(np.abs(a - b).max() / (eps * max(np.abs(b).max(), 1e-30)))
            diff = max(worst(fused.params[k], twin.params[k]) for k in twin.params)
            views = [getattr(opt, buffer) for buffer in opt.buffers]
            state_diff = max([worst(v[k], b[k]) for v, b in zip(views, state) for k in b] or [0])
            moved = min(float(np.abs(fused.params[k] - make().params[k]).max()) for k in twin.params)
            report[f"{name} gather={gather} decay={decay}"] = [diff, state_diff, float(moved / eps)]
print(json.dumps(report))
"""
)


@pytest.mark.parametrize("simd", ["1", "0"], ids=["simd", "portable"])
def test_each_fused_optimizer_follows_the_books_formula_over_many_steps(dtype, simd):
    child = run_python(FUSED_AGAINST_NUMPY, dtype.name, env={"TWOLAYER_SIMD": simd})
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout)
    assert len(report) == len(OPTIMIZERS) * 4
    for case, (diff, state_diff, moved) in report.items():
        # The same statements, rounded the same way: a few units of rounding at most after 30 steps, while the
        # parameters moved by far more.
        assert diff <= 16 and state_diff <= 16, (case, diff, state_diff)
        assert moved > 1000, (case, moved)


def numpy_statements() -> dict:
    namespace: dict = {}
    exec(NUMPY_STATEMENTS, namespace)
    return namespace


def data(rng, n=120):
    return mnist_like_batch(rng, n, 20), rng.integers(0, 3, n)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_update_is_the_books_formula_for_any_params(name):
    # A dict of plain arrays of any keys and shapes, as the book's MultiLayerNet has.
    statements = numpy_statements()
    rng = np.random.default_rng(1)
    params = {
        "W1": rng.standard_normal((4, 3)),
        "b1": np.zeros(3),
        "W7": rng.standard_normal((2, 5)),
    }
    twin = {k: v.copy() for k, v in params.items()}
    opt = OPTIMIZERS[name]()
    state = [
        {k: np.zeros_like(v) for k, v in params.items()} for _ in range(statements["BUFFERS"][name])
    ]
    for k in range(1, 21):
        grads = {key: rng.standard_normal(v.shape) for key, v in params.items()}
        opt.update(params, grads)
        for key in twin:
            statements[name](opt.settings, twin[key], grads[key], [b[key] for b in state], k)
    for key in params:
        np.testing.assert_array_equal(params[key], twin[key])
    for buffer, expected in zip(opt.buffers, state):
        for key in params:
            np.testing.assert_array_equal(getattr(opt, buffer)[key], expected[key])


def test_the_book_defaults_and_the_cores_names():
    assert tuple(OPTIMIZERS) == _core.OPTIMIZERS
    assert {n: len(c.buffers) for n, c in OPTIMIZERS.items()} == _core.STATE_BUFFERS
    assert SGD().settings == {"lr": 0.01}
    assert Momentum().settings == Nesterov().settings == {"lr": 0.01, "momentum": 0.9}
    assert AdaGrad().settings == {"lr": 0.01}
    assert RMSprop().settings == {"lr": 0.01, "decay_rate": 0.99}
    assert Adam().settings == {"lr": 0.001, "beta1": 0.9, "beta2": 0.999}
    assert repr(Adam(0.002)) == "Adam(lr=0.002, beta1=0.9, beta2=0.999)"
    assert (Momentum().v, AdaGrad().h, Adam().m, Adam().iter) == (None, None, None, 0)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_trainer_style_loop_with_every_optimizer(name, dtype):
    # The book's Trainer's step, written out: grads = network.gradient(x_batch, t_batch);
    # optimizer.update(network.params, grads); loss = network.loss(x_batch, t_batch). The same optimizer class
    # driving train_step gives the same parameters and losses.
    rng = np.random.default_rng(2)
    x, t = data(rng, 300)
    book, fused = (
        TwoLayerNet(20, 6, 3, "xavier", seed=4, dtype=dtype, weight_decay_lambda=1e-3) for _ in "ab"
    )
    book_opt, fused_opt = optimizers.create(name, lr=0.05), optimizers.create(name, lr=0.05)
    book_losses, fused_losses = [], []
    for _ in range(40):
        batch = rng.choice(300, 50)
        grads = book.gradient(x[batch], t[batch])
        book_opt.update(book.params, grads)
        book_losses.append(book.loss(x[batch], t[batch]))
        fused_losses.append(fused.train_step(x, t, optimizer=fused_opt, indices=batch))
    eps = float(np.finfo(dtype).eps)
    np.testing.assert_allclose(fused_losses, book_losses, rtol=64 * eps)
    assert book_losses[-1] < book_losses[0]  # it learns
    for key in book.params:
        np.testing.assert_allclose(fused.params[key], book.params[key], rtol=0, atol=64 * eps)
    assert getattr(fused_opt, "iter", 0) == getattr(book_opt, "iter", 0)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_the_state_saved_and_restored_resumes_exactly(tmp_path, name):
    rng = np.random.default_rng(3)
    x, t = data(rng)
    batches = [rng.choice(120, 30) for _ in range(20)]
    straight, resumed = TwoLayerNet(20, 5, 3, seed=1), TwoLayerNet(20, 5, 3, seed=1)
    opt = optimizers.create(name, lr=0.1)
    for batch in batches:
        straight.train_step(x, t, optimizer=opt, indices=batch)
    first = optimizers.create(name, lr=0.1)
    for batch in batches[:10]:
        resumed.train_step(x, t, optimizer=first, indices=batch)
    resumed.save(tmp_path / "net.npz")
    saved = first.state_dict()
    np.savez(tmp_path / "state.npz", state=saved["state"])
    with np.load(tmp_path / "state.npz") as stored:
        saved["state"] = stored["state"]
    again, later = TwoLayerNet.load(tmp_path / "net.npz"), optimizers.create(name, lr=0.5)
    later.load_state_dict(saved)
    assert later.settings == first.settings
    for batch in batches[10:]:
        again.train_step(x, t, optimizer=later, indices=batch)
    for key in straight.params:
        np.testing.assert_array_equal(again.params[key], straight.params[key])
    np.testing.assert_array_equal(later.state_dict()["state"], opt.state_dict()["state"])
    # Pickles and copies too, with their state's views still views of one buffer.
    for clone in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        np.testing.assert_array_equal(clone.state_dict()["state"], opt.state_dict()["state"])
        clone.v["W1"][0, 0] = 123.0
        assert 123.0 in clone.state_dict()["state"]


def test_the_state_is_one_buffer_laid_out_like_the_parameters():
    net, opt = TwoLayerNet(20, 5, 3, seed=1, dtype=np.float32), Adam()
    x, t = data(np.random.default_rng(0))
    net.train_step(x, t, optimizer=opt)
    flat = opt.state_dict()["state"]
    assert flat.dtype == np.float32 and flat.shape == (2 * (20 * 5 + 5 + 5 * 3 + 3),)
    assert opt.m is not None and opt.v is not None
    assert (
        opt.m["W1"].base is not None and opt.m["W1"].base is opt.v["b2"].base
    )  # views of one allocation
    np.testing.assert_array_equal(
        np.concatenate([opt.m[k].ravel() for k in net.params]), flat[: flat.size // 2]
    )
    assert opt.iter == 1
    # One optimizer per network: its state does not fit another's parameters.
    with pytest.raises(
        ValueError, match=r"holds the state of parameters W1\[20, 5\].*got W1\[20, 6\]"
    ):
        TwoLayerNet(20, 6, 3, dtype=np.float32).train_step(x, t, optimizer=opt)
    with pytest.raises(ValueError, match="state is float32, the network's parameters float64"):
        TwoLayerNet(20, 5, 3).train_step(x, t, optimizer=opt)
    assert opt.iter == 1  # a refused step counts nothing


BAD_SETTINGS = [
    (
        lambda: Momentum(momentum=1.0),
        ValueError,
        r"momentum must be finite and >= 0 and < 1, got 1.0",
    ),
    (
        lambda: Nesterov(momentum=-0.1),
        ValueError,
        r"momentum must be finite and >= 0 and < 1, got -0.1",
    ),
    (
        lambda: RMSprop(decay_rate=1.5),
        ValueError,
        r"decay_rate must be finite and >= 0 and < 1, got 1.5",
    ),
    (lambda: Adam(beta1=1.0), ValueError, r"beta1 must be finite and >= 0 and < 1, got 1.0"),
    (lambda: Adam(beta2=-1e-9), ValueError, r"beta2 must be finite and >= 0 and < 1, got -1e-09"),
    (lambda: Adam(beta2=math.nan), ValueError, r"beta2 must be finite and >= 0 and < 1, got nan"),
    (lambda: SGD(lr=0), ValueError, r"lr must be finite and > 0, got 0"),
    (lambda: AdaGrad(lr=math.inf), ValueError, r"lr must be finite and > 0, got inf"),
    (lambda: Adam(lr="0.1"), TypeError, r"lr must be a real number, got str"),
    (lambda: Momentum(momentum=True), TypeError, r"momentum must be a real number, got bool"),
    (
        lambda: optimizers.create("adamw", lr=0.1),
        ValueError,
        r"optimizer must be one of \('sgd', .*'adam'\), got 'adamw'",
    ),
]


@pytest.mark.parametrize(("make", "error", "message"), BAD_SETTINGS)
def test_bad_settings_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_bad_fused_steps_are_clear_errors():
    net = TwoLayerNet(20, 5, 3)
    x, t = data(np.random.default_rng(0))
    with pytest.raises(TypeError, match="a learning_rate or an optimizer"):
        net.train_step(x, t, 0.1, optimizer=SGD())
    with pytest.raises(TypeError, match="a learning_rate or an optimizer"):
        net.train_step(x, t)
    with pytest.raises(TypeError, match="optimizer must be one of twolayer.optimizers'.*got str"):
        net.train_step(x, t, optimizer="adam")
    with pytest.raises(ValueError, match="learning_rate must be finite in float32"):
        TwoLayerNet(20, 5, 3, dtype=np.float32).train_step(x, t, optimizer=SGD(lr=1e39))
    # The core refuses a state that is not the optimizer's (direct callers of the extension).
    core = net._core
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd', 'momentum'.*got 'lion'"):
        core.train_step(x, t, 0.1, optimizer="lion")
    with pytest.raises(TypeError, match="state must be an array of 123 values of float64"):
        core.train_step(x, t, 0.1, optimizer="momentum")
    with pytest.raises(TypeError, match="state must be an array of 123 values of float64"):
        core.train_step(x, t, 0.1, optimizer="momentum", state=np.zeros(123, np.float32))
    with pytest.raises(ValueError, match=r"state must be 246 values of float64.*got \(123,\)"):
        core.train_step(x, t, 0.1, optimizer="adam", state=np.zeros(123))
    with pytest.raises(ValueError, match="state must be 123 values"):
        core.train_step(x, t, 0.1, optimizer="adagrad", state=np.zeros(246)[::2])
    with pytest.raises(TypeError, match="unknown optimizer setting 'gamma'"):
        core.train_step(x, t, 0.1, optimizer="sgd", settings={"gamma": 1.0})


def test_a_bad_saved_state_is_refused_whole():
    opt = Adam()
    opt.update({"W": np.ones(3)}, {"W": np.ones(3)})
    saved = opt.state_dict()
    for change, message in [
        ({"optimizer": "sgd"}, "the state is of optimizer 'sgd', not 'adam'"),
        ({"beta1": 1.0}, r"beta1 must be finite and >= 0 and < 1"),
        ({"iter": -1}, "Adam's iter must be an int >= 0, got -1"),
        (
            {"state": np.zeros(5)},
            r"the state must be float32 or float64 of shape \(6,\), got float64\[5\]",
        ),
        ({"layout": 3}, "the layout must be a list of"),
    ]:
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict({**saved, **change})
        assert opt.iter == 1 and opt.m is not None  # unchanged


def test_the_optimizers_benchmark_runs_and_agrees(tmp_path, mnist_dir):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "bench" / "optimizers.py"
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(script), "--quick", "--mnist", str(mnist_dir), "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results["float64"]["differences_in_eps"]) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", ["adam", "rmsprop"])
def test_the_fused_update_is_the_same_on_any_number_of_threads(name):
    import twolayer

    x, t = data(np.random.default_rng(5), 600)
    results = []
    before = twolayer.get_num_threads()
    try:
        for threads in (1, 2, 3):
            twolayer.set_num_threads(threads)
            net, opt = TwoLayerNet(20, 40, 3, seed=2), optimizers.create(name, lr=0.01)
            for start in range(0, 600, 300):  # two rounds of chunks each step at 3 threads
                net.train_step(x[start : start + 300], t[start : start + 300], optimizer=opt)
            results.append(
                (
                    np.concatenate([v.ravel() for v in net.params.values()]),
                    opt.state_dict()["state"],
                )
            )
    finally:
        twolayer.set_num_threads(before)
    for params, state in results[1:]:
        np.testing.assert_array_equal(params, results[0][0])
        np.testing.assert_array_equal(state, results[0][1])
