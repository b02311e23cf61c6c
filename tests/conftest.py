"""Shared fixtures: the MNIST files, the net dtypes and their tolerances, a relative-error check."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest
from mnist_files import NAMES, Server, fake_mnist

ROOT = Path(__file__).resolve().parents[1]


def _has_mnist(directory: Path) -> bool:
    return all(
        (directory / f"{name}.gz").is_file() or (directory / name).is_file() for name in NAMES
    )


def _find_mnist() -> tuple[Path | None, list[Path]]:
    """The first folder holding the four MNIST files (gzipped or not), and the folders looked in: where twolayer
    looks ($TWOLAYER_DATA, then its cache), and this project's CI layouts ($TWOLAYER_MNIST_DIR, ../shared/mnist).
    Looked up before the session's fixtures point twolayer's cache elsewhere."""
    from twolayer.datasets import cache_dir

    places = [os.environ.get("TWOLAYER_DATA"), os.environ.get("TWOLAYER_MNIST_DIR")]
    candidates = [Path(p).expanduser() for p in places if p] + [
        cache_dir(),
        ROOT.parent / "shared" / "mnist",
    ]
    return next((c for c in candidates if _has_mnist(c)), None), candidates


MNIST_DIR, MNIST_LOOKED_IN = _find_mnist()
_NO_MNIST = "no MNIST (see the note at the start of the session)"


def pytest_report_collectionfinish(config: Any, items: list[Any]) -> str | None:
    """One line, when MNIST is not found, saying how many tests it skips (fails, under CI) and how to get it."""
    needing = sum("mnist_dir" in getattr(item, "fixturenames", ()) for item in items)
    if MNIST_DIR is not None or not needing:
        return None
    outcome = "fail (under $CI)" if os.environ.get("CI") else "skip"
    looked_in = ", ".join(map(str, MNIST_LOOKED_IN))
    return (
        f"MNIST not found in {looked_in}: {needing} tests need it and will {outcome}. "
        "To get it: 'twolayer train' downloads it into the cache, or set TWOLAYER_DATA to a folder holding the four "
        "files."
    )


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder with the four MNIST files. CI provides it, so in CI its absence is a failure."""
    if MNIST_DIR is None:
        if os.environ.get("CI"):
            pytest.fail(f"MNIST not found in {', '.join(map(str, MNIST_LOOKED_IN))}")
        pytest.skip(_NO_MNIST)
    return MNIST_DIR


@pytest.fixture(scope="session")
def mnist_dir_if_any() -> Path:
    """Where the MNIST files are if anywhere, for code that falls back to random data without them."""
    return MNIST_DIR if MNIST_DIR is not None else MNIST_LOOKED_IN[-1]


@pytest.fixture(params=[np.float64, np.float32], ids=["float64", "float32"])
def dtype(request: Any) -> np.dtype:
    return np.dtype(request.param)


class Tolerance(NamedTuple):
    rtol: float
    atol: float


# The largest differences allowed between a net of each dtype and the float64 NumPy reference.
TOLERANCE = {
    np.dtype(np.float64): Tolerance(rtol=1e-12, atol=1e-14),
    np.dtype(np.float32): Tolerance(rtol=2e-5, atol=2e-6),
}


@pytest.fixture
def tol(dtype: np.dtype) -> Tolerance:
    """The tolerance of the test's net dtype."""
    return TOLERANCE[dtype]


@pytest.fixture(scope="session")
def tolerance() -> Callable[[Any], Tolerance]:
    """tolerance(dtype): the tolerance of any net dtype."""
    return lambda dtype: TOLERANCE[np.dtype(dtype)]


def _relative_error(actual: Any, expected: Any) -> float:
    """max |actual - expected| / max |expected|, in float64."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-300))


@pytest.fixture(scope="session")
def assert_close() -> Callable[..., None]:
    """assert_close(actual, expected, dtype, what="", scale=1): the relative error of the whole
    array within `scale` times the dtype's rtol, the error reported when it is not."""

    def check(actual: Any, expected: Any, dtype: Any, what: str = "", scale: float = 1) -> None:
        error = _relative_error(actual, expected)
        limit = scale * TOLERANCE[np.dtype(dtype)].rtol
        assert error <= limit, f"{what}: max relative difference {error:.3g} > {limit:.3g}"

    return check


@pytest.fixture(scope="session")
def relative_error() -> Callable[[Any, Any], float]:
    """relative_error(actual, expected): max |actual - expected| / max |expected|, in float64."""
    return _relative_error


@pytest.fixture(scope="session", autouse=True)
def _data_cache(tmp_path_factory):
    """twolayer's data cache in a session temporary directory, so that no test writes to the user's cache; and no
    data folder of the user's, so that the tests of the defaults see the cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TWOLAYER_CACHE", str(tmp_path_factory.mktemp("twolayer-cache")))
        patch.delenv("TWOLAYER_DATA", raising=False)
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


# --- the datasets tests' MNIST stand-ins, cache and server -----------------------------------------


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache directory per test, and a mirror that refuses connections: no test reaches
    ~/.cache or the net (the datasets tests use it in every test)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("TWOLAYER_CACHE", str(path))
    monkeypatch.setenv("TWOLAYER_MNIST_URL", "http://127.0.0.1:9/closed/")
    return path


@pytest.fixture
def tiny(monkeypatch):
    """Small random stand-ins for the four MNIST files, gzipped."""
    arrays, payloads = fake_mnist(monkeypatch, train=6, test=3, side=4)
    files = {f"{name}.gz": gzip.compress(payload) for name, payload in payloads.items()}
    return SimpleNamespace(arrays=arrays, files=files)


@pytest.fixture
def serve(monkeypatch):
    """Start a Server and point $TWOLAYER_MNIST_URL at it; stopped at the end of the test."""
    servers = []

    def start(files, declared=None):
        server = Server(files, declared)
        servers.append(server)
        monkeypatch.setenv("TWOLAYER_MNIST_URL", server.url)
        return server

    yield start
    for server in servers:
        server.stop()
