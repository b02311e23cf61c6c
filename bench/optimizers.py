"""The book's optimizers on the book's loop (784-50-10 sigmoid net, batches of 100 MNIST images, each optimizer's
book default learning rate): for each optimizer, steps fused in the core (``net.train_step(x, t, optimizer=opt,
indices=batch)``) against the book's loop with the book-style class on the same net (``grads = net.gradient(x_batch,
t_batch); opt.update(net.params, grads); net.loss(x_batch, t_batch)``), and against that loop on the book's NumPy
network (``twolayer.reference.ReferenceNet``): chapter 6 as the book's own code runs it.

    python bench/optimizers.py            # about a minute on 2 cores
    python bench/optimizers.py --quick    # a few steps each: proves that it runs; asserts no speed

The two ways on the core's net take turns in rounds, in one process, so that a noisy machine slows each alike (the
NumPy net's rounds come after theirs, its OpenBLAS threads spinning on after each product); the report gives the
median seconds per step over the rounds and the ratios fused Adam / fused SGD, book loop / fused and NumPy net / fused.
All ways start from the same parameters and take the same batches; the two on the core's net must end with the same
parameters (to rounding), the NumPy net with the same accuracy within 0.01; the script fails (exit status 1) otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import twolayer
from twolayer import TwoLayerNet, optimizers
from twolayer.datasets import load_mnist
from twolayer.reference import ReferenceNet

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = Path(os.environ.get("TWOLAYER_MNIST_DIR", ROOT.parent / "shared" / "mnist"))
DEFAULT_JSON = ROOT / "bench" / "results-optimizers.json"
# The book's learning rates in ch06/optimizer_compare_mnist.py: each class's default.
RATES = {
    "sgd": 0.01,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 0.01,
    "adam": 0.001,
}


def fused_steps(net, opt, x, t, batches):
    for batch in batches:
        net.train_step(x, t, optimizer=opt, indices=batch)


def book_steps(net, opt, x, t, batches):
    for batch in batches:
        x_batch, t_batch = x[batch], t[batch]
        grads = net.gradient(x_batch, t_batch)
        opt.update(net.params, grads)
        net.loss(x_batch, t_batch)


def measure(x, t, steps, rounds, dtype):
    """Median seconds per step of each (optimizer, way) over `rounds` rounds, and the largest difference between the
    two ways' final parameters in units of eps."""
    ways = {"fused": fused_steps, "book loop": book_steps, "NumPy net": book_steps}
    nets = {
        (name, way): TwoLayerNet(784, 50, 10, seed=0, dtype=dtype) for name in RATES for way in ways
    }
    for name in RATES:  # the book's own code: its NumPy network, from the same parameters
        nets[name, "NumPy net"] = ReferenceNet.from_params(nets[name, "fused"].params, dtype)
    opts = {key: optimizers.create(key[0], lr=RATES[key[0]]) for key in nets}
    seconds: dict[tuple[str, str], list[float]] = {key: [] for key in nets}
    rng = np.random.default_rng(0)
    plan = [[rng.integers(0, len(x), 100) for _ in range(steps)] for _ in range(rounds)]
    # The NumPy net's rounds after the core's: OpenBLAS's threads spin on after each product and
    # would hold a CPU from the core's second thread (docs/performance.md, "A shared machine").
    for group in (("fused", "book loop"), ("NumPy net",)):
        for batches in plan:
            for name in RATES:
                for way in group:
                    start = time.perf_counter()
                    ways[way](nets[name, way], opts[name, way], x, t, batches)
                    seconds[name, way].append((time.perf_counter() - start) / steps)
    eps = float(np.finfo(dtype).eps)
    differences = {
        name: max(
            float(np.abs(nets[name, "fused"].params[k] - nets[name, "book loop"].params[k]).max())
            / (eps * float(np.abs(nets[name, "book loop"].params[k]).max()))
            for k in nets[name, "fused"].params
        )
        for name in RATES
    }
    # NumPy sums in another order, and RMSprop's steps carry such differences far: the NumPy net is
    # held to the same accuracy (on 10,000 training images) within 0.01, as the whole runs are.
    accuracy_gaps = {
        name: abs(
            nets[name, "fused"].accuracy(x[:10_000], t[:10_000])
            - nets[name, "NumPy net"].accuracy(x[:10_000], t[:10_000])
        )
        for name in RATES
    }
    return {key: statistics.median(s) for key, s in seconds.items()}, differences, accuracy_gaps


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few steps each, once")
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="the MNIST folder")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of every way (default: 7)")
    parser.add_argument("--steps", type=int, default=200, help="steps per round (default: 200)")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help="where to write the results"
    )
    args = parser.parse_args(argv)
    rounds, steps = (1, 5) if args.quick else (args.rounds, args.steps)
    (x, t), _ = load_mnist(normalize=True, data_dir=args.mnist, download=False)
    results = {
        "machine": {
            "cpu": twolayer.show_config("dicts")["runtime"]["cpu"],
            "threads": twolayer.get_num_threads(),
            "numpy": np.__version__,
        },
        "rounds": rounds,
        "steps": steps,
    }
    failed = False
    for dtype in (np.float64, np.float32):
        seconds, differences, accuracy_gaps = measure(x, t, steps, rounds, dtype)
        sgd = seconds["sgd", "fused"]
        print(f"\n## {np.dtype(dtype).name}: {rounds} rounds of {steps} steps, median per step\n")
        print(
            "| optimizer | fused | book loop | book / fused | NumPy net | NumPy / fused "
            "| fused / fused SGD | book loop's difference (eps) | NumPy net's accuracy gap |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name in RATES:
            fused, book = seconds[name, "fused"], seconds[name, "book loop"]
            numpy_net = seconds[name, "NumPy net"]
            print(
                f"| {name} | {fused * 1e6:.0f} µs | {book * 1e6:.0f} µs | {book / fused:.2f}× "
                f"| {numpy_net * 1e6:.0f} µs | {numpy_net / fused:.2f}× | {fused / sgd:.2f}× "
                f"| {differences[name]:.1f} | {accuracy_gaps[name]:.4f} |"
            )
        # The book loop takes the core's passes and the book's statements: the same to rounding
        # (float32 Adam rounds lr_t differently, see docs/chapter6.md).
        failed |= any(d > 64 for d in differences.values())
        failed |= any(gap > 0.01 for gap in accuracy_gaps.values())
        results[np.dtype(dtype).name] = {
            "seconds": {f"{n} {w}": s for (n, w), s in seconds.items()},
            "differences_in_eps": differences,
            "numpy_net_accuracy_gaps": accuracy_gaps,
        }
    print(f"\n{results['machine']}")
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    if failed:
        print("the two ways disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
