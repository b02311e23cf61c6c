"""Steps of the book's run, for an instruction count under callgrind (docs/performance.md).

    valgrind --tool=callgrind python bench/profile_step.py MODE DTYPE STEPS

MODE: book (net.gradient, the four NumPy updates, net.loss), fused (net.train_step), noloss
(train_step with return_loss=False) or none (everything but the steps: the baseline to subtract).
One thread, so that the count does not include the pool's waiting. MNIST from $TWOLAYER_MNIST_DIR,
else twolayer's cache.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import twolayer
from twolayer import TwoLayerNet
from twolayer.datasets import load_mnist

twolayer.set_num_threads(1)
(x, t), _ = load_mnist(data_dir=os.environ.get("TWOLAYER_MNIST_DIR"), download=False)
t = t.astype(np.int64)
mode, dtype, steps = sys.argv[1], np.dtype(sys.argv[2]), int(sys.argv[3])
net = TwoLayerNet(784, 50, 10, dtype=dtype, seed=0)
rng = np.random.default_rng(0)
batches = [rng.choice(len(x), 100) for _ in range(steps)]


def book(rows: np.ndarray) -> None:
    x_batch, t_batch = x[rows], t[rows]
    grads = net.gradient(x_batch, t_batch)
    for key in grads:
        net.params[key] -= 0.1 * grads[key]
    net.loss(x_batch, t_batch)


run = {
    "book": book,
    "fused": lambda rows: net.train_step(x, t, 0.1, indices=rows),
    "noloss": lambda rows: net.train_step(x, t, 0.1, indices=rows, return_loss=False),
    "none": lambda rows: None,
}[mode]
for rows in batches:
    run(rows)
