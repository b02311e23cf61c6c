"""The C++ core against the NumPy reference (and PyTorch when it is installed), side by side.

    python bench/run.py            # the full run: 8 to 10 minutes on 2 cores
    python bench/run.py --quick    # tiny sizes: proves that every benchmark runs; asserts no speed

Every comparison runs in this one process, the implementations taking turns (so that a busy moment
of the machine hits them alike), and reports medians of the repeats and their ratios. Each also
checks that the implementations agree: a fast wrong answer must not win, and the run fails (exit
status 1) if any pair disagrees. Prints markdown tables and writes everything to a JSON file.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nets import TorchNet  # noqa: E402
from shared import bench_shared, shared_table  # noqa: E402

import twolayer  # noqa: E402
from twolayer import TwoLayerNet  # noqa: E402
from twolayer._core import PARAM_NAMES  # noqa: E402
from twolayer.datasets import cache_dir, load_mnist  # noqa: E402
from twolayer.reference import (  # noqa: E402
    ReferenceNet,
    mnist_like_batch,
    numerical_gradient,
    train_like_the_book,
)
from twolayer.training import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Where `twolayer train` keeps MNIST, unless $TWOLAYER_MNIST_DIR says otherwise.
DEFAULT_MNIST = Path(os.environ.get("TWOLAYER_MNIST_DIR") or cache_dir())
DEFAULT_JSON = ROOT / "bench" / "results.json"
failures: list[str] = []  # comparisons whose results disagree


# ---------------------------------------------------------------------------------------------
# The machine, the data


def machine(threads: int) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "threads": threads,
        "kernels": kernels_in_use(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "twolayer": twolayer.__version__,
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def kernels_in_use() -> str:
    """The core's kernels as it chooses them at start-up: AVX2 where the CPU has AVX2 and FMA,
    unless TWOLAYER_SIMD is 0 or off."""
    if os.environ.get("TWOLAYER_SIMD") in ("0", "off"):
        return "portable (TWOLAYER_SIMD)"
    try:
        flags = next(
            line
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        ).split()
    except (OSError, StopIteration):
        return "unknown"
    return "avx2" if "avx2" in flags and "fma" in flags else "portable"


def load_data(mnist_dir: Path, quick: bool):
    """MNIST as the book loads it: float32 pixels in [0, 1], one-hot float32 label rows. Falls back
    to random MNIST-like data (81% zeros) when the files are missing, saying so."""
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(
            normalize=True, one_hot_label=True, data_dir=mnist_dir, download=False
        )
        source = f"MNIST from {mnist_dir}"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        x_train, x_test = (mnist_like_batch(rng, n, 784, np.float32) for n in (60000, 10000))
        t_train, t_test = (
            np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)] for n in (60000, 10000)
        )
        source = f"random MNIST-like data (no MNIST files in {mnist_dir})"
    if quick:  # small, so that the per-epoch accuracy of the quick book run stays quick
        x_train, t_train, x_test, t_test = (
            x_train[:3000],
            t_train[:3000],
            x_test[:1000],
            t_test[:1000],
        )
    return x_train, t_train, x_test, t_test, source


# ---------------------------------------------------------------------------------------------
# Timing and checking


SECTIONS = (
    "gradient",
    "accuracy",
    "numerical gradient",
    "book run",
    "numerical-gradient training",
    "scaling",
    "activation",
    "shared machine",
)
SETTLE = 0.2  # seconds of rest between implementations (see timed()); less in --quick mode


def timed(fns: dict, repeats: int, min_seconds: float = 0.0) -> dict:
    """Median seconds per call of each function. The functions take turns in blocks of calls
    (at least `repeats` calls each, more until `min_seconds` have passed), with a rest of SETTLE
    seconds between blocks: after a call, OpenBLAS's and PyTorch's worker threads spin a while
    waiting for more work, and on a machine of few cores they would otherwise slow the next
    implementation down. One warm-up call each first."""
    for f in fns.values():
        f()
    samples = {name: [] for name in fns}
    rounds = 5
    per_block = max(1, -(-repeats // rounds))
    block_seconds = min_seconds / rounds / max(len(fns), 1)
    for r in range(rounds):
        order = list(fns.items()) if r % 2 == 0 else list(fns.items())[::-1]
        for name, f in order:
            time.sleep(SETTLE)
            block_start = time.perf_counter()
            calls = 0
            while calls < per_block or time.perf_counter() - block_start < block_seconds:
                t0 = time.perf_counter()
                f()
                samples[name].append(time.perf_counter() - t0)
                calls += 1
    return {name: float(np.median(s)) for name, s in samples.items()}


def relative_difference(a, b) -> float:
    """max |a - b| / max |b| over arrays (or dicts of arrays)."""
    if isinstance(b, dict):
        return max(relative_difference(a[k], b[k]) for k in b)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def check(what: str, difference: float, tolerance: float) -> dict:
    ok = bool(difference <= tolerance)
    if not ok:
        failures.append(f"{what}: relative difference {difference:.3g} > {tolerance:.3g}")
    return {"max_relative_difference": difference, "tolerance": tolerance, "agree": ok}


def tensor_to_numpy(value):
    return {k: np.asarray(v) for k, v in value.items()} if isinstance(value, dict) else value


TOLERANCE = {np.float64: 1e-9, np.float32: 1e-3}  # for results of the same computation


def peak_memory(run) -> tuple[object, float | None]:
    """run()'s result and the peak resident memory it added, in MB (Linux; None elsewhere)."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to the current RSS
        status = lambda: dict(  # noqa: E731
            line.split(":", 1)
            for line in Path("/proc/self/status").read_text().splitlines()
            if ":" in line
        )
        before = int(status()["VmRSS"].split()[0])
    except OSError:
        return run(), None
    result = run()
    peak = int(status()["VmHWM"].split()[0])
    return result, max(peak - before, 0) / 1024


# ---------------------------------------------------------------------------------------------
# The benchmarks. Each returns rows for the tables and the JSON.


def bench_activations(data, quick):
    """ReLU (chapter 5's net) against the sigmoid, side by side on the same batch and weights: the gradient
    in both dtypes and the numerical gradient. Each ReLU result is checked against the NumPy reference."""
    x_train, t_train = data[0], data[1]
    batch = np.random.default_rng(6).choice(len(x_train), 100)
    x, t = x_train[batch], t_train[batch]
    rows = []
    for what, dtype in (
        ("gradient, batch 100", np.float64),
        ("gradient, batch 100", np.float32),
        ("numerical_gradient, batch 100", np.float64),
    ):
        nets = {
            f: TwoLayerNet(784, 50, 10, activation=f, dtype=dtype, seed=0)
            for f in ("sigmoid", "relu")
        }
        ref = ReferenceNet.from_params(nets["relu"].params, activation="relu")
        if what.startswith("gradient"):
            times, agreement = compare_activation_gradients(nets, ref, x, t, what, dtype, quick)
        else:
            times, agreement = compare_activation_numerical_gradients(nets, ref, x, t, quick)
        rows.append(
            {
                "benchmark": f"activation: {what}",
                "case": "sigmoid and ReLU, float32 pixels",
                "dtype": np.dtype(dtype).name,
                "seconds": times,
                "agreement": agreement,
            }
        )
    return rows


def compare_activation_gradients(nets, ref, x, t, what, dtype, quick):
    """The gradient's times per activation, and ReLU's gradient checked against the NumPy reference."""
    times = timed(
        {f: (lambda n=n: n.gradient(x, t)) for f, n in nets.items()},
        20 if quick else 400,
        0 if quick else 3,
    )
    difference = relative_difference(nets["relu"].gradient(x, t), ref.gradient(x, t))
    return times, {
        "relu": check(f"relu {what} {np.dtype(dtype).name}", difference, TOLERANCE[dtype])
    }


def compare_activation_numerical_gradients(nets, ref, x, t, quick):
    """The numerical gradient's times per activation, and ReLU's checked on a few parameters of each
    array against the book's algorithm in NumPy."""
    times = timed(
        {f: (lambda n=n: n.numerical_gradient(x, t)) for f, n in nets.items()},
        2 if quick else 5,
        0 if quick else 10,
    )
    picks = {
        key: np.random.default_rng(7).choice(ref.params[key].size, 4, replace=False)
        for key in PARAM_NAMES
    }
    difference = relative_difference(
        picked(nets["relu"].numerical_gradient(x, t), picks),
        book_numerical_subset(ref, x, t, picks),
    )
    return times, {
        "relu": check(
            "relu numerical gradient against the book's algorithm in NumPy", difference, 1e-6
        )
    }


def nets_for(dtype, torch_ok, train_on=None):
    """Our net, NumPy's and PyTorch's with the same weights; with `train_on` (x, t), after 30 steps
    of SGD on its first 3,000 samples, so that the predictions differ from sample to sample."""
    ours = TwoLayerNet(784, 50, 10, dtype=dtype, seed=0)
    if train_on is not None:
        x, t = train_on
        for i in range(30):
            ours.train_step(
                x[100 * i : 100 * i + 100], t[100 * i : 100 * i + 100], 0.1, return_loss=False
            )
    nets = {"ours": ours, "numpy": ReferenceNet.from_params(ours.params)}
    if torch_ok:
        nets["torch"] = TorchNet(ours.params, dtype)
    return nets


def compare(nets, call, what, tolerance, timing, difference=None):
    """The median seconds of call(net) for each of `nets` (timed() with `timing`: repeats and
    minimum seconds), and each result checked against the "numpy" net's: `difference`
    (relative_difference by default) within `tolerance`."""
    times = timed({name: (lambda n=n: call(n)) for name, n in nets.items()}, *timing)
    difference = difference or (lambda a, b: relative_difference(tensor_to_numpy(a), b))
    expected = call(nets["numpy"])
    agreement = {
        name: check(f"{what} {name}", difference(call(n), expected), tolerance)
        for name, n in nets.items()
        if name != "numpy"
    }
    return times, agreement


def bench_gradient(data, torch_ok, quick):
    x_train, t_train = data[0], data[1]
    rng = np.random.default_rng(1)
    batch = rng.choice(len(x_train), 100)
    rows = []
    cases = [
        ("float64 net, float32 pixels (the book's)", np.float64, np.float32),
        ("float64 net, float64 pixels", np.float64, np.float64),
        ("float32 net, float32 pixels", np.float32, np.float32),
    ]
    for label, dtype, x_dtype in cases:
        x, t = x_train[batch].astype(x_dtype), t_train[batch]
        times, agreement = compare(
            nets_for(dtype, torch_ok),
            lambda n: n.gradient(x, t),
            f"gradient {label}",
            TOLERANCE[dtype],
            (20, 0) if quick else (400, 3),
        )
        rows.append(
            {
                "benchmark": "gradient, batch 100",
                "case": label,
                "dtype": np.dtype(dtype).name,
                "seconds": times,
                "agreement": agreement,
            }
        )
    return rows


def bench_accuracy(data, torch_ok, quick):
    x_train, t_train, x_test, t_test = data[:4]
    rows = []
    for dtype in (np.float64, np.float32):
        nets = nets_for(dtype, torch_ok, train_on=(x_train, t_train))
        for label, x, t in (
            ("10,000 test images", x_test, t_test),
            ("60,000 train images", x_train, t_train),
        ):
            # Accuracy is a count: allow one sample to flip on a near-tie of two classes.
            times, agreement = compare(
                nets,
                lambda n: n.accuracy(x, t),
                f"accuracy {label} {np.dtype(dtype).name}",
                1.0,
                (3, 0) if quick else (15, 4),
                difference=lambda a, b: abs(a - b) * len(x),
            )
            y_ours, y_ref = nets["ours"].predict(x[:2000]), nets["numpy"].predict(x[:2000])
            agreement["ours predict"] = check(
                f"predict {np.dtype(dtype).name}",
                relative_difference(y_ours, y_ref),
                TOLERANCE[dtype],
            )
            rows.append(
                {
                    "benchmark": "accuracy",
                    "case": f"{label} ({len(x):,} rows)" if quick else label,
                    "dtype": np.dtype(dtype).name,
                    "seconds": times,
                    "agreement": agreement,
                }
            )
    return rows


def picked(grads, picks):
    """The picked entries (flat indices per array) of a dict of gradients, in order."""
    return np.concatenate([grads[key].reshape(-1)[index] for key, index in picks.items()])


def book_numerical_subset(net, x, t, picks):
    """The book's numerical gradient of net's picked parameters (flat indices per array), in order."""
    return np.concatenate(
        [
            numerical_gradient(lambda: net.loss(x, t), net.params[key], indices=index)
            for key, index in picks.items()
        ]
    )


def pick_parameters(rng, params, x, quick):
    """Flat indices of parameters spread over all four arrays, per array; for W1, in rows of pixels
    that the batch x has non-zero."""
    busy_pixels = np.flatnonzero((x != 0).sum(axis=0) > 0)
    per_key = {
        "W1": 4 if quick else 24,
        "b1": 2 if quick else 6,
        "W2": 2 if quick else 6,
        "b2": 1 if quick else 4,
    }
    picks = {}
    for key, count in per_key.items():
        if key == "W1":
            picks[key] = rng.choice(busy_pixels, count) * 50 + rng.integers(0, 50, count)
        else:
            picks[key] = rng.choice(params[key].size, count, replace=False)
    return picks


def bench_numerical_gradient(data, quick):
    """The incremental method over all parameters against the book's algorithm, which is timed on a
    subset of parameters and scaled: each parameter costs it two whole losses, so its time is
    exactly linear in the number of parameters."""
    x_train, t_train = data[0], data[1]
    rng = np.random.default_rng(2)
    batch = rng.choice(len(x_train), 100)
    x, t = x_train[batch], t_train[batch]
    ours = TwoLayerNet(784, 50, 10, seed=0)
    ref = ReferenceNet.from_params(ours.params)
    total = sum(v.size for v in ours.params.values())
    picks = pick_parameters(rng, ours.params, x, quick)
    times = timed(
        {
            "ours": lambda: ours.numerical_gradient(x, t),
            "ours, the book's algorithm (subset)": lambda: book_numerical_subset(ours, x, t, picks),
            "numpy (subset)": lambda: book_numerical_subset(ref, x, t, picks),
        },
        2 if quick else 5,
        0 if quick else 10,
    )
    count = sum(len(index) for index in picks.values())
    scale = total / count
    ours_subset = picked(ours.numerical_gradient(x, t), picks)
    ref_subset = book_numerical_subset(ref, x, t, picks)
    agreement = {
        "ours": check(
            "numerical gradient, ours against the book's algorithm in NumPy",
            relative_difference(ours_subset, ref_subset),
            1e-6,
        )
    }
    seconds = {
        "ours": times["ours"],
        "numpy": times["numpy (subset)"] * scale,
        "ours (naive)": times["ours, the book's algorithm (subset)"] * scale,
    }
    return [
        {
            "benchmark": "numerical_gradient, batch 100",
            "case": "float64 net, float32 pixels",
            "dtype": "float64",
            "seconds": seconds,
            "agreement": agreement,
            "note": f"NumPy and the C++ naive method timed on {count} of {total:,} parameters, scaled by {scale:.0f}",
        }
    ]


def train_run(net, data, iters):
    """twolayer.training.train with the book's settings: its fused steps (TwoLayerNet.train_step), its own
    mini-batches (the same sampling as the book's), accuracy on all 70,000 images every epoch and, unlike the
    book's loop, once more on both sets at the end."""
    history = train(
        net, *data[:4], iters_num=iters, batch_size=100, learning_rate=0.1, seed=3, progress=False
    )
    return history.train_loss_list, history.train_acc_list, history.test_acc_list


def fma_count(data, iterations, evaluations, batch=100, hidden=50, classes=10):
    """The multiply-adds of a book run as the core does it, skipping zero pixels: per step, the first layer's
    sparse product three times (the gradient's forward pass, W1's gradient, the loss after the update) and the small
    layer's dense product four times (forward, W2's gradient, da1, the loss); per evaluation, the forward pass of
    every image."""
    x_train, x_test = data[0], data[2]
    nonzeros = np.count_nonzero(x_train) + np.count_nonzero(x_test)
    per_row = np.count_nonzero(x_train) / len(x_train)
    step = 3 * batch * per_row * hidden + 4 * batch * hidden * classes
    evaluation = nonzeros * hidden + (len(x_train) + len(x_test)) * hidden * classes
    return iterations * step + evaluations * evaluation


def bench_book_run(data, torch_ok, quick, numerical=False, iterations=None, repeats=1, peak=None):
    """The book's full training run (ch04/train_neuralnet.py), the same mini-batches for everyone.
    With repeats, the implementations take turns, and each reports its median time."""
    x_train, x_test = data[0], data[2]
    iters = iterations or (60 if quick else 10000)
    batches = np.random.default_rng(3).integers(0, len(x_train), size=(iters, 100))
    rows = []
    if numerical:  # and backprop on the same batches, whose accuracy it must reach
        cases = [(np.float64, ("ours", "ours, backprop"))]
    else:
        everyone = ("ours", "ours, train", "numpy", "torch")
        cases = [(np.float64, everyone), (np.float32, everyone)]
    for dtype, names in cases:
        names = [name for name in names if name != "torch" or torch_ok]
        results = {}
        for _ in range(repeats):
            for name in names:
                book_run_once(results, name, dtype, data, batches, numerical)
        if "ours, train" in results and peak:
            add_limit(results["ours, train"], data, iters, peak[np.dtype(dtype).name])
        agreement = book_run_agreement(results, dtype, numerical, quick)
        rows.append(
            {
                "benchmark": "numerical-gradient training" if numerical else "the book's full run",
                "case": f"{iters:,} iterations, batch 100, accuracy on all {len(x_train) + len(x_test):,} images every epoch",
                "dtype": np.dtype(dtype).name,
                "seconds": {k: v["seconds"] for k, v in results.items()},
                "runs": results,
                "agreement": agreement,
            }
        )
    return rows


def book_run_once(results, name, dtype, data, batches, numerical):
    """One training run of implementation `name` on `batches`, from fresh weights; its time, peak
    memory and outcome recorded in results[name], over the repeats."""
    x_train, t_train, x_test, t_test = data[:4]
    ours = TwoLayerNet(784, 50, 10, dtype=dtype, seed=0)
    net = {
        "ours": ours,
        "ours, backprop": ours,
        "ours, train": ours,
        "numpy": ReferenceNet.from_params(ours.params),
    }.get(name) or TorchNet(ours.params, dtype)
    time.sleep(5 * SETTLE)  # let the previous run's worker threads go to sleep (see timed())
    t0 = time.perf_counter()
    (losses, train_acc, test_acc), memory = peak_memory(
        lambda: (
            train_like_the_book(
                net,
                x_train,
                t_train,
                batches,
                numerical=numerical and name == "ours",
                iter_per_epoch=max(len(x_train) // 100, 1),
                x_test=x_test,
                t_test=t_test,
            )
            if name != "ours, train"
            else train_run(net, data, len(batches))
        )
    )
    seconds = time.perf_counter() - t0
    run = results.setdefault(name, {"all_seconds": [], "peak_memory_mb": memory})
    run["all_seconds"].append(seconds)
    if memory is not None:
        run["peak_memory_mb"] = max(run["peak_memory_mb"], memory)
    run.update(
        {
            "seconds": float(np.median(run["all_seconds"])),
            "final_train_accuracy": net.accuracy(x_train, t_train),
            "final_test_accuracy": net.accuracy(x_test, t_test),
            "final_loss": float(np.mean(losses[-100:])),
            "test_accuracy_per_epoch": test_acc,
        }
    )


def add_limit(run, data, iters, peak_gflops):
    """The run's bound: its multiply-adds, and their time at the machine's peak GFLOP/s."""
    # Evaluations: one per epoch, and train's final one.
    fmas = fma_count(data, iters, len(run["test_accuracy_per_epoch"]) + 1)
    run["limit"] = {"fmas": fmas, "seconds_at_peak": 2 * fmas / (peak_gflops * 1e9)}


def accuracy_gap(results, name, other):
    return abs(results[name]["final_test_accuracy"] - results[other]["final_test_accuracy"])


def book_run_agreement(results, dtype, numerical, quick):
    """Each run's final test accuracy checked against the one it must reach: backprop's for the
    numerical-gradient training, NumPy's for the others."""
    tolerance = 0.01 if not quick else 0.05
    agreement = {}
    if numerical:
        agreement["ours"] = check(
            "numerical-gradient training against backprop, final test accuracy",
            accuracy_gap(results, "ours", "ours, backprop"),
            tolerance,
        )
    if "numpy" in results:
        for name in results:
            # train draws its own batches: too few in --quick mode to reach a comparable accuracy.
            if name != "numpy" and not (quick and name == "ours, train"):
                # Chaotic over 10,000 steps: rounding differences grow, so compare outcomes.
                agreement[name] = check(
                    f"book run {np.dtype(dtype).name} {name} final test accuracy",
                    accuracy_gap(results, name, "numpy"),
                    tolerance,
                )
    return agreement


def bench_scaling(data, quick):
    """The gradient over batch and hidden sizes, float64 and float32 pixels and nets, against NumPy;
    GFLOP/s counted as the dense products' 2·N·(2·D·H + 3·H·C) flops over the time (for the
    sparse kernels, 'dense-equivalent' GFLOP/s)."""
    x_train, t_train = data[0], data[1]
    rows = []
    batches = (1, 100) if quick else (1, 100, 1000, 10000)
    hiddens = (50,) if quick else (50, 100, 1000)
    for dtype in (np.float64, np.float32):
        for hidden in hiddens:
            for n in batches:
                ours = TwoLayerNet(784, hidden, 10, dtype=dtype, seed=0)
                ref = ReferenceNet.from_params(ours.params)
                batch = np.random.default_rng(4).choice(len(x_train), n)
                x, t = x_train[batch].astype(dtype), t_train[batch]
                work = n * hidden * 784 * 10  # scalar multiply-adds of the first layer, roughly
                repeats = 3 if quick else max(3, min(200, int(2e9 / work)))
                times = timed(
                    {"ours": lambda: ours.gradient(x, t), "numpy": lambda: ref.gradient(x, t)},
                    repeats,
                    0 if quick else 1,
                )
                flops = 2 * n * (2 * 784 * hidden + 3 * hidden * 10)
                agreement = {
                    "ours": check(
                        f"scaling gradient {np.dtype(dtype).name} N={n} H={hidden}",
                        relative_difference(ours.gradient(x, t), ref.gradient(x, t)),
                        TOLERANCE[dtype],
                    )
                }
                rows.append(
                    {
                        "benchmark": "scaling: gradient",
                        "case": f"batch {n}, hidden {hidden}",
                        "dtype": np.dtype(dtype).name,
                        "batch": n,
                        "hidden": hidden,
                        "seconds": times,
                        "gflops": {k: flops / v / 1e9 for k, v in times.items()},
                        "agreement": agreement,
                    }
                )
    return rows


def bench_peak(quick):
    """The machine's practical peak: a large NumPy matmul."""
    size = 256 if quick else 2048
    peak = {}
    for dtype in (np.float64, np.float32):
        a = np.random.default_rng(5).random((size, size)).astype(dtype)
        seconds = timed({"numpy": lambda: a @ a}, 3 if quick else 5)["numpy"]
        peak[np.dtype(dtype).name] = 2 * size**3 / seconds / 1e9
    return peak


# ---------------------------------------------------------------------------------------------
# Report


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def ratio(row, other):
    s = row["seconds"]
    return s[other] / s["ours"] if other in s and "ours" in s else None


def fmt_ratio(r):
    return "–" if r is None else f"{r:,.1f}×"


def agrees(row):
    return "yes" if all(a["agree"] for a in row["agreement"].values()) else "**NO**"


def markdown_table(header, align, rows):
    """A markdown table: the `header` cells, `align` (a letter per column: l or r) and rows of cells."""
    separator = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = [" | ".join(header), *(" | ".join(cells) for cells in rows)]
    return "\n".join([f"| {lines[0]} |", separator, *(f"| {line} |" for line in lines[1:])])


def table(rows):
    header = ["benchmark", "case", "dtype", "ours", "NumPy", "NumPy / ours", "PyTorch"]
    header += ["PyTorch / ours", "agree"]
    cells = [
        [row["benchmark"], row["case"], row["dtype"], fmt_time(row["seconds"].get("ours"))]
        + [fmt_time(row["seconds"].get("numpy")), fmt_ratio(ratio(row, "numpy"))]
        + [fmt_time(row["seconds"].get("torch")), fmt_ratio(ratio(row, "torch")), agrees(row)]
        for row in rows
    ]
    return markdown_table(header, "lllrrrrrl", cells)


def scaling_table(rows, peak):
    header = ["dtype", "batch", "hidden", "ours", "NumPy", "NumPy / ours"]
    header += ["ours GFLOP/s (% of peak)", "NumPy GFLOP/s (% of peak)"]
    cells = []
    for row in rows:
        p, g, s = peak[row["dtype"]], row["gflops"], row["seconds"]
        cells.append(
            [row["dtype"], f"{row['batch']:,}", f"{row['hidden']:,}", fmt_time(s["ours"])]
            + [fmt_time(s["numpy"]), fmt_ratio(ratio(row, "numpy"))]
            + [f"{g[k]:.1f} ({100 * g[k] / p:.0f}%)" for k in ("ours", "numpy")]
        )
    return markdown_table(header, "lrrrrrrr", cells)


def activation_table(rows):
    header = ["benchmark", "dtype", "sigmoid", "ReLU", "sigmoid / ReLU", "ReLU agrees with NumPy"]
    cells = [
        [row["benchmark"].removeprefix("activation: "), row["dtype"]]
        + [fmt_time(row["seconds"]["sigmoid"]), fmt_time(row["seconds"]["relu"])]
        + [fmt_ratio(row["seconds"]["sigmoid"] / row["seconds"]["relu"]), agrees(row)]
        for row in rows
    ]
    return markdown_table(header, "llrrrl", cells)


def runs_table(rows):
    header = ["run", "dtype", "implementation", "time", "peak memory added"]
    header += ["final train acc.", "final test acc."]
    cells = []
    for row in rows:
        for name, r in row["runs"].items():
            memory = "–" if r["peak_memory_mb"] is None else f"{r['peak_memory_mb']:,.0f} MB"
            cells.append(
                [row["benchmark"], row["dtype"], name, fmt_time(r["seconds"]), memory]
                + [f"{r['final_train_accuracy']:.4f}", f"{r['final_test_accuracy']:.4f}"]
            )
    return markdown_table(header, "lllrrrr", cells)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: check that the benchmarks run"
    )
    parser.add_argument(
        "--mnist",
        type=Path,
        default=DEFAULT_MNIST,
        help="directory of the four MNIST files (default: %(default)s)",
    )
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help="where to write the results"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for the core and PyTorch (default: all CPUs)",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="leave PyTorch out even if it is installed"
    )
    parser.add_argument(
        "--skip-numerical-training",
        action="store_true",
        help="leave out the 10,000-iteration numerical-gradient training (about 2 minutes)",
    )
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable; default: all of them)",
    )
    return parser.parse_args(argv)


def use_threads(threads, no_torch):
    """Sets the core's (and PyTorch's) thread count; whether PyTorch is there to benchmark."""
    twolayer.set_num_threads(threads)
    if no_torch:
        return False
    try:
        import torch
    except ImportError:
        return False
    torch.set_num_threads(threads)
    return True


def run_benchmarks(data, torch_ok, threads, args, peak):
    """Every benchmark's rows, in order, each section's time on stderr."""
    rows = []
    for title, run in (
        ("gradient", lambda: bench_gradient(data, torch_ok, args.quick)),
        ("accuracy", lambda: bench_accuracy(data, torch_ok, args.quick)),
        ("numerical gradient", lambda: bench_numerical_gradient(data, args.quick)),
        (
            "book run",
            lambda: bench_book_run(
                data, torch_ok, args.quick, repeats=1 if args.quick else 3, peak=peak
            ),
        ),
        (
            "numerical-gradient training",
            lambda: (
                []
                if args.skip_numerical_training
                else bench_book_run(
                    data,
                    torch_ok,
                    args.quick,
                    numerical=True,
                    iterations=20 if args.quick else None,
                )
            ),
        ),
        ("scaling", lambda: bench_scaling(data, args.quick)),
        ("activation", lambda: bench_activations(data, args.quick)),
        ("shared machine", lambda: bench_shared(data, args.mnist, threads, args.quick, check)),
    ):
        if args.only and title not in args.only:
            continue
        t0 = time.perf_counter()
        rows += run()
        print(f"... {title}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return rows


def train_lines(rows):
    """twolayer's train against the book's loop on the core and in NumPy, float32 against float64, and against the
    limit: the run's multiply-adds at the machine's measured peak."""
    lines, train_seconds = [], {}
    for row in rows:
        runs = row.get("runs", {})
        if "ours, train" not in runs:
            continue
        train = runs["ours, train"]
        train_seconds[row["dtype"]] = train["seconds"]
        lines.append(
            f"- train, {row['dtype']}: {fmt_time(train['seconds'])}; the book's loop on the core "
            f"{fmt_ratio(runs['ours']['seconds'] / train['seconds'])} as long, in NumPy "
            f"{fmt_ratio(runs['numpy']['seconds'] / train['seconds'])}."
        )
        if "limit" in train:
            limit = train["limit"]
            lines.append(
                f"- distance from the limit, train {row['dtype']}: {limit['fmas'] / 1e9:.2f} billion "
                f"multiply-adds, {fmt_time(limit['seconds_at_peak'])} at the measured peak; measured "
                f"{fmt_ratio(train['seconds'] / limit['seconds_at_peak'])} the limit."
            )
    if len(train_seconds) == 2:
        lines.append(
            f"- train, float32 against float64: {fmt_ratio(train_seconds['float64'] / train_seconds['float32'])}"
            " as fast."
        )
    return lines


def report(rows, peak):
    """The tables of the rows there are (--only runs some)."""
    shared = [r for r in rows if r["benchmark"].startswith("shared")]
    main_rows = [
        r
        for r in rows
        if r["benchmark"] != "scaling: gradient"
        and "sigmoid" not in r["seconds"]
        and r not in shared
    ]
    if main_rows:
        print(table(main_rows), "\n")
        for r in main_rows:
            if "note" in r:
                print(f"- {r['benchmark']}: {r['note']}.")
        print()
    runs = [r for r in rows if "runs" in r]
    scaling = [r for r in rows if r["benchmark"] == "scaling: gradient"]
    activations = [r for r in rows if "sigmoid" in r["seconds"]]
    for rows_of_a_table, draw in (
        (runs, runs_table),
        (scaling, lambda r: scaling_table(r, peak)),
        (activations, activation_table),
        (shared, lambda r: shared_table(r, fmt_time)),
    ):
        if rows_of_a_table:
            print(draw(rows_of_a_table), "\n")
    if train_lines(rows):
        print("\n".join(train_lines(rows)), "\n")


def main(argv=None):
    args = parse_args(argv)
    global SETTLE
    if args.quick:
        SETTLE = 0.01
    threads = args.threads or (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    )
    torch_ok = use_threads(threads, args.no_torch)

    info = machine(threads)
    data = load_data(args.mnist, args.quick)
    info["data"] = data[4]
    print(
        f"# twolayer benchmarks{' (quick: tiny sizes, no speed asserted)' if args.quick else ''}\n"
    )
    print(
        f"{info['cpu']}, {info['cpus_available']} CPUs; {threads} threads for the core and PyTorch; "
        f"kernels: {info['kernels']}; NumPy {info['numpy']}, PyTorch {info['torch'] or 'not installed'}; {info['data']}.\n",
        flush=True,
    )

    started = time.perf_counter()
    peak = bench_peak(args.quick)
    print(
        f"Peak (a {256 if args.quick else 2048}² NumPy matmul): {peak['float64']:.0f} GFLOP/s float64, "
        f"{peak['float32']:.0f} GFLOP/s float32.\n",
        flush=True,
    )
    rows = run_benchmarks(data, torch_ok, threads, args, peak)
    results = {
        "machine": info,
        "peak_gflops": peak,
        "quick": args.quick,
        "rows": rows,
        "failures": failures,
        "seconds": time.perf_counter() - started,
    }
    report(rows, peak)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=float))
    print(f"Results written to {args.json} ({results['seconds']:.0f} s).")
    if failures:
        print("\nDISAGREEMENT:\n" + "\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
