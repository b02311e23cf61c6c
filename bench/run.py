"""The C++ core against the NumPy reference (and PyTorch when it is installed), side by side.

    python bench/run.py            # the full run: about 14 minutes on 2 cores
    python bench/run.py --quick    # a smoke test at tiny sizes: every benchmark runs; no measurement

Every comparison runs in this one process, the implementations taking turns (so that a busy moment
of the machine hits them alike), and reports medians of the repeats and their ratios. Each also
checks that the implementations agree: a fast wrong answer must not win, and the run fails (exit
status 1) if any pair disagrees. Prints markdown tables, writes everything to a JSON file and draws
the scaling rows and the whole runs as PNG figures beside it.

Each section is a module of its own (calls, book_run, scaling, activation, shared,
sklearn_vs_mlp); --only picks sections.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import activation  # noqa: E402
import book_run  # noqa: E402
import calls  # noqa: E402
import figures  # noqa: E402
import scaling  # noqa: E402
import shared  # noqa: E402
import sklearn_vs_mlp  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_MNIST,
    Bench,
    Row,
    available_cpus,
    bench_peak,
    load_data,
    machine,
    table,
)

import twolayer  # noqa: E402

DEFAULT_JSON = Path(__file__).resolve().parent / "results.json"
SMOKE = "smoke test (--quick): tiny sizes, few repeats; not a measurement"


@dataclass(frozen=True)
class Section:
    """A section of the run: its --only name, its benchmarks, and the table of its rows (None: the
    main table)."""

    title: str
    run: Callable[[Bench], list[Row]]
    table: Callable[[list[Row], Bench], str] | None = None  # (rows, bench) -> markdown


def _book_run(bench: Bench) -> list[Row]:
    return book_run.bench_book_run(bench, repeats=1 if bench.quick else 3)


def _numerical_training(bench: Bench) -> list[Row]:
    iterations = 20 if bench.quick else None
    return book_run.bench_book_run(bench, numerical=True, iterations=iterations)


SECTIONS = (
    Section("gradient", calls.bench_gradient),
    Section("accuracy", calls.bench_accuracy),
    Section("numerical gradient", calls.bench_numerical_gradient),
    Section("book run", _book_run, book_run.runs_table),
    Section("numerical-gradient training", _numerical_training, book_run.runs_table),
    Section("scaling", scaling.bench_scaling, scaling.scaling_table),
    Section("activation", activation.bench_activations, activation.activation_table),
    Section("shared machine", shared.bench_shared, shared.shared_table),
    Section("scikit-learn", sklearn_vs_mlp.bench_sklearn, sklearn_vs_mlp.sklearn_table),
)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test at tiny sizes: check that the benchmarks run",
    )
    parser.add_argument(
        "--mnist",
        type=Path,
        default=DEFAULT_MNIST,
        help="directory of the four MNIST files (default: %(default)s)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        help="where to write the results; the figures go beside it (default: %(default)s)",
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
        choices=[s.title for s in SECTIONS],
        action="append",
        help="run only this section (repeatable; default: all of them)",
    )
    return parser.parse_args(argv)


def use_threads(threads: int, no_torch: bool) -> str | None:
    """Sets the core's (and PyTorch's) thread count; PyTorch's version, None when it is not there
    to benchmark."""
    twolayer.set_num_threads(threads)
    if no_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return str(torch.__version__)


def chosen(args) -> list[Section]:
    sections = [s for s in SECTIONS if not args.only or s.title in args.only]
    if args.skip_numerical_training:
        sections = [s for s in sections if s.title != "numerical-gradient training"]
    return sections


def run_sections(bench: Bench, sections: list[Section]) -> dict[str, list[Row]]:
    """Every section's rows, in order, each section's time on stderr."""
    rows = {}
    for section in sections:
        t0 = time.perf_counter()
        rows[section.title] = section.run(bench)
        print(f"... {section.title}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return rows


def report(bench: Bench, sections: list[Section], rows: dict[str, list[Row]]) -> None:
    """The main table, then each section's own (one per table: the two training sections share
    theirs), then the lines on train. In --quick mode, each is labelled a smoke test."""
    caption = f"*{SMOKE}.*\n\n" if bench.quick else ""
    main_rows = [r for s in sections if s.table is None for r in rows[s.title]]
    if main_rows:
        print(caption + table(main_rows), "\n")
        for r in main_rows:
            if "note" in r:
                print(f"- {r['benchmark']}: {r['note']}.")
        print()
    tables: dict[Callable, list[Row]] = {}
    for s in sections:
        if s.table is not None and rows[s.title]:
            tables.setdefault(s.table, []).extend(rows[s.title])
    for draw, rows_of_a_table in tables.items():
        print(caption + draw(rows_of_a_table, bench), "\n")
    lines = book_run.train_lines([r for s in sections for r in rows[s.title]], bench.quick)
    if lines:
        print(caption + "\n".join(lines), "\n")


def heading(bench: Bench, info: dict) -> None:
    title = f"# twolayer benchmarks: {SMOKE}" if bench.quick else "# twolayer benchmarks"
    print(f"{title}\n")
    print(
        f"{info['cpu']}, {info['cpus_available']} CPUs; {bench.threads} threads for the core and "
        f"PyTorch; kernels: {info['kernels']} ({info['kernels_because']}); NumPy {info['numpy']}, "
        f"PyTorch {info['torch'] or 'not installed'}; {info['data']}.\n",
        flush=True,
    )
    size = 256 if bench.quick else 2048
    if not bench.quick:  # a 256² product on a busy machine is no peak worth printing
        print(
            f"Peak (a {size}² NumPy matmul): {bench.peak['float64']:.0f} GFLOP/s float64, "
            f"{bench.peak['float32']:.0f} GFLOP/s float32.\n",
            flush=True,
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    threads = args.threads or available_cpus()
    torch_version = use_threads(threads, args.no_torch)
    data = load_data(args.mnist, args.quick)
    bench = Bench(data, args.quick, threads, torch_version is not None, args.mnist)
    info = machine(threads, torch_version) | {"data": data.source}
    started = time.perf_counter()
    bench.peak.update(bench_peak(bench))
    heading(bench, info)
    sections = chosen(args)
    rows = run_sections(bench, sections)
    results = {
        "machine": info,
        "peak_gflops": bench.peak,
        "quick": args.quick,
        "rows": [r for s in sections for r in rows[s.title]],
        "failures": bench.failures,
        "seconds": time.perf_counter() - started,
    }
    report(bench, sections, rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=float))
    drawn = figures.draw(results, args.json)
    print(f"Results written to {args.json} ({results['seconds']:.0f} s).")
    for path in drawn:
        print(f"Figure: {path}")
    if bench.failures:
        print("\nDISAGREEMENT:\n" + "\n".join(bench.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
