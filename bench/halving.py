"""Successive halving against the full search: chapter 6's random search on two-layer nets (27
trials, learning rate and hidden size log-uniform, 5,000 training and 1,000 validation images, 27
epochs), every trial to the end against `--halving 3`; and the full search's throughput three ways:
two local workers of one thread each, the same runs one after another on one thread, and one after
another on all threads.

    python bench/halving.py            # about 10 minutes on 2 cores
    python bench/halving.py --quick    # 9 trials of 3 epochs: proves that it runs; asserts nothing

Each way runs once (the runs are long; a repeat would double the time), in a fresh folder. Prints a
Markdown table and writes bench/halving-results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from twolayer import get_num_threads, show_config
from twolayer.sweep import LogRange, halving_sweep, local_executor, plan_runs, run_sweep

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = Path(os.environ.get("TWOLAYER_MNIST_DIR", ROOT.parent / "shared" / "mnist"))


def _best(records):
    """The best validation accuracy of the runs done; a failed run fails the measure."""
    failed = [r for r in records if r["status"] == "failed"]
    if failed:
        raise SystemExit(f"{len(failed)} runs failed; the first: {failed[0].get('error')}")
    done = [r for r in records if r["status"] == "done" and r.get("final_val_acc") is not None]
    return max(r["final_val_acc"] for r in done)


def _plan(trials, epochs):
    """Chapter 6's random search: learning rate and hidden size log-uniform."""
    space = {
        "learning_rate": [LogRange(1e-3, 1.0)],
        "hidden_size": [LogRange(10, 200)],
        "epochs": [epochs],
        "train_size": [5000],
        "validation_size": [1000],
    }
    return plan_runs(space, trials=trials, search_seed=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: small, asserts nothing")
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "halving-results.json")
    parser.add_argument("--figure", type=Path, default=None, help="copy halving.png here")
    parser.add_argument("--epochs", type=int, default=27, help="a shorter budget (default: 27)")
    args = parser.parse_args(argv)
    trials, epochs = (9, 3) if args.quick else (27, args.epochs)
    runs = _plan(trials, epochs)
    runtime = show_config("dicts")["runtime"]
    machine = (
        f"{runtime['cpu']}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the start); "
        f"{get_num_threads()} threads by default; Python {platform.python_version()}"
    )
    print(f"# Successive halving: {trials} trials of {epochs} epochs\n\n{machine}\n", flush=True)
    seconds, best = {}, {}
    with tempfile.TemporaryDirectory() as scratch:

        def timed(name, call):
            start = time.perf_counter()
            result = call(Path(scratch) / name)
            seconds[name] = time.perf_counter() - start
            best[name] = _best(result.records)
            print(f"{name}: {seconds[name]:.1f} s, best val acc {best[name]:.4f}", flush=True)

        def on_workers(sweep, **options):
            def call(out):
                with local_executor(2, 1) as executor:
                    return sweep(
                        runs,
                        out=out,
                        executor=executor,
                        slots=2,
                        threads=1,
                        data_dir=args.mnist,
                        progress=False,
                        **options,
                    )

            return call

        timed("full, --workers 2", on_workers(run_sweep))
        timed("--halving 3, --workers 2", on_workers(halving_sweep, eta=3))
        if args.figure is not None:
            shutil.copy(Path(scratch) / "--halving 3, --workers 2" / "halving.png", args.figure)
        for threads in (1, None):
            name = f"full, one after another on {threads or get_num_threads()} thread(s)"
            timed(
                name,
                lambda out, t=threads: run_sweep(
                    runs, out=out, threads=t, data_dir=args.mnist, progress=False
                ),
            )
    _report(seconds, best)
    args.json.write_text(
        json.dumps({"machine": machine, "seconds": seconds, "best": best}, indent=1)
    )
    return 0


def _report(seconds, best):
    full, halved = seconds["full, --workers 2"], seconds["--halving 3, --workers 2"]
    print("\n| way | wall time (s) | best val acc |\n|---|---:|---:|")
    for name in seconds:
        print(f"| {name} | {seconds[name]:.1f} | {best[name]:.4f} |")
    print(
        f"\n--halving 3: {halved / full:.2f} of the full search's time; best val acc "
        f"{100 * (best['--halving 3, --workers 2'] - best['full, --workers 2']):+.2f} points."
    )
    one, every = (v for k, v in seconds.items() if k.startswith("full, one after"))
    print(f"--workers 2: {one / full:.2f}x one thread each, {every / full:.2f}x all threads.")


if __name__ == "__main__":
    sys.exit(main())
