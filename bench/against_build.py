"""The quiet rows (gradient at batch 100, accuracy over 60,000 rows, numerical_gradient) of this
build against another build of twolayer, side by side: the two interpreters take turns, each
timing in a child process of its own, and the medians of their turns are compared.

    python bench/against_build.py /path/to/other/venv/bin/python [--turns 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, time, numpy as np, twolayer
from twolayer import TwoLayerNet
rng = np.random.default_rng(0)
x = rng.random((60000, 784), dtype=np.float32)
x[rng.random(x.shape) < 0.81] = 0
t = rng.integers(0, 10, 60000)
net = TwoLayerNet(784, 50, 10, seed=0)

def median(f, calls):
    f()
    seconds = []
    for _ in range(calls):
        t0 = time.perf_counter()
        f()
        seconds.append(time.perf_counter() - t0)
    return float(np.median(seconds))

print(json.dumps({
    "gradient, batch 100": median(lambda: net.gradient(x[:100], t[:100]), 2000),
    "accuracy, 60,000 rows": median(lambda: net.accuracy(x, t), 10),
    "numerical_gradient, batch 100": median(lambda: net.numerical_gradient(x[:100], t[:100]), 5),
}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("other", help="the Python interpreter of the other build")
    parser.add_argument("--turns", type=int, default=5)
    args = parser.parse_args()
    interpreters = {"this build": sys.executable, "other build": args.other}
    turns: dict[str, list[dict[str, float]]] = {name: [] for name in interpreters}
    for turn in range(args.turns):
        for name, python in list(interpreters.items())[:: 1 if turn % 2 == 0 else -1]:
            out = subprocess.run([python, "-c", CHILD], capture_output=True, text=True, check=True)
            turns[name].append(json.loads(out.stdout))
    print("| benchmark | this build | other build | this / other |\n|---|---:|---:|---:|")
    for key in turns["this build"][0]:
        ours, other = (float(np.median([t[key] for t in turns[name]])) for name in interpreters)
        print(f"| {key} | {ours * 1e6:,.1f} µs | {other * 1e6:,.1f} µs | {ours / other:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
