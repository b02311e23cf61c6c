"""Ctrl-C: SIGINT during a long numerical_gradient returns control within a second as
KeyboardInterrupt, and leaves the net and its parameters as they were and usable.

The long call runs in a separate interpreter that the test sends SIGINT to, so that neither a
hang nor a crash can take the test run with it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

CHILD = """
import time
import numpy as np
from twolayer import TwoLayerNet

net = TwoLayerNet(784, 50, 10, dtype=np.{dtype}, seed=0)
rng = np.random.default_rng(0)
x = rng.random(({n}, 784), dtype=np.float32)
x[rng.random(x.shape) < 0.81] = 0
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


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("method", ["naive", "incremental"])
def test_ctrl_c_stops_numerical_gradient_within_a_second(method: str, dtype: str) -> None:
    code = CHILD.format(dtype=dtype, method=method, n=BATCH[method])
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "started", child.stderr.read()
        time.sleep(0.5)  # well inside the call
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
    assert lines[0].startswith("interrupted"), lines
    latency = float(lines[0].split()[1]) - sent  # CLOCK_MONOTONIC is shared by all processes
    assert latency < 1.0, f"control came back {latency:.2f} s after SIGINT"
    assert lines[1] == "intact"
