"""The ``twolayer`` command: ``twolayer train`` (ch04 train_neuralnet.py), ``twolayer gradcheck`` (ch05),
``twolayer plot`` (the figures of a saved run), ``twolayer sweep`` (many runs: a grid, or ch. 6's random search)
and ``twolayer predict`` (a trained network's guess at pictures of digits).

Exit status: 0 on success, 1 on an error (data not found, a diverged run, an image that could not be read), 2 on a
usage error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from . import __version__, set_num_threads
from ._cpus import available_cpus
from ._files import atomic_write
from ._paths import UnwritableError, check_output_dir, write_or_fall_back
from ._threads import MAX_THREADS, check_thread_count
from .datasets import MNIST_CLASSES, MNIST_PIXELS, cache_dir, image_to_mnist, load_mnist
from .net import ACTIVATIONS, TwoLayerNet
from .plotting import plot_history
from .sweep import (
    FAILED,
    SUMMARY_MD,
    LogRange,
    dask_executor,
    local_executor,
    plan_runs,
    run_sweep,
    setting_names,
)
from .training import (
    BOOK_HIDDEN_SIZE,
    BOOK_ITERS_NUM,
    DivergedError,
    History,
    check_settings,
    train,
)

__all__ = ["main"]

_EXIT_ERROR, _EXIT_USAGE, _EXIT_INTERRUPTED = 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``twolayer`` command with `argv` (default: ``sys.argv[1:]``) and return its exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.num_threads is not None:
            set_num_threads(args.num_threads)
        status: int = args.run(args)
        return status
    except KeyboardInterrupt:  # outside the training loop, which handles its own
        print("\ntwolayer: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twolayer",
        description="The two-layer network of Deep Learning from Scratch (ch. 4.5) on MNIST, with a C++ core.",
        epilog="Run 'twolayer COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    machine = _machine_options()
    common = _common_options(machine)
    _add_train_command(commands, common)
    _add_gradcheck_command(commands, common)
    _add_plot_command(commands)
    _add_sweep_command(commands, machine)
    _add_predict_command(commands)
    return parser


def _common_options(machine: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of every command that builds a network from MNIST."""
    common = argparse.ArgumentParser(add_help=False, parents=[machine])
    common.add_argument(
        "--hidden",
        type=_positive_int,
        default=BOOK_HIDDEN_SIZE,
        metavar="H",
        help="hidden layer size (default: %(default)s)",
    )
    common.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default="sigmoid",
        help="the hidden layer's: sigmoid (chapter 4's network) or relu (chapter 5's) (default: %(default)s)",
    )
    common.add_argument(
        "--dtype",
        choices=("float64", "float32"),
        default="float64",
        help="the network's dtype (default: %(default)s)",
    )
    common.add_argument(
        "--seed",
        type=_nonnegative_int,
        default=None,
        help="seed of the initial weights and of all the sampling (default: random)",
    )
    return common


def _machine_options() -> argparse.ArgumentParser:
    """Where the data and the threads come from: options of every command that loads MNIST."""
    machine = argparse.ArgumentParser(add_help=False)
    _add_dir_option(
        machine,
        "--data-dir",
        None,
        "a folder of yours with the MNIST IDX files, read and never written (default: $TWOLAYER_DATA, else the "
        f"cache, {cache_dir()}, where what is missing is downloaded)",
    )
    machine.add_argument(
        "--download",
        action="store_true",
        help="download what is missing into --data-dir, creating it",
    )
    machine.add_argument(
        "--num-threads",
        type=_thread_count,
        default=None,
        metavar="N",
        help=f"threads of the C++ core, 1 to {MAX_THREADS} (default: $TWOLAYER_NUM_THREADS, "
        "else $OMP_NUM_THREADS, else the CPUs available)",
    )
    return machine


def _add_dir_option(parser: Any, flag: str, default: Path | None, help: str) -> None:
    """An option naming a directory (`parser`: a parser or an argument group)."""
    parser.add_argument(flag, type=Path, default=default, metavar="DIR", help=help)


def _add_train_command(commands: Any, common: argparse.ArgumentParser) -> None:
    train_parser = commands.add_parser(
        "train",
        parents=[common],
        help="train on MNIST, draw figures 4-11 and 4-12, save history and parameters",
        description=(
            "Train the network on MNIST with mini-batch SGD as in ch04/train_neuralnet.py: print the train and test "
            "accuracy every epoch, then write loss.png (figure 4-11), accuracy.png (figure 4-12), history.json and "
            "params.npz into --out. Ctrl-C stops early and still writes what was recorded."
        ),
    )
    length = train_parser.add_mutually_exclusive_group()
    length.add_argument(
        "--iters",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"iterations (default: {BOOK_ITERS_NUM})",
    )
    length.add_argument(
        "--epochs", type=_positive_int, default=None, metavar="N", help="epochs, instead of --iters"
    )
    train_parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=100,
        metavar="N",
        help="mini-batch size (default: %(default)s)",
    )
    train_parser.add_argument(
        "--lr", type=_positive_float, default=0.1, help="learning rate (default: %(default)s)"
    )
    train_parser.add_argument(
        "--gradient",
        choices=("backprop", "numerical"),
        default="backprop",
        help="how to compute the gradient; numerical is the book's slow alternative (default: %(default)s)",
    )
    _add_sampling_options(train_parser)
    _add_dir_option(
        train_parser,
        "--out",
        Path("twolayer-out"),
        "output directory, created if needed (default: %(default)s)",
    )
    train_parser.set_defaults(run=_train, usage_error=train_parser.error)


def _add_sampling_options(train_parser: argparse.ArgumentParser) -> None:
    """train's options for which samples it trains on and which it evaluates on."""
    train_parser.add_argument(
        "--sampling",
        choices=("replacement", "shuffle"),
        default="replacement",
        help="mini-batches drawn with replacement (the book's), or the training set shuffled every epoch and walked "
        "through, each sample once per epoch (default: %(default)s)",
    )
    train_parser.add_argument(
        "--train-size",
        type=_positive_int,
        default=None,
        metavar="N",
        help="train on N samples (default: all)",
    )
    train_parser.add_argument(
        "--validation-size",
        type=_nonnegative_int,
        default=0,
        metavar="N",
        help="hold N training samples out, never trained on, and report their accuracy (default: %(default)s)",
    )
    train_parser.add_argument(
        "--eval-every", type=_positive_int, default=None, metavar="K", help="evaluate every K iterations "
        "(default: every epoch)"
    )  # fmt: skip
    train_parser.add_argument(
        "--eval-samples", type=_positive_int, default=None, metavar="M", help="evaluate on M samples of each set, "
        "drawn once (default: all)"
    )  # fmt: skip


def _add_gradcheck_command(commands: Any, common: argparse.ArgumentParser) -> None:
    check_parser = commands.add_parser(
        "gradcheck",
        parents=[common],
        help="compare the numerical gradient with backpropagation (ch05/gradient_check.py)",
        description=(
            "The book's gradient check: on the first --batch training images, compute the gradient by "
            "backpropagation and by central differences (both numerical methods), and print the mean and maximum "
            "absolute difference for each parameter."
        ),
    )
    check_parser.add_argument(
        "--batch",
        type=_positive_int,
        default=3,
        metavar="N",
        help="number of samples (default: %(default)s)",
    )
    check_parser.set_defaults(run=_gradcheck)


def _add_plot_command(commands: Any) -> None:
    plot_parser = commands.add_parser(
        "plot",
        help="redraw the figures of a run from its history.json",
        description="Draw loss.png (figure 4-11) and accuracy.png (figure 4-12) from a history.json that "
        "'twolayer train' wrote.",
    )
    plot_parser.add_argument("history", type=Path, metavar="HISTORY", help="a history.json")
    _add_dir_option(plot_parser, "--out", None, "output directory (default: the history's)")
    plot_parser.set_defaults(run=_plot, num_threads=None)


# The command-line flag of each training setting, to name it in errors.
_SETTING_FLAGS = {
    "iters_num": "--iters", "epochs": "--epochs", "batch_size": "--batch-size", "learning_rate": "--lr",
    "gradient": "--gradient", "seed": "--seed", "sampling": "--sampling", "train_size": "--train-size",
    "validation_size": "--validation-size", "eval_every": "--eval-every", "eval_samples": "--eval-samples",
}  # fmt: skip


def _train_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of twolayer.training.train that the flags give."""
    return {
        name: getattr(args, flag[2:].replace("-", "_")) for name, flag in _SETTING_FLAGS.items()
    }


def _add_predict_command(commands: Any) -> None:
    parser = commands.add_parser(
        "predict",
        help="guess the digit in pictures (PNG, JPEG) with a trained network",
        description=(
            "Print the three most probable digits of each picture, with their probabilities. A picture may be of any "
            "size, in colour or grey, dark ink on light paper or light on dark: it is converted as MNIST's digits "
            "were (cropped to the ink, scaled to fit 20x20, centred by mass in 28x28). A picture that cannot be read "
            "is reported and the others still done; the exit status is then 1."
        ),
    )
    parser.add_argument(
        "params", type=Path, metavar="PARAMS", help="the network, as 'twolayer train' saves it"
    )
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE", help="pictures of digits")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document instead of text"
    )
    _add_dir_option(
        parser,
        "--save-preprocessed",
        None,
        "write the 28x28 image the network saw for each picture into DIR, as NAME.png",
    )
    parser.set_defaults(run=_predict, num_threads=None)


def _predict(args: argparse.Namespace) -> int:
    if (status := _unwritable("--save-preprocessed", args.save_preprocessed)) is not None:
        return status
    try:
        net = TwoLayerNet.load(args.params)
        if net.input_size != MNIST_PIXELS:
            raise ValueError(
                f"{args.params}: the network takes {net.input_size} inputs, not MNIST's {MNIST_PIXELS}"
            )
        if args.save_preprocessed is not None:
            args.save_preprocessed.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        return _error(exc)
    samples: dict[int, np.ndarray] = {}  # by the image's place in the command line
    results: list[dict[str, Any]] = [{"image": str(image)} for image in args.images]
    failed = False
    for i, (image, name) in enumerate(zip(args.images, _unique_stems(args.images))):
        try:
            samples[i] = image_to_mnist(image)
            if args.save_preprocessed is not None:
                _save_sample(samples[i], args.save_preprocessed / f"{name}.png")
        except (
            OSError,
            ValueError,
        ) as exc:  # the message names the file; the other images are still done
            _error(exc)
            results[i]["error"], failed = str(exc), True
    if samples:
        for i, p in zip(samples, net.predict(np.stack(list(samples.values())))):
            top = np.argsort(-p, kind="stable")[:3]
            results[i]["top"] = [[int(k), float(p[k])] for k in top]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for i, image in enumerate(args.images):
            if i in samples:
                print(f"{image}: " + ", ".join(f"{k} ({p:.3f})" for k, p in results[i]["top"]))
    return _EXIT_ERROR if failed else 0


def _unique_stems(paths: list[Path]) -> list[str]:
    """A file name (without suffix) for each path, numbered where two paths share one."""
    names: list[str] = []
    for path in paths:
        name, n = path.stem, 1
        while name in names:
            n += 1
            name = f"{path.stem}-{n}"
        names.append(name)
    return names


def _save_sample(sample: np.ndarray, path: Path) -> None:
    """Write an MNIST sample (784 values in [0, 1]) as a 28x28 grey PNG."""
    from PIL import Image

    pixels = np.round(sample.reshape(28, 28) * 255).astype(np.uint8)
    with atomic_write(path) as f:
        Image.fromarray(pixels).save(f, format="PNG")


def _train(args: argparse.Namespace) -> int:
    if (status := _unwritable("--out", args.out)) is not None:
        return status
    try:
        (x_train, t_train), (x_test, t_test) = _load_mnist(args)
    except (OSError, ValueError) as exc:  # the message says what is wrong and where
        return _error(exc)
    settings = _train_settings(args)
    try:  # what only the data can tell: a --train-size larger than it, say; before anything is written
        check_settings(settings, data_sizes=(len(x_train), len(x_test)))
    except (TypeError, ValueError) as exc:
        setting = str(exc).split(" ", 1)[0]
        args.usage_error(
            f"argument {_SETTING_FLAGS[setting]}: {exc}" if setting in _SETTING_FLAGS else str(exc)
        )
    try:
        args.out.mkdir(parents=True, exist_ok=True)  # now, not after a long run
        net = _network(args, x_train.shape[1])
    except (
        OSError,
        MemoryError,
        ValueError,
    ) as exc:  # an unwritable --out; a --hidden too large for this machine
        return _error(exc)
    print(f"Training {net!r}\n  {_describe_run(settings, len(x_train), len(x_test))}", flush=True)
    try:
        history = train(net, x_train, t_train, x_test, t_test, **settings)
    except DivergedError as exc:
        history = exc.history
        _error(exc)

    try:  # into a fallback folder if --out fails now (a full disk, a folder removed): a finished run is kept
        written, fell_back = write_or_fall_back(
            args.out, lambda out: _write_results(out, net, history)
        )
    except OSError as exc:
        return _error(exc)
    done = len(history.train_loss_list)
    if history.interrupted:
        print(
            f"Interrupted after {done:,} of {history.iters_num:,} iterations ({history.wall_time:.1f} s)."
        )
    elif not history.diverged:
        final = {
            "train": history.final_train_acc,
            "val": history.final_val_acc,
            "test": history.final_test_acc,
        }
        accuracies = ", ".join(
            f"{name} acc {value:.4f}" for name, value in final.items() if value is not None
        )
        print(f"Done: {done:,} iterations in {history.wall_time:.1f} s; final {accuracies}")
    print(f"Wrote {', '.join(str(path) for path in written)}")
    if fell_back is not None:
        return _error(OSError(fell_back))
    if history.diverged:
        return _EXIT_ERROR
    return _EXIT_INTERRUPTED if history.interrupted else 0


def _network(args: argparse.Namespace, input_size: int) -> TwoLayerNet:
    """The network of --hidden, --activation, --dtype and --seed, for `input_size` inputs."""
    return TwoLayerNet(
        input_size,
        args.hidden,
        MNIST_CLASSES,
        activation=args.activation,
        dtype=args.dtype,
        seed=args.seed,
    )


def _describe_run(settings: dict[str, Any], n_train: int, n_test: int) -> str:
    held_out = settings["validation_size"]
    trained_on = settings["train_size"] or n_train - held_out
    validation = f"{held_out:,} held out for validation, " if held_out else ""
    length = (
        f"{settings['epochs']:,} epochs"
        if settings["epochs"]
        else f"{settings['iters_num'] or BOOK_ITERS_NUM:,} iterations"
    )
    shuffled = ", shuffled every epoch" if settings["sampling"] == "shuffle" else ""
    return (
        f"on {trained_on:,} MNIST images ({validation}{n_test:,} for testing): {length}, batch size "
        f"{settings['batch_size']}, learning rate {settings['learning_rate']}, {settings['gradient']} gradient{shuffled}"
    )


def _write_results(out: Path, net: TwoLayerNet, history: History) -> list[Path]:
    """Write history.json, the two figures and params.npz into `out`. A diverged run's parameters,
    full of NaN, are worth nothing: an earlier run's params.npz is removed instead, so that it is
    not taken for this run's."""
    written = [out / "history.json"]
    history.to_json(written[0])
    written += plot_history(history, out)
    params = out / "params.npz"
    if not history.diverged:
        net.save(params)
        written.append(params)
    elif params.exists():
        params.unlink()
        print(f"Removed {params}, an earlier run's: this one diverged")
    return written


def _plot(args: argparse.Namespace) -> int:
    out = args.history.parent if args.out is None else args.out
    if (status := _unwritable("--out", out)) is not None:
        return status
    try:
        history = History.from_json(args.history)
        out.mkdir(parents=True, exist_ok=True)
        written = plot_history(history, out)
    except (OSError, ValueError) as exc:  # each message names the file
        return _error(exc)
    print(f"Wrote {', '.join(str(path) for path in written)}")
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    try:
        # One-hot labels, as the book's gradient_check.py loads them.
        (x_train, t_train), _ = _load_mnist(args, one_hot_label=True)
    except (OSError, ValueError) as exc:
        return _error(exc)
    x_batch, t_batch = x_train[: args.batch], t_train[: args.batch]
    try:
        net = _network(args, x_train.shape[1])
    except (MemoryError, ValueError) as exc:  # a --hidden too large for this machine
        return _error(exc)
    print(
        f"Gradient check of {net!r}\n  on x_train[:{args.batch}]: |numerical - backprop| for each parameter"
    )

    grad_backprop = net.gradient(x_batch, t_batch)
    print(f"{'param':<6} {'method':<12} {'mean':>9} {'max':>9}")
    seconds = {}
    for method in ("naive", "incremental"):
        start = time.perf_counter()
        grad_numerical = net.numerical_gradient(x_batch, t_batch, method=method)
        seconds[method] = time.perf_counter() - start
        for key, numerical in grad_numerical.items():
            diff = np.abs(grad_backprop[key] - numerical)
            print(f"{key:<6} {method:<12} {diff.mean():9.2e} {diff.max():9.2e}")
    print(
        "Numerical gradient time: "
        + ", ".join(f"{method} {s:.3f} s" for method, s in seconds.items())
    )
    return 0


# A sweep's flag for each setting: `twolayer train`'s; any other setting of train() or of the
# network is --its-name. Their dests carry a prefix that keeps them apart from the sweep's options.
_SWEEP_FLAGS = {**_SETTING_FLAGS, "hidden_size": "--hidden"}
_SETTING = "setting:"
Slots = Optional[int]


def _add_sweep_command(commands: Any, machine: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "sweep",
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
    for name, default in setting_names().items():
        flag = _SWEEP_FLAGS.get(name, "--" + name.replace("_", "-"))
        settings.add_argument(
            flag, dest=_SETTING + name, nargs="+", type=_sweep_value, metavar="V",
            help=f"{name} (default: {getattr(default, '__name__', default)})",
        )  # fmt: skip
    _add_sweep_options(parser)
    parser.set_defaults(run=_sweep)


def _add_sweep_options(parser: argparse.ArgumentParser) -> None:
    runs = parser.add_argument_group("runs")
    runs.add_argument("--seeds", type=_positive_int, default=1, metavar="N",
                      help="seeds 0 to N-1 for every setting (default: %(default)s)")  # fmt: skip
    runs.add_argument("--trials", type=_positive_int, default=None, metavar="N",
                      help="random search: N settings drawn from values and ranges")  # fmt: skip
    runs.add_argument("--search-seed", type=_nonnegative_int, default=0, metavar="N",
                      help="seed of the random search (default: %(default)s)")  # fmt: skip
    _add_dir_option(
        runs, "--out", Path("twolayer-sweep"), "output directory (default: %(default)s)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                       help="local worker processes (default: 1, this one)")  # fmt: skip
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster of this scheduler (tcp://host:8786); needs "
                       "pip install 'twolayer[dask]'")  # fmt: skip
    parser.add_argument("--connect-timeout", type=_positive_float, default=10.0, metavar="S",
                        help="seconds to wait for the scheduler and a worker "
                        "(default: %(default)s)")  # fmt: skip


def _sweep(args: argparse.Namespace) -> int:
    space = {
        key[len(_SETTING) :]: values
        for key, values in vars(args).items()
        if key.startswith(_SETTING) and values is not None
    }
    try:  # every setting checked before any run starts (or any cluster is contacted)
        runs = plan_runs(space, seeds=args.seeds, trials=args.trials, search_seed=args.search_seed)
    except (TypeError, ValueError) as exc:
        return _usage_error(exc)
    if (status := _unwritable("--out", args.out)) is not None:
        return status
    try:
        if args.download:  # once, here, rather than by every worker
            _load_mnist(args)
        with _sweep_executor(args) as (executor, slots, threads):
            result = run_sweep(
                runs,
                out=args.out,
                executor=executor,
                slots=slots,
                threads=threads,
                data_dir=args.data_dir,
            )
    except (ImportError, ConnectionError) as exc:  # no Dask, or no cluster there
        return _usage_error(exc)
    except cf.BrokenExecutor:
        died = f"a worker process died; the runs finished so far are kept in {args.out}"
        return _error(RuntimeError(died + ", and the same command again does the others"))
    except (OSError, ValueError) as exc:  # an --out one cannot write, a damaged runs.jsonl
        return _error(exc)
    print(f"Wrote {', '.join(str(path) for path in result.files)}")
    print((args.out / SUMMARY_MD).read_text(encoding="utf-8"), end="")
    if result.interrupted:
        return _EXIT_INTERRUPTED
    return _EXIT_ERROR if any(r["status"] == FAILED for r in result.records) else 0


@contextlib.contextmanager
def _sweep_executor(args: argparse.Namespace) -> Iterator[tuple[cf.Executor | None, Slots, Slots]]:
    """(executor, runs at once, threads per run) for --scheduler or --workers."""
    if args.scheduler is not None:
        with dask_executor(args.scheduler, timeout=args.connect_timeout) as (executor, slots):
            yield executor, slots, args.num_threads or 1
    elif args.workers == 1:
        yield None, None, args.num_threads  # in this process, with main()'s --num-threads
    else:
        threads = args.num_threads or max(1, available_cpus() // args.workers)
        with local_executor(args.workers, threads) as executor:
            yield executor, args.workers, threads


def _sweep_value(text: str) -> Any:
    """A setting's value as written: LOW:HIGH (a range), an integer, a number, or a word."""
    if ":" in text:
        try:
            return LogRange.parse(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def _load_mnist(args: argparse.Namespace, one_hot_label: bool = False) -> Any:
    """MNIST from --data-dir (downloading into it with --download), else as load_mnist finds it."""
    return load_mnist(
        one_hot_label=one_hot_label, data_dir=args.data_dir, download=args.download or None
    )


def _unwritable(flag: str, path: Path | None) -> int | None:
    """None if files can be written in the folder `path` (or it can be created), else the usage error's status."""
    try:
        if path is not None:
            check_output_dir(path)
    except UnwritableError as exc:
        print(f"twolayer: error: argument {flag}: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    return None


def _usage_error(exc: Exception) -> int:
    print(f"twolayer sweep: error: {exc}", file=sys.stderr)
    return _EXIT_USAGE


def _error(exc: Exception) -> int:
    print(f"twolayer: error: {exc}", file=sys.stderr)
    return _EXIT_ERROR


def _int_at_least(minimum: int, text: str, kind: str) -> int:
    """`text` as an integer >= `minimum`; argparse reports the error as a usage error naming the
    option."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(f"must be a {kind} integer, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(1, text, "positive")


def _nonnegative_int(text: str) -> int:
    return _int_at_least(0, text, "non-negative")


def _thread_count(text: str) -> int:
    """--num-threads: the bounds and the message are _threads.py's, as for set_num_threads."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    try:
        return check_thread_count(n, name="")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value
