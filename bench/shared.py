"""The "shared machine" benchmarks of bench/run.py: the core when it does not have the machine to
itself. Each scenario runs the core with its default thread count and on 1 thread (and NumPy where
it applies) side by side in one run, and reports their ratios.

1. interleaved: blocks of 100 gradient calls alternate with blocks of 100 NumPy reference
   gradients in the same process (OpenBLAS's threads spin between the blocks);
2. two processes: two `twolayer train` runs started together;
3. a busy neighbour: `twolayer train` while another process spins on one core.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from common import Bench, Row, fmt_time

import twolayer
from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet

ROUNDS = 5


def _block(call: Callable[[], object], calls: int) -> float:
    """The median seconds per call over a block of `calls` calls."""
    seconds = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - t0)
    return float(np.median(seconds))


def interleaved(bench: Bench, x: np.ndarray, t: np.ndarray, calls: int = 100) -> Row:
    """Rounds of a block of core gradients, then a block of NumPy reference gradients; for each
    thread count, the median per call of every round."""
    ours = TwoLayerNet(784, 50, 10, seed=0)
    numpy_net = ReferenceNet.from_params(ours.params)
    expected, got = numpy_net.gradient(x, t), ours.gradient(x, t)
    difference = max(
        float(np.abs(got[k] - expected[k]).max() / np.abs(expected[k]).max()) for k in expected
    )
    rounds: dict[str, list[float]] = {"ours": [], "ours, 1 thread": [], "numpy": []}
    for name, count in (("ours", bench.threads), ("ours, 1 thread", 1)):
        twolayer.set_num_threads(count)
        for _ in range(ROUNDS):
            rounds[name].append(_block(lambda: ours.gradient(x, t), calls))
            rounds["numpy"].append(_block(lambda: numpy_net.gradient(x, t), calls))
    twolayer.set_num_threads(bench.threads)
    return {
        "benchmark": "shared: interleaved with NumPy",
        "case": f"gradient, batch 100, float64; {ROUNDS} rounds of {calls} calls, then {calls} NumPy gradients",
        "seconds": {name: float(np.median(r)) for name, r in rounds.items()},
        "worst_round": {name: max(r) for name, r in rounds.items()},
        "rounds": rounds,
        "agreement": {
            "ours": bench.check("shared: interleaved gradient against NumPy", difference, 1e-9)
        },
    }


def _train_command(mnist: Path, iters: int, threads: int | None, out: Path) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "twolayer",
        "train",
        "--iters",
        str(iters),
        "--data-dir",
        str(mnist),
        "--seed",
        "0",
        "--out",
        str(out),
    ]
    if threads is not None:
        command += ["--num-threads", str(threads)]
    return command


def _final_test_accuracy(out: Path) -> float:
    return float(json.loads((out / "history.json").read_text())["test_acc_list"][-1])


def _wall(commands: list[list[str]]) -> float:
    """Seconds from starting the commands together until the last one ends."""
    t0 = time.perf_counter()
    processes = [
        subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands
    ]
    for p in processes:
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, p.args))} failed:\n{err.decode()[-2000:]}")
    return time.perf_counter() - t0


def _spinner() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def processes(bench: Bench, iters: int, repeats: int) -> list[Row]:
    """Two training runs at once, and one beside a spinning process; default threads against
    --num-threads 1, taking turns, medians of `repeats`. The runs must reach the same accuracy."""
    seconds: dict[str, dict[str, list[float]]] = {"two": {}, "busy": {}}
    accuracy: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / "a", Path(tmp) / "b"]
        for _ in range(repeats):
            for name, threads in (("ours", None), ("ours, 1 thread", 1)):
                two = [_train_command(bench.mnist, iters, threads, out) for out in outs]
                seconds["two"].setdefault(name, []).append(_wall(two))
                spinner = _spinner()
                try:
                    busy = _wall([_train_command(bench.mnist, iters, threads, outs[0])])
                finally:
                    spinner.kill()
                    spinner.wait()
                seconds["busy"].setdefault(name, []).append(busy)
                accuracy[name] = _final_test_accuracy(outs[0])
    cases = {
        "two": (
            "shared: two processes",
            f"two `twolayer train --iters {iters}` started together, wall time",
        ),
        "busy": (
            "shared: busy neighbour",
            f"`twolayer train --iters {iters}` beside a process spinning on one core",
        ),
    }
    # The thread count changes the gradient's rounding only: the outcomes must agree.
    agreement = {
        "ours": bench.check(
            "shared: final test accuracy, default threads against 1 thread",
            abs(accuracy["ours"] - accuracy["ours, 1 thread"]),
            0.01 if iters >= 1000 else 0.05,
        )
    }
    return [
        {
            "benchmark": cases[key][0],
            "case": cases[key][1],
            "agreement": agreement,
            "seconds": {name: float(np.median(s)) for name, s in runs.items()},
            "all_seconds": runs,
        }
        for key, runs in seconds.items()
    ]


def bench_shared(bench: Bench) -> list[Row]:
    """The scenarios above; the two with `twolayer train` only when MNIST was found."""
    x_train, t_train = bench.data.x_train, bench.data.t_train
    batch = np.random.default_rng(6).choice(len(x_train), 100)
    x, t = x_train[batch], t_train[batch]
    rows = [interleaved(bench, x, t, calls=10 if bench.quick else 100)]
    if bench.data.from_files:  # not load_data's random stand-in: `twolayer train` needs the files
        rows += processes(bench, 20 if bench.quick else 3000, 1 if bench.quick else 3)
    for row in rows:
        row["dtype"] = "float64"
    return rows


def shared_table(rows: list[Row], bench: Bench) -> str:
    out = [
        "| scenario | case | ours (default threads) | ours, 1 thread | default / 1 thread | NumPy | NumPy / ours |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        s = row["seconds"]
        numpy_time, numpy_ratio = "–", "–"
        if "numpy" in s:
            numpy_time, numpy_ratio = fmt_time(s["numpy"]), f"{s['numpy'] / s['ours']:.1f}×"
        out.append(
            f"| {row['benchmark'].removeprefix('shared: ')} | {row['case']} | {fmt_time(s['ours'])} | "
            f"{fmt_time(s['ours, 1 thread'])} | {s['ours'] / s['ours, 1 thread']:.2f}× | "
            f"{numpy_time} | {numpy_ratio} |"
        )
    return "\n".join(out)


if __name__ == "__main__":  # the shared-machine section alone: python bench/shared.py [--quick]
    from common import DEFAULT_MNIST, available_cpus, load_data

    quick = "--quick" in sys.argv
    bench = Bench(load_data(DEFAULT_MNIST, quick), quick, available_cpus(), False, DEFAULT_MNIST)
    rows = bench_shared(bench)
    print(shared_table(rows, bench))
    for row in rows:
        print(
            row["benchmark"],
            {
                k: [round(v * 1e6) if v < 1 else round(v, 2) for v in r]
                for k, r in (row.get("rounds") or row["all_seconds"]).items()
            },
        )
