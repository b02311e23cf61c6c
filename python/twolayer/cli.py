"""The ``twolayer`` command: ``twolayer train`` (ch04 train_neuralnet.py), ``twolayer gradcheck``
(ch05), ``twolayer plot`` (the figures of a saved run), ``twolayer sweep`` (many runs: a grid, or
ch. 6's random search), ``twolayer predict`` (a trained network's guess at pictures of digits),
``twolayer inspect`` (its weights, mistakes and confusions) and ``twolayer draw`` (a page to draw
digits on).

Exit status: 0 on success, 1 on an error (data not found, a diverged run, an image that could not be
read), 2 on a usage error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, draw, inspection, set_num_threads
from ._flags import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    PARSING,
    add_dir_option,
    add_flag,
    add_setting,
    error,
    new_command,
    positive_int,
    thread_count,
    unrecognized,
    unwritable,
)
from ._paths import write_or_fall_back
from ._predict_command import add_predict_command
from ._resume_command import CHECKPOINT_NAME, add_checkpoint_options, resumed
from ._sweep_command import add_sweep_command
from ._threads import MAX_THREADS
from .checkpoint import CheckpointError
from .datasets import MNIST_CLASSES, cache_dir, load_mnist
from .net import TwoLayerNet
from .plotting import plot_history
from .settings import (
    BOOK_ITERS_NUM,
    SETTINGS,
    NetSettings,
    RunSettings,
    SettingError,
    TrainSettings,
)
from .training import DivergedError, History, train, train_checked

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``twolayer`` command with `argv` (default: ``sys.argv[1:]``) and return its exit
    status."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command's parser, with its usage
        getattr(args, "command_parser", parser).error(unrecognized(args, parser, unknown))
    try:
        # (None: the command has no --num-threads, or it was not given)
        if getattr(args, "num_threads", None) is not None:
            set_num_threads(args.num_threads)
        status: int = args.run(args)
        return status
    except KeyboardInterrupt:  # outside the training loop, which handles its own
        print("\ntwolayer: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        **PARSING,
        prog="twolayer",
        description="The two-layer network of Deep Learning from Scratch (ch. 4.5) on MNIST, with "
        "a C++ core.",
        epilog="Run 'twolayer COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    machine = _machine_options()
    common = _common_options(machine)
    _add_train_command(commands, common)
    _add_gradcheck_command(commands, common)
    _add_plot_command(commands)
    add_sweep_command(commands, machine)
    add_predict_command(commands)
    inspection.add_command(commands, machine)
    draw.add_command(commands)
    return parser


def _common_options(machine: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of every command that builds a network from MNIST: the network's settings and
    the seed."""
    common = argparse.ArgumentParser(add_help=False, parents=[machine], **PARSING)
    for spec in NetSettings.declared().values():
        add_setting(common, spec)
    add_setting(common, SETTINGS["seed"])
    return common


def _machine_options() -> argparse.ArgumentParser:
    """Where the data and the threads come from: options of every command that loads MNIST."""
    machine = argparse.ArgumentParser(add_help=False, **PARSING)
    add_dir_option(
        machine,
        "--data-dir",
        None,
        "a folder of yours with the MNIST IDX files, read and never written (default: "
        f"$TWOLAYER_DATA, else the cache, {cache_dir()}, where what is missing is downloaded)",
    )
    machine.add_argument(
        "--download",
        action="store_true",
        help="download what is missing into --data-dir, creating it",
    )
    machine.add_argument(
        "--num-threads",
        type=thread_count,
        default=None,
        metavar="N",
        help=f"threads of the C++ core, 1 to {MAX_THREADS} (default: $TWOLAYER_NUM_THREADS, "
        "else $OMP_NUM_THREADS, else the CPUs available)",
    )
    return machine


def _add_train_command(commands: Any, common: argparse.ArgumentParser) -> None:
    train_parser = new_command(
        commands,
        "train",
        _train,
        parents=[common],
        help="train on MNIST, draw figures 4-11 and 4-12, save history and parameters",
        description=(
            "Train the network on MNIST with mini-batch SGD as in ch04/train_neuralnet.py: print "
            "the train and test accuracy every epoch, then write loss.png (figure 4-11), "
            "accuracy.png (figure 4-12), history.json, params.npz and the trained network's "
            "weights.png, misclassified.png and confusion.png (as 'twolayer inspect' draws them) "
            "into --out. Ctrl-C stops early, still writes what was recorded, and a checkpoint "
            "that --resume continues."
        ),
    )
    length = train_parser.add_mutually_exclusive_group()
    for name, spec in TrainSettings.declared().items():
        if name != "seed":  # a common option: it seeds the network too
            add_setting(length if name in ("iters_num", "epochs") else train_parser, spec)
    add_dir_option(
        train_parser,
        "--out",
        None,
        "output directory, created if needed (default: twolayer-out, or the run --resume "
        "continues)",
    )
    add_checkpoint_options(train_parser)


def _add_gradcheck_command(commands: Any, common: argparse.ArgumentParser) -> None:
    check_parser = new_command(
        commands,
        "gradcheck",
        _gradcheck,
        parents=[common],
        help="compare the numerical gradient with backpropagation (ch05/gradient_check.py)",
        description=(
            "The book's gradient check: on the first --batch-size training images, compute the "
            "gradient by backpropagation and by central differences (both numerical methods), and "
            "print the mean and maximum absolute difference for each parameter."
        ),
    )
    add_flag(
        check_parser,
        ("--batch-size", "--batch", "--batch_size"),
        dest="batch_size",
        type=positive_int,
        default=3,
        metavar="N",
        help="number of samples (default: %(default)s)",
    )


def _add_plot_command(commands: Any) -> None:
    plot_parser = new_command(
        commands,
        "plot",
        _plot,
        help="redraw the figures of a run from its history.json",
        description="Draw loss.png (figure 4-11) and accuracy.png (figure 4-12) from a "
        "history.json that 'twolayer train' wrote.",
    )
    plot_parser.add_argument("history", type=Path, metavar="HISTORY", help="a history.json")
    add_dir_option(plot_parser, "--out", None, "output directory (default: the history's)")


def _train(args: argparse.Namespace) -> int:
    args.out = args.out or args.resume or Path("twolayer-out")
    if (status := unwritable("--out", args.out)) is not None:
        return status
    try:
        (x_train, t_train), (x_test, t_test) = _load_mnist(args)
    except (OSError, ValueError) as exc:  # the message says what is wrong and where
        return error(exc)
    if args.resume is not None:
        net, settings, resume = resumed(args, x_train.shape[1])
    else:
        settings, resume = _checked_settings(args, x_train, len(x_test)), None
    try:
        args.out.mkdir(parents=True, exist_ok=True)  # now, not after a long run
        if args.resume is None:
            net = _network(args, x_train.shape[1])
    except (OSError, MemoryError, ValueError) as exc:  # an unwritable --out; too large a --hidden
        return error(exc)
    verb = "Resuming" if args.resume is not None else "Training"
    print(f"{verb} {net!r}\n  {_describe_run(settings, len(x_train), len(x_test))}", flush=True)
    kept = {"checkpoint": args.out / CHECKPOINT_NAME, "checkpoint_every": args.checkpoint_every}
    try:
        if resume is not None:  # train checks the checkpoint against the data
            history = train(net, x_train, t_train, x_test, t_test, resume=resume, **kept)
        else:  # the settings checked above, once
            data = (x_train, t_train), (x_test, t_test)
            history = train_checked(net, *data, settings, RunSettings(**kept))
    except DivergedError as exc:
        history = exc.history
        error(exc)
    except CheckpointError as exc:  # of other data
        args.command_parser.error(f"argument --resume: {exc}")

    # Into a fallback folder if --out fails now (a full disk, a folder removed): a run is kept.
    try:
        written, fell_back = write_or_fall_back(
            args.out, lambda out: _write_results(out, net, history, (x_test, t_test))
        )
    except OSError as exc:
        return error(exc)
    done = len(history.train_loss_list)
    if history.interrupted:
        print(
            f"Interrupted after {done:,} of {history.iters_num:,} iterations "
            f"({history.wall_time:.1f} s); continue it with: twolayer train --resume {args.out}"
        )
    elif not history.diverged:
        final = {name: getattr(history, f"final_{name}_acc") for name in ("train", "val", "test")}
        accuracies = ", ".join(
            f"{name} acc {value:.4f}" for name, value in final.items() if value is not None
        )
        print(f"Done: {done:,} iterations in {history.wall_time:.1f} s; final {accuracies}")
    print(f"Wrote {', '.join(str(path) for path in written)}")
    if fell_back is not None:
        return error(OSError(fell_back))
    if history.diverged:
        return EXIT_ERROR
    return EXIT_INTERRUPTED if history.interrupted else 0


def _checked_settings(args: argparse.Namespace, data: np.ndarray, n_test: int) -> TrainSettings:
    """The training flags' settings, checked against the training images `data` before anything
    is written (a --train-size larger than it) and against the network (a learning rate beyond
    its dtype, a batch beyond the memory): a usage error naming the flag."""
    try:
        settings = TrainSettings(**{name: getattr(args, name) for name in TrainSettings.declared()})
        settings.check_data(len(data), n_test)
        sizes = (data.shape[1], args.hidden_size, MNIST_CLASSES)
        settings.check_net(args.dtype, sizes, len(data))
    except SettingError as exc:
        args.command_parser.error(f"argument {SETTINGS[exc.setting].flag}: {exc}")
    return settings


def _network(args: argparse.Namespace, input_size: int) -> TwoLayerNet:
    """The network of the network's flags and --seed, for `input_size` inputs."""
    chosen = {name: getattr(args, name) for name in NetSettings.declared()}
    return TwoLayerNet(input_size, output_size=MNIST_CLASSES, seed=args.seed, **chosen)


def _describe_run(settings: TrainSettings, n_train: int, n_test: int) -> str:
    held_out = settings.validation_size
    trained_on = settings.fit_size(n_train)
    validation = f"{held_out:,} held out for validation, " if held_out else ""
    length = (
        f"{settings.epochs:,} epochs"
        if settings.epochs
        else f"{settings.iters_num or BOOK_ITERS_NUM:,} iterations"
    )
    shuffled = ", shuffled every epoch" if settings.sampling == "shuffle" else ""
    optimizer = f", {settings.optimizer}" if settings.optimizer != "sgd" else ""
    return (
        f"on {trained_on:,} MNIST images ({validation}{n_test:,} for testing): {length}, batch "
        f"size {settings.batch_size}, learning rate {settings.learning_rate}, "
        f"{settings.gradient} gradient{optimizer}{shuffled}"
    )


def _write_results(
    out: Path, net: TwoLayerNet, history: History, test: tuple[np.ndarray, np.ndarray]
) -> list[Path]:
    """Write history.json, the two figures, params.npz and the network's figures on the `test` set
    into `out`. A diverged run's parameters, full of NaN, are worth nothing: an earlier run's
    params.npz (and figures) are removed instead, so that they are not taken for this run's."""
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
    return written + inspection.plot_run_net(net, *test, out, diverged=history.diverged)


def _plot(args: argparse.Namespace) -> int:
    out = args.history.parent if args.out is None else args.out
    if (status := unwritable("--out", out)) is not None:
        return status
    try:
        history = History.from_json(args.history)
        out.mkdir(parents=True, exist_ok=True)
        written = plot_history(history, out)
    except (OSError, ValueError) as exc:  # each message names the file
        return error(exc)
    print(f"Wrote {', '.join(str(path) for path in written)}")
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    try:
        # One-hot labels, as the book's gradient_check.py loads them.
        (x_train, t_train), _ = _load_mnist(args, one_hot_label=True)
    except (OSError, ValueError) as exc:
        return error(exc)
    x_batch, t_batch = x_train[: args.batch_size], t_train[: args.batch_size]
    try:
        net = _network(args, x_train.shape[1])
    except (MemoryError, ValueError) as exc:  # a --hidden too large for this machine
        return error(exc)
    print(
        f"Gradient check of {net!r}\n  on x_train[:{args.batch_size}]: "
        "|numerical - backprop| for each parameter"
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


def _load_mnist(args: argparse.Namespace, one_hot_label: bool = False) -> Any:
    """MNIST from --data-dir (downloading into it with --download), else as load_mnist finds it."""
    return load_mnist(
        one_hot_label=one_hot_label, data_dir=args.data_dir, download=args.download or None
    )
