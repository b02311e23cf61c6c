"""Ctrl-C: SIGINT during a long numerical_gradient or a training run returns control within a
second (as KeyboardInterrupt, or as a history marked interrupted), and leaves the net and its
parameters whole and usable. (How train and the command report an interruption is tested beside
them, with a KeyboardInterrupt raised in the loop.)

Most long calls run in a separate interpreter that the test sends SIGINT to, so that neither a
hang nor a crash can take the test run with it; the last test signals this process itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet
from twolayer.training import train

CHILD = """
import time
import numpy as np
from twolayer import TwoLayerNet
from twolayer.reference import mnist_like_batch

net = TwoLayerNet(784, 50, 10, dtype=np.{dtype}, seed=0)
rng = np.random.default_rng(0)
x = mnist_like_batch(rng, {n}, 784, np.float32)
t = rng.integers(0, 10, {n})
params = {{k: v.copy() for k, v in net.params.items()}}
probe = net.predict(x[:5])
print("started", flush=True)
try:
    net.numerical_gradient(x, t, method="{method}")
    print("finished: the call was not long enough to interrupt", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)
for key, value in params.items():
    assert np.array_equal(net.params[key], value), key + " changed"
assert np.array_equal(net.predict(x[:5]), probe), "predict changed"
short = net.numerical_gradient(x[:2], t[:2], method="{method}")
assert all(np.isfinite(g).all() for g in short.values())
print("intact", flush=True)
"""

# Sizes for calls that take minutes uninterrupted (hours for the naive method).
BATCH = {"naive": 100, "incremental": 20000}


def _interrupt(child: subprocess.Popen) -> list[str]:
    """Waits for the child to say it started, lets it run for half a second, sends SIGINT; the
    lines it printed afterwards, the first of which must be 'interrupted <its monotonic clock>',
    within a second of the signal."""
    try:
        assert child.stdout.readline().strip() == "started", child.stderr.read()
        time.sleep(0.5)  # well inside the long call
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        pytest.fail(f"the child did not stop after SIGINT: {out!r} {err!r}")
    finally:
        if child.poll() is None:
            child.kill()
    lines = out.splitlines()
    assert child.returncode == 0, f"{out}\n{err}"
    assert lines and lines[0].startswith("interrupted"), lines
    latency = float(lines[0].split()[1]) - sent  # CLOCK_MONOTONIC is shared by all processes
    assert latency < 1.0, f"control came back {latency:.2f} s after SIGINT"
    return lines


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("method", ["naive", "incremental"])
def test_ctrl_c_stops_numerical_gradient_within_a_second(method: str, dtype: str) -> None:
    code = CHILD.format(dtype=dtype, method=method, n=BATCH[method])
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines = _interrupt(child)
    assert lines[1] == "intact"


# --- Training ---------------------------------------------------------------------------------


class _SignalDuringUpdate(dict):
    """A params dict that delivers a real SIGINT while the update of iteration `at` is half done
    (W1 and b1 updated, W2 and b2 not yet)."""

    def __init__(self, params: dict, at: int) -> None:
        super().__init__(params)
        self.updates, self.at = 0, at

    def __setitem__(self, key: str, value: np.ndarray) -> None:
        super().__setitem__(key, value)
        if key == "b1":
            if self.updates == self.at:
                signal.raise_signal(signal.SIGINT)
            self.updates += 1


def _small_problem():
    rng = np.random.default_rng(0)
    x = rng.random((200, 12))
    t = rng.integers(0, 3, 200)
    return x, t, x[:50], t[:50]


def test_ctrl_c_during_the_update_never_leaves_a_torn_network() -> None:
    """Ctrl-C lands wherever it lands; the network it leaves is exactly the one of the iterations
    the history recorded, never one with some parameters of the next iteration."""
    data = _small_problem()
    net = ReferenceNet(12, 5, 3, weight_init_std=0.3, seed=0)
    net.params = _SignalDuringUpdate(net.params, at=7)
    history = train(
        net, *data, iters_num=50, batch_size=20, learning_rate=0.5, seed=1, progress=False
    )
    assert history.interrupted

    done = len(history.train_loss_list)
    replay = ReferenceNet(12, 5, 3, weight_init_std=0.3, seed=0)
    train(replay, *data, iters_num=done, batch_size=20, learning_rate=0.5, seed=1, progress=False)
    for key in replay.params:
        np.testing.assert_array_equal(net.params[key], replay.params[key], err_msg=key)


TRAINING_CHILD = """
import time
import numpy as np
from twolayer import TwoLayerNet
from twolayer.reference import mnist_like_batch
from twolayer.training import train

rng = np.random.default_rng(0)
x = mnist_like_batch(rng, 2000, 784, np.float32)
t = rng.integers(0, 10, 2000)
net = TwoLayerNet(784, 50, 10, seed=0)
print("started", flush=True)
history = train(net, x, t, x[:200], t[:200], iters_num=10**6, gradient="{gradient}", seed=0, progress=False)
done = len(history.train_loss_list)
print("interrupted", time.monotonic(), history.interrupted, done, flush=True)
# The net is exactly the one after the recorded iterations: no update was lost or left half done.
replay = TwoLayerNet(784, 50, 10, seed=0)
if done:
    train(replay, x, t, x[:200], t[:200], iters_num=done, gradient="{gradient}", seed=0, progress=False)
for key in net.params:
    assert np.array_equal(net.params[key], replay.params[key]), key
print("intact", flush=True)
"""


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_ctrl_c_stops_training_within_a_second(gradient: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", TRAINING_CHILD.format(gradient=gradient)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = _interrupt(child)
    words = lines[0].split()
    assert words[0] == "interrupted" and words[2] == "True", lines
    if gradient == "backprop":  # hundreds of iterations fit in the half second before the signal
        assert int(words[3]) >= 1
    # (a numerical gradient may still be in its first iteration, under the sanitizers)
    assert lines[1] == "intact", lines


def test_real_ctrl_c_during_a_long_numerical_gradient(mnist):
    (x_train, t_train), (x_test, t_test) = mnist
    net = TwoLayerNet(784, 100, 10, seed=0)
    main = threading.main_thread().ident
    timer = threading.Timer(0.5, signal.pthread_kill, (main, signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        # Far more iterations than fit in the half second before the signal (about 100 a second here).
        history = train(
            net,
            x_train,
            t_train,
            x_test,
            t_test,
            iters_num=10000,
            gradient="numerical",
            progress=False,
        )
    finally:
        timer.cancel()
        timer.join()
    assert history.interrupted
    assert time.perf_counter() - start < 5
    assert all(np.isfinite(net.params[key]).all() for key in net.params)
