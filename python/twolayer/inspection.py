"""The figures of a trained network on MNIST's test set, and the ``twolayer inspect`` command that
draws them for a saved network: weights.png, misclassified.png, confusion.png
(:mod:`twolayer.plotting` draws each)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from numpy.typing import ArrayLike

from ._flags import add_dir_option, add_network_argument, new_command
from ._paths import UnwritableError, check_output_dir
from .datasets import MNIST_PIXELS, load_mnist
from .net import TwoLayerNet
from .plotting import plot_confusion, plot_misclassified, plot_weights

__all__ = ["NET_FIGURES", "add_command", "plot_net", "plot_run_net"]

NET_FIGURES = ("weights.png", "misclassified.png", "confusion.png")
"""The files :func:`plot_net` writes, in its order."""


def plot_net(
    net: TwoLayerNet, x_test: ArrayLike, t_test: ArrayLike, out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Draw the net's weights.png, and its misclassified.png and confusion.png on the test set,
    into `out_dir`; return their paths."""
    paths = [Path(out_dir) / name for name in NET_FIGURES]
    plot_weights(net, paths[0])
    plot_misclassified(net, x_test, t_test, paths[1])
    plot_confusion(net, x_test, t_test, paths[2])
    return paths


def plot_run_net(
    net: TwoLayerNet, x_test: ArrayLike, t_test: ArrayLike, out_dir: Path, *, diverged: bool
) -> list[Path]:
    """`twolayer train`'s: :func:`plot_net`, unless the run diverged. A diverged net's weights are
    NaN, nothing to see: an earlier run's figures in `out_dir` are removed instead, so that they are
    not taken for this run's."""
    if not diverged:
        return plot_net(net, x_test, t_test, out_dir)
    for path in (out_dir / name for name in NET_FIGURES):
        if path.exists():
            path.unlink()
            print(f"Removed {path}, an earlier run's: this one diverged")
    return []


def add_command(commands: Any, machine: argparse.ArgumentParser) -> None:
    """Add ``twolayer inspect`` to the subcommands `commands` of the ``twolayer`` parser; `machine`:
    the options of every command that loads MNIST (--data-dir, --download, --num-threads)."""
    parser = new_command(
        commands,
        "inspect",
        _inspect,
        parents=[machine],
        help="draw a trained network's weights, its mistakes and its confusion matrix",
        description=(
            "Draw weights.png (the first layer's weights, a 28x28 tile per hidden unit), "
            "misclassified.png (test digits the network gets wrong, with the true label, its guess "
            "and the guess's probability) and confusion.png (the confusion matrix on MNIST's test "
            "set, with each class's accuracy)."
        ),
    )
    add_network_argument(parser)
    add_dir_option(
        parser, "--out", None, "output directory, created if needed (default: the network's)"
    )


def _inspect(args: argparse.Namespace) -> int:
    out = args.params.parent if args.out is None else args.out
    try:  # before any work, as for every command that writes
        check_output_dir(out)
    except UnwritableError as exc:
        print(f"twolayer: error: argument --out: {exc}", file=sys.stderr)
        return 2
    try:
        net = load_mnist_net(args.params)
        _, (x_test, t_test) = load_mnist(data_dir=args.data_dir, download=args.download or None)
        out.mkdir(parents=True, exist_ok=True)
        written = plot_net(net, x_test, t_test, out)
    except (OSError, ValueError) as exc:  # each message names the file
        print(f"twolayer: error: {exc}", file=sys.stderr)
        return 1
    print(f"{net!r}: test accuracy {net.accuracy(x_test, t_test):.4f}")
    print(f"Wrote {', '.join(str(path) for path in written)}")
    return 0


def load_mnist_net(path: Path) -> TwoLayerNet:
    """The network saved in `path`; ValueError naming the file if it does not take MNIST's
    pictures."""
    net = TwoLayerNet.load(path)
    if net.input_size != MNIST_PIXELS:
        raise ValueError(
            f"{path}: the network takes {net.input_size} inputs, not MNIST's {MNIST_PIXELS}"
        )
    return net
