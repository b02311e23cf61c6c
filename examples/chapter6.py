"""Chapter 6's experiments ("学習に関するテクニック") on twolayer's two-layer net, each one command writing its figure:

    python examples/chapter6.py optimizers     # ch06/optimizer_compare_mnist.py: smoothed loss of each optimizer
    python examples/chapter6.py init           # ch06/weight_init_compare.py and weight_init_activation_histogram.py
    python examples/chapter6.py weight-decay   # ch06/overfit_weight_decay.py: 300 images, with and without decay
    python examples/chapter6.py search         # ch06/hyperparameter_optimization.py: the best 20 of 100 trials

The book runs them on its MultiLayerNet (4 to 6 hidden layers of 100 ReLU units); here the network is 784-100-10
with one hidden layer of 100 ReLU units and He's initial weights unless the experiment varies them, with the book's
other settings (batch sizes, iterations, learning rates). docs/chapter6.md shows the figures and what differs. The
search is the ``twolayer sweep`` command SEARCH_COMMAND spells out (run through twolayer.sweep's API here, into
--runs; either resumes the other), then the book's figure of its best 20 trials.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from twolayer import TwoLayerNet, optimizers
from twolayer.datasets import load_mnist
from twolayer.sweep import LogRange, sweep

DOCS = Path(__file__).resolve().parents[1] / "docs"
HIDDEN = 100


def smooth_curve(x: np.ndarray) -> np.ndarray:
    """The book's smoothing of loss curves (common/util.py): the mean under an 11-point Kaiser window (beta 2),
    the curve mirrored at both ends so that it keeps its length."""
    window = np.kaiser(11, 2)
    padded = np.concatenate([x[10:0:-1], x, x[-1:-11:-1]])
    return np.convolve(window / window.sum(), padded, mode="valid")[5:-5]


def mnist(data_dir: str | None):
    return load_mnist(normalize=True, data_dir=data_dir, download=data_dir is None)


def train_losses(nets, opts, x, t, iterations, batch_size, seed=0):
    """The book's loop for several networks on the same batches: each step fused in the core; the losses."""
    rng = np.random.default_rng(seed)
    losses = {key: [] for key in nets}
    for _ in range(iterations):
        batch = rng.choice(len(x), batch_size)
        for key, net in nets.items():
            losses[key].append(net.train_step(x, t, optimizer=opts[key], indices=batch))
    return {key: np.array(values) for key, values in losses.items()}


def loss_figure(losses, title, ylim):
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    for key, values in losses.items():
        axes.plot(smooth_curve(values), label=key, linewidth=1.2)
    axes.set(xlabel="iterations", ylabel="loss (smoothed)", ylim=ylim, title=title)
    axes.legend()
    return figure


def optimizers_experiment(data, out: Path, seed: int) -> None:
    """Each optimizer with its book default learning rate, batch 128, 2000 iterations."""
    (x, t), _ = data
    names = {"SGD": "sgd", "Momentum": "momentum", "Nesterov": "nesterov", "AdaGrad": "adagrad",
             "RMSprop": "rmsprop", "Adam": "adam"}  # fmt: skip
    nets = {key: TwoLayerNet(784, HIDDEN, 10, "he", activation="relu", seed=seed) for key in names}
    opts = {key: optimizers.OPTIMIZERS[name]() for key, name in names.items()}
    losses = train_losses(nets, opts, x, t, 2000, 128, seed)
    for key, values in losses.items():
        print(f"{key:9} loss over the last 100 iterations: {values[-100:].mean():.4f}")
    title = "784-100-10 ReLU net, MNIST, batch 128, each optimizer's default lr"
    loss_figure(losses, title, (0, 1)).savefig(out / "chapter6-optimizers.png", dpi=100)


def hidden_activations(net: TwoLayerNet, x: np.ndarray) -> np.ndarray:
    a = x @ net.params["W1"] + net.params["b1"]
    return 1 / (1 + np.exp(-a)) if net.activation == "sigmoid" else np.maximum(a, 0)


def init_experiment(data, out: Path, seed: int) -> None:
    """std 0.01, Xavier and He on a ReLU net (SGD, lr 0.01, batch 128, 2000 iterations); and the hidden layer's
    activations at the start, on 1000 training images, for each of them on a sigmoid and a ReLU net."""
    (x, t), _ = data
    inits = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}
    nets = {
        key: TwoLayerNet(784, HIDDEN, 10, std, activation="relu", seed=seed)
        for key, std in inits.items()
    }
    opts = {key: optimizers.SGD(lr=0.01) for key in inits}
    losses = train_losses(nets, opts, x, t, 2000, 128, seed)
    for key, values in losses.items():
        print(f"{key:9} loss over the last 100 iterations: {values[-100:].mean():.4f}")
    title = "784-100-10 ReLU net, MNIST, SGD lr 0.01, batch 128"
    loss_figure(losses, title, (0, 2.5)).savefig(out / "chapter6-init-loss.png", dpi=100)

    sample = x[np.random.default_rng(seed).choice(len(x), 1000, replace=False)]
    figure = Figure(figsize=(10, 5.5), layout="constrained")
    grid = figure.subplots(2, 3, sharey="row")
    for row, activation in enumerate(("sigmoid", "relu")):
        for col, (key, std) in enumerate(inits.items()):
            z = hidden_activations(
                TwoLayerNet(784, HIDDEN, 10, std, activation=activation, seed=seed), sample
            )
            values = z.ravel() if activation == "sigmoid" else z[z > 0]
            grid[row, col].hist(values, 30, range=(0, 1) if activation == "sigmoid" else None)
            grid[row, col].set_title(f"{activation}, {key}")
    figure.supxlabel(
        "hidden activation at the start (1000 training images; ReLU: the non-zero ones)"
    )
    figure.savefig(out / "chapter6-init-histograms.png", dpi=100)


def weight_decay_experiment(data, out: Path, seed: int) -> None:
    """300 training images, SGD lr 0.01, batch 100, 201 epochs, λ = 0 and 0.1: accuracy each epoch."""
    (x, t), (x_test, t_test) = data
    x, t = x[:300], t[:300]
    figure = Figure(figsize=(10, 4), layout="constrained")
    panels = figure.subplots(1, 2, sharey=True)
    for axes, decay in zip(panels, (0.0, 0.1)):
        net = TwoLayerNet(
            784, HIDDEN, 10, "he", activation="relu", seed=seed, weight_decay_lambda=decay
        )
        opt, rng, train_acc, test_acc = optimizers.SGD(lr=0.01), np.random.default_rng(seed), [], []
        for i in range(201 * 3):  # 3 iterations an epoch
            net.train_step(x, t, optimizer=opt, indices=rng.choice(300, 100), return_loss=False)
            if i % 3 == 0:
                train_acc.append(net.accuracy(x, t))
                test_acc.append(net.accuracy(x_test, t_test))
        print(f"λ = {decay}: final train acc {train_acc[-1]:.4f}, test acc {test_acc[-1]:.4f}")
        axes.plot(train_acc, label="train")
        axes.plot(test_acc, "--", label="test")
        axes.set(title=f"weight_decay_lambda = {decay}", xlabel="epochs", ylim=(0, 1))
        axes.legend(loc="lower right")
    panels[0].set_ylabel("accuracy")
    figure.savefig(out / "chapter6-weight-decay.png", dpi=100)


# The book's random search: 500 training images, 20% of them for validation, 50 epochs of SGD on batches of 100, the
# learning rate drawn from 10^U(-6, -2) and the weight decay from 10^U(-8, -4), 100 trials.
SEARCH = {
    "learning_rate": LogRange(1e-6, 1e-2), "weight_decay_lambda": LogRange(1e-8, 1e-4), "train_size": [400],
    "validation_size": [100], "epochs": [50], "batch_size": [100], "hidden_size": [HIDDEN],
    "activation": ["relu"], "weight_init_std": ["he"],
}  # fmt: skip
SEARCH_COMMAND = (
    "twolayer sweep --trials 100 --lr 1e-6:1e-2 --weight-decay-lambda 1e-8:1e-4 --train-size 400 "
    "--validation-size 100 --epochs 50 --batch-size 100 --hidden 100 --activation relu --weight-init-std he "
    "--out RUNS"
)


def search_experiment(data_dir: str | None, out: Path, runs: Path) -> None:
    """The sweep of SEARCH (resuming what `runs` holds), then the book's figure: the best 20 trials by final
    validation accuracy, validation accuracy solid and training accuracy dashed, per epoch."""
    sweep(SEARCH, trials=100, out=runs, data_dir=data_dir)
    records = [
        json.loads(line) for line in (runs / "runs.jsonl").read_text().splitlines() if line.strip()
    ]
    done = sorted(
        (r for r in records if r.get("final_val_acc") is not None),
        key=lambda r: -r["final_val_acc"],
    )
    for rank, r in enumerate(done[:20], 1):
        lr, decay = r["settings"]["learning_rate"], r["settings"]["weight_decay_lambda"]
        print(
            f"Best-{rank:<2} val acc {r['final_val_acc']:.3f} | lr {lr:.3g}, weight decay {decay:.3g}"
        )
    figure = Figure(figsize=(12, 11), layout="constrained")
    for rank, (axes, r) in enumerate(
        zip(figure.subplots(5, 4, sharex=True, sharey=True).ravel(), done), 1
    ):
        axes.plot(r["val_acc_list"])
        axes.plot(r["train_acc_list"], "--")
        lr, decay = r["settings"]["learning_rate"], r["settings"]["weight_decay_lambda"]
        axes.set_title(
            f"Best-{rank}: val {r['final_val_acc']:.2f}\nlr {lr:.2g}, decay {decay:.2g}", fontsize=9
        )
        axes.set_ylim(0, 1)
    figure.suptitle(
        f"the best 20 of {len(done)} trials: validation accuracy (solid), training accuracy (dashed)"
    )
    figure.savefig(out / "chapter6-search.png", dpi=80)


EXPERIMENTS = {
    "optimizers": optimizers_experiment,
    "init": init_experiment,
    "weight-decay": weight_decay_experiment,
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("experiment", choices=[*EXPERIMENTS, "search"])
    parser.add_argument(
        "--out", type=Path, default=DOCS, help="the folder of the figure (default: docs/)"
    )
    parser.add_argument(
        "--data-dir", default=os.environ.get("TWOLAYER_MNIST_DIR"), help="the MNIST folder"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--runs", type=Path, default=Path("chapter6-search"), help="the search's sweep folder"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.experiment == "search":
        search_experiment(args.data_dir, args.out, args.runs)
    else:
        EXPERIMENTS[args.experiment](mnist(args.data_dir), args.out, args.seed)


if __name__ == "__main__":
    main()
