"""``twolayer sweep``: its flags (every setting's, from the declarations, taking several values or
a range) and the run of a sweep on local processes or a Dask cluster."""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from ._flags import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    add_dir_option,
    add_flag,
    add_setting,
    error,
    flag_type,
    new_command,
    nonnegative_int,
    positive_float,
    positive_int,
    unwritable,
)
from .datasets import load_mnist
from .settings import SETTINGS, SettingError, SweepSettings
from .sweep import (
    FAILED,
    FolderBusyError,
    SweepOptions,
    check_halving,
    dask_executor,
    halving_sweep,
    local_executor,
    parse_value,
    plan_runs,
    run_sweep,
    setting_names,
    share_of_cpus,
)

__all__ = ["add_sweep_command"]

# The sweep's settings are kept by dests with a prefix, apart from its own options.
_SETTING = "setting:"
Slots = Optional[int]


def add_sweep_command(commands: Any, machine: argparse.ArgumentParser) -> None:
    parser = new_command(
        commands,
        "sweep",
        _sweep,
        parents=[machine],
        help="many training runs: a grid, or a random search; summary, figures, resumable",
        description=(
            "Train once per setting and seed, on local worker processes or a Dask cluster. Give "
            "a setting several values for a grid (--lr 0.01 0.1 1 --hidden 20 50), or LOW:HIGH "
            "ranges with --trials for a random search drawing them log-uniformly (--trials 20 "
            "--lr 1e-4:1 --hidden 10:200). Writes runs.jsonl (a line per finished run), "
            "summary.md and summary.csv (a row per setting, best first) and figures into --out. "
            "Running the same command again skips the runs already finished there; Ctrl-C keeps "
            "them."
        ),
        epilog="--num-threads sets the core's threads per run (default: the CPUs shared among the "
        "workers, or 1 per run on a Dask cluster).",
    )
    settings = parser.add_argument_group("settings (one or more values each, or LOW:HIGH)")
    for name in setting_names():
        spec = SETTINGS[name]
        add_flag(
            settings,
            spec.flags,
            dest=_SETTING + name,
            nargs="+",
            type=flag_type(parse_value),
            metavar="V",
            help=spec.help.replace("%(default)s", str(spec.default)),
        )
    _add_sweep_options(parser)


def _add_sweep_options(parser: argparse.ArgumentParser) -> None:
    runs = parser.add_argument_group("runs")
    runs.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        metavar="N",
        help="seeds 0 to N-1 for every setting (default: %(default)s)",
    )
    runs.add_argument(
        "--trials",
        type=positive_int,
        default=None,
        metavar="N",
        help="random search: N settings drawn from values and ranges",
    )
    runs.add_argument(
        "--search-seed",
        type=nonnegative_int,
        default=0,
        metavar="N",
        help="seed of the random search (default: %(default)s)",
    )
    add_dir_option(runs, "--out", Path("twolayer-sweep"), "output directory (default: %(default)s)")
    add_setting(runs, SweepSettings.declared()["halving"])
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="local worker processes (default: 1, this one)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster of this scheduler (tcp://host:8786); needs "
        "pip install 'twolayer[dask]'",
    )
    parser.add_argument(
        "--connect-timeout",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds to wait for the scheduler and a worker (default: %(default)s)",
    )


def _sweep(args: argparse.Namespace) -> int:
    space = {
        key[len(_SETTING) :]: values
        for key, values in vars(args).items()
        if key.startswith(_SETTING) and values is not None
    }
    try:  # every setting checked before any run starts (or any cluster is contacted)
        runs = plan_runs(space, seeds=args.seeds, trials=args.trials, search_seed=args.search_seed)
        if args.halving is not None:  # its rungs and validation sets, before any run starts
            check_halving(runs, args.halving)
    except SettingError as exc:
        flag = "--halving" if exc.setting == "halving" else SETTINGS[exc.setting].flag
        return _usage_error(f"argument {flag}: {exc}")
    except (TypeError, ValueError) as exc:
        return _usage_error(exc)
    if (status := unwritable("--out", args.out)) is not None:
        return status
    try:
        if args.download:  # once, here, rather than by every worker
            load_mnist(data_dir=args.data_dir, download=True)
        with _sweep_executor(args) as (executor, slots, threads):
            options = SweepOptions(executor, slots, threads, args.data_dir)
            result = (
                run_sweep(runs, out=args.out, options=options)
                if args.halving is None
                else halving_sweep(runs, out=args.out, eta=args.halving, options=options)
            )
    # No Dask or no cluster; or --out taken by another sweep.
    except (ImportError, ConnectionError, FolderBusyError) as exc:
        return _usage_error(exc)
    except cf.BrokenExecutor:
        died = f"a worker process died; the runs finished so far are kept in {args.out}"
        return error(RuntimeError(died + ", and the same command again does the others"))
    except (OSError, ValueError) as exc:  # an --out one cannot write, a damaged runs.jsonl
        return error(exc)
    print(f"Wrote {', '.join(str(path) for path in result.files)}")
    print(result.summary, end="")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_ERROR if any(r["status"] == FAILED for r in result.records) else 0


@contextlib.contextmanager
def _sweep_executor(args: argparse.Namespace) -> Iterator[tuple[cf.Executor | None, Slots, Slots]]:
    """(executor, runs at once, threads per run) for --scheduler or --workers."""
    if args.scheduler is not None:
        with dask_executor(args.scheduler, timeout=args.connect_timeout) as (executor, slots):
            yield executor, slots, args.num_threads or 1
    elif args.workers == 1:
        yield None, None, args.num_threads  # in this process, with main()'s --num-threads
    else:
        threads = args.num_threads or share_of_cpus(args.workers)
        with local_executor(args.workers, threads) as executor:
            yield executor, args.workers, threads


def _usage_error(exc: Exception | str) -> int:
    print(f"twolayer sweep: error: {exc}", file=sys.stderr)
    return EXIT_USAGE
