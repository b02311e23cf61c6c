"""Sweep throughput: 8 runs of 3,000 iterations one after another in one process (the core on all
CPUs) against `twolayer sweep --workers 2` (two processes, the CPUs shared between them), and
`--workers 2` against a local Dask cluster of two single-threaded workers, already running as
`--scheduler` finds one (Dask's overhead; the cluster's start is reported beside it).

    python bench/sweep.py            # about 5 minutes on 2 cores
    python bench/sweep.py --quick    # 4 short runs: proves that it runs; asserts no speed

The three take turns, each repeat in a fresh output folder (and fresh worker processes, which load
MNIST themselves: part of the cost measured), and the medians of the repeats are compared. Every
way must give the same final accuracies, run for run; the script fails (exit status 1) otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from twolayer import get_num_threads, show_config
from twolayer.sweep import Run, dask_executor, local_executor, plan_runs, run_sweep

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = Path(os.environ.get("TWOLAYER_MNIST_DIR", ROOT.parent / "shared" / "mnist"))
DEFAULT_JSON = ROOT / "bench" / "sweep-results.json"
DASK = "Dask, 2 single-threaded workers (cluster running)"


def sequential(runs, out, data_dir):
    return run_sweep(runs, out=out, data_dir=data_dir, progress=False)


def workers(runs, out, data_dir):
    with local_executor(2, 1) as executor:
        return run_sweep(
            runs, out=out, executor=executor, slots=2, threads=1, data_dir=data_dir, progress=False
        )


CLUSTER_STARTS: list[float] = []  # seconds each local Dask cluster took to start


@contextlib.contextmanager
def dask():
    """The sweep on a local cluster of two single-threaded worker processes, started before the
    timing (its start is recorded in CLUSTER_STARTS): as `twolayer sweep --scheduler ADDRESS` finds
    a cluster, running. Its workers are fresh, so they import twolayer and load MNIST inside the
    timing, as --workers' processes do."""
    from distributed import LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    CLUSTER_STARTS.append(time.perf_counter() - start)

    def sweep(runs, out, data_dir):
        with dask_executor(cluster.scheduler_address) as (executor, slots):
            return run_sweep(
                runs, out=out, executor=executor, slots=slots, threads=1, data_dir=data_dir,
                progress=False,
            )  # fmt: skip

    with cluster:
        yield sweep


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 runs of 100 iterations, once")
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="the MNIST folder")
    parser.add_argument("--repeats", type=int, default=3, help="times each way runs (default: 3)")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help="where to write the results"
    )
    args = parser.parse_args(argv)
    count, iters = (4, 100) if args.quick else (8, 3000)
    repeats = 1 if args.quick else args.repeats
    runs = plan_runs(
        {"iters_num": [iters], "learning_rate": [0.1], "hidden_size": [50], "batch_size": [100]},
        seeds=count,
    )
    # Each way's set-up, outside its timing: a context giving the sweep function.
    ways = {
        "sequential, default threads": lambda: contextlib.nullcontext(sequential),
        "--workers 2": lambda: contextlib.nullcontext(workers),
    }
    try:
        import distributed  # noqa: F401

        ways[DASK] = dask  # a cluster of its own each repeat
    except ImportError:
        print("Dask is not installed (pip install 'twolayer[dask]'): its row is left out.\n")

    print(f"# Sweep throughput: {count} runs of {iters:,} iterations (hidden 50, batch 100)\n")
    runtime = show_config("dicts")["runtime"]  # the machine and kernels as the core reports them
    print(
        f"{runtime['cpu']}, {os.cpu_count()} CPUs; kernels: {runtime['kernels']['float64']}; "
        f"{get_num_threads()} threads by default; Python {platform.python_version()}.\n",
        flush=True,
    )
    seconds = {way: [] for way in ways}
    finals = {}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(repeats):
            for way, set_up in ways.items():  # taking turns: a busy moment of the machine hits all
                with set_up() as sweep:
                    start = time.perf_counter()
                    result = sweep(
                        runs, Path(scratch) / f"{repeat}-{len(finals)}-{way[:4]}", args.mnist
                    )
                    seconds[way].append(time.perf_counter() - start)
                finals[(repeat, way)] = {
                    Run(r["settings"], r["seed"]).key: r["final_test_acc"] for r in result.records
                }
                print(f"... {way}: {seconds[way][-1]:.1f} s", file=sys.stderr, flush=True)
    return report(seconds, finals, count, args)


def report(seconds, finals, count, args):
    first = next(iter(finals.values()))
    agree = all(f == first and len(f) == count and None not in f.values() for f in finals.values())
    median = {way: statistics.median(s) for way, s in seconds.items()}
    base = median["sequential, default threads"]
    print("| way | seconds (median) | runs per minute | throughput against sequential |")
    print("|---|---:|---:|---:|")
    for way, s in median.items():
        print(f"| {way} | {s:.1f} | {60 * count / s:.1f} | {base / s:.2f}x |")
    same = "yes" if agree else "NO"
    print(f"\nSame final accuracies, run for run, in every way and repeat: {same}.")
    dask = median.get(DASK)
    if dask is not None:
        print(f"Dask's overhead against --workers 2: {dask / median['--workers 2'] - 1:+.1%}.")
        print(
            f"Starting the Dask cluster (outside its timings): {statistics.median(CLUSTER_STARTS):.1f} s"
            " (median)."
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "median": median,
                "dask_cluster_start_seconds": CLUSTER_STARTS,
                "runs": count,
                "quick": args.quick,
                "agree": agree,
            },
            indent=1,
        )
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
