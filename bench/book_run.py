"""The whole training runs: the book's full run (ch04/train_neuralnet.py) on the core, on the core
through `twolayer.training.train`, in NumPy and in PyTorch, both dtypes; and the numerical-gradient
training beside backprop. Their table, and the lines on train against the book's loop and against
the FMA limit."""

from __future__ import annotations

import time

import numpy as np
from common import Bench, Data, Row, fmt_ratio, fmt_time, markdown_table, peak_memory
from nets import TorchNet

from twolayer import TwoLayerNet
from twolayer.reference import ReferenceNet, train_like_the_book
from twolayer.training import train


def bench_book_run(bench: Bench, numerical=False, iterations=None, repeats=1) -> list[Row]:
    """The book's full training run (ch04/train_neuralnet.py), the same mini-batches for everyone.
    With repeats, the implementations take turns, and each reports its median time."""
    x_train, x_test = bench.data.x_train, bench.data.x_test
    iters = iterations or (60 if bench.quick else 10000)
    batches = np.random.default_rng(3).integers(0, len(x_train), size=(iters, 100))
    rows = []
    if numerical:  # and backprop on the same batches, whose accuracy it must reach
        cases = [(np.float64, ("ours", "ours, backprop"))]
    else:
        everyone = ("ours", "ours, train", "numpy", "torch")
        cases = [(np.float64, everyone), (np.float32, everyone)]
    for dtype, names in cases:
        names = [name for name in names if name != "torch" or bench.torch_ok]
        results = {}
        for _ in range(repeats):
            for name in names:
                book_run_once(bench, results, name, dtype, batches, numerical)
        if "ours, train" in results and bench.peak:
            add_limit(results["ours, train"], bench.data, iters, bench.peak[np.dtype(dtype).name])
        agreement = book_run_agreement(bench, results, dtype, numerical)
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


def book_run_once(bench: Bench, results, name, dtype, batches, numerical):
    """One training run of implementation `name` on `batches`, from fresh weights; its time, peak
    memory and outcome recorded in results[name], over the repeats."""
    x_train, t_train, x_test, t_test = bench.data.arrays
    ours = TwoLayerNet(784, 50, 10, dtype=dtype, seed=0)
    net = {
        "ours": ours,
        "ours, backprop": ours,
        "ours, train": ours,
        "numpy": ReferenceNet.from_params(ours.params),
    }.get(name) or TorchNet(ours.params, dtype)
    time.sleep(
        5 * bench.settle
    )  # let the previous run's worker threads go to sleep (see Bench.timed)
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
            else train_run(net, bench.data, len(batches))
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


def train_run(net, data: Data, iters):
    """twolayer.training.train with the book's settings: its fused steps (TwoLayerNet.train_step), its own
    mini-batches (the same sampling as the book's), accuracy on all 70,000 images every epoch and, unlike the
    book's loop, once more on both sets at the end."""
    history = train(
        net,
        *data.arrays,
        iters_num=iters,
        batch_size=100,
        learning_rate=0.1,
        seed=3,
        progress=False,
    )
    return history.train_loss_list, history.train_acc_list, history.test_acc_list


def fma_count(data: Data, iterations, evaluations, batch=100, hidden=50, classes=10):
    """The multiply-adds of a book run as the core does it, skipping zero pixels: per step, the first layer's
    sparse product three times (the gradient's forward pass, W1's gradient, the loss after the update) and the small
    layer's dense product four times (forward, W2's gradient, da1, the loss); per evaluation, the forward pass of
    every image."""
    x_train, x_test = data.x_train, data.x_test
    nonzeros = np.count_nonzero(x_train) + np.count_nonzero(x_test)
    per_row = np.count_nonzero(x_train) / len(x_train)
    step = 3 * batch * per_row * hidden + 4 * batch * hidden * classes
    evaluation = nonzeros * hidden + (len(x_train) + len(x_test)) * hidden * classes
    return iterations * step + evaluations * evaluation


def add_limit(run, data: Data, iters, peak_gflops):
    """The run's bound: its multiply-adds, and their time at the machine's peak GFLOP/s."""
    # Evaluations: one per epoch, and train's final one.
    fmas = fma_count(data, iters, len(run["test_accuracy_per_epoch"]) + 1)
    run["limit"] = {"fmas": fmas, "seconds_at_peak": 2 * fmas / (peak_gflops * 1e9)}


def accuracy_gap(results, name, other):
    return abs(results[name]["final_test_accuracy"] - results[other]["final_test_accuracy"])


def book_run_agreement(bench: Bench, results, dtype, numerical):
    """Each run's final test accuracy checked against the one it must reach: backprop's for the
    numerical-gradient training, NumPy's for the others."""
    tolerance = 0.01 if not bench.quick else 0.05
    agreement = {}
    if numerical:
        agreement["ours"] = bench.check(
            "numerical-gradient training against backprop, final test accuracy",
            accuracy_gap(results, "ours", "ours, backprop"),
            tolerance,
        )
    if "numpy" in results:
        for name in results:
            # train draws its own batches: too few in --quick mode to reach a comparable accuracy.
            if name != "numpy" and not (bench.quick and name == "ours, train"):
                # Chaotic over 10,000 steps: rounding differences grow, so compare outcomes.
                agreement[name] = bench.check(
                    f"book run {np.dtype(dtype).name} {name} final test accuracy",
                    accuracy_gap(results, name, "numpy"),
                    tolerance,
                )
    return agreement


def runs_table(rows: list[Row], bench: Bench) -> str:
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


def train_lines(rows: list[Row], quick: bool = False) -> list[str]:
    """twolayer's train against the book's loop on the core and in NumPy, float32 against float64, and against the
    limit: the run's multiply-adds at the machine's measured peak (not in --quick mode, whose small
    matmul on a busy machine measures no peak)."""
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
        if "limit" in train and not quick:
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
