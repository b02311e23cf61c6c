"""Leaks: resident memory does not grow over tens of thousands of calls of every method, error
paths included.

The calls run in a fresh interpreter, which reports its resident set size (from
/proc/self/statm) after a warm-up and again after the measured calls. A leak of even 16 bytes
a call shows as 320 KiB over 20000 calls; the allowance below is well under that, and a
deliberate leak of one small object a call (the control) must exceed it.
"""

from __future__ import annotations

import json

import pytest
from isolation import run_python, sanitized

CALLS = 20_000
ALLOWED_GROWTH = 128 * 1024  # bytes

CHILD = r"""
import gc, json, os, sys
import numpy as np
import twolayer
from twolayer import TwoLayerNet

PAGE = os.sysconf("SC_PAGE_SIZE")
CALLS = int(sys.argv[1])

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE

rng = np.random.default_rng(0)
net = TwoLayerNet(20, 8, 5, seed=0)
net32 = TwoLayerNet(20, 8, 5, seed=0, dtype=np.float32)
x = rng.random((64, 20)); x[x < 0.5] = 0
t = rng.integers(0, 5, 64)
rows = np.eye(5)[t]
values = {k: v.copy() for k, v in net.params.items()}
threads = [1, 2]

def fails(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except (TypeError, ValueError, KeyError, MemoryError):
        return
    raise AssertionError("expected an error")

def toggle_threads():
    threads.reverse()
    twolayer.set_num_threads(threads[0])
    net.predict(x)  # a new pool on every call: threads started and joined

CASES = {
    "construct": lambda: TwoLayerNet(20, 8, 5),
    "construct-float32": lambda: TwoLayerNet(20, 8, 5, dtype=np.float32),
    "params-views": lambda: net._core.params,
    "params-assign": lambda: net.params.__setitem__("W1", values["W1"]),
    "params-replace": lambda: setattr(net, "params", values),
    "predict": lambda: net.predict(x),
    "predict-float32-net": lambda: net32.predict(x),
    "predict-converted-input": lambda: net.predict(x[:, ::2].repeat(2, axis=1)),
    "predict-one-sample": lambda: net.predict(x[0]),
    "loss": lambda: net.loss(x, t),
    "loss-rows": lambda: net.loss(x, rows),
    "accuracy": lambda: net.accuracy(x, t),
    "gradient": lambda: net.gradient(x, t),
    "gradient-rows": lambda: net32.gradient(x, rows),
    # each numerical_gradient call starts a thread (to watch for Ctrl-C): a quarter as many calls
    "numerical-incremental": lambda: net.numerical_gradient(x[:4], t[:4]),
    "numerical-naive": lambda: net32.numerical_gradient(x[:2], t[:2], method="naive"),
    "error-bad-x": lambda: fails(net.predict, np.zeros((3, 7))),
    "error-bad-dtype": lambda: fails(net.loss, x.astype(complex), t),
    "error-bad-label": lambda: fails(net.gradient, x, t + 5),
    "error-bad-h": lambda: fails(net.numerical_gradient, x, t, h=-1.0),
    "error-bad-params": lambda: fails(net.params.__setitem__, "b1", np.zeros(3)),
    "error-out-of-memory": lambda: fails(net.predict, np.broadcast_to(x[0], (2**40, 20))),
    "set-num-threads": toggle_threads,
    # the control: a real leak of one small object a call, which the measurement must see
    "control-leak": lambda: kept.append(bytes(48)),
}
kept = []
FEWER = {"numerical-incremental", "numerical-naive", "set-num-threads"}

growth = {}
for name, call in CASES.items():
    n = CALLS // 4 if name in FEWER else CALLS
    for _ in range(n // 20):  # warm-up: caches, free lists, scratch space at full size
        call()
    gc.collect()
    before = rss()
    for _ in range(n):
        call()
    gc.collect()
    growth[name] = rss() - before
print(json.dumps(growth))
"""


@pytest.mark.skipif(
    sanitized(), reason="ASan's quarantine holds freed memory, so RSS grows by design"
)
def test_memory_does_not_grow_over_many_calls() -> None:
    result = run_python(CHILD, str(CALLS), timeout=300)
    assert result.returncode == 0, result.stderr
    growth = json.loads(result.stdout.splitlines()[-1])
    assert growth.pop("control-leak") > 4 * ALLOWED_GROWTH, "the measurement misses a real leak"
    leaking = {name: grew for name, grew in growth.items() if grew > ALLOWED_GROWTH}
    assert not leaking, f"resident memory grew (bytes over {CALLS} calls): {leaking}"
