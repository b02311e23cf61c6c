"""Shared fixtures: the MNIST files, random batches, tolerances per dtype."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("TWOLAYER_MNIST_DIR", ROOT.parent / "shared" / "mnist"))
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The directory with the four MNIST files. CI provides it, so in CI its absence is a failure."""
    missing = [f for f in MNIST_FILES if not (MNIST_DIR / f).is_file()]
    if missing:
        message = f"MNIST files missing from {MNIST_DIR}: {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message + " (set TWOLAYER_MNIST_DIR)")
    return MNIST_DIR


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request) -> np.dtype:
    return np.dtype(request.param)


def mnist_like_batch(rng: np.random.Generator, n: int, d: int, dtype=np.float64) -> np.ndarray:
    """Inputs in [0, 1] with about 81% zeros, like normalised MNIST pixels."""
    x = rng.random((n, d))
    x[rng.random((n, d)) < 0.81] = 0
    return x.astype(dtype)


@pytest.fixture(scope="session", autouse=True)
def _data_cache(tmp_path_factory):
    """twolayer's data cache in a session temporary directory, so that no test writes to the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TWOLAYER_DATA", str(tmp_path_factory.mktemp("twolayer-data")))
        patch.delenv("TWOLAYER_MNIST_URL", raising=False)
        yield


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """Real MNIST as the book loads it (float32 in [0, 1], flattened, integer labels), once per session.

    ``((x_train, t_train), (x_test, t_test))``; shared by the tests, so never modify the arrays.
    """
    from twolayer.datasets import load_mnist

    return load_mnist(data_dir=mnist_dir, download=False)


@pytest.fixture(scope="session")
def book_net(mnist):
    """A network trained with the book's settings (50 hidden units, 10,000 iterations of 100, learning rate 0.1)."""
    from twolayer import TwoLayerNet
    from twolayer.training import train

    (x_train, t_train), (x_test, t_test) = mnist
    net = TwoLayerNet(784, 50, 10, seed=0)
    train(net, x_train, t_train, x_test, t_test, seed=0, progress=False)
    return net


def digit_picture(sample: np.ndarray, side: int, canvas: tuple[int, int], at: tuple[int, int]):
    """An MNIST sample as a person would supply it: dark ink on white paper, `side` pixels tall, placed at `at`
    on a `canvas` (width, height) of paper. A PIL image in mode "L"."""
    from PIL import Image

    digit = Image.fromarray(255 - np.round(sample.reshape(28, 28) * 255).astype(np.uint8))
    picture = Image.new("L", canvas, 255)
    picture.paste(digit.resize((side, side), Image.Resampling.BICUBIC), at)
    return picture
